/** The head of a side output's chain (getSideOutput): passes batches on. */

import type { RecordBatch } from '../../batch/record-batch.js';
import { Operator } from '../operator.js';

export class SideOutputOperator extends Operator {
  processBatch(batch: RecordBatch): Promise<void> {
    return this.emit(batch);
  }
}
