/** Operators that call a user function once per record: map, filter, flatMap, keyBy with a selector. */

import { BatchBuilder, columnBuilder } from '../../batch/builder.js';
import { RecordBatch, type Row } from '../../batch/record-batch.js';
import { Rows } from './rows.js';
import { i32View } from '../../batch/i64.js';
import type { Schema, DataType } from '../../batch/schema.js';
import { Operator } from '../operator.js';
import type { CompiledCalc } from './calc.js';

/** How a record-function operator hands rows to its function and checks what it returns. */
export interface RecordFunctionOptions {
  /** env.enableObjectReuse: one reused view per operator instead of a fresh record per call. */
  readonly objectReuse: boolean;
  /** No output schema was declared (the input's is kept): a record with another field is an error. */
  readonly assumedSchema: boolean;
  /** The function as a calc (plan/record-functions.ts), or null: it is called per record. */
  readonly compiled?: CompiledCalc | null;
}

/** Copies the event time of rows idx[0..n) (for operators that change the row set). */
function takeEventTime(et: BigInt64Array | null, idx: Int32Array, n: number): BigInt64Array | null {
  if (et === null) return null;
  const out = new BigInt64Array(n);
  const o = i32View(out);
  const s = i32View(et);
  for (let i = 0; i < n; i++) {
    o[2 * i] = s[2 * idx[i]!]!;
    o[2 * i + 1] = s[2 * idx[i]! + 1]!;
  }
  return out;
}

export class MapOperator extends Operator {
  private readonly rows: Rows;
  constructor(
    id: number,
    name: string,
    private readonly fn: (r: Row) => unknown,
    private readonly schema: Schema,
    private readonly options: RecordFunctionOptions,
  ) {
    super(id, name);
    this.rows = new Rows(options.objectReuse);
  }

  processBatch(batch: RecordBatch): Promise<void> {
    const compiled = this.options.compiled ?? null;
    if (compiled !== null && !compiled.needsRecords(batch)) {
      const lease = compiled.pool.lease();
      const out = compiled.calc.process(batch, lease);
      return this.emitLent(new RecordBatch(this.schema, out.columns, out.length, batch.eventTime), lease);
    }
    const reader = this.rows.of(batch);
    const b = new BatchBuilder(this.schema, batch.length, { from: { batch, reader }, assumedSchema: this.options.assumedSchema });
    const where = `${this.metrics.name} output`;
    const base = this.metrics.recordsIn - batch.length;
    const fn = this.fn;
    // Row i of the output comes from row i of the input: unchanged values are taken as they are.
    let i = 0;
    try {
      if (this.rows.reuse) for (; i < batch.length; i++) b.append(fn(reader.view(i)), where, base + i, undefined, i);
      else for (; i < batch.length; i++) b.append(fn(reader.record(i)), where, base + i, undefined, i);
    } catch (e) {
      throw this.rows.failure(e, this.metrics.name, i, base + i);
    }
    // One output per input: the event time is unchanged.
    return this.emit(b.finish().withEventTime(batch.eventTime));
  }
}

export class FilterOperator extends Operator {
  private sel = new Int32Array(1024);
  private readonly rows: Rows;
  constructor(
    id: number,
    name: string,
    private readonly fn: (r: Row) => unknown,
    objectReuse: boolean,
    /** The predicate as a calc keeping every field (plan/record-functions.ts), or null. */
    private readonly compiled: CompiledCalc | null = null,
  ) {
    super(id, name);
    this.rows = new Rows(objectReuse);
  }

  processBatch(batch: RecordBatch): Promise<void> | void {
    if (this.compiled !== null && !this.compiled.needsRecords(batch)) {
      const lease = this.compiled.pool.lease();
      const out = this.compiled.calc.process(batch, lease);
      if (out.length === batch.length) {
        lease.release();
        return this.emit(batch);
      }
      return this.emitLent(new RecordBatch(batch.schema, out.columns, out.length, out.eventTime), lease);
    }
    const reader = this.rows.of(batch);
    if (this.sel.length < batch.length) this.sel = new Int32Array(batch.length);
    const sel = this.sel;
    const fn = this.fn;
    let m = 0;
    let i = 0;
    try {
      if (this.rows.reuse) {
        for (; i < batch.length; i++) if (fn(reader.view(i)) === true) sel[m++] = i;
      } else for (; i < batch.length; i++) if (fn(reader.record(i)) === true) sel[m++] = i;
    } catch (e) {
      throw this.rows.failure(e, this.metrics.name, i, this.metrics.recordsIn - batch.length + i);
    }
    if (m === batch.length) return this.emit(batch);
    return this.emit(batch.take(sel, m));
  }
}

export class FlatMapOperator extends Operator {
  private readonly rows: Rows;
  constructor(
    id: number,
    name: string,
    private readonly fn: (r: Row) => Iterable<unknown>,
    private readonly schema: Schema,
    private readonly options: RecordFunctionOptions,
  ) {
    super(id, name);
    this.rows = new Rows(options.objectReuse);
  }

  processBatch(batch: RecordBatch): Promise<void> {
    const compiled = this.options.compiled ?? null;
    if (compiled !== null && !compiled.needsRecords(batch)) {
      const lease = compiled.pool.lease();
      const out = compiled.calc.process(batch, lease);
      return this.emitLent(new RecordBatch(this.schema, out.columns, out.length, batch.eventTime), lease);
    }
    const reader = this.rows.of(batch);
    const b = new BatchBuilder(this.schema, batch.length, { from: { batch, reader }, assumedSchema: this.options.assumedSchema });
    const src: number[] = [];
    const where = `${this.metrics.name} output`;
    const base = this.metrics.recordsIn - batch.length;
    const reuse = this.rows.reuse;
    for (let i = 0; i < batch.length; i++) {
      let out: Iterable<unknown>;
      try {
        out = this.fn(reuse ? reader.view(i) : reader.record(i));
      } catch (e) {
        throw this.rows.failure(e, this.metrics.name, i, base + i);
      }
      if (out === null || typeof out !== 'object' || !(Symbol.iterator in out)) {
        throw new TypeError(`${this.metrics.name}: the function must return an iterable (e.g. an array) of records, got ${typeof out} for record ${base + i}`);
      }
      try {
        // A generator runs the user's code while it is iterated.
        for (const r of out) {
          b.append(r, where, base + i, undefined, i);
          src.push(i);
        }
      } catch (e) {
        throw this.rows.failure(e, this.metrics.name, i, base + i);
      }
    }
    const out = b.finish();
    return this.emit(out.withEventTime(takeEventTime(batch.eventTime, Int32Array.from(src), src.length)));
  }
}

/** keyBy(selector): appends the computed key as a `key` column. */
export class KeySelectorOperator extends Operator {
  private readonly rows: Rows;
  constructor(
    id: number,
    name: string,
    private readonly fn: (r: Row) => unknown,
    private readonly keyType: DataType,
    private readonly schema: Schema,
    objectReuse: boolean,
  ) {
    super(id, name);
    this.rows = new Rows(objectReuse);
  }

  processBatch(batch: RecordBatch): Promise<void> {
    const reader = this.rows.of(batch);
    const read = this.rows.reuse ? (i: number) => reader.view(i) : (i: number) => reader.record(i);
    const kb = columnBuilder({ name: 'key', type: this.keyType, nullable: false }, batch.length);
    const where = `${this.metrics.name} (key selector; change the key type with keyBy(fn, type))`;
    const base = this.metrics.recordsIn - batch.length;
    let i = 0;
    try {
      for (; i < batch.length; i++) kb.append(this.fn(read(i)), where, base + i);
    } catch (e) {
      throw this.rows.failure(e, this.metrics.name, i, base + i);
    }
    return this.emit(new RecordBatch(this.schema, [...batch.columns, kb.finish()], batch.length, batch.eventTime));
  }
}
