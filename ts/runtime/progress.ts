/**
 * Live progress of a running job, from its operators' metrics: records in and out, rates and
 * busy / backpressured / idle time per second over the last interval, the watermark and its
 * lag, the most backpressured operator, managed memory and checkpoints. Works on metric
 * snapshots, so a parallel run can combine those its threads report.
 */

import type { MemoryUse, OperatorMetrics, Progress } from '../api/job.js';
import type { CheckpointCoordinator } from './checkpoint.js';

type Counters = { recordsIn: number; recordsOut: number; busy: number; bp: number; blocked: number };

/** What a tick adds beside the operators' metrics: the run's memory and its checkpoints. */
export interface ProgressExtras {
  readonly memory?: MemoryUse;
  readonly coordinator?: CheckpointCoordinator | null;
}

const key = (m: OperatorMetrics): string => `${m.id}/${m.subtask}/${m.name}`;

/** Per-second figures of one operator subtask from two readings of its counters `dt` ms apart. */
function rates(m: OperatorMetrics, prev: Counters | undefined, dt: number): OperatorMetrics {
  const perSecond = (now: number, before: number): number => (dt > 0 ? ((now - before) / dt) * 1000 : 0);
  const c = counters(m);
  // A sink waiting for its destination is busy with it (Flink shows such a sink busy, and what feeds it backpressured).
  // Waits are measured exactly; busy time is what the operator's calls took less their downstream part.
  const bp = Math.min(1000, Math.max(0, perSecond(c.bp, prev?.bp ?? 0)));
  const busy = Math.min(1000 - bp, Math.max(0, perSecond(c.busy, prev?.busy ?? 0)));
  return {
    ...m,
    recordsInPerSecond: perSecond(c.recordsIn, prev?.recordsIn ?? 0),
    recordsOutPerSecond: perSecond(c.recordsOut, prev?.recordsOut ?? 0),
    busyMsPerSecond: busy,
    backPressuredMsPerSecond: bp,
    idleMsPerSecond: Math.max(0, 1000 - busy - bp),
  };
}

function counters(m: OperatorMetrics): Counters {
  return { recordsIn: m.recordsIn, recordsOut: m.recordsOut, busy: m.busyMs + (m.blockedMs ?? 0), bp: m.backpressuredMs, blocked: m.blockedMs ?? 0 };
}

export class ProgressTracker {
  private lastAt: number;
  private last = new Map<string, { sample: OperatorMetrics; counters: Counters; blocked: number }>();

  /**
   * `rated`: the metrics come with their per-second figures, computed by the thread that runs
   * the operator over its own interval (a parallel run's threads report every interval; a
   * reading may arrive twice or late here, so figures computed here would jitter).
   */
  constructor(
    private readonly jobName: string,
    private readonly started: number,
    private readonly rated = false,
  ) {
    this.lastAt = started;
  }

  /** Progress since the previous call, from every operator subtask's current metrics. */
  tick(all: readonly OperatorMetrics[], extras: ProgressExtras = {}): Progress {
    const at = performance.now();
    const dt = at - this.lastAt;
    const next = new Map<string, { sample: OperatorMetrics; counters: Counters; blocked: number }>();
    const operators = all.map((m) => {
      const prev = this.last.get(key(m));
      // A thread's reading seen before (rated): the same figures, and the same blocked time as then.
      const fresh = !this.rated || prev === undefined || prev.sample !== m;
      const blocked = fresh ? (m.blockedMs ?? 0) - (prev?.counters.blocked ?? 0) : prev.blocked;
      next.set(key(m), { sample: m, counters: counters(m), blocked });
      const withRates = this.rated && m.busyMsPerSecond !== undefined ? { ...m } : rates(m, prev?.counters, dt);
      const bytes = extras.coordinator?.checkpointedBytes(m.id, m.subtask);
      return { withRates: bytes === undefined ? withRates : { ...withRates, checkpointedBytes: bytes }, blocked };
    });
    // Sources' records out are read records; sinks' records in are written ones.
    const sources = operators.filter((o) => o.withRates.role === 'source').map((o) => o.withRates);
    const recordsIn = sources.reduce((n, m) => n + m.recordsOut, 0);
    const recordsOut = all.filter((m) => m.role === 'sink').reduce((n, m) => n + m.recordsIn, 0);
    const wms = all.map((m) => m.watermark).filter((w): w is number => w !== null && w > -Infinity && w < Infinity);
    const watermark = wms.length === 0 ? null : Math.min(...wms);
    const maxTs = all.map((m) => m.maxEventTime).filter((t): t is number => t !== undefined);
    let backpressured: Progress['backpressured'] = null;
    let blockedBy: string | null = null;
    let mostBlocked = 0;
    for (const { withRates: m, blocked } of operators) {
      if (blocked > mostBlocked) {
        mostBlocked = blocked;
        blockedBy = m.name;
      }
      const share = (m.backPressuredMsPerSecond ?? 0) / 1000;
      if (share > 0.1 && (backpressured === null || share > backpressured.share)) backpressured = { operator: m.name, blockedBy: null, share };
    }
    if (backpressured !== null) backpressured = { ...backpressured, blockedBy };
    const p: Progress = {
      jobName: this.jobName,
      elapsedMs: at - this.started,
      recordsIn,
      recordsOut,
      recordsPerSecond: sources.reduce((n, m) => n + (m.recordsOutPerSecond ?? 0), 0),
      watermark,
      watermarkLagMs: watermark === null || maxTs.length === 0 ? null : Math.max(0, Math.max(...maxTs) - watermark),
      backpressured,
      operators: operators.map((o) => o.withRates),
      ...(extras.memory !== undefined ? { memory: extras.memory } : {}),
      ...(extras.coordinator != null ? { checkpoints: extras.coordinator.result() } : {}),
    };
    this.lastAt = at;
    this.last = next;
    return p;
  }
}
