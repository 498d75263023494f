/**
 * Flink SQL on the Table API: statements parsed (parser.ts), tables defined by CREATE TABLE
 * (connectors.ts) and views kept per TableEnvironment, queries translated into Table
 * operations (query.ts). INSERT INTO adds the query's sink to the environment's job; the
 * job runs once every statement is planned.
 */

import type { Row } from '../batch/record-batch.js';
import type { DataType } from '../batch/schema.js';
import type { DataStream } from '../api/datastream.js';
import { Expression, type ExprNode } from '../table/expression.js';
import { registerSqlPlanner, type Table, type TableEnvironment, type TableResult } from '../table/table.js';
import { checkTableDef, openSink, openSource, PrintSink, sqlType, type ColumnDef, type TableDef } from './connectors.js';
import { SqlError } from './errors.js';
import { sinkTable } from './changelog-sink.js';
import { dataType, intervalMs } from './expressions.js';
import { fail, find, kids, nameParts, parseSql, unquote, type SqlNode } from './parser.js';
import { TableError } from '../table/resolve.js';
import { translateQuery, type Catalog, type Relation } from './query.js';
import { rankingSelect } from './topn.js';

interface ViewDef {
  readonly query: SqlNode;
}

/** The source stream of each SQL table read so far, per TableEnvironment. */
const sources = new WeakMap<TableEnvironment, Map<string, DataStream<object>>>();

/** The SQL tables and views of each TableEnvironment. */
const catalogs = new WeakMap<TableEnvironment, Map<string, TableDef | ViewDef>>();

function defsOf(tEnv: TableEnvironment): Map<string, TableDef | ViewDef> {
  let m = catalogs.get(tEnv);
  if (m === undefined) catalogs.set(tEnv, (m = new Map()));
  return m;
}

function catalogOf(tEnv: TableEnvironment): Catalog {
  const defs = defsOf(tEnv);
  const catalog: Catalog = {
    tEnv,
    names: () => [...defs.keys(), ...tEnv.viewNames()],
    viewQuery: (name: string): SqlNode | null => {
      const def = defs.get(name);
      return def !== undefined && 'query' in def ? def.query : null;
    },
    scan: (name: string, at: SqlNode): Relation | null => {
      const def = defs.get(name);
      if (def === undefined) {
        const view = tEnv.view(name);
        return view === undefined ? null : { table: view, qualifiers: new Set([name]), rowtime: null };
      }
      if ('query' in def) {
        const r = translateQuery(def.query, catalog);
        return { ...r, qualifiers: new Set([name]) };
      }
      // One source per table and environment, as Flink reuses a scan: a query reading a
      // table twice (Nexmark q5, q7) generates or reads its input once, fanned out.
      let scans = sources.get(tEnv);
      if (scans === undefined) sources.set(tEnv, (scans = new Map()));
      let stream = scans.get(name);
      if (stream === undefined) scans.set(name, (stream = openSource(def, tEnv.env, at, tEnv.getConfig().getIdleStateRetention())));
      let table = tEnv.fromDataStream(stream);
      const declared = def.columns.map((c) => c.name);
      const have = table.getSchema().names();
      if (declared.length !== have.length || declared.some((c, i) => have[i] !== c)) table = table.select(...declared.map((c) => new Expression({ k: 'ref', name: c })));
      return { table, qualifiers: new Set([name]), rowtime: def.watermark?.column ?? null };
    },
  };
  return catalog;
}

function unquoteString(text: string): string {
  const t = text.trim();
  if ((t.startsWith("'") && t.endsWith("'")) || (t.startsWith('"') && t.endsWith('"'))) return t.slice(1, -1).replace(/''/g, "'");
  if (t.startsWith('`') && t.endsWith('`')) return t.slice(1, -1);
  return t;
}

function createTable(n: SqlNode): TableDef {
  const simple = find(n, 'SimpleCreateTable');
  if (simple === null) fail(n, 'only CREATE TABLE name (columns, WATERMARK ...) WITH (...) is supported (not CREATE TABLE AS or LIKE)');
  const name = nameParts(kids(simple, 'TablePathCreate')[0]!).join('.');
  const columns: ColumnDef[] = [];
  let primaryKey: { columns: string[]; node: SqlNode } | null = null;
  for (const cd of kids(simple, 'ColumnOptionDefinition')) {
    const phys = find(cd, 'PhysicalColumnDefinition');
    if (phys === null) fail(cd, `${cd.text}: computed and metadata columns are not supported; declare physical columns (name TYPE)`);
    const colName = nameParts(kids(phys, 'ColumnNameCreate')[0]!).join('.');
    const typeNode = kids(phys, 'ColumnType')[0]!;
    const notNull = /\bNOT\s+NULL\b/i.test(phys.text);
    columns.push({ name: colName, type: dataType(typeNode), nullable: !notNull, node: phys });
    for (const cc of kids(phys, 'ColumnConstraint')) {
      if (!/^PRIMARY\s+KEY\b/i.test(cc.text)) continue;
      if (primaryKey !== null) fail(cc, `${name} has a PRIMARY KEY already; declare one: PRIMARY KEY (a, b) NOT ENFORCED`);
      primaryKey = { columns: [colName], node: cc };
    }
  }
  let watermark: TableDef['watermark'] = null;
  const wd = kids(simple, 'WatermarkDefinition')[0];
  if (wd !== undefined) {
    const column = nameParts(kids(wd, 'ColumnName')[0]!).join('.');
    const e = kids(wd, 'Expression')[0]!;
    const form = `WATERMARK FOR ${column} AS ${column} - INTERVAL '5' SECOND`;
    const body = e.text.replace(/\s+/g, ' ').trim();
    const ref = new RegExp(`^\`?${column.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\`?`);
    if (!ref.test(body)) fail(e, `the watermark must be the column minus an interval: ${form}`);
    const rest = body.replace(ref, '').trim();
    let delayMs = 0;
    if (rest !== '') {
      const interval = find(e, 'TimeIntervalExpression');
      if (!rest.startsWith('-') || interval === null) fail(e, `the watermark must be the column minus an interval: ${form}`);
      delayMs = intervalMs(interval);
    }
    watermark = { column, delayMs };
  }
  for (const k of simple.kids) {
    if (k.kind === 'TableConstraint' && /^PRIMARY\s+KEY\b/i.test(k.text) && kids(k, 'ColumnNameList').length === 1) {
      if (primaryKey !== null) fail(k, `${name} has a PRIMARY KEY already; declare one: PRIMARY KEY (a, b) NOT ENFORCED`);
      primaryKey = { columns: kids(kids(k, 'ColumnNameList')[0]!, 'ColumnName').map((c) => nameParts(c).join('.')), node: k };
      continue;
    }
    if (['PartitionDefinition', 'TableConstraint', 'LikeDefinition'].includes(k.kind)) fail(k, `${k.text.split(/\s/)[0]}: ${k.kind} is not supported in CREATE TABLE`);
  }
  if (primaryKey !== null) {
    const pk = primaryKey;
    if (!/\bNOT\s+ENFORCED\s*$/i.test(pk.node.text)) {
      fail(pk.node, "Flink doesn't support ENFORCED mode for PRIMARY KEY constraint. ENFORCED/NOT ENFORCED controls if the constraint checks are performed on the incoming/outgoing data. Flink does not own the data therefore the only supported mode is the NOT ENFORCED mode: write PRIMARY KEY (...) NOT ENFORCED");
    }
    for (const c of pk.columns) if (!columns.some((d) => d.name === c)) fail(pk.node, `PRIMARY KEY: no column '${c}'; the columns are: ${columns.map((d) => d.name).join(', ')}`);
    // The key's columns are NOT NULL (as in Flink).
    for (let i = 0; i < columns.length; i++) if (pk.columns.includes(columns[i]!.name)) columns[i] = { ...columns[i]!, nullable: false };
  }
  const options = new Map<string, { value: string; node: SqlNode; key: SqlNode }>();
  const withOpt = kids(simple, 'WithOption')[0];
  if (withOpt !== undefined) {
    for (const p of kids(find(withOpt, 'TablePropertyList')!, 'TableProperty')) {
      const key = unquoteString(kids(p, 'TablePropertyKey')[0]!.text);
      const valueNode = kids(p, 'TablePropertyValue')[0];
      options.set(key, { value: unquoteString(valueNode?.text ?? ''), node: valueNode ?? p, key: p });
    }
  }
  const seen = new Set<string>();
  for (const c of columns) {
    if (seen.has(c.name)) fail(c.node, `the column '${c.name}' is declared twice`);
    seen.add(c.name);
  }
  const def: TableDef = { name, columns, watermark, options, node: n, primaryKey };
  checkTableDef(def);
  return def;
}

/** Renames (and widens where needed) the query's columns to the sink's, by position, as Flink does. */
function conform(rel: Relation, def: TableDef, at: SqlNode): Table {
  const schema = rel.table.getSchema();
  if (schema.fields.length !== def.columns.length) {
    fail(at, `INSERT INTO ${def.name}: the query has ${schema.fields.length} columns (${schema.names().join(', ')}), the table ${def.columns.length} (${def.columns.map((c) => c.name).join(', ')})`);
  }
  const widen: Readonly<Record<DataType, readonly DataType[]>> = { i32: ['i64', 'f64'], i64: ['f64'], f64: [], bool: [], utf8: [], timestamp: [] };
  const exprs = schema.fields.map((f, i) => {
    const c = def.columns[i]!;
    let e: ExprNode = { k: 'ref', name: f.name };
    if (f.type !== c.type) {
      if (!widen[f.type].includes(c.type)) fail(at, `INSERT INTO ${def.name}: column ${i + 1} '${f.name}' is ${sqlType(f.type)}, the table's '${c.name}' is ${sqlType(c.type)}; CAST it in the query`);
      e = { k: 'call', op: 'cast', args: [e], t: c.type };
    }
    if (f.nullable && !c.nullable) fail(at, `INSERT INTO ${def.name}: column ${i + 1} '${f.name}' may be null, the table's '${c.name}' is NOT NULL; COALESCE it in the query`);
    return new Expression({ k: 'alias', e, name: c.name });
  });
  return rel.table.select(...exprs);
}

function tableDef(tEnv: TableEnvironment, path: SqlNode): TableDef {
  const name = nameParts(path).join('.');
  const def = defsOf(tEnv).get(name);
  if (def === undefined || 'query' in def) {
    fail(path, def === undefined ? `unknown table '${name}'; CREATE TABLE ${name} (...) WITH ('connector' = 'filesystem' | 'blackhole' | 'print', ...) first` : `'${name}' is a view; INSERT INTO a table`);
  }
  return def;
}

/** What a statement did. */
type Planned = 'ddl' | 'sink';

async function planStatement(tEnv: TableEnvironment, n: SqlNode): Promise<Planned> {
  const defs = defsOf(tEnv);
  switch (n.kind) {
    case 'SetStatement': {
      // SET 'key' = 'value': an option of the TableEnvironment, read by what is planned after it.
      const prop = kids(n, 'TableProperty')[0];
      const key = prop === undefined ? undefined : kids(prop, 'TablePropertyKey')[0];
      const value = prop === undefined ? undefined : kids(prop, 'TablePropertyValue')[0];
      if (key === undefined || value === undefined) fail(n, "write SET 'key' = 'value', e.g. SET 'table.exec.state.ttl' = '1 h'");
      const text = (x: SqlNode): string => (/^'.*'$/s.test(x.text) ? x.text.slice(1, -1).replace(/''/g, "'") : unquote(x.text));
      try {
        tEnv.getConfig().set(text(key), text(value));
      } catch (e) {
        fail(e instanceof TableError && /^unknown option/.test(e.message) ? key : value, (e as Error).message);
      }
      return 'ddl';
    }
    case 'DdlStatement': {
      const ct = find(n, 'CreateTable');
      if (ct !== null) {
        const def = createTable(ct);
        if (defs.has(def.name) || tEnv.view(def.name) !== undefined) fail(ct, `a table or view named '${def.name}' exists already`);
        defs.set(def.name, def);
        return 'ddl';
      }
      const cv = find(n, 'CreateView');
      if (cv !== null) {
        const q = find(cv, 'QueryStatement');
        const path = cv.kids.find((k) => k.kind !== 'tok' && k.kind !== 'QueryStatement' && k.kind !== 'IfNotExists');
        if (q === null || path === undefined) fail(cv, 'write CREATE VIEW name AS SELECT ...');
        const name = nameParts(path).join('.');
        if (defs.has(name) || tEnv.view(name) !== undefined) fail(cv, `a table or view named '${name}' exists already`);
        // Errors now, at the view's definition; a ranking view (window top-N) is planned where
        // a query limits its rank (WHERE rownum <= N), so it is checked there.
        if (rankingSelect(q) === null) translateQuery(q, catalogOf(tEnv));
        defs.set(name, { query: q });
        return 'ddl';
      }
      fail(n, `${n.text.split(/\s+/).slice(0, 2).join(' ')} is not supported; supported statements: CREATE TABLE, CREATE VIEW, INSERT INTO ... SELECT, SELECT`);
    }
    case 'DmlStatement': {
      const ins = find(n, 'InsertSimpleStatement');
      if (ins !== null) {
        const path = kids(ins, 'TablePath')[0]!;
        const def = tableDef(tEnv, path);
        if (kids(ins, 'InsertPartitionDefinition').length > 0 || ins.kids.some((k) => k.kind === 'ColumnNameList' || k.kind === 'InsertColumnListClause')) fail(ins, 'INSERT INTO t (columns) and PARTITION are not supported; select the table\'s columns in order');
        const q = find(ins, 'QueryStatement');
        if (q === null) fail(ins, 'write INSERT INTO table SELECT ...');
        const rel = translateQuery(q, catalogOf(tEnv));
        const table = conform(rel, def, q);
        sinkTable(table, openSink(def, path), def.name, def.options.get('connector')?.value ?? '', q);
        return 'sink';
      }
      if (find(n, 'InsertStatement') !== null) fail(n, 'only INSERT INTO table SELECT ... is supported (not statement sets or VALUES); several INSERTs in one executeSql run as one job');
      const q = kids(n, 'QueryStatement')[0];
      if (q !== undefined) {
        const rel = translateQuery(q, catalogOf(tEnv));
        sinkTable(rel.table, new PrintSink('select'), 'select', 'print', q);
        return 'sink';
      }
      fail(n, `${n.text.split(/\s+/)[0]} is not supported; supported statements: CREATE TABLE, CREATE VIEW, INSERT INTO ... SELECT, SELECT`);
    }
    default:
      fail(n, `${n.text.split(/\s+/).slice(0, 2).join(' ')} is not supported; supported statements: CREATE TABLE, CREATE VIEW, INSERT INTO ... SELECT, SELECT`);
  }
}

/**
 * Plans a script: DDL registers tables and views, each INSERT INTO (or top-level SELECT, which
 * prints) adds its sink to the environment's job. Returns how many sinks were added; the
 * caller runs the job (the CLI does, with its progress and metrics).
 */
export async function planSql(tEnv: TableEnvironment, sql: string): Promise<number> {
  const statements = await parseSql(sql);
  let sinks = 0;
  for (const s of statements) if ((await planStatement(tEnv, s)) === 'sink') sinks++;
  return sinks;
}

registerSqlPlanner({
  async executeSql(tEnv: TableEnvironment, sql: string): Promise<TableResult> {
    const sinks = await planSql(tEnv, sql);
    if (sinks === 0) return { kind: 'ddl', job: null };
    return { kind: 'job', job: await tEnv.env.execute('sql') };
  },
  async sqlQuery(tEnv: TableEnvironment, sql: string): Promise<Table> {
    const statements = await parseSql(sql);
    const s = statements[0];
    if (statements.length !== 1 || s === undefined || s.kind !== 'DmlStatement' || kids(s, 'QueryStatement').length !== 1) {
      const at = s ?? null;
      if (at === null) throw new SqlError('sqlQuery needs one SELECT statement', 1, 1);
      fail(at, 'sqlQuery takes one SELECT statement; run CREATE TABLE and INSERT INTO with executeSql');
    }
    return translateQuery(kids(s, 'QueryStatement')[0]!, catalogOf(tEnv)).table;
  },
});

export { SqlError };
