/**
 * An autoscaler for a running job (`sluice run --parallelism auto`), after Flink's: it reads the
 * operators' busy and backpressured time from the job's progress samples and rescales the job
 * through its JobClient (a savepoint, then the tasks again at the new parallelism).
 *
 * The policy, decided once per window of samples (the first window of each run, its warm-up,
 * is not judged):
 * - **up** by one subtask per operator while every subtask is busy (the time its operators spend
 *   in their calls, summed per subtask index) at least `upBusy` of the window and the sources
 *   are backpressured less than `maxBackpressure` of it (then a slow sink, not the work, limits
 *   the job), up to `max`;
 * - **kept only if it paid**: the first whole window after a scale-up must read at least
 *   `1 + minGain` times the records a second that the window before it read, else the job goes
 *   back and that parallelism is not tried again. More threads are not always faster (keyed
 *   jobs on this project's 2-core machine run slower at 2 than at 1: BENCHMARKS.md), so the
 *   autoscaler measures instead of assuming;
 * - **down** by one while every subtask is busy less than `downBusy`, down to `min`.
 */

import type { JobClient } from './job-client.js';
import type { Progress } from './job.js';

export interface AutoscalerOptions {
  readonly min: number;
  readonly max: number;
  /** The window decisions are made over, ms of job time. */
  readonly windowMs: number;
  readonly upBusy: number;
  readonly downBusy: number;
  readonly maxBackpressure: number;
  /** A scale-up is kept when the source rate rose by at least this share. */
  readonly minGain: number;
}

/**
 * Busy is the time in operator calls only; a thread's own work between them (checkpoint
 * snapshots, garbage collection, the event loop) is not in it, so a CPU-bound job reads
 * 60-80% busy (the checkpointed test job, a checkpoint every 100 ms), hence an upper threshold
 * of 0.6 rather than Flink's utilization target.
 */
export const AUTOSCALER_DEFAULTS: Omit<AutoscalerOptions, 'max'> = { min: 1, windowMs: 10_000, upBusy: 0.6, downBusy: 0.2, maxBackpressure: 0.1, minGain: 0.1 };

/** What one window measured. */
export interface WindowFigures {
  readonly parallelism: number;
  /** Busy share of the window per subtask index (its operators' busy time summed). */
  readonly busy: readonly number[];
  /** Backpressured share of the window, the sources' average. */
  readonly backpressure: number;
  /** Records the sources read, per second. */
  readonly rate: number;
}

export interface AutoscaleDecision {
  /** keep: a scale-up paid, nothing to do. */
  readonly kind: 'up' | 'down' | 'back' | 'keep';
  readonly from: number;
  readonly to: number;
  /** Why, in words for the log. */
  readonly reason: string;
}

/** The policy's memory between windows. */
export interface PolicyState {
  /** After a scale-up: the parallelism before it and the rate it had, until the next window judges it. */
  readonly trial: { readonly from: number; readonly rate: number } | null;
  /** Parallelisms a scale-up to which did not pay. */
  readonly refused: readonly number[];
}

const pct = (x: number): string => `${Math.round(x * 100)}%`;
/** Three significant digits, so that a rate just short of the gain does not read as equal. */
const rate = (r: number): string => (r >= 1e6 ? `${(r / 1e6).toPrecision(3)} M` : `${(r / 1e3).toPrecision(3)} k`);

/** The decision for one window (null: stay), and the state for the next. */
export function decide(o: AutoscalerOptions, s: PolicyState, w: WindowFigures): { decision: AutoscaleDecision | null; state: PolicyState } {
  const p = w.parallelism;
  if (s.trial !== null) {
    const { from, rate: before } = s.trial;
    const measured = `parallelism ${p} read ${rate(w.rate)} records/s against ${rate(before)} at ${from}`;
    if (w.rate >= before * (1 + o.minGain)) return { decision: { kind: 'keep', from: p, to: p, reason: `${measured}, +${pct(o.minGain)} or more` }, state: { ...s, trial: null } };
    return { decision: { kind: 'back', from: p, to: from, reason: `${measured}, less than +${pct(o.minGain)}` }, state: { trial: null, refused: [...s.refused, p] } };
  }
  const least = Math.min(...w.busy);
  const most = Math.max(...w.busy);
  if (p < o.max && least >= o.upBusy && w.backpressure < o.maxBackpressure && !s.refused.includes(p + 1)) {
    const reason = `every subtask busy ${pct(least)} or more, sources backpressured ${pct(w.backpressure)}`;
    return { decision: { kind: 'up', from: p, to: p + 1, reason }, state: { ...s, trial: { from: p, rate: w.rate } } };
  }
  if (p > o.min && most < o.downBusy) return { decision: { kind: 'down', from: p, to: p - 1, reason: `every subtask busy ${pct(most)} or less` }, state: s };
  return { decision: null, state: s };
}

interface Sample {
  readonly at: number;
  readonly parallelism: number;
  readonly busy: readonly number[];
  readonly backpressured: number;
  readonly sources: number;
  readonly read: number;
}

function sampleOf(p: Progress): Sample {
  const busy: number[] = [];
  let backpressured = 0;
  let read = 0;
  let sources = 0;
  for (const m of p.operators) {
    busy[m.subtask] = (busy[m.subtask] ?? 0) + m.busyMs;
    if (m.role === 'source') {
      backpressured += m.backpressuredMs;
      read += m.recordsOut;
      sources++;
    }
  }
  return { at: p.elapsedMs, parallelism: busy.length, busy: Array.from(busy, (b) => b ?? 0), backpressured, sources, read };
}

/** What the job did between two progress samples of one run, or null when they are not of one run (a restart or rescale reset its counters). */
export function windowOf(from: Progress, to: Progress): WindowFigures | null {
  const [a, b] = [sampleOf(from), sampleOf(to)];
  const dt = b.at - a.at;
  if (dt <= 0 || a.parallelism !== b.parallelism || b.read < a.read || b.busy.some((x, i) => x < a.busy[i]!)) return null;
  return {
    parallelism: b.parallelism,
    busy: b.busy.map((x, i) => (x - a.busy[i]!) / dt),
    backpressure: b.sources === 0 ? 0 : (b.backpressured - a.backpressured) / dt / b.sources,
    rate: ((b.read - a.read) * 1000) / dt,
  };
}

/**
 * Runs the policy over a job's progress samples (`observe`, from ExecuteOptions.progress) and
 * rescales it through `client`. The parallelism it starts from is the job's as its samples show
 * it (its subtasks), so a rescale made by other means (the dashboard) is followed too. `report`
 * hears every decision, and every rescale that failed (the job then goes on at the parallelism
 * it had).
 */
export class Autoscaler {
  private state: PolicyState = { trial: null, refused: [] };
  private start: Progress | null = null;
  private warming = true;
  private rescaling = false;

  constructor(
    private readonly client: JobClient,
    private readonly options: AutoscalerOptions,
    private readonly report: (d: AutoscaleDecision, error?: Error) => void,
    /** Hears each window's figures (for a debug log). */
    private readonly watch: (w: WindowFigures) => void = () => {},
  ) {
    if (!Number.isSafeInteger(options.min) || !Number.isSafeInteger(options.max) || options.min < 1 || options.max < options.min) {
      throw new RangeError(`autoscaler: min and max must be whole numbers with 1 <= min <= max, got ${options.min} and ${options.max}`);
    }
    if (!(options.windowMs > 0)) throw new RangeError(`autoscaler: windowMs must be above 0, got ${options.windowMs}`);
  }

  observe(p: Progress): void {
    if (this.rescaling || p.operators.length === 0) return;
    const start = this.start;
    // (A restart may count the job's time from 0 again.)
    if (start === null || p.elapsedMs < start.elapsedMs) {
      this.start = p;
      this.warming = true;
      return;
    }
    if (p.elapsedMs - start.elapsedMs < this.options.windowMs) return;
    const w = windowOf(start, p);
    this.start = p;
    // The first window of a run (after its start, a restart or a rescale) is its warm-up: not
    // judged (Flink's autoscaler waits out a stabilization interval too).
    if (w === null || this.warming) {
      this.warming = w === null;
      return;
    }
    this.watch(w);
    const { decision, state } = decide(this.options, this.state, w);
    this.state = state;
    if (decision === null) return;
    this.report(decision);
    if (decision.kind === 'keep') return;
    this.rescaling = true;
    this.client.rescale(decision.to).then(
      () => this.settled(),
      (e: unknown) => {
        // Not at the new parallelism: no trial to judge, and not that parallelism again.
        this.state = { trial: null, refused: [...this.state.refused, decision.to] };
        this.report(decision, e instanceof Error ? e : new Error(String(e)));
        this.settled();
      },
    );
  }

  /** A rescale ended: the next window starts with the next sample (of the new run). */
  private settled(): void {
    this.rescaling = false;
    this.start = null;
    this.warming = true;
  }
}
