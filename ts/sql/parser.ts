/**
 * Parsing Flink SQL with dt-sql-parser's Flink grammar (ANTLR4, docs/sql.md has why): the
 * text becomes a plain tree of SqlNodes (rule name, source text, position, children), which
 * the rest of ts/sql walks. The package's ES modules use extensionless relative imports that
 * Node's loader refuses, so a resolve hook (registered once, before the first import) adds the
 * `.js`; only the Flink lexer and parser are loaded. Loading and the first parse take about a
 * second (ANTLR warms its caches): SQL is planning time, never per record.
 */

import { register } from 'node:module';
import { SqlError } from './errors.js';
import { rewriteFunctionForms } from './function-forms.js';
import { restoreSessionTvfs, rewriteSessionTvfs } from './session-tvf.js';
import { restoreOffsets, rewriteOffsets } from './offset.js';

/** One node of the parse tree: a grammar rule (`kind` is its name) or a token (`kind` 'tok'). */
export interface SqlNode {
  readonly kind: string;
  /** The source text the node spans. */
  readonly text: string;
  /** 1-based. */
  readonly line: number;
  readonly col: number;
  readonly kids: readonly SqlNode[];
}

interface Token {
  readonly text?: string;
  readonly line: number;
  readonly column: number;
  readonly start: number;
  readonly stop: number;
  readonly type: number;
}
interface Ctx {
  readonly children?: readonly Ctx[] | null;
  readonly start?: Token | null;
  readonly stop?: Token | null;
  readonly symbol?: Token;
}
interface Antlr {
  CharStreams: { fromString(s: string): unknown };
  PredictionMode: { SLL: number };
  CommonTokenStream: new (lexer: unknown) => unknown;
}
interface FlinkParser {
  interpreter: { predictionMode: number };
  removeErrorListeners(): void;
  addErrorListener(l: object): void;
  program(): Ctx;
}
interface Loaded {
  readonly antlr: Antlr;
  readonly Lexer: new (input: unknown) => { removeErrorListeners(): void; addErrorListener(l: object): void };
  readonly Parser: new (tokens: unknown) => FlinkParser;
  /** PredictionMode.SLL. */
  readonly SLL: number;
}

// The package's directory imports (`../SQLParserBase`) get their `.js` (or `/index.js`).
const HOOK = `export async function resolve(s, c, next) {
  const p = c.parentURL;
  if (p && p.includes('/dt-sql-parser/dist/') && /^\\.\\.?\\//.test(s) && !/\\.[cm]?js$/.test(s)) {
    try { return await next(s + '.js', c); } catch { return next(s + '/index.js', c); }
  }
  return next(s, c);
}`;

let loading: Promise<Loaded> | null = null;

function load(): Promise<Loaded> {
  loading ??= (async () => {
    register('data:text/javascript,' + encodeURIComponent(HOOK));
    const lexer = 'dt-sql-parser/dist/lib/flink/FlinkSqlLexer.js';
    const parser = 'dt-sql-parser/dist/lib/flink/FlinkSqlParser.js';
    const [antlr, l, p] = await Promise.all([import('antlr4ng'), import(lexer) as Promise<{ FlinkSqlLexer: Loaded['Lexer'] }>, import(parser) as Promise<{ FlinkSqlParser: Loaded['Parser'] }>]);
    const a = antlr as unknown as Antlr;
    return { antlr: a, Lexer: l.FlinkSqlLexer, Parser: p.FlinkSqlParser, SLL: a.PredictionMode.SLL };
  })();
  return loading;
}

/** Cuts ANTLR's "expecting {...}" lists (hundreds of tokens) and adds what to do. */
function syntaxMessage(msg: string, offending: string | undefined): string {
  let m = msg.replace(/ expecting \{([^}]*)\}$/, (_all, list: string) => {
    const items = list.split(', ');
    return items.length <= 6 ? ` expecting one of ${items.join(', ')}` : '';
  });
  m = m.replace(/^mismatched input '<EOF>'.*$/s, 'the statement is incomplete');
  m = m.replace(/^no viable alternative at input '.*?([^\s(]+)'$/s, "this is not valid Flink SQL here (near '$1')");
  if (offending !== undefined && /^[A-Za-z_]\w*$/.test(offending) && !/^(SELECT|FROM|WHERE|GROUP|BY|AND|OR|NOT|AS|ON|JOIN)$/i.test(offending)) {
    m += `; if '${offending}' is a name, quote it with backticks (\`${offending}\`): it may be a keyword of Flink SQL`;
  }
  return m;
}

/** Constructs the grammar does not know, each with the form to write instead. */
const GAPS: readonly [RegExp, string][] = [
  [/\bEXTRACT\s*\(\s*\w+\s+FROM\b/i, 'EXTRACT takes one of the units YEAR, QUARTER, MONTH, WEEK, DAY, DOY, DOW, HOUR, MINUTE, SECOND: EXTRACT(HOUR FROM ts)'],
  [
    /\bPRIMARY\s+KEY(?:\s*\([^)]*\))?(?!\s*NOT\s+ENFORCED)/i,
    "Flink doesn't support ENFORCED mode for PRIMARY KEY constraint. ENFORCED/NOT ENFORCED controls if the constraint checks are performed on the incoming/outgoing data. Flink does not own the data therefore the only supported mode is the NOT ENFORCED mode: write PRIMARY KEY (...) NOT ENFORCED",
  ],
  // LIMIT n OFFSET m, OFFSET m ROWS [FETCH ...] are rewritten before parsing (offset.ts): an OFFSET left has no number of rows.
  [/\bOFFSET\s+(?!=>)[-+\w']/i, 'OFFSET takes a whole number of rows: write [ORDER BY ...] LIMIT n OFFSET m, OFFSET m ROWS FETCH NEXT n ROWS ONLY, or OFFSET m ROWS (all rows after the first m)'],
  [/\bFETCH\b/i, 'FETCH is written FETCH {FIRST | NEXT} [n] {ROW | ROWS} ONLY, after ORDER BY (and OFFSET m ROWS), e.g. FETCH FIRST 10 ROWS ONLY'],
  [/\b(?:TUMBLE|HOP|CUMULATE)\s*\(\s*TABLE\s+(?:`[^`]*`|[\w.]+)\s+PARTITION\s+BY\b/i, 'PARTITION BY belongs to the SESSION window TVF; for TUMBLE, HOP and CUMULATE group by the keys instead (GROUP BY key, window_start, window_end)'],
];

/** A syntax error caused by a known gap of the grammar, reported at the construct with what to write. */
function known(sql: string, err: SqlError): SqlError | null {
  for (const [re, reason] of GAPS) {
    const m = re.exec(sql);
    if (m === null) continue;
    const before = sql.slice(0, m.index).split('\n');
    return new SqlError(reason, before.length, before[before.length - 1]!.length + 1);
  }
  void err;
  return null;
}

/** Parses one or more statements (separated by ';'); a syntax error is a SqlError at its position. */
export async function parseSql(sql: string): Promise<SqlNode[]> {
  const { antlr, Lexer, Parser, SLL } = await load();
  // SLL prediction first (fast; exact for valid input), LL again when it reports an error
  // (an SLL error may be a false one, and LL's message is the one to show). Parsing stops at
  // the first error: ANTLR's recovery would only take time and report follow-on errors.
  // Forms the grammar lacks, rewritten in place (every position kept): EXTRACT(u FROM e) and
  // SUBSTRING(s FROM a FOR b) as function calls, the SESSION TVF as a TUMBLE call (restored below).
  const offsets = rewriteOffsets(sql);
  const session = rewriteSessionTvfs(rewriteFunctionForms(offsets.text));
  const text = session.text;
  let tree: Ctx | null = null;
  let first: SqlError | null = null;
  for (const mode of [SLL, null]) {
    first = null;
    const stop = new Error('stop');
    const listener = {
      syntaxError: (_r: unknown, sym: Token | null, line: number, col: number, msg: string) => {
        first ??= new SqlError(syntaxMessage(msg, sym?.text), line, col + 1);
        throw stop;
      },
      reportAmbiguity: () => undefined,
      reportAttemptingFullContext: () => undefined,
      reportContextSensitivity: () => undefined,
    };
    const lexer = new Lexer(antlr.CharStreams.fromString(session.text));
    lexer.removeErrorListeners();
    lexer.addErrorListener(listener);
    const parser = new Parser(new antlr.CommonTokenStream(lexer));
    parser.removeErrorListeners();
    parser.addErrorListener(listener);
    if (mode !== null) parser.interpreter.predictionMode = mode;
    try {
      tree = parser.program();
      break;
    } catch (e) {
      if (e !== stop) throw e;
    }
  }
  // The gaps are looked for in the rewritten text: the forms rewritten are supported.
  if (first !== null || tree === null) throw known(text, first!) ?? first!;
  const convert = (c: Ctx): SqlNode => {
    if (c.symbol !== undefined) {
      const t = c.symbol;
      return { kind: 'tok', text: t.text ?? '', line: t.line, col: t.column + 1, kids: [] };
    }
    const start = c.start!;
    const stop = c.stop ?? start;
    const name = (c as object).constructor.name.replace(/Context$/, '');
    return { kind: name, text: text.slice(start.start, stop.stop + 1), line: start.line, col: start.column + 1, kids: (c.children ?? []).map(convert) };
  };
  const program = restoreOffsets(restoreSessionTvfs(convert(tree!), session.sessions), offsets.offsets);
  const out: SqlNode[] = [];
  const walk = (n: SqlNode): void => {
    if (n.kind === 'SqlStatement') out.push(n.kids[0]!);
    else for (const k of n.kids) walk(k);
  };
  walk(program);
  return out;
}

/** Depth-first search for the first node of `kind` under `n` (n included). */
export function find(n: SqlNode, kind: string): SqlNode | null {
  if (n.kind === kind) return n;
  for (const k of n.kids) {
    const f = find(k, kind);
    if (f !== null) return f;
  }
  return null;
}

/** The direct children of `n` of `kind`. */
export function kids(n: SqlNode, kind: string): SqlNode[] {
  return n.kids.filter((k) => k.kind === kind);
}

/** True when `n` has a direct token child with this text (case-insensitive). */
export function hasTok(n: SqlNode, text: string): boolean {
  return n.kids.some((k) => k.kind === 'tok' && k.text.toUpperCase() === text);
}

/** An identifier's name: backquotes removed (`` `a``b` `` is a`b). */
export function unquote(text: string): string {
  if (text.startsWith('`') && text.endsWith('`')) return text.slice(1, -1).replace(/``/g, '`');
  return text;
}

/** The dotted parts of a (possibly qualified) name node: `B.bidder` -> ['B', 'bidder']. */
export function nameParts(n: SqlNode): string[] {
  const parts: string[] = [];
  const walk = (x: SqlNode): void => {
    if (x.kind === 'tok') {
      if (x.text !== '.') parts.push(unquote(x.text));
    } else for (const k of x.kids) walk(k);
  };
  walk(n);
  return parts;
}

export function fail(n: SqlNode, reason: string): never {
  throw new SqlError(reason, n.line, n.col);
}
