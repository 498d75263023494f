/**
 * Flink's CUMULATE window TVF (`CUMULATE(TABLE t, DESCRIPTOR(ts), INTERVAL step, INTERVAL max)`)
 * on the built-in tumbling window aggregation: the windows [s, s + k*step) for k = 1 .. max/step,
 * s a multiple of max. The k-th window of every period is a tumbling window of size max whose
 * offset puts its end at s + k*step, fed only the rows in the first k steps of their period
 * (the rows of [s + k*step - max, s) it would also cover are in the last steps of the previous
 * period, and are filtered out). So each cumulating window fires when the watermark passes its
 * own end, with window_end - 1 as its rows' event time, exactly as a native one would; its
 * window_start is window_end - k*step. The max/step aggregations are unioned: together they
 * read each row (max/step + 1) / 2 times on average.
 */

import type { ExprNode } from '../table/expression.js';
import type { GroupWindow } from '../table/table.js';
import { fail, type SqlNode } from './parser.js';

/** More cumulating steps per window than this would plan that many aggregations: refused. */
export const MAX_CUMULATE_STEPS = 100;

export interface Cumulate {
  readonly stepMs: number;
  readonly maxMs: number;
}

/** CUMULATE's step and max size, checked. */
export function cumulateOf(n: SqlNode, ms: readonly number[]): Cumulate {
  if (ms.length !== 2) fail(n, "CUMULATE takes a step and a max size: CUMULATE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE, INTERVAL '10' MINUTE)");
  const [stepMs, maxMs] = ms as [number, number];
  if (stepMs <= 0 || maxMs <= 0) fail(n, 'CUMULATE needs a step and a max size above 0');
  if (maxMs % stepMs !== 0) fail(n, `CUMULATE's max size (${maxMs} ms) must be a whole multiple of its step (${stepMs} ms)`);
  if (maxMs / stepMs > MAX_CUMULATE_STEPS) {
    fail(n, `CUMULATE with ${maxMs / stepMs} steps per window is not supported (at most ${MAX_CUMULATE_STEPS}: each step is one window aggregation); use a larger step, or HOP`);
  }
  return { stepMs, maxMs };
}

/** One of the unioned aggregations: the rows it reads, its window, and how far its window_start lies before window_end. */
export interface CumulateStep {
  readonly filter: ExprNode | null;
  readonly window: GroupWindow;
  readonly spanMs: number;
}

export function cumulateSteps(c: Cumulate, on: string, alias: string): CumulateStep[] {
  const out: CumulateStep[] = [];
  const ts: ExprNode = { k: 'call', op: 'cast', args: [{ k: 'ref', name: on }], t: 'i64' };
  const m: ExprNode = { k: 'lit', v: c.maxMs };
  // The row's position in its period, in [0, max) also before 1970.
  const pos: ExprNode = { k: 'call', op: 'mod', args: [{ k: 'call', op: 'add', args: [{ k: 'call', op: 'mod', args: [ts, m] }, m] }, m] };
  for (let span = c.stepMs; span <= c.maxMs; span += c.stepMs) {
    const filter: ExprNode | null = span === c.maxMs ? null : { k: 'call', op: 'lt', args: [pos, { k: 'lit', v: span }] };
    out.push({ filter, window: { window: { kind: 'tumbling', sizeMs: c.maxMs, offsetMs: span % c.maxMs }, on, alias }, spanMs: span });
  }
  return out;
}

/** An item's expression with the window's start replaced by its end minus `spanMs`. */
export function startFromEnd(e: ExprNode, alias: string, spanMs: number): ExprNode {
  switch (e.k) {
    case 'alias':
      return { ...e, e: startFromEnd(e.e, alias, spanMs) };
    case 'call':
      if (e.op === 'windowStart') return { k: 'call', op: 'sub', args: [{ k: 'call', op: 'windowEnd', args: e.args }, { k: 'interval', ms: spanMs }] };
      return { ...e, args: e.args.map((a) => startFromEnd(a, alias, spanMs)) };
    default:
      return e;
  }
}
