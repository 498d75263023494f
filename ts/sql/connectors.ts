/**
 * CREATE TABLE ... WITH ('connector' = ...): a table definition and the source or sink it
 * stands for. Sources: 'nexmark' (the generator), 'filesystem' (JSON Lines or CSV files).
 * Sinks: 'filesystem', 'blackhole' (discards), 'print' (rows to stdout). Unknown options are
 * errors (a misspelt option must not be ignored).
 */

import type { RecordBatch } from '../batch/record-batch.js';
import { Schema, type DataType, type SchemaSpec } from '../batch/schema.js';
import { toLines } from '../batch/text-format.js';
import type { Sink, SinkWriter, Source } from '../api/connector.js';
import type { DataStream } from '../api/datastream.js';
import type { StreamEnvironment } from '../api/environment.js';
import { WatermarkStrategy } from '../api/watermark.js';
import { FileSink } from '../connectors/file-sink.js';
import { FileSource } from '../connectors/file-source.js';
import { DataGenSource, type DataGenField, type DataGenOptions } from '../connectors/datagen-source.js';
import { DiscardingSink } from '../connectors/memory-sinks.js';
import { NexmarkSource } from '../connectors/nexmark-source.js';
import { AUCTION_SCHEMA, BID_SCHEMA, PERSON_SCHEMA } from '../engine/nexmark-config.js';
import { nearest } from './errors.js';
import { checkKafkaTable, checkUpsertKafkaTable, KAFKA_OPTIONS, kafkaSink, kafkaSource, UPSERT_KAFKA_OPTIONS, upsertKafkaSink, upsertKafkaSourceConfig } from './kafka-table.js';
import { upsertKafkaStream } from './upsert-kafka-source.js';
import { fail, type SqlNode } from './parser.js';

export interface ColumnDef {
  readonly name: string;
  readonly type: DataType;
  readonly nullable: boolean;
  readonly node: SqlNode;
}

/** A table made by CREATE TABLE. */
export interface TableDef {
  readonly name: string;
  readonly columns: readonly ColumnDef[];
  /** WATERMARK FOR column AS column - INTERVAL ...: the event-time column and the delay (ms). */
  readonly watermark: { readonly column: string; readonly delayMs: number } | null;
  /** Each option's value, the value's node and the whole property's node. */
  readonly options: ReadonlyMap<string, { readonly value: string; readonly node: SqlNode; readonly key: SqlNode }>;
  readonly node: SqlNode;
  /** PRIMARY KEY (...) NOT ENFORCED: an upsert sink's key (its columns are NOT NULL). */
  readonly primaryKey: { readonly columns: readonly string[]; readonly node: SqlNode } | null;
}

const CONNECTORS = ['nexmark', 'filesystem', 'datagen', 'kafka', 'upsert-kafka', 'blackhole', 'print'];
const OPTIONS: Readonly<Record<string, readonly string[]>> = {
  nexmark: ['connector', 'kind', 'events', 'seed', 'event-rate', 'rate'],
  filesystem: ['connector', 'path', 'format', 'csv.header', 'csv.delimiter'],
  datagen: ['connector', 'rows-per-second', 'number-of-rows', 'seed', 'fields.<column>.kind', 'fields.<column>.min', 'fields.<column>.max', 'fields.<column>.length', 'fields.<column>.start', 'fields.<column>.end', 'fields.<column>.max-past'],
  kafka: KAFKA_OPTIONS,
  'upsert-kafka': UPSERT_KAFKA_OPTIONS,
  blackhole: ['connector'],
  print: ['connector'],
};
const NEXMARK = { bid: BID_SCHEMA, auction: AUCTION_SCHEMA, person: PERSON_SCHEMA } as const;

function option(def: TableDef, key: string): string | undefined {
  return def.options.get(key)?.value;
}

/** Checks the connector and its options when the table is created. */
export function checkTableDef(def: TableDef): void {
  const c = def.options.get('connector');
  if (c === undefined) fail(def.node, `CREATE TABLE ${def.name}: add WITH ('connector' = '...'), one of ${CONNECTORS.join(', ')}`);
  if (!CONNECTORS.includes(c.value)) {
    const extra = '';
    fail(c.node, `connector '${c.value}' is not supported in SQL; the nearest is '${nearest(c.value, CONNECTORS)}' (supported: ${CONNECTORS.join(', ')})${extra}`);
  }
  const allowed = OPTIONS[c.value]!;
  for (const [k, v] of def.options) {
    const generic = c.value === 'datagen' ? k.replace(/^fields\.(.+)\.([a-z-]+)$/, 'fields.<column>.$2') : k;
    if (!allowed.includes(generic)) fail(v.key, `connector '${c.value}' has no option '${k}'; its options are: ${allowed.join(', ')}`);
  }
  if (c.value === 'datagen') datagenOptions(def);
  if (c.value === 'kafka') checkKafkaTable(def);
  if (c.value === 'upsert-kafka') checkUpsertKafkaTable(def);
  for (const k of ['events', 'seed', 'event-rate', 'rate']) {
    const v = def.options.get(k);
    if (v !== undefined && !/^\d+$/.test(v.value)) fail(v.node, `'${k}' must be a whole number, got '${v.value}'`);
  }
  if (c.value === 'nexmark') {
    const kind = nexmarkKind(def);
    const spec: SchemaSpec = NEXMARK[kind];
    for (const col of def.columns) {
      const t = spec[col.name];
      if (t === undefined) fail(col.node, `the Nexmark ${kind} table has no column '${col.name}'; its columns are: ${Object.keys(spec).join(', ')}`);
      if (t !== col.type) fail(col.node, `the Nexmark ${kind} column '${col.name}' is ${sqlType(t as DataType)}, declared ${sqlType(col.type)}`);
    }
  }
  if (c.value === 'filesystem') {
    const path = def.options.get('path');
    if (path === undefined) fail(def.node, `CREATE TABLE ${def.name}: the filesystem connector needs 'path' = '...'`);
    const format = def.options.get('format');
    if (format === undefined || (format.value !== 'json' && format.value !== 'csv')) fail(format?.node ?? def.node, `the filesystem connector needs 'format' = 'json' or 'csv'${format === undefined ? '' : `, got '${format.value}'`}`);
  }
  if (def.watermark !== null) {
    const col = def.columns.find((x) => x.name === def.watermark!.column);
    if (col === undefined) fail(def.node, `WATERMARK FOR ${def.watermark.column}: no such column; the columns are: ${def.columns.map((x) => x.name).join(', ')}`);
    if (col.type !== 'timestamp') fail(col.node, `WATERMARK FOR ${col.name}: the column must be TIMESTAMP(3), it is ${sqlType(col.type)}`);
  }
}

const DURATION_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, sec: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/** The datagen connector's options (Flink's names), checked: each error at its option. */
function datagenOptions(def: TableDef): DataGenOptions {
  const num = (k: string, whole: boolean): number | undefined => {
    const o = def.options.get(k);
    if (o === undefined) return undefined;
    const v = Number(o.value);
    if (o.value.trim() === '' || !Number.isFinite(v) || (whole && !Number.isSafeInteger(v))) fail(o.node, `'${k}' must be ${whole ? 'a whole number' : 'a number'}, got '${o.value}'`);
    return v;
  };
  const fields: Record<string, DataGenField> = {};
  for (const [k, o] of def.options) {
    const m = /^fields\.(.+)\.([a-z-]+)$/.exec(k);
    if (m === null) continue;
    const [, col, opt] = m as unknown as [string, string, string];
    const column = def.columns.find((x) => x.name === col);
    if (column === undefined) fail(o.key, `'${k}': the table has no column '${col}'; its columns are: ${def.columns.map((x) => x.name).join(', ')}`);
    const f = (fields[col] ??= {}) as { -readonly [K in keyof DataGenField]: DataGenField[K] };
    switch (opt) {
      case 'kind':
        if (o.value !== 'random' && o.value !== 'sequence') fail(o.node, `'${k}' is 'random' or 'sequence', got '${o.value}'`);
        f.kind = o.value;
        break;
      case 'max-past': {
        const d = /^\s*(\d+)\s*(ms|s|sec|min|h|d)?\s*$/.exec(o.value);
        if (d === null) fail(o.node, `'${k}' is a duration, e.g. '5000' (ms), '10 s', '5 min', got '${o.value}'`);
        f.maxPastMs = Number(d[1]) * DURATION_MS[d[2] ?? 'ms']!;
        break;
      }
      default:
        f[opt as 'min' | 'max' | 'length' | 'start' | 'end'] = num(k, !(column.type === 'f64' && (opt === 'min' || opt === 'max')))!;
    }
  }
  const rows = num('number-of-rows', true);
  const rate = num('rows-per-second', false);
  const seed = num('seed', true);
  const options: DataGenOptions = { fields, ...(rows !== undefined ? { numberOfRows: rows } : {}), ...(rate !== undefined ? { rowsPerSecond: rate } : {}), ...(seed !== undefined ? { seed } : {}) };
  try {
    new DataGenSource(Schema.from(schemaSpec(def)), options);
  } catch (e) {
    if (e instanceof RangeError) fail(def.options.get('connector')!.node, e.message);
    throw e;
  }
  return options;
}

function nexmarkKind(def: TableDef): keyof typeof NEXMARK {
  const k = option(def, 'kind') ?? def.name.toLowerCase();
  if (k !== 'bid' && k !== 'auction' && k !== 'person') {
    fail(def.options.get('kind')?.node ?? def.node, `a Nexmark table needs 'kind' = 'bid', 'auction' or 'person' (or the table's name is one of them), got '${k}'`);
  }
  return k;
}

export function sqlType(t: DataType): string {
  return { i32: 'INT', i64: 'BIGINT', f64: 'DOUBLE', bool: 'BOOLEAN', utf8: 'STRING', timestamp: 'TIMESTAMP(3)' }[t];
}

function schemaSpec(def: TableDef): SchemaSpec {
  const spec: Record<string, `${DataType}` | `${DataType}?`> = {};
  for (const c of def.columns) spec[c.name] = c.nullable ? `${c.type}?` : c.type;
  return spec;
}

/** The table as a stream: its source, with the declared watermark. */
export function openSource(def: TableDef, env: StreamEnvironment, at: SqlNode, stateTtlMs = 0): DataStream<object> {
  const connector = option(def, 'connector')!;
  const wm = def.watermark === null ? undefined : WatermarkStrategy.forBoundedOutOfOrderness<Record<string, unknown>>(def.watermark.delayMs).withTimestampAssigner(def.watermark.column);
  const num = (k: string): number | undefined => (option(def, k) === undefined ? undefined : Number(option(def, k)));
  switch (connector) {
    case 'nexmark': {
      const kind = nexmarkKind(def);
      const o = { events: num('events') ?? 1_000_000, ...(num('seed') !== undefined ? { seed: num('seed')! } : {}), ...(num('event-rate') !== undefined ? { eventRatePerSec: num('event-rate')! } : {}), ...(num('rate') !== undefined ? { targetRatePerSec: num('rate')! } : {}) };
      const src = kind === 'bid' ? NexmarkSource.bids(o) : kind === 'auction' ? NexmarkSource.auctions(o) : NexmarkSource.persons(o);
      return env.fromSource(src as NexmarkSource<Record<string, unknown>>, wm, def.name);
    }
    case 'filesystem': {
      const path = option(def, 'path')!;
      const spec = schemaSpec(def);
      const header = option(def, 'csv.header');
      const delimiter = option(def, 'csv.delimiter');
      const src = option(def, 'format') === 'json' ? FileSource.jsonl(path, spec) : FileSource.csv(path, spec, { ...(header !== undefined ? { header: header === 'true' } : {}), ...(delimiter !== undefined ? { delimiter } : {}) });
      return env.fromSource(src as FileSource<Record<string, unknown>>, wm, def.name);
    }
    case 'kafka':
      return env.fromSource(kafkaSource(def, schemaSpec(def)), wm, def.name);
    case 'datagen':
      return env.fromSource(new DataGenSource(Schema.from(schemaSpec(def)), datagenOptions(def)) as unknown as Source<Record<string, unknown>>, wm, def.name);
    case 'upsert-kafka':
      if (def.watermark !== null) fail(at, `reading the table ${def.name} ('upsert-kafka'): a WATERMARK on an upsert-kafka table is not supported; its rows are an updating table, which windows cannot consume`);
      return upsertKafkaStream(upsertKafkaSourceConfig(def), env, stateTtlMs);
    default:
      fail(at, `the table ${def.name} (connector '${connector}') is a sink only; read from a 'nexmark', 'filesystem', 'datagen' or 'kafka' table`);
  }
}

/** The table as a sink. */
export function openSink(def: TableDef, at: SqlNode): Sink {
  const connector = option(def, 'connector')!;
  switch (connector) {
    case 'filesystem':
      return option(def, 'format') === 'json' ? FileSink.jsonl(option(def, 'path')!) : FileSink.csv(option(def, 'path')!);
    case 'kafka':
      return kafkaSink(def);
    case 'upsert-kafka':
      return upsertKafkaSink(def);
    case 'blackhole':
      return new DiscardingSink();
    case 'print':
      return new PrintSink(def.name);
    default:
      fail(at, `the table ${def.name} (connector '${connector}') is a source only; insert into a 'filesystem', 'kafka', 'blackhole' or 'print' table`);
  }
}

/** Rows to stdout as JSON, one a line, prefixed `+I` (Flink's print connector marks inserts so). */
export class PrintSink implements Sink {
  readonly name: string;
  constructor(table: string) {
    this.name = `print ${table}`;
  }
  open(_schema: Schema): SinkWriter {
    return {
      write: (b: RecordBatch) => {
        if (b.length === 0) return;
        const lines = toLines(b, 'jsonl');
        process.stdout.write(lines.replace(/^(?=.)/gm, '+I '));
      },
      borrows: true,
      close: () => undefined,
    };
  }
}
