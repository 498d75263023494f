/**
 * What a user configures a run with and gets back from it: checkpointing, execute options,
 * progress snapshots, the job result and its per-operator metrics.
 */

import type { JobClient } from './job-client.js';

export interface CheckpointConfig {
  readonly intervalMs: number;
  readonly dir: string;
  /** Complete checkpoints kept (default 3). */
  readonly retain: number;
}

export interface CheckpointStats {
  /** Checkpoints completed in this run (the final one included). */
  readonly completed: number;
  readonly lastId: number | null;
  /** Size of the last checkpoint's state before compression, bytes. */
  readonly lastBytes: number;
  /** The largest checkpoint of the run (uncompressed) and the longest time one took. */
  readonly largestBytes: number;
  readonly longestMs: number;
  /** Time from the trigger to the completed checkpoint (durable, sinks committed), ms. */
  readonly lastDurationMs: number;
  /** Time from the trigger until every thread acknowledged its snapshot, ms. */
  readonly lastAlignMs: number;
  /** The checkpoint this run resumed from, or null. */
  readonly restoredFrom: string | null;
  /** Time to find, verify, read and load the checkpoint resumed from (this thread), ms. */
  readonly restoreMs: number;
  /** Newer checkpoints passed over at restore because they were incomplete or damaged, with the reason. */
  readonly skipped: readonly string[];
  /** Savepoints taken during the run (their directories). */
  readonly savepoints: readonly string[];
  /** The newest checkpoints and savepoints of this run (at most 50), oldest first, the one in progress included. */
  readonly history: readonly CheckpointRecord[];
}

/** One checkpoint or savepoint of a run, as Flink's checkpoint history shows it. */
export interface CheckpointRecord {
  readonly id: number;
  readonly savepoint: boolean;
  readonly status: 'in progress' | 'completed' | 'failed';
  /** When it was triggered (epoch ms). */
  readonly triggeredAt: number;
  /** From the trigger until every thread acknowledged its snapshot (barriers aligned), ms; null while in progress. */
  readonly alignMs: number | null;
  /** From the trigger until it was durable and the sinks committed, ms; null unless completed. */
  readonly durationMs: number | null;
  /** State size before compression, bytes; null unless completed. */
  readonly bytes: number | null;
  /** Its directory, once written. */
  readonly path: string | null;
  /** Why it failed. */
  readonly error: string | null;
}

export interface OperatorMetrics {
  readonly id: number;
  readonly name: string;
  /** Subtask index. */
  readonly subtask: number;
  /** In an application instance (ExecuteOptions.application): the task the subtask runs in. */
  readonly task?: number;
  /** What the operator is to the job: a source (its records out are the job's records in) or a sink. */
  readonly role?: 'source' | 'sink';
  recordsIn: number;
  recordsOut: number;
  /** Records per second: over the last progress interval in live snapshots, over the whole run in the result. */
  recordsInPerSecond?: number;
  recordsOutPerSecond?: number;
  /** The last watermark this operator emitted (ms), or null before the first. */
  watermark: number | null;
  busyMs: number;
  backpressuredMs: number;
  /** Sinks: time waiting for the destination (e.g. a slow collect() consumer). */
  blockedMs?: number;
  /** Late records dropped (window operators). */
  lateRecordsDropped?: number;
  /**
   * Count windows: records after their key's last firing when the input ended, never emitted
   * (as in Flink, a count trigger does not fire a partial window).
   */
  unfiredRecords?: number;
  /** Process functions: processing-time timers still pending when the input ended (not fired, as in Flink). */
  unfiredTimers?: number;
  /** Process functions: state values and list/map items removed because their time to live ran out. */
  expiredState?: number;
  /** Managed memory held (native) or table size (TS), in bytes (window operators). */
  memoryBytes?: number;
  /** Sources with watermark alignment: time paused because their watermark ran ahead of the group. */
  alignmentPausedMs?: number;
  /** Bad records routed to a dead-letter file (sources). */
  deadLetters?: number;
  /** Highest event time seen (watermark generators), ms. */
  maxEventTime?: number;
  /**
   * Live snapshots only: of each second over the last interval, the ms this subtask was busy
   * (its own work; a sink's wait on its destination included), backpressured (unable to hand
   * its output on), and idle (the rest), as Flink's busyTimeMsPerSecond,
   * backPressuredTimeMsPerSecond and idleTimeMsPerSecond.
   */
  busyMsPerSecond?: number;
  backPressuredMsPerSecond?: number;
  idleMsPerSecond?: number;
  /** Live snapshots of checkpointing jobs: this subtask's state in the last completed checkpoint, bytes before compression. */
  checkpointedBytes?: number;
}

/** What a run used, in the job result. */
export interface MemoryUse {
  /** The whole budget. */
  readonly budgetBytes: number;
  /** Reserved for exchange buffers (channels × credits × batch size), and the most in flight at once. */
  readonly exchangeReservedBytes: number;
  readonly exchangePeakBytes: number;
  /** The rest, for operator state; the most held at once (whole segments). */
  readonly operatorBudgetBytes: number;
  readonly operatorPeakBytes: number;
  /** At the moment of the snapshot: bytes in exchange channels, and operator state held. */
  readonly exchangeInFlightBytes: number;
  readonly operatorUsedBytes: number;
}

/** One rescale of a running job. */
export interface Rescale {
  readonly from: number;
  readonly to: number;
  /** The savepoint the job stopped with and resumed from. */
  readonly savepoint: string;
  /** When the job resumed at the new parallelism (epoch ms). */
  readonly at: number;
}

export interface JobResult {
  readonly jobName: string;
  readonly engine: string;
  readonly durationMs: number;
  /** Records read by all sources. */
  readonly recordsIn: number;
  /** Per operator, in graph order. */
  readonly operators: readonly OperatorMetrics[];
  /** Late records dropped by window operators, summed. */
  readonly lateRecordsDropped: number;
  /** Bad input records routed to dead-letter files, summed. */
  readonly deadLetters: number;
  /** True when the job was stopped through `ExecuteOptions.signal` before its input ended. */
  readonly cancelled: boolean;
  /** Managed memory: the budget, its split, and the most used at once. */
  readonly memory: MemoryUse;
  /**
   * Worker threads the run's subtasks ran on: 0 when everything ran on the calling thread
   * (parallelism 1); a parallel run starts at most one per core (or SLUICE_TASK_THREADS), each
   * hosting one slot or more; a Kafka application instance counts its task threads.
   */
  readonly taskThreads: number;
  /** Restarts after failures (restart strategy) before the run that succeeded. */
  readonly restarts?: number;
  /**
   * Rescales while the job ran (`JobClient.rescale`), in order. The other figures are those of
   * the last run, from the last rescale (or restart) to the end.
   */
  readonly rescales?: readonly Rescale[];
  /** With checkpointing: what was checkpointed, and what the run resumed from. */
  readonly checkpoints?: CheckpointStats;
}

export interface Progress {
  readonly jobName: string;
  readonly elapsedMs: number;
  /** Records read by the sources, and records that reached the sinks. */
  readonly recordsIn: number;
  readonly recordsOut: number;
  /** Source records per second since the previous report. */
  readonly recordsPerSecond: number;
  /** Lowest watermark among the operators that have one (ms), or null. */
  readonly watermark: number | null;
  /** How far the watermark trails the highest event time seen (ms), or null. */
  readonly watermarkLagMs: number | null;
  /** The operator that spent most of the last interval unable to emit, and what blocked it. */
  readonly backpressured: { readonly operator: string; readonly blockedBy: string | null; readonly share: number } | null;
  /** Every operator's metrics at this moment. */
  readonly operators: readonly OperatorMetrics[];
  /** Managed memory now (budget, split, use and peaks). */
  readonly memory?: MemoryUse;
  /** Checkpointing jobs: the checkpoints so far, with their history. */
  readonly checkpoints?: CheckpointStats;
}

/** A failure after which the job's restart strategy restarts it (ExecuteOptions.onRestart). */
export interface RestartInfo {
  /** 1 for the first restart. */
  readonly restart: number;
  /** When the job failed (epoch ms). */
  readonly failedAt: number;
  /** The failure (a JobFailedError naming the operator and subtask, with the original as its cause). */
  readonly error: Error;
  /** The job restarts from its latest checkpoint after this delay, ms. */
  readonly delayMs: number;
}

/** A lifecycle event of a run (ExecuteOptions.onEvent). */
export type JobEvent =
  | {
      readonly kind: 'checkpoint';
      readonly id: number;
      /** True for a savepoint. */
      readonly savepoint: boolean;
      readonly path: string;
      /** From the barriers' injection to the checkpoint written and committed. */
      readonly durationMs: number;
      /** Until every thread acknowledged (barrier alignment included). */
      readonly alignMs: number;
      /** Snapshot bytes before compression. */
      readonly bytes: number;
    }
  /** The checkpoint is durable and complete; its sinks commit next ('checkpoint' follows once they have). */
  | { readonly kind: 'checkpoint-written'; readonly id: number; readonly savepoint: boolean; readonly path: string }
  | { readonly kind: 'checkpoint-failed'; readonly id: number; readonly error: string }
  | { readonly kind: 'restored'; readonly path: string; readonly skipped: readonly string[] }
  | { readonly kind: 'restart'; readonly attempt: number; readonly delayMs: number; readonly error: string }
  /** A rescale: the job stopped with `savepoint` and resumes at parallelism `to` (or, when `error`, could not and resumes at `from`). */
  | { readonly kind: 'rescale'; readonly from: number; readonly to: number; readonly savepoint: string; readonly error?: string };

export interface ExecuteOptions {
  /** true prints a status line to stderr; a function receives progress snapshots instead. */
  readonly progress?: boolean | ((p: Progress) => void);
  readonly progressIntervalMs?: number;
  /** Stops the job: sources stop reading, open windows are not flushed, sinks are closed. */
  readonly signal?: AbortSignal;
  /**
   * Resumes from a checkpoint: a checkpoint directory (`.../chk-7`), a checkpoint root (its
   * newest intact checkpoint), or 'latest' for the newest under the job's checkpoint directory
   * (a fresh start when there is none yet). Damaged or incomplete checkpoints are skipped and
   * reported in `JobResult.checkpoints.skipped`.
   */
  readonly restoreFrom?: string;
  /**
   * When `restoreFrom` finds checkpoints but none of them is usable (all damaged or
   * incomplete), start from scratch with a warning instead of failing. Default false: the
   * run fails, naming every checkpoint and what is wrong with it.
   */
  readonly allowFreshStart?: boolean;
  /**
   * Restores even when the checkpoint holds state that no operator of the job claims (an
   * operator removed, or its uid changed), dropping that state (Flink's allowNonRestoredState).
   * Default false: the restore fails and lists those operators.
   */
  readonly allowNonRestoredState?: boolean;
  /**
   * A fresh run (not a restore) of a checkpointing job may replace existing, non-empty output
   * files of its single-file sinks. Default false: such a run fails before it touches any
   * output, naming the file (a run without checkpoints replaces its output only when it
   * succeeds, so it needs no permission). Per sink: `FileSink.jsonl(path, { overwrite: true })`.
   */
  readonly overwrite?: boolean;
  /** Lifecycle events as they happen: checkpoints completed or failed, restores, restarts. */
  readonly onEvent?: (event: JobEvent) => void;
  /** A handle for savepoints while the job runs (checkpointing jobs). */
  readonly client?: JobClient;
  /** Called when the job failed and its restart strategy restarts it, before the delay. */
  readonly onRestart?: (r: RestartInfo) => void;
  /**
   * Runs this process as one instance of a Kafka application (docs/application-mode.md): the
   * job's tasks (one per input partition) are shared among every process started with the same
   * id through a Kafka consumer group; each task checkpoints into the shared state directory.
   * The run lasts until `signal` stops it.
   */
  readonly application?: ApplicationOptions;
  /**
   * @internal An application task's ownership check (connectors/kafka/task-ownership.ts): throws
   * once another instance has claimed the task. Called before the run restores, before each
   * checkpoint is written, and after it is written before the sinks commit it.
   */
  readonly ownership?: (doing: string) => void;
}

/** One instance of a Kafka application (ExecuteOptions.application, `sluice run --application-id`). */
export interface ApplicationOptions {
  /** The application id: the consumer group's id and the prefix of everything the application owns. */
  readonly id: string;
  /** `host:port` of a broker (comma-separated for several): where the group is coordinated. */
  readonly bootstrap: string;
  /**
   * The directory every instance reaches (shared disk or mount), holding each task's
   * checkpoints under `<stateDir>/<id>/task-<n>`; default: the job's checkpoint directory.
   */
  readonly stateDir?: string;
  /** An instance that sends no heartbeat for this long loses its tasks, ms (default 10 000; the broker's minimum is 6 000). */
  readonly sessionTimeoutMs?: number;
  /**
   * The longest any of the instance's threads (its task threads, its main thread) may be
   * unresponsive, ms (default 300 000, as the Java consumer's max.poll.interval.ms): heartbeats
   * run on a thread of their own, so past this the instance leaves the group itself and its tasks
   * go to the others.
   */
  readonly maxStallMs?: number;
  /**
   * Partitions of each repartition topic, and so tasks of each sub-topology after the first
   * (Kafka Streams' `Repartitioned.withNumberOfPartitions`); default: the input topics' count.
   * More lets the keyed part of a job spread over more tasks than the input has partitions.
   * `setParallelism(n)` on the operator a repartition leads to sets its sub-topology's count
   * instead (one topic's count, as `Repartitioned` per repartition).
   * Every instance of an application must give the same; changing it needs new topics and state.
   */
  readonly repartitionPartitions?: number;
  /**
   * Replicas of each repartition topic the application creates (Kafka Streams'
   * `replication.factor`); default: the broker's `default.replication.factor`. More than the
   * brokers there are fails the start.
   */
  readonly replicationFactor?: number;
  /** What this instance is given and does, as it happens. */
  readonly onEvent?: (event: ApplicationEvent) => void;
}

/** An event of an application instance (ApplicationOptions.onEvent). */
export type ApplicationEvent =
  | { readonly kind: 'assigned'; readonly member: string; readonly generation: number; readonly leader: boolean; readonly tasks: readonly number[]; readonly taskCount: number }
  /** `thread`: the instance's task thread that runs it (0 up to the job's parallelism - 1). */
  | { readonly kind: 'task-started'; readonly task: number; readonly checkpointDir: string; readonly thread: number }
  | { readonly kind: 'task-finished'; readonly task: number; readonly recordsIn: number }
  | { readonly kind: 'task-revoked'; readonly task: number }
  /** The task's transactions were fenced by another instance that took it over (this one had left the group): given up. */
  | { readonly kind: 'task-fenced'; readonly task: number }
  /** Another instance claimed the task (this one had lost its session): this one's checkpoint, commit or restore was refused, and the task given up. */
  | { readonly kind: 'task-refused'; readonly task: number; readonly reason: string }
  /** The task's owner claim: the checkpoint it resumes from (null: a fresh start), in the claim's directory. */
  /** A thread of the instance (a task thread or its main thread) did not respond for longer than maxStallMs: the instance left the group (its tasks go to the others) and joins again once it has stopped them. */
  | { readonly kind: 'stalled'; readonly stalledMs: number; readonly maxStallMs: number }
  | { readonly kind: 'task-claimed'; readonly task: number; readonly owner: string; readonly from: string | null }
  /** The job is cut at a keyed exchange into sub-topologies joined by a repartition topic (one event per topic, in order): `readers` (first and last task) read this topic's partitions; tasks 0..`inputTasks`-1 read the input partitions. */
  /** `keyFields` empty: keyed by `selector` (a join's key function) if given, else unkeyed (each upstream task's rows to one partition). */
  | { readonly kind: 'repartitioned'; readonly topic: string; readonly at: string; readonly keyFields: readonly string[]; readonly selector?: string; readonly taskCount: number; readonly inputTasks: number; readonly readers: readonly [number, number] };

/** How a worker thread rebuilds a job: the module whose default export builds it, and its arguments. */
export interface JobModule {
  /** A file URL of a module whose default export is `(env, args) => void`. */
  readonly url: string;
  readonly args: readonly string[];
}

