/**
 * Operators with two or more inputs: union, connect (co-map / co-flatMap), window joins and
 * coGroups, and interval joins. User functions see plain records; results are built into
 * batches of the declared output schema. Late records (their windows fired, or older than the
 * watermark for interval joins) are dropped and counted.
 */

import { ownedBatch } from '../../batch/segment.js';
import { BatchBuilder } from '../../batch/builder.js';
import { concatColumns, takeColumn, type Column } from '../../batch/column.js';
import { getI64, i32View, i64IsExact, setI64 } from '../../batch/i64.js';
import { RecordBatch, rowReader, valueReader, type Row } from '../../batch/record-batch.js';
import type { DataType, Schema } from '../../batch/schema.js';
import { windowStarts } from '../../engine/window-spec.js';
import { IntervalBuffer, Matches } from './interval-buffer.js';
import { MultiInputOperator } from '../operator.js';
import type { KeyGroupFilter, KeyGrouper } from '../rescale.js';
import { keyString, mapKey } from '../../keys/map-key.js';

/** Event time of row i as a number (event times are checked to be within ±2^53 at sources). */
function timeOf(batch: RecordBatch): (i: number) => number {
  if (batch.eventTime === null) throw new Error('a join needs event timestamps on both inputs; assign them with a WatermarkStrategy');
  const v = i32View(batch.eventTime);
  return (i) => getI64(v, i);
}

export type KeyFn = (r: Row) => unknown;


/** Builds output batches, one event time per output row. */
class Output {
  private b: BatchBuilder;
  constructor(
    private readonly schema: Schema,
    private readonly where: string,
  ) {
    this.b = new BatchBuilder(schema, 256);
  }
  add(record: unknown, eventTime: number, position: number): void {
    this.b.append(record, this.where, position, eventTime);
  }
  take(): RecordBatch | null {
    if (this.b.length === 0) return null;
    const out = this.b.finish();
    this.b = new BatchBuilder(this.schema, 256);
    return out;
  }
}

/** `union`: every input's batches, in arrival order; the watermark is the minimum over inputs. */
export class UnionOperator extends MultiInputOperator {
  processBatch(batch: RecordBatch): Promise<void> {
    return this.emit(batch);
  }
}

/** `connect(...).flatMap(f1, f2)`: one function per input, one output stream; event time is kept. */
export class CoFlatMapOperator extends MultiInputOperator {
  private seen = 0;
  constructor(
    id: number,
    name: string,
    private readonly fns: readonly ((r: Row) => Iterable<unknown>)[],
    private readonly schema: Schema,
  ) {
    super(id, name, fns.length);
  }

  processBatch(batch: RecordBatch, input: number): Promise<void> {
    const read = rowReader(batch);
    const time = batch.eventTime === null ? null : timeOf(batch);
    const out = new BatchBuilder(this.schema, batch.length);
    const fn = this.fns[input]!;
    for (let i = 0; i < batch.length; i++) {
      const res = fn(read(i));
      if (res === null || typeof res !== 'object' || !(Symbol.iterator in res)) {
        throw new TypeError(`${this.metrics.name}: the function for input ${input + 1} must return an iterable of records, got ${typeof res}`);
      }
      for (const r of res) out.append(r, `${this.metrics.name} output`, this.seen + i, time === null ? undefined : time(i));
    }
    this.seen += batch.length;
    return this.emit(out.finish());
  }
}

/** Window assignment for joins: tumbling/sliding (size, slide, offset) or sessions (gap). */
export interface JoinWindows {
  readonly sizeMs: number;
  readonly slideMs: number;
  readonly offsetMs: number;
  /** Session windows with this gap (sizes then unused), merged per key across both inputs. */
  readonly gapMs?: number;
  readonly describe: string;
}

/**
 * Per input, the arrival number of a group's (or session's) first record there, -1 for none.
 * Results within a firing go in this order: by first left record, then (groups with no left
 * record) by first right one. Each input's own order is deterministic, while which input
 * delivers first is not (two upstream tasks; a restore replays them at other speeds), so the
 * order of first arrival over both inputs would differ between a run and its restore.
 */
type FirstArrivals = [number, number];

interface Session {
  readonly key: unknown;
  readonly start: number;
  readonly end: number;
  /** Old snapshots: the first record's arrival over both inputs, the order before `first`. */
  readonly seq?: number;
  readonly first?: FirstArrivals;
  readonly sides: [Row[], Row[]];
}

interface Group {
  readonly key: unknown;
  readonly sides: Row[][];
  /** Absent in snapshots taken before it existed (those groups keep their Map order). */
  readonly first?: FirstArrivals;
}

/** -1 (none) after every arrival number. */
function arrival(n: number): number {
  return n < 0 ? Number.MAX_SAFE_INTEGER : n;
}

/**
 * The firing order of two groups (or sessions) by their first arrivals (a stable sort keeps ties in their order).
 * Groups restored from a snapshot without arrivals came before every later one: they go first,
 * in their Map order (ties among themselves; a consistent order, for a mixed window too).
 */
function byFirstArrival(a: { readonly first?: FirstArrivals }, b: { readonly first?: FirstArrivals }): number {
  if (a.first === undefined || b.first === undefined) return (a.first === undefined ? 0 : 1) - (b.first === undefined ? 0 : 1);
  return arrival(a.first[0]) - arrival(b.first[0]) || arrival(a.first[1]) - arrival(b.first[1]);
}

/** A snapshot's arrival numbers (one number over both inputs before they were per input). */
function arrivalsOf(a: FirstArrivals | number | undefined): FirstArrivals {
  return typeof a === 'number' ? [a, a] : a === undefined ? [0, 0] : [a[0], a[1]];
}

/** The earlier of two first arrivals per input (-1: none). */
function earlier(a: FirstArrivals, b: FirstArrivals): FirstArrivals {
  const min = (x: number, y: number): number => (x < 0 ? y : y < 0 ? x : Math.min(x, y));
  return [min(a[0], b[0]), min(a[1], b[1])];
}

export interface WindowCoGroupSpec {
  readonly keys: readonly [KeyFn, KeyFn];
  readonly windows: JoinWindows;
  readonly fn: (left: Row[], right: Row[], window: { start: number; end: number }) => Iterable<unknown>;
  readonly schema: Schema;
  /** join: pairs only; coGroup: every key seen on either side. */
  readonly join: 'inner' | 'coGroup';
  readonly keyGroups: KeyGrouper | null;
}

/**
 * Window join and coGroup: both inputs keyed by their own key function and assigned to the same
 * windows; when the watermark passes a window's end, the function gets, per key, the records of
 * each side (coGroup: also when one side is empty; join: every pair). Results carry the window's
 * last timestamp (end - 1) as event time, as in Flink.
 */
export class WindowCoGroupOperator extends MultiInputOperator {
  override snapshotState(): unknown {
    return { inputs: super.snapshotState(), windows: [...this.windows].map(([s, w]) => [s, [...w]]), starts: [...this.starts], sessions: [...this.sessions], arrivals: this.arrivals, produced: this.produced };
  }

  override restoreState(state: unknown): void {
    const s = state as { inputs: unknown; windows: [number, [unknown, Group][]][]; starts: number[]; sessions: [unknown, Session[]][]; arrivals: FirstArrivals | number; produced: number };
    super.restoreState(s.inputs);
    for (const [start, groups] of s.windows) this.windows.set(start, new Map(groups));
    this.starts.push(...s.starts);
    for (const [k, ss] of s.sessions) this.sessions.set(k, ss);
    this.arrivals = arrivalsOf(s.arrivals);
    this.produced = s.produced;
  }

  override restoreRescaled(states: readonly unknown[], keep: KeyGroupFilter): boolean {
    if (this.keyGroups === null) return false;
    const olds = states as { inputs: unknown; windows: [number, [unknown, Group][]][]; sessions: [unknown, Session[]][]; arrivals: FirstArrivals | number; produced: number }[];
    this.restoreInputsRescaled(olds.map((s) => s.inputs));
    for (const s of olds) {
      for (const [start, groups] of s.windows) {
        const kept = keep.entries(groups, ([, g]) => g.key, this.keyGroups);
        if (kept.length === 0) continue;
        let w = this.windows.get(start);
        if (w === undefined) {
          w = new Map();
          this.windows.set(start, w);
          this.insertStart(start);
        }
        for (const [k, g] of kept) w.set(k, g);
      }
      const sessions = s.sessions.filter(([, ss]) => ss.length > 0);
      for (const [k, ss] of keep.entries(sessions, ([, ss]) => ss[0]!.key, this.keyGroups)) this.sessions.set(k, ss);
      // Arrival numbers order firings within a window end: keep them increasing past every old subtask's.
      const old = arrivalsOf(s.arrivals);
      this.arrivals = [Math.max(this.arrivals[0], old[0]), Math.max(this.arrivals[1], old[1])];
      this.produced = Math.max(this.produced, s.produced);
    }
    return true;
  }

  /** window start -> key -> records per side (fired in `byFirstArrival` order). */
  private readonly windows = new Map<number, Map<unknown, Group>>();
  private readonly starts: number[] = [];
  private produced = 0;

  private readonly keys: readonly [KeyFn, KeyFn];
  private readonly assigner: JoinWindows;
  private readonly fn: (left: Row[], right: Row[], window: { start: number; end: number }) => Iterable<unknown>;
  private readonly schema: Schema;
  private readonly innerJoin: boolean;
  /** Keyed inputs: the key groups of keys, for rescaling; null when the inputs are not keyed. */
  private readonly keyGroups: KeyGrouper | null;

  constructor(id: number, name: string, spec: WindowCoGroupSpec) {
    super(id, name, 2);
    this.keys = spec.keys;
    this.assigner = spec.windows;
    this.fn = spec.fn;
    this.schema = spec.schema;
    this.innerJoin = spec.join === 'inner';
    this.keyGroups = spec.keyGroups;
    this.metrics.lateRecordsDropped = 0;
  }

  /** Sessions per key (only for session windows), each with the records of both sides. */
  private readonly sessions = new Map<unknown, Session[]>();
  /** Records that arrived so far, per input: the next arrival number of each. */
  private arrivals: FirstArrivals = [0, 0];

  processBatch(batch: RecordBatch, input: number): void {
    if (this.assigner.gapMs !== undefined) return this.addToSessions(batch, input, this.assigner.gapMs);
    const read = rowReader(batch);
    const time = timeOf(batch);
    const key = this.keys[input]!;
    const starts: number[] = [];
    for (let i = 0; i < batch.length; i++) {
      const ts = time(i);
      windowStarts(this.assigner, ts, starts);
      const r = read(i);
      const k = key(r);
      const seq = this.arrivals[input]!++;
      let placed = false;
      for (const start of starts) {
        if (start + this.assigner.sizeMs - 1 <= this.watermark) continue; // that window has fired
        placed = true;
        let w = this.windows.get(start);
        if (w === undefined) {
          w = new Map();
          this.windows.set(start, w);
          this.insertStart(start);
        }
        const ks = mapKey(k);
        let g = w.get(ks);
        if (g === undefined) {
          g = { key: k, sides: [[], []], first: [-1, -1] };
          w.set(ks, g);
        }
        if (g.first !== undefined && g.first[input]! < 0) g.first[input] = seq;
        g.sides[input]!.push(r);
      }
      if (!placed) this.metrics.lateRecordsDropped!++;
    }
  }

  private insertStart(start: number): void {
    const s = this.starts;
    let i = s.length;
    while (i > 0 && s[i - 1]! > start) i--;
    s.splice(i, 0, start);
  }

  /** Each record opens [t, t + gap) and merges with its key's sessions that touch or overlap. */
  private addToSessions(batch: RecordBatch, input: number, gap: number): void {
    const read = rowReader(batch);
    const time = timeOf(batch);
    const key = this.keys[input]!;
    for (let i = 0; i < batch.length; i++) {
      const t = time(i);
      const r = read(i);
      const k = key(r);
      const ks = mapKey(k);
      const list = this.sessions.get(ks) ?? [];
      const first: FirstArrivals = [-1, -1];
      first[input] = this.arrivals[input]!++;
      let merged: Session = { key: k, start: t, end: t + gap, first, sides: [[], []] };
      merged.sides[input]!.push(r);
      const keep: Session[] = [];
      for (const x of list) {
        if (x.start <= merged.end && x.end >= merged.start) {
          merged = {
            key: k,
            start: Math.min(x.start, merged.start),
            end: Math.max(x.end, merged.end),
            first: earlier(x.first ?? [-1, -1], merged.first!),
            sides: [
              [...x.sides[0], ...merged.sides[0]],
              [...x.sides[1], ...merged.sides[1]],
            ],
          };
        } else keep.push(x);
      }
      if (merged.end - 1 <= this.watermark) {
        this.metrics.lateRecordsDropped!++; // its session has fired
        continue;
      }
      keep.push(merged);
      this.sessions.set(ks, keep);
    }
  }

  private fireSessions(watermark: number, out: Output): void {
    const due: Session[] = [];
    for (const [ks, list] of this.sessions) {
      const rest = list.filter((x) => (x.end - 1 <= watermark ? (due.push(x), false) : true));
      if (rest.length === 0) this.sessions.delete(ks);
      else if (rest.length !== list.length) this.sessions.set(ks, rest);
    }
    due.sort((a, b) => a.end - b.end || a.start - b.start || byFirstArrival(a, b) || (a.seq ?? 0) - (b.seq ?? 0));
    for (const x of due) {
      const [l, r] = x.sides;
      if (this.innerJoin && (l.length === 0 || r.length === 0)) continue;
      for (const rec of this.fn(l, r, { start: x.start, end: x.end })) out.add(rec, x.end - 1, this.produced++);
    }
  }

  protected override async onWatermark(watermark: number): Promise<void> {
    const size = this.assigner.sizeMs;
    const out = new Output(this.schema, `${this.metrics.name} output`);
    if (this.assigner.gapMs !== undefined) this.fireSessions(watermark, out);
    while (this.starts.length > 0 && this.starts[0]! + size - 1 <= watermark) {
      const start = this.starts.shift()!;
      const w = this.windows.get(start)!;
      this.windows.delete(start);
      const window = { start, end: start + size };
      for (const g of [...w.values()].sort(byFirstArrival)) {
        const [l, r] = g.sides as [Row[], Row[]];
        if (this.innerJoin && (l.length === 0 || r.length === 0)) continue;
        const res = this.fn(l, r, window);
        for (const rec of res) out.add(rec, start + size - 1, this.produced++);
      }
    }
    const b = out.take();
    if (b !== null) await this.emit(b);
    await this.emitWatermark(watermark);
  }
}

export interface IntervalJoinSpec {
  readonly keys: readonly [KeyFn, KeyFn];
  readonly keyFields: readonly [readonly string[] | null, readonly string[] | null];
  readonly lower: number;
  readonly upper: number;
  /** null: the joined row is the left's columns, then the right's (SQL), gathered column by column. */
  readonly fn: ((left: Row, right: Row, ctx: { leftTimestamp: number; rightTimestamp: number }) => unknown) | null;
  readonly schema: Schema;
  /** The inputs' schemas (a restore of the column-gathering join rebuilds its batches). */
  readonly inputSchemas: readonly Schema[];
  /** Without a function: each output column's input and column there (those the plan builds). */
  readonly columns: readonly { readonly input: 0 | 1; readonly column: number }[] | null;
  readonly keyGroups: KeyGrouper | null;
}

/**
 * Interval join: a left record at time t joins every right record of the same key with time in
 * [t + lower, t + upper] (both ends included); the result's event time is the later of the two.
 * State is kept only as long as a future record could still match. Buffered records stay in
 * their batches (a row index each) and become objects only when they match; keys given as
 * fields are read from their columns.
 */
export class IntervalJoinOperator extends MultiInputOperator {
  /** The buffered records as [key, time, record] in arrival order, per side. */
  override snapshotState(): unknown {
    return { inputs: super.snapshotState(), sides: this.buffers.map((b) => b.snapshot()), produced: this.produced };
  }

  override restoreState(state: unknown): void {
    const s = state as IntervalJoinState;
    super.restoreState(s.inputs);
    s.sides.forEach((side, j) => this.restoreSide(j, side));
    this.produced = s.produced;
  }

  private restoreSide(j: number, side: readonly [unknown, number, Row][]): void {
    const b = this.buffers[j]!;
    let batch: RecordBatch | null = null;
    if (this.fn === null && side.length > 0) {
      // The column-gathering join reads buffered rows from batches: the restored ones as one.
      const builder = new BatchBuilder(this.inputSchemas[j]!, side.length);
      side.forEach(([, t, r], i) => builder.append(r, `${this.metrics.name} restore`, i, t));
      batch = builder.finish();
    }
    b.addReader((i) => side[i]![2], batch);
    side.forEach(([k, t], i) => b.add(k, t, i));
  }

  override restoreRescaled(states: readonly unknown[], keep: KeyGroupFilter): boolean {
    const grouper = this.keyGroups;
    if (grouper === null) return false;
    const olds = states as IntervalJoinState[];
    this.restoreInputsRescaled(olds.map((s) => s.inputs));
    for (const j of [0, 1]) {
      // The key as the operator compares it, from each buffered record.
      const kept = olds.flatMap((s) => keep.entries(s.sides[j]!, ([, , r]) => this.keys[j]!(r), grouper));
      // Each old subtask's records stay in arrival order (a key's matches come oldest first);
      // expiry from the oldest may then wait behind another subtask's younger records.
      this.restoreSide(j, kept);
    }
    this.produced = Math.max(this.produced, ...olds.map((s) => s.produced));
    return true;
  }

  private readonly buffers: [IntervalBuffer, IntervalBuffer] = [new IntervalBuffer(), new IntervalBuffer()];
  private produced = 0;

  private readonly keys: readonly [KeyFn, KeyFn];
  /** Key fields per side when keyed by fields (read from the columns), else null. */
  private readonly keyFields: readonly [readonly string[] | null, readonly string[] | null];
  private readonly lower: number;
  private readonly upper: number;
  private readonly fn: ((left: Row, right: Row, ctx: { leftTimestamp: number; rightTimestamp: number }) => unknown) | null;
  private readonly schema: Schema;
  private readonly inputSchemas: readonly Schema[];
  private readonly columns: readonly { readonly input: 0 | 1; readonly column: number }[] | null;
  /** Keyed inputs: the key groups of keys, for rescaling; null when the inputs are not keyed. */
  private readonly keyGroups: KeyGrouper | null;

  constructor(id: number, name: string, spec: IntervalJoinSpec) {
    super(id, name, 2);
    this.keys = spec.keys;
    this.keyFields = spec.keyFields;
    this.lower = spec.lower;
    this.upper = spec.upper;
    this.fn = spec.fn;
    this.schema = spec.schema;
    this.inputSchemas = spec.inputSchemas;
    this.columns = spec.columns;
    if (spec.fn === null && spec.columns === null) throw new Error(`internal error: ${name} has neither a function nor its output columns`);
    this.keyGroups = spec.keyGroups;
    this.metrics.lateRecordsDropped = 0;
  }

  /** Key of row i: from the key columns when keyed by fields, else from the record. */
  private keyReader(batch: RecordBatch, input: number, row: (i: number) => Row): (i: number) => unknown {
    const fields = this.keyFields[input as 0 | 1];
    if (fields === null) {
      const fn = this.keys[input]!;
      return (i) => mapKey(fn(row(i)));
    }
    const cols = fields.map((f) => valueReader(batch.column(f), f));
    if (cols.length === 1) {
      const c = cols[0]!;
      return (i) => mapKey(c(i));
    }
    return (i) => keyString(cols.map((c) => c(i)));
  }

  processBatch(input0: RecordBatch, input: number): Promise<void> | void {
    // The buffer reads its rows lazily, later: never from an exchange segment given back by then.
    const batch = ownedBatch(input0);
    const time = timeOf(batch);
    const row = lazyRows(batch);
    const key = this.keyReader(batch, input, row);
    if (this.fn === null) return this.joinColumns(batch, input, time, key, row);
    const fn = this.fn;
    const out = new Output(this.schema, `${this.metrics.name} output`);
    const mine = this.buffers[input]!;
    const other = this.buffers[1 - input]!;
    mine.addReader(row);
    for (let i = 0; i < batch.length; i++) {
      const t = time(i);
      if (t < this.watermark) {
        this.metrics.lateRecordsDropped!++;
        continue;
      }
      const ks = key(i);
      // Left at t matches right in [t + lower, t + upper]; right at t matches left in [t - upper, t - lower].
      // No callback per row: on Nexmark q7 one closure per bid (11 M, almost none matching)
      // kept the young generation collecting.
      const found = input === 0 ? other.matching(ks, t + this.lower, t + this.upper) : other.matching(ks, t - this.upper, t - this.lower);
      if (found !== null) {
        for (const s of found) {
          const ot = other.timeAt(s);
          const o = other.recordAt(s);
          const r = input === 0 ? fn(row(i), o, { leftTimestamp: t, rightTimestamp: ot }) : fn(o, row(i), { leftTimestamp: ot, rightTimestamp: t });
          out.add(r, Math.max(t, ot), this.produced++);
        }
      }
      mine.add(ks, t, i);
    }
    const b = out.take();
    if (b !== null) return this.emit(b);
  }

  /**
   * The join without a function (SQL): the same matches in the same order as `processBatch`
   * makes them, each a row of this batch and a buffered row of the other side; the output's
   * columns (the left's, then the right's) are gathered from the batches, no records made.
   */
  private joinColumns(batch: RecordBatch, input: number, time: (i: number) => number, key: (i: number) => unknown, row: (i: number) => Row): Promise<void> | void {
    const mine = this.buffers[input]!;
    const other = this.buffers[1 - input]!;
    mine.addReader(row, batch);
    const lo = input === 0 ? this.lower : -this.upper;
    const hi = input === 0 ? this.upper : -this.lower;
    const m = this.matched;
    m.n = 0;
    // A key of one i64 or timestamp column without nulls is read from its words here (the
    // reader's exactness check kept: beyond 2^53 the reader raises its error).
    const fields = this.keyFields[input as 0 | 1];
    const col = fields !== null && fields.length === 1 ? batch.column(fields[0]!) : null;
    const k32 = col !== null && (col.type === 'i64' || col.type === 'timestamp') && col.validity === null ? i32View(col.values) : null;
    const watermark = this.watermark;
    for (let i = 0; i < batch.length; i++) {
      const t = time(i);
      if (t < watermark) {
        this.metrics.lateRecordsDropped!++;
        continue;
      }
      const ks = k32 !== null && i64IsExact(k32, i) ? getI64(k32, i) : key(i);
      // Nothing to look up while the other side holds no records.
      if (other.size > 0) other.matchRows(ks, t + lo, t + hi, i, t, m);
      mine.add(ks, t, i);
    }
    const n = m.n;
    if (n === 0) return;
    this.produced += n;
    const otherSchema = this.inputSchemas[1 - input]!;
    const columns = this.columns!.map((c) =>
      c.input === input ? takeColumn(batch.columns[c.column]!, m.probe, n) : gatherColumn(otherSchema.fields[c.column]!.type, m.batches, m.rows, n, c.column),
    );
    const eventTime = new BigInt64Array(n);
    const et32 = i32View(eventTime);
    for (let j = 0; j < n; j++) setI64(et32, j, m.times[j]!);
    m.batches.length = 0;
    return this.emit(new RecordBatch(this.schema, columns, n, eventTime));
  }

  /** The matches of the batch being joined (reused from batch to batch). */
  private readonly matched = new Matches();

  protected override onWatermark(watermark: number): Promise<void> {
    // Future records have times >= watermark: a left record can still match while
    // t + upper >= watermark, a right one while t >= watermark + lower.
    this.buffers[0].expire((t) => t + this.upper < watermark);
    this.buffers[1].expire((t) => t < watermark + this.lower);
    return this.emitWatermark(watermark);
  }
}

interface IntervalJoinState {
  readonly inputs: unknown;
  readonly sides: [unknown, number, Row][][];
  readonly produced: number;
}

/**
 * Column `c` of rows `rows[0..n)` of `batches[0..n)` (row j from batch j): runs of one batch
 * gathered at once, and the runs put one after another.
 */
function gatherColumn(type: DataType, batches: readonly RecordBatch[], rows: Int32Array, n: number, c: number): Column {
  const parts: Column[] = [];
  const lens: number[] = [];
  for (let a = 0; a < n; ) {
    const b = batches[a]!;
    let e = a + 1;
    while (e < n && batches[e] === b) e++;
    parts.push(takeColumn(b.columns[c]!, rows.subarray(a, e), e - a));
    lens.push(e - a);
    a = e;
  }
  return parts.length === 1 ? parts[0]! : concatColumns(type, parts, lens);
}

/** Rows of a batch as objects, made on first request and then reused. */
function lazyRows(batch: RecordBatch): (i: number) => Row {
  let read: ((i: number) => Row) | null = null;
  const made = new Map<number, Row>();
  return (i) => {
    let r = made.get(i);
    if (r === undefined) {
      read ??= rowReader(batch);
      r = read(i);
      made.set(i, r);
    }
    return r;
  };
}
