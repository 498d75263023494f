/**
 * Operators of a running job. Each receives batches, watermarks and end-of-input from its
 * input and emits to its outputs (fan-out). Methods may return promises (sinks do); the task
 * awaits them, so a slow sink slows its source down instead of buffering.
 */

import type { RecordBatch } from '../batch/record-batch.js';
import { annotate } from './errors.js';

export interface OperatorMetrics {
  readonly id: number;
  readonly name: string;
  recordsIn: number;
  recordsOut: number;
  /** Late records dropped (window operators). */
  lateRecordsDropped?: number;
  /** Managed memory held at the end (native) or table size (TS), in bytes. */
  memoryBytes?: number;
  /** Bad records routed to a dead-letter file (sources). */
  deadLetters?: number;
}

export abstract class Operator {
  readonly metrics: OperatorMetrics;
  readonly outputs: Operator[] = [];
  /** The last watermark this operator emitted. */
  watermark = -Infinity;

  constructor(id: number, name: string) {
    this.metrics = { id, name, recordsIn: 0, recordsOut: 0 };
  }

  abstract processBatch(batch: RecordBatch): Promise<void> | void;

  processWatermark(watermark: number): Promise<void> | void {
    return this.emitWatermark(watermark);
  }

  /** End of input: flush state, then tell the outputs. */
  finish(): Promise<void> | void {
    return this.emitEnd();
  }

  protected async emit(batch: RecordBatch): Promise<void> {
    if (batch.length === 0) return;
    this.metrics.recordsOut += batch.length;
    for (const o of this.outputs) {
      o.metrics.recordsIn += batch.length;
      try {
        await o.processBatch(batch);
      } catch (e) {
        throw annotate(e, o.metrics.name);
      }
    }
  }

  protected async emitWatermark(watermark: number): Promise<void> {
    if (!(watermark > this.watermark)) return; // never backwards
    this.watermark = watermark;
    for (const o of this.outputs) {
      try {
        await o.processWatermark(watermark);
      } catch (e) {
        throw annotate(e, o.metrics.name);
      }
    }
  }

  protected async emitEnd(): Promise<void> {
    for (const o of this.outputs) {
      try {
        await o.finish();
      } catch (e) {
        throw annotate(e, o.metrics.name);
      }
    }
  }
}
