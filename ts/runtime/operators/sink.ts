/**
 * The end of a stream: a sink's writer. A writer with two-phase commit (preCommit/commit)
 * runs in a CommittingSinkOperator, the only operator that takes part in commits.
 */

import { ownedBatch } from '../../batch/segment.js';
import type { SinkWriter } from '../../api/connector.js';
import type { RecordBatch } from '../../batch/record-batch.js';
import { Operator } from '../operator.js';
import type { TwoPhaseCommitting } from '../two-phase-commit.js';

export interface SinkSpec {
  readonly writer: SinkWriter;
  /**
   * 'end-of-input': the writer closes when its input ends; 'close': when the operator closes,
   * i.e. after the final checkpoint committed (checkpointing jobs).
   */
  readonly closeWriterAt: 'end-of-input' | 'close';
}

export class SinkOperator extends Operator {
  protected readonly writer: SinkWriter;
  private readonly closeAtEnd: boolean;
  private closed = false;

  constructor(id: number, name: string, spec: SinkSpec) {
    super(id, name, 'sink');
    this.writer = spec.writer;
    this.closeAtEnd = spec.closeWriterAt === 'end-of-input';
  }

  override async finish(): Promise<void> {
    this.task?.finished(this);
    if (this.writer.finish !== undefined && !this.closed) await this.serially(() => this.writer.finish!('end'));
    if (this.closeAtEnd) await this.closeWriter();
  }

  /**
   * The writer's call in progress, if it is asynchronous. A sink after a union (or any
   * operator with several inputs) is called from each input's loop: its writer must still see
   * one call at a time, in the order they came, as Flink's single-threaded task calls it (a
   * Kafka producer's concurrent sends into one transaction break its sequence numbers).
   */
  private pending: Promise<void> | null = null;

  private serially(f: () => Promise<void> | void): Promise<void> | void {
    if (this.pending === null) {
      const r = f();
      return r instanceof Promise ? this.track(r) : r;
    }
    return this.track(this.pending.then(f));
  }

  private track(p: Promise<void>): Promise<void> {
    const tracked: Promise<void> = p.finally(() => {
      if (this.pending === tracked) this.pending = null;
    });
    this.pending = tracked;
    return tracked;
  }

  override async stopped(): Promise<void> {
    if (this.writer.finish !== undefined && !this.closed) await this.serially(() => this.writer.finish!('stop'));
  }

  /** Not queued behind a write in progress: a failed run closes at once, and the writer aborts what is under way (KafkaWriter.close). */
  override close(): Promise<void> {
    return this.closeWriter();
  }

  private async closeWriter(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writer.close();
  }

  processBatch(batch: RecordBatch): Promise<void> | void {
    // A sink may keep what it is given (collecting sinks, pending commits): never a view of an
    // exchange segment or a lent buffer, which go back to their pool once this call is done.
    const owned = this.writer.borrows === true ? batch : ownedBatch(batch);
    return this.serially(() => {
      const r = this.writer.write(owned);
      if (r instanceof Promise) return this.waitFor(r);
    });
  }

  private async waitFor(p: Promise<void>): Promise<void> {
    const t0 = performance.now();
    await p;
    this.blocked(performance.now() - t0);
  }

  /** Watermarks end here, unless the writer passes them on (an application's repartition topic). */
  override processWatermark(watermark: number): Promise<void> | void {
    if (this.writer.watermark === undefined || this.closed) return;
    this.watermark = watermark;
    return this.serially(() => this.writer.watermark!(watermark));
  }

  /** Idleness ends here too, unless the writer passes it on with its watermarks. */
  override processIdle(idle: boolean): Promise<void> | void {
    if (this.writer.idle === undefined || this.closed) return;
    return this.serially(() => this.writer.idle!(idle));
  }
}

/** A sink whose writer publishes output only when a checkpoint completes (exactly-once). */
export class CommittingSinkOperator extends SinkOperator implements TwoPhaseCommitting {
  preCommit(id: number): unknown {
    return this.writer.preCommit!(id);
  }

  commit(id: number): Promise<void> | void {
    return this.writer.commit!(id);
  }

  restoreCommit(state: unknown): void {
    this.writer.restore!(state);
  }

  restoreCommitRescaled(states: readonly unknown[]): boolean {
    if (this.writer.restoreRescaled === undefined) return false;
    this.writer.restoreRescaled(states);
    return true;
  }
}
