/**
 * The partitioner writing rows straight into exchange segments (batch/segment.ts), the same
 * algorithm as crates/sluice-core/src/segment.rs: each row into its target's current segment,
 * a full segment listed and replaced by a spare, a stop where no spare is left.
 */

import type { RecordBatch } from '../../batch/record-batch.js';
import { ET_IS_COLUMN, ET_PRESENT, UTF8_BYTES_PER_ROW, type ColumnRegion, type SegmentLayout } from '../../batch/segment.js';
import type { Utf8Column } from '../../batch/column.js';
import { f64View } from '../../batch/i64.js';
import { subtasks } from '../../keys/key-groups.js';
import { copyPieces, viewOf } from './pieces.js';
import type { SegmentIo, SegmentRoute } from '../engine.js';
import { EngineError } from '../errors.js';
import { checkParallelism } from './partition.js';

interface Views {
  readonly u8: Uint8Array;
  readonly i32: Int32Array;
  readonly u32: Uint32Array;
  readonly i64: BigInt64Array;
  readonly f64: Float64Array;
  readonly dv: DataView;
}

const viewsOf = new WeakMap<ArrayBufferLike, Views>();

function views(pool: Uint8Array): Views {
  let v = viewsOf.get(pool.buffer);
  if (v === undefined) {
    const b = pool.buffer;
    const n = pool.buffer.byteLength;
    v = { u8: new Uint8Array(b), i32: new Int32Array(b, 0, n >>> 2), u32: new Uint32Array(b, 0, n >>> 2), i64: new BigInt64Array(b, 0, n >>> 3), f64: new Float64Array(b, 0, n >>> 3), dv: new DataView(b) };
    viewsOf.set(b, v);
  }
  return v;
}

/**
 * Routes, places, then copies (see Engine.scatterToSegments). Each step is a function or method
 * of its own: one function holding them all was recompiled again and again (15 optimisations
 * in a run of Nexmark q7, each about 100 ms on a compiler thread) whenever a call brought a map
 * it had not seen (another route, another column type), and ran in baseline code meanwhile.
 */
export function scatterToSegments(batch: RecordBatch, route: SegmentRoute, pool: Uint8Array, layout: SegmentLayout, io: SegmentIo, from: number): number {
  const n = io.cur.length;
  const targets = routeRows(batch, route, n, from);
  const p = new Placement(batch, views(pool), layout, io);
  const end = p.textWithinRows(from) ? p.byCount(targets, from) : p.byRow(targets, from);
  for (let t = 0; t < n; t++) if (io.cur[t]! >= 0) p.close(t, io.cur[t]!);
  copyRuns(batch, p, p.first);
  return end;
}

/** Each row's target (null: all to target 0), computed into the route's scratch when `from` is 0. */
function routeRows(batch: RecordBatch, route: SegmentRoute, n: number, from: number): Uint32Array | null {
  if (route.kind === 'single') return null;
  const targets = route.targets;
  if (from !== 0) return targets;
  if (route.kind === 'hash') {
    checkParallelism(n, route.maxParallelism);
    subtasks(batch, route.keyFields, route.maxParallelism, n, targets);
  } else {
    for (let i = 0; i < batch.length; i++) {
      if (targets[i]! >= n) throw new EngineError('config', `row ${i} is sent to partition ${targets[i]}, but there are only ${n} (0 to ${n - 1})`);
    }
  }
  return targets;
}

/**
 * Pass 1 of one call: each row placed in its target's current segment (rolling over to spares),
 * up to where spares last. What it records is the runs: per segment the target's rows a..b (its
 * rows counted in order) at positions p0.. of that segment, five numbers each in `runs`.
 */
class Placement {
  readonly seg: number;
  readonly cap: number;
  readonly nCols: number;
  /** The header's flags word for a new segment. */
  readonly etFlags: number;
  /** The column whose values are the event time (the same memory: a source's timestamp field), kept once; or -1. */
  readonly etColumn: number;
  /** The utf8 columns, each one's offsets and text capacity. */
  readonly utf8: Int32Array;
  readonly uOffsets: Int32Array[];
  readonly uBytes: Int32Array;
  /** Per target: rows in its current segment; each utf8 column's text bytes used there when the call began (placing reads them before it takes spares). */
  readonly rowsOf: Int32Array;
  readonly used: Int32Array;
  /** Per target: its rows placed so far, where its open run began (in its rows) and at which position. */
  readonly placed: Int32Array;
  readonly runStart: Int32Array;
  readonly runP0: Int32Array;
  readonly runs: number[] = [];
  /** The rows grouped by target (`groupByTarget`), set by placing. */
  first: Int32Array = new Int32Array(0);

  constructor(
    readonly batch: RecordBatch,
    readonly v: Views,
    readonly layout: SegmentLayout,
    readonly io: SegmentIo,
  ) {
    const cols = batch.columns;
    const n = io.cur.length;
    this.seg = layout.segmentBytes;
    this.cap = layout.capacity;
    this.nCols = cols.length;
    this.etColumn = eventTimeColumn(batch);
    this.etFlags = batch.eventTime === null ? 0 : this.etColumn < 0 ? ET_PRESENT : ET_PRESENT | ET_IS_COLUMN | (this.etColumn << 8);
    const utf8: number[] = [];
    for (let k = 0; k < cols.length; k++) if (cols[k]!.type === 'utf8') utf8.push(k);
    this.utf8 = Int32Array.from(utf8);
    this.uOffsets = utf8.map((k) => (cols[k] as Utf8Column).offsets);
    this.uBytes = Int32Array.from(utf8, (k) => layout.columns[k]!.dataBytes);
    this.rowsOf = new Int32Array(n);
    this.used = new Int32Array(n * utf8.length);
    this.placed = new Int32Array(n);
    this.runStart = new Int32Array(n);
    this.runP0 = new Int32Array(n);
    for (let t = 0; t < n; t++) if (io.cur[t]! >= 0) this.load(t);
    this.runP0.set(this.rowsOf);
  }

  /** A fresh segment's header, validity flags and bitmaps, bool values and first text offset. */
  private init(s: number): void {
    const { v, layout, batch, nCols } = this;
    const base = s * this.seg;
    v.u32[base >>> 2] = 0;
    v.u32[(base >>> 2) + 1] = this.etFlags;
    v.u8.fill(0, base + 8, base + 8 + nCols);
    const bits = (this.cap + 7) >>> 3;
    for (let k = 0; k < nCols; k++) {
      const r = layout.columns[k]!;
      const type = batch.columns[k]!.type;
      v.u8.fill(0, base + r.validity, base + r.validity + bits);
      if (type === 'bool') v.u8.fill(0, base + r.values, base + r.values + bits);
      else if (type === 'utf8') v.i32[(base + r.values) >>> 2] = 0;
    }
  }

  /** What target t's current segment already holds. */
  private load(t: number): void {
    const base = this.io.cur[t]! * this.seg;
    const rows = this.v.u32[base >>> 2]!;
    const U = this.utf8.length;
    this.rowsOf[t] = rows;
    for (let j = 0; j < U; j++) this.used[t * U + j] = this.v.i32[((base + this.layout.columns[this.utf8[j]!]!.values) >>> 2) + rows]!;
  }

  /** Target t takes a spare as its current segment (false: none left). */
  private take(t: number): boolean {
    const { spares, cur } = this.io;
    const left = spares[0]!;
    if (left === 0) return false;
    const s = spares[left]!;
    spares[0] = left - 1;
    cur[t] = s;
    this.init(s);
    this.rowsOf[t] = 0;
    return true;
  }

  /** Records target t's open run in segment s and writes the segment's row count. */
  close(t: number, s: number): void {
    if (this.placed[t]! > this.runStart[t]!) this.runs.push(t, s, this.runP0[t]!, this.runStart[t]!, this.placed[t]!);
    this.v.u32[(s * this.seg) >>> 2] = this.rowsOf[t]!;
  }

  takeRun(t: number): boolean {
    if (!this.take(t)) return false;
    this.runStart[t] = this.placed[t]!;
    this.runP0[t] = 0;
    return true;
  }

  /** Target t's segment is full: listed, closed, and a spare taken in its place (false: none left). */
  roll(t: number): boolean {
    const { full, cur } = this.io;
    const f = full[0]!;
    full[1 + 2 * f] = t;
    full[2 + 2 * f] = cur[t]!;
    full[0] = f + 1;
    this.close(t, cur[t]!);
    cur[t] = -1;
    return this.takeRun(t);
  }

  /**
   * Every text of rows from.. within the bytes reserved per row, and every held segment with
   * room at that size for the rows it has left: no segment's text can fill before its rows do,
   * so rows are placed by count alone (as the native scatter does), without the texts' lengths.
   */
  textWithinRows(from: number): boolean {
    const { cur } = this.io;
    const U = this.utf8.length;
    const end = this.batch.length;
    for (let j = 0; j < U; j++) {
      const o = this.uOffsets[j]!;
      // In blocks of 256 rows, stopping at the first block with a longer text (a column of
      // long texts, as Nexmark's `extra`, stops in the first).
      for (let r = from; r < end; ) {
        const stop = Math.min(end, r + 256);
        let longest = 0;
        for (; r < stop; r++) longest = Math.max(longest, o[r + 1]! - o[r]!);
        if (longest > UTF8_BYTES_PER_ROW) return false;
      }
      for (let t = 0; t < cur.length; t++) if (cur[t]! >= 0 && this.used[t * U + j]! + UTF8_BYTES_PER_ROW * (this.cap - this.rowsOf[t]!) > this.uBytes[j]!) return false;
    }
    return true;
  }

  /**
   * By count alone, as natively: where each target needs a segment is arithmetic (its k-th row,
   * for k = the room its segment has, then every `cap` rows). Returns the row the call ends at.
   */
  byCount(targets: Uint32Array | null, from: number): number {
    const { cur } = this.io;
    const { cap, rowsOf } = this;
    const n = cur.length;
    const first = groupByTarget(targets, n, from, this.batch.length);
    this.first = first;
    const needs: number[] = [];
    for (let t = 0; t < n; t++) {
      const count = first[t + 1]! - first[t]!;
      const held = cur[t]! >= 0;
      for (let k = held ? cap - Math.min(rowsOf[t]!, cap) : 0, again = held; k < count; k += cap, again = true) needs.push(order[first[t]! + k]!, t, k, again ? NEED_ROLL : 0);
    }
    return this.serve(needs, first);
  }

  /**
   * With the texts' lengths, as natively: each target's rows walked in order (`textWalk`), a
   * need where a row does not fit its segment. Returns the row the call ends at.
   */
  byRow(targets: Uint32Array | null, from: number): number {
    const { cur } = this.io;
    const { cap, rowsOf, used, uOffsets, uBytes } = this;
    const n = cur.length;
    const first = groupByTarget(targets, n, from, this.batch.length);
    this.first = first;
    const needs: number[] = [];
    const walk = textWalk(this.utf8.length);
    for (let t = 0; t < n; t++) {
      const has = cur[t]! >= 0;
      // A target without a segment starts full, so that its first row needs one.
      walk(order, first[t]!, first[t + 1]!, t, has, has ? rowsOf[t]! : cap, cap, uOffsets, uBytes, used, needs);
    }
    return this.serve(needs, first);
  }

  /**
   * The needs (row, target, its k-th row, flags; four numbers each) get the spares in row order;
   * where they run out the call stops at that row, as placing the rows one by one would (the
   * needs and the stop are the same); a row too big for any segment is refused when reached.
   * Returns the row the call ends at.
   */
  private serve(needs: number[], first: Int32Array): number {
    const { cur } = this.io;
    const { cap, rowsOf, placed, runStart, runP0 } = this;
    const n = cur.length;
    const length = this.batch.length;
    const byRow = Array.from({ length: needs.length / 4 }, (_, i) => 4 * i).sort((x, y) => needs[x]! - needs[y]!);
    let end = length;
    for (const i of byRow) {
      const r = needs[i]!;
      const t = needs[i + 1]!;
      const flags = needs[i + 3]!;
      if ((flags & NEED_TOO_BIG) !== 0) {
        throw new EngineError('data', `row ${r} of the batch (${rowBytes(this.batch, r)} bytes of text) does not fit an exchange segment of ${this.seg} bytes (${UTF8_BYTES_PER_ROW * cap} bytes per text column); raise the exchange segment size`);
      }
      placed[t] = needs[i + 2]!;
      const roll = (flags & NEED_ROLL) !== 0;
      if (roll) rowsOf[t] = runP0[t]! + placed[t]! - runStart[t]!;
      if (roll ? !this.roll(t) : !this.takeRun(t)) {
        end = r;
        break;
      }
    }
    for (let t = 0; t < n; t++) {
      // Rows before the end: all of the target's, or those before the row the call stopped at.
      let k = first[t + 1]! - first[t]!;
      if (end < length) for (let lo = 0; lo < k; ) {
        const mid = (lo + k) >>> 1;
        if (order[first[t]! + mid]! < end) lo = mid + 1;
        else k = mid;
      }
      placed[t] = k;
      if (cur[t]! >= 0) rowsOf[t] = runP0[t]! + k - runStart[t]!;
    }
    return end;
  }
}

/** A need's flags: its target's segment is full (else it has none); the row fits no segment. */
const NEED_ROLL = 1;
const NEED_TOO_BIG = 2;

/**
 * Walks target t's rows order[a..b] (its k-th row is order[a + k]) over their text lengths from a
 * segment holding `rows` rows and, per text column, used[t * U + j] bytes, pushing a need (row,
 * t, k, flags) where a row does not fit: four numbers each, as `serve` takes them.
 */
type TextWalk = (order: Int32Array, a: number, b: number, t: number, has: boolean, rows: number, cap: number, offsets: readonly Int32Array[], rooms: Int32Array, used: Int32Array, needs: number[]) => void;

const walkers: TextWalk[] = [];

/**
 * The walk for `u` (at least one) text columns: generated once per count, as `copy8`, with each
 * column's offsets, room and bytes used in locals. Row by row over all targets, with the state
 * in arrays indexed by target and column, the walk of q7's bids (three text columns) cost 60%
 * of copying their text; so, 30%.
 */
function textWalk(u: number): TextWalk {
  let f = walkers[u];
  if (f === undefined) {
    const js = (f: (j: number) => string, sep = ' '): string => Array.from({ length: u }, (_, j) => f(j)).join(sep);
    const src = `"use strict";
${js((j) => `const o${j} = offsets[${j}], m${j} = rooms[${j}]; let u${j} = used[t * ${u} + ${j}];`)}
let c = rows;
for (let x = a; x < b; x++) {
  const r = order[x];
  ${js((j) => `const l${j} = o${j}[r + 1] - o${j}[r];`)}
  if (c >= cap${js((j) => ` || u${j} + l${j} > m${j}`, '')}) {
    const big = ${js((j) => `l${j} > m${j}`, ' || ')};
    needs.push(r, t, x - a, (has ? ${NEED_ROLL} : 0) | (big ? ${NEED_TOO_BIG} : 0));
    if (big) return;
    has = true;
    c = 0;
    ${js((j) => `u${j} = 0;`)}
  }
  c++;
  ${js((j) => `u${j} += l${j};`)}
}`;
    f = new Function('order', 'a', 'b', 't', 'has', 'rows', 'cap', 'offsets', 'rooms', 'used', 'needs', src) as TextWalk;
    walkers[u] = f;
  }
  return f;
}

/**
 * Pass 2: per run, its rows to consecutive positions: the 8-byte columns (and the event time
 * where the segment keeps its own) together in one generated loop (`copy8`), as Float64Array
 * elements (one load and store a value, not two 32-bit words: 8.0 -> 5.0 ns a row for three
 * columns; exact bits, see `f64View`), then the others column by column, each type in a function
 * of its own.
 */
function copyRuns(batch: RecordBatch, p: Placement, first: Int32Array): void {
  const { v, layout, runs, seg, etColumn } = p;
  const cols = batch.columns;
  const regions = layout.columns;
  const et = batch.eventTime;
  // The 8-byte columns' sources first; a run may append the event time's after them.
  const wide: number[] = [];
  const srcs: Float64Array[] = [];
  for (let k = 0; k < cols.length; k++) {
    const c = cols[k]!;
    if (c.type === 'i64' || c.type === 'timestamp' || c.type === 'f64') {
      wide.push(k);
      srcs.push(f64View(c.values));
    }
  }
  const etSrc = et === null ? null : f64View(et);
  const dsts: number[] = [];
  for (let q = 0; q < runs.length; q += 5) {
    const t = runs[q]!;
    const base = runs[q + 1]! * seg;
    const p0 = runs[q + 2]!;
    const a = first[t]! + runs[q + 3]!;
    const b = first[t]! + runs[q + 4]!;
    dsts.length = 0;
    srcs.length = wide.length;
    for (const k of wide) dsts.push(((base + regions[k]!.values) >>> 3) + p0);
    if (etSrc !== null) {
      const flags = v.u32[(base >>> 2) + 1]!;
      const column = (flags & ET_IS_COLUMN) !== 0 ? flags >>> 8 : -1;
      if (column < 0 || column !== etColumn) {
        if (column >= 0) {
          // The segment's rows so far took their event time from that column; this batch's is
          // another array: those rows' values move to the event-time region first.
          const at = base + regions[column]!.values;
          v.u8.copyWithin(base + layout.eventTime, at, at + 8 * p0);
          v.u32[(base >>> 2) + 1] = ET_PRESENT;
        }
        srcs.push(etSrc);
        dsts.push(((base + layout.eventTime) >>> 3) + p0);
      }
    }
    if (srcs.length > 0) copy8(srcs.length)(order, a, b, v.f64, srcs, dsts);
    for (let k = 0; k < cols.length; k++) {
      const c = cols[k]!;
      const reg = regions[k]!;
      const flag = base + 8 + k;
      const bits = base + reg.validity;
      if (c.validity !== null) copyValidity(v.u8, flag, bits, p0, c.validity, a, b);
      else if (v.u8[flag] !== 0) setBits(v.u8, bits, p0, p0 + b - a);
      if (c.type === 'i32') copyI32(v.i32, ((base + reg.values) >>> 2) + p0 - a, c.values, a, b);
      else if (c.type === 'bool') copyBool(v.u8, base + reg.values, p0, c.values, a, b);
      else if (c.type === 'utf8') copyUtf8(v, base, reg, p0, c, a, b);
      // 8-byte values: copied above.
    }
  }
}

function setBits(u8: Uint8Array, bits: number, from: number, to: number): void {
  for (let p = from; p < to; p++) u8[bits + (p >>> 3)]! |= 1 << (p & 7);
}

/** i32 values of rows order[a..b] to word `d + a`.. of the pool. */
function copyI32(i32: Int32Array, d: number, src: Int32Array, a: number, b: number): void {
  const o = order;
  for (let x = a; x < b; x++) i32[d + x] = src[o[x]!]!;
}

/** Bits of rows order[a..b] to positions p0.. of the bitmap at byte `d` (cleared when the segment began). */
function copyBool(u8: Uint8Array, d: number, p0: number, src: Uint8Array, a: number, b: number): void {
  const o = order;
  for (let x = a; x < b; x++) {
    const r = o[x]!;
    const p = p0 + x - a;
    if ((src[r >>> 3]! & (1 << (r & 7))) !== 0) u8[d + (p >>> 3)]! |= 1 << (p & 7);
  }
}

/** Text longer than this is copied with `set` (a subarray per row); shorter in 8-byte pieces. */
const LONG_TEXT = 256;

/** Text of rows order[a..b] appended after the segment's text so far, offsets after position p0's. */
function copyUtf8(v: Views, base: number, reg: ColumnRegion, p0: number, c: Utf8Column, a: number, b: number): void {
  const { u8, i32, dv } = v;
  const offs = c.offsets;
  const data = c.data;
  const o = ((base + reg.values) >>> 2) + p0 - a;
  const text = base + reg.data;
  const textEnd = text + reg.dataBytes;
  const src = viewOf(data);
  const dataLen = data.length;
  const rows = order;
  let at = i32[o + a]!;
  for (let x = a; x < b; x++) {
    const r = rows[x]!;
    const s0 = offs[r]!;
    const l = offs[r + 1]! - s0;
    const d = text + at;
    // In 8-byte pieces (copyPieces; 70-byte texts, q7's `extra`: 30 -> 15 ns a row measured
    // alone). The bytes past this row's end are overwritten by the next row or never read.
    if (l <= 16 && s0 + 16 <= dataLen && d + 16 <= textEnd) {
      // Short text (the common case: names, channels, codes) as two pieces whatever its length:
      // no loop whose trip count changes from row to row, so no mispredicted exit per row.
      dv.setFloat64(d, src.getFloat64(s0, true), true);
      dv.setFloat64(d + 8, src.getFloat64(s0 + 8, true), true);
    } else if (l > LONG_TEXT) u8.set(data.subarray(s0, s0 + l), d);
    // Where both sides have room for the last whole piece.
    else if (s0 + l + 7 <= dataLen && d + l + 7 <= textEnd) copyPieces(dv, d, src, s0, l);
    else for (let i = 0; i < l; i++) u8[d + i] = data[s0 + i]!;
    at += l;
    i32[o + x + 1] = at;
  }
}

/** The i64 or timestamp column whose values are the batch's event time (the same memory), or -1. */
function eventTimeColumn(batch: RecordBatch): number {
  const et = batch.eventTime;
  if (et === null) return -1;
  return batch.columns.findIndex((c) => (c.type === 'i64' || c.type === 'timestamp') && c.values.buffer === et.buffer && c.values.byteOffset === et.byteOffset);
}

/** The rows of a call grouped by target (reused between calls). */
let order = new Int32Array(0);

/**
 * Rows from..end grouped by target in row order into `order` (a counting sort); returns where
 * each target's rows start (`first[t]`, and `first[n]` = all of them).
 */
function groupByTarget(targets: Uint32Array | null, n: number, from: number, end: number): Int32Array {
  const m = end - from;
  if (order.length < m) order = new Int32Array(m);
  const first = new Int32Array(n + 1);
  if (targets === null) {
    first.fill(m, 1);
    for (let x = 0; x < m; x++) order[x] = from + x;
    return first;
  }
  if (n === 2) {
    // Two targets (parallelism 2), as natively: the second's rows are the sum of the targets,
    // and both cursors stay in locals, chosen by arithmetic rather than a branch per row (a
    // random 0 or 1 mispredicts) or a store and reload through memory.
    let second = 0;
    for (let r = from; r < end; r++) second += targets[r]!;
    first[1] = m - second;
    first[2] = m;
    for (let r = from, a = 0, b = m - second; r < end; r++) {
      const t = targets[r]!;
      order[a + t * (b - a)] = r;
      a += 1 - t;
      b += t;
    }
    return first;
  }
  for (let r = from; r < end; r++) first[targets[r]! + 1]!++;
  for (let t = 0; t < n; t++) first[t + 1]! += first[t]!;
  const fill = first.slice(0, n);
  for (let r = from; r < end; r++) order[fill[targets[r]!]!++] = r;
  return first;
}

/** Copies rows order[a..b] of `k` 8-byte arrays to consecutive slots from each one's 8-byte offset. */
type Copy8 = (order: Int32Array, a: number, b: number, f64: Float64Array, srcs: readonly Float64Array[], dsts: readonly number[]) => void;

const copiers: Copy8[] = [];

/**
 * The copier for `k` arrays: generated once per count, with the arrays in locals and one pass
 * over the rows for all of them (a loop per array read the row order again for each, and a loop
 * over the arrays inside the row loop kept them in memory: 9.8 and 11 ns a row for three,
 * against 4.6 so).
 */
function copy8(k: number): Copy8 {
  let f = copiers[k];
  if (f === undefined) {
    const js = (f: (j: number) => string): string => Array.from({ length: k }, (_, j) => f(j)).join(' ');
    const src = `"use strict";
${js((j) => `const s${j} = srcs[${j}], d${j} = dsts[${j}];`)}
for (let x = a, w = 0; x < b; x++, w++) {
  const s = order[x];
  ${js((j) => `f64[d${j} + w] = s${j}[s];`)}
}`;
    f = new Function('order', 'a', 'b', 'f64', 'srcs', 'dsts', src) as Copy8;
    copiers[k] = f;
  }
  return f;
}

/**
 * Validity of rows order[a..b] at positions p0..: the segment's bitmap is kept only once its
 * flag says the column has a null there; the first null sets the flag and marks every earlier
 * row of the segment valid.
 */
function copyValidity(u8: Uint8Array, flag: number, bits: number, p0: number, val: Uint8Array, a: number, b: number): void {
  const o = order;
  let x = a;
  if (u8[flag] === 0) {
    while (x < b && (val[o[x]! >>> 3]! & (1 << (o[x]! & 7))) !== 0) x++;
    if (x === b) return;
    u8[flag] = 1;
    setBits(u8, bits, 0, p0 + x - a);
  }
  // The bits themselves from row x on, as a bool column's values are copied.
  copyBool(u8, bits, p0 + x - a, val, x, b);
}

function rowBytes(batch: RecordBatch, r: number): number {
  let n = 0;
  for (const c of batch.columns) if (c.type === 'utf8') n += c.offsets[r + 1]! - c.offsets[r]!;
  return n;
}
