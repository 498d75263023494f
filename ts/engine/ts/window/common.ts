/** Helpers shared by the TS window operators (slices and sessions). */

import { bitmapBytes, type Column } from '../../../batch/column.js';
import { i32View } from '../../../batch/i64.js';
import type { DataType, Schema } from '../../../batch/schema.js';
import { RecordBatch } from '../../../batch/record-batch.js';
import type { WindowAggregatorSpec } from '../../engine.js';
import { Accs } from './acc.js';
import { EngineError } from '../../errors.js';

/** The accumulators of a spec's aggregates (input and output types resolved). */
export function accsFor(spec: WindowAggregatorSpec, outputSchema: Schema, cap: number): Accs {
  // Aggregates follow the keys and, except for count windows, windowStart and windowEnd.
  const first = spec.keyFields.length + (spec.window.kind === 'count' ? 0 : 2);
  return new Accs(
    spec.aggregates,
    spec.aggregates.map((a) => (a.field === null ? 'i64' : spec.input.fields[a.field]!.type)),
    spec.aggregates.map((_, i) => outputSchema.fields[first + i]!.type),
    cap,
  );
}

/** A single integer-like key column from per-group words. */
export function intKeyColumn(
  mode: 'i32' | 'i64',
  type: DataType,
  klo: Int32Array,
  khi: Int32Array,
  kvalid: Uint8Array,
  groups: Int32Array,
  n: number,
): Column {
  let validity: Uint8Array | null = null;
  for (let i = 0; i < n; i++) {
    if (kvalid[groups[i]!] === 0) {
      validity = new Uint8Array(bitmapBytes(n));
      for (let j = 0; j < n; j++) if (kvalid[groups[j]!] === 1) validity[j >>> 3]! |= 1 << (j & 7);
      break;
    }
  }
  if (mode === 'i32') {
    const v = new Int32Array(n);
    for (let i = 0; i < n; i++) v[i] = klo[groups[i]!]!;
    return { type: 'i32', values: v, validity };
  }
  const v = new BigInt64Array(n);
  const o = i32View(v);
  for (let i = 0; i < n; i++) {
    o[2 * i] = klo[groups[i]!]!;
    o[2 * i + 1] = khi[groups[i]!]!;
  }
  return { type: type as 'i64' | 'timestamp', values: v, validity };
}

/** Rebuilds key columns from canonical key bytes (see key.ts). */
export function decodeKeyColumns(
  arena: Uint8Array,
  spanStart: Int32Array,
  spanLen: Int32Array,
  groups: Int32Array,
  n: number,
  types: readonly DataType[],
): Column[] {
  void spanLen;
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

/** Indices of the rows whose group id marks them late (`late`), among the first `n`. */
export function lateRowsOf(gids: Int32Array, n: number, late: number): Uint32Array {
  let count = 0;
  for (let i = 0; i < n; i++) if (gids[i] === late) count++;
  const out = new Uint32Array(count);
  let k = 0;
  for (let i = 0; i < n; i++) if (gids[i] === late) out[k++] = i;
  return out;
}

/** Records are dropped (late) once every window they belong to is past this watermark. */
export function dropWatermark(watermark: number, lateness: number): number {
  return watermark === Infinity ? Infinity : watermark - lateness;
}

/**
 * The allowed-lateness side of a TS time-window aggregator's push: the windows fired again by
 * the last push until taken, and its late rows when it was split into parts.
 */
export class Refires {
  private pushed: RecordBatch | null = null;
  private splitLate: Uint32Array | null = null;

  /** Pushes in bulk when no row reaches a fired window (`candidates` empty), else in parts. */
  push(op: RefiringOperator, batch: RecordBatch, candidates: readonly number[], schema: Schema): number {
    this.splitLate = null;
    if (this.pushed !== null) throw new EngineError('data', 'the rows fired by the previous batch were not taken (takePushedOutput) before this push');
    if (candidates.length === 0) return op.pushPart(batch);
    const r = pushRefiring(op, batch, candidates, schema);
    this.splitLate = r.late;
    this.pushed = r.fired;
    return r.dropped;
  }

  take(): RecordBatch | null {
    const out = this.pushed;
    this.pushed = null;
    return out;
  }

  /** The late rows of the last push: its parts' when it was split, else `ofLastPart()`. */
  lateRows(ofLastPart: () => Uint32Array): Uint32Array {
    return this.splitLate ?? ofLastPart();
  }
}

/** A time-window operator with allowed lateness, as `pushRefiring` drives it. */
export interface RefiringOperator {
  /** Pushes rows as one batch; returns the late rows dropped. */
  pushPart(batch: RecordBatch): number;
  /** After a one-row push: the windows that row fired again, or null. */
  refireLastRow(): RecordBatch | null;
  /** The late rows of the last part. */
  lateRows(): Uint32Array;
}

/**
 * Allowed lateness: the rows that reach a fired window go one at a time, each firing its
 * windows again with the contents up to that row (as Flink's per-record trigger); the rows
 * between them go in bulk. Slow, but only for late rows. Mirrors WindowAggregator::push in Rust.
 */
export function pushRefiring(
  op: RefiringOperator,
  batch: RecordBatch,
  candidates: readonly number[],
  schema: Schema,
): { dropped: number; late: Uint32Array; fired: RecordBatch | null } {
  const late: number[] = [];
  const fired: RecordBatch[] = [];
  let dropped = 0;
  const run = (start: number, end: number, single: boolean): void => {
    dropped += op.pushPart(batch.slice(start, end));
    for (const r of op.lateRows()) late.push(r + start);
    if (single) {
      const out = op.refireLastRow();
      if (out !== null) fired.push(out);
    }
  };
  let at = 0;
  for (const c of candidates) {
    if (at < c) run(at, c, false);
    run(c, c + 1, true);
    at = c + 1;
  }
  if (at < batch.length) run(at, batch.length, false);
  return { dropped, late: Uint32Array.from(late), fired: fired.length === 0 ? null : RecordBatch.concat(schema, fired) };
}
