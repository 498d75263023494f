/**
 * The keyed state store of user functions (KeyedProcessFunction): per state descriptor, one
 * table from key to value, scoped to the key being processed. Values with a time to live carry
 * the time they were last written (or read); an expired value is never returned, and a sweep
 * that resumes where it stopped removes expired entries a few at a time, so that state of keys
 * that never come back does not grow without bound. List elements and map entries expire one
 * by one, as in Flink.
 *
 * Both engines use this store: the functions and their values are JavaScript, and keeping them
 * as JavaScript values avoids a serialization per access. Snapshots list every entry with its
 * key, so that they can be split by key group.
 */

import type { AggregatingState, AggregatingStateDescriptor, AnyStateDescriptor, ListState, ListStateDescriptor, MapState, MapStateDescriptor, ReducingState, ReducingStateDescriptor, ValueState, ValueStateDescriptor } from '../api/state.js';
import { mapKey } from '../keys/map-key.js';

/** One value of one key; `t` is when its time to live (re)started. */
interface Entry {
  readonly key: unknown;
  value: unknown;
  t: number;
}

/** A list element or map entry with its own time to live. */
interface Item {
  readonly k?: unknown;
  v: unknown;
  t: number;
}

/** How many entries one sweep step looks at, per state with a time to live. */
const SWEEP_STEP = 256;

export interface StateSnapshot {
  readonly name: string;
  readonly kind: string;
  /** Column per field (compact to serialize): each key, its value and its last access. */
  readonly keys: unknown[];
  /** List values: [value, time][]; map values: [key, value, time][] (without times when `times` is null). */
  readonly values: unknown[];
  /** When each value's time to live (re)started; null for state without TTL (nothing to keep). */
  readonly times: Float64Array | null;
}

class Table {
  readonly rows = new Map<unknown, Entry>();
  private sweep: Iterator<[unknown, Entry]> | null = null;
  expired = 0;

  constructor(readonly desc: AnyStateDescriptor) {}

  get ttl(): number | null {
    return this.desc.ttl?.ttlMs ?? null;
  }

  get refreshOnRead(): boolean {
    return this.desc.ttl?.updateType === 'onReadAndWrite';
  }

  /** Removes up to SWEEP_STEP expired entries' worth of scanning. */
  step(now: number): void {
    const ttl = this.ttl;
    if (ttl === null) return;
    this.sweep ??= this.rows.entries();
    for (let i = 0; i < SWEEP_STEP; i++) {
      const n = this.sweep.next();
      if (n.done === true) {
        this.sweep = null;
        return;
      }
      const [ks, e] = n.value;
      if (this.desc.kind === 'list' || this.desc.kind === 'map') {
        const items = e.value as Item[] | Map<unknown, Item>;
        const live = dropExpired(items, now, ttl);
        this.expired += live;
        if ((Array.isArray(items) ? items.length : items.size) === 0) this.rows.delete(ks);
      } else if (now - e.t >= ttl) {
        this.rows.delete(ks);
        this.expired++;
      }
    }
  }
}

/** Drops expired items in place; returns how many. */
function dropExpired(items: Item[] | Map<unknown, Item>, now: number, ttl: number): number {
  if (Array.isArray(items)) {
    const before = items.length;
    let w = 0;
    for (const it of items) if (now - it.t < ttl) items[w++] = it;
    items.length = w;
    return before - w;
  }
  let n = 0;
  for (const [k, it] of items) {
    if (now - it.t >= ttl) {
      items.delete(k);
      n++;
    }
  }
  return n;
}

export class KeyedStateStore {
  private readonly tables = new Map<string, Table>();
  private keyStr: unknown = '';
  private keyValue: unknown = undefined;

  constructor(
    /** Processing time for time to live (ms). */
    private readonly clock: () => number = Date.now,
  ) {}

  /** Scopes every state to `key` until the next call. */
  setCurrentKey(ks: unknown, key: unknown): void {
    this.keyStr = ks;
    this.keyValue = key;
  }

  get currentKey(): unknown {
    return this.keyValue;
  }

  /** Advances the time-to-live sweep of every state a step. */
  sweep(): void {
    const now = this.clock();
    for (const t of this.tables.values()) t.step(now);
  }

  /** Values and items removed because they expired. */
  get expiredCount(): number {
    let n = 0;
    for (const t of this.tables.values()) n += t.expired;
    return n;
  }

  /** Keys with state, over every descriptor. */
  get size(): number {
    let n = 0;
    for (const t of this.tables.values()) n += t.rows.size;
    return n;
  }

  private table(d: AnyStateDescriptor): Table {
    const t = this.tables.get(d.name);
    if (t !== undefined) {
      if (t.desc.kind !== d.kind) throw new Error(`state '${d.name}' was registered as ${t.desc.kind} state and is requested as ${d.kind} state; give each state its own name`);
      return t;
    }
    const n = new Table(d);
    this.tables.set(d.name, n);
    return n;
  }

  /** The live entry of the current key, or undefined (removing it when expired). */
  private read(t: Table): Entry | undefined {
    const e = t.rows.get(this.keyStr);
    if (e === undefined) return undefined;
    const ttl = t.ttl;
    if (ttl === null) return e;
    const now = this.clock();
    if (t.desc.kind === 'list' || t.desc.kind === 'map') {
      t.expired += dropExpired(e.value as Item[] | Map<unknown, Item>, now, ttl);
      if (t.refreshOnRead) touchItems(e.value as Item[] | Map<unknown, Item>, now);
      return e;
    }
    if (now - e.t >= ttl) {
      t.rows.delete(this.keyStr);
      t.expired++;
      return undefined;
    }
    if (t.refreshOnRead) e.t = now;
    return e;
  }

  private write(t: Table, value: unknown): Entry {
    const now = this.clock();
    const e = t.rows.get(this.keyStr);
    if (e !== undefined) {
      e.value = value;
      e.t = now;
      return e;
    }
    const n: Entry = { key: this.keyValue, value, t: now };
    t.rows.set(this.keyStr, n);
    return n;
  }

  private clear(t: Table): void {
    t.rows.delete(this.keyStr);
  }

  value<T>(d: ValueStateDescriptor<T>): ValueState<T> {
    const t = this.table(d as AnyStateDescriptor);
    return {
      value: () => {
        const e = this.read(t);
        return e === undefined ? d.defaultValue : (e.value as T);
      },
      update: (v) => (v === null || v === undefined ? this.clear(t) : void this.write(t, v)),
      clear: () => this.clear(t),
    };
  }

  list<T>(d: ListStateDescriptor<T>): ListState<T> {
    const t = this.table(d as AnyStateDescriptor);
    const items = (): Item[] => (this.read(t)?.value as Item[] | undefined) ?? [];
    const append = (vs: readonly T[]): void => {
      if (vs.length === 0) return;
      const now = this.clock();
      const e = this.read(t) ?? this.write(t, []);
      for (const v of vs) (e.value as Item[]).push({ v, t: now });
    };
    return {
      get: () => items().map((it) => it.v as T),
      add: (v) => append([v]),
      addAll: (vs) => append(vs),
      update: (vs) => {
        this.clear(t);
        append(vs);
      },
      clear: () => this.clear(t),
    };
  }

  map<K, V>(d: MapStateDescriptor<K, V>): MapState<K, V> {
    const t = this.table(d as AnyStateDescriptor);
    const items = (): Map<unknown, Item> | undefined => this.read(t)?.value as Map<unknown, Item> | undefined;
    const put = (k: K, v: V): void => {
      const e = this.read(t) ?? this.write(t, new Map<unknown, Item>());
      (e.value as Map<unknown, Item>).set(mapKey(k), { k, v, t: this.clock() });
    };
    const all = (): Item[] => [...(items()?.values() ?? [])];
    return {
      get: (k) => items()?.get(mapKey(k))?.v as V | undefined,
      put,
      putAll: (es) => {
        for (const [k, v] of es) put(k, v);
      },
      contains: (k) => items()?.has(mapKey(k)) === true,
      remove: (k) => {
        const m = items();
        if (m === undefined) return;
        m.delete(mapKey(k));
        if (m.size === 0) this.clear(t);
      },
      entries: () => all().map((it) => [it.k as K, it.v as V]),
      keys: () => all().map((it) => it.k as K),
      values: () => all().map((it) => it.v as V),
      isEmpty: () => (items()?.size ?? 0) === 0,
      clear: () => this.clear(t),
    };
  }

  reducing<T>(d: ReducingStateDescriptor<T>): ReducingState<T> {
    const t = this.table(d as AnyStateDescriptor);
    return {
      get: () => (this.read(t)?.value as T | undefined) ?? null,
      add: (v) => {
        const e = this.read(t);
        this.write(t, e === undefined ? v : d.reduce(e.value as T, v));
      },
      clear: () => this.clear(t),
    };
  }

  aggregating<IN, ACC, OUT>(d: AggregatingStateDescriptor<IN, ACC, OUT>): AggregatingState<IN, OUT> {
    const t = this.table(d as AnyStateDescriptor);
    return {
      get: () => {
        const e = this.read(t);
        return e === undefined ? null : d.aggregate.getResult(e.value as ACC);
      },
      add: (v) => {
        const e = this.read(t);
        this.write(t, d.aggregate.add(v, e === undefined ? d.aggregate.createAccumulator() : (e.value as ACC)));
      },
      clear: () => this.clear(t),
    };
  }

  /** Every state's entries (expired ones dropped first), for a checkpoint. */
  snapshot(): StateSnapshot[] {
    const now = this.clock();
    const out: StateSnapshot[] = [];
    for (const [name, t] of this.tables) {
      const ttl = t.ttl;
      if (ttl !== null) {
        // Expired values never reach a checkpoint.
        for (const [ks, e] of t.rows) {
          if (t.desc.kind === 'list' || t.desc.kind === 'map') {
            dropExpired(e.value as Item[] | Map<unknown, Item>, now, ttl);
            if (isEmpty(e.value as Item[] | Map<unknown, Item>)) t.rows.delete(ks);
          } else if (now - e.t >= ttl) t.rows.delete(ks);
        }
      }
      const n = t.rows.size;
      const keys = new Array<unknown>(n);
      const values = new Array<unknown>(n);
      const times = ttl === null ? null : new Float64Array(n);
      const kind = t.desc.kind;
      let i = 0;
      for (const e of t.rows.values()) {
        keys[i] = e.key;
        if (kind === 'list') values[i] = (e.value as Item[]).map((it) => (times === null ? it.v : [it.v, it.t]));
        else if (kind === 'map') values[i] = [...(e.value as Map<unknown, Item>).values()].map((it) => (times === null ? [it.k, it.v] : [it.k, it.v, it.t]));
        else values[i] = e.value;
        if (times !== null) times[i] = e.t;
        i++;
      }
      out.push({ name, kind, keys, values, times });
    }
    return out;
  }

  /**
   * Loads snapshot entries (of any subtask: those whose key group `mine` accepts; `keyGroups`
   * aligned with each snapshot's keys).
   * The descriptors register on first use, so restored tables wait for them by name.
   */
  restore(snapshots: readonly StateSnapshot[], take: (keys: unknown[]) => (i: number) => boolean, describe: (name: string, kind: string) => AnyStateDescriptor): void {
    // State without TTL kept no times: any will do.
    const now = this.clock();
    for (const s of snapshots) {
      const t = this.table(describe(s.name, s.kind));
      const mine = take(s.keys);
      const timed = s.times !== null;
      for (let i = 0; i < s.keys.length; i++) {
        const key = s.keys[i];
        if (!mine(i)) continue;
        const v = s.values[i];
        const value =
          s.kind === 'list'
            ? (v as unknown[]).map((x) => (timed ? { v: (x as [unknown, number])[0], t: (x as [unknown, number])[1] } : { v: x, t: now }))
            : s.kind === 'map'
              ? new Map((v as [unknown, unknown, number?][]).map(([k, x, t2]) => [mapKey(k), { k, v: x, t: timed ? t2! : now }]))
              : v;
        t.rows.set(mapKey(key), { key, value, t: timed ? s.times![i]! : now });
      }
    }
  }
}

function isEmpty(items: Item[] | Map<unknown, Item>): boolean {
  return Array.isArray(items) ? items.length === 0 : items.size === 0;
}

function touchItems(items: Item[] | Map<unknown, Item>, now: number): void {
  for (const it of Array.isArray(items) ? items : items.values()) it.t = now;
}
