/** Rows for user functions: fresh records, or with object reuse one view per operator. */

import { BadValueError } from '../../batch/builder.js';
import type { RecordBatch } from '../../batch/record-batch.js';
import { RowReader } from '../../batch/row-reader.js';
import { describeRecord, UserFunctionError } from '../../api/errors.js';

/**
 * The rows of the batches an operator receives: one reader, rebuilt only if the schema
 * changes. Operators hand `record(i)` (fresh) or, when `reuse`, `view(i)` to their function.
 */
export class Rows {
  private reader: RowReader | null = null;
  constructor(private readonly objectReuse: boolean) {}

  of(batch: RecordBatch): RowReader {
    if (this.reader === null || this.reader.schema !== batch.schema) this.reader = new RowReader(batch.schema);
    return this.reader.reset(batch);
  }

  get reuse(): boolean {
    return this.objectReuse;
  }

  /**
   * What an operator throws when processing row i failed: an error of its own (a value that
   * does not fit the output, already naming record and field) as it is; anything the user's
   * function threw as a UserFunctionError naming the operator and the record.
   */
  failure(e: unknown, operator: string, i: number, position: number): unknown {
    if (e instanceof BadValueError || e instanceof UserFunctionError || this.reader === null) return e;
    let record: string;
    try {
      record = describeRecord(this.reader.record(i));
    } catch {
      record = '(unreadable)';
    }
    return new UserFunctionError(operator, position, record, e);
  }
}
