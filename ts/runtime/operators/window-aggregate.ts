/** The built-in window aggregation (engine kernels) and its two-phase pre-aggregation. */

import type { OperatorMemory } from '../memory.js';
import { BadValueError } from '../../batch/builder.js';
import { RecordBatch, rowReader, type Row } from '../../batch/record-batch.js';
import { getI64, i32View, setI64 } from '../../batch/i64.js';
import type { Schema } from '../../batch/schema.js';
import type { WindowAggregator, WindowDescriptor } from '../../engine/engine.js';
import { Operator } from '../operator.js';
import type { KeyGroupFilter } from '../rescale.js';
import type { InputReplay, ReplayBatch } from '../replay/input-replay.js';

/** A dynamic session gap: the user's function per record, into an i64 column appended to the batch. */
export interface SessionGapFn {
  readonly fn: (r: Row) => unknown;
  /** The input schema with the gap column last. */
  readonly schema: Schema;
  /** Names the origin of the records in error messages (the source). */
  readonly origin: string;
}

export interface WindowAggregateSpec {
  /** The engine's kernel, for this operator alone. */
  readonly agg: WindowAggregator;
  readonly window: WindowDescriptor;
  /** A dynamic session gap computed by a user function, or null. */
  readonly gap: SessionGapFn | null;
  /** Side output for late records, or null to drop (and count) them. */
  readonly lateTag: string | null;
  /** TS engine: the operator's share of managed memory (the native engine reserves its own). */
  readonly memory: OperatorMemory | null;
  /** Two-phase: the input column with each partial row's record count (late records are counted as records). */
  readonly partialRecords: number | null;
  /** With checkpoints: the input kept for replay (built by the factory), else null. */
  readonly replay: InputReplay | null;
}

export class WindowAggregateOperator extends Operator {
  private readonly agg: WindowAggregator;
  private readonly gap: SessionGapFn | null;
  private readonly lateTag: string | null;
  /** Count windows: no late records; records after a key's last firing are reported instead. */
  private readonly count: boolean;
  private readonly memory: OperatorMemory | null;
  private readonly partialRecords: number | null;
  private readonly replay: InputReplay | null;
  /** The watermark the aggregator was last advanced to. */
  private aggWatermark = -Infinity;

  constructor(id: number, name: string, spec: WindowAggregateSpec) {
    super(id, name);
    this.agg = spec.agg;
    this.gap = spec.gap;
    this.lateTag = spec.lateTag;
    this.count = spec.window.kind === 'count';
    this.memory = spec.memory;
    this.partialRecords = spec.partialRecords;
    this.replay = spec.replay;
    if (this.count) this.metrics.unfiredRecords = 0;
    else this.metrics.lateRecordsDropped = 0;
  }

  override checkpointGap(): string | null {
    return this.replay === null ? 'internal error: the window operator was not prepared for checkpoints' : null;
  }

  override snapshotState(): unknown {
    return this.replay?.snapshot() ?? null;
  }

  override restoreState(state: unknown): void {
    this.replayBatches(this.replay!.restore(state));
  }

  override restoreRescaled(states: readonly unknown[], keep: KeyGroupFilter): boolean {
    this.replayBatches(this.replay!.restoreRescaled(states, keep));
    return true;
  }

  /** Rebuilds the aggregator's state from kept input; what it fires was emitted before the checkpoint. */
  private replayBatches(batches: readonly ReplayBatch[]): void {
    const sessions = this.replay!.sessions;
    for (const { batch: b, watermark } of batches) {
      // Sessions: the watermark the batch arrived at.
      if (sessions && watermark > this.aggWatermark) {
        this.agg.advanceWatermark(watermark);
        this.aggWatermark = watermark;
      }
      this.agg.push(this.gap === null ? b : this.withGaps(b, this.gap));
      this.agg.takePushedOutput();
      this.replay!.retain(b, watermark);
    }
    if (this.watermark > -Infinity) this.agg.advanceWatermark(this.watermark);
    this.aggWatermark = Math.max(this.aggWatermark, this.watermark);
    this.metrics.memoryBytes = this.agg.memoryBytes;
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
    if (this.replay !== null && batch.length > 0) this.replay.retain(batch, this.aggWatermark);
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
    this.replay?.advance(watermark);
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

  override close(): void {
    this.memory?.release();
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

  override close(): void {
    this.memory?.release();
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
