/**
 * An application instance's progress (application.ts): each task runs as its own job with its
 * own progress snapshots; the instance reports them as one, every operator tagged with the task
 * it runs in (OperatorMetrics.task), so the metrics show which tasks this instance runs.
 * Kafka Streams' thread and task metrics carry the task id the same way.
 */

import type { JobResult, OperatorMetrics, Progress } from '../../api/job.js';

export class TaskProgress {
  /** The latest snapshot of each task this instance runs (finished ones stay until revoked). */
  private readonly latest = new Map<number, Progress>();

  constructor(
    private readonly jobName: string,
    private readonly started: number,
    private readonly report: (p: Progress) => void,
  ) {}

  /** Task `task` reported `p`: the instance's snapshot goes out with it. */
  reported(task: number, p: Progress): void {
    this.latest.set(task, p);
    this.report(this.combined());
  }

  /** Task `task` finished (its input ended): its final metrics, which stay until it is revoked. */
  finished(task: number, result: JobResult): void {
    const sinks = result.operators.filter((m) => m.role === 'sink');
    const last = this.latest.get(task);
    this.latest.set(task, {
      jobName: result.jobName,
      elapsedMs: result.durationMs,
      recordsIn: result.recordsIn,
      recordsOut: sinks.reduce((s, m) => s + m.recordsIn, 0),
      recordsPerSecond: 0,
      watermark: last?.watermark ?? null,
      watermarkLagMs: null,
      backpressured: null,
      operators: result.operators,
    });
    this.report(this.combined());
  }

  /**
   * Task `task` no longer runs here (revoked, fenced): the instance's snapshot goes out without
   * it. (Kept back, the metrics listed the task until some other task reported, which never
   * happens once the rest have finished.)
   */
  gone(task: number): void {
    if (this.latest.delete(task)) this.report(this.combined());
  }

  combined(): Progress {
    const tasks = [...this.latest].sort((a, b) => a[0] - b[0]);
    const ps = tasks.map(([, p]) => p);
    const sum = (f: (p: Progress) => number): number => ps.reduce((s, p) => s + f(p), 0);
    const known = <T>(xs: readonly (T | null)[]): T[] => xs.filter((x): x is T => x !== null);
    const watermarks = known(ps.map((p) => p.watermark));
    const lags = known(ps.map((p) => p.watermarkLagMs));
    const pressed = known(ps.map((p) => p.backpressured));
    const operators: OperatorMetrics[] = tasks.flatMap(([task, p]) => p.operators.map((m) => ({ ...m, task })));
    return {
      jobName: this.jobName,
      elapsedMs: Date.now() - this.started,
      recordsIn: sum((p) => p.recordsIn),
      recordsOut: sum((p) => p.recordsOut),
      recordsPerSecond: sum((p) => p.recordsPerSecond),
      watermark: watermarks.length === 0 ? null : Math.min(...watermarks),
      watermarkLagMs: lags.length === 0 ? null : Math.max(...lags),
      backpressured: pressed.length === 0 ? null : pressed.reduce((a, b) => (b.share > a.share ? b : a)),
      operators,
    };
  }
}
