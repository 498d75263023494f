// An application instance's progress (ts/connectors/kafka/task-progress.ts): the snapshot it
// reports lists the tasks it runs, finished ones included, and drops a task as soon as it is
// revoked, even when no other task reports again (all finished).
import { describe, expect, it } from 'vitest';
import type { JobResult, Progress } from '../../ts/api/job.js';
import { TaskProgress } from '../../ts/connectors/kafka/task-progress.js';

function result(task: number): JobResult {
  return {
    jobName: 'app',
    engine: 'ts',
    durationMs: 10,
    recordsIn: task,
    operators: [{ id: 1, name: 'Source', subtask: 0, role: 'source', recordsIn: 0, recordsOut: task, watermark: null, busyMs: 0, backpressuredMs: 0 }],
    lateRecordsDropped: 0,
    deadLetters: 0,
    cancelled: false,
    memory: { budgetBytes: 0, exchangeReservedBytes: 0, exchangePeakBytes: 0, operatorBudgetBytes: 0, operatorPeakBytes: 0, exchangeInFlightBytes: 0, operatorUsedBytes: 0 },
    taskThreads: 1,
  };
}

describe('an application instance’s progress', () => {
  it('drops a revoked task from the next snapshot at once, when every task has finished', () => {
    const reports: Progress[] = [];
    const p = new TaskProgress('app', Date.now(), (r) => reports.push(r));
    const tasksIn = (r: Progress | undefined): number[] => [...new Set(r!.operators.map((m) => m.task!))].sort();
    for (const t of [3, 7]) p.finished(t, result(t));
    expect(tasksIn(reports.at(-1))).toEqual([3, 7]);
    p.gone(7);
    expect(tasksIn(reports.at(-1))).toEqual([3]);
    expect(reports.at(-1)!.recordsIn).toBe(3);
    // A task not running here: nothing to report.
    const n = reports.length;
    p.gone(5);
    expect(reports.length).toBe(n);
  });
});
