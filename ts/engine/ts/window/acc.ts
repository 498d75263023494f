/**
 * Accumulators of the built-in aggregates for the TS window operators, one slot per group, in
 * typed arrays, updated column-at-a-time and merged slot into slot. Mirrors
 * crates/sluice-core/src/window/acc.rs operation for operation (f64 sums add in the same
 * order, exact integer sums, NaN-propagating min/max, first/last by arrival sequence, exact
 * distinct sets over canonical values), so both engines produce identical results.
 */

import { Buffer } from 'node:buffer';
import { bitmapBytes, grown, type Column } from '../../../batch/column.js';
import { i32View } from '../../../batch/i64.js';
import type { RecordBatch } from '../../../batch/record-batch.js';
import type { DataType } from '../../../batch/schema.js';
import type { AggregateSpec } from '../../engine.js';
import { EngineError } from '../../errors.js';

const TWO32 = 4294967296;
const TWO52 = 4503599627370496;
const NO_FIRST = Infinity;
const NO_LAST = -1;

/** A distinct value: numbers for i32/f64/bool and exact i64s, strings otherwise (never equal to a number). */
type DistinctValue = number | string;

export class Acc {
  /** Non-null inputs (rows for count()). */
  n: Float64Array;
  /** f64 sum/min/max, the low part of an exact integer sum, i32/i64 min/max low word, first/last value (or low word). */
  f: Float64Array;
  /** High part of an exact integer sum (sum = hi * 2^32 + f), or the high word of i64 values. */
  hi: Float64Array;
  /** first/last: arrival sequence number of the value held. */
  seq: Float64Array;
  /** first/last of utf8 values. */
  bytes: (Uint8Array | null)[] = [];
  /** countDistinct: the set of each slot. */
  sets: (Set<DistinctValue> | null)[] = [];
  readonly float: boolean;
  readonly wide: boolean;
  readonly kind: AggregateSpec['kind'];
  readonly pick: boolean;

  constructor(
    readonly spec: AggregateSpec,
    readonly input: DataType,
    readonly out: DataType,
    cap: number,
  ) {
    this.kind = spec.kind;
    this.float = input === 'f64';
    this.wide = input === 'i64' || input === 'timestamp';
    this.pick = this.kind === 'first' || this.kind === 'last';
    this.n = new Float64Array(cap);
    this.f = new Float64Array(cap);
    this.hi = new Float64Array(cap);
    this.seq = new Float64Array(this.pick ? cap : 0);
    this.init(0, cap);
  }

  /** Empty slots [from, to). */
  init(from: number, to: number): void {
    const k = this.kind;
    this.n.fill(0, from, to);
    if (k === 'min' || k === 'max') {
      const lo = k === 'min' ? Infinity : -Infinity;
      this.f.fill(lo, from, to);
      this.hi.fill(lo, from, to);
    } else {
      this.f.fill(0, from, to);
      this.hi.fill(0, from, to);
    }
    if (this.pick) {
      this.seq.fill(k === 'first' ? NO_FIRST : NO_LAST, from, to);
      if (this.input === 'utf8') for (let g = from; g < to; g++) this.bytes[g] = null;
    }
    if (k === 'countDistinct') for (let g = from; g < to; g++) this.sets[g] = null;
  }

  grow(oldCap: number, cap: number): void {
    this.n = grown(this.n, cap);
    this.f = grown(this.f, cap);
    this.hi = grown(this.hi, cap);
    if (this.pick) this.seq = grown(this.seq, cap);
    this.init(oldCap, cap);
  }

  update(batch: RecordBatch, gids: Int32Array, len: number, seqBase: number): void {
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
    const kind = this.kind;
    if (kind === 'count' || this.pick || kind === 'countDistinct') {
      for (let i = 0; i < len; i++) {
        const g = gids[i]!;
        if (g >= 0 && (validity === null || (validity[i >>> 3]! & (1 << (i & 7))) !== 0)) nn[g]!++;
      }
      if (this.pick) this.updatePick(col, gids, len, seqBase);
      else if (kind === 'countDistinct') this.updateDistinct(col, gids, len);
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

  /** first: the earliest non-null row of each slot holding no value; last: the latest non-null row. */
  private updatePick(col: Column, gids: Int32Array, len: number, seqBase: number): void {
    const validity = col.validity;
    const seq = this.seq;
    const store = this.storer(col);
    if (this.kind === 'first') {
      for (let i = 0; i < len; i++) {
        const g = gids[i]!;
        if (g < 0 || seq[g] !== NO_FIRST || (validity !== null && (validity[i >>> 3]! & (1 << (i & 7))) === 0)) continue;
        seq[g] = seqBase + i;
        store(g, i);
      }
    } else {
      for (let i = len - 1; i >= 0; i--) {
        const g = gids[i]!;
        if (g < 0 || seq[g]! >= seqBase || (validity !== null && (validity[i >>> 3]! & (1 << (i & 7))) === 0)) continue;
        seq[g] = seqBase + i;
        store(g, i);
      }
    }
  }

  private storer(col: Column): (g: number, i: number) => void {
    const f = this.f;
    const hi = this.hi;
    switch (col.type) {
      case 'f64':
      case 'i32': {
        const v = col.values;
        return (g, i) => {
          f[g] = v[i]!;
        };
      }
      case 'bool': {
        const v = col.values;
        return (g, i) => {
          f[g] = (v[i >>> 3]! >>> (i & 7)) & 1;
        };
      }
      case 'i64':
      case 'timestamp': {
        const v32 = i32View(col.values);
        return (g, i) => {
          f[g] = v32[2 * i]!;
          hi[g] = v32[2 * i + 1]!;
        };
      }
      case 'utf8': {
        const o = col.offsets;
        const d = col.data;
        const bytes = this.bytes;
        return (g, i) => {
          bytes[g] = d.slice(o[i]!, o[i + 1]!);
        };
      }
    }
  }

  private updateDistinct(col: Column, gids: Int32Array, len: number): void {
    const validity = col.validity;
    const sets = this.sets;
    const valueOf = distinctReader(col);
    for (let i = 0; i < len; i++) {
      const g = gids[i]!;
      if (g < 0 || (validity !== null && (validity[i >>> 3]! & (1 << (i & 7))) === 0)) continue;
      let s = sets[g];
      if (s === null || s === undefined) sets[g] = s = new Set();
      s.add(valueOf(i));
    }
  }

  /** Merges slot `src` of `o` (the same aggregate; may be this) into slot `dst`. */
  mergeFrom(dst: number, o: Acc, src: number): void {
    const srcN = o.n[src]!;
    this.n[dst] = this.n[dst]! + srcN;
    if (srcN !== 0) this.mergeValue(dst, o, src);
  }

  /**
   * Merges, pair by pair and in order, slot `src[k]` of `o` into slot `dst[k]` of this (not the
   * same accumulator), one loop per aggregate kind.
   */
  mergePairs(o: Acc, dst: Int32Array, src: Int32Array, len: number): void {
    const n = this.n;
    const on = o.n;
    for (let k = 0; k < len; k++) {
      const d = dst[k]!;
      n[d] = n[d]! + on[src[k]!]!;
    }
    const f = this.f;
    const of = o.f;
    switch (this.kind) {
      case 'count':
        return;
      case 'sum':
      case 'avg':
        if (this.float) {
          for (let k = 0; k < len; k++) {
            const s = src[k]!;
            if (on[s] === 0) continue;
            const d = dst[k]!;
            f[d] = f[d]! + of[s]!;
          }
          return;
        }
        break;
      case 'min':
      case 'max':
        if (!this.wide) {
          const isMin = this.kind === 'min';
          for (let k = 0; k < len; k++) {
            const s = src[k]!;
            if (on[s] === 0) continue;
            const d = dst[k]!;
            const x = of[s]!;
            if ((isMin ? x < f[d]! : x > f[d]!) || x !== x) f[d] = x;
          }
          return;
        }
        break;
    }
    for (let k = 0; k < len; k++) {
      const s = src[k]!;
      if (on[s] !== 0) this.mergeValue(dst[k]!, o, s);
    }
  }

  /** Merges the value of slot `src` of `o` (not empty) into slot `dst`. */
  private mergeValue(dst: number, o: Acc, src: number): void {
    const f = this.f;
    const hi = this.hi;
    switch (this.kind) {
      case 'count':
        return;
      case 'sum':
      case 'avg':
        if (this.float) f[dst] = f[dst]! + o.f[src]!;
        else {
          let s = f[dst]! + o.f[src]!;
          let h = hi[dst]! + o.hi[src]!;
          if (s >= TWO52 || s <= -TWO52) {
            const c = Math.floor(s / TWO32);
            h += c;
            s -= c * TWO32;
          }
          f[dst] = s;
          hi[dst] = h;
        }
        return;
      case 'min':
      case 'max': {
        const isMin = this.kind === 'min';
        if (this.wide) {
          const xh = o.hi[src]!;
          const xl = o.f[src]!;
          const ch = hi[dst]!;
          if (isMin ? xh < ch || (xh === ch && xl < f[dst]!) : xh > ch || (xh === ch && xl > f[dst]!)) {
            hi[dst] = xh;
            f[dst] = xl;
          }
        } else {
          const x = o.f[src]!;
          if ((isMin ? x < f[dst]! : x > f[dst]!) || x !== x) f[dst] = x;
        }
        return;
      }
      case 'first':
      case 'last': {
        const s = o.seq[src]!;
        if (this.kind === 'first' ? s < this.seq[dst]! : s > this.seq[dst]!) {
          this.seq[dst] = s;
          f[dst] = o.f[src]!;
          hi[dst] = o.hi[src]!;
          if (this.input === 'utf8') this.bytes[dst] = o.bytes[src]!;
        }
        return;
      }
      case 'countDistinct': {
        const from = o.sets[src];
        if (from === null || from === undefined) return;
        let to = this.sets[dst];
        if (to === null || to === undefined) this.sets[dst] = to = new Set();
        for (const v of from) to.add(v);
        return;
      }
    }
  }

  /** Moves slot `from` to slot `to` (compaction). */
  move(from: number, to: number): void {
    this.n[to] = this.n[from]!;
    this.f[to] = this.f[from]!;
    this.hi[to] = this.hi[from]!;
    if (this.pick) {
      this.seq[to] = this.seq[from]!;
      if (this.input === 'utf8') this.bytes[to] = this.bytes[from]!;
    }
    if (this.kind === 'countDistinct') this.sets[to] = this.sets[from]!;
  }

  /** The result column for slots `groups[0..n)`. */
  emit(groups: Int32Array, n: number): Column {
    const nn = this.n;
    const kind = this.kind;
    if (kind === 'count' || kind === 'countDistinct') {
      const out = new BigInt64Array(n);
      const o = i32View(out);
      for (let i = 0; i < n; i++) {
        const g = groups[i]!;
        setExact(o, i, kind === 'count' ? nn[g]! : (this.sets[g]?.size ?? 0));
      }
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
    if (this.pick) return this.emitPick(groups, n, validity);
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
        const total = f[g]!; // low part (or the i32 value itself)
        const high = kind === 'sum' ? hi[g]! : 0;
        const c = Math.floor(total / TWO32);
        h = high + c;
        l = total - c * TWO32;
        if (h < -2147483648 || h > 2147483647) {
          throw new EngineError(
            'overflow',
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

  private emitPick(groups: Int32Array, n: number, validity: Uint8Array | null): Column {
    const nn = this.n;
    const f = this.f;
    switch (this.out) {
      case 'f64': {
        const out = new Float64Array(n);
        for (let i = 0; i < n; i++) if (nn[groups[i]!]! > 0) out[i] = f[groups[i]!]!;
        return { type: 'f64', values: out, validity };
      }
      case 'i32': {
        const out = new Int32Array(n);
        for (let i = 0; i < n; i++) if (nn[groups[i]!]! > 0) out[i] = f[groups[i]!]!;
        return { type: 'i32', values: out, validity };
      }
      case 'bool': {
        const out = new Uint8Array(bitmapBytes(n));
        for (let i = 0; i < n; i++) if (nn[groups[i]!]! > 0 && f[groups[i]!] === 1) out[i >>> 3]! |= 1 << (i & 7);
        return { type: 'bool', values: out, validity };
      }
      case 'i64':
      case 'timestamp': {
        const out = new BigInt64Array(n);
        const o = i32View(out);
        for (let i = 0; i < n; i++) {
          const g = groups[i]!;
          if (nn[g] === 0) continue;
          o[2 * i] = f[g]!;
          o[2 * i + 1] = this.hi[g]!;
        }
        return { type: this.out, values: out, validity };
      }
      case 'utf8': {
        const offsets = new Int32Array(n + 1);
        let total = 0;
        for (let i = 0; i < n; i++) {
          const g = groups[i]!;
          if (nn[g]! > 0) total += this.bytes[g]!.length;
          offsets[i + 1] = total;
        }
        const data = new Uint8Array(total);
        for (let i = 0; i < n; i++) {
          const g = groups[i]!;
          if (nn[g]! > 0) data.set(this.bytes[g]!, offsets[i]!);
        }
        return { type: 'utf8', offsets, data, validity };
      }
    }
  }
}

/** Canonical distinct values of a column: equal exactly when the canonical bytes are. */
function distinctReader(col: Column): (i: number) => DistinctValue {
  switch (col.type) {
    case 'i32':
    case 'f64': {
      // Set equality is SameValueZero: NaN equals NaN and -0 equals +0, as the canonical bytes.
      const v = col.values;
      return (i) => v[i]!;
    }
    case 'bool': {
      const v = col.values;
      return (i) => (v[i >>> 3]! >>> (i & 7)) & 1;
    }
    case 'i64':
    case 'timestamp': {
      const v32 = i32View(col.values);
      return (i) => {
        const h = v32[2 * i + 1]!;
        const l = v32[2 * i]! >>> 0;
        return h >= -2097152 && h < 2097152 ? h * TWO32 + l : `${h}:${l}`;
      };
    }
    case 'utf8': {
      const o = col.offsets;
      const d = Buffer.from(col.data.buffer, col.data.byteOffset, col.data.byteLength);
      // latin1 maps bytes to a string one to one (utf8 decoding would merge invalid sequences).
      return (i) => d.toString('latin1', o[i]!, o[i + 1]!);
    }
  }
}

/** The accumulators of every aggregate, indexed by slot. */
export class Accs {
  readonly list: Acc[];
  cap: number;

  constructor(
    specs: readonly AggregateSpec[],
    inputTypes: readonly DataType[],
    outTypes: readonly DataType[],
    cap: number,
  ) {
    this.cap = cap;
    this.list = specs.map((a, i) => new Acc(a, inputTypes[i]!, outTypes[i]!, cap));
  }

  ensure(slots: number): void {
    if (slots <= this.cap) return;
    let cap = this.cap;
    while (cap < slots) cap *= 2;
    for (const a of this.list) a.grow(this.cap, cap);
    this.cap = cap;
  }

  update(batch: RecordBatch, gids: Int32Array, len: number, seqBase: number): void {
    for (const a of this.list) a.update(batch, gids, len, seqBase);
  }

  mergeFrom(dst: number, other: Accs, src: number): void {
    for (let k = 0; k < this.list.length; k++) this.list[k]!.mergeFrom(dst, other.list[k]!, src);
  }

  /** Merges slot `src[k]` of `other` into slot `dst[k]` of this, for k in order. */
  mergePairs(other: Accs, dst: Int32Array, src: Int32Array, len: number): void {
    for (let k = 0; k < this.list.length; k++) this.list[k]!.mergePairs(other.list[k]!, dst, src, len);
  }

  move(from: number, to: number): void {
    for (const a of this.list) a.move(from, to);
  }

  /** Empties slots [from, to). */
  reset(from: number, to: number): void {
    for (const a of this.list) a.init(from, Math.min(to, this.cap));
  }

  emit(groups: Int32Array, n: number): Column[] {
    return this.list.map((a) => a.emit(groups, n));
  }

  get bytesPerSlot(): number {
    return 24 * this.list.length + this.list.reduce((s, a) => s + (a.pick ? 8 : 0), 0);
  }
}

export function setExact(v32: Int32Array, i: number, x: number): void {
  const hi = Math.floor(x / TWO32);
  v32[2 * i] = x - hi * TWO32;
  v32[2 * i + 1] = hi;
}
