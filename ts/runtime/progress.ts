import type { OperatorMetrics, Progress } from '../api/job.js';
/**
 * Live progress of a running job, from its operators' metrics: records in and out, rates over
 * the last interval, the watermark and its lag, and the most backpressured operator. Works on
 * metric snapshots, so a parallel run can combine those its threads report.
 */


type Counters = { recordsIn: number; recordsOut: number; bp: number; blocked: number };

export class ProgressTracker {
  private lastAt: number;
  private lastRecordsIn = 0;
  private last = new Map<string, Counters>();

  constructor(
    private readonly jobName: string,
    private readonly started: number,
  ) {
    this.lastAt = started;
  }

  /** Progress since the previous call, from every operator subtask's current metrics. */
  tick(all: readonly OperatorMetrics[]): Progress {
    const at = performance.now();
    const key = (m: OperatorMetrics): string => `${m.id}/${m.subtask}/${m.name}`;
    // Sources' records out are read records; sinks' records in are written ones.
    const recordsIn = all.filter((m) => m.role === 'source').reduce((n, m) => n + m.recordsOut, 0);
    const recordsOut = all.filter((m) => m.role === 'sink').reduce((n, m) => n + m.recordsIn, 0);
    const wms = all.map((m) => m.watermark).filter((w): w is number => w !== null && w > -Infinity && w < Infinity);
    const watermark = wms.length === 0 ? null : Math.min(...wms);
    const maxTs = all.map((m) => m.maxEventTime).filter((t): t is number => t !== undefined);
    const dt = at - this.lastAt;
    let backpressured: Progress['backpressured'] = null;
    let blockedBy: string | null = null;
    let mostBlocked = 0;
    for (const m of all) {
      const prev = this.last.get(key(m));
      const b = (m.blockedMs ?? 0) - (prev?.blocked ?? 0);
      if (b > mostBlocked) {
        mostBlocked = b;
        blockedBy = m.name;
      }
      const share = (m.backpressuredMs - (prev?.bp ?? 0)) / dt;
      if (share > 0.1 && (backpressured === null || share > backpressured.share)) backpressured = { operator: m.name, blockedBy: null, share };
    }
    if (backpressured !== null) backpressured = { ...backpressured, blockedBy };
    const p: Progress = {
      jobName: this.jobName,
      elapsedMs: at - this.started,
      recordsIn,
      recordsOut,
      recordsPerSecond: ((recordsIn - this.lastRecordsIn) / dt) * 1000,
      watermark,
      watermarkLagMs: watermark === null || maxTs.length === 0 ? null : Math.max(0, Math.max(...maxTs) - watermark),
      backpressured,
      operators: all.map((m) => ({
        ...m,
        recordsInPerSecond: ((m.recordsIn - (this.last.get(key(m))?.recordsIn ?? 0)) / dt) * 1000,
        recordsOutPerSecond: ((m.recordsOut - (this.last.get(key(m))?.recordsOut ?? 0)) / dt) * 1000,
      })),
    };
    this.lastAt = at;
    this.lastRecordsIn = recordsIn;
    this.last = new Map(all.map((m) => [key(m), { recordsIn: m.recordsIn, recordsOut: m.recordsOut, bp: m.backpressuredMs, blocked: m.blockedMs ?? 0 }]));
    return p;
  }
}
