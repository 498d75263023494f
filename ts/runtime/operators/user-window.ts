/**
 * Windows with user functions (reduce, aggregate with an AggregateFunction, process with all
 * records), for tumbling, sliding and session windows. Runs in TypeScript on both engines:
 * the functions are the user's. Incremental functions keep one accumulator per key and
 * window; process keeps the records. Sessions merge when they touch or overlap (merging
 * accumulators with `merge`, or reduce's function, or concatenating records).
 *
 * Firing order matches the built-in aggregation: windows by end, then start, then the arrival
 * of the window's first record of the key. Results carry the window's last timestamp (end - 1) as event time.
 */

import { BatchBuilder } from '../../batch/builder.js';
import { getI64, i32View } from '../../batch/i64.js';
import { rowReader, type RecordBatch, type Row } from '../../batch/record-batch.js';
import type { Schema } from '../../batch/schema.js';
import { lastWindowStart, windowStarts } from '../../engine/window-spec.js';
import { Operator } from '../operator.js';
import { mapKey } from '../../keys/map-key.js';
import type { KeyGroupFilter, KeyGrouper } from '../rescale.js';
import type { GlobalWindowSpec, UserWindowAssigner, UserWindowFunction } from '../../api/window-functions.js';

interface Pane {
  start: number;
  end: number;
  /** Arrival number of the pane's first record: the firing order within one window end and start. */
  readonly seq: number;
  readonly key: unknown;
  state: unknown;
  empty: boolean;
  /** Fired once already (kept for allowed lateness). */
  fired?: boolean;
}

function initState(fn: UserWindowFunction): unknown {
  switch (fn.kind) {
    case 'reduce':
      return undefined;
    case 'aggregate':
      return fn.fn.createAccumulator();
    case 'process':
      return [] as Row[];
  }
}

function addToState(fn: UserWindowFunction, state: unknown, empty: boolean, r: Row): unknown {
  switch (fn.kind) {
    case 'reduce':
      // A copy: the same record may start panes of several (sliding) windows, and reduce
      // functions may update their first argument.
      return empty ? { ...r } : fn.fn(state as Row, r);
    case 'aggregate':
      return fn.fn.add(r, state);
    case 'process':
      (state as Row[]).push(r);
      return state;
  }
}

/** Rescaling: the panes of old subtasks' snapshots that belong to this subtask's key groups. */
function keptEntries<P>(keep: KeyGroupFilter, grouper: KeyGrouper, olds: readonly { readonly panes: readonly [unknown, P][] }[], keyOf: (p: P) => unknown): [unknown, P][] {
  return olds.flatMap(({ panes }) => keep.entries(panes, ([, p]) => keyOf(p), grouper));
}

export interface UserWindowSpec {
  readonly key: (r: Row) => unknown;
  readonly assigner: UserWindowAssigner;
  readonly fn: UserWindowFunction;
  /** reduce/aggregate: the result's schema plus windowStart/windowEnd; process: the user's schema. */
  readonly schema: Schema;
  /** Side output for late records, or null to drop (and count) them. */
  readonly lateTag: string | null;
  /**
   * Allowed lateness (ms): a window is kept until the watermark passes end - 1 + lateness, and
   * each record that still reaches a fired window fires it again with the updated result.
   */
  readonly lateness: number;
  /** Keyed by fields: the key groups of keys, for rescaling; null otherwise. */
  readonly keyGroups: KeyGrouper | null;
}

/** No key yet (a key compares unequal to it). */
const NO_KEY = Symbol('no key');

export class UserWindowOperator extends Operator {
  /** key -> panes of that key (sessions: disjoint, merged). */
  private readonly panes = new Map<unknown, Pane[]>();
  /** Records seen so far (arrival numbers). */
  private seq = 0;
  private produced = 0;

  private readonly key: (r: Row) => unknown;
  private readonly assigner: UserWindowAssigner;
  private readonly fn: UserWindowFunction;
  private readonly schema: Schema;
  private readonly lateTag: string | null;
  private readonly lateness: number;
  private readonly keyGroups: KeyGrouper | null;

  constructor(id: number, name: string, spec: UserWindowSpec) {
    super(id, name);
    this.key = spec.key;
    this.assigner = spec.assigner;
    this.fn = spec.fn;
    this.schema = spec.schema;
    this.lateTag = spec.lateTag;
    this.lateness = spec.lateness;
    this.keyGroups = spec.keyGroups;
    this.metrics.lateRecordsDropped = 0;
  }

  override snapshotState(): unknown {
    return { panes: [...this.panes].filter(([, ps]) => ps.length > 0), seq: this.seq, produced: this.produced };
  }

  override restoreState(state: unknown): void {
    const s = state as { panes: [unknown, Pane[]][]; seq: number; produced: number };
    for (const [k, ps] of s.panes) this.panes.set(k, ps);
    this.seq = s.seq;
    this.produced = s.produced;
  }

  override restoreRescaled(states: readonly unknown[], keep: KeyGroupFilter): boolean {
    if (this.keyGroups === null) return false;
    const olds = states as { panes: [unknown, Pane[]][]; seq: number }[];
    for (const [k, ps] of keptEntries(keep, this.keyGroups, olds, (ps) => ps[0]!.key)) this.panes.set(k, ps);
    // Arrival numbers order firings within a window end: keep them increasing past every old subtask's.
    this.seq = Math.max(this.seq, ...olds.map((st) => st.seq));
    return true;
  }

  /** Rows of the current batch found late. */
  private late: number[] = [];

  private init(): unknown {
    return initState(this.fn);
  }

  private add(state: unknown, empty: boolean, r: Row): unknown {
    return addToState(this.fn, state, empty, r);
  }

  private mergeStates(a: Pane, b: Pane): unknown {
    if (a.empty) return b.state;
    if (b.empty) return a.state;
    switch (this.fn.kind) {
      case 'reduce':
        return this.fn.fn(a.state as Row, b.state as Row);
      case 'aggregate':
        return this.fn.fn.merge(a.state, b.state);
      case 'process':
        return [...(a.state as Row[]), ...(b.state as Row[])];
    }
  }

  async processBatch(batch: RecordBatch): Promise<void> {
    this.late = [];
    const out = this.lateness > 0 ? new BatchBuilder(this.schema, 16) : null;
    this.assign(batch, out);
    if (out !== null && out.length > 0) await this.emit(out.finish());
    if (this.late.length === 0) return;
    if (this.lateTag === null) {
      this.metrics.lateRecordsDropped! += this.late.length;
      return;
    }
    return this.emitSide(this.lateTag, batch.take(Int32Array.from(this.late), this.late.length));
  }

  private assign(batch: RecordBatch, updates: BatchBuilder | null): void {
    if (batch.eventTime === null) throw new Error('an event-time window needs event timestamps; assign them with a WatermarkStrategy');
    const read = rowReader(batch);
    const tv = i32View(batch.eventTime);
    const starts: number[] = [];
    // The panes of the previous record's key and windows (within this batch: the watermark and
    // the panes' lists change only between batches).
    const same: { key: unknown; last: number; uniform: boolean; panes: Pane[] } = { key: NO_KEY, last: NaN, uniform: false, panes: [] };
    let list: Pane[] | undefined;
    for (let i = 0; i < batch.length; i++) {
      const ts = getI64(tv, i);
      const r = read(i);
      const k = this.key(r);
      const ks = mapKey(k);
      const seq = this.seq++;
      if (ks !== same.key || this.assigner.kind === 'session') {
        list = this.panes.get(ks);
        if (list === undefined) {
          list = [];
          this.panes.set(ks, list);
        }
      }
      if (this.assigner.kind === 'session') {
        const gap = typeof this.assigner.gapMs === 'function' ? this.assigner.gapMs(r) : this.assigner.gapMs;
        if (!(typeof gap === 'number' && Number.isSafeInteger(gap) && gap > 0)) {
          throw new RangeError(`${this.metrics.name}: the session gap for record ${this.metrics.recordsIn - batch.length + i} is ${String(gap)}; it must be a whole number of ms above 0`);
        }
        const p = this.addToSession(list!, k, seq, ts, ts + gap, r);
        if (p === null) this.late.push(i);
        else if (p.end - 1 <= this.watermark) this.fire(p, updates!);
      } else {
        const a = this.assigner;
        // Consecutive records of one key in the same windows (a whole batch of one window end,
        // in Nexmark q5) reuse the panes found for the first: no window starts, no search.
        const last = lastWindowStart(ts, a.slideMs, a.offsetMs);
        if (ks !== same.key || last !== same.last || !same.uniform) {
          windowStarts(a, ts, starts);
          same.panes.length = 0;
          // Latest start first: the order of Flink's SlidingEventTimeWindows.assignWindows, in
          // which WindowOperator adds a record to its windows and fires those already complete.
          for (const s of starts) {
            if (s + a.sizeMs - 1 + this.lateness <= this.watermark) continue;
            let p = list!.find((x) => x.start === s);
            if (p === undefined) {
              p = { start: s, end: s + a.sizeMs, seq, key: k, state: this.init(), empty: true };
              list!.push(p);
            }
            same.panes.push(p);
          }
          // With size a multiple of the slide, every time with the same last start has the same starts.
          same.key = ks;
          same.last = last;
          same.uniform = a.sizeMs % a.slideMs === 0;
        }
        for (const p of same.panes) {
          p.state = this.add(p.state, p.empty, r);
          p.empty = false;
          // A window within its allowed lateness fires again for each record it gets.
          if (p.end - 1 <= this.watermark) this.fire(p, updates!);
        }
        if (same.panes.length === 0) this.late.push(i);
      }
    }
  }

  /** Adds a record's session window, merging; null when the merged session is past its allowed lateness (late). */
  private addToSession(list: Pane[], key: unknown, seq: number, start: number, end: number, r: Row): Pane | null {
    // Merge with every session it touches or overlaps (Flink's TimeWindow.intersects).
    let merged: Pane = { start, end, seq, key, state: this.add(this.init(), true, r), empty: false };
    const keep: Pane[] = [];
    for (const p of list) {
      if (p.start <= merged.end && p.end >= merged.start) {
        merged = { start: Math.min(p.start, merged.start), end: Math.max(p.end, merged.end), seq: Math.min(p.seq, merged.seq), key, state: this.mergeStates(p, merged), empty: false };
      } else keep.push(p);
    }
    if (merged.end - 1 + this.lateness <= this.watermark) return null; // its session is gone (the sessions it touched stay as they were)
    keep.push(merged);
    list.length = 0;
    list.push(...keep);
    return merged;
  }

  /** Appends a pane's result (window functions: once per window; process: its rows). */
  private fire(p: Pane, out: BatchBuilder): void {
    const t = p.end - 1;
    const where = `${this.metrics.name} output`;
    p.fired = true;
    if (this.fn.kind === 'process') {
      for (const rec of this.fn.fn(p.key, { start: p.start, end: p.end }, p.state as Row[])) out.append(rec, where, this.produced++, t);
    } else {
      const result = this.fn.kind === 'reduce' ? (p.state as Row) : this.fn.fn.getResult(p.state);
      out.append({ ...result, windowStart: p.start, windowEnd: p.end }, where, this.produced++, t);
    }
  }

  override async processWatermark(watermark: number): Promise<void> {
    const due: Pane[] = [];
    for (const [ks, list] of this.panes) {
      const rest = list.filter((p) => {
        if (p.end - 1 <= watermark && p.fired !== true) due.push(p);
        // Kept until its allowed lateness has passed.
        return p.end - 1 + this.lateness > watermark;
      });
      if (rest.length === 0) this.panes.delete(ks);
      else if (rest.length !== list.length) this.panes.set(ks, rest);
    }
    due.sort((a, b) => a.end - b.end || a.start - b.start || a.seq - b.seq);
    if (due.length > 0) {
      const out = new BatchBuilder(this.schema, due.length);
      for (const p of due) this.fire(p, out);
      await this.emit(out.finish());
    }
    await this.emitWatermark(watermark);
  }

  override async finish(): Promise<void> {
    await this.processWatermark(Infinity);
    await this.emitEnd();
  }
}

interface GlobalPane {
  readonly key: unknown;
  readonly seq: number;
  /** Records (with an evictor, or for process), else the incremental state. */
  records: Row[];
  state: unknown;
  empty: boolean;
  /** Count trigger: records since the last firing. */
  count: number;
  /** Continuous trigger: the next firing time, or null before the first record. */
  nextFire: number | null;
}

/**
 * Global windows (one per key, never ending) with a trigger: CountTrigger, EventTimeTrigger,
 * ContinuousEventTimeTrigger, each optionally purging, and an optional CountEvictor. Results
 * carry no window bounds and no event time (Flink's GlobalWindow has neither).
 *
 * Deviation from Flink: a continuous trigger whose watermark jumps over several intervals at
 * once fires once (Flink fires once per interval, with the same contents).
 */
export interface GlobalWindowOperatorSpec {
  readonly key: (r: Row) => unknown;
  readonly spec: GlobalWindowSpec;
  readonly fn: UserWindowFunction;
  readonly schema: Schema;
  /** Keyed by fields: the key groups of keys, for rescaling; null otherwise. */
  readonly keyGroups: KeyGrouper | null;
}

export class GlobalWindowOperator extends Operator {
  override snapshotState(): unknown {
    return { panes: [...this.panes], seq: this.seq, produced: this.produced, ended: this.ended };
  }

  override restoreState(state: unknown): void {
    const s = state as { panes: [unknown, GlobalPane][]; seq: number; produced: number; ended: boolean };
    for (const [k, p] of s.panes) this.panes.set(k, p);
    this.seq = s.seq;
    this.produced = s.produced;
    this.ended = s.ended;
  }

  override restoreRescaled(states: readonly unknown[], keep: KeyGroupFilter): boolean {
    if (this.keyGroups === null) return false;
    const olds = states as { panes: [unknown, GlobalPane][]; seq: number }[];
    const kept = keptEntries(keep, this.keyGroups, olds, (p) => p.key);
    this.seq = Math.max(this.seq, ...olds.map((st) => st.seq));
    // Watermark firings go by the keys' first arrival; across old subtasks that is unknown, so by their numbers.
    kept.sort((a, b) => a[1].seq - b[1].seq);
    for (const [k, p] of kept) this.panes.set(k, p);
    return true;
  }

  private readonly panes = new Map<unknown, GlobalPane>();
  private seq = 0;
  private produced = 0;
  private readonly keepRecords: boolean;
  private ended = false;

  private readonly key: (r: Row) => unknown;
  private readonly spec: GlobalWindowSpec;
  private readonly fn: UserWindowFunction;
  private readonly schema: Schema;
  private readonly keyGroups: KeyGrouper | null;

  constructor(id: number, name: string, spec: GlobalWindowOperatorSpec) {
    super(id, name);
    this.key = spec.key;
    this.spec = spec.spec;
    this.fn = spec.fn;
    this.schema = spec.schema;
    this.keyGroups = spec.keyGroups;
    this.keepRecords = spec.spec.evictCount !== null || spec.fn.kind === 'process';
  }

  async processBatch(batch: RecordBatch): Promise<void> {
    const read = rowReader(batch);
    const tv = batch.eventTime === null ? null : i32View(batch.eventTime);
    const t = this.spec.trigger;
    const out = new BatchBuilder(this.schema, 16);
    for (let i = 0; i < batch.length; i++) {
      const r = read(i);
      const k = this.key(r);
      const ks = mapKey(k);
      let p = this.panes.get(ks);
      if (p === undefined) {
        p = { key: k, seq: this.seq++, records: [], state: initState(this.fn), empty: true, count: 0, nextFire: null };
        this.panes.set(ks, p);
      }
      if (this.keepRecords) p.records.push(r);
      else p.state = addToState(this.fn, p.state, p.empty, r);
      p.empty = false;
      if (t.kind === 'count') {
        if (++p.count >= t.count) {
          p.count = 0;
          this.fire(p, out, t.purge);
        }
      } else if (t.kind === 'continuousEventTime' && p.nextFire === null) {
        if (tv === null) throw new Error(`${this.metrics.name}: a ContinuousEventTimeTrigger needs event timestamps; assign them with a WatermarkStrategy`);
        const ts = getI64(tv, i);
        p.nextFire = ts - (((ts % t.intervalMs) + t.intervalMs) % t.intervalMs) + t.intervalMs;
      }
    }
    if (out.length > 0) await this.emit(out.finish());
  }

  /** Emits the pane's result (nothing for an empty pane), then purges it if asked. */
  private fire(p: GlobalPane, out: BatchBuilder, purge: boolean): void {
    if (p.empty) return;
    const where = `${this.metrics.name} output`;
    const ev = this.spec.evictCount;
    if (ev !== null && p.records.length > ev) p.records = p.records.slice(p.records.length - ev);
    if (this.fn.kind === 'process') {
      for (const rec of this.fn.fn(p.key, { start: -Infinity, end: Infinity }, p.records)) out.append(rec, where, this.produced++);
    } else {
      let state = p.state;
      if (this.keepRecords) {
        state = initState(this.fn);
        p.records.forEach((r, j) => (state = addToState(this.fn, state, j === 0, r)));
      }
      out.append(this.fn.kind === 'reduce' ? (state as Row) : this.fn.fn.getResult(state), where, this.produced++);
    }
    if (purge) {
      p.records = [];
      p.state = initState(this.fn);
      p.empty = true;
    }
  }

  override async processWatermark(watermark: number): Promise<void> {
    const t = this.spec.trigger;
    // The end of input arrives as a watermark and again as finish(): fire once.
    if (watermark === Infinity && this.ended) return;
    if (watermark === Infinity) this.ended = true;
    if (t.kind !== 'count') {
      const out = new BatchBuilder(this.schema, 16);
      // Panes in the order their keys first arrived (Map order).
      for (const p of this.panes.values()) {
        if (watermark === Infinity) {
          this.fire(p, out, t.purge);
        } else if (t.kind === 'continuousEventTime' && p.nextFire !== null && p.nextFire <= watermark) {
          this.fire(p, out, t.purge);
          p.nextFire += t.intervalMs * Math.ceil((watermark - p.nextFire + 1) / t.intervalMs);
        }
      }
      if (out.length > 0) await this.emit(out.finish());
    }
    await this.emitWatermark(watermark);
  }

  override async finish(): Promise<void> {
    if (!this.ended) await this.processWatermark(Infinity);
    await this.emitEnd();
  }
}
