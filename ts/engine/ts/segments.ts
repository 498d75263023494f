/**
 * The partitioner writing rows straight into exchange segments (batch/segment.ts), the same
 * algorithm as crates/sluice-core/src/segment.rs: each row into its target's current segment,
 * a full segment listed and replaced by a spare, a stop where no spare is left.
 */

import type { RecordBatch } from '../../batch/record-batch.js';
import type { SegmentLayout } from '../../batch/segment.js';
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

  const init = (s: number): void => {
    const base = s * seg;
    v.u32[base >>> 2] = 0;
    v.u32[(base >>> 2) + 1] = et === null ? 0 : 1;
    v.u8.fill(0, base + 8, base + 8 + cols.length);
    const bits = (cap + 7) >>> 3;
    for (let k = 0; k < cols.length; k++) {
      const r = regions[k]!;
      v.u8.fill(0, base + r.validity, base + r.validity + bits);
      if (cols[k]!.type === 'bool') v.u8.fill(0, base + r.values, base + r.values + bits);
      else if (cols[k]!.type === 'utf8') v.i32[(base + r.values) >>> 2] = 0;
    }
  };
  const take = (t: number): boolean => {
    const left = spares[0]!;
    if (left === 0) return false;
    const s = spares[left]!;
    spares[0] = left - 1;
    cur[t] = s;
    init(s);
    return true;
  };
  const fits = (base: number, rows: number, r: number): boolean => {
    if (rows >= cap) return false;
    for (let k = 0; k < cols.length; k++) {
      const c = cols[k]!;
      if (c.type !== 'utf8') continue;
      const reg = regions[k]!;
      const used = v.i32[((base + reg.values) >>> 2) + rows]!;
      if (used + (c.offsets[r + 1]! - c.offsets[r]!) > reg.dataBytes) return false;
    }
    return true;
  };

  for (let r = from; r < batch.length; r++) {
    const t = targets === null ? 0 : targets[r]!;
    if (cur[t]! < 0 && !take(t)) return r;
    let base = cur[t]! * seg;
    let rows = v.u32[base >>> 2]!;
    if (!fits(base, rows, r)) {
      if (rows === 0) throw new EngineError('data', `row ${r} of the batch (${rowBytes(batch, r)} bytes of text) does not fit an exchange segment of ${seg} bytes (${layout.columns.map((c) => c.dataBytes).filter((b) => b > 0)[0] ?? 0} bytes per text column); raise the exchange segment size`);
      const f = full[0]!;
      full[1 + 2 * f] = t;
      full[2 + 2 * f] = cur[t]!;
      full[0] = f + 1;
      cur[t] = -1;
      if (!take(t)) return r;
      base = cur[t]! * seg;
      rows = 0;
    }
    for (let k = 0; k < cols.length; k++) {
      const c = cols[k]!;
      const reg = regions[k]!;
      if (c.validity !== null || v.u8[base + 8 + k] !== 0) {
        const valid = c.validity === null || (c.validity[r >>> 3]! & (1 << (r & 7))) !== 0;
        if (!valid && v.u8[base + 8 + k] === 0) {
          // The first null of this column in the segment: the rows before it were all valid.
          v.u8[base + 8 + k] = 1;
          for (let i = 0; i < rows; i++) v.u8[base + reg.validity + (i >>> 3)]! |= 1 << (i & 7);
        }
        if (valid && v.u8[base + 8 + k] !== 0) v.u8[base + reg.validity + (rows >>> 3)]! |= 1 << (rows & 7);
      }
      switch (c.type) {
        case 'i32':
          v.i32[((base + reg.values) >>> 2) + rows] = c.values[r]!;
          break;
        case 'i64':
        case 'timestamp':
          v.i64[((base + reg.values) >>> 3) + rows] = c.values[r]!;
          break;
        case 'f64':
          v.f64[((base + reg.values) >>> 3) + rows] = c.values[r]!;
          break;
        case 'bool':
          if ((c.values[r >>> 3]! & (1 << (r & 7))) !== 0) v.u8[base + reg.values + (rows >>> 3)]! |= 1 << (rows & 7);
          break;
        case 'utf8': {
          const o = ((base + reg.values) >>> 2) + rows;
          const at = v.i32[o]!;
          const s = c.offsets[r]!;
          const len = c.offsets[r + 1]! - s;
          if (len > 0) v.u8.set(c.data.subarray(s, s + len), base + reg.data + at);
          v.i32[o + 1] = at + len;
          break;
        }
      }
    }
    if (et !== null) v.i64[((base + layout.eventTime) >>> 3) + rows] = et[r]!;
    v.u32[base >>> 2] = rows + 1;
  }
  return batch.length;
}

function rowBytes(batch: RecordBatch, r: number): number {
  let n = 0;
  for (const c of batch.columns) if (c.type === 'utf8') n += c.offsets[r + 1]! - c.offsets[r]!;
  return n;
}
