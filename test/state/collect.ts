// An operator at the end of an operator-level test: every row it gets, with its event time.
import { getI64, i32View } from '../../ts/batch/i64.js';
import { rowReader, type RecordBatch } from '../../ts/batch/record-batch.js';
import { Operator } from '../../ts/runtime/operator.js';

export class Collect extends Operator {
  readonly rows: unknown[] = [];
  processBatch(b: RecordBatch): void {
    const read = rowReader(b);
    const times = i32View(b.eventTime!);
    for (let i = 0; i < b.length; i++) this.rows.push({ ...read(i), $time: getI64(times, i) });
  }
}
