/** The operators behind the DataStream API. */

import type { Committer } from './checkpoint.js';
import type { OperatorMemory } from './memory.js';
import { BatchBuilder, BadValueError, ColumnBuilder } from '../batch/builder.js';
import { RecordBatch, rowReader, type Row } from '../batch/record-batch.js';
import { getI64, i32View, setI64 } from '../batch/i64.js';
import type { Schema, DataType } from '../batch/schema.js';
import type { SinkWriter } from '../api/connector.js';
import type { TimestampAssigner, WatermarkStrategy } from '../api/watermark.js';
import type { Engine, WindowAggregator, WindowDescriptor } from '../engine/engine.js';
import { keyGroups } from '../keys/key-groups.js';
import { lastWindowStart } from '../engine/window-spec.js';
import { CountRetention } from './count-retention.js';
import { Operator } from './operator.js';
import { DeadLetterFile, type DeadLetterPosition } from './dead-letters.js';
import { jsonCells } from '../batch/text-format.js';

const HI_EXACT = 2097152; // 2^21: |ms| < 2^53

/**
 * The highest event time of a batch, checking every timestamp is within ±2^53 ms (where both
 * engines compute windows exactly); -Infinity for an empty batch.
 */
export function maxEventTime(et: BigInt64Array, n: number, origin: string, firstPosition: number, field: string): number {
  // A source's batch is checked where it enters the job and again by its watermark generator:
  // scan it once.
  const known = checked.get(et);
  if (known !== undefined && known.n === n) return known.max;
  const max = scanEventTime(et, n, origin, firstPosition, field);
  checked.set(et, { n, max });
  return max;
}

const checked = new WeakMap<BigInt64Array, { n: number; max: number }>();

function scanEventTime(et: BigInt64Array, n: number, origin: string, firstPosition: number, field: string): number {
  const v = i32View(et);
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const hi = v[2 * i + 1]!;
    if (hi < -HI_EXACT || hi >= HI_EXACT) {
      throw new BadValueError(origin, firstPosition + i, field, `timestamp ${et[i]} ms is outside ±2^53 ms`);
    }
    const t = getI64(v, i);
    if (t > max) max = t;
  }
  return max;
}

/** Copies the event time of rows idx[0..n) (for operators that change the row set). */
function takeEventTime(et: BigInt64Array | null, idx: Int32Array, n: number): BigInt64Array | null {
  if (et === null) return null;
  const out = new BigInt64Array(n);
  const o = i32View(out);
  const s = i32View(et);
  for (let i = 0; i < n; i++) {
    o[2 * i] = s[2 * idx[i]!]!;
    o[2 * i + 1] = s[2 * idx[i]! + 1]!;
  }
  return out;
}

export class MapOperator extends Operator {
  constructor(
    id: number,
    name: string,
    private readonly fn: (r: Row) => unknown,
    private readonly schema: Schema,
  ) {
    super(id, name);
  }

  processBatch(batch: RecordBatch): Promise<void> {
    const read = rowReader(batch);
    const b = new BatchBuilder(this.schema, batch.length);
    const where = `${this.metrics.name} output`;
    const base = this.metrics.recordsIn - batch.length;
    for (let i = 0; i < batch.length; i++) b.append(this.fn(read(i)), where, base + i);
    // One output per input: the event time is unchanged.
    return this.emit(b.finish().withEventTime(batch.eventTime));
  }
}

export class FilterOperator extends Operator {
  private sel = new Int32Array(1024);
  constructor(
    id: number,
    name: string,
    private readonly fn: (r: Row) => unknown,
  ) {
    super(id, name);
  }

  processBatch(batch: RecordBatch): Promise<void> | void {
    const read = rowReader(batch);
    if (this.sel.length < batch.length) this.sel = new Int32Array(batch.length);
    const sel = this.sel;
    let m = 0;
    for (let i = 0; i < batch.length; i++) if (this.fn(read(i)) === true) sel[m++] = i;
    if (m === batch.length) return this.emit(batch);
    return this.emit(batch.take(sel, m));
  }
}

export class FlatMapOperator extends Operator {
  constructor(
    id: number,
    name: string,
    private readonly fn: (r: Row) => Iterable<unknown>,
    private readonly schema: Schema,
  ) {
    super(id, name);
  }

  processBatch(batch: RecordBatch): Promise<void> {
    const read = rowReader(batch);
    const b = new BatchBuilder(this.schema, batch.length);
    const src: number[] = [];
    const where = `${this.metrics.name} output`;
    const base = this.metrics.recordsIn - batch.length;
    for (let i = 0; i < batch.length; i++) {
      const out = this.fn(read(i));
      if (out === null || typeof out !== 'object' || !(Symbol.iterator in out)) {
        throw new TypeError(`${this.metrics.name}: the function must return an iterable (e.g. an array) of records, got ${typeof out} for record ${base + i}`);
      }
      for (const r of out) {
        b.append(r, where, base + i);
        src.push(i);
      }
    }
    const out = b.finish();
    return this.emit(out.withEventTime(takeEventTime(batch.eventTime, Int32Array.from(src), src.length)));
  }
}

/**
 * Assigns event time (from a field, zero-copy, or a function) and emits watermarks after each
 * batch: highest timestamp seen - bound - 1. Upstream watermarks are replaced, as in Flink.
 */
export class TimestampsOperator extends Operator {
  private maxTs = -Infinity;
  private readonly field: number | null;
  private readonly fn: TimestampAssigner<Row> | null;
  private readonly bound: number | null;
  private readonly idleMs: number | null;
  private readonly deadLetters: DeadLetterFile | null;

  constructor(
    id: number,
    name: string,
    strategy: WatermarkStrategy<never>,
    private readonly schema: Schema,
    /** Names the origin of the records in error messages (the source). */
    private readonly origin: string,
  ) {
    super(id, name);
    const a = strategy.assigner as string | TimestampAssigner<Row> | null;
    this.field = typeof a === 'string' ? schema.indexOf(a) : null;
    this.fn = typeof a === 'function' ? a : null;
    this.bound = strategy.boundMs;
    this.idleMs = strategy.idleMs;
    this.deadLetters = strategy.invalidTimestampsPath === null ? null : new DeadLetterFile(strategy.invalidTimestampsPath);
  }

  processBatch(batch: RecordBatch): Promise<void> {
    const n = batch.length;
    const base = this.metrics.recordsIn - n;
    const fieldName = this.field === null ? (this.fn === null ? '(event time)' : '(timestamp assigner)') : this.schema.fields[this.field]!.name;
    const bad: { i: number; detail: string }[] = [];
    // Without a dead-letter file the first invalid timestamp fails the job, naming source, record and field.
    const reject = (i: number, detail: string): void => {
      if (this.deadLetters === null) throw new BadValueError(this.origin, base + i, fieldName, detail);
      bad.push({ i, detail });
    };
    let et: BigInt64Array;
    if (this.field !== null) {
      const col = batch.columns[this.field]!;
      if (col.validity !== null) {
        for (let i = 0; i < n; i++) {
          if ((col.validity[i >>> 3]! & (1 << (i & 7))) === 0) reject(i, 'has no valid timestamp (null); every record needs its event time');
        }
      }
      et = (col as { values: BigInt64Array }).values;
    } else if (this.fn !== null) {
      et = new BigInt64Array(n);
      const v = i32View(et);
      const read = rowReader(batch);
      let prev = this.maxTs === -Infinity ? Number.MIN_SAFE_INTEGER : this.maxTs;
      for (let i = 0; i < n; i++) {
        const t = this.fn(read(i), prev);
        if (typeof t !== 'number' || !Number.isSafeInteger(t)) {
          reject(i, `the timestamp assigner returned ${String(t)}; it must return ms since the epoch as a whole number within ±2^53`);
          continue;
        }
        setI64(v, i, t);
        prev = t;
      }
    } else {
      if (batch.eventTime === null) {
        throw new Error(`${this.origin}: records carry no event time; add .withTimestampAssigner(field or function)`);
      }
      et = batch.eventTime;
    }
    if (this.deadLetters !== null) {
      const v = i32View(et);
      const known = new Set(bad.map((b) => b.i));
      for (let i = 0; i < n; i++) {
        const hi = v[2 * i + 1]!;
        if (!known.has(i) && (hi < -HI_EXACT || hi >= HI_EXACT)) reject(i, `timestamp ${et[i]} ms is outside ±2^53 ms`);
      }
    }
    let out = batch.eventTime === et ? batch : batch.withEventTime(et);
    if (bad.length > 0) {
      // Exact rendering from the columns (a raw i64 beyond 2^53 must not be rounded here either).
      const cells = jsonCells(batch);
      const names = batch.schema.names();
      for (const { i, detail } of bad) {
        const raw = `{${names.map((name, k) => `${JSON.stringify(name)}:${cells[k]!(i) ?? 'null'}`).join(',')}}`;
        this.deadLetters!.writeEntry({ source: this.origin, record: base + i, field: fieldName, error: `${this.origin}, record ${base + i}, field '${fieldName}': ${detail}`, raw });
      }
      this.metrics.deadLetters = (this.metrics.deadLetters ?? 0) + bad.length;
      const badRows = new Set(bad.map((b) => b.i));
      const keep = Int32Array.from({ length: n }, (_, i) => i).filter((i) => !badRows.has(i));
      out = out.take(keep, keep.length);
    }
    const batchMax = maxEventTime(out.eventTime!, out.length, this.origin, base, fieldName);
    this.maxTs = Math.max(this.maxTs, batchMax);
    if (this.maxTs > -Infinity) this.metrics.maxEventTime = this.maxTs;
    if (this.split !== null) this.splitMax.set(this.split, Math.max(this.splitMax.get(this.split) ?? -Infinity, batchMax));
    return this.emitThenWatermark(out);
  }

  override snapshotState(): unknown {
    return { maxTs: this.maxTs, splitMax: [...this.splitMax], deadLetters: this.deadLetters?.position() ?? null };
  }

  override restoreState(state: unknown): void {
    const s = state as { maxTs: number; splitMax: [string, number][]; deadLetters?: DeadLetterPosition | null };
    this.maxTs = s.maxTs;
    for (const [k, v] of s.splitMax) this.splitMax.set(k, v);
    if (this.deadLetters !== null && s.deadLetters != null) {
      this.deadLetters.restore(s.deadLetters);
      this.metrics.deadLetters = s.deadLetters.count;
    }
  }

  /** Per-split watermarks: the split of the next batch, and the splits that have not ended. */
  private split: string | null = null;
  private active: readonly string[] = [];
  private readonly splitMax = new Map<string, number>();

  setSplits(current: string, active: readonly string[]): void {
    this.split = current;
    for (const s of this.splitMax.keys()) if (!active.includes(s) && s !== current) this.splitMax.delete(s);
    this.active = active;
  }

  /** The highest event time that bounds the watermark: the minimum over active splits, or over the whole input. */
  private watermarkBase(): number {
    if (this.split === null) return this.maxTs;
    if (this.active.length === 0) return this.maxTs;
    let m = Infinity;
    for (const s of this.active) m = Math.min(m, this.splitMax.get(s) ?? -Infinity);
    return m;
  }

  override async finish(input: number): Promise<void> {
    try {
      await super.finish(input);
    } finally {
      this.deadLetters?.close();
    }
  }

  /** Wall time of the last record, and whether this input has been declared idle. */
  private lastActivity = performance.now();
  private idle = false;

  /** Declared idle (withIdleness) and not active again yet. */
  get isIdle(): boolean {
    return this.idle;
  }

  /** Called by the source when it had nothing to read: declare the input idle once quiet long enough. */
  async tick(now: number): Promise<void> {
    if (this.idleMs !== null && !this.idle && now - this.lastActivity >= this.idleMs) {
      this.idle = true;
      await this.emitIdle(true);
    }
  }

  private async emitThenWatermark(batch: RecordBatch): Promise<void> {
    this.lastActivity = performance.now();
    if (this.idle) {
      this.idle = false;
      await this.emitIdle(false);
    }
    await this.emit(batch);
    const base = this.watermarkBase();
    if (this.bound !== null && base !== -Infinity) await this.emitWatermark(base - this.bound - 1);
  }

  override processWatermark(watermark: number): Promise<void> | void {
    // Only end of input passes through; this operator generates its own watermarks.
    if (watermark === Infinity) return this.emitWatermark(watermark);
  }
}

/** keyBy(selector): appends the computed key as a `key` column. */
export class KeySelectorOperator extends Operator {
  constructor(
    id: number,
    name: string,
    private readonly fn: (r: Row) => unknown,
    private readonly keyType: DataType,
    private readonly schema: Schema,
  ) {
    super(id, name);
  }

  processBatch(batch: RecordBatch): Promise<void> {
    const read = rowReader(batch);
    const kb = new ColumnBuilder({ name: 'key', type: this.keyType, nullable: false }, batch.length);
    const where = `${this.metrics.name} (key selector; change the key type with keyBy(fn, type))`;
    const base = this.metrics.recordsIn - batch.length;
    for (let i = 0; i < batch.length; i++) kb.append(this.fn(read(i)), where, base + i);
    return this.emit(new RecordBatch(this.schema, [...batch.columns, kb.finish()], batch.length, batch.eventTime));
  }
}

/** A dynamic session gap: the user's function per record, into an i64 column appended to the batch. */
export interface SessionGapFn {
  readonly fn: (r: Row) => unknown;
  /** The input schema with the gap column last. */
  readonly schema: Schema;
  /** Names the origin of the records in error messages (the source). */
  readonly origin: string;
}

/**
 * Checkpoints of the built-in time windows: the operator keeps the input batches that still
 * belong to a window not yet purged (each until the watermark passes the end of the last window
 * of its latest record, plus the allowed lateness); a checkpoint stores them (columnar,
 * FlatBuffers) and a restore replays them into a fresh aggregator, then advances it to the
 * checkpoint's watermark, discarding what that fires again (it was emitted before the
 * checkpoint). Replayed in arrival order, the aggregator's state, output order and float sums
 * are as they were.
 *
 * Sessions grow and merge, so a record's window is not known from its time: the operator keeps
 * each batch with the watermark it arrived at, and drops (at a checkpoint) the batches older
 * than the earliest session still in the aggregator. A restore replays the batches each at its
 * own watermark, so that sessions merge, fire and find records late as they did.
 */
export interface WindowReplay {
  readonly engine: Engine;
  readonly window: WindowDescriptor;
  readonly lateness: number;
  /** Key fields (input indices) and the key groups, to keep a subtask's keys on rescaling. */
  readonly keyFields: readonly number[];
  readonly maxParallelism: number;
}

export class WindowAggregateOperator extends Operator {
  /** With checkpoints: the input batches of windows not yet purged, and until which watermark each is needed. */
  private retained: { batch: RecordBatch; until: number; watermark: number }[] = [];
  /** The watermark the aggregator was last advanced to. */
  private aggWatermark = -Infinity;
  private pruneAt = 1024;
  /** Set when the job takes checkpoints. */
  replay: WindowReplay | null = null;
  /** Count windows with checkpoints: the records a restore replays (count-retention.ts). */
  private counts: CountRetention | null = null;

  override checkpointGap(): string | null {
    return this.replay === null ? 'internal error: the window operator was not prepared for checkpoints' : null;
  }

  /** Keeps what checkpoints need of a batch the aggregator received. */
  private retain(batch: RecordBatch, watermark: number): void {
    const r = this.replay!;
    if (r.window.kind === 'count') {
      this.counts ??= new CountRetention(r.keyFields, r.window.size, r.window.slide);
      this.counts.add(batch);
    } else {
      this.retained.push({ batch, until: this.neededUntil(batch), watermark });
    }
  }

  /** Until which watermark the batch is needed: the end of the last window of its latest record, plus lateness. */
  private neededUntil(batch: RecordBatch): number {
    if (this.replay!.window.kind === 'session') return Infinity; // until pruned by the earliest session (prune)
    const w = this.replay!.window as { sizeMs: number; slideMs?: number; offsetMs: number };
    // Usually a cache hit: the watermark generator scanned this event-time column already.
    const max = maxEventTime(batch.eventTime!, batch.length, this.metrics.name, 0, '(event time)');
    return lastWindowStart(max, w.slideMs ?? w.sizeMs, w.offsetMs) + w.sizeMs - 1 + this.replay!.lateness;
  }

  /** Sessions: drops the batches older than the earliest session in the aggregator (their sessions are gone). */
  private prune(): void {
    if (this.replay?.window.kind !== 'session' || this.retained.length === 0) return;
    const earliest = this.agg.earliestStart();
    this.retained = this.retained.filter((r) => maxEventTime(r.batch.eventTime!, r.batch.length, this.metrics.name, 0, '(event time)') >= earliest);
  }

  override snapshotState(): unknown {
    if (this.replay === null) return null;
    if (this.replay.window.kind === 'count') return { batches: (this.counts?.keep() ?? []).map((b) => this.replay!.engine.encodeBatch(b)) };
    this.prune();
    return { batches: this.retained.map((r) => this.replay!.engine.encodeBatch(r.batch)), watermarks: this.retained.map((r) => r.watermark) };
  }

  override restoreState(state: unknown): void {
    const s = state as { batches: Uint8Array[]; watermarks?: number[] };
    this.replayBatches(s.batches.map((b, i) => ({ batch: this.replay!.engine.decodeBatch(b), watermark: s.watermarks?.[i] ?? -Infinity })));
  }

  override restoreRescaled(states: readonly unknown[], mine: (keyGroup: number) => boolean): boolean {
    const r = this.replay!;
    const batches: { batch: RecordBatch; watermark: number }[] = [];
    for (const s of states as { batches: Uint8Array[]; watermarks?: number[] }[]) {
      s.batches.forEach((bytes, j) => {
        const b = r.engine.decodeBatch(bytes);
        const groups = keyGroups(b, r.keyFields, r.maxParallelism);
        const rows = Int32Array.from({ length: b.length }, (_, i) => i).filter((i) => mine(groups[i]!));
        if (rows.length > 0) batches.push({ batch: b.take(rows, rows.length), watermark: s.watermarks?.[j] ?? -Infinity });
      });
    }
    // Old subtasks' batches interleave by key only, so per key the arrival order holds; each
    // batch is replayed at the watermark it arrived at (a stable sort keeps the order within one).
    batches.sort((a, b) => a.watermark - b.watermark || 0);
    this.replayBatches(batches);
    return true;
  }

  private replayBatches(batches: readonly { batch: RecordBatch; watermark: number }[]): void {
    const sessions = this.replay!.window.kind === 'session';
    for (const { batch: b, watermark } of batches) {
      // Sessions: the watermark the batch arrived at (what fires is discarded: emitted before the checkpoint).
      if (sessions && watermark > this.aggWatermark) {
        this.agg.advanceWatermark(watermark);
        this.aggWatermark = watermark;
      }
      this.agg.push(this.gap === null ? b : this.withGaps(b, this.gap));
      this.agg.takePushedOutput(); // fired before the checkpoint already
      this.retain(b, watermark);
    }
    if (this.watermark > -Infinity) this.agg.advanceWatermark(this.watermark); // ditto
    this.aggWatermark = Math.max(this.aggWatermark, this.watermark);
    this.metrics.memoryBytes = this.agg.memoryBytes;
  }

  constructor(
    id: number,
    name: string,
    private readonly agg: WindowAggregator,
    private readonly gap: SessionGapFn | null = null,
    /** Side output for late records, or null to drop (and count) them. */
    private readonly lateTag: string | null = null,
    /** Count windows: no late records; records after a key's last firing are reported instead. */
    private readonly count = false,
    /** TS engine: the operator's share of managed memory (the native engine reserves its own). */
    private readonly memory: OperatorMemory | null = null,
    /** Two-phase: the input column with each partial row's record count (late records are counted as records). */
    private readonly partialRecords: number | null = null,
  ) {
    super(id, name);
    if (count) this.metrics.unfiredRecords = 0;
    else this.metrics.lateRecordsDropped = 0;
  }

  /** The batch with its session gap column (the function's result per record, checked). */
  private withGaps(batch: RecordBatch, gap: SessionGapFn): RecordBatch {
    const n = batch.length;
    const read = rowReader(batch);
    const values = new BigInt64Array(n);
    const v = i32View(values);
    const base = this.metrics.recordsIn - n;
    for (let i = 0; i < n; i++) {
      const record = read(i);
      const g = gap.fn(record);
      if (typeof g !== 'number' || !Number.isSafeInteger(g) || g <= 0) {
        throw new BadValueError(
          gap.origin,
          base + i,
          '(session gap)',
          `the session gap function returned ${typeof g === 'number' ? g : String(g)} for ${describeRecord(record)}; it must return a whole number of ms above 0`,
        );
      }
      setI64(v, i, g);
    }
    return new RecordBatch(gap.schema, [...batch.columns, { type: 'i64', values, validity: null }], n, batch.eventTime);
  }

  processBatch(batch: RecordBatch): Promise<void> | void {
    if (this.replay !== null && batch.length > 0) this.retain(batch, this.aggWatermark);
    const late = this.agg.push(this.gap === null ? batch : this.withGaps(batch, this.gap));
    this.metrics.memoryBytes = this.agg.memoryBytes;
    this.memory?.resize(this.metrics.memoryBytes);
    // Count windows fire on records, and so do fired windows within their allowed lateness.
    const fired = this.agg.takePushedOutput();
    if (fired === null) return this.late(batch, late);
    // The late rows are read before the next push.
    const rows = late === 0 ? null : this.agg.lateRows();
    return Promise.resolve(this.emit(fired)).then(() => this.late(batch, late, rows));
  }

  private late(batch: RecordBatch, late: number, rows: Uint32Array | null = null): Promise<void> | void {
    if (late === 0) return;
    if (this.lateTag === null) {
      this.metrics.lateRecordsDropped! += this.partialRecords === null ? late : recordsOf(batch, this.partialRecords, rows ?? this.agg.lateRows());
      return;
    }
    // The late rows of the input batch as it came (without the gap column).
    const r = rows ?? this.agg.lateRows();
    return this.emitSide(this.lateTag, batch.take(Int32Array.from(r), r.length));
  }

  override async processWatermark(watermark: number): Promise<void> {
    const fired = this.agg.advanceWatermark(watermark);
    this.aggWatermark = Math.max(this.aggWatermark, watermark);
    if (this.retained.length > 0) this.retained = this.retained.filter((r) => r.until > watermark);
    // Sessions: pruning scans the sessions, so between checkpoints only when the batches kept doubled.
    if (this.retained.length >= this.pruneAt) {
      this.prune();
      this.pruneAt = Math.max(1024, 2 * this.retained.length);
    }
    this.memory?.resize(this.agg.memoryBytes);
    if (fired !== null) await this.emit(fired);
    await this.emitWatermark(watermark);
  }

  override async finish(): Promise<void> {
    await this.processWatermark(Infinity);
    this.memory?.release();
    if (this.count) this.metrics.unfiredRecords = this.agg.unfiredRows;
    await this.emitEnd();
  }
}

/** The records the partial rows `rows` of a batch stand for (their i64 record counts). */
function recordsOf(batch: RecordBatch, column: number, rows: Uint32Array): number {
  const v = i32View((batch.columns[column] as { values: BigInt64Array }).values);
  let n = 0;
  for (const r of rows) n += getI64(v, r);
  return n;
}

/**
 * The first phase of a two-phase window aggregation (plan/two-phase.ts): each batch's partial
 * aggregates per key and slice, emitted at once. It holds nothing between batches, so it has
 * no state to checkpoint and nothing it sees is late (the window after the exchange decides).
 */
export class WindowPreAggregateOperator extends Operator {
  constructor(
    id: number,
    name: string,
    private readonly agg: WindowAggregator,
    /** TS engine: the operator's share of managed memory (the native engine reserves its own). */
    private readonly memory: OperatorMemory | null,
  ) {
    super(id, name);
  }

  processBatch(batch: RecordBatch): Promise<void> | void {
    if (batch.length === 0) return;
    this.agg.push(batch);
    this.metrics.memoryBytes = this.agg.memoryBytes;
    this.memory?.resize(this.metrics.memoryBytes);
    const partial = this.agg.flush();
    if (partial !== null) return this.emit(partial);
  }

  override finish(): Promise<void> {
    this.memory?.release();
    return this.emitEnd();
  }
}

function describeRecord(r: Row): string {
  try {
    const s = JSON.stringify(r);
    return s.length > 200 ? `${s.slice(0, 200)}…` : s;
  } catch {
    return 'the record';
  }
}

export class SinkOperator extends Operator {
  /** Two-phase commit of the writer (exactly-once), or null when it has none. */
  readonly committer: Committer | null;

  constructor(
    id: number,
    name: string,
    private readonly writer: SinkWriter,
    /** With checkpoints the writer closes after the final checkpoint committed, not at end of input. */
    private readonly deferClose = false,
  ) {
    super(id, name);
    const w = writer;
    this.committer =
      w.preCommit !== undefined && w.commit !== undefined ? { name, preCommit: (cid) => w.preCommit!(cid), commit: (cid) => w.commit!(cid) } : null;
  }

  override restoreCommit(state: unknown): void {
    this.writer.restore!(state);
  }

  override preCommit(id: number): unknown {
    return this.committer?.preCommit(id);
  }

  override commit(id: number): Promise<void> | void {
    return this.committer?.commit(id);
  }

  override async finish(): Promise<void> {
    this.task?.finished(this);
    if (!this.deferClose) await this.writer.close();
  }

  override async closeDeferred(): Promise<void> {
    await this.writer.close();
  }

  processBatch(batch: RecordBatch): Promise<void> | void {
    const r = this.writer.write(batch);
    if (r instanceof Promise) return this.waitFor(r);
  }

  private async waitFor(p: Promise<void>): Promise<void> {
    const t0 = performance.now();
    await p;
    this.blocked(performance.now() - t0);
  }

  override processWatermark(): void {}
}

/**
 * Processing time for windows: stamps each batch with the wall clock (kept monotonic) as its
 * window time and moves the watermark to just before it, so windows whose end has passed fire.
 * Event-time watermarks from upstream do not apply; end of input still flushes everything.
 */
export class ProcessingTimeOperator extends Operator {
  private clock = -Infinity;

  override snapshotState(): unknown {
    return this.clock;
  }

  override restoreState(state: unknown): void {
    this.clock = state as number;
  }

  async processBatch(batch: RecordBatch): Promise<void> {
    this.clock = Math.max(this.clock, Date.now());
    const et = new BigInt64Array(batch.length).fill(BigInt(this.clock));
    await this.emit(batch.withEventTime(et));
    await this.emitWatermark(this.clock - 1);
  }

  override processWatermark(watermark: number): Promise<void> | void {
    if (watermark === Infinity) return this.emitWatermark(Infinity);
  }
}
