/** Rows for user functions: fresh records, or with object reuse one view per operator. */

import type { RecordBatch } from '../../batch/record-batch.js';
import { RowReader } from '../../batch/row-reader.js';

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
}
