/**
 * The updating (non-windowed) aggregation (Table API groupBy().select(), SQL GROUP BY without a
 * window, DISTINCT): the engine's GroupAggregator holds the groups; each batch's changes are
 * emitted at once. Its state is the aggregator's state rows (the same on both engines), split
 * by key group on a rescaled restore. Its output has no event time (Flink's: no time attribute
 * after a non-windowed aggregation); watermarks pass through. With a state TTL the aggregator
 * is given the processing time of each batch (groups not written for the TTL expire).
 */

import type { RecordBatch } from '../../batch/record-batch.js';
import type { Engine, GroupAggregator } from '../../engine/engine.js';
import { Operator } from '../operator.js';
import { ProcessingClock } from '../processing-clock.js';
import type { KeyGroupFilter } from '../rescale.js';

export class GroupAggregateOperator extends Operator {
  private readonly clock = new ProcessingClock();

  constructor(
    id: number,
    name: string,
    private readonly agg: GroupAggregator,
    private readonly engine: Engine,
    /** The key columns' positions in the state rows (the first ones). */
    private readonly keyCount: number,
  ) {
    super(id, name);
  }

  processBatch(batch: RecordBatch): Promise<void> | void {
    if (batch.length === 0) return;
    const out = this.agg.push(batch.eventTime === null ? batch : batch.withEventTime(null), this.clock.now());
    if (out !== null) return this.emit(out);
  }

  override snapshotState(): unknown {
    return { groups: this.engine.encodeBatch(this.agg.snapshot()) };
  }

  override restoreState(state: unknown): void {
    this.agg.restore(this.engine.decodeBatch((state as { groups: Uint8Array }).groups));
  }

  override restoreRescaled(states: readonly unknown[], keep: KeyGroupFilter): boolean {
    const keys = Array.from({ length: this.keyCount }, (_, i) => i);
    for (const s of states) {
      const rows = this.engine.decodeBatch((s as { groups: Uint8Array }).groups);
      // No keys: one group, on the single subtask a global aggregation has.
      const mine = keys.length === 0 ? rows : keep.rows(rows, keys);
      if (mine !== null) this.agg.restore(mine);
    }
    return true;
  }
}
