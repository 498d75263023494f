/**
 * Which running copy of an operator a metric belongs to: its subtask, or in an application
 * instance (`sluice run --application-id`) its task, since every task runs its operators as
 * subtask 0 of a job of its own (OperatorMetrics.task).
 */

import type { OperatorMetrics } from '../api/job.js';

/** A key for the copy: `t<task>` in an application, else the subtask's number. */
export function copyOf(m: OperatorMetrics): string {
  return m.task === undefined ? String(m.subtask) : `t${m.task}`;
}

/** Order of copies: by task, else by subtask. */
export function copyOrder(m: OperatorMetrics): number {
  return m.task ?? m.subtask;
}
