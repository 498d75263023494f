/**
 * Nexmark q11, user sessions: bids per bidder per session with a 10 s gap.
 *   npm run cli -- run examples/nexmark/q11.ts -- 10000000 [out.jsonl]
 */

import { agg, EventTimeSessionWindows, NexmarkSource, WatermarkStrategy, type NexmarkOptions, type StreamEnvironment } from '../../ts/index.js';
import { parseQueryArgs } from './common.js';

export function q11(env: StreamEnvironment, source: NexmarkOptions) {
  return env
    .fromSource(NexmarkSource.bids(source), WatermarkStrategy.forBoundedOutOfOrderness(4000))
    .keyBy('bidder')
    .window(EventTimeSessionWindows.withGap(10_000))
    .aggregate({ bidCount: agg.count() });
}

export default function (env: StreamEnvironment, args: readonly string[]): void {
  const { events, sink } = parseQueryArgs(args);
  q11(env, { events }).sinkTo(sink);
}
