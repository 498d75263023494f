/**
 * A source as the head of its chain: checks what the source produces before anyone reads it,
 * and tells its watermark generator (chained right behind it) about splits and quiet spells.
 * The task drives it (reads the reader, injects barriers); the operator holds the reader's
 * position for checkpoints.
 */

import type { SourceReader } from '../../api/connector.js';
import type { RecordBatch } from '../../batch/record-batch.js';
import type { Schema } from '../../batch/schema.js';
import { maxEventTime } from '../event-time.js';
import { Operator } from '../operator.js';
import type { TimestampsOperator } from './timestamps.js';

export class SourceOperator extends Operator {
  constructor(
    id: number,
    name: string,
    readonly reader: SourceReader,
    private readonly schema: Schema,
    /** The source's watermark strategy, chained behind it; null without one. */
    private readonly watermarks: TimestampsOperator | null,
  ) {
    super(id, name, 'source');
  }

  processBatch(): void {
    throw new Error('a source has no input');
  }

  override checkpointGap(): string | null {
    return this.reader.checkpoint === undefined ? 'the source cannot record its read position, so a restore could not rewind it' : null;
  }

  override snapshotState(checkpointId?: number): unknown {
    return this.reader.checkpoint!(checkpointId);
  }

  override notifyCheckpointComplete(id: number): Promise<void> | void {
    return this.reader.checkpointComplete?.(id);
  }

  override restoreState(state: unknown): void {
    this.reader.restore!(state);
  }

  /** Splits move between subtasks when the reader can reassign them; its positions are not keyed. */
  override restoreRescaled(states: readonly unknown[]): boolean {
    if (this.reader.restoreRescaled === undefined) return false;
    this.reader.restoreRescaled(states);
    return true;
  }

  push(batch: RecordBatch): Promise<void> {
    // A reader that applied a pushed filter: the rows it dropped move the watermark as they would
    // have downstream of the filter, and a batch of none of them is not a quiet spell.
    const read = this.reader.readMaxEventTime?.() ?? -Infinity;
    if (batch.length === 0) {
      if (read === -Infinity) return this.tick();
      this.noteSplits();
      return this.watermarks === null ? Promise.resolve() : this.watermarks.dropped(read);
    }
    const position = this.metrics.recordsOut;
    if (!batch.schema.equals(this.schema)) {
      const kinds = (s: Schema) => s.fields.map((f) => `${f.name}: ${f.type}`).join(', ');
      if (kinds(batch.schema) !== kinds(this.schema)) {
        throw new Error(`${this.metrics.name} produced a batch of { ${kinds(batch.schema)} } but declared { ${kinds(this.schema)} }`);
      }
    }
    batch.columns.forEach((c, k) => {
      if (c.type !== this.schema.fields[k]!.type) {
        throw new Error(`${this.metrics.name}: column '${this.schema.fields[k]!.name}' holds ${c.type} values but is declared ${this.schema.fields[k]!.type}`);
      }
    });
    if (batch.eventTime !== null) maxEventTime(batch.eventTime, batch.length, this.metrics.name, position, '(event time)');
    this.noteSplits();
    if (read !== -Infinity) this.watermarks?.seen(read);
    if (this.reader.watermark !== undefined) return this.emit(batch).then(() => this.readerWatermark());
    return this.emit(batch);
  }

  private noteSplits(): void {
    const splits = this.reader.splits?.();
    if (splits !== undefined) this.watermarks?.setSplits(splits.current, splits.active);
  }

  /** Nothing to read right now: let the watermark generator consider the input idle. */
  private async tick(): Promise<void> {
    await this.watermarks?.tick(performance.now());
    await this.readerWatermark();
  }

  /** A reader that knows its watermark (see SourceReader.watermark): emitted after the batch it follows. */
  private async readerWatermark(): Promise<void> {
    const w = this.reader.watermark?.();
    if (w !== undefined && w > this.watermark) await this.emitWatermark(w);
  }

  end(): Promise<void> {
    return this.emitWatermark(Infinity).then(() => this.emitEnd());
  }

  override async close(): Promise<void> {
    try {
      await this.reader.close();
    } catch {
      // Closing after a failure must not hide the failure (and a read to the end has nothing left to lose).
    }
  }
}
