/**
 * Nexmark q5, hot items: per 10 s window sliding every 2 s, the auctions with the most bids.
 * Sliding-window counts per auction, then all counts of one window together (keyed by the
 * window's end, in a 2 s tumbling window over the counts' event time, which is end - 1),
 * keeping those equal to the window's maximum.
 *   npm run cli -- run examples/nexmark/q5.ts -- 10000000 [out.jsonl]
 */

import { agg, NexmarkSource, SlidingEventTimeWindows, TumblingEventTimeWindows, WatermarkStrategy, type NexmarkOptions, type StreamEnvironment } from '../../ts/index.js';
import { parseQueryArgs } from './common.js';

export function q5(env: StreamEnvironment, source: NexmarkOptions) {
  // Parallel source subtasks advance together (within the drift): otherwise the downstream
  // watermark follows the slower one and the operators hold the faster one's records.
  return env
    .fromSource(NexmarkSource.bids(source), WatermarkStrategy.forBoundedOutOfOrderness(4000).withWatermarkAlignment('bids', 10_000))
    .keyBy('auction')
    .window(SlidingEventTimeWindows.of(10_000, 2_000))
    .aggregate({ num: agg.count() })
    .keyBy('windowEnd')
    .window(TumblingEventTimeWindows.of(2_000))
    .process(
      (_end, _w, counts) => {
        const max = Math.max(...counts.map((c) => c.num));
        return counts.filter((c) => c.num >= max).map((c) => ({ auction: c.auction, num: c.num, windowStart: c.windowStart }));
      },
      { auction: 'i64', num: 'i64', windowStart: 'timestamp' },
    );
}

export default function (env: StreamEnvironment, args: readonly string[]): void {
  const { events, sink } = parseQueryArgs(args);
  q5(env, { events }).sinkTo(sink);
}
