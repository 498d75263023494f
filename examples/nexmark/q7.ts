/**
 * Nexmark q7, highest bid: the bids whose price is the highest of a 10 s tumbling window,
 * with dateTime in [window end - 10 s, window end]. The window maximum (event time end - 1) is
 * interval-joined on price with the bids in [end - 10 s, end] = [t - 9 999, t + 1].
 *   npm run cli -- run examples/nexmark/q7.ts -- 10000000 [out.jsonl]
 */

import { agg, NexmarkSource, TumblingEventTimeWindows, WatermarkStrategy, type NexmarkOptions, type StreamEnvironment } from '../../ts/index.js';
import { parseQueryArgs } from './common.js';

export const Q7_SCHEMA = { auction: 'i64', price: 'i64', bidder: 'i64', dateTime: 'timestamp', extra: 'utf8' } as const;

export function q7(env: StreamEnvironment, source: NexmarkOptions) {
  // Parallel source subtasks advance together (within the drift): otherwise the downstream
  // watermark follows the slower one and the operators hold the faster one's records.
  const bids = env.fromSource(NexmarkSource.bids(source), WatermarkStrategy.forBoundedOutOfOrderness(4000).withWatermarkAlignment('bids', 1_000));
  const maxima = bids.windowAll(TumblingEventTimeWindows.of(10_000)).aggregate({ maxPrice: agg.max('price') });
  return maxima
    .keyBy('maxPrice')
    .intervalJoin(bids.keyBy('price'))
    .between(-9_999, 1)
    .process((_m, b) => ({ auction: b.auction, price: b.price, bidder: b.bidder, dateTime: b.dateTime, extra: b.extra }), Q7_SCHEMA);
}

export default function (env: StreamEnvironment, args: readonly string[]): void {
  const { events, sink } = parseQueryArgs(args);
  q7(env, { events }).sinkTo(sink);
}
