/**
 * Generated rows (Flink's `datagen` connector): each field random (numbers in [min, max],
 * strings of `length` letters and digits, booleans) or a sequence from `start` to `end`, at
 * `rowsPerSecond` (wall clock), bounded by `numberOfRows` or by the shortest sequence.
 *
 * Deterministic, unlike Flink's: a row's values are a function of (seed, field name, row
 * number) only (murmur3 of the three), so the same options give the same rows in every run,
 * on both engines, whatever the batch size, and a restored run continues with the same rows.
 * Random timestamps are the exception, as in Flink: `now - u * maxPastMs` of the reader's
 * open time; a sequence of timestamps (epoch ms, a Sluice addition) is deterministic.
 *
 * Parallel: subtask i of n generates the rows i, i + n, i + 2n, ... (a split), so the subtasks'
 * rows together are exactly the rows of one subtask, and `rowsPerSecond` is the total pace
 * (each subtask 1/n of it), as Flink's. A checkpoint holds each split's position; restored at
 * another parallelism, the splits are dealt out to the new subtasks (Flink's split
 * reassignment), a subtask then generating from each of its splits in turn.
 */

import type { Column } from '../batch/column.js';
import { RecordBatch } from '../batch/record-batch.js';
import { Schema, type DataType, type Field } from '../batch/schema.js';
import type { Source, SourceContext, SourceReader } from '../api/connector.js';
import { fmix32, mixH, murmur3_32 } from '../keys/hash.js';

export interface DataGenField {
  /** 'random' (default) or 'sequence'. */
  readonly kind?: 'random' | 'sequence';
  /** Random numbers: the range, inclusive for integers (default: the type's, i64 within ±(2^53 - 1)). */
  readonly min?: number;
  readonly max?: number;
  /** Random strings: characters (default 100). */
  readonly length?: number;
  /** Sequences: first and last value (integers; strings are the numbers' text; timestamps epoch ms). */
  readonly start?: number;
  readonly end?: number;
  /** Random timestamps: at most this far (ms) before the reader opened (default 0). */
  readonly maxPastMs?: number;
}

export interface DataGenOptions {
  /** Wall-clock pace (default 10 000, Flink's); Infinity for maximum speed. */
  readonly rowsPerSecond?: number;
  /** Rows in total (default: unbounded, or as many as the shortest sequence has). */
  readonly numberOfRows?: number;
  readonly fields?: Readonly<Record<string, DataGenField>>;
  /** Seed of the random values (default 0). */
  readonly seed?: number;
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const I32_MIN = -2147483648;
const I32_MAX = 2147483647;
const SAFE = Number.MAX_SAFE_INTEGER;
const TWO32 = 4294967296;

/** An exact integer (within ±2^53) into i64 slot `i` of an Int32Array view (little-endian words). */
function setI64(v32: Int32Array, i: number, x: number): void {
  const hi = Math.floor(x / TWO32);
  v32[2 * i] = x - hi * TWO32;
  v32[2 * i + 1] = hi;
}

interface Gen {
  readonly field: Field;
  readonly spec: DataGenField;
  readonly hash: number;
}

/** Rows `start + step * t` for `next <= t`, within the table's rows. */
interface Split {
  readonly start: number;
  readonly step: number;
  next: number;
}

export class DataGenSource implements Source {
  readonly name = 'datagen';
  readonly schema: Schema;
  readonly hasEventTime = false;
  readonly supportsProjection = false;
  /** Subtask i of n generates every n-th row from row i. */
  readonly parallel = true;
  private readonly gens: Gen[];
  private readonly total: number;
  private readonly rate: number;
  private readonly seed: number;

  constructor(schema: Schema, options: DataGenOptions = {}) {
    this.schema = schema;
    this.rate = options.rowsPerSecond ?? 10_000;
    if (!(this.rate > 0)) throw new RangeError(`datagen: rows-per-second must be above 0, got ${this.rate}`);
    this.seed = options.seed ?? 0;
    const fields = options.fields ?? {};
    for (const name of Object.keys(fields)) {
      if (!schema.has(name)) throw new RangeError(`datagen: options for '${name}', which is not a column; the columns are: ${schema.names().join(', ')}`);
    }
    let total = options.numberOfRows ?? Infinity;
    if (total !== Infinity && (!Number.isSafeInteger(total) || total < 0)) throw new RangeError(`datagen: number-of-rows must be a whole number >= 0, got ${total}`);
    this.gens = schema.fields.map((field) => {
      const spec = fields[field.name] ?? {};
      const g = { field, spec, hash: murmur3_32(new TextEncoder().encode(field.name), this.seed) };
      const where = `datagen field '${field.name}' (${field.type})`;
      const whole = (v: number | undefined, what: string): void => {
        if (v !== undefined && !Number.isSafeInteger(v)) throw new RangeError(`${where}: ${what} must be a whole number within ±(2^53 - 1), got ${v}`);
      };
      if (spec.kind === 'sequence') {
        if (field.type === 'bool' || field.type === 'f64') throw new RangeError(`${where}: a sequence is for integer, string and timestamp columns; use kind 'random'`);
        if (spec.start === undefined || spec.end === undefined) throw new RangeError(`${where}: a sequence needs a start and an end`);
        whole(spec.start, 'start');
        whole(spec.end, 'end');
        if (spec.end < spec.start) throw new RangeError(`${where}: the sequence's end (${spec.end}) is before its start (${spec.start})`);
        if (field.type === 'i32' && (spec.start < I32_MIN || spec.end > I32_MAX)) throw new RangeError(`${where}: the sequence leaves the INT range`);
        total = Math.min(total, spec.end - spec.start + 1);
      } else {
        if (field.type === 'i32' || field.type === 'i64') {
          whole(spec.min, 'min');
          whole(spec.max, 'max');
        }
        const [lo, hi] = this.range(field.type, spec);
        if (hi < lo) throw new RangeError(`${where}: max (${hi}) is below min (${lo})`);
        if (field.type === 'i32' && (lo < I32_MIN || hi > I32_MAX)) throw new RangeError(`${where}: min/max leave the INT range`);
        if (spec.length !== undefined && (!Number.isSafeInteger(spec.length) || spec.length < 0)) throw new RangeError(`${where}: length must be a whole number >= 0, got ${spec.length}`);
      }
      return g;
    });
    this.total = total;
  }

  private range(type: DataType, spec: DataGenField): [number, number] {
    const d: [number, number] = type === 'i32' ? [I32_MIN, I32_MAX] : type === 'i64' ? [-SAFE, SAFE] : type === 'f64' ? [-Number.MAX_VALUE, Number.MAX_VALUE] : [0, 0];
    return [spec.min ?? d[0], spec.max ?? d[1]];
  }

  open(ctx: SourceContext): SourceReader {
    return new DataGenReader(this, ctx.batchSize, Date.now(), ctx.subtask ?? 0, ctx.parallelism ?? 1);
  }

  /** @internal */
  get rowsTotal(): number {
    return this.total;
  }
  /** @internal */
  get rowsPerSecond(): number {
    return this.rate;
  }

  /** @internal The column of field `k` for rows from, from + step, ... (n rows). */
  column(k: number, from: number, n: number, openedAt: number, step = 1): Column {
    const { field, spec, hash } = this.gens[k]!;
    const seq = spec.kind === 'sequence';
    // u(row, j): uniform in [0, 1), 53 bits from two murmur3 mixes of (field, row, j).
    const u = (row: number, j: number): number => {
      const lo = row % 4294967296 | 0;
      const hi = Math.floor(row / 4294967296) | 0;
      const a = fmix32(mixH(mixH(hash, lo), hi ^ Math.imul(j, 0x9e3779b1))) >>> 0;
      const b = fmix32(mixH(mixH(hash ^ 0x5bd1e995, lo), hi ^ Math.imul(j + 1, 0x85ebca6b))) >>> 0;
      return ((a >>> 5) * 67108864 + (b >>> 6)) / 9007199254740992;
    };
    const int = (row: number): number => {
      if (seq) return spec.start! + row;
      const [lo, hi] = this.range(field.type, spec);
      return Math.min(hi, lo + Math.floor(u(row, 0) * (hi - lo + 1)));
    };
    switch (field.type) {
      case 'i32': {
        const v = new Int32Array(n);
        for (let i = 0; i < n; i++) v[i] = int(from + i * step);
        return { type: 'i32', values: v, validity: null };
      }
      case 'i64':
      case 'timestamp': {
        const v = new BigInt64Array(n);
        const w = new Int32Array(v.buffer);
        for (let i = 0; i < n; i++) {
          const row = from + i * step;
          const x = field.type === 'timestamp' && !seq ? openedAt - Math.floor(u(row, 0) * ((spec.maxPastMs ?? 0) + 1)) : int(row);
          setI64(w, i, x);
        }
        return { type: field.type, values: v, validity: null };
      }
      case 'f64': {
        const v = new Float64Array(n);
        const [lo, hi] = this.range('f64', spec);
        for (let i = 0; i < n; i++) {
          const x = u(from + i * step, 0);
          v[i] = lo * (1 - x) + hi * x;
        }
        return { type: 'f64', values: v, validity: null };
      }
      case 'bool': {
        const v = new Uint8Array((n + 7) >>> 3);
        for (let i = 0; i < n; i++) if (u(from + i * step, 0) < 0.5) v[i >>> 3]! |= 1 << (i & 7);
        return { type: 'bool', values: v, validity: null };
      }
      case 'utf8': {
        const len = spec.length ?? 100;
        const parts: string[] = [];
        for (let i = 0; i < n; i++) {
          const row = from + i * step;
          if (seq) parts.push(String(spec.start! + row));
          else {
            let s = '';
            for (let j = 0; j < len; j++) s += ALNUM[Math.floor(u(row, j) * ALNUM.length)]!;
            parts.push(s);
          }
        }
        // ASCII only: one byte per character.
        const offsets = new Int32Array(n + 1);
        for (let i = 0; i < n; i++) offsets[i + 1] = offsets[i]! + parts[i]!.length;
        const data = new TextEncoder().encode(parts.join(''));
        return { type: 'utf8', offsets, data, validity: null };
      }
    }
  }
}

/** How many rows split `s` has in a table of `total` rows. */
function splitRows(s: Split, total: number): number {
  return total === Infinity ? Infinity : Math.max(0, Math.ceil((total - s.start) / s.step));
}

class DataGenReader implements SourceReader {
  private parts: Split[];
  /** The split the next batch comes from (in turn). */
  private turn = 0;
  /** Rows this reader generated in this run, for the pace. */
  private emitted = 0;
  private readonly started = Date.now();

  constructor(
    private readonly src: DataGenSource,
    private readonly batchSize: number,
    private readonly openedAt: number,
    private readonly subtask: number,
    private readonly parallelism: number,
  ) {
    this.parts = [{ start: subtask, step: parallelism, next: 0 }];
  }

  async next(): Promise<RecordBatch | null> {
    const total = this.src.rowsTotal;
    this.parts = this.parts.filter((s) => s.next < splitRows(s, total));
    if (this.parts.length === 0) return null;
    const split = this.parts[this.turn++ % this.parts.length]!;
    let n = Math.min(this.batchSize, splitRows(split, total) - split.next);
    const rate = this.src.rowsPerSecond / this.parallelism;
    if (rate !== Infinity) {
      // Rows due by now at this subtask's pace; wait (at most 100 ms, then an empty batch) when none is.
      const due = Math.floor(((Date.now() - this.started) * rate) / 1000) - this.emitted;
      if (due <= 0) {
        const wait = Math.min(100, Math.ceil(((1 - due) * 1000) / rate));
        await new Promise((r) => setTimeout(r, wait));
        return RecordBatch.empty(this.src.schema);
      }
      n = Math.min(n, due);
    }
    const from = split.start + split.step * split.next;
    const cols = this.src.schema.fields.map((_, k) => this.src.column(k, from, n, this.openedAt, split.step));
    split.next += n;
    this.emitted += n;
    return new RecordBatch(this.src.schema, cols, n);
  }

  checkpoint(): unknown {
    return this.parts.map((s) => ({ ...s }));
  }

  restore(position: unknown): void {
    this.parts = splitsOf(position);
  }

  /** At another parallelism: every old split, dealt out in order; this subtask continues every n-th. */
  restoreRescaled(positions: readonly unknown[]): void {
    this.parts = positions.flatMap(splitsOf).filter((_, k) => k % this.parallelism === this.subtask);
  }

  close(): void {}
}

/** A checkpoint's splits (a plain row number is one subtask's position before datagen was parallel). */
function splitsOf(position: unknown): Split[] {
  if (typeof position === 'number') return [{ start: 0, step: 1, next: position }];
  if (position === null || position === undefined) return [];
  return (position as readonly Split[]).map((s) => ({ start: s.start, step: s.step, next: s.next }));
}
