/**
 * Two-phase commit (Flink's TwoPhaseCommittingSink): an operator that implements it prepares its
 * output when a checkpoint's barrier passes (preCommit, stored with the checkpoint), publishes it
 * when the checkpoint is complete (commit), and on restore resumes from the stored pre-commit.
 * Only committing sinks implement it.
 */

import type { Operator } from './operator.js';

export interface TwoPhaseCommitting {
  /** Prepares checkpoint `id`'s output; the returned state is stored with the checkpoint. */
  preCommit(id: number): unknown;
  /** Checkpoint `id` is complete: publish its output. */
  commit(id: number): Promise<void> | void;
  /** Resuming from a checkpoint: its stored pre-commit state. */
  restoreCommit(state: unknown): void;
  /** Resuming at another parallelism: every old subtask's pre-commit state, in subtask order; false when the operator cannot. */
  restoreCommitRescaled(states: readonly unknown[]): boolean;
}

export function isTwoPhaseCommitting(op: Operator): op is Operator & TwoPhaseCommitting {
  const c = op as Partial<TwoPhaseCommitting>;
  return typeof c.preCommit === 'function' && typeof c.commit === 'function' && typeof c.restoreCommit === 'function';
}
