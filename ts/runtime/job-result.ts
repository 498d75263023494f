/** The result of a run, assembled the same way for a run on one thread and a parallel run. */

import type { JobResult, MemoryUse, OperatorMetrics } from '../api/job.js';
import type { CheckpointCoordinator } from './checkpoint.js';

export interface RunOutcome {
  readonly jobName: string;
  readonly engine: string;
  readonly durationMs: number;
  /** Every operator subtask's metrics, in graph order. */
  readonly operators: readonly OperatorMetrics[];
  readonly cancelled: boolean;
  readonly memory: MemoryUse;
  readonly coordinator: CheckpointCoordinator | null;
  readonly taskThreads: number;
}

export function jobResult(r: RunOutcome): JobResult {
  const metrics = r.operators.map((m) => ({
    ...m,
    recordsInPerSecond: (m.recordsIn / r.durationMs) * 1000,
    recordsOutPerSecond: (m.recordsOut / r.durationMs) * 1000,
  }));
  return {
    jobName: r.jobName,
    engine: r.engine,
    durationMs: r.durationMs,
    recordsIn: metrics.filter((m) => m.role === 'source').reduce((s, m) => s + m.recordsOut, 0),
    operators: metrics,
    lateRecordsDropped: metrics.reduce((s, m) => s + (m.lateRecordsDropped ?? 0), 0),
    deadLetters: metrics.reduce((s, m) => s + (m.deadLetters ?? 0), 0),
    cancelled: r.cancelled,
    memory: r.memory,
    taskThreads: r.taskThreads,
    ...(r.coordinator !== null ? { checkpoints: r.coordinator.result() } : {}),
  };
}
