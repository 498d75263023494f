/**
 * `keyBy(...).process(fn)`: Flink's KeyedProcessOperator. Calls the user's processElement per
 * record with the record's key as the current key of its state and timers; event-time timers
 * fire when the watermark reaches them (in time order, then registration order), before the
 * watermark is forwarded; processing-time timers fire from the wall clock. Runs in TypeScript
 * on both engines: the function and its state values are the user's.
 *
 * Output records carry the input record's event time (processElement), the timer's time
 * (event-time timers), or the current watermark (processing-time timers) when the stream has
 * event time. Processing-time timers still pending when the input ends are not fired (as in
 * Flink); they are counted in the metrics as `unfiredTimers`.
 */

import type { AggregatingStateDescriptor, AnyStateDescriptor, Collector, KeyedProcessFunction, ListStateDescriptor, MapStateDescriptor, OnTimerContext, ReducingStateDescriptor, RuntimeContext, TimerService, ValueStateDescriptor } from '../../api/state.js';
import { BatchBuilder } from '../../batch/builder.js';
import { getI64, i32View } from '../../batch/i64.js';
import { valueReader, type RecordBatch, type Row } from '../../batch/record-batch.js';
import { Rows } from './rows.js';
import type { Schema } from '../../batch/schema.js';
import { mapKey } from '../../keys/map-key.js';
import { Operator, type OperatorContext } from '../operator.js';
import { KeyedStateStore, type StateSnapshot } from '../state.js';
import type { KeyGroupFilter, KeyGrouper } from '../rescale.js';

interface Timer {
  readonly t: number;
  readonly seq: number;
  readonly ks: unknown;
  readonly key: unknown;
}

/** Timers of one time domain: at most one per key and time; fired in (time, registration) order. */
class TimerQueue {
  private heap: Timer[] = [];
  /** Registered and not deleted, by `${t}|${ks}`. */
  private readonly live = new Map<unknown, Timer>();
  private seq = 0;

  get size(): number {
    return this.live.size;
  }

  add(t: number, ks: unknown, key: unknown): void {
    const id = `${t}|${ks}`;
    if (this.live.has(id)) return;
    const timer = { t, seq: this.seq++, ks, key };
    this.live.set(id, timer);
    this.heap.push(timer);
    this.up(this.heap.length - 1);
  }

  delete(t: number, ks: unknown): void {
    this.live.delete(`${t}|${ks}`); // its heap entry is skipped when it surfaces
  }

  /** The earliest live timer's time, or Infinity. */
  peek(): number {
    this.skipDeleted();
    return this.heap.length === 0 ? Infinity : this.heap[0]!.t;
  }

  /** Removes and returns the earliest live timer due at `upTo`, or null. */
  pop(upTo: number): Timer | null {
    this.skipDeleted();
    const top = this.heap[0];
    if (top === undefined || top.t > upTo) return null;
    this.removeTop();
    this.live.delete(`${top.t}|${top.ks}`);
    return top;
  }

  all(): Timer[] {
    return [...this.live.values()];
  }

  private skipDeleted(): void {
    while (this.heap.length > 0) {
      const top = this.heap[0]!;
      if (this.live.get(`${top.t}|${top.ks}`) === top) return;
      this.removeTop();
    }
  }

  private less(a: Timer, b: Timer): boolean {
    return a.t < b.t || (a.t === b.t && a.seq < b.seq);
  }

  private removeTop(): void {
    const last = this.heap.pop()!;
    if (this.heap.length === 0) return;
    this.heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < this.heap.length && this.less(this.heap[l]!, this.heap[m]!)) m = l;
      if (r < this.heap.length && this.less(this.heap[r]!, this.heap[m]!)) m = r;
      if (m === i) return;
      [this.heap[i], this.heap[m]] = [this.heap[m]!, this.heap[i]!];
      i = m;
    }
  }

  private up(i: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(this.heap[i]!, this.heap[p]!)) return;
      [this.heap[i], this.heap[p]] = [this.heap[p]!, this.heap[i]!];
      i = p;
    }
  }
}

/** Pending timers: times and keys. */
interface TimersSnapshot {
  readonly times: Float64Array;
  readonly keys: unknown[];
}

export interface KeyedProcessSpec {
  readonly keyFields: readonly string[];
  readonly fn: KeyedProcessFunction<unknown, Row, object>;
  readonly schema: Schema;
  /** Whether records carry event time (event-time timers need it). */
  readonly timestamps: 'event' | 'none';
  readonly keyGroups: KeyGrouper;
  /** env.enableObjectReuse: processElement gets the operator's one row view. */
  readonly objectReuse: boolean;
}

/**
 * Key groups are not stored: a restore at the same parallelism takes every key, and a rescaled
 * one computes them from the keys (the snapshot, taken every interval, stays smaller).
 */
export interface ProcessSnapshot {
  readonly state: StateSnapshot[];
  readonly eventTimers: TimersSnapshot;
  readonly processingTimers: TimersSnapshot;
}

export class KeyedProcessOperator extends Operator {
  readonly store = new KeyedStateStore();
  private readonly eventTimers = new TimerQueue();
  private readonly processingTimers = new TimerQueue();
  private readonly descriptors = new Map<string, AnyStateDescriptor>();
  private out: BatchBuilder;
  private produced = 0;
  /** Event time of the record or timer being processed (null without event time). */
  private time: number | null = null;
  private domain: 'eventTime' | 'processingTime' = 'eventTime';
  /** Serializes the wall-clock timer with batches and watermarks. */
  private queue: Promise<void> = Promise.resolve();
  private wallTimer: NodeJS.Timeout | null = null;
  /** A processing-time timer that threw, reported with the next call the runtime makes. */
  private failure: unknown = null;
  private ended = false;
  private readonly ctx: OnTimerContext<unknown>;
  private readonly collector: Collector<object>;

  private readonly keyFields: readonly string[];
  private readonly fn: KeyedProcessFunction<unknown, Row, object>;
  private readonly schema: Schema;
  private readonly hasEventTime: boolean;
  /** The key group of each key in snapshots (as the input exchange computes it). */
  private readonly keyGroups: KeyGrouper;
  private readonly runtime: Omit<RuntimeContext, 'subtask' | 'parallelism'>;

  private readonly rows: Rows;

  constructor(id: number, name: string, spec: KeyedProcessSpec) {
    super(id, name);
    this.keyFields = spec.keyFields;
    this.fn = spec.fn;
    this.schema = spec.schema;
    this.hasEventTime = spec.timestamps === 'event';
    this.keyGroups = spec.keyGroups;
    this.out = new BatchBuilder(spec.schema, 256);
    this.rows = new Rows(spec.objectReuse);
    this.metrics.unfiredTimers = 0;
    const timers: TimerService = {
      currentWatermark: () => this.watermark,
      currentProcessingTime: () => Date.now(),
      registerEventTimeTimer: (t) => {
        if (!this.hasEventTime) throw new Error(`${this.metrics.name}: registerEventTimeTimer needs event timestamps; give the source a WatermarkStrategy, or use registerProcessingTimeTimer`);
        this.eventTimers.add(checkTime(t, 'registerEventTimeTimer'), this.currentKs, this.store.currentKey);
      },
      registerProcessingTimeTimer: (t) => {
        this.processingTimers.add(checkTime(t, 'registerProcessingTimeTimer'), this.currentKs, this.store.currentKey);
        this.armWallClock();
      },
      deleteEventTimeTimer: (t) => this.eventTimers.delete(t, this.currentKs),
      deleteProcessingTimeTimer: (t) => this.processingTimers.delete(t, this.currentKs),
    };
    this.ctx = {
      timestamp: () => this.time,
      getCurrentKey: () => this.store.currentKey,
      timerService: () => timers,
      timeDomain: () => this.domain,
    };
    this.collector = {
      collect: (r) => {
        const t = this.hasEventTime ? (this.time ?? (Number.isFinite(this.watermark) ? this.watermark : Number.MIN_SAFE_INTEGER)) : undefined;
        this.out.append(r, `${this.metrics.name} output`, this.produced++, t);
      },
    };
    const store = this.store;
    const descriptors = this.descriptors;
    const register = <D extends AnyStateDescriptor>(d: D): D => {
      const seen = descriptors.get(d.name);
      if (seen !== undefined && seen.kind !== d.kind) throw new Error(`${name}: state '${d.name}' is registered twice, as ${seen.kind} and ${d.kind} state; give each its own name`);
      descriptors.set(d.name, d);
      return d;
    };
    this.runtime = {
      getState: <T>(d: ValueStateDescriptor<T>) => store.value(register(d as AnyStateDescriptor) as ValueStateDescriptor<T>),
      getListState: <T>(d: ListStateDescriptor<T>) => store.list(register(d as AnyStateDescriptor) as ListStateDescriptor<T>),
      getMapState: <K, V>(d: MapStateDescriptor<K, V>) => store.map(register(d as AnyStateDescriptor) as MapStateDescriptor<K, V>),
      getReducingState: <T>(d: ReducingStateDescriptor<T>) => store.reducing(register(d as AnyStateDescriptor) as ReducingStateDescriptor<T>),
      getAggregatingState: <IN, ACC, OUT>(d: AggregatingStateDescriptor<IN, ACC, OUT>) =>
        store.aggregating(register(d as AnyStateDescriptor) as AggregatingStateDescriptor<IN, ACC, OUT>),
    };
  }

  /** The user function's close (Flink calls it when the operator closes, after success or failure). */
  override close(): void {
    if (this.wallTimer !== null) clearTimeout(this.wallTimer);
    this.wallTimer = null;
    this.fn.close?.();
  }

  /** The user function's open, with its runtime context (before a restore, which needs its state registered). */
  override open(context: OperatorContext): void {
    super.open(context);
    this.fn.open?.({ ...this.runtime, subtask: context.subtask, parallelism: context.parallelism });
  }

  private currentKs: unknown = '';

  private setKey(ks: unknown, key: unknown): void {
    this.currentKs = ks;
    this.store.setCurrentKey(ks, key);
  }

  /** Runs `f` after whatever is in progress (batches, watermarks, wall-clock timers never interleave). */
  private serial(f: () => Promise<void> | void): Promise<void> {
    const p = this.queue.then(() => {
      if (this.failure !== null) throw this.failure;
      return f();
    });
    this.queue = p.catch(() => {});
    return p;
  }

  processBatch(batch: RecordBatch): Promise<void> {
    return this.serial(async () => {
      const reader = this.rows.of(batch);
      const reuse = this.rows.reuse;
      const cols = this.keyFields.map((f) => valueReader(batch.column(f), f));
      const key = cols.length === 1 ? cols[0]! : (i: number) => cols.map((c) => c(i));
      const tv = batch.eventTime === null ? null : i32View(batch.eventTime);
      this.domain = 'eventTime';
      const base = this.metrics.recordsIn - batch.length;
      let i = 0;
      try {
        for (; i < batch.length; i++) {
          const k = key(i);
          this.setKey(mapKey(k), k);
          this.time = tv === null ? null : getI64(tv, i);
          this.fn.processElement(reuse ? reader.view(i) : reader.record(i), this.ctx, this.collector);
        }
      } catch (e) {
        throw this.rows.failure(e, this.metrics.name, i, base + i);
      }
      this.store.sweep();
      this.fireProcessingTimers(Date.now());
      this.metrics.expiredState = this.store.expiredCount;
      await this.flush();
    });
  }

  private fire(timers: TimerQueue, upTo: number, domain: 'eventTime' | 'processingTime'): void {
    for (let t = timers.pop(upTo); t !== null; t = timers.pop(upTo)) {
      this.setKey(t.ks, t.key);
      this.domain = domain;
      this.time = domain === 'eventTime' ? t.t : null;
      this.fn.onTimer?.(t.t, this.ctx, this.collector);
    }
  }

  private fireProcessingTimers(now: number): void {
    this.fire(this.processingTimers, now, 'processingTime');
    this.armWallClock();
  }

  private async flush(): Promise<void> {
    if (this.out.length === 0) return;
    const b = this.out.finish();
    this.out = new BatchBuilder(this.schema, 256);
    await this.emit(b);
  }

  /** Wakes up for the earliest processing-time timer (while the input has not ended). */
  private armWallClock(): void {
    if (this.wallTimer !== null) clearTimeout(this.wallTimer);
    this.wallTimer = null;
    const next = this.processingTimers.peek();
    if (next === Infinity || this.ended) return;
    this.wallTimer = setTimeout(() => {
      this.wallTimer = null;
      this.serial(async () => {
        this.fireProcessingTimers(Date.now());
        await this.flush();
      }).catch((e: unknown) => {
        this.failure ??= e;
      });
    }, Math.max(0, next - Date.now()));
    // The sources keep a running job alive; a pending timer must not keep a failed one alive.
    this.wallTimer.unref();
  }

  override processWatermark(watermark: number): Promise<void> {
    return this.serial(async () => {
      // Timers first, with the old watermark visible, as Flink (timers at t fire when the watermark reaches t).
      this.fire(this.eventTimers, watermark, 'eventTime');
      this.store.sweep();
      await this.flush();
      await this.emitWatermark(watermark);
    });
  }

  override finish(): Promise<void> {
    return this.serial(async () => {
      this.ended = true;
      if (this.wallTimer !== null) clearTimeout(this.wallTimer);
      this.wallTimer = null;
      this.metrics.unfiredTimers = this.processingTimers.size;
      await this.flush();
      await this.emitEnd();
    });
  }

  override snapshotState(): unknown {
    return this.snapshot();
  }

  override quiesce(): Promise<void> {
    return this.queue;
  }

  override restoreState(state: unknown): void {
    this.restore(state as ProcessSnapshot, null);
  }

  override restoreRescaled(states: readonly unknown[], keep: KeyGroupFilter): boolean {
    for (const s of states as ProcessSnapshot[]) this.restore(s, keep);
    return true;
  }

  private timers(q: TimerQueue): TimersSnapshot {
    const all = q.all();
    const keys = all.map((t) => t.key);
    return { times: Float64Array.from(all, (t) => t.t), keys };
  }

  snapshot(): ProcessSnapshot {
    return {
      state: this.store.snapshot(),
      eventTimers: this.timers(this.eventTimers),
      processingTimers: this.timers(this.processingTimers),
    };
  }

  /** Loads a snapshot's state and timers; rescaling, of this subtask's key groups only (`keep`). */
  restore(s: ProcessSnapshot, keep: KeyGroupFilter | null): void {
    const take = (keys: unknown[]): ((i: number) => boolean) => (keep === null ? () => true : keep.mask(keys, this.keyGroups));
    this.store.restore(s.state, take, (name, kind) => {
      const d = this.descriptors.get(name);
      if (d === undefined) throw new Error(`${this.metrics.name}: the checkpoint has state '${name}' (${kind}), which the function does not register in open(); restore with the job that wrote it`);
      if (d.kind !== kind) throw new Error(`${this.metrics.name}: state '${name}' is ${kind} state in the checkpoint but ${d.kind} state in the function`);
      return d;
    });
    const load = (q: TimerQueue, ts: TimersSnapshot): void => {
      const mineAt = take(ts.keys);
      ts.keys.forEach((key, i) => {
        if (mineAt(i)) q.add(ts.times[i]!, mapKey(key), key);
      });
    };
    load(this.eventTimers, s.eventTimers);
    load(this.processingTimers, s.processingTimers);
    this.armWallClock();
  }
}

function checkTime(t: number, what: string): number {
  if (!Number.isSafeInteger(t)) throw new RangeError(`${what}(${String(t)}): a timer's time is a whole number of ms`);
  return t;
}
