/**
 * The layout of a batch in an exchange segment: a fixed-size block of shared memory (one of a
 * run's segment pool) that a partitioner fills with the rows it sends one downstream subtask
 * and the consumer reads in place. The layout is a pure function of the schema and the segment
 * size (crates/sluice-core/src/segment.rs computes the same), so nothing describes it per batch:
 *
 *   header: u32 rows, u32 flags (bit 0: the event time is present; bit 1: it is the values of
 *           column `flags >>> 8`, a source's timestamp field, and its region is not written),
 *           then one byte per column (1: the column has nulls, its validity bitmap is read),
 *           padded to 8 bytes;
 *   regions (each 8-byte aligned), for a capacity of C rows: the event time (8 C), the 8-byte
 *           values (i64, timestamp, f64) in schema order, the 4-byte ones (i32 values, utf8
 *           offsets of C + 1), the bitmaps (bool values, then every column's validity), then
 *           each utf8 column's bytes (UTF8_BYTES_PER_ROW C each).
 *
 * C is the largest capacity whose regions fit. A segment is full when it holds C rows or a utf8
 * column's bytes would not fit; a row that does not fit an empty segment is refused by the
 * partitioner with its size.
 */

import { RecordBatch } from './record-batch.js';
import type { Column } from './column.js';
import type { Schema } from './schema.js';

/** Bytes reserved per row and utf8 column for its text (longer text fills a segment sooner). */
export const UTF8_BYTES_PER_ROW = 32;

/** Header flags: the event time is present; it is column `flags >>> 8`'s values. */
export const ET_PRESENT = 1;
export const ET_IS_COLUMN = 2;

export interface ColumnRegion {
  /** Byte offset of the validity bitmap. */
  readonly validity: number;
  /** Byte offset of the values (utf8: the offsets). */
  readonly values: number;
  /** utf8: byte offset and capacity of the text; 0 and 0 otherwise. */
  readonly data: number;
  readonly dataBytes: number;
}

export interface SegmentLayout {
  readonly segmentBytes: number;
  /** Rows one segment holds at most. */
  readonly capacity: number;
  readonly headerBytes: number;
  readonly eventTime: number;
  readonly columns: readonly ColumnRegion[];
}

const align8 = (n: number): number => (n + 7) & ~7;
const bitmap = (n: number): number => (n + 7) >>> 3;

function regions(schema: Schema, segmentBytes: number, c: number): SegmentLayout & { readonly end: number } {
  const types = schema.fields.map((f) => f.type);
  const headerBytes = align8(8 + types.length);
  let at = headerBytes;
  const take = (bytes: number): number => {
    const o = at;
    at += align8(bytes);
    return o;
  };
  const eventTime = take(8 * c);
  const values = new Array<number>(types.length).fill(-1);
  types.forEach((t, k) => {
    if (t === 'i64' || t === 'timestamp' || t === 'f64') values[k] = take(8 * c);
  });
  types.forEach((t, k) => {
    if (t === 'i32') values[k] = take(4 * c);
    else if (t === 'utf8') values[k] = take(4 * (c + 1));
  });
  types.forEach((t, k) => {
    if (t === 'bool') values[k] = take(bitmap(c));
  });
  const validity = types.map(() => take(bitmap(c)));
  const columns = types.map((t, k): ColumnRegion => {
    if (t !== 'utf8') return { validity: validity[k]!, values: values[k]!, data: 0, dataBytes: 0 };
    const dataBytes = UTF8_BYTES_PER_ROW * c;
    return { validity: validity[k]!, values: values[k]!, data: take(dataBytes), dataBytes };
  });
  return { segmentBytes, capacity: c, headerBytes, eventTime, columns, end: at };
}

/** The layout of `schema` in segments of `segmentBytes`; fails when not even one row fits. */
export function segmentLayout(schema: Schema, segmentBytes: number): SegmentLayout {
  // Bytes per row without padding, for a first guess from above; then down to what fits.
  const perRow = 8 + schema.fields.reduce((n, f) => n + 0.125 + (f.type === 'i32' ? 4 : f.type === 'bool' ? 0.125 : f.type === 'utf8' ? 4 + UTF8_BYTES_PER_ROW : 8), 0);
  // The largest capacity that fits (the regions grow with it): a binary search below the guess.
  let lo = 0;
  let hi = Math.max(0, Math.ceil(segmentBytes / perRow));
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (regions(schema, segmentBytes, mid).end <= segmentBytes) lo = mid;
    else hi = mid - 1;
  }
  const c = lo;
  if (c < 1) throw new RangeError(`an exchange segment of ${segmentBytes} bytes cannot hold one row of the schema ${schema}; raise the segment size`);
  const { end: _end, ...layout } = regions(schema, segmentBytes, c);
  return layout;
}

/** Rows the segment at `base` of `memory` holds. */
export function segmentRows(memory: Int32Array, base: number): number {
  return memory[base >>> 2]!;
}

/**
 * The rows of the segment at byte `base` of `buffer` as a batch of typed-array views over it
 * (no copy): valid until the segment is released back to its pool. `ownedBatch` copies it.
 */
export function segmentBatch(buffer: ArrayBufferLike, base: number, layout: SegmentLayout, schema: Schema): RecordBatch {
  const head = new Uint32Array(buffer, base, 2);
  const rows = head[0]!;
  const flags = head[1]!;
  const hasNulls = new Uint8Array(buffer, base + 8, layout.columns.length);
  const columns = schema.fields.map((f, k): Column => {
    const r = layout.columns[k]!;
    const validity = hasNulls[k] === 0 ? null : new Uint8Array(buffer, base + r.validity, bitmap(rows));
    switch (f.type) {
      case 'i32':
        return { type: 'i32', values: new Int32Array(buffer, base + r.values, rows), validity };
      case 'i64':
      case 'timestamp':
        return { type: f.type, values: new BigInt64Array(buffer, base + r.values, rows), validity };
      case 'f64':
        return { type: 'f64', values: new Float64Array(buffer, base + r.values, rows), validity };
      case 'bool':
        return { type: 'bool', values: new Uint8Array(buffer, base + r.values, bitmap(rows)), validity };
      case 'utf8': {
        const offsets = new Int32Array(buffer, base + r.values, rows + 1);
        return { type: 'utf8', offsets, data: new Uint8Array(buffer, base + r.data, offsets[rows]!), validity };
      }
    }
  });
  let eventTime: BigInt64Array | null = null;
  if ((flags & ET_IS_COLUMN) !== 0) {
    // The column's own view, so that downstream the event time is seen to be that column too.
    const c = columns[flags >>> 8];
    if (c === undefined || (c.type !== 'i64' && c.type !== 'timestamp')) throw new Error(`internal error: a segment's event time is column ${flags >>> 8}, which is not an i64 or timestamp column`);
    eventTime = c.values;
  } else if ((flags & ET_PRESENT) !== 0) eventTime = new BigInt64Array(buffer, base + layout.eventTime, rows);
  return new RecordBatch(schema, columns, rows, eventTime);
}

/** Whether any buffer of the batch lies in shared memory (an exchange segment or a lent buffer, batch/lease.ts, it must not outlive). */
export function isBorrowed(batch: RecordBatch): boolean {
  return (batch.eventTime !== null && shared(batch.eventTime)) || batch.columns.some(borrowsColumn);
}

function shared(a: ArrayBufferView): boolean {
  return a.buffer instanceof SharedArrayBuffer;
}

function borrowsColumn(c: Column): boolean {
  return (c.validity !== null && shared(c.validity)) || shared(c.type === 'utf8' ? c.data : c.values) || (c.type === 'utf8' && shared(c.offsets));
}

/** Where `ownedBatch` takes the space for its copies (`bytes` at least, not necessarily zero-filled). */
export type CopySpace = (bytes: number) => ArrayBuffer;

/** A typed array of any column buffer's kind. */
type ColumnBuffer = Uint8Array | Int32Array | Float64Array | BigInt64Array;

/** Heap space for copies: views at 8-byte boundaries of one ArrayBuffer. */
class Arena {
  private readonly buffer: ArrayBuffer;
  private at = 0;

  constructor(bytes: number, space: CopySpace) {
    this.buffer = space(bytes);
  }

  static size(v: ArrayBufferView | null): number {
    return v === null ? 0 : (v.byteLength + 7) & ~7;
  }

  copy<V extends ColumnBuffer>(v: V): V {
    // By kind, not `v.constructor`: a Node Buffer (a Uint8Array) would construct a Buffer the
    // deprecated way.
    const b = this.buffer;
    const at = this.at;
    const out = (
      v instanceof BigInt64Array ? new BigInt64Array(b, at, v.length) : v instanceof Float64Array ? new Float64Array(b, at, v.length) : v instanceof Int32Array ? new Int32Array(b, at, v.length) : new Uint8Array(b, at, v.length)
    ) as V;
    out.set(v as never);
    this.at += Arena.size(v);
    return out;
  }
}

/**
 * The batch itself, or a copy of it on the heap when it borrows an exchange segment or lent
 * buffers: what an operator that keeps a batch past its `processBatch` (replay buffers,
 * collecting sinks, the interval join) stores. The copies share one ArrayBuffer: an allocation
 * per buffer (q7's bids: eleven a segment) took more time than the copying at p=2, and gave
 * V8's external-memory accounting and sweeper an object each.
 */
export function ownedBatch(batch: RecordBatch, space: CopySpace = (n) => new ArrayBuffer(n)): RecordBatch {
  if (!isBorrowed(batch)) return batch;
  // Only the columns that borrow are copied (a calc's lent computed column beside columns it
  // passed through from the heap).
  const cols = batch.columns;
  const copied = cols.map(borrowsColumn);
  const et = batch.eventTime;
  // An event time that is a copied column's values stays that column's (not copied twice).
  const etColumn = et === null || !shared(et) ? -1 : cols.findIndex((c, k) => copied[k] && (c.type === 'i64' || c.type === 'timestamp') && sameView(c.values, et));
  let bytes = et !== null && shared(et) && etColumn < 0 ? Arena.size(et) : 0;
  cols.forEach((c, k) => {
    if (copied[k]) bytes += Arena.size(c.validity) + (c.type === 'utf8' ? Arena.size(c.offsets) + Arena.size(c.data) : Arena.size(c.values));
  });
  const arena = new Arena(bytes, space);
  const columns = cols.map((c, k): Column => {
    if (!copied[k]) return c;
    const validity = c.validity === null ? null : arena.copy(c.validity);
    switch (c.type) {
      case 'utf8':
        return { type: 'utf8', offsets: arena.copy(c.offsets), data: arena.copy(c.data), validity };
      case 'i32':
        return { type: 'i32', values: arena.copy(c.values), validity };
      case 'f64':
        return { type: 'f64', values: arena.copy(c.values), validity };
      case 'bool':
        return { type: 'bool', values: arena.copy(c.values), validity };
      default:
        return { type: c.type, values: arena.copy(c.values), validity };
    }
  });
  let eventTime = et;
  if (etColumn >= 0) eventTime = (columns[etColumn] as { values: BigInt64Array }).values;
  else if (et !== null && shared(et)) eventTime = arena.copy(et);
  return new RecordBatch(batch.schema, columns, batch.length, eventTime);
}

function sameView(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return a.buffer === b.buffer && a.byteOffset === b.byteOffset && a.byteLength === b.byteLength;
}
