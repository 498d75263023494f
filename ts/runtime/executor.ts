/**
 * Runs a physical plan on this thread: builds the task (runtime/task.ts), sets up checkpoints,
 * drives the sources through their chains (sources run concurrently) and reports per-operator
 * metrics. A failure anywhere stops every source and rejects with the operator's name and the
 * original error. A run on this thread alone coordinates its own checkpoints; the parts of a
 * parallel run (runtime/parallel.ts) bring the task their thread's checkpoint task instead.
 */

import { JobFailedError } from '../api/errors.js';
import type { ExecuteOptions, JobResult, Progress } from '../api/job.js';
import type { Engine } from '../engine/engine.js';
import type { JobGraph } from '../plan/graph.js';
import { buildPlan, type PhysicalPlan } from '../plan/physical.js';
import { WatermarkBoard } from './alignment.js';
import { CheckpointTask, type CheckpointCoordinator } from './checkpoint.js';
import type { CheckpointData } from './checkpoint-store.js';
import { operatorOf } from './errors.js';
import { checkOutputs, prepareRestore, startCoordinator, warnAtLeastOnce, type Restore } from './job-checkpoints.js';
import { jobResult } from './job-result.js';
import { defaultMemoryBytes, ManagedMemory, planMemory } from './memory.js';
import { ProgressTracker } from './progress.js';
import { Task, type Placement } from './task.js';

/** A thread's part of a parallel run: its channels, and its checkpoint task with the checkpoint the run resumes from. */
export interface ThreadPart {
  readonly placement: Placement;
  readonly checkpoints: { readonly task: CheckpointTask; readonly restore: CheckpointData | null } | null;
}

/**
 * This thread's part of a run after its input ended. `close` closes its operators (Flink's
 * close); a part whose sinks commit a final checkpoint closes after that commit. After a
 * failure or a stop the operators are closed already.
 */
export interface TaskRun {
  readonly result: JobResult;
  /** The thread's checkpoint task (its final state for the final checkpoint), or null. */
  readonly checkpoints: CheckpointTask | null;
  /** Closes once; after a failure elsewhere, errors while closing are swallowed. */
  close(afterFailure?: boolean): Promise<void>;
}

/** Runs a job on this thread alone, to its end. */
export async function executeJob(
  jobName: string,
  graph: JobGraph,
  engine: Engine,
  batchSize: number,
  options: ExecuteOptions = {},
  /** The run's managed memory budget, in bytes. */
  memoryBytes: number = defaultMemoryBytes(),
): Promise<JobResult> {
  checkHasSink(graph);
  const plan = buildPlan(graph);
  const memory = ManagedMemory.create(memoryBytes, planMemory(plan, memoryBytes).exchangeReservedBytes);
  engine.openMemoryPool(memory.id, memory.operatorBudgetBytes);
  try {
    const run = await runTask({ jobName, graph, plan, engine, batchSize, options, memory, board: WatermarkBoard.forPlan(plan) });
    await run.close();
    return run.result;
  } finally {
    engine.closeMemoryPool(memory.id);
  }
}

export interface TaskRunSetup {
  readonly jobName: string;
  readonly graph: JobGraph;
  readonly plan: PhysicalPlan;
  readonly engine: Engine;
  readonly batchSize: number;
  readonly options: ExecuteOptions;
  /** The run's managed memory (a parallel run's, shared). */
  readonly memory: ManagedMemory;
  /** Source watermarks for alignment (a parallel run's, shared). */
  readonly board: WatermarkBoard;
  /** A parallel run's part; undefined for a run on this thread alone. */
  readonly part?: ThreadPart;
}

/** Runs this thread's part of a job until its input ended (or it stopped or failed). */
export async function runTask(s: TaskRunSetup): Promise<TaskRun> {
  const { jobName, graph, plan, engine, options, part } = s;
  checkHasSink(graph);
  const config = graph.checkpoint;
  const restoreStarted = performance.now();
  // A run on this thread alone coordinates its own checkpoints; in a parallel run the calling
  // thread does, and each thread brings its task.
  const own = part === undefined;
  const restore: Restore | null = own ? prepareRestore(options, config, plan) : part.checkpoints?.restore != null ? { from: part.checkpoints.restore, skipped: [] } : null;
  if (own) checkOutputs(graph, options, restore);
  let checkpoints: CheckpointTask | null = part?.checkpoints?.task ?? null;
  let coordinator: CheckpointCoordinator | null = null;
  let stopped = false;
  const stopRequested = (): boolean => stopped || options.signal?.aborted === true;
  const started = performance.now();
  let task: Task | null = null;
  // Stopping: sources stop between batches; receivers stop waiting for channels (parallel runs).
  const abort = (): void => task?.abort();
  options.signal?.addEventListener('abort', abort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  let failed = false;
  let cancelled = false;
  try {
    task = await Task.build({ graph, plan, engine, batchSize: s.batchSize, memory: s.memory, board: s.board, ...(part !== undefined ? { placement: part.placement } : {}), restoring: restore !== null });
    const t = task;
    if (config !== null && own) checkpoints = new CheckpointTask(0, (id, entries) => coordinator!.acknowledge(0, id, entries));
    await t.open(checkpoints);
    if (config !== null) {
      const gaps = t.checkpointGaps();
      if (gaps.length > 0) throw new Error(`checkpointing cannot cover this job: ${gaps.join('; ')}`);
      if (restore !== null) t.restore(restore.from);
      warnAtLeastOnce(t.atLeastOnceSinks());
      if (own) {
        const local = checkpoints!;
        coordinator = startCoordinator({
          config,
          jobName,
          parallelism: graph.parallel.parallelism,
          maxParallelism: plan.maxParallelism,
          threads: [{ trigger: (id) => local.trigger(id), complete: (id) => local.commit(id) }],
          restore,
          options,
          stop: () => {
            stopped = true;
            abort();
          },
        });
        coordinator.restoreMs = restore === null ? 0 : performance.now() - restoreStarted;
      }
    }
    const report = typeof options.progress === 'function' ? options.progress : options.progress === true ? printProgress : null;
    if (report !== null) {
      const tracker = new ProgressTracker(jobName, started);
      timer = setInterval(() => report(tracker.tick(t.metrics(), { memory: s.memory.use(engine), coordinator })), options.progressIntervalMs ?? 500);
    }
    const c = coordinator as CheckpointCoordinator | null;
    cancelled = await t.run({
      stopRequested,
      checkpoints,
      betweenBatches: () => c?.check(),
      yieldEveryBatch: timer !== undefined || part !== undefined,
    });
    if (checkpoints !== null && !cancelled) checkpoints.freeze();
    if (c !== null && !cancelled) {
      // The final checkpoint publishes the last output; only then do the sinks close.
      const local = checkpoints!;
      c.threadEnded(0, (id) => local.finalEntries(id));
      await c.finish();
    }
    if (!cancelled) t.checkEnded();
  } catch (e) {
    failed = true;
    const where = operatorOf(e);
    throw new JobFailedError(jobName, where?.name ?? 'job setup', task?.subtask ?? 0, e, where?.uid);
  } finally {
    if (timer !== undefined) clearInterval(timer);
    options.signal?.removeEventListener('abort', abort);
    if (own) options.client?.detach();
    const c = coordinator as CheckpointCoordinator | null;
    if (c !== null && (failed || cancelled)) await c.abandon().catch(() => {});
    if (cancelled && !failed) await (task as Task | null)?.stopped();
    if (failed || cancelled) await (task as Task | null)?.close(true);
  }
  const durationMs = performance.now() - started;
  const result = jobResult({ jobName, engine: engine.name, durationMs, operators: task.metrics(), cancelled, memory: s.memory.use(engine), coordinator, taskThreads: 0 });
  const t = task;
  return { result, checkpoints, close: (afterFailure = false) => t.close(afterFailure) };
}

function checkHasSink(graph: JobGraph): void {
  if (graph.sinks().length === 0) throw new Error('the job has no sink: end a stream with sinkTo(...) or collect() before execute()');
}

export function printProgress(p: Progress): void {
  const line = formatProgress(p);
  if (process.stderr.isTTY) process.stderr.write(`\r${line}\x1b[K`);
  else process.stderr.write(`${line}\n`);
}

/** One status line: records in/out, rate, watermark and its lag, elapsed time, backpressure. */
export function formatProgress(p: Progress): string {
  const wm = p.watermark === null ? '-' : new Date(p.watermark).toISOString();
  const lag = p.watermarkLagMs === null ? '' : ` (lag ${(p.watermarkLagMs / 1000).toFixed(1)} s)`;
  const bp = p.backpressured === null ? '' : `, backpressured: ${p.backpressured.operator}${p.backpressured.blockedBy === null ? '' : ` (waiting on ${p.backpressured.blockedBy})`}`;
  return `[${p.jobName}] in ${fmt(p.recordsIn)}, out ${fmt(p.recordsOut)}, ${fmt(p.recordsPerSecond)}/s, watermark ${wm}${lag}, ${(p.elapsedMs / 1000).toFixed(1)} s${bp}`;
}

function fmt(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return n.toFixed(0);
}
