/**
 * Keyed tumbling event-time window aggregation in TypeScript, written for speed: typed
 * arrays, open addressing, column-at-a-time updates, no per-record allocation.
 *
 * It mirrors crates/sluice-core/src/window.rs exactly: groups numbered in first-arrival order,
 * fired windows emitted by start then group order, the same arithmetic per aggregate (f64
 * sums in row order, exact integer sums, avg = exact sum rounded once, then divided), so both
 * engines produce identical batches.
 */

import { bitmapBytes, type Column } from '../../batch/column.js';
import { i32View } from '../../batch/i64.js';
import { RecordBatch } from '../../batch/record-batch.js';
import type { DataType, Schema } from '../../batch/schema.js';
import type { AggregateSpec, WindowAggregator, WindowAggregatorSpec } from '../engine.js';
import { windowOutputSchema } from '../window-spec.js';
import { encodeKey, keyViews, KeyScratch } from './key.js';
import { fmix32, mixH, murmur3_32 } from './hash.js';

const TWO32 = 4294967296;
const TWO52 = 4503599627370496;
const LATE = -1;

/** Accumulators of one aggregate, indexed by group id. */
class Acc {
  n: Float64Array;
  /** f64 sum/min/max, or the low part of an exact integer sum. */
  f: Float64Array;
  /** High part of an exact integer sum (sum = hi * 2^32 + f), or hi word of i64 min/max. */
  hi: Float64Array;
  readonly float: boolean;
  readonly wide: boolean;

  constructor(
    readonly spec: AggregateSpec,
    readonly input: DataType,
    readonly out: DataType,
    cap: number,
  ) {
    this.float = input === 'f64';
    this.wide = input === 'i64' || input === 'timestamp';
    this.n = new Float64Array(cap);
    this.f = new Float64Array(cap);
    this.hi = new Float64Array(cap);
    this.init(0, cap);
  }

  private init(from: number, to: number): void {
    const k = this.spec.kind;
    if (k === 'min' || k === 'max') {
      const lo = k === 'min' ? Infinity : -Infinity;
      this.f.fill(lo, from, to);
      this.hi.fill(lo, from, to);
    }
  }

  grow(oldCap: number, cap: number): void {
    const n = new Float64Array(cap);
    n.set(this.n);
    this.n = n;
    const f = new Float64Array(cap);
    f.set(this.f);
    this.f = f;
    const hi = new Float64Array(cap);
    hi.set(this.hi);
    this.hi = hi;
    this.init(oldCap, cap);
  }

  reset(cap: number): void {
    this.n.fill(0, 0, cap);
    this.f.fill(0, 0, cap);
    this.hi.fill(0, 0, cap);
    this.init(0, cap);
  }

  update(batch: RecordBatch, gids: Int32Array, len: number): void {
    const nn = this.n;
    const fieldIdx = this.spec.field;
    if (fieldIdx === null) {
      for (let i = 0; i < len; i++) {
        const g = gids[i]!;
        if (g >= 0) nn[g]!++;
      }
      return;
    }
    const col = batch.columns[fieldIdx]!;
    const validity = col.validity;
    const kind = this.spec.kind;
    if (kind === 'count') {
      for (let i = 0; i < len; i++) {
        const g = gids[i]!;
        if (g >= 0 && (validity === null || (validity[i >>> 3]! & (1 << (i & 7))) !== 0)) nn[g]!++;
      }
      return;
    }
    const acc = this.f;
    if (col.type === 'f64' || col.type === 'i32') {
      const v = col.values;
      if (kind === 'sum' || kind === 'avg') {
        if (col.type === 'f64') {
          for (let i = 0; i < len; i++) {
            const g = gids[i]!;
            if (g < 0 || (validity !== null && (validity[i >>> 3]! & (1 << (i & 7))) === 0)) continue;
            acc[g] = acc[g]! + v[i]!;
            nn[g]!++;
          }
        } else {
          // i32 sums stay exact in an f64 until 2^52; carry into hi beyond.
          const hi = this.hi;
          for (let i = 0; i < len; i++) {
            const g = gids[i]!;
            if (g < 0 || (validity !== null && (validity[i >>> 3]! & (1 << (i & 7))) === 0)) continue;
            let s = acc[g]! + v[i]!;
            if (s >= TWO52 || s <= -TWO52) {
              const c = Math.floor(s / TWO32);
              hi[g] = hi[g]! + c;
              s -= c * TWO32;
            }
            acc[g] = s;
            nn[g]!++;
          }
        }
      } else if (kind === 'min') {
        for (let i = 0; i < len; i++) {
          const g = gids[i]!;
          if (g < 0 || (validity !== null && (validity[i >>> 3]! & (1 << (i & 7))) === 0)) continue;
          const x = v[i]!;
          if (x < acc[g]! || x !== x) acc[g] = x; // NaN propagates, as in Java's Math.min
          nn[g]!++;
        }
      } else {
        for (let i = 0; i < len; i++) {
          const g = gids[i]!;
          if (g < 0 || (validity !== null && (validity[i >>> 3]! & (1 << (i & 7))) === 0)) continue;
          const x = v[i]!;
          if (x > acc[g]! || x !== x) acc[g] = x;
          nn[g]!++;
        }
      }
      return;
    }
    if (col.type !== 'i64' && col.type !== 'timestamp') return; // rejected when the spec is built
    const v32 = i32View(col.values);
    const hi = this.hi;
    if (kind === 'sum' || kind === 'avg') {
      for (let i = 0; i < len; i++) {
        const g = gids[i]!;
        if (g < 0 || (validity !== null && (validity[i >>> 3]! & (1 << (i & 7))) === 0)) continue;
        // Exact: unsigned low words accumulate in f (carried before 2^52), signed high words in hi.
        let s = acc[g]! + (v32[2 * i]! >>> 0);
        if (s >= TWO52) {
          const c = Math.floor(s / TWO32);
          hi[g] = hi[g]! + c;
          s -= c * TWO32;
        }
        acc[g] = s;
        hi[g] = hi[g]! + v32[2 * i + 1]!;
        nn[g]!++;
      }
    } else {
      // i64 min/max: compare (hi, unsigned lo); hi holds the high word, f the low word.
      const isMin = kind === 'min';
      for (let i = 0; i < len; i++) {
        const g = gids[i]!;
        if (g < 0 || (validity !== null && (validity[i >>> 3]! & (1 << (i & 7))) === 0)) continue;
        const xh = v32[2 * i + 1]!;
        const xl = v32[2 * i]! >>> 0;
        const ch = hi[g]!;
        if (isMin ? xh < ch || (xh === ch && xl < acc[g]!) : xh > ch || (xh === ch && xl > acc[g]!)) {
          hi[g] = xh;
          acc[g] = xl;
        }
        nn[g]!++;
      }
    }
  }

  /** The result column for groups `groups[0..n)`. */
  emit(groups: Int32Array, n: number): Column {
    const nn = this.n;
    const kind = this.spec.kind;
    if (kind === 'count') {
      const out = new BigInt64Array(n);
      const o = i32View(out);
      for (let i = 0; i < n; i++) setExact(o, i, nn[groups[i]!]!);
      return { type: 'i64', values: out, validity: null };
    }
    let validity: Uint8Array | null = null;
    for (let i = 0; i < n; i++) {
      if (nn[groups[i]!] === 0) {
        validity = new Uint8Array(bitmapBytes(n));
        for (let j = 0; j < n; j++) if (nn[groups[j]!]! > 0) validity[j >>> 3]! |= 1 << (j & 7);
        break;
      }
    }
    const f = this.f;
    const hi = this.hi;
    if (this.out === 'f64') {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const g = groups[i]!;
        if (nn[g] === 0) continue;
        if (kind === 'avg') {
          // Rounded once from the exact sum (hi * 2^32 is exact), as Rust's i128 -> f64.
          const sum = this.float ? f[g]! : hi[g]! * TWO32 + f[g]!;
          out[i] = sum / nn[g]!;
        } else out[i] = f[g]!;
      }
      return { type: 'f64', values: out, validity };
    }
    if (this.out === 'i32') {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) if (nn[groups[i]!]! > 0) out[i] = f[groups[i]!]!;
      return { type: 'i32', values: out, validity };
    }
    // i64 / timestamp: an exact sum, or a min/max of i32 (in f) or i64 (hi, lo) values.
    const out = new BigInt64Array(n);
    const o = i32View(out);
    for (let i = 0; i < n; i++) {
      const g = groups[i]!;
      if (nn[g] === 0) continue;
      let h: number;
      let l: number;
      if (kind === 'sum' || !this.wide) {
        const total = kind === 'sum' ? f[g]! : f[g]!; // low part (or the i32 value itself)
        const high = kind === 'sum' ? hi[g]! : 0;
        const c = Math.floor(total / TWO32);
        h = high + c;
        l = total - c * TWO32;
        if (h < -2147483648 || h > 2147483647) {
          throw new RangeError(
            `sum '${this.spec.name}' = ${BigInt(hi[g]!) * 2n ** 32n + BigInt(f[g]!)} does not fit in i64; aggregate a narrower value or use an f64 field`,
          );
        }
      } else {
        h = hi[g]!;
        l = f[g]!;
      }
      o[2 * i] = l;
      o[2 * i + 1] = h;
    }
    return { type: this.out as 'i64' | 'timestamp', values: out, validity };
  }

  /** Moves group `from` to slot `to` (compaction after firing). */
  move(from: number, to: number): void {
    this.n[to] = this.n[from]!;
    this.f[to] = this.f[from]!;
    this.hi[to] = this.hi[from]!;
  }
}

type KeyMode = 'i32' | 'i64' | 'bytes';

export class TsWindowAggregator implements WindowAggregator {
  readonly outputSchema: Schema;
  private readonly size: number;
  private readonly offset: number;
  private readonly mode: KeyMode;
  private readonly keyCol: number;
  private cap = 1024;
  private groups = 0;
  private winStart = new Float64Array(1024);
  private ghash = new Int32Array(1024);
  private klo = new Int32Array(1024);
  private khi = new Int32Array(1024);
  private kvalid = new Uint8Array(1024);
  private arena = new Uint8Array(4096);
  private arenaLen = 0;
  private spanStart = new Int32Array(1024);
  private spanLen = new Int32Array(1024);
  private index = new Int32Array(2048).fill(-1);
  private readonly accs: Acc[];
  private readonly scratch = new KeyScratch();
  private openWindows: number[] = [];
  private watermark = -Infinity;
  private gids = new Int32Array(1024);
  lateDropped = 0;

  constructor(private readonly spec: WindowAggregatorSpec) {
    this.outputSchema = windowOutputSchema(spec);
    this.size = spec.sizeMs;
    this.offset = spec.offsetMs;
    const k0 = spec.input.fields[spec.keyFields[0]!]!.type;
    this.mode = spec.keyFields.length === 1 && (k0 === 'i32' || k0 === 'i64' || k0 === 'timestamp') ? (k0 === 'i32' ? 'i32' : 'i64') : 'bytes';
    this.keyCol = spec.keyFields[0]!;
    const keyCount = spec.keyFields.length;
    this.accs = spec.aggregates.map(
      (a, i) =>
        new Acc(a, a.field === null ? 'i64' : spec.input.fields[a.field]!.type, this.outputSchema.fields[keyCount + 2 + i]!.type, this.cap),
    );
  }

  get memoryBytes(): number {
    return this.cap * (8 + 4 * 5 + 1 + 24 * this.accs.length) + this.index.length * 4 + this.arena.length;
  }

  private growGroups(): void {
    const old = this.cap;
    const cap = old * 2;
    const g = <T extends Float64Array | Int32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a as never);
      return b;
    };
    this.winStart = g(this.winStart, (n) => new Float64Array(n));
    this.ghash = g(this.ghash, (n) => new Int32Array(n));
    this.klo = g(this.klo, (n) => new Int32Array(n));
    this.khi = g(this.khi, (n) => new Int32Array(n));
    this.kvalid = g(this.kvalid, (n) => new Uint8Array(n));
    this.spanStart = g(this.spanStart, (n) => new Int32Array(n));
    this.spanLen = g(this.spanLen, (n) => new Int32Array(n));
    for (const a of this.accs) a.grow(old, cap);
    this.cap = cap;
  }

  private rehash(slots: number): void {
    const index = new Int32Array(slots).fill(-1);
    const mask = slots - 1;
    const gh = this.ghash;
    for (let g = 0; g < this.groups; g++) {
      let s = gh[g]! & mask;
      while (index[s] !== -1) s = (s + 1) & mask;
      index[s] = g;
    }
    this.index = index;
  }

  private newGroup(start: number, h: number): number {
    if (this.groups === this.cap) this.growGroups();
    const g = this.groups++;
    this.winStart[g] = start;
    this.ghash[g] = h;
    // Keep the open window starts sorted (binary search; usually the last one).
    const ow = this.openWindows;
    if (ow.length === 0 || ow[ow.length - 1]! < start) ow.push(start);
    else {
      let lo = 0;
      let hi = ow.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (ow[mid]! < start) lo = mid + 1;
        else hi = mid;
      }
      if (ow[lo] !== start) ow.splice(lo, 0, start);
    }
    return g;
  }

  push(batch: RecordBatch): number {
    const et = batch.eventTime;
    if (et === null) {
      throw new Error('the window operator got rows without event timestamps; assign them with assignTimestampsAndWatermarks');
    }
    const n = batch.length;
    if (this.gids.length < n) this.gids = new Int32Array(n);
    const before = this.lateDropped;
    if (this.mode === 'bytes') this.assignBytes(batch, i32View(et), n);
    else this.assignInt(batch, i32View(et), n);
    for (const a of this.accs) a.update(batch, this.gids, n);
    return this.lateDropped - before;
  }

  private assignInt(batch: RecordBatch, ts: Int32Array, n: number): void {
    const col = batch.columns[this.keyCol]!;
    const validity = col.validity;
    const wide = this.mode === 'i64';
    const kv = wide ? i32View((col as { values: BigInt64Array }).values) : (col as { values: Int32Array }).values;
    const size = this.size;
    const offset = this.offset;
    const wm = this.watermark;
    const gids = this.gids;
    let curStart = Infinity;
    let curEnd = -Infinity;
    let curLate = false;
    let late = 0;
    let sh = 0;
    for (let i = 0; i < n; i++) {
      const t = ts[2 * i + 1]! * TWO32 + (ts[2 * i]! >>> 0);
      if (t < curStart || t >= curEnd) {
        curStart = t - ((((t - offset) % size) + size) % size);
        curEnd = curStart + size;
        curLate = curStart + size - 1 <= wm;
        sh = Math.imul((curStart % TWO32) | 0, 0x9e3779b1) ^ ((curStart / TWO32) | 0);
      }
      if (curLate) {
        gids[i] = LATE;
        late++;
        continue;
      }
      const ok = validity === null || (validity[i >>> 3]! & (1 << (i & 7))) !== 0 ? 1 : 0;
      let lo = 0;
      let hi = 0;
      if (ok === 1) {
        if (wide) {
          lo = kv[2 * i]!;
          hi = kv[2 * i + 1]!;
        } else {
          lo = kv[i]!;
          hi = lo >> 31;
        }
      }
      // murmur3 steps over (lo, hi ^ window), then the validity bit; | 0 keeps it an int32 like ghash.
      const h = fmix32(mixH(mixH(0x5151ce00, lo), hi ^ sh) ^ ok) | 0;
      const index = this.index;
      const mask = index.length - 1;
      let s = h & mask;
      let g: number;
      for (;;) {
        g = index[s]!;
        if (g === -1) {
          g = this.newGroup(curStart, h);
          this.klo[g] = lo;
          this.khi[g] = hi;
          this.kvalid[g] = ok;
          index[s] = g;
          if (this.groups * 2 > index.length) this.rehash(index.length * 2);
          break;
        }
        if (this.ghash[g] === h && this.klo[g] === lo && this.khi[g] === hi && this.kvalid[g] === ok && this.winStart[g] === curStart) break;
        s = (s + 1) & mask;
      }
      gids[i] = g;
    }
    this.lateDropped += late;
  }

  private assignBytes(batch: RecordBatch, ts: Int32Array, n: number): void {
    const size = this.size;
    const offset = this.offset;
    const wm = this.watermark;
    const gids = this.gids;
    const keyCols = this.spec.keyFields.map((k) => batch.columns[k]!);
    const views = keyViews(keyCols);
    const sc = this.scratch;
    for (let i = 0; i < n; i++) {
      const t = ts[2 * i + 1]! * TWO32 + (ts[2 * i]! >>> 0);
      const start = t - ((((t - offset) % size) + size) % size);
      if (start + size - 1 <= wm) {
        gids[i] = LATE;
        this.lateDropped++;
        continue;
      }
      sc.len = 0;
      encodeKey(keyCols, views, i, sc);
      const kb = sc.buf;
      const kl = sc.len;
      const h = murmur3_32(kb, 0x5151ce00, kl) ^ Math.imul((start % TWO32) | 0, 0x9e3779b1);
      const index = this.index;
      const mask = index.length - 1;
      let s = h & mask;
      let g: number;
      for (;;) {
        g = index[s]!;
        if (g === -1) {
          g = this.newGroup(start, h);
          if (this.arenaLen + kl > this.arena.length) {
            const a = new Uint8Array(Math.max(this.arena.length * 2, this.arenaLen + kl));
            a.set(this.arena.subarray(0, this.arenaLen));
            this.arena = a;
          }
          this.arena.set(kb.subarray(0, kl), this.arenaLen);
          this.spanStart[g] = this.arenaLen;
          this.spanLen[g] = kl;
          this.arenaLen += kl;
          index[s] = g;
          if (this.groups * 2 > index.length) this.rehash(index.length * 2);
          break;
        }
        if (this.ghash[g] === h && this.winStart[g] === start && this.spanLen[g] === kl) {
          const a = this.arena;
          const p = this.spanStart[g]!;
          let eq = true;
          for (let j = 0; j < kl; j++) {
            if (a[p + j] !== kb[j]) {
              eq = false;
              break;
            }
          }
          if (eq) break;
        }
        s = (s + 1) & mask;
      }
      gids[i] = g;
    }
  }

  advanceWatermark(watermark: number): RecordBatch | null {
    if (!(watermark > this.watermark)) return null;
    this.watermark = watermark;
    const ow = this.openWindows;
    let fired = 0;
    while (fired < ow.length && ow[fired]! + this.size - 1 <= watermark) fired++;
    if (fired === 0) return null;
    const lastFired = ow[fired - 1]!;
    // Fired groups by window start, then first arrival: one pass, then a stable sort by start.
    const ws = this.winStart;
    let list: number[] = [];
    for (let g = 0; g < this.groups; g++) if (ws[g]! <= lastFired) list.push(g);
    if (fired > 1) list = list.sort((a, b) => ws[a]! - ws[b]! || a - b);
    const batch = this.emit(Int32Array.from(list), list.length);
    // Forget the fired windows only once their rows exist (an emit error leaves state as it was).
    this.openWindows = ow.slice(fired);
    this.retainOpen(lastFired);
    return batch;
  }

  private emit(groups: Int32Array, n: number): RecordBatch {
    const columns: Column[] = [];
    if (this.mode === 'bytes') {
      const keyTypes = this.spec.keyFields.map((k) => this.spec.input.fields[k]!.type);
      columns.push(...decodeKeyColumns(this.arena, this.spanStart, this.spanLen, groups, n, keyTypes));
    } else {
      let validity: Uint8Array | null = null;
      for (let i = 0; i < n; i++) {
        if (this.kvalid[groups[i]!] === 0) {
          validity = new Uint8Array(bitmapBytes(n));
          for (let j = 0; j < n; j++) if (this.kvalid[groups[j]!] === 1) validity[j >>> 3]! |= 1 << (j & 7);
          break;
        }
      }
      if (this.mode === 'i32') {
        const v = new Int32Array(n);
        for (let i = 0; i < n; i++) v[i] = this.klo[groups[i]!]!;
        columns.push({ type: 'i32', values: v, validity });
      } else {
        const v = new BigInt64Array(n);
        const o = i32View(v);
        for (let i = 0; i < n; i++) {
          o[2 * i] = this.klo[groups[i]!]!;
          o[2 * i + 1] = this.khi[groups[i]!]!;
        }
        columns.push({ type: this.spec.input.fields[this.keyCol]!.type as 'i64' | 'timestamp', values: v, validity });
      }
    }
    const starts = new BigInt64Array(n);
    const ends = new BigInt64Array(n);
    const et = new BigInt64Array(n);
    const s32 = i32View(starts);
    const e32 = i32View(ends);
    const t32 = i32View(et);
    for (let i = 0; i < n; i++) {
      const s = this.winStart[groups[i]!]!;
      setExact(s32, i, s);
      setExact(e32, i, s + this.size);
      setExact(t32, i, s + this.size - 1);
    }
    columns.push({ type: 'timestamp', values: starts, validity: null });
    columns.push({ type: 'timestamp', values: ends, validity: null });
    for (const a of this.accs) columns.push(a.emit(groups, n));
    return new RecordBatch(this.outputSchema, columns, n, et);
  }

  private retainOpen(lastFired: number): void {
    let m = 0;
    const ws = this.winStart;
    let arenaLen = 0;
    for (let g = 0; g < this.groups; g++) {
      if (ws[g]! <= lastFired) continue;
      if (m !== g) {
        ws[m] = ws[g]!;
        this.ghash[m] = this.ghash[g]!;
        this.klo[m] = this.klo[g]!;
        this.khi[m] = this.khi[g]!;
        this.kvalid[m] = this.kvalid[g]!;
        for (const a of this.accs) a.move(g, m);
      }
      if (this.mode === 'bytes') {
        const p = this.spanStart[g]!;
        const l = this.spanLen[g]!;
        this.arena.copyWithin(arenaLen, p, p + l);
        this.spanStart[m] = arenaLen;
        this.spanLen[m] = l;
        arenaLen += l;
      }
      m++;
    }
    const old = this.groups;
    this.groups = m;
    this.arenaLen = arenaLen;
    for (const a of this.accs) {
      a.n.fill(0, m, old);
      a.f.fill(0, m, old);
      a.hi.fill(0, m, old);
      if (a.spec.kind === 'min' || a.spec.kind === 'max') {
        const v = a.spec.kind === 'min' ? Infinity : -Infinity;
        a.f.fill(v, m, old);
        a.hi.fill(v, m, old);
      }
    }
    let slots = 2048;
    while (slots < m * 2) slots *= 2;
    this.rehash(slots);
  }
}

function setExact(v32: Int32Array, i: number, x: number): void {
  const hi = Math.floor(x / TWO32);
  v32[2 * i] = x - hi * TWO32;
  v32[2 * i + 1] = hi;
}

/** Rebuilds key columns from canonical key bytes (see key.ts). */
function decodeKeyColumns(
  arena: Uint8Array,
  spanStart: Int32Array,
  spanLen: Int32Array,
  groups: Int32Array,
  n: number,
  types: readonly DataType[],
): Column[] {
  const pos = new Int32Array(n);
  for (let i = 0; i < n; i++) pos[i] = spanStart[groups[i]!]!;
  const dv = new DataView(arena.buffer, arena.byteOffset, arena.byteLength);
  const cols: Column[] = [];
  for (const t of types) {
    const validity = new Uint8Array(bitmapBytes(n));
    let nulls = 0;
    const i32 = t === 'i32' ? new Int32Array(n) : null;
    const i64 = t === 'i64' || t === 'timestamp' ? new BigInt64Array(n) : null;
    const i64v = i64 === null ? null : i32View(i64);
    const f64 = t === 'f64' ? new Float64Array(n) : null;
    const bools = t === 'bool' ? new Uint8Array(bitmapBytes(n)) : null;
    const offsets = t === 'utf8' ? new Int32Array(n + 1) : null;
    let bytes = 0;
    if (offsets !== null) {
      // First pass for sizes.
      for (let i = 0; i < n; i++) {
        const p = pos[i]!;
        if (arena[p] === 1) bytes += dv.getUint32(p + 1, true);
      }
    }
    const data = offsets !== null ? new Uint8Array(bytes) : null;
    let dp = 0;
    for (let i = 0; i < n; i++) {
      let p = pos[i]!;
      const present = arena[p++] === 1;
      if (present) validity[i >>> 3]! |= 1 << (i & 7);
      else nulls++;
      if (present) {
        switch (t) {
          case 'i32':
            i32![i] = dv.getInt32(p, true);
            p += 4;
            break;
          case 'i64':
          case 'timestamp':
            i64v![2 * i] = dv.getInt32(p, true);
            i64v![2 * i + 1] = dv.getInt32(p + 4, true);
            p += 8;
            break;
          case 'f64':
            f64![i] = dv.getFloat64(p, true);
            p += 8;
            break;
          case 'bool':
            if (arena[p] === 1) bools![i >>> 3]! |= 1 << (i & 7);
            p += 1;
            break;
          case 'utf8': {
            const l = dv.getUint32(p, true);
            p += 4;
            data!.set(arena.subarray(p, p + l), dp);
            dp += l;
            p += l;
            break;
          }
        }
      }
      if (offsets !== null) offsets[i + 1] = dp;
      pos[i] = p;
    }
    const v = nulls > 0 ? validity : null;
    switch (t) {
      case 'i32':
        cols.push({ type: t, values: i32!, validity: v });
        break;
      case 'i64':
      case 'timestamp':
        cols.push({ type: t, values: i64!, validity: v });
        break;
      case 'f64':
        cols.push({ type: t, values: f64!, validity: v });
        break;
      case 'bool':
        cols.push({ type: t, values: bools!, validity: v });
        break;
      case 'utf8':
        cols.push({ type: t, offsets: offsets!, data: data!, validity: v });
        break;
    }
  }
  return cols;
}
