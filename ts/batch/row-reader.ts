/**
 * Rows of a batch as JavaScript values, for user functions: read straight from the columns by
 * code generated once per schema (monomorphic property reads, no per-field closures).
 *
 * Two ways to hand a row to a function (Flink's object-reuse switch):
 * - `record(i)`: a fresh plain object with every field (the default). It may be kept, spread,
 *   serialised, mutated; it shares nothing with the batch.
 * - `view(i)`: with object reuse, one view per reader, moved to row i: its fields are getters
 *   that read the column only when asked (a string is decoded only when read). It is valid for
 *   the duration of one call; `copyRecord(view)` gives a plain object to keep.
 *
 * Strings are decoded a chunk of rows at a time (one call into Node for up to 4 KiB of ASCII
 * text) and sliced per row, instead of one decode per value. A slice may share its chunk's
 * memory, so a kept string holds at most 4 KiB of its batch's text alive.
 * The reader also remembers the string it last returned per column, so that an output builder
 * can copy the bytes of a value that passed through unchanged instead of encoding it again.
 */

import { Buffer, isAscii } from 'node:buffer';
import type { Column, Utf8Column } from './column.js';
import { inexactI64Error } from './i64.js';
import type { DataType, Schema } from './schema.js';

/** A record as user functions see it. */
export type Row = Record<string, unknown>;

/** What a reader reads: a batch's schema and columns (RecordBatch, without importing it). */
export interface Columnar {
  readonly schema: Schema;
  readonly columns: readonly Column[];
}

/** Text decoded per call for string columns: small enough to be a young-generation string. */
const STRING_CHUNK_BYTES = 4096;

/** One utf8 column of the current batch, decoded a chunk at a time; remembers its last value. */
export class Utf8Reader {
  private offsets: Int32Array = new Int32Array(1);
  private buf: Buffer = Buffer.alloc(0);
  private text = '';
  /** Rows [from, to) are in `text`, which starts at byte `base` (ASCII: bytes = characters). */
  private from = 0;
  private to = 0;
  private base = 0;
  private ascii = false;
  /** Whether the whole column is ASCII: null until the first chunk is decoded. */
  private allAscii: boolean | null = null;
  /** The row `last` was read from (-1: none), for pass-through detection. */
  lastRow = -1;
  last = '';

  reset(col: Utf8Column): void {
    this.offsets = col.offsets;
    this.buf = Buffer.from(col.data.buffer, col.data.byteOffset, col.data.byteLength);
    this.from = this.to = 0;
    this.allAscii = null;
    this.lastRow = -1;
    this.last = '';
  }

  get(i: number): string {
    if (i === this.lastRow) return this.last;
    if (i < this.from || i >= this.to) this.load(i);
    const o = this.offsets;
    const s = this.ascii ? this.text.substring(o[i]! - this.base, o[i + 1]! - this.base) : this.buf.toString('utf8', o[i]!, o[i + 1]!);
    this.lastRow = i;
    this.last = s;
    return s;
  }

  private load(i: number): void {
    const o = this.offsets;
    const n = o.length - 1;
    const base = o[i]!;
    let j = i + 1;
    while (j < n && o[j + 1]! - base <= STRING_CHUNK_BYTES) j++;
    const end = o[j]!;
    this.from = i;
    this.to = j;
    this.base = base;
    // One check of the whole column (tens of GB/s) beats one per chunk; mixed text is checked per chunk.
    this.allAscii ??= isAscii(this.buf.subarray(o[0]!, o[n]!));
    this.ascii = this.allAscii || isAscii(this.buf.subarray(base, end));
    this.text = this.ascii ? this.buf.toString('latin1', base, end) : '';
  }
}

/** The current batch's columns as the generated code reads them (field k: `v[k]`, `n[k]`, `s[k]`). */
export class RowColumns {
  /** Values: the typed array (i64 and timestamp: an Int32Array view, two words per value). */
  readonly v: (Int32Array | Float64Array | Uint8Array | null)[];
  /** Validity bitmaps (null: no nulls). */
  readonly n: (Uint8Array | null)[];
  /** String readers, for utf8 fields. */
  readonly s: (Utf8Reader | null)[];
  batch: Columnar | null = null;

  constructor(readonly schema: Schema) {
    const types = schema.fields.map((f) => f.type);
    this.v = types.map(() => null);
    this.n = types.map(() => null);
    this.s = types.map((t) => (t === 'utf8' ? new Utf8Reader() : null));
  }

  reset(batch: Columnar): void {
    this.batch = batch;
    const cols = batch.columns;
    for (let k = 0; k < cols.length; k++) {
      const c: Column = cols[k]!;
      this.n[k] = c.validity;
      switch (c.type) {
        case 'utf8':
          this.s[k]!.reset(c);
          break;
        case 'i64':
        case 'timestamp':
          this.v[k] = new Int32Array(c.values.buffer, c.values.byteOffset, c.values.length * 2);
          break;
        default:
          this.v[k] = c.values;
      }
    }
  }

  /** An i64 value beyond ±2^53: an error rather than a rounded number. */
  inexact(k: number, i: number): never {
    const c = this.batch!.columns[k] as { values: BigInt64Array };
    throw inexactI64Error(`field '${this.schema.fields[k]!.name}', row ${i}`, c.values[i]!);
  }
}

/** The expression reading field k of row `i` from RowColumns `c` (generated code). */
function readExpr(type: DataType, k: number): string {
  let e: string;
  switch (type) {
    case 'i32':
    case 'f64':
      e = `c.v[${k}][i]`;
      break;
    case 'i64':
    case 'timestamp':
      // |hi| < 2^21: exactly representable; otherwise an error (see i64.ts).
      e = `((h = c.v[${k}][2 * i + 1]) >= -2097152 && h < 2097152 ? h * 4294967296 + (c.v[${k}][2 * i] >>> 0) : c.inexact(${k}, i))`;
      break;
    case 'bool':
      e = `(c.v[${k}][i >>> 3] & (1 << (i & 7))) !== 0`;
      break;
    case 'utf8':
      e = `c.s[${k}].get(i)`;
      break;
  }
  // Every column may carry a validity bitmap (a nullable input), whatever its declaration.
  return `(c.n[${k}] !== null && (c.n[${k}][i >>> 3] & (1 << (i & 7))) === 0 ? null : ${e})`;
}

type RecordFn = (c: RowColumns, i: number) => Row;
type ViewClass = new (c: RowColumns) => RowView;

/** A reused row view: the generated subclass adds one getter per field. */
export interface RowView extends Row {
  /** @internal Moves the view to row i. */
  [AT](i: number): void;
}

const AT = Symbol('sluice.row.at');
const VIEW = Symbol('sluice.row.view');

interface Generated {
  readonly record: RecordFn;
  readonly View: ViewClass;
}

/** By field names and types: batches of one shape may carry distinct Schema objects. */
const generated = new Map<string, Generated>();

function generate(schema: Schema): Generated {
  const key = JSON.stringify(schema.fields.map((f) => [f.name, f.type]));
  let g = generated.get(key);
  if (g !== undefined) return g;
  const fields = schema.fields;
  // Generated from field names (JSON-quoted) and indexes only, never from data.
  const props = fields.map((f, k) => `${JSON.stringify(f.name)}: ${readExpr(f.type, k)}`).join(',\n');
  const record = new Function('c', 'i', `let h = 0;\nreturn {\n${props}\n};`) as RecordFn;
  const getters = fields
    .map((f, k) => `get [${JSON.stringify(f.name)}]() { const c = this.#c, i = this.#i; let h = 0; return ${readExpr(f.type, k)}; }`)
    .join('\n');
  const names = JSON.stringify(fields.map((f) => f.name));
  const hasToJson = fields.some((f) => f.name === 'toJSON');
  const View = new Function(
    'AT',
    'VIEW',
    `return class RowView {
  #c; #i = 0;
  constructor(c) { this.#c = c; }
  [AT](i) { this.#i = i; }
  get [VIEW]() { return ${names}; }
  ${hasToJson ? '' : `toJSON() { const o = {}; for (const k of ${names}) o[k] = this[k]; return o; }`}
  ${getters}
};`,
  )(AT, VIEW) as ViewClass;
  g = { record, View };
  generated.set(key, g);
  return g;
}

/**
 * Reads rows of batches of one schema; `reset(batch)` per batch. One per operator: its string
 * readers and view are reused from batch to batch.
 */
export class RowReader {
  readonly columns: RowColumns;
  private readonly recordFn: RecordFn;
  private readonly rowView: RowView;

  constructor(readonly schema: Schema) {
    const g = generate(schema);
    this.columns = new RowColumns(schema);
    this.recordFn = g.record;
    this.rowView = new g.View(this.columns);
  }

  reset(batch: Columnar): this {
    this.columns.reset(batch);
    return this;
  }

  /** Row i as a fresh plain object. */
  record(i: number): Row {
    return this.recordFn(this.columns, i);
  }

  /** Row i as the reader's one view (object reuse): valid until the next call. */
  view(i: number): Row {
    this.rowView[AT](i);
    return this.rowView;
  }

  /** The string reader of field k (utf8 fields), for pass-through detection. */
  strings(k: number): Utf8Reader | null {
    return this.columns.s[k]!;
  }
}

/**
 * A record to keep: a row view (object reuse) becomes a plain object with every field; a plain
 * object is copied (shallow). Use it in a function that stores its input beyond the call.
 */
export function copyRecord<T extends object>(record: T): T {
  const names = (record as { [VIEW]?: readonly string[] })[VIEW];
  if (names === undefined) return { ...record };
  const o: Record<string, unknown> = {};
  for (const k of names) o[k] = (record as Record<string, unknown>)[k];
  return o as T;
}
