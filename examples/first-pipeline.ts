/** The README's first pipeline, kept here so the build type-checks it. Run: node dist/examples/first-pipeline.js */

import { StreamEnvironment, NexmarkSource, WatermarkStrategy, TumblingEventTimeWindows, agg } from '../ts/index.js';

const env = StreamEnvironment.create(); // engine: 'auto' (native when it loads, else pure TS)
let rows = 0;
for await (const row of env
  .fromSource(NexmarkSource.bids({ events: 1_000_000 }), WatermarkStrategy.forBoundedOutOfOrderness(4000))
  .keyBy('auction')
  .window(TumblingEventTimeWindows.of(10_000))
  .aggregate({ bids: agg.count(), topPrice: agg.max('price') })
  .collect()) {
  if (rows++ < 5) console.log(row); // { auction, windowStart, windowEnd, bids, topPrice }
}
console.log(`${rows} window results`);

const clicks = env.fromRecords(
  [{ user: 'ann', ms: 120, at: 1_000 }],
  { user: 'utf8', ms: 'i64', at: 'timestamp' }, // 'utf8?' would allow nulls
  WatermarkStrategy.forBoundedOutOfOrderness(1000).withTimestampAssigner('at'),
);
const perUser = clicks
  .filter((c) => c.ms > 50)
  .map((c) => ({ ...c, ms: c.ms * 2 }))
  .keyBy('user')
  .window(TumblingEventTimeWindows.of(60_000))
  .aggregate({ total: agg.sum('ms') });
for await (const r of perUser.collect()) console.log(r.user, r.windowStart, r.total);
