/**
 * Checkpoints of the built-in windows, whose state lives in an engine kernel that does not
 * serialize it: the input batches the state was built from are kept, stored by a checkpoint
 * (columnar, FlatBuffers) and replayed into a fresh aggregator on restore.
 *
 * Time windows: each batch is kept until the watermark passes the end of the last window of its
 * latest record, plus the allowed lateness. A restore replays them, then advances the aggregator
 * to the checkpoint's watermark, discarding what that fires again (it was emitted before the
 * checkpoint). Replayed in arrival order, the aggregator's state, output order and float sums
 * are as they were.
 *
 * Sessions grow and merge, so a record's window is not known from its time: each batch is kept
 * with the watermark it arrived at, and the batches older than the earliest session still in the
 * aggregator are dropped (at a checkpoint, or when the kept batches doubled). A restore replays
 * the batches each at its own watermark, so that sessions merge, fire and find records late as
 * they did.
 *
 * Count windows: per key, the last records that decide what fires next (count-retention.ts).
 */

import { HeapBuffers } from '../../batch/lease.js';
import { ownedBatch } from '../../batch/segment.js';
import type { RecordBatch } from '../../batch/record-batch.js';
import type { Engine, WindowDescriptor } from '../../engine/engine.js';
import { lastWindowStart } from '../../engine/window-spec.js';
import { maxEventTime } from '../event-time.js';
import type { KeyGroupFilter } from '../rescale.js';
import { CountRetention } from './count-retention.js';

export interface InputReplaySpec {
  readonly engine: Engine;
  readonly window: WindowDescriptor;
  /** Allowed lateness, ms. */
  readonly lateness: number;
  /** Key fields (input indices): which rows stay with a subtask on rescaling. */
  readonly keyFields: readonly number[];
  /** Names the operator in error messages. */
  readonly name: string;
}

/** A kept input batch, and the watermark the aggregator was at when it arrived. */
export interface ReplayBatch {
  readonly batch: RecordBatch;
  readonly watermark: number;
}

interface Snapshot {
  readonly batches: Uint8Array[];
  readonly watermarks?: number[];
}

/** Free buffers kept per size class for the copies: a window drops the batches of its slices together. */
const FREE_COPIES_PER_CLASS = 64;

export class InputReplay {
  /** Kept batches; `space`: the buffer of the batch's copy (when it was copied), given back when it is dropped. */
  private retained: { batch: RecordBatch; until: number; watermark: number; space: ArrayBuffer | null }[] = [];
  /** Nothing but this class sees the copies (a snapshot encodes them at once), so their buffers can be taken again. */
  private readonly buffers = new HeapBuffers(FREE_COPIES_PER_CLASS);
  private pruneAt = 1024;
  private counts: CountRetention | null = null;

  constructor(
    private readonly spec: InputReplaySpec,
    /** Sessions: the earliest start of a session in the aggregator. */
    private readonly earliestStart: () => number,
  ) {}

  /** Session windows: each batch replays at the watermark it arrived at. */
  get sessions(): boolean {
    return this.spec.window.kind === 'session';
  }

  /** Keeps what checkpoints need of a batch the aggregator received at `watermark`. */
  retain(batch: RecordBatch, watermark: number): void {
    const w = this.spec.window;
    if (w.kind === 'count') {
      this.counts ??= new CountRetention(this.spec.keyFields, w.size, w.slide);
      this.counts.add(batch);
    } else {
      let space: ArrayBuffer | null = null;
      const kept = ownedBatch(batch, (n) => (space = this.buffers.take(n)));
      this.retained.push({ batch: kept, until: this.neededUntil(batch), watermark, space });
    }
  }

  /** The watermark advanced: drops the batches no window needs any more. */
  advance(watermark: number): void {
    if (this.retained.length > 0) this.retained = this.keepOnly((r) => r.until > watermark);
    // Sessions: pruning scans the sessions, so between checkpoints only when the batches kept doubled.
    if (this.retained.length >= this.pruneAt) {
      this.prune();
      this.pruneAt = Math.max(1024, 2 * this.retained.length);
    }
  }

  snapshot(): Snapshot {
    const encode = (b: RecordBatch): Uint8Array => this.spec.engine.encodeBatch(b);
    if (this.spec.window.kind === 'count') return { batches: (this.counts?.keep() ?? []).map(encode) };
    this.prune();
    return { batches: this.retained.map((r) => encode(r.batch)), watermarks: this.retained.map((r) => r.watermark) };
  }

  /** The batches of one snapshot, to replay in order. */
  restore(state: unknown): ReplayBatch[] {
    const s = state as Snapshot;
    return s.batches.map((b, i) => ({ batch: this.spec.engine.decodeBatch(b), watermark: s.watermarks?.[i] ?? -Infinity }));
  }

  /** Rescaling: the rows of every old subtask's batches that belong to this subtask, to replay in order. */
  restoreRescaled(states: readonly unknown[], keep: KeyGroupFilter): ReplayBatch[] {
    const batches: ReplayBatch[] = [];
    for (const s of states as Snapshot[]) {
      s.batches.forEach((bytes, j) => {
        const mine = keep.rows(this.spec.engine.decodeBatch(bytes), this.spec.keyFields);
        if (mine !== null) batches.push({ batch: mine, watermark: s.watermarks?.[j] ?? -Infinity });
      });
    }
    // Old subtasks' batches interleave by key only, so per key the arrival order holds; each
    // batch is replayed at the watermark it arrived at (a stable sort keeps the order within one).
    batches.sort((a, b) => a.watermark - b.watermark || 0);
    return batches;
  }

  /** Until which watermark the batch is needed: the end of the last window of its latest record, plus lateness. */
  private neededUntil(batch: RecordBatch): number {
    if (this.spec.window.kind === 'session') return Infinity; // until pruned by the earliest session (prune)
    const w = this.spec.window as { sizeMs: number; slideMs?: number; offsetMs: number };
    // Usually a cache hit: the watermark generator scanned this event-time column already.
    const max = maxEventTime(batch.eventTime!, batch.length, this.spec.name, 0, '(event time)');
    return lastWindowStart(max, w.slideMs ?? w.sizeMs, w.offsetMs) + w.sizeMs - 1 + this.spec.lateness;
  }

  /** Sessions: drops the batches older than the earliest session in the aggregator (their sessions are gone). */
  private prune(): void {
    if (this.spec.window.kind !== 'session' || this.retained.length === 0) return;
    const earliest = this.earliestStart();
    this.retained = this.keepOnly((r) => maxEventTime(r.batch.eventTime!, r.batch.length, this.spec.name, 0, '(event time)') >= earliest);
  }

  /** The kept batches that `keep` keeps; the others' copies give their buffers back. */
  private keepOnly(keep: (r: InputReplay['retained'][number]) => boolean): InputReplay['retained'] {
    const out: InputReplay['retained'] = [];
    for (const r of this.retained) {
      if (keep(r)) out.push(r);
      else if (r.space !== null) this.buffers.give(r.space);
    }
    return out;
  }
}
