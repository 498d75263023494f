/** Processing time for windows. */

import type { RecordBatch } from '../../batch/record-batch.js';
import { Operator } from '../operator.js';

/**
 * Processing time for windows: stamps each batch with the wall clock (kept monotonic) as its
 * window time and moves the watermark to just before it, so windows whose end has passed fire.
 * Event-time watermarks from upstream do not apply; end of input still flushes everything.
 */
export class ProcessingTimeOperator extends Operator {
  private clock = -Infinity;

  override snapshotState(): unknown {
    return this.clock;
  }

  override restoreState(state: unknown): void {
    this.clock = state as number;
  }

  async processBatch(batch: RecordBatch): Promise<void> {
    this.clock = Math.max(this.clock, Date.now());
    const et = new BigInt64Array(batch.length).fill(BigInt(this.clock));
    await this.emit(batch.withEventTime(et));
    await this.emitWatermark(this.clock - 1);
  }

  override processWatermark(watermark: number): Promise<void> | void {
    if (watermark === Infinity) return this.emitWatermark(Infinity);
  }
}
