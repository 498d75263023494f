/**
 * Columns: one typed array per field, plus an optional validity bitmap (least significant bit
 * first; null means no nulls). Bool values are a bitmap too. Utf8 is offsets plus bytes.
 */

import type { Lease } from './lease.js';
import { f64View } from './i64.js';
import type { DataType } from './schema.js';

export interface I32Column {
  readonly type: 'i32';
  readonly values: Int32Array;
  readonly validity: Uint8Array | null;
}
export interface I64Column {
  readonly type: 'i64' | 'timestamp';
  readonly values: BigInt64Array;
  readonly validity: Uint8Array | null;
}
export interface F64Column {
  readonly type: 'f64';
  readonly values: Float64Array;
  readonly validity: Uint8Array | null;
}
export interface BoolColumn {
  readonly type: 'bool';
  /** Bitmap of `length` bits. */
  readonly values: Uint8Array;
  readonly validity: Uint8Array | null;
}
export interface Utf8Column {
  readonly type: 'utf8';
  /** length + 1 offsets into data. */
  readonly offsets: Int32Array;
  readonly data: Uint8Array;
  readonly validity: Uint8Array | null;
}

export type Column = I32Column | I64Column | F64Column | BoolColumn | Utf8Column;

/** A typed array of `cap` elements starting with `a`'s contents; the rest is `fill` (default 0). */
export function grown<T extends Float64Array | Int32Array | Uint8Array>(a: T, cap: number, fill?: number): T {
  const b = new (a.constructor as new (n: number) => T)(cap);
  b.set(a as never);
  if (fill !== undefined) b.fill(fill as never, a.length);
  return b;
}

export function bitmapBytes(n: number): number {
  return (n + 7) >>> 3;
}

export function bitGet(bitmap: Uint8Array, i: number): boolean {
  return (bitmap[i >>> 3]! & (1 << (i & 7))) !== 0;
}

export function bitSet(bitmap: Uint8Array, i: number): void {
  bitmap[i >>> 3]! |= 1 << (i & 7);
}

export function isValid(col: Column, i: number): boolean {
  return col.validity === null || bitGet(col.validity, i);
}

export function emptyColumn(type: DataType): Column {
  switch (type) {
    case 'i32':
      return { type, values: new Int32Array(0), validity: null };
    case 'i64':
    case 'timestamp':
      return { type, values: new BigInt64Array(0), validity: null };
    case 'f64':
      return { type, values: new Float64Array(0), validity: null };
    case 'bool':
      return { type, values: new Uint8Array(0), validity: null };
    case 'utf8':
      return { type, offsets: new Int32Array(1), data: new Uint8Array(0), validity: null };
  }
}

/** The buffers of a column in the order the native layer expects them. */
export function columnBuffers(col: Column): ArrayBufferView[] {
  const validity = col.validity ?? EMPTY;
  if (col.type === 'utf8') return [validity, col.offsets, col.data];
  return [validity, col.values];
}

const EMPTY = new Uint8Array(0);

/** The first `lens[i]` rows of each column of `cols` (all of type `type`), one after another. */
export function concatColumns(type: DataType, cols: readonly Column[], lens: readonly number[]): Column {
  let n = 0;
  for (const l of lens) n += l;
  let validity: Uint8Array | null = null;
  if (cols.some((c) => c.validity !== null)) {
    validity = new Uint8Array(bitmapBytes(n));
    let at = 0;
    cols.forEach((c, k) => {
      for (let i = 0; i < lens[k]!; i++, at++) if (c.validity === null || bitGet(c.validity, i)) bitSet(validity!, at);
    });
  }
  switch (type) {
    case 'i32':
    case 'f64':
    case 'i64':
    case 'timestamp': {
      const out = type === 'i32' ? new Int32Array(n) : type === 'f64' ? new Float64Array(n) : new BigInt64Array(n);
      let at = 0;
      cols.forEach((c, k) => {
        const v = (c as I32Column | F64Column | I64Column).values;
        (out as { set(a: ArrayLike<number | bigint>, o: number): void }).set(v.subarray(0, lens[k]!), at);
        at += lens[k]!;
      });
      return { type, values: out, validity } as Column;
    }
    case 'bool': {
      const out = new Uint8Array(bitmapBytes(n));
      let at = 0;
      cols.forEach((c, k) => {
        for (let i = 0; i < lens[k]!; i++, at++) if (bitGet((c as BoolColumn).values, i)) bitSet(out, at);
      });
      return { type: 'bool', values: out, validity };
    }
    case 'utf8': {
      const offsets = new Int32Array(n + 1);
      let bytes = 0;
      cols.forEach((c, k) => {
        const u = c as Utf8Column;
        bytes += u.offsets[lens[k]!]! - u.offsets[0]!;
      });
      const data = new Uint8Array(bytes);
      let at = 0;
      let dp = 0;
      cols.forEach((c, k) => {
        const u = c as Utf8Column;
        const base = u.offsets[0]!;
        for (let i = 1; i <= lens[k]!; i++) offsets[at + i] = dp + u.offsets[i]! - base;
        data.set(u.data.subarray(base, u.offsets[lens[k]!]!), dp);
        dp += u.offsets[lens[k]!]! - base;
        at += lens[k]!;
      });
      return { type: 'utf8', offsets, data, validity };
    }
  }
}

/** Selects rows `idx[0..n)` of a batch's event time (gather), into `lease`'s memory when given. */
export function takeEventTime(et: BigInt64Array, idx: Uint32Array | Int32Array, n: number, lease?: Lease): BigInt64Array {
  return (takeColumn({ type: 'timestamp', values: et, validity: null }, idx, n, lease) as { values: BigInt64Array }).values;
}

/**
 * Selects rows `idx[0..n)` of a column into a new column (gather); with `lease`, fixed-width
 * values go into its memory (valid until it is released).
 */
export function takeColumn(col: Column, idx: Uint32Array | Int32Array, n: number, lease?: Lease): Column {
  let validity: Uint8Array | null = null;
  if (col.validity !== null) {
    const src = col.validity;
    validity = new Uint8Array(bitmapBytes(n));
    let anyNull = false;
    for (let i = 0; i < n; i++) {
      const j = idx[i]!;
      if ((src[j >>> 3]! & (1 << (j & 7))) !== 0) validity[i >>> 3]! |= 1 << (i & 7);
      else anyNull = true;
    }
    if (!anyNull) validity = null;
  }
  switch (col.type) {
    case 'i32': {
      const out = lease === undefined ? new Int32Array(n) : new Int32Array(lease.bytes(4 * n).buffer, 0, n);
      const v = col.values;
      for (let i = 0; i < n; i++) out[i] = v[idx[i]!]!;
      return { type: 'i32', values: out, validity };
    }
    case 'i64':
    case 'timestamp':
    case 'f64': {
      // All 8-byte values moved as doubles (f64View: bits unchanged).
      const out = lease === undefined ? new Float64Array(n) : new Float64Array(lease.bytes(8 * n).buffer, 0, n);
      const v = f64View(col.values);
      for (let i = 0; i < n; i++) out[i] = v[idx[i]!]!;
      return col.type === 'f64' ? { type: 'f64', values: out, validity } : { type: col.type, values: new BigInt64Array(out.buffer, 0, n), validity };
    }
    case 'bool': {
      const out = new Uint8Array(bitmapBytes(n));
      const v = col.values;
      for (let i = 0; i < n; i++) {
        const j = idx[i]!;
        if ((v[j >>> 3]! & (1 << (j & 7))) !== 0) out[i >>> 3]! |= 1 << (i & 7);
      }
      return { type: 'bool', values: out, validity };
    }
    case 'utf8': {
      const so = col.offsets;
      const sd = col.data;
      let bytes = 0;
      for (let i = 0; i < n; i++) bytes += so[idx[i]! + 1]! - so[idx[i]!]!;
      const offsets = new Int32Array(n + 1);
      const data = new Uint8Array(bytes);
      let p = 0;
      for (let i = 0; i < n; i++) {
        const j = idx[i]!;
        const s = so[j]!;
        const e = so[j + 1]!;
        if (e - s < 16) for (let k = s; k < e; k++) data[p++] = sd[k]!;
        else {
          data.set(sd.subarray(s, e), p);
          p += e - s;
        }
        offsets[i + 1] = p;
      }
      return { type: 'utf8', offsets, data, validity };
    }
  }
}
