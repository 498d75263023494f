/**
 * The updating aggregation in TypeScript (crates/sluice-core/src/group.rs): groups by canonical
 * key bytes, accumulators that also retract (min/max and count distinct keep the multiset of
 * their values, as Flink's retracting MIN/MAX; first/last their values in arrival order), and
 * the changes of a batch per group it touched. With a state TTL, groups not written for the TTL
 * (by the pushes' `now`) expire silently, as group.rs's.
 */

import { columnBuilder } from '../../batch/column-builder.js';
import type { Column } from '../../batch/column.js';
import { RecordBatch, valueReader } from '../../batch/record-batch.js';
import { DELETE, INSERT, isUpdating, UPDATE_AFTER, UPDATE_BEFORE } from '../../batch/row-kind.js';
import type { Schema } from '../../batch/schema.js';
import { Buffer } from 'node:buffer';
import { getI64, I64_MAX, I64_MIN, i32View, i64IsExact } from '../../batch/i64.js';
import { encodeKey, keyViews, KeyScratch } from '../../keys/key-bytes.js';
import type { AggregateSpec, GroupAggregator, GroupAggregatorSpec } from '../engine.js';
import { EngineError } from '../errors.js';
import { checkGroupState, groupOutputSchema, groupStateSchema, retractMissing, retractMissingValue, sumOverflow, sumType } from '../group-agg-spec.js';

type Num = number | bigint;

interface Group {
  /** The key's values (i64 and timestamp as bigint). */
  readonly key: unknown[];
  rows: number;
  /** The `now` of the last push that applied a row to it (with a TTL). */
  access: number;
  /** count: number; sum/avg: [sum, n]; min/max: Map value -> count; countDistinct: Map key bytes -> count; first/last: Ordered[]. */
  readonly accs: unknown[];
}

/** A first/last value: the JS value and its canonical key bytes (latin1). */
interface Ordered {
  readonly v: unknown;
  readonly k: string;
}

const latin1 = (b: Uint8Array, n: number): string => {
  let s = '';
  for (let i = 0; i < n; i += 4096) s += String.fromCharCode.apply(null, b.subarray(i, Math.min(n, i + 4096)) as unknown as number[]);
  return s;
};

const f64 = new Float64Array(1);
const f64Bits = new BigInt64Array(f64.buffer);

export class TsGroupAggregator implements GroupAggregator {
  readonly outputSchema: Schema;
  private readonly stateSchema: Schema;
  private readonly input: Schema;
  private readonly updating: boolean;
  private readonly keyFields: readonly number[];
  private readonly aggs: readonly AggregateSpec[];
  private readonly sumF64: readonly boolean[];
  /** By group id: the key bytes as a latin1 string, or the value of a single integer key (ids.ts below). */
  private readonly state = new Map<unknown, Group>();
  /** One i32 / i64 / timestamp key: its value is the group's id (no key bytes per row). */
  private readonly intKey: boolean;
  private readonly sc = new KeyScratch();
  private readonly vsc = new KeyScratch();
  /** Idle state retention in ms (0: none). */
  private readonly ttl: number;
  /** When expired groups are next removed from memory. */
  private nextPurge = -Infinity;

  constructor(spec: GroupAggregatorSpec) {
    this.outputSchema = groupOutputSchema(spec);
    this.stateSchema = groupStateSchema(spec);
    this.input = spec.input;
    this.updating = isUpdating(spec.input);
    this.keyFields = spec.keyFields;
    this.aggs = spec.aggregates;
    const k0 = spec.keyFields.length === 1 ? spec.input.fields[spec.keyFields[0]!]!.type : null;
    this.intKey = k0 === 'i32' || k0 === 'i64' || k0 === 'timestamp';
    this.sumF64 = spec.aggregates.map((a) => (a.kind === 'sum' || a.kind === 'avg') && sumType(a, spec.input) === 'f64');
    this.ttl = spec.stateTtlMs ?? 0;
    if (!Number.isSafeInteger(this.ttl) || this.ttl < 0) throw new EngineError('config', `the state TTL must be >= 0 ms, got ${this.ttl}`);
  }

  private expired(g: Group, now: number): boolean {
    return this.ttl > 0 && g.access + this.ttl <= now;
  }

  get groups(): number {
    return this.state.size;
  }

  private newGroup(key: unknown[]): Group {
    return {
      key,
      rows: 0,
      access: 0,
      accs: this.aggs.map((a, k) => {
        switch (a.kind) {
          case 'count':
            return 0;
          case 'sum':
          case 'avg':
            return [0, 0];
          case 'countDistinct':
            return new Map<unknown, number>();
          case 'first':
          case 'last':
            return [] as Ordered[];
          default:
            // An append-only input's MIN/MAX keeps the extreme value only; an updating one's the multiset.
            if (!this.updating) return null;
            return new Map<unknown, number>();
        }
      }),
    };
  }

  /** The group's result (null when it has no rows). */
  private result(g: Group | undefined): unknown[] | null {
    if (g === undefined || g.rows === 0) return null;
    return this.aggs.map((a, k) => {
      const acc = g.accs[k];
      switch (a.kind) {
        case 'count':
          return acc as number;
        case 'countDistinct':
          return (acc as Map<unknown, number>).size;
        case 'first':
        case 'last': {
          const q = acc as Ordered[];
          return q.length === 0 ? null : q[a.kind === 'first' ? 0 : q.length - 1]!.v;
        }
        case 'sum': {
          const [s, n] = acc as [Num, number];
          return n === 0 ? null : s;
        }
        case 'avg': {
          const [s, n] = acc as [Num, number];
          return n === 0 ? null : Number(s) / n;
        }
        default: {
          if (!this.updating) return acc;
          const m = acc as Map<Num, number>;
          if (m.size === 0) return null;
          let best: Num | null = null;
          for (const v of m.keys()) if (best === null || (a.kind === 'min' ? v < best : v > best)) best = v;
          return best;
        }
      }
    });
  }

  push(batch: RecordBatch, now = 0): RecordBatch | null {
    const n = batch.length;
    if (n === 0) return null;
    if (this.ttl > 0 && now >= this.nextPurge) {
      // Expired groups are invisible already; this only frees their memory.
      for (const [id, g] of this.state) if (this.expired(g, now)) this.state.delete(id);
      this.nextPurge = now + this.ttl;
    }
    const idOf = this.ids(batch.columns, this.keyFields);
    const keyReaders = this.keyFields.map((k) => reader(batch.columns[k]!, this.input.fields[k]!.name));
    const argReaders = this.aggs.map((a) => (a.field === null ? null : reader(batch.columns[a.field]!, this.input.fields[a.field]!.name)));
    const distinctCols = this.aggs.map((a) => (a.kind === 'countDistinct' || a.kind === 'first' || a.kind === 'last' ? [batch.columns[a.field!]!] : null));
    const distinctViews = distinctCols.map((c) => (c === null ? null : keyViews(c)));
    const kinds = this.updating ? (batch.columns[batch.columns.length - 1] as { values: Int32Array }).values : null;
    // Per group touched: its result before the batch, in first-touch order.
    const touched = new Map<unknown, unknown[] | null>();
    for (let i = 0; i < n; i++) {
      const id = idOf(i);
      let g = this.state.get(id);
      const kind = kinds === null ? INSERT : kinds[i]!;
      const add = kind === INSERT || kind === UPDATE_AFTER;
      if (!add && kind !== UPDATE_BEFORE && kind !== DELETE) throw new EngineError('data', `row ${i}: '$rowkind' is ${kind}; it must be 0 (+I), 1 (-U), 2 (+U) or 3 (-D)`);
      if (g !== undefined && this.expired(g, now)) {
        this.state.delete(id);
        g = undefined;
      }
      if (g === undefined && !add && this.ttl > 0) continue; // its group expired (or never was): dropped, as Flink's after a state clean-up
      if (!touched.has(id)) touched.set(id, this.result(g));
      if (g === undefined) {
        if (!add) throw new EngineError('data', retractMissing());
        g = this.newGroup(keyReaders.map((r) => r(i)));
        this.state.set(id, g);
      }
      g.access = now;
      // With a TTL the retracted row may predate its group's expiry: dropped (Flink tolerates these too).
      if (!add && this.ttl > 0 && !this.retractable(g, i, argReaders, distinctCols, distinctViews)) continue;
      if (!add && g.rows === 0) throw new EngineError('data', retractMissing());
      g.rows += add ? 1 : -1;
      const d = add ? 1 : -1;
      for (let k = 0; k < this.aggs.length; k++) {
        const a = this.aggs[k]!;
        const r = argReaders[k];
        const v = r === null || r === undefined ? 1 : r(i);
        if (v === null) continue;
        switch (a.kind) {
          case 'count':
            (g.accs as number[])[k] = (g.accs[k] as number) + d;
            break;
          case 'sum':
          case 'avg': {
            const acc = g.accs[k] as [Num, number];
            if (this.sumF64[k]) acc[0] = add ? (acc[0] as number) + (v as number) : (acc[0] as number) - (v as number);
            else {
              // Exact: numbers while the sum is a safe integer, else bigints.
              const y = acc[0];
              const fast = typeof y === 'number' && typeof v === 'number' ? (add ? y + v : y - v) : NaN;
              if (Number.isSafeInteger(fast)) acc[0] = fast;
              else {
                const x = typeof v === 'bigint' ? v : BigInt(v as number);
                const s = add ? BigInt(y) + x : BigInt(y) - x;
                if (s > I64_MAX || s < I64_MIN) throw new EngineError('overflow', sumOverflow(a.name));
                acc[0] = norm(s);
              }
            }
            acc[1] += d;
            break;
          }
          case 'countDistinct': {
            const vs = this.vsc;
            vs.len = 0;
            encodeKey(distinctCols[k]!, distinctViews[k]!, i, vs);
            bump(g.accs[k] as Map<unknown, number>, latin1(vs.buf, vs.len), d);
            break;
          }
          case 'first':
          case 'last': {
            const vs = this.vsc;
            vs.len = 0;
            encodeKey(distinctCols[k]!, distinctViews[k]!, i, vs);
            const kb = latin1(vs.buf, vs.len);
            const q = g.accs[k] as Ordered[];
            if (!add) {
              // The value's earliest occurrence leaves (Flink's retracting FIRST/LAST_VALUE).
              const at = q.findIndex((e) => e.k === kb);
              if (at < 0) throw new EngineError('data', retractMissingValue(a.name, a.kind));
              q.splice(at, 1);
            } else if (this.updating) q.push({ v, k: kb });
            else if (a.kind === 'last' || q.length === 0) q[0] = { v, k: kb };
            break;
          }
          default: {
            const x = typeof v === 'number' && v === 0 ? 0 : v;
            if (!this.updating) {
              const cur = g.accs[k] as Num | null;
              if (cur === null || (a.kind === 'min' ? (x as Num) < cur : (x as Num) > cur)) g.accs[k] = x;
            } else bump(g.accs[k] as Map<unknown, number>, x, d);
          }
        }
      }
    }
    return this.changes(touched);
  }

  /** Whether row `i`'s retraction finds what it retracts in `g`: a row, and each value a multiset or ordered list keeps. */
  private retractable(g: Group, i: number, argReaders: readonly (((i: number) => unknown) | null)[], cols: readonly (Column[] | null)[], views: readonly (ReturnType<typeof keyViews> | null)[]): boolean {
    if (g.rows === 0) return false;
    for (let k = 0; k < this.aggs.length; k++) {
      const a = this.aggs[k]!;
      const r = argReaders[k];
      if (r === null || r === undefined) continue;
      const v = r(i);
      if (v === null) continue;
      const vs = this.vsc;
      switch (a.kind) {
        case 'countDistinct':
        case 'first':
        case 'last': {
          vs.len = 0;
          encodeKey(cols[k]!, views[k]!, i, vs);
          const kb = latin1(vs.buf, vs.len);
          if (a.kind === 'countDistinct' ? !(g.accs[k] as Map<unknown, number>).has(kb) : !(g.accs[k] as Ordered[]).some((e) => e.k === kb)) return false;
          break;
        }
        case 'min':
        case 'max':
          if (this.updating && !(g.accs[k] as Map<unknown, number>).has(typeof v === 'number' && v === 0 ? 0 : v)) return false;
          break;
        default:
      }
    }
    return true;
  }

  /** The changes of the groups touched (see GroupAggregator). */
  private changes(touched: Map<unknown, unknown[] | null>): RecordBatch | null {
    const out: { key: unknown[]; kind: number; values: unknown[] }[] = [];
    for (const [id, before] of touched) {
      const g = this.state.get(id)!;
      const after = this.result(g);
      if (g.rows === 0) this.state.delete(id);
      if (before === null && after === null) continue;
      if (before === null) out.push({ key: g.key, kind: INSERT, values: after! });
      else if (after === null) out.push({ key: g.key, kind: DELETE, values: before });
      else if (!sameValues(before, after)) {
        out.push({ key: g.key, kind: UPDATE_BEFORE, values: before });
        out.push({ key: g.key, kind: UPDATE_AFTER, values: after });
      }
    }
    if (out.length === 0) return null;
    const nk = this.keyFields.length;
    const builders = this.outputSchema.fields.map((f) => columnBuilder(f, out.length));
    out.forEach((r, j) => {
      for (let c = 0; c < nk; c++) builders[c]!.append(r.key[c], 'group key', j);
      for (let k = 0; k < r.values.length; k++) builders[nk + k]!.append(r.values[k], 'aggregate', j);
      builders[builders.length - 1]!.append(r.kind, '$rowkind', j);
    });
    return new RecordBatch(this.outputSchema, builders.map((b) => b.finish()), out.length, null);
  }

  snapshot(): RecordBatch {
    const groups = [...this.state.values()];
    const builders = this.stateSchema.fields.map((f) => columnBuilder(f, groups.length));
    const nk = this.keyFields.length;
    groups.forEach((g, j) => {
      let c = 0;
      for (; c < nk; c++) builders[c]!.append(g.key[c], 'group key', j);
      builders[c++]!.append(g.rows, '$rows', j);
      this.aggs.forEach((a, k) => {
        const acc = g.accs[k];
        switch (a.kind) {
          case 'count':
            builders[c++]!.append(acc, 'count', j);
            break;
          case 'sum':
          case 'avg':
            builders[c++]!.append((acc as [Num, number])[0], 'sum', j);
            builders[c++]!.append((acc as [Num, number])[1], 'count', j);
            break;
          case 'countDistinct':
            builders[c++]!.append(entries(acc as Map<string, number>, (s) => Buffer.from(s, 'latin1').toString('hex')), 'values', j);
            break;
          case 'first':
          case 'last':
            builders[c++]!.append((acc as Ordered[]).map((e) => Buffer.from(e.k, 'latin1').toString('hex')).join(','), 'values', j);
            break;
          default: {
            const text = (v: Num): string => (typeof v === 'number' && this.isF64(a) ? bitsOf(v) : String(v));
            const m = this.updating ? (acc as Map<Num, number>) : new Map<Num, number>(acc === null ? [] : [[acc as Num, 1]]);
            builders[c++]!.append(entries(m, text), 'values', j);
          }
        }
      });
      if (this.ttl > 0) builders[c]!.append(g.access, '$access', j);
    });
    return new RecordBatch(this.stateSchema, builders.map((b) => b.finish()), groups.length, null);
  }

  /**
   * The group id of each row of `columns` (keys at `keyFields`): a single integer key's value
   * (a number while exact, else a bigint; null keys one string), else the canonical key bytes
   * as a latin1 string. The same id for the same key in every batch and in a restore.
   */
  private ids(columns: readonly Column[], keyFields: readonly number[]): (i: number) => unknown {
    const cols = keyFields.map((k) => columns[k]!);
    if (this.intKey) {
      const c = cols[0]!;
      const validity = c.validity;
      const NULL = '\u0000null';
      if (c.type === 'i32') {
        const v = c.values;
        return validity === null ? (i) => v[i]! : (i) => ((validity[i >>> 3]! & (1 << (i & 7))) === 0 ? NULL : v[i]!);
      }
      const v = (c as { values: BigInt64Array }).values;
      const v32 = i32View(v);
      const get = (i: number): unknown => (i64IsExact(v32, i) ? getI64(v32, i) : v[i]!);
      return validity === null ? get : (i) => ((validity[i >>> 3]! & (1 << (i & 7))) === 0 ? NULL : get(i));
    }
    const views = keyViews(cols);
    const sc = this.sc;
    return (i) => {
      sc.len = 0;
      encodeKey(cols, views, i, sc);
      return latin1(sc.buf, sc.len);
    };
  }

  private isF64(a: AggregateSpec): boolean {
    return this.input.fields[a.field!]!.type === 'f64';
  }

  restore(state: RecordBatch): void {
    checkGroupState(this.stateSchema, state.schema);
    const readers = state.schema.fields.map((f, c) => reader(state.columns[c]!, f.name));
    const nk = this.keyFields.length;
    const idOf = this.ids(state.columns, Array.from({ length: nk }, (_, k) => k));
    for (let i = 0; i < state.length; i++) {
      const g = this.newGroup(readers.slice(0, nk).map((r) => r(i)));
      let c = nk;
      g.rows = Number(readers[c++]!(i));
      this.aggs.forEach((a, k) => {
        switch (a.kind) {
          case 'count':
            g.accs[k] = Number(readers[c++]!(i));
            break;
          case 'sum':
          case 'avg': {
            const s = readers[c++]!(i) as Num;
            g.accs[k] = [this.sumF64[k] ? Number(s) : norm(BigInt(s)), Number(readers[c++]!(i))];
            break;
          }
          case 'countDistinct':
            parseEntries(readers[c++]!(i) as string, g.accs[k] as Map<unknown, number>, (t) => Buffer.from(t, 'hex').toString('latin1'));
            break;
          case 'first':
          case 'last': {
            const t = this.input.fields[a.field!]!.type;
            const text = readers[c++]!(i) as string;
            const q = g.accs[k] as Ordered[];
            if (text.length > 0) for (const h of text.split(',')) q.push({ v: keyValue(Buffer.from(h, 'hex'), t), k: Buffer.from(h, 'hex').toString('latin1') });
            break;
          }
          default: {
            const t = this.input.fields[a.field!]!.type;
            const m = new Map<unknown, number>();
            parseEntries(readers[c++]!(i) as string, m, (s) => (t === 'f64' ? fromBits(s) : t === 'i32' ? Number(s) : norm(BigInt(s))));
            if (this.updating) g.accs[k] = m;
            else {
              let best: Num | null = null;
              for (const v of m.keys() as IterableIterator<Num>) if (best === null || (a.kind === 'min' ? v < best : v > best)) best = v;
              g.accs[k] = best;
            }
          }
        }
      });
      // The last access as written: a restore does not refresh it.
      if (this.ttl > 0) g.access = Number(readers[c]!(i));
      this.state.set(idOf(i), g);
    }
  }
}

/** A reader of JS values: i64 and timestamp as bigint (exact), others as valueReader's. */
/** A reader of JS values: i64 and timestamp as numbers while exact (|x| < 2^53), else bigints (one form per value). */
function reader(col: Column, name: string): (i: number) => unknown {
  if (col.type === 'i64' || col.type === 'timestamp') {
    const v = col.values;
    const v32 = i32View(v);
    const validity = col.validity;
    const get = (i: number): Num => (i64IsExact(v32, i) ? getI64(v32, i) : v[i]!);
    return validity === null ? get : (i) => ((validity[i >>> 3]! & (1 << (i & 7))) === 0 ? null : get(i));
  }
  return valueReader(col, name);
}

function bump(m: Map<unknown, number>, v: unknown, d: number): void {
  const c = (m.get(v) ?? 0) + d;
  if (c < 0) throw new EngineError('data', retractMissing());
  if (c === 0) m.delete(v);
  else m.set(v, c);
}

function sameValues(a: readonly unknown[], b: readonly unknown[]): boolean {
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i]) && !(a[i] === b[i])) return false;
  return true;
}

function entries<V>(m: Map<V, number>, text: (v: V) => string): string {
  const out: string[] = [];
  for (const [v, c] of m) out.push(`${text(v)}*${c}`);
  return out.join(',');
}

function parseEntries(s: string, m: Map<unknown, number>, value: (t: string) => unknown): void {
  if (s.length === 0) return;
  for (const e of s.split(',')) {
    const star = e.lastIndexOf('*');
    m.set(value(e.slice(0, star)), Number(e.slice(star + 1)));
  }
}

/** One value from its canonical key bytes (keys/key-bytes.ts): the tag byte, then the value. */
function keyValue(b: Buffer, type: string): unknown {
  if (b[0] === 0) return null;
  switch (type) {
    case 'i32':
      return b.readInt32LE(1);
    case 'i64':
    case 'timestamp':
      return norm(b.readBigInt64LE(1));
    case 'f64':
      return b.readDoubleLE(1);
    case 'bool':
      return b[1] !== 0;
    default:
      return b.subarray(5, 5 + b.readUInt32LE(1)).toString('utf8');
  }
}

function bitsOf(x: number): string {
  f64[0] = x;
  return String(f64Bits[0]!);
}

function fromBits(s: string): number {
  f64Bits[0] = BigInt(s);
  return f64[0]!;
}

const EXACT = 2n ** 53n;

/** A bigint as the reader gives it: a number while exact. */
function norm(b: bigint): Num {
  return b >= -EXACT && b < EXACT ? Number(b) : b;
}
