/**
 * The autoscaler's policy (api/autoscaler.ts) over given window figures, and the figures it
 * takes from two progress samples. The CLI test (test/cli/autoscale.test.ts) runs it on a job.
 */

import { describe, expect, it } from 'vitest';
import { AUTOSCALER_DEFAULTS, decide, windowOf, type AutoscalerOptions, type PolicyState, type WindowFigures } from '../../ts/api/autoscaler.js';
import type { OperatorMetrics, Progress } from '../../ts/api/job.js';

const o: AutoscalerOptions = { ...AUTOSCALER_DEFAULTS, max: 4 };
const fresh: PolicyState = { trial: null, refused: [] };
const win = (parallelism: number, busy: number[], rate: number, backpressure = 0): WindowFigures => ({ parallelism, busy, rate, backpressure });

describe('autoscaler policy', () => {
  it('goes up one while every subtask is busy and the sources are not backpressured, up to max', () => {
    expect(decide(o, fresh, win(1, [0.9], 100)).decision).toMatchObject({ kind: 'up', from: 1, to: 2 });
    expect(decide(o, fresh, win(2, [0.9, 0.5], 100)).decision).toBeNull(); // one subtask has room
    expect(decide(o, fresh, win(1, [0.9], 100, 0.3)).decision).toBeNull(); // a slow sink, not the work
    expect(decide(o, fresh, win(4, [0.9, 0.9, 0.9, 0.9], 100)).decision).toBeNull();
    expect(decide(o, { trial: null, refused: [2] }, win(1, [0.9], 100)).decision).toBeNull();
  });

  it('keeps a scale-up that read more records a second, and goes back from one that did not, never to try it again', () => {
    const up = decide(o, fresh, win(1, [0.9], 1000));
    expect(up.state.trial).toEqual({ from: 1, rate: 1000 });
    const kept = decide(o, up.state, win(2, [0.9, 0.9], 1100));
    expect(kept.decision).toMatchObject({ kind: 'keep', from: 2, to: 2 });
    expect(kept.state).toEqual(fresh);
    const back = decide(o, up.state, win(2, [0.9, 0.9], 1099));
    expect(back.decision).toMatchObject({ kind: 'back', from: 2, to: 1 });
    expect(back.decision!.reason).toMatch(/parallelism 2 read 1.10 k records\/s against 1.00 k at 1, less than \+10%/);
    expect(back.state).toEqual({ trial: null, refused: [2] });
    // Busy again at 1: it stays.
    expect(decide(o, back.state, win(1, [0.95], 1000)).decision).toBeNull();
  });

  it('goes down one while every subtask is idle enough, down to min', () => {
    expect(decide(o, fresh, win(3, [0.1, 0.15, 0.05], 100)).decision).toMatchObject({ kind: 'down', from: 3, to: 2 });
    expect(decide(o, fresh, win(3, [0.1, 0.25, 0.05], 100)).decision).toBeNull();
    expect(decide(o, fresh, win(1, [0.01], 100)).decision).toBeNull();
  });
});

describe('autoscaler window figures', () => {
  const op = (id: number, subtask: number, busyMs: number, extra: Partial<OperatorMetrics> = {}): OperatorMetrics => ({ id, name: `op${id}`, subtask, recordsIn: 0, recordsOut: 0, watermark: null, busyMs, backpressuredMs: 0, ...extra });
  const progress = (elapsedMs: number, operators: OperatorMetrics[]): Progress =>
    ({ jobName: 'j', elapsedMs, recordsIn: 0, recordsOut: 0, recordsPerSecond: 0, watermark: null, watermarkLagMs: null, backpressured: null, operators }) as Progress;
  const at = (t: number, k: number) =>
    progress(t, [
      op(1, 0, 100 * k, { role: 'source', recordsOut: 1000 * k, backpressuredMs: 10 * k }),
      op(1, 1, 50 * k, { role: 'source', recordsOut: 3000 * k, backpressuredMs: 30 * k }),
      op(2, 0, 300 * k),
      op(2, 1, 200 * k),
    ]);

  it('sums busy time per subtask, averages the sources backpressure, and counts the records they read', () => {
    expect(windowOf(at(1000, 1), at(2000, 2))).toEqual({ parallelism: 2, busy: [0.4, 0.25], backpressure: 0.02, rate: 4000 });
  });

  it('takes none across a restart or a rescale (counters reset, other subtasks)', () => {
    expect(windowOf(at(1000, 2), at(2000, 1))).toBeNull();
    expect(windowOf(at(1000, 1), progress(2000, [op(1, 0, 500, { role: 'source', recordsOut: 9000 })]))).toBeNull();
  });
});
