/**
 * Nexmark q8, monitor new users: people who opened an auction in the same 10 s tumbling window
 * as they registered. Distinct (id, name) per window and distinct sellers per window, joined on
 * id = seller within the same window.
 *   npm run cli -- run examples/nexmark/q8.ts -- 10000000 [out.jsonl]
 */

import { agg, NexmarkSource, TumblingEventTimeWindows, WatermarkStrategy, type NexmarkOptions, type StreamEnvironment } from '../../ts/index.js';
import { parseQueryArgs } from './common.js';

export function q8(env: StreamEnvironment, source: NexmarkOptions) {
  const window = TumblingEventTimeWindows.of(10_000);
  const people = env
    .fromSource(NexmarkSource.persons(source), WatermarkStrategy.forBoundedOutOfOrderness(4000))
    .keyBy(['id', 'name'])
    .window(window)
    .aggregate({ n: agg.count() });
  const sellers = env
    .fromSource(NexmarkSource.auctions(source), WatermarkStrategy.forBoundedOutOfOrderness(4000))
    .keyBy('seller')
    .window(window)
    .aggregate({ n: agg.count() });
  return people
    .join(sellers)
    .where('id')
    .equalTo('seller')
    .window(window)
    .apply((p) => ({ id: p.id, name: p.name, starttime: p.windowStart }), { id: 'i64', name: 'utf8', starttime: 'timestamp' });
}

export default function (env: StreamEnvironment, args: readonly string[]): void {
  const { events, sink } = parseQueryArgs(args);
  q8(env, { events }).sinkTo(sink);
}
