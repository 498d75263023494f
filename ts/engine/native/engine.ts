/** The native engine: operators run in Rust through the napi-rs addon, one call per batch. */

import { RecordBatch } from '../../batch/record-batch.js';
import { takeColumn, takeEventTime, type Column } from '../../batch/column.js';
import type { Lease } from '../../batch/lease.js';
import { Schema, type DataType } from '../../batch/schema.js';
import type { SegmentLayout } from '../../batch/segment.js';
import type { SegmentIo, SegmentRoute, Calc, CsvDecoder, CsvHeader, DecodedLines, Engine, GroupAggregator, GroupAggregatorSpec, KafkaAbortedTxn, KafkaRecordSet, KafkaWanted, LineDecoder, NexmarkGenerator, TextFormat, WindowAggregator, WindowAggregatorSpec } from '../engine.js';
import { NEXMARK_SCHEMAS, type NexmarkConfig, type NexmarkKind } from '../nexmark-config.js';
import { windowOutputSchema } from '../window-spec.js';
import { calcOutputSchema, checkCalcSpec, narrowCalcSpec, type CalcSpec, type PushedFilter } from '../calc-spec.js';
import { fromNative } from '../errors.js';
import { aggregateKind, nexmarkKind, textFormatKind, windowKind, type NativeBinding, type NativeJsonlDecoderN, type NativeCsvDecoderN, type NativeNexmarkGeneratorN, type NativeWindowAggregatorN, type NativeCalcN, type NativeGroupAggregatorN, type SegmentScatterN } from './binding.js';
import { checkGroupState, groupOutputSchema, groupStateSchema } from '../group-agg-spec.js';
import { batchBuffers, columnBuffers, fieldSpecs, fromBatchOut, intoLeased, schemaFromSpecs } from './convert.js';
import { processInto, type IntoOutput } from './calc-into.js';

/**
 * A call into the addon: its errors become EngineErrors with their kind. Per-batch calls catch
 * inline instead (a closure per call measured 3.6% of native hash partitioning).
 */
function call<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw fromNative(e);
  }
}

/** JSON Lines decoded in Rust: one call per chunk of whole lines, read in place. */
class NativeJsonlDecoder implements LineDecoder {
  private readonly inner: NativeJsonlDecoderN;

  constructor(
    binding: NativeBinding,
    private readonly schema: Schema,
    where: string,
  ) {
    this.inner = call(() => new binding.NativeJsonlDecoder(fieldSpecs(schema), where));
  }

  decode(bytes: Uint8Array, firstLine: number, maxRows: number): DecodedLines {
    try {
      const out = this.inner.decode(bytes, firstLine, maxRows);
      return { batch: fromBatchOut(this.schema, out.batch), consumed: out.consumed, lines: out.lines, bad: out.bad };
    } catch (e) {
      throw fromNative(e);
    }
  }
}

/** CSV decoded in Rust: one call per chunk of whole records, read in place. */
class NativeCsvDecoder implements CsvDecoder {
  private readonly inner: NativeCsvDecoderN;

  constructor(
    binding: NativeBinding,
    private readonly schema: Schema,
    where: string,
    format: { readonly delimiter: string; readonly header: boolean },
  ) {
    this.inner = call(() => new binding.NativeCsvDecoder(fieldSpecs(schema), where, format.delimiter, format.header));
  }

  decode(bytes: Uint8Array, firstLine: number, maxRows: number, eof: boolean): DecodedLines {
    try {
      const out = this.inner.decode(bytes, firstLine, maxRows, eof);
      return { batch: fromBatchOut(this.schema, out.batch), consumed: out.consumed, lines: out.lines, bad: out.bad };
    } catch (e) {
      throw fromNative(e);
    }
  }

  header(): CsvHeader | null {
    return this.inner.header() ?? null;
  }

  setHeader(columnOf: readonly number[], width: number): void {
    this.inner.setHeader([...columnOf], width);
  }
}

class NativeWindowAggregator implements WindowAggregator {
  readonly outputSchema: Schema;
  private readonly inner: NativeWindowAggregatorN;

  constructor(binding: NativeBinding, spec: WindowAggregatorSpec) {
    this.outputSchema = windowOutputSchema(spec);
    this.inner = call(
      () =>
        new binding.NativeWindowAggregator({
          input: fieldSpecs(spec.input),
          keyFields: [...spec.keyFields],
          window: { ...spec.window, kind: windowKind(spec.window.kind) },
          aggregates: spec.aggregates.map((a) => ({ name: a.name, kind: aggregateKind(a.kind), ...(a.field === null ? {} : { field: a.field }) })),
          allowedLatenessMs: spec.allowedLatenessMs ?? 0,
          ...(spec.memoryPool === undefined ? {} : { memoryPool: spec.memoryPool }),
        }),
    );
  }

  push(batch: RecordBatch): number {
    try {
      return this.inner.push(batchBuffers(batch), batch.length, batch.eventTime);
    } catch (e) {
      throw fromNative(e);
    }
  }

  advanceWatermark(watermark: number): RecordBatch | null {
    try {
      const out = this.inner.advanceWatermark(watermark);
      return out === null ? null : fromBatchOut(this.outputSchema, out);
    } catch (e) {
      throw fromNative(e);
    }
  }

  flush(): RecordBatch | null {
    try {
      const out = this.inner.flush();
      return out === null ? null : fromBatchOut(this.outputSchema, out);
    } catch (e) {
      throw fromNative(e);
    }
  }

  get lateDropped(): number {
    return this.inner.lateDropped;
  }

  lateRows(): Uint32Array {
    return this.inner.lateRows();
  }

  earliestStart(): number {
    return this.inner.earliestStart();
  }

  takePushedOutput(): RecordBatch | null {
    try {
      const out = this.inner.takePushedOutput();
      return out === null ? null : fromBatchOut(this.outputSchema, out);
    } catch (e) {
      throw fromNative(e);
    }
  }

  get unfiredRows(): number {
    return this.inner.unfiredRows;
  }

  get memoryBytes(): number {
    return this.inner.memoryBytes;
  }
}

/**
 * The calc kernels in Rust: the spec crosses once as JSON, then one call per batch. Rust
 * returns the computed columns and, when rows were dropped, the kept rows' indices; columns
 * that are input fields unchanged are taken from the batch here (no copy when every row is kept).
 * Only the fields the filter and the computed columns read cross to Rust (Rust's calc is
 * compiled over those alone): the others would be converted and checked per batch for nothing.
 */
class NativeCalc implements Calc {
  readonly outputSchema: Schema;
  private readonly inner: NativeCalcN | null;
  private readonly computedSchema: Schema;
  /** Per output column: the input field it passes through, or its index among the computed ones. */
  private readonly plan: readonly ({ readonly pass: number } | { readonly computed: number })[];
  /** The input fields Rust reads, ascending (Rust's field i is input field read[i]). */
  private readonly read: readonly number[];
  /** Whether Rust computes no column (a filter over columns passed through): see `selected`. */
  private readonly selectsOnly: boolean;
  private readonly filtered: boolean;
  /** Whether input columns are passed through (the kept rows' indices are then needed). */
  private readonly passes: boolean;
  /** The computed columns' types when Rust writes them into buffers of ours (`calc-into.ts`), else null. */
  private readonly intoTypes: readonly DataType[] | null;

  constructor(binding: NativeBinding, input: Schema, spec: CalcSpec) {
    checkCalcSpec(input, spec);
    this.outputSchema = calcOutputSchema(spec);
    let k = 0;
    this.plan = spec.columns.map((c) => (c.expr.k === 'field' ? { pass: c.expr.i } : { computed: k++ }));
    this.computedSchema = new Schema(this.outputSchema.fields.filter((_, j) => spec.columns[j]!.expr.k !== 'field'));
    const computed = spec.columns.filter((c) => c.expr.k !== 'field');
    const { read, spec: narrowed } = narrowCalcSpec({ name: spec.name, filter: spec.filter, columns: computed });
    this.read = read;
    const fields = new Schema(this.read.map((i) => input.fields[i]!));
    // A projection (no filter, nothing computed) keeps every row and computes nothing: no call.
    // The kept rows' indices cross the boundary only where an input column is passed through.
    const passes = this.plan.some((p) => 'pass' in p);
    this.inner = spec.filter === null && computed.length === 0 ? null : call(() => new binding.NativeCalc(fieldSpecs(fields), JSON.stringify(narrowed), passes));
    this.selectsOnly = this.inner !== null && computed.length === 0;
    this.filtered = spec.filter !== null;
    this.passes = passes;
    // Fixed-width computed columns only: Rust writes them into buffers allocated here.
    this.intoTypes = this.inner !== null && this.inner.writesInto ? this.computedSchema.fields.map((f) => f.type) : null;
  }

  process(batch: RecordBatch, lease?: Lease): RecordBatch {
    if (this.inner === null) return new RecordBatch(this.outputSchema, this.passed(batch), batch.length, batch.eventTime);
    if (this.selectsOnly) return this.selected(this.inner, batch, lease);
    const inner = this.inner;
    let out: IntoOutput;
    try {
      const buffers = columnBuffers(batch.columns, this.read);
      if (this.intoTypes !== null) {
        out = processInto(this.intoTypes, batch.length, this.filtered, batch.eventTime !== null, this.passes, lease, (buf) => inner.processInto(buffers, batch.length, batch.eventTime, buf));
      } else {
        const r = inner.process(buffers, batch.length, batch.eventTime);
        const computed = fromBatchOut(this.computedSchema, r.computed);
        out = { length: computed.length, columns: computed.columns, eventTime: computed.eventTime, selection: r.selection ?? null };
      }
    } catch (e) {
      throw fromNative(e);
    }
    const sel = out.selection;
    const columns = this.plan.map((p) =>
      'pass' in p ? (sel === null ? batch.columns[p.pass]! : takeColumn(batch.columns[p.pass]!, sel, sel.length, lease)) : out.columns[p.computed]!,
    );
    const dropped = out.length !== batch.length;
    return new RecordBatch(this.outputSchema, columns, out.length, dropped ? out.eventTime : batch.eventTime);
  }

  /**
   * A filter over columns passed through: Rust gives the kept rows alone (one typed array, not a
   * batch object: about 4 us less of a q2 filter's 22-28 us per 8192-row call), the columns and
   * event time are taken here, as for pass-through columns in `process`.
   */
  private selected(inner: NativeCalcN, batch: RecordBatch, lease: Lease | undefined): RecordBatch {
    let sel;
    try {
      sel = inner.select(columnBuffers(batch.columns, this.read), batch.length);
    } catch (e) {
      throw fromNative(e);
    }
    const from = this.passed(batch);
    if (sel === null) return new RecordBatch(this.outputSchema, from, batch.length, batch.eventTime);
    const n = sel.length;
    return new RecordBatch(this.outputSchema, from.map((c) => takeColumn(c, sel, n, lease)), n, batch.eventTime === null ? null : takeEventTime(batch.eventTime, sel, n, lease));
  }

  /** The output columns of a calc that computes none: every one an input column passed through. */
  private passed(batch: RecordBatch): Column[] {
    return this.plan.map((p) => batch.columns[(p as { pass: number }).pass]!);
  }
}

/** The updating aggregation in Rust (sluice_core::group): one call per batch. */
class NativeGroupAggregator implements GroupAggregator {
  readonly outputSchema: Schema;
  private readonly stateSchema: Schema;
  private readonly inner: NativeGroupAggregatorN;

  constructor(binding: NativeBinding, spec: GroupAggregatorSpec) {
    this.outputSchema = groupOutputSchema(spec);
    this.stateSchema = groupStateSchema(spec);
    this.inner = call(
      () =>
        new binding.NativeGroupAggregator(
          fieldSpecs(spec.input),
          [...spec.keyFields],
          spec.aggregates.map((a) => ({ name: a.name, kind: aggregateKind(a.kind), ...(a.field === null ? {} : { field: a.field }) })),
          spec.stateTtlMs ?? 0,
        ),
    );
  }

  push(batch: RecordBatch, now = 0): RecordBatch | null {
    try {
      const out = this.inner.push(batchBuffers(batch), batch.length, null, now);
      return out === null ? null : fromBatchOut(this.outputSchema, out);
    } catch (e) {
      throw fromNative(e);
    }
  }

  snapshot(): RecordBatch {
    return call(() => fromBatchOut(this.stateSchema, this.inner.snapshot()));
  }

  restore(state: RecordBatch): void {
    checkGroupState(this.stateSchema, state.schema);
    call(() => this.inner.restore(batchBuffers(state), state.length));
  }

  get groups(): number {
    return this.inner.groups;
  }
}

class NativeNexmark implements NexmarkGenerator {
  readonly schema: Schema;
  constructor(
    private readonly inner: NativeNexmarkGeneratorN,
    schema: Schema,
  ) {
    this.schema = schema;
  }
  nextBatch(maxRows: number, lease?: Lease): RecordBatch | null {
    try {
      if (lease === undefined) {
        const out = this.inner.nextBatch(maxRows);
        return out === null ? null : fromBatchOut(this.schema, out);
      }
      const layout = this.inner.generate(maxRows);
      return layout === null ? null : intoLeased(this.schema, layout, lease, (buffers) => this.inner.writeInto(buffers));
    } catch (e) {
      throw fromNative(e);
    }
  }
  readMaxEventTime(): number {
    return this.inner.readMaxEventTime();
  }
  position(): number {
    return this.inner.position();
  }
  seek(position: number): void {
    call(() => this.inner.seek(position));
  }
}

export class NativeEngine implements Engine {
  readonly name = 'native' as const;

  constructor(private readonly binding: NativeBinding) {}

  createCalc(input: Schema, spec: CalcSpec): Calc {
    return new NativeCalc(this.binding, input, spec);
  }

  createWindowAggregator(spec: WindowAggregatorSpec): WindowAggregator {
    return new NativeWindowAggregator(this.binding, spec);
  }

  createGroupAggregator(spec: GroupAggregatorSpec): GroupAggregator {
    return new NativeGroupAggregator(this.binding, spec);
  }

  createNexmarkGenerator(config: NexmarkConfig, kind: NexmarkKind, fields?: readonly string[], filter?: PushedFilter): NexmarkGenerator {
    const pushed = filter === undefined ? null : { fields: [...filter.fields], spec: JSON.stringify(filter.spec) };
    const inner = call(() => new this.binding.NativeNexmarkGenerator({ ...config }, nexmarkKind(kind), fields === undefined ? null : [...fields], pushed));
    const full = Schema.from(NEXMARK_SCHEMAS[kind]);
    const names = new Set(inner.fields.map((f) => f.name));
    return new NativeNexmark(inner, new Schema(full.fields.filter((f) => names.has(f.name))));
  }

  encodeBatch(batch: RecordBatch): Uint8Array {
    try {
      return this.binding.encodeBatch(fieldSpecs(batch.schema), batchBuffers(batch), batch.length, batch.eventTime);
    } catch (e) {
      throw fromNative(e);
    }
  }

  decodeBatch(bytes: Uint8Array): RecordBatch {
    try {
      const { fields, batch } = this.binding.decodeBatch(bytes);
      return fromBatchOut(schemaFromSpecs(fields), batch);
    } catch (e) {
      throw fromNative(e);
    }
  }

  murmur3(bytes: Uint8Array, seed: number): number {
    try {
      return this.binding.murmur3(bytes, seed);
    } catch (e) {
      throw fromNative(e);
    }
  }

  hashPartition(batch: RecordBatch, keyFields: readonly number[], parallelism: number, maxParallelism: number): RecordBatch[] {
    try {
      const parts = this.binding.hashPartition(fieldSpecs(batch.schema), batchBuffers(batch), batch.length, batch.eventTime, [...keyFields], parallelism, maxParallelism);
      return parts.map((o) => fromBatchOut(batch.schema, o));
    } catch (e) {
      throw fromNative(e);
    }
  }

  openMemoryPool(id: string, budgetBytes: number): void {
    call(() => this.binding.openMemoryPool(id, budgetBytes));
  }
  memoryPoolUse(id: string): { used: number; peak: number } | null {
    try {
      return this.binding.memoryPoolUse(id);
    } catch (e) {
      throw fromNative(e);
    }
  }
  closeMemoryPool(id: string): void {
    call(() => this.binding.closeMemoryPool(id));
  }

  partitionByTargets(batch: RecordBatch, targets: Uint32Array, n: number): RecordBatch[] {
    try {
      return this.binding.partitionByTargets(fieldSpecs(batch.schema), batchBuffers(batch), batch.length, batch.eventTime, targets, n).map((o) => fromBatchOut(batch.schema, o));
    } catch (e) {
      throw fromNative(e);
    }
  }

  scatterToSegments(batch: RecordBatch, route: SegmentRoute, pool: Uint8Array, layout: SegmentLayout, io: SegmentIo, from: number): number {
    try {
      return this.scatterOf(batch.schema, layout.segmentBytes).scatter(
        batchBuffers(batch),
        batch.length,
        batch.eventTime,
        route.kind === 'hash' ? [...route.keyFields] : undefined,
        route.kind === 'hash' ? route.maxParallelism : 0,
        // A hash route is hashed natively in the partitioner's loop: no targets array.
        route.kind === 'targets' ? route.targets : undefined,
        pool,
        io.cur,
        io.spares,
        io.full,
        from,
      );
    } catch (e) {
      throw fromNative(e);
    }
  }

  /** Partitioners by schema (a writer's batches share theirs): the schema's names and layout cross once, not per batch. */
  private readonly scatters = new WeakMap<Schema, { readonly segmentBytes: number; readonly scatter: SegmentScatterN }>();

  private scatterOf(schema: Schema, segmentBytes: number): SegmentScatterN {
    let s = this.scatters.get(schema);
    if (s === undefined || s.segmentBytes !== segmentBytes) {
      s = { segmentBytes, scatter: new this.binding.SegmentScatter(fieldSpecs(schema), segmentBytes) };
      this.scatters.set(schema, s);
    }
    return s.scatter;
  }

  /** The native layout's numbers (capacity, header, event time, then per column validity, values, data, data bytes). */
  segmentLayoutNumbers(schema: Schema, segmentBytes: number): number[] {
    return call(() => this.binding.segmentLayout(fieldSpecs(schema), segmentBytes));
  }

  takeKafkaRecords(records: Uint8Array, aborted: readonly KafkaAbortedTxn[], from: bigint, stop: bigint | null, wanted: KafkaWanted): KafkaRecordSet {
    try {
      const o = this.binding.kafkaTakeRecords(
        records,
        BigInt64Array.from(aborted, (a) => a.producerId),
        BigInt64Array.from(aborted, (a) => a.firstOffset),
        from,
        stop ?? undefined,
        wanted.kind,
        wanted.keys,
        wanted.headers,
      );
      const originals = new Map<number, Uint8Array>();
      o.originalIndex.forEach((i, k) => originals.set(i, o.originals[k]!));
      return {
        next: o.next,
        offsets: o.offsets,
        timestamps: o.timestamps,
        flags: o.flags,
        values: o.values,
        valueEnds: o.valueEnds,
        originals,
        keys: o.keys ?? null,
        keyEnds: o.keyEnds ?? null,
        headers: o.headers ?? null,
        headerEnds: o.headerEnds ?? null,
      };
    } catch (e) {
      throw fromNative(e);
    }
  }

  createJsonlDecoder(schema: Schema, where: string): LineDecoder {
    return new NativeJsonlDecoder(this.binding, schema, where);
  }

  createCsvDecoder(schema: Schema, where: string, format: { readonly delimiter: string; readonly header: boolean }): CsvDecoder {
    return new NativeCsvDecoder(this.binding, schema, where, format);
  }

  encodeText(batch: RecordBatch, format: TextFormat): Uint8Array {
    try {
      return this.binding.encodeText(fieldSpecs(batch.schema), batchBuffers(batch), batch.length, textFormatKind(format));
    } catch (e) {
      throw fromNative(e);
    }
  }

  encodeTextRows(batch: RecordBatch, format: TextFormat): { bytes: Uint8Array; rowEnds: number[] } {
    try {
      return this.binding.encodeTextRows(fieldSpecs(batch.schema), batchBuffers(batch), batch.length, textFormatKind(format));
    } catch (e) {
      throw fromNative(e);
    }
  }
}
