/**
 * A pipeline module for the command line:
 *
 *   npx sluice run examples/hot-auctions.ts -- 20000000 out.jsonl
 *   npx sluice explain examples/hot-auctions.ts
 *
 * Arguments after `--`: number of Nexmark events (default 10 000 000), output file (default
 * hot-auctions.jsonl), and optionally a target rate in events/s (default: maximum speed).
 */

import { agg, FileSink, NexmarkSource, TumblingEventTimeWindows, WatermarkStrategy, type StreamEnvironment } from '../ts/index.js';

export default function hotAuctions(env: StreamEnvironment, args: readonly string[]): void {
  const events = Number(args[0] ?? 10_000_000);
  const out = args[1] ?? 'hot-auctions.jsonl';
  const rate = args[2] === undefined ? undefined : Number(args[2]);
  env
    .fromSource(NexmarkSource.bids({ events, ...(rate === undefined ? {} : { targetRatePerSec: rate }) }), WatermarkStrategy.forBoundedOutOfOrderness(4000))
    .keyBy('auction')
    .window(TumblingEventTimeWindows.of(10_000))
    .aggregate({ bids: agg.count(), topPrice: agg.max('price') })
    .filter((r) => r.bids >= 100)
    .sinkTo(FileSink.jsonl(out));
}
