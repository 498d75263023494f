/**
 * `LIMIT n OFFSET m [ROW|ROWS]` and the standard's `[OFFSET m {ROW|ROWS}] FETCH {FIRST|NEXT} [n]
 * {ROW|ROWS} ONLY` (Flink SQL takes both, with LIMIT's semantics; FETCH without a count is one
 * row), and `OFFSET m [ROW|ROWS]` alone (skip m rows, then all; a `LIMIT 0` whose clause is
 * marked `FetchAll`), which dt-sql-parser's Flink grammar does not parse (its OFFSET is only a window TVF's
 * parameter name, FETCH is only a token): before parsing, `OFFSET m` after a LIMIT is blanked in
 * place, and a FETCH clause (with its OFFSET) becomes `LIMIT n` padded with blanks (same length,
 * newlines kept, so every position stays); after parsing, the LIMIT clause gets an
 * `OffsetClause` child holding m at its position. Strings, quoted names and comments are left
 * alone.
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

interface OffsetAt {
  /** 1-based position of the LIMIT keyword. */
  readonly line: number;
  readonly col: number;
  /** m, and its position. */
  readonly value: string;
  readonly valueLine: number;
  readonly valueCol: number;
  /** OFFSET without LIMIT or FETCH: every row after the first m. */
  readonly all?: boolean;
}

const LIMIT_OFFSET = /\bLIMIT(\s+\d+\s+)(OFFSET\s+)(\d+)(\s+ROWS?)?\b/gi;
const OFFSET_ALONE = /\bOFFSET\s+(\d+)(?:\s+ROWS?\b)?(?!\s*(?:FETCH\b|\w))/gi;
const FETCH = /\b(?:OFFSET\s+(\d+)\s+ROWS?\s+)?FETCH\s+(?:FIRST|NEXT)\s+(?:(\d+)\s+)?ROWS?\s+ONLY\b/gi;

/** `s` with every character but newlines blanked. */
function blank(s: string): string {
  return s.replace(/[^\n]/g, ' ');
}

function position(sql: string, offset: number): { line: number; col: number } {
  const before = sql.slice(0, offset).split('\n');
  return { line: before.length, col: before[before.length - 1]!.length + 1 };
}

/** The text with each `LIMIT n OFFSET m`'s `OFFSET m` blanked, and where they were. */
export function rewriteOffsets(sql: string): { text: string; offsets: OffsetAt[] } {
  const offsets: OffsetAt[] = [];
  const code = codeMask(sql);
  let text = sql;
  for (const m of sql.matchAll(LIMIT_OFFSET)) {
    if (code[m.index] !== 1) continue;
    const at = m.index + 'LIMIT'.length + m[1]!.length;
    const valueAt = at + m[2]!.length;
    const end = valueAt + m[3]!.length + (m[4]?.length ?? 0);
    if (code[at] !== 1) continue;
    text = text.slice(0, at) + blank(text.slice(at, end)) + text.slice(end);
    const l = position(sql, m.index);
    const v = position(sql, valueAt);
    offsets.push({ line: l.line, col: l.col, value: m[3]!, valueLine: v.line, valueCol: v.col });
  }
  for (const m of sql.matchAll(FETCH)) {
    if (code[m.index] !== 1) continue;
    const limit = `LIMIT ${m[2] ?? '1'}`;
    const end = m.index + m[0].length;
    text = text.slice(0, m.index) + limit + blank(text.slice(m.index + limit.length, end)) + text.slice(end);
    if (m[1] === undefined) continue;
    const l = position(sql, m.index);
    const v = position(sql, m.index + m[0].indexOf(m[1], 'OFFSET'.length));
    offsets.push({ line: l.line, col: l.col, value: m[1], valueLine: v.line, valueCol: v.col });
  }
  for (const m of sql.matchAll(OFFSET_ALONE)) {
    // Blanked already (after a LIMIT) or rewritten (before a FETCH): not alone.
    if (code[m.index] !== 1 || text.slice(m.index, m.index + 6).toUpperCase() !== 'OFFSET') continue;
    const limit = 'LIMIT 0';
    const end = m.index + m[0].length;
    if (m[0].length < limit.length) continue;
    text = text.slice(0, m.index) + limit + blank(text.slice(m.index + limit.length, end)) + text.slice(end);
    const l = position(sql, m.index);
    const v = position(sql, m.index + m[0].indexOf(m[1]!, 'OFFSET'.length));
    offsets.push({ line: l.line, col: l.col, value: m[1]!, valueLine: v.line, valueCol: v.col, all: true });
  }
  return { text, offsets };
}

/** Gives each LIMIT clause whose OFFSET was blanked an `OffsetClause` child. */
export function restoreOffsets(n: SqlNode, offsets: readonly OffsetAt[]): SqlNode {
  if (offsets.length === 0 || n.kind === 'tok') return n;
  if (n.kind === 'LimitClause') {
    const o = offsets.find((x) => x.line === n.line && x.col === n.col);
    if (o === undefined) return n;
    const tok: SqlNode = { kind: 'tok', text: o.value, line: o.valueLine, col: o.valueCol, kids: [] };
    const all: SqlNode[] = o.all === true ? [{ kind: 'FetchAll', text: '', line: n.line, col: n.col, kids: [] }] : [];
    return { ...n, kids: [...n.kids, { kind: 'OffsetClause', text: o.value, line: o.valueLine, col: o.valueCol, kids: [tok] }, ...all] };
  }
  return { ...n, kids: n.kids.map((k) => restoreOffsets(k, offsets)) };
}
