/**
 * Flink's SESSION window TVF, `SESSION(TABLE t [PARTITION BY k | PARTITION BY (k1, k2)],
 * DESCRIPTOR(ts), INTERVAL gap)`, which dt-sql-parser's Flink grammar lacks: before parsing,
 * the text is rewritten in place (same length, so every position stays) into a TUMBLE call the
 * grammar knows, with the PARTITION BY clause blanked; after parsing, the TVF's name node says
 * SESSION again and carries the partition keys (a `TvfPartitionBy` node of ColumnNames at
 * their positions in the text).
 */

import { codeMask } from './function-forms.js';

/** parser.ts's SqlNode (declared here too: parser.ts imports this module). */
interface SqlNode {
  readonly kind: string;
  readonly text: string;
  readonly line: number;
  readonly col: number;
  readonly kids: readonly SqlNode[];
}

interface SessionAt {
  /** 1-based position of SESSION. */
  readonly line: number;
  readonly col: number;
  readonly keys: readonly { readonly name: string; readonly line: number; readonly col: number }[];
}

const SESSION_TVF = /\bSESSION(\s*\(\s*TABLE\s+(?:`[^`]*`|[\w.]+))(\s+PARTITION\s+BY\s*(\([^)]*\)|`[^`]*`|\w+))?/gi;

function position(sql: string, offset: number): { line: number; col: number } {
  const before = sql.slice(0, offset).split('\n');
  return { line: before.length, col: before[before.length - 1]!.length + 1 };
}

/** The text with each SESSION TVF as a TUMBLE call, and where they were. */
export function rewriteSessionTvfs(sql: string): { text: string; sessions: SessionAt[] } {
  const sessions: SessionAt[] = [];
  let text = sql;
  const code = codeMask(sql);
  for (const m of sql.matchAll(SESSION_TVF)) {
    const at = m.index;
    if (!code[at]) continue;
    const keys: SessionAt['keys'][number][] = [];
    const clause = m[2];
    if (clause !== undefined) {
      const clauseAt = at + 'SESSION'.length + m[1]!.length;
      const list = m[3]!;
      const listAt = clauseAt + clause.length - list.length;
      for (const k of list.matchAll(/`[^`]*`|\w+/g)) {
        const name = k[0].startsWith('`') ? k[0].slice(1, -1) : k[0];
        keys.push({ name, ...position(sql, listAt + k.index) });
      }
      text = text.slice(0, clauseAt) + clause.replace(/[^\n]/g, ' ') + text.slice(clauseAt + clause.length);
    }
    text = text.slice(0, at) + 'TUMBLE ' + text.slice(at + 'SESSION'.length);
    sessions.push({ ...position(sql, at), keys });
  }
  return { text, sessions };
}

/** The parse tree with each rewritten TVF named SESSION again, with its partition keys. */
export function restoreSessionTvfs(n: SqlNode, sessions: readonly SessionAt[]): SqlNode {
  if (sessions.length === 0 || n.kind === 'tok') return n;
  if (n.kind === 'WindowTVFExpression') {
    const name = n.kids.find((k) => k.kind === 'WindowTVFName');
    const s = name === undefined ? undefined : sessions.find((x) => x.line === name.line && x.col === name.col);
    if (s !== undefined) {
      const tok: SqlNode = { kind: 'tok', text: 'SESSION', line: s.line, col: s.col, kids: [] };
      const partition: SqlNode = {
        kind: 'TvfPartitionBy',
        text: s.keys.map((k) => k.name).join(', '),
        line: s.keys[0]?.line ?? s.line,
        col: s.keys[0]?.col ?? s.col,
        kids: s.keys.map((k) => ({ kind: 'ColumnName', text: k.name, line: k.line, col: k.col, kids: [{ kind: 'tok', text: k.name, line: k.line, col: k.col, kids: [] }] })),
      };
      return { ...n, text: n.text.replace(/^TUMBLE /, 'SESSION'), kids: [...n.kids.map((k) => (k === name ? { ...k, text: 'SESSION', kids: [tok] } : k)), partition] };
    }
  }
  return { ...n, kids: n.kids.map((k) => restoreSessionTvfs(k, sessions)) };
}
