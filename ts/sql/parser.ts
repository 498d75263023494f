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
  CommonTokenStream: new (lexer: unknown) => unknown;
}
interface FlinkParser {
  removeErrorListeners(): void;
  addErrorListener(l: object): void;
  program(): Ctx;
}
interface Loaded {
  readonly antlr: Antlr;
  readonly Lexer: new (input: unknown) => { removeErrorListeners(): void; addErrorListener(l: object): void };
  readonly Parser: new (tokens: unknown) => FlinkParser;
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
    return { antlr: antlr as unknown as Antlr, Lexer: l.FlinkSqlLexer, Parser: p.FlinkSqlParser };
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

/** Parses one or more statements (separated by ';'); a syntax error is a SqlError at its position. */
export async function parseSql(sql: string): Promise<SqlNode[]> {
  const { antlr, Lexer, Parser } = await load();
  let first: SqlError | null = null;
  const listener = {
    syntaxError: (_r: unknown, sym: Token | null, line: number, col: number, msg: string) => {
      first ??= new SqlError(syntaxMessage(msg, sym?.text), line, col + 1);
    },
    reportAmbiguity: () => undefined,
    reportAttemptingFullContext: () => undefined,
    reportContextSensitivity: () => undefined,
  };
  const lexer = new Lexer(antlr.CharStreams.fromString(sql));
  lexer.removeErrorListeners();
  lexer.addErrorListener(listener);
  const parser = new Parser(new antlr.CommonTokenStream(lexer));
  parser.removeErrorListeners();
  parser.addErrorListener(listener);
  const tree = parser.program();
  if (first !== null) throw first;
  const convert = (c: Ctx): SqlNode => {
    if (c.symbol !== undefined) {
      const t = c.symbol;
      return { kind: 'tok', text: t.text ?? '', line: t.line, col: t.column + 1, kids: [] };
    }
    const start = c.start!;
    const stop = c.stop ?? start;
    const name = (c as object).constructor.name.replace(/Context$/, '');
    return { kind: name, text: sql.slice(start.start, stop.stop + 1), line: start.line, col: start.column + 1, kids: (c.children ?? []).map(convert) };
  };
  const program = convert(tree);
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
