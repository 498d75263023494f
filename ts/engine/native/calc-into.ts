/**
 * A native calc's output written into a buffer allocated here (`NativeCalc.processInto`), for
 * calcs whose computed columns are all fixed-width: Rust writes each kernel's values where they
 * belong, and the columns are typed-array views of that buffer, so no Rust column is copied
 * out and no typed array is made natively (together 15-20% of the calc kernel's time).
 *
 * One buffer of parts, each 8-aligned, laid out as `crates/sluice-core/src/calc/into.rs`
 * (`IntoLayout`) computes it: a head (rows kept, flags, largest event time kept, a has-nulls
 * byte per column, then each column's validity bitmap), each column's values, the kept rows'
 * event time and their indices. One buffer is one typed array to lend and to pass (a buffer
 * per part was 0.3-0.5 us of a 2.2 us call). Without a lease it is one allocation of its own,
 * which above glibc's mmap threshold is mapped and faulted in per batch: the operators lend.
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

/** The native call: writes into the buffer, returns the rows kept. */
export type WriteInto = (out: Uint8Array) => number;

/**
 * Runs `write` over a buffer for a batch of `n` rows and returns the columns as views of it.
 * `filtered`: the calc has a filter (only then are event time and selection written);
 * `eventTime`: the batch has one; `selection`: the caller passes input columns through.
 */
export function processInto(types: readonly DataType[], n: number, filtered: boolean, eventTime: boolean, selection: boolean, lease: Lease | undefined, write: WriteInto): IntoOutput {
  const k = types.length;
  const bits = align8(bitmapBytes(n));
  const validityAt = align8(HEADER + k);
  // The parts, as IntoLayout places them.
  let at = validityAt + k * bits;
  const valuesAt = types.map((t) => {
    const o = at;
    at = align8(at + fixedWidth(t)! * n);
    return o;
  });
  const etAt = filtered && eventTime ? at : -1;
  if (etAt >= 0) at += 8 * n;
  const selAt = filtered && selection ? at : -1;
  if (selAt >= 0) at += 4 * n;
  // Rust writes every byte that is read.
  const out = outputBytes(at, lease);
  const m = write(out);
  const { buffer, byteOffset } = out;
  // The flags' u32 is little-endian and below 256: its first byte (a DataView made per call
  // only to read it cost more).
  const flags = out[4]!;
  const columns = types.map((t, j): Column => {
    const validity = out[HEADER + j] === 0 ? null : new Uint8Array(buffer, byteOffset + validityAt + j * bits, bitmapBytes(m));
    const o = byteOffset + valuesAt[j]!;
    switch (t) {
      case 'i32':
        return { type: 'i32', values: new Int32Array(buffer, o, m), validity };
      case 'i64':
      case 'timestamp':
        return { type: t, values: new BigInt64Array(buffer, o, m), validity };
      case 'f64':
        return { type: 'f64', values: new Float64Array(buffer, o, m), validity };
      default:
        throw new Error(`internal error: a ${t} column cannot be written into a buffer`);
    }
  });
  let kept: BigInt64Array | null = null;
  if (etAt >= 0 && (flags & WROTE_EVENT_TIME) !== 0) {
    kept = new BigInt64Array(buffer, byteOffset + etAt, m);
    const max = new DataView(buffer, byteOffset, HEADER).getFloat64(8, true);
    if (!Number.isNaN(max)) noteExactMax(kept, m, max);
  }
  const indices = selAt >= 0 && (flags & WROTE_SELECTION) !== 0 ? new Uint32Array(buffer, byteOffset + selAt, m) : null;
  return { length: m, columns, eventTime: kept, selection: indices };
}
