/**
 * A native calc's output written into buffers allocated here (`NativeCalc.processInto`), for
 * calcs whose computed columns are all fixed-width: Rust writes each kernel's values where they
 * belong, and the columns are typed-array views of those buffers, so no Rust column is copied
 * out and no typed array is made natively (together 15-20% of the calc kernel's time).
 *
 * One buffer per column's values, the kept rows' event time and their indices, as the copies
 * were (one buffer of all of them, above glibc's mmap threshold at 8192 rows, was mapped and
 * faulted in per batch), and a head buffer laid out as `crates/sluice-core/src/calc/into.rs`
 * computes it: rows kept, flags, largest event time kept, a has-nulls byte per column, then
 * each column's validity bitmap.
 */

import { bitmapBytes, type Column } from '../../batch/column.js';
import { noteExactMax } from '../../batch/i64.js';
import type { DataType } from '../../batch/schema.js';
import { outputBytes, type Lease } from '../../batch/lease.js';

const HEADER = 16;
const WROTE_SELECTION = 1;
const WROTE_EVENT_TIME = 2;

const align8 = (n: number): number => (n + 7) & ~7;

/** Bytes per value of the types written so; null for bool and utf8 (not written into buffers). */
function fixedWidth(t: DataType): number | null {
  return t === 'i32' ? 4 : t === 'i64' || t === 'timestamp' || t === 'f64' ? 8 : null;
}

/** What one call gave: the computed columns of the kept rows, their event time and indices when rows were dropped. */
export interface IntoOutput {
  readonly length: number;
  readonly columns: readonly Column[];
  /** The kept rows' event time, written when rows were dropped (else null: the input's holds). */
  readonly eventTime: BigInt64Array | null;
  /** The kept rows' indices when rows were dropped and the caller passes columns through. */
  readonly selection: Uint32Array | null;
}

/** The native call: writes into the buffers, returns the rows kept. */
export type WriteInto = (head: Uint8Array, values: Uint8Array[], eventTime: Uint8Array | null, selection: Uint8Array | null) => number;

/**
 * Runs `write` over buffers for a batch of `n` rows and returns the columns as views of them.
 * `filtered`: the calc has a filter (only then are event time and selection written);
 * `eventTime`: the batch has one; `selection`: the caller passes input columns through.
 */
export function processInto(types: readonly DataType[], n: number, filtered: boolean, eventTime: boolean, selection: boolean, lease: Lease | undefined, write: WriteInto): IntoOutput {
  const k = types.length;
  const bits = align8(bitmapBytes(n));
  const validityAt = align8(HEADER + k);
  // Rust writes every byte that is read.
  const alloc = (bytes: number): Uint8Array => outputBytes(bytes, lease);
  const head = alloc(validityAt + k * bits);
  const values = types.map((t) => alloc(fixedWidth(t)! * n));
  const et = filtered && eventTime ? alloc(8 * n) : null;
  const sel = filtered && selection ? alloc(4 * n) : null;
  const m = write(head, values, et, sel);
  const words = new DataView(head.buffer, head.byteOffset, HEADER);
  const flags = words.getUint32(4, true);
  const columns = types.map((t, j): Column => {
    const validity = head[HEADER + j] === 0 ? null : new Uint8Array(head.buffer, head.byteOffset + validityAt + j * bits, bitmapBytes(m));
    const v = values[j]!;
    switch (t) {
      case 'i32':
        return { type: 'i32', values: new Int32Array(v.buffer, v.byteOffset, m), validity };
      case 'i64':
      case 'timestamp':
        return { type: t, values: new BigInt64Array(v.buffer, v.byteOffset, m), validity };
      case 'f64':
        return { type: 'f64', values: new Float64Array(v.buffer, v.byteOffset, m), validity };
      default:
        throw new Error(`internal error: a ${t} column cannot be written into a buffer`);
    }
  });
  let kept: BigInt64Array | null = null;
  if (et !== null && (flags & WROTE_EVENT_TIME) !== 0) {
    kept = new BigInt64Array(et.buffer, et.byteOffset, m);
    const max = words.getFloat64(8, true);
    if (!Number.isNaN(max)) noteExactMax(kept, m, max);
  }
  const indices = sel !== null && (flags & WROTE_SELECTION) !== 0 ? new Uint32Array(sel.buffer, sel.byteOffset, m) : null;
  return { length: m, columns, eventTime: kept, selection: indices };
}
