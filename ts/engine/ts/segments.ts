/**
 * The partitioner writing rows straight into exchange segments (batch/segment.ts), the same
 * algorithm as crates/sluice-core/src/segment.rs: each row into its target's current segment,
 * a full segment listed and replaced by a spare, a stop where no spare is left.
 */

import type { RecordBatch } from '../../batch/record-batch.js';
import { UTF8_BYTES_PER_ROW, type SegmentLayout } from '../../batch/segment.js';
import type { Utf8Column } from '../../batch/column.js';
import { keyGroups } from '../../keys/key-groups.js';
import type { SegmentIo, SegmentRoute } from '../engine.js';
import { EngineError } from '../errors.js';
import { checkParallelism } from './partition.js';

interface Views {
  readonly u8: Uint8Array;
  readonly i32: Int32Array;
  readonly u32: Uint32Array;
  readonly i64: BigInt64Array;
  readonly f64: Float64Array;
}

const viewsOf = new WeakMap<ArrayBufferLike, Views>();

function views(pool: Uint8Array): Views {
  let v = viewsOf.get(pool.buffer);
  if (v === undefined) {
    const b = pool.buffer;
    const n = pool.buffer.byteLength;
    v = { u8: new Uint8Array(b), i32: new Int32Array(b, 0, n >>> 2), u32: new Uint32Array(b, 0, n >>> 2), i64: new BigInt64Array(b, 0, n >>> 3), f64: new Float64Array(b, 0, n >>> 3) };
    viewsOf.set(b, v);
  }
  return v;
}

/** Routes, then writes row by row (see Engine.scatterToSegments). */
export function scatterToSegments(batch: RecordBatch, route: SegmentRoute, pool: Uint8Array, layout: SegmentLayout, io: SegmentIo, from: number): number {
  const n = io.cur.length;
  let targets: Uint32Array | null = null;
  if (route.kind === 'hash') {
    targets = route.targets;
    if (from === 0) {
      checkParallelism(n, route.maxParallelism);
      const groups = keyGroups(batch, route.keyFields, route.maxParallelism);
      const max = route.maxParallelism;
      for (let i = 0; i < batch.length; i++) targets[i] = Math.floor((groups[i]! * n) / max);
    }
  } else if (route.kind === 'targets') {
    targets = route.targets;
    if (from === 0) {
      for (let i = 0; i < batch.length; i++) {
        if (targets[i]! >= n) throw new EngineError('config', `row ${i} is sent to partition ${targets[i]}, but there are only ${n} (0 to ${n - 1})`);
      }
    }
  }
  const v = views(pool);
  const seg = layout.segmentBytes;
  const cols = batch.columns;
  const regions = layout.columns;
  const cap = layout.capacity;
  const et = batch.eventTime;
  const { cur, spares, full } = io;

  const nCols = cols.length;
  const init = (s: number): void => {
    const base = s * seg;
    v.u32[base >>> 2] = 0;
    v.u32[(base >>> 2) + 1] = et === null ? 0 : 1;
    v.u8.fill(0, base + 8, base + 8 + nCols);
    const bits = (cap + 7) >>> 3;
    for (let k = 0; k < nCols; k++) {
      const r = regions[k]!;
      v.u8.fill(0, base + r.validity, base + r.validity + bits);
      if (cols[k]!.type === 'bool') v.u8.fill(0, base + r.values, base + r.values + bits);
      else if (cols[k]!.type === 'utf8') v.i32[(base + r.values) >>> 2] = 0;
    }
  };
  // Rows in each target's current segment, and each utf8 column's text bytes used there.
  const utf8: number[] = [];
  for (let k = 0; k < nCols; k++) if (cols[k]!.type === 'utf8') utf8.push(k);
  const U = utf8.length;
  const rowsOf = new Int32Array(n);
  const used = new Int32Array(n * U);
  const load = (t: number): void => {
    const base = cur[t]! * seg;
    const rows = v.u32[base >>> 2]!;
    rowsOf[t] = rows;
    for (let j = 0; j < U; j++) used[t * U + j] = v.i32[((base + regions[utf8[j]!]!.values) >>> 2) + rows]!;
  };
  for (let t = 0; t < n; t++) if (cur[t]! >= 0) load(t);
  const take = (t: number): boolean => {
    const left = spares[0]!;
    if (left === 0) return false;
    const s = spares[left]!;
    spares[0] = left - 1;
    cur[t] = s;
    init(s);
    rowsOf[t] = 0;
    used.fill(0, t * U, (t + 1) * U);
    return true;
  };
  const len = batch.length - from;
  if (placeBase.length < len) {
    placeBase = new Int32Array(len);
    placePos = new Int32Array(len);
  }
  const pb = placeBase;
  const pp = placePos;
  // Pass 1: each row's segment and position (rolling over to spares), up to where spares last.
  let end = batch.length;
  for (let r = from; r < batch.length; r++) {
    const t = targets === null ? 0 : targets[r]!;
    if (cur[t]! < 0 && !take(t)) {
      end = r;
      break;
    }
    let fits = rowsOf[t]! < cap;
    for (let j = 0; j < U && fits; j++) {
      const c = cols[utf8[j]!] as Utf8Column;
      if (used[t * U + j]! + c.offsets[r + 1]! - c.offsets[r]! > regions[utf8[j]!]!.dataBytes) fits = false;
    }
    if (!fits) {
      if (rowsOf[t] === 0) throw new EngineError('data', `row ${r} of the batch (${rowBytes(batch, r)} bytes of text) does not fit an exchange segment of ${seg} bytes (${UTF8_BYTES_PER_ROW * cap} bytes per text column); raise the exchange segment size`);
      const f = full[0]!;
      full[1 + 2 * f] = t;
      full[2 + 2 * f] = cur[t]!;
      full[0] = f + 1;
      v.u32[(cur[t]! * seg) >>> 2] = rowsOf[t]!;
      cur[t] = -1;
      if (!take(t)) {
        end = r;
        break;
      }
    }
    for (let j = 0; j < U; j++) {
      const c = cols[utf8[j]!] as Utf8Column;
      used[t * U + j]! += c.offsets[r + 1]! - c.offsets[r]!;
    }
    pb[r - from] = cur[t]! * seg;
    pp[r - from] = rowsOf[t]!++;
  }
  for (let t = 0; t < n; t++) if (cur[t]! >= 0) v.u32[(cur[t]! * seg) >>> 2] = rowsOf[t]!;
  // Pass 2: column by column, each row to its place (8-byte values as two 32-bit words: exact bits, no BigInt).
  const m = end - from;
  const u8 = v.u8;
  const i32 = v.i32;
  for (let k = 0; k < nCols; k++) {
    const c = cols[k]!;
    const reg = regions[k]!;
    if (c.validity !== null) {
      const val = c.validity;
      for (let x = 0; x < m; x++) {
        const r = from + x;
        const base = pb[x]!;
        const p = pp[x]!;
        const flag = base + 8 + k;
        const valid = (val[r >>> 3]! & (1 << (r & 7))) !== 0;
        if (!valid && u8[flag] === 0) {
          // The first null of this column in the segment: the rows before it were all valid.
          u8[flag] = 1;
          for (let i = 0; i < p; i++) u8[base + reg.validity + (i >>> 3)]! |= 1 << (i & 7);
        }
        if (valid && u8[flag] !== 0) u8[base + reg.validity + (p >>> 3)]! |= 1 << (p & 7);
      }
    }
    switch (c.type) {
      case 'i32': {
        const src = c.values;
        for (let x = 0; x < m; x++) i32[((pb[x]! + reg.values) >>> 2) + pp[x]!] = src[from + x]!;
        break;
      }
      case 'i64':
      case 'timestamp':
      case 'f64':
        copy64(new Int32Array(c.values.buffer, c.values.byteOffset, c.values.length * 2), i32, reg.values, from, m, pb, pp);
        break;
      case 'bool': {
        const src = c.values;
        for (let x = 0; x < m; x++) {
          const r = from + x;
          const p = pp[x]!;
          if ((src[r >>> 3]! & (1 << (r & 7))) !== 0) u8[pb[x]! + reg.values + (p >>> 3)]! |= 1 << (p & 7);
        }
        break;
      }
      case 'utf8': {
        const offs = c.offsets;
        const data = c.data;
        for (let x = 0; x < m; x++) {
          const r = from + x;
          const base = pb[x]!;
          const o = ((base + reg.values) >>> 2) + pp[x]!;
          const at = i32[o]!;
          const a = offs[r]!;
          const l = offs[r + 1]! - a;
          const d = base + reg.data + at;
          if (l > 32) u8.set(data.subarray(a, a + l), d);
          else for (let i = 0; i < l; i++) u8[d + i] = data[a + i]!;
          i32[o + 1] = at + l;
        }
        break;
      }
    }
  }
  if (et !== null) copy64(new Int32Array(et.buffer, et.byteOffset, et.length * 2), i32, layout.eventTime, from, m, pb, pp);
  return end;
}

/** Where pass 1 placed each row: its segment's byte offset and its position there (reused between calls). */
let placeBase = new Int32Array(0);
let placePos = new Int32Array(0);

function copy64(src: Int32Array, i32: Int32Array, region: number, from: number, m: number, pb: Int32Array, pp: Int32Array): void {
  for (let x = 0; x < m; x++) {
    const d = ((pb[x]! + region) >>> 2) + 2 * pp[x]!;
    const s = 2 * (from + x);
    i32[d] = src[s]!;
    i32[d + 1] = src[s + 1]!;
  }
}

function rowBytes(batch: RecordBatch, r: number): number {
  let n = 0;
  for (const c of batch.columns) if (c.type === 'utf8') n += c.offsets[r + 1]! - c.offsets[r]!;
  return n;
}
