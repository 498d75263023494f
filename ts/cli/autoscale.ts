/**
 * `sluice run --parallelism auto`: the job starts at parallelism 1 and an Autoscaler
 * (api/autoscaler.ts) rescales it between 1 and `--autoscale-max` (default: one per core) from
 * its progress samples, one decision per `--autoscale-window`. Rescaling goes through
 * savepoints, so the job must checkpoint.
 */

import { defaultParallelism, type StreamEnvironment } from '../api/environment.js';
import { AUTOSCALER_DEFAULTS, Autoscaler } from '../api/autoscaler.js';
import type { JobClient } from '../api/job-client.js';
import { UsageError, wholeOption, type OptionSpec } from './args.js';
import type { Log } from './log.js';

export const AUTOSCALE_OPTIONS: readonly OptionSpec[] = [
  { name: 'autoscale-max', value: '<n>', help: 'with --parallelism auto: the most subtasks per operator it scales to (default: one per core)' },
  { name: 'autoscale-window', value: '<ms>', help: `with --parallelism auto: the job time each decision is measured over (default ${AUTOSCALER_DEFAULTS.windowMs})` },
  { name: 'autoscale-up-busy', value: '<share>', help: `with --parallelism auto: scale up while every subtask is busy at least this share of the time (default ${AUTOSCALER_DEFAULTS.upBusy})` },
  { name: 'autoscale-down-busy', value: '<share>', help: `with --parallelism auto: scale down while every subtask is busy less than this share (default ${AUTOSCALER_DEFAULTS.downBusy})` },
];

/** Whether the options ask for autoscaling (`--parallelism auto`). */
export function autoParallelism(options: Map<string, string | true>): boolean {
  return options.get('parallelism') === 'auto';
}

/** The autoscaler the options ask for, or null (it also checks that the job can be rescaled). */
export function autoscalerOf(options: Map<string, string | true>, env: StreamEnvironment, client: JobClient, log: Log): Autoscaler | null {
  if (!autoParallelism(options)) {
    for (const o of AUTOSCALE_OPTIONS) if (options.has(o.name)) throw new UsageError(`--${o.name} goes with --parallelism auto`);
    return null;
  }
  if (options.has('application-id')) {
    throw new UsageError('--parallelism auto does not go with --application-id: an application spreads its tasks over its instances, and over up to --parallelism task threads in each');
  }
  if (env.pendingGraph().checkpoint === null) {
    throw new UsageError('--parallelism auto rescales the job through savepoints, so the job must checkpoint: call env.enableCheckpointing(intervalMs, { dir }) in it');
  }
  const share = (name: string, fallback: number): number => {
    const v = options.get(name);
    if (v === undefined) return fallback;
    const x = Number(v);
    if (typeof v !== 'string' || !(x >= 0 && x <= 1)) throw new UsageError(`--${name} must be a share of the time between 0 and 1, got '${String(v)}'`);
    return x;
  };
  const max = wholeOption(options, 'autoscale-max') ?? defaultParallelism();
  const windowMs = wholeOption(options, 'autoscale-window') ?? AUTOSCALER_DEFAULTS.windowMs;
  const upBusy = share('autoscale-up-busy', AUTOSCALER_DEFAULTS.upBusy);
  const downBusy = share('autoscale-down-busy', AUTOSCALER_DEFAULTS.downBusy);
  if (downBusy >= upBusy) throw new UsageError(`--autoscale-down-busy (${downBusy}) must be below --autoscale-up-busy (${upBusy}), or the job would go up and down in turn`);
  log.info(`autoscaling between parallelism 1 and ${max}, deciding every ${windowMs / 1000} s of job time`);
  return new Autoscaler(client, { ...AUTOSCALER_DEFAULTS, max, windowMs, upBusy, downBusy }, (d, error) => {
    const what = d.kind === 'back' ? `back from parallelism ${d.from} to ${d.to}` : `from parallelism ${d.from} to ${d.to}`;
    if (d.kind === 'keep') log.info(`autoscaler: keeping parallelism ${d.to}: ${d.reason}`);
    else if (error === undefined) log.info(`autoscaler: rescaling ${what}: ${d.reason}`);
    else log.warn(`autoscaler: the rescale ${what} failed (${error.message}); the job goes on at ${d.from}`);
  }, (w) => {
    if (log.enabled('debug')) log.debug(`autoscaler: subtasks busy ${w.busy.map((b) => `${Math.round(b * 100)}%`).join(' ')}, sources backpressured ${Math.round(w.backpressure * 100)}%, ${Math.round(w.rate)} records/s`);
  });
}
