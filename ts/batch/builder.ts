/**
 * Builds batches from JS records of a schema: one column builder per field (column-builder.ts),
 * fed by an appender generated once per schema.
 */

import { setI64 } from './i64.js';
import type { Field } from './schema.js';
import { Schema } from './schema.js';
import { RecordBatch } from './record-batch.js';
import type { RowReader } from './row-reader.js';
import { BadValueError, columnBuilder, describe, type ColumnBuilder, type ColumnSource } from './column-builder.js';

export { BadValueError, columnBuilder, type ColumnBuilder, type ColumnSource };

type Appender = (cols: readonly ColumnBuilder[], r: Record<string, unknown>, where: string, position: number, row: number) => void;

const appenders = new WeakMap<Schema, Appender>();

/** Appends a record's fields in schema order, rolling back on error; generated once per schema. */
function appender(schema: Schema): Appender {
  let f = appenders.get(schema);
  if (f === undefined) {
    // Generated from field names (JSON-quoted) only: a property read per field at its own site.
    const body = schema.fields.map((fl, k) => `cols[${k}].append(r[${JSON.stringify(fl.name)}], where, position, row); k = ${k + 1};`).join('\n');
    f = new Function('cols', 'r', 'where', 'position', 'row', `let k = 0;\ntry {\n${body}\n} catch (e) {\nfor (let j = 0; j < k; j++) cols[j].rollbackLast();\nthrow e;\n}`) as Appender;
    appenders.set(schema, f);
  }
  return f;
}

export interface BatchBuilderOptions {
  /**
   * The input batch the records are computed from (and the reader that read it): output fields
   * of the same name and type take unchanged values from it without encoding them again.
   */
  readonly from?: { readonly batch: RecordBatch; readonly reader: RowReader | null };
  /**
   * The schema was assumed (the input's), not declared: a record with a field it lacks is an
   * error rather than silently narrowed.
   */
  readonly assumedSchema?: boolean;
}

/** Builds batches from plain records of a schema. */
export class BatchBuilder {
  private readonly cols: ColumnBuilder[];
  private readonly names: string[];
  private readonly appendFields: Appender;
  private readonly assumed: boolean;
  private times: number[] | null = null;

  constructor(
    readonly schema: Schema,
    capacity = 1024,
    options: BatchBuilderOptions = {},
  ) {
    const from = options.from;
    this.cols = schema.fields.map((f) => columnBuilder(f, capacity, from === undefined ? null : columnSource(f, from.batch, from.reader)));
    this.names = schema.names();
    this.appendFields = appender(schema);
    this.assumed = options.assumedSchema === true;
  }

  get length(): number {
    return this.cols.length === 0 ? 0 : this.cols[0]!.length;
  }

  /**
   * Appends a record; `row` is the input row it was computed from (see `from`), or -1.
   * `where`/`position` name it in errors.
   */
  append(record: unknown, where: string, position: number, eventTime?: number, row = -1): void {
    if (record === null || typeof record !== 'object') {
      throw new BadValueError(where, position, this.names[0] ?? '', `expected a record object, got ${describe(record)}`);
    }
    const r = record as Record<string, unknown>;
    if (this.assumed) this.checkFields(r, where, position);
    this.appendFields(this.cols, r, where, position, row);
    if (eventTime !== undefined) (this.times ??= []).push(eventTime);
  }

  private checkFields(r: Record<string, unknown>, where: string, position: number): void {
    for (const k in r) {
      if (!this.schema.has(k)) {
        throw new BadValueError(
          where,
          position,
          k,
          `is not a field of ${this.schema}, the input's schema, which the output keeps when no schema is given; pass the output schema as the last argument (e.g. map(fn, { ...fields }))`,
        );
      }
    }
  }

  finish(): RecordBatch {
    const n = this.length;
    let et: BigInt64Array | null = null;
    if (this.times !== null) {
      et = new BigInt64Array(n);
      const v = new Int32Array(et.buffer);
      for (let i = 0; i < n; i++) setI64(v, i, this.times[i]!);
    }
    return new RecordBatch(this.schema, this.cols.map((c) => c.finish()), n, et);
  }
}

/** The input column output field `f` may take values from: same name and type. */
function columnSource(f: Field, batch: RecordBatch, reader: RowReader | null): ColumnSource | null {
  if (!batch.schema.has(f.name)) return null;
  const k = batch.schema.indexOf(f.name);
  const column = batch.columns[k]!;
  if (column.type !== f.type) return null;
  return { column, length: batch.length, strings: reader === null ? null : reader.strings(k) };
}

/** One batch from records (tests, `fromRecords`). */
export function batchFromRecords(records: readonly unknown[], schema: Schema, where = 'records', firstPosition = 0): RecordBatch {
  const b = new BatchBuilder(schema, records.length);
  for (let i = 0; i < records.length; i++) b.append(records[i], where, firstPosition + i);
  return b.finish();
}
