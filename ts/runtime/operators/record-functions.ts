/** Operators that call a user function once per record: map, filter, flatMap, keyBy with a selector. */

import { BatchBuilder, ColumnBuilder } from '../../batch/builder.js';
import { RecordBatch, rowReader, type Row } from '../../batch/record-batch.js';
import { i32View } from '../../batch/i64.js';
import type { Schema, DataType } from '../../batch/schema.js';
import { Operator } from '../operator.js';

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
  constructor(
    id: number,
    name: string,
    private readonly fn: (r: Row) => unknown,
    private readonly schema: Schema,
  ) {
    super(id, name);
  }

  processBatch(batch: RecordBatch): Promise<void> {
    const read = rowReader(batch);
    const b = new BatchBuilder(this.schema, batch.length);
    const where = `${this.metrics.name} output`;
    const base = this.metrics.recordsIn - batch.length;
    for (let i = 0; i < batch.length; i++) b.append(this.fn(read(i)), where, base + i);
    // One output per input: the event time is unchanged.
    return this.emit(b.finish().withEventTime(batch.eventTime));
  }
}

export class FilterOperator extends Operator {
  private sel = new Int32Array(1024);
  constructor(
    id: number,
    name: string,
    private readonly fn: (r: Row) => unknown,
  ) {
    super(id, name);
  }

  processBatch(batch: RecordBatch): Promise<void> | void {
    const read = rowReader(batch);
    if (this.sel.length < batch.length) this.sel = new Int32Array(batch.length);
    const sel = this.sel;
    let m = 0;
    for (let i = 0; i < batch.length; i++) if (this.fn(read(i)) === true) sel[m++] = i;
    if (m === batch.length) return this.emit(batch);
    return this.emit(batch.take(sel, m));
  }
}

export class FlatMapOperator extends Operator {
  constructor(
    id: number,
    name: string,
    private readonly fn: (r: Row) => Iterable<unknown>,
    private readonly schema: Schema,
  ) {
    super(id, name);
  }

  processBatch(batch: RecordBatch): Promise<void> {
    const read = rowReader(batch);
    const b = new BatchBuilder(this.schema, batch.length);
    const src: number[] = [];
    const where = `${this.metrics.name} output`;
    const base = this.metrics.recordsIn - batch.length;
    for (let i = 0; i < batch.length; i++) {
      const out = this.fn(read(i));
      if (out === null || typeof out !== 'object' || !(Symbol.iterator in out)) {
        throw new TypeError(`${this.metrics.name}: the function must return an iterable (e.g. an array) of records, got ${typeof out} for record ${base + i}`);
      }
      for (const r of out) {
        b.append(r, where, base + i);
        src.push(i);
      }
    }
    const out = b.finish();
    return this.emit(out.withEventTime(takeEventTime(batch.eventTime, Int32Array.from(src), src.length)));
  }
}

/** keyBy(selector): appends the computed key as a `key` column. */
export class KeySelectorOperator extends Operator {
  constructor(
    id: number,
    name: string,
    private readonly fn: (r: Row) => unknown,
    private readonly keyType: DataType,
    private readonly schema: Schema,
  ) {
    super(id, name);
  }

  processBatch(batch: RecordBatch): Promise<void> {
    const read = rowReader(batch);
    const kb = new ColumnBuilder({ name: 'key', type: this.keyType, nullable: false }, batch.length);
    const where = `${this.metrics.name} (key selector; change the key type with keyBy(fn, type))`;
    const base = this.metrics.recordsIn - batch.length;
    for (let i = 0; i < batch.length; i++) kb.append(this.fn(read(i)), where, base + i);
    return this.emit(new RecordBatch(this.schema, [...batch.columns, kb.finish()], batch.length, batch.eventTime));
  }
}
