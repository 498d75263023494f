/** Source and sink contracts: batches in, batches out. */

import type { RecordBatch } from '../batch/record-batch.js';
import type { Schema } from '../batch/schema.js';
import type { PushedFilter } from '../engine/calc-spec.js';
import type { Engine } from '../engine/engine.js';

export interface SourceContext {
  readonly engine: Engine;
  /** Rows per batch the source should aim for. */
  readonly batchSize: number;
  /** Fields the job reads, when the planner could narrow them (null: all). */
  readonly projection: readonly string[] | null;
  /**
   * Rows the job drops right away (filter pushdown, for a source with `supportsFilter`): the
   * reader may leave them out, and then reports `readMaxEventTime`. null: none.
   */
  readonly filter?: PushedFilter | null;
  /** This reader's subtask and the source's parallelism (a parallel source reads its share). */
  readonly subtask?: number;
  readonly parallelism?: number;
}

export interface SourceReader {
  /**
   * The next batch, or null at end of input. An unbounded source with nothing to read returns
   * a zero-row batch within about one poll interval rather than blocking, so that a stop
   * request (ExecuteOptions.signal, Ctrl-C) is seen between batches.
   */
  next(): Promise<RecordBatch | null> | RecordBatch | null;
  close(): Promise<void> | void;
  /** Counters reported in the job result: `deadLetters`, and `idleMs` (time `next()` spent waiting, not working). */
  metrics?(): Record<string, number>;
  /**
   * Per-split watermarks (Flink's FLIP-27 split-aware watermarks): the split (e.g. the file)
   * of the batch `next()` returned last, and every split of this reader that has not ended,
   * read yet or not. The source's watermark is then the minimum over those splits' own
   * watermarks, so a split that is behind holds it back and an ended split no longer does.
   */
  splits?(): { readonly current: string; readonly active: readonly string[] };
  /**
   * Checkpoints: where the reader is (a structured-cloneable value), so that a restore can
   * continue right after the last batch `next()` returned. A source without it cannot run
   * in a checkpointed job.
   */
  checkpoint?(checkpointId?: number): unknown;
  /**
   * Checkpoint `checkpointId` is complete (the job could resume from it): for side effects
   * such as committing offsets to a Kafka consumer group (monitoring; recovery never uses them).
   */
  checkpointComplete?(checkpointId: number): Promise<void> | void;
  /** Continues from a position `checkpoint()` returned (called right after open, before `next`). */
  restore?(position: unknown): void;
  /**
   * Restoring at another parallelism: the positions of every subtask of the checkpoint (in
   * subtask order); the reader continues the splits it owns now at their positions (Flink's
   * split reassignment). A reader without it can only be restored at its old parallelism.
   */
  restoreRescaled?(positions: readonly unknown[]): void;
  /**
   * A source whose input carries its watermarks (an application's repartition topic, whose
   * upstream tasks write theirs into it): the watermark after the batch `next()` returned last.
   * The source operator emits it after that batch (a WatermarkStrategy is not needed).
   */
  watermark?(): number;
  /**
   * A reader applying `SourceContext.filter`: the highest event time among the records the last
   * `next()` read, those the filter dropped included (-Infinity: none). The watermark goes on
   * as if they had been emitted, so that it is the same as with the filter downstream; a batch
   * whose rows were all dropped is empty.
   */
  readMaxEventTime?(): number;
}

/** `T` is the record type the source produces (for typing only). */
export interface Source<T extends object = Record<string, unknown>> {
  readonly name: string;
  readonly schema: Schema;
  /** Phantom: never set; carries the record type. */
  readonly __record?: T;
  /** True when batches already carry event time (e.g. the Nexmark generator). */
  readonly hasEventTime: boolean;
  /** True when the source honours `SourceContext.projection`. */
  readonly supportsProjection: boolean;
  /** True when the source honours `SourceContext.filter` (filter pushdown). */
  readonly supportsFilter?: boolean;
  /**
   * True when every value the source produces is non-null and every i64 and timestamp is
   * within ±2^53, so JavaScript reads each exactly: a `filter()` function compiled into a calc
   * may then be pushed into it too (with `supportsFilter`).
   */
  readonly exactValues?: boolean;
  /** The field its batches' event time is (with `hasEventTime`): a pushed filter needs watermarks over it. */
  readonly eventTimeField?: string;
  /**
   * True when the source can run as several subtasks, each reading its share (subtask of
   * parallelism). Otherwise it runs as one subtask, reading its input in order.
   */
  readonly parallel?: boolean;
  open(ctx: SourceContext): SourceReader;
}

export interface SinkWriter {
  write(batch: RecordBatch): Promise<void> | void;
  /**
   * True when the writer is done with each batch once `write` returned (and the promise it
   * returned settled): it is then given batches as they are, views of exchange segments and
   * lent buffers included. Otherwise (the default) it is given batches it may keep: a copy of
   * those parts of a batch that are such views.
   */
  readonly borrows?: boolean;
  /**
   * The sink's input ended ('end') or the job was stopped ('stop': Ctrl-C, SIGTERM, an abort
   * signal): publish what was written. Called before `close`; a `close` without it follows a
   * failure, whose output must not replace anything published before.
   */
  finish?(reason: 'end' | 'stop'): Promise<void> | void;
  close(): Promise<void> | void;
  /**
   * Exactly-once output (two-phase commit), phase one: make everything written so far durable
   * but not yet visible, as part of checkpoint `checkpointId`. The value returned is stored in
   * the checkpoint and given to `restore` when the job resumes from it.
   */
  preCommit?(checkpointId: number): unknown;
  /** Phase two: checkpoint `checkpointId` completed; publish what preCommit prepared up to it. */
  commit?(checkpointId: number): Promise<void> | void;
  /** Resuming from a checkpoint: publish what its preCommit value covers (once), discard the rest. */
  restore?(state: unknown): void;
  /**
   * Resuming from a checkpoint taken at another parallelism: the preCommit values of every old
   * subtask (in subtask order); this subtask publishes (once) and cleans up after those it takes
   * over. A writer without it can only be restored at its old parallelism.
   */
  restoreRescaled?(states: readonly unknown[]): void;
  /**
   * The sink's input watermark advanced (to `watermark`, ms; +Infinity at the end of input): for
   * a sink that passes watermarks on (an application's repartition topic). Other sinks leave it out.
   */
  watermark?(watermark: number): Promise<void> | void;
  /**
   * The sink's input became idle (withIdleness upstream) or active again: for a sink that passes
   * idleness on with its watermarks (an application's repartition topic).
   */
  idle?(idle: boolean): Promise<void> | void;
}

export interface SinkContext {
  readonly engine: Engine;
  /** The job takes checkpoints: writers that can should publish output only on commit. */
  readonly checkpointing?: boolean;
  /** The job resumes from a checkpoint: `restore` follows; keep what earlier runs published. */
  readonly restoring?: boolean;
  /** A parallel sink: this writer's subtask and the sink's parallelism. */
  readonly subtask?: number;
  readonly parallelism?: number;
}

/** How a run will use a sink's output, for `Sink.checkOutput` before anything opens. */
export interface OutputCheck {
  /** The job takes checkpoints. */
  readonly checkpointing: boolean;
  /** The run resumes from a checkpoint (its output continues what earlier runs published). */
  readonly restoring: boolean;
  /** The run was told it may replace existing output (ExecuteOptions.overwrite, `--overwrite`). */
  readonly overwrite: boolean;
}

export interface Sink {
  readonly name: string;
  /**
   * True when each subtask can write on its own (e.g. discarding). Otherwise the sink runs as
   * one subtask, on the thread that called execute(), fed by every upstream subtask.
   */
  readonly parallel?: boolean;
  /**
   * Called on the thread that called execute() before any part of the job opens: throws when
   * this run would destroy output that exists (the job then fails without touching any output).
   */
  checkOutput?(check: OutputCheck): void;
  open(schema: Schema, ctx: SinkContext): SinkWriter;
}
