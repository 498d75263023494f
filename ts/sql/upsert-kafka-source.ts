/**
 * Reading an 'upsert-kafka' table (Flink's upsert-kafka source with its ChangelogNormalize): the
 * topic is read from the earliest offset, each record's key (a JSON object of the PRIMARY KEY's
 * columns) and value (a JSON object of the columns, or of the other columns with
 * 'value.fields-include' = 'EXCEPT_KEY'; null: a tombstone) decoded, and per key the last row is
 * kept in keyed state: the first value of a key is +I, a later one -U (the kept row) then +U (the
 * new one), a tombstone -D (the kept row), a tombstone for a key not kept nothing; as Flink's
 * ChangelogNormalize without a state TTL, an equal value still gives -U/+U. A key's records are in
 * one partition, read in order by one subtask and hashed by key to one normalizing subtask, so
 * their order is kept. The result is an updating table (`$rowkind`). Values are checked against
 * the column types (exactly: an integer beyond 2^53, a wrong type, a missing NOT NULL column is
 * an error naming the topic, partition and offset).
 *
 * With a state TTL (table.exec.state.ttl) a key's kept row expires when the key had no record
 * for the TTL (processing time), as Flink's ChangelogNormalize with a TTL: its next value is +I
 * again, a tombstone for it nothing, and an update equal to the kept row emits nothing (Flink
 * drops such redundant updates only with a TTL). A processing-time timer per key (one at a time)
 * removes expired rows from state.
 */

import type { DataType, FieldType, SchemaSpec } from '../batch/schema.js';
import type { DataStream } from '../api/datastream.js';
import type { StreamEnvironment } from '../api/environment.js';
import { ValueStateDescriptor, type Collector, type KeyedContext, type KeyedProcessFunction, type OnTimerContext, type RuntimeContext, type ValueState } from '../api/state.js';
import { KafkaSource } from '../connectors/kafka/source.js';
import { OffsetsInitializer, type OffsetsSpec } from '../connectors/kafka/offsets.js';

interface Column {
  readonly name: string;
  readonly type: string;
  readonly nullable: boolean;
}

export interface UpsertSourceConfig {
  readonly table: string;
  readonly topic: string;
  readonly bootstrap: string;
  readonly columns: readonly Column[];
  readonly key: readonly string[];
  readonly bounded: OffsetsSpec | null;
  readonly groupId: string | undefined;
  readonly clientId: string | undefined;
  readonly isolation: 'read_committed' | 'read_uncommitted' | undefined;
  readonly security: Record<string, string>;
}

type Raw = { value: string | null; $key: string | null; partition: number; offset: number };
type Decoded = Record<string, unknown> & { $pk: string; $tomb: boolean };

const PK = '$pk';
const TOMB = '$tomb';

/** One JSON value as the column's type, exactly; `where` names the record. */
function typed(v: unknown, c: Column, where: () => string): unknown {
  if (v === undefined || v === null) {
    if (!c.nullable) throw new Error(`${where()}: column '${c.name}' is missing or null, and it is NOT NULL; write the column in every value, or declare it nullable`);
    return null;
  }
  const bad = (what: string): never => {
    throw new Error(`${where()}: column '${c.name}' (${c.type}) got ${JSON.stringify(v)}; ${what}`);
  };
  switch (c.type as DataType) {
    case 'i32':
      if (typeof v !== 'number' || !Number.isInteger(v) || v < -2147483648 || v > 2147483647) bad('write a whole number within the INT range');
      return v;
    case 'i64':
    case 'timestamp':
      // JSON.parse keeps integers exact within ±2^53 only: larger ones are refused, not rounded.
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) bad(`write a whole number within ±(2^53 - 1)${c.type === 'timestamp' ? ' (epoch milliseconds)' : ''}`);
      return v;
    case 'f64':
      if (typeof v !== 'number') bad('write a number');
      return v;
    case 'bool':
      if (typeof v !== 'boolean') bad('write true or false');
      return v;
    default:
      if (typeof v !== 'string') bad('write a string');
      return v;
  }
}

function parseObject(text: string, what: string, where: () => string): Record<string, unknown> {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch (e) {
    throw new Error(`${where()}: the ${what} is not JSON (${(e as Error).message}); an upsert-kafka table with 'json' formats needs JSON objects`);
  }
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new Error(`${where()}: the ${what} is not a JSON object: ${text.slice(0, 100)}`);
  return o as Record<string, unknown>;
}

/** A key's kept row, with a TTL its last write (processing time) and its pending clean-up timer. */
interface Kept {
  readonly row: Record<string, unknown>;
  readonly access: number;
  readonly timer: number | null;
}

/** Keeps the last row per key and emits the changes between them (Flink's ChangelogNormalize). */
class ChangelogNormalize implements KeyedProcessFunction<unknown, Decoded, Record<string, unknown>> {
  private last!: ValueState<Kept | null>;
  /** The processing time, never going back. */
  private clock = -Infinity;
  constructor(
    private readonly columns: readonly string[],
    private readonly ttl: number,
  ) {}
  open(ctx: RuntimeContext): void {
    this.last = ctx.getState(new ValueStateDescriptor<Kept | null>('last-row', null));
  }
  processElement(r: Decoded, ctx: KeyedContext<unknown>, out: Collector<Record<string, unknown>>): void {
    let kept = this.last.value() ?? null;
    const now = (this.clock = Math.max(this.clock, ctx.timerService().currentProcessingTime()));
    if (kept !== null && this.ttl > 0 && kept.access + this.ttl <= now) kept = null; // expired: as if never kept
    const prev = kept?.row ?? null;
    const emit = (row: Record<string, unknown>, kind: number): void => out.collect({ ...row, $rowkind: kind });
    if (r[TOMB] === true) {
      if (prev !== null) emit(prev, 3);
      this.last.clear();
      return;
    }
    const row: Record<string, unknown> = {};
    for (const c of this.columns) row[c] = r[c];
    if (prev === null) emit(row, 0);
    else if (!(this.ttl > 0 && this.columns.every((c) => Object.is(row[c], prev[c])))) {
      emit(prev, 1);
      emit(row, 2);
    }
    let timer = kept?.timer ?? null;
    if (this.ttl > 0 && timer === null) {
      timer = now + this.ttl;
      ctx.timerService().registerProcessingTimeTimer(timer);
    }
    this.last.update({ row, access: now, timer });
  }
  onTimer(timestamp: number, ctx: OnTimerContext<unknown>): void {
    const kept = this.last.value() ?? null;
    if (kept === null || kept.timer !== timestamp) return;
    if (kept.access + this.ttl <= timestamp) {
      this.last.clear();
      return;
    }
    // Written since: clean up one TTL after that write.
    const timer = kept.access + this.ttl;
    ctx.timerService().registerProcessingTimeTimer(timer);
    this.last.update({ ...kept, timer });
  }
}

/** The table as an updating stream (its rows with `$rowkind`). */
export function upsertKafkaStream(config: UpsertSourceConfig, env: StreamEnvironment, stateTtlMs: number): DataStream<object> {
  let b = KafkaSource.builder().setBootstrapServers(config.bootstrap).setTopics(config.topic).setStartingOffsets(OffsetsInitializer.earliest());
  if (config.groupId !== undefined) b.setGroupId(config.groupId);
  if (config.clientId !== undefined) b.setClientId(config.clientId);
  if (config.isolation !== undefined) b.setIsolationLevel(config.isolation);
  b.setProperties(config.security);
  if (config.bounded !== null) b.setBounded(config.bounded);
  b = b.withKey('$key').withMetadata('partition', 'offset');
  const src = b.setRawValue().build();
  const raw = env.fromSource(src as never, undefined, config.table) as unknown as DataStream<Raw>;
  const names = config.columns.map((c) => c.name);
  const keyCols = config.key.map((k) => config.columns.find((c) => c.name === k)!);
  const decodedSpec: Record<string, FieldType> = { [PK]: 'utf8', [TOMB]: 'bool' };
  for (const c of config.columns) decodedSpec[c.name] = `${c.type}?` as FieldType;
  const decode = (r: Raw): Decoded => {
    const where = (): string => `upsert-kafka table ${config.table}: topic ${config.topic} partition ${r.partition} offset ${r.offset}`;
    if (r.$key === null) throw new Error(`${where()}: the record has no key; an upsert-kafka table's records are keyed by the PRIMARY KEY (${config.key.join(', ')}) as a JSON object`);
    const key = parseObject(r.$key, 'key', where);
    const pk = keyCols.map((c) => typed(key[c.name], { ...c, nullable: false }, where));
    const out: Decoded = { [PK]: JSON.stringify(pk), [TOMB]: r.value === null } as Decoded;
    for (const c of config.columns) out[c.name] = null;
    if (r.value !== null) {
      const value = parseObject(r.value, 'value', where);
      for (const c of config.columns) {
        const k = config.key.indexOf(c.name);
        // The key's columns come from the key (with EXCEPT_KEY the value lacks them).
        out[c.name] = k >= 0 ? pk[k] : typed(value[c.name], c, where);
      }
    }
    return out;
  };
  const decoded = raw.map(decode as never, decodedSpec as SchemaSpec);
  const outSpec: Record<string, FieldType> = {};
  for (const c of config.columns) outSpec[c.name] = (c.nullable ? `${c.type}?` : c.type) as FieldType;
  outSpec.$rowkind = 'i32';
  return (decoded as unknown as DataStream<Decoded>).keyBy(PK as never).process(new ChangelogNormalize(names, stateTtlMs) as never, outSpec as SchemaSpec) as unknown as DataStream<object>;
}
