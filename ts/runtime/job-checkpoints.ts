/**
 * Checkpoint set-up of a run, the same for a run on one thread and a parallel run: what the
 * options ask for is checked against the job, the checkpoint to resume from is found, and the
 * coordinator is started with the threads that take part and a handle for savepoints.
 */

import type { CheckpointConfig, ExecuteOptions } from '../api/job.js';
import type { JobGraph } from '../plan/graph.js';
import { CheckpointCoordinator, type CheckpointThread } from './checkpoint.js';
import { findLatest, type CheckpointData } from './checkpoint-store.js';
import type { PhysicalPlan } from '../plan/physical.js';
import { unclaimedState } from './state-identity.js';

/** The checkpoint a run resumes from, and the newer ones passed over. */
export interface Restore {
  readonly from: CheckpointData;
  readonly skipped: readonly string[];
}

/**
 * Checks the options against the job's checkpointing and finds the checkpoint to resume from
 * (null: a fresh start); fails when the checkpoint holds state no operator of `plan` claims,
 * unless the options allow non-restored state.
 */
export function prepareRestore(options: ExecuteOptions, config: CheckpointConfig | null, plan: PhysicalPlan): Restore | null {
  if (options.client !== undefined && config === null) {
    throw new Error('savepoints need checkpointing: call env.enableCheckpointing(intervalMs, { dir }) in the job');
  }
  if (options.restoreFrom === undefined) return null;
  // An application task: a former owner must not restore (and commit what it prepared) once another instance claimed it.
  options.ownership?.('restoring the task');
  if (config === null) throw new Error('restoreFrom needs a job with checkpointing: call env.enableCheckpointing(intervalMs, { dir }) in the job');
  const r = locateRestore(options.restoreFrom, config, options.allowFreshStart === true);
  if (r === null) return null;
  const lost = unclaimedState(r.from, plan);
  if (lost.length > 0) {
    const list = lost.join(', ');
    if (options.allowNonRestoredState !== true) {
      throw new Error(
        `restoreFrom: ${r.from.path} holds state that no operator of this job claims: ${list}. Operators are matched by their uid(), or without one by their position and kind in the job, which change when operators are added or removed before them. Give those operators the uid they had when the checkpoint was taken, or drop that state on purpose with allowNonRestoredState (sluice run --allow-non-restored-state)`,
      );
    }
    process.emitWarning(`restoreFrom: dropping the state of ${list}, which no operator of this job claims (allowNonRestoredState)`, { code: 'SLUICE_NON_RESTORED_STATE' });
  }
  options.onEvent?.({ kind: 'restored', path: r.from.path, skipped: r.skipped });
  return r;
}

/**
 * Asks every sink whether this run may start over its existing output (Sink.checkOutput), on
 * the calling thread before any part of the job opens: a refusal fails the run with nothing
 * touched (and, being a set-up error, is never retried by a restart strategy).
 */
export function checkOutputs(graph: JobGraph, options: ExecuteOptions, restore: Restore | null): void {
  const check = { checkpointing: graph.checkpoint !== null, restoring: restore !== null, overwrite: options.overwrite === true };
  for (const n of graph.sinks()) if (n.op.kind === 'sink') n.op.sink.checkOutput?.(check);
}

/**
 * Finds the checkpoint to resume from (see ExecuteOptions.restoreFrom); null for a fresh
 * start: 'latest' before any checkpoint completed, or, with `allowFreshStart`, when none is usable.
 */
export function locateRestore(from: string, config: CheckpointConfig | null, allowFreshStart = false): Restore | null {
  const root = from === 'latest' ? config?.dir : from;
  if (root === undefined) throw new Error("restoreFrom: 'latest' needs a job with checkpointing: call env.enableCheckpointing(intervalMs, { dir }) in the job");
  const { checkpoint, skipped, damaged } = findLatest(root);
  for (const s of skipped) process.emitWarning(`skipping checkpoint: ${s}`, { code: 'SLUICE_CHECKPOINT_SKIPPED' });
  if (checkpoint !== null) return { from: checkpoint, skipped };
  // 'latest' where no checkpoint ever completed (none yet, or only one cut short by a crash) is
  // a first run; completed checkpoints that are all damaged would lose the job's state.
  if (from === 'latest' && damaged === 0) return null;
  const what =
    skipped.length === 0
      ? `no checkpoint in ${root}`
      : `no usable checkpoint in ${root}: all ${skipped.length} found are damaged or incomplete (${skipped.join('; ')})`;
  if (allowFreshStart) {
    process.emitWarning(`restoreFrom: ${what}; starting from scratch as allowed (allowFreshStart / --allow-fresh-start)`, { code: 'SLUICE_FRESH_START' });
    return null;
  }
  throw new Error(
    `restoreFrom: ${what}. The job did not start; its state would be lost. Restore from an intact checkpoint or savepoint, or start from scratch on purpose with allowFreshStart (sluice run --allow-fresh-start)`,
  );
}

export interface CoordinatorSetup {
  readonly config: CheckpointConfig;
  readonly jobName: string;
  readonly parallelism: number;
  readonly maxParallelism: number;
  /** By thread index (a worker's subtask; the calling thread's index comes last). */
  readonly threads: readonly CheckpointThread[];
  readonly restore: Restore | null;
  readonly options: ExecuteOptions;
  /** Stops the run's sources and receivers (stop with savepoint). */
  readonly stop: () => void;
}

/** Starts the coordinator and attaches the job client (savepoints, stop with savepoint). */
export function startCoordinator(s: CoordinatorSetup): CheckpointCoordinator {
  const c = new CheckpointCoordinator(s.config, s.jobName, s.parallelism, s.maxParallelism, s.threads, s.restore, s.options.onEvent, s.options.ownership);
  c.start();
  s.options.client?.attach({
    checkpointDir: s.config.dir,
    savepoint: (dir) => c.savepoint(dir),
    stop: () => {
      c.stop(); // no checkpoint after the savepoint: its output is what a restore continues from
      s.stop();
    },
  });
  return c;
}

/** Warns once per run about sinks that cannot commit with checkpoints. */
export function warnAtLeastOnce(sinks: readonly string[]): void {
  if (sinks.length === 0) return;
  process.emitWarning(`${sinks.join(', ')}: no two-phase commit, so after a restore these sinks get the records since the checkpoint again (at-least-once)`, { code: 'SLUICE_AT_LEAST_ONCE' });
}
