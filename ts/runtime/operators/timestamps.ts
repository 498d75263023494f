/** Event time and watermarks: where a stream's records get their timestamps and the watermark comes from. */

import { BadValueError } from '../../batch/builder.js';
import { rowReader, type RecordBatch, type Row } from '../../batch/record-batch.js';
import { i32View, i64IsExact, setI64 } from '../../batch/i64.js';
import type { Schema } from '../../batch/schema.js';
import { jsonCells } from '../../batch/text-format.js';
import type { TimestampAssigner, WatermarkStrategy } from '../../api/watermark.js';
import { DeadLetterFile, type DeadLetterPosition } from '../dead-letters.js';
import { maxEventTime } from '../event-time.js';
import { Operator } from '../operator.js';
import type { KeyGroupFilter } from '../rescale.js';

interface TimestampsState {
  readonly maxTs: number;
  readonly splitMax: readonly [string, number][];
  readonly deadLetters?: DeadLetterPosition | null;
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
    subtask: number,
  ) {
    super(id, name);
    const a = strategy.assigner as string | TimestampAssigner<Row> | null;
    this.field = typeof a === 'string' ? schema.indexOf(a) : null;
    this.fn = typeof a === 'function' ? a : null;
    this.bound = strategy.boundMs;
    this.idleMs = strategy.idleMs;
    this.deadLetters = strategy.invalidTimestampsPath === null ? null : new DeadLetterFile(strategy.invalidTimestampsPath, subtask);
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
        if (!known.has(i) && !i64IsExact(v, i)) reject(i, `timestamp ${et[i]} ms is outside ±2^53 ms`);
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
    this.seen(maxEventTime(out.eventTime!, out.length, this.origin, base, fieldName));
    return this.emitThenWatermark(out);
  }

  /**
   * Records up to event time `max` were read (of the current split): of a batch, or dropped by
   * the source as it read them (filter pushdown: `SourceReader.readMaxEventTime`).
   */
  seen(max: number): void {
    this.maxTs = Math.max(this.maxTs, max);
    if (this.maxTs > -Infinity) this.metrics.maxEventTime = this.maxTs;
    if (this.split !== null) {
      this.splitMax.set(this.split, Math.max(this.splitMax.get(this.split) ?? -Infinity, max));
      this.splitSeen.set(this.split, performance.now());
    }
  }

  /**
   * The source read records up to event time `max` and dropped them all (filter pushdown): the
   * watermark moves on as it would have after their batch.
   */
  dropped(max: number): Promise<void> {
    this.seen(max);
    return this.emitThenWatermark(null);
  }

  override snapshotState(): unknown {
    return { maxTs: this.maxTs, splitMax: [...this.splitMax], deadLetters: this.deadLetters?.position() ?? null };
  }

  override restoreState(state: unknown): void {
    const s = state as TimestampsState;
    this.maxTs = s.maxTs;
    for (const [k, v] of s.splitMax) this.splitMax.set(k, v);
    if (this.deadLetters !== null && s.deadLetters != null) {
      this.deadLetters.restore(s.deadLetters);
      this.metrics.deadLetters = this.deadLetters.count;
    }
  }

  /**
   * Restoring at another parallelism (behind a source whose splits moved between subtasks):
   * every old subtask's split watermarks (the source then says which splits are this
   * subtask's), the lowest maximum timestamp (so the watermark never runs ahead of any split's
   * records), and the dead-letter files as DeadLetterFile.restoreRescaled says.
   */
  override restoreRescaled(states: readonly unknown[], keep: KeyGroupFilter): boolean {
    const olds = states as readonly (TimestampsState | null)[];
    const known = olds.filter((s): s is TimestampsState => s !== null);
    if (known.length > 0) this.maxTs = Math.min(...known.map((s) => s.maxTs));
    for (const s of known) for (const [k, v] of s.splitMax) this.splitMax.set(k, Math.max(this.splitMax.get(k) ?? -Infinity, v));
    if (this.deadLetters !== null) {
      this.deadLetters.restoreRescaled(olds.map((s) => s?.deadLetters ?? null), keep.parallelism);
      this.metrics.deadLetters = this.deadLetters.count;
    }
    return true;
  }

  /** Per-split watermarks: the split of the next batch, and the splits that have not ended. */
  private split: string | null = null;
  private active: readonly string[] = [];
  private readonly splitMax = new Map<string, number>();
  /** Wall time of each active split's last batch (or of when it appeared), for per-split idleness. */
  private readonly splitSeen = new Map<string, number>();

  setSplits(current: string, active: readonly string[]): void {
    this.split = current;
    for (const s of this.splitMax.keys()) if (!active.includes(s) && s !== current) this.splitMax.delete(s);
    const now = performance.now();
    for (const s of active) if (!this.splitSeen.has(s)) this.splitSeen.set(s, now);
    for (const s of this.splitSeen.keys()) if (!active.includes(s) && s !== current) this.splitSeen.delete(s);
    this.active = active;
  }

  /**
   * The highest event time that bounds the watermark: the minimum over active splits, or over
   * the whole input. With withIdleness, a split quiet that long no longer holds it back (Flink's
   * per-split idleness: e.g. a Kafka partition without new records); -Infinity when all are.
   * `read`: the split whose batch was just read, active whatever the clock says.
   */
  private watermarkBase(now: number, read: string | null = null): number {
    if (this.split === null) return this.maxTs;
    if (this.active.length === 0) return this.maxTs;
    let m = Infinity;
    let any = false;
    for (const s of this.active) {
      if (s !== read && this.idleMs !== null && now - (this.splitSeen.get(s) ?? now) >= this.idleMs) continue;
      any = true;
      m = Math.min(m, this.splitMax.get(s) ?? -Infinity);
    }
    return any ? m : -Infinity;
  }

  override async finish(input: number): Promise<void> {
    await super.finish(input);
    this.deadLetters?.close();
  }

  override close(): void {
    this.deadLetters?.close();
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
    // A split that went idle may let the watermark of the splits still active advance.
    if (this.idleMs !== null && !this.idle && this.split !== null && this.bound !== null) {
      const base = this.watermarkBase(now);
      if (base !== -Infinity) await this.emitWatermark(base - this.bound - 1);
    }
  }

  private async emitThenWatermark(batch: RecordBatch | null): Promise<void> {
    const at = performance.now();
    const read = this.split;
    this.lastActivity = at;
    if (this.idle) {
      this.idle = false;
      await this.emitIdle(false);
    }
    if (batch !== null) await this.emit(batch);
    // Idleness as of the batch's arrival, its own split active: the time its rows took downstream
    // (a slow operator, a sink waiting for the broker) must not make it look idle and drop its watermark.
    const base = this.watermarkBase(at, read);
    if (this.bound !== null && base !== -Infinity) await this.emitWatermark(base - this.bound - 1);
  }

  override processWatermark(watermark: number): Promise<void> | void {
    // Only end of input passes through; this operator generates its own watermarks.
    if (watermark === Infinity) return this.emitWatermark(watermark);
  }
}
