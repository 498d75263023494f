/**
 * Canonical key bytes, identical to `encode_key` in crates/sluice-core/src/window.rs: per key
 * field a tag byte (0 null, 1 value) then the value: i32 4 bytes LE, i64/timestamp 8 LE, f64
 * bits 8 LE (-0 as +0, every NaN as 0x7ff8000000000000), bool 1 byte, utf8 u32 LE length +
 * bytes. Hashing these bytes gives the same key group in both engines.
 */

import type { Column } from '../batch/column.js';
import { i32View } from '../batch/i64.js';

export class KeyScratch {
  buf = new Uint8Array(256);
  len = 0;
  private readonly f = new Float64Array(1);
  private readonly fb = new Uint8Array(this.f.buffer);

  ensure(extra: number): void {
    if (this.len + extra > this.buf.length) {
      const b = new Uint8Array(Math.max(this.buf.length * 2, this.len + extra));
      b.set(this.buf.subarray(0, this.len));
      this.buf = b;
    }
  }

  putI32(v: number): void {
    const b = this.buf;
    b[this.len++] = v & 0xff;
    b[this.len++] = (v >>> 8) & 0xff;
    b[this.len++] = (v >>> 16) & 0xff;
    b[this.len++] = (v >>> 24) & 0xff;
  }

  putF64(x: number): void {
    const b = this.buf;
    if (x !== x) {
      // NaN
      for (let k = 0; k < 6; k++) b[this.len++] = 0;
      b[this.len++] = 0xf8;
      b[this.len++] = 0x7f;
      return;
    }
    this.f[0] = x === 0 ? 0 : x;
    for (let k = 0; k < 8; k++) b[this.len++] = this.fb[k]!;
  }
}

/** Per key column, an Int32Array view for i64/timestamp columns (made once per batch). */
export function keyViews(cols: readonly Column[]): (Int32Array | null)[] {
  return cols.map((c) => (c.type === 'i64' || c.type === 'timestamp' ? i32View(c.values) : null));
}

export function encodeKey(cols: readonly Column[], views: readonly (Int32Array | null)[], i: number, sc: KeyScratch): void {
  for (let ci = 0; ci < cols.length; ci++) {
    const c = cols[ci]!;
    sc.ensure(9);
    const b = sc.buf;
    if (c.validity !== null && (c.validity[i >>> 3]! & (1 << (i & 7))) === 0) {
      b[sc.len++] = 0;
      continue;
    }
    b[sc.len++] = 1;
    switch (c.type) {
      case 'i32':
        sc.putI32(c.values[i]!);
        break;
      case 'i64':
      case 'timestamp': {
        const v32 = views[ci]!;
        sc.putI32(v32[2 * i]!);
        sc.putI32(v32[2 * i + 1]!);
        break;
      }
      case 'f64':
        sc.putF64(c.values[i]!);
        break;
      case 'bool':
        b[sc.len++] = (c.values[i >>> 3]! >>> (i & 7)) & 1;
        break;
      case 'utf8': {
        const s = c.offsets[i]!;
        const e = c.offsets[i + 1]!;
        const l = e - s;
        sc.putI32(l);
        sc.ensure(l);
        sc.buf.set(c.data.subarray(s, e), sc.len);
        sc.len += l;
        break;
      }
    }
  }
}
