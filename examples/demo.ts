/**
 * The demo job: hot auctions in generated Nexmark bids.
 *
 *   bids -> keyBy(auction) -> 10 s tumbling event-time windows -> count, max(price)
 *
 * Runs on the native engine with a live progress line, prints the busiest auction windows,
 * then runs the same job on the pure-TypeScript engine and checks both give the same answer.
 *
 *   node dist/examples/demo.js [events]        (default 20 000 000)
 */

import { agg, CollectSink, NexmarkSource, StreamEnvironment, TumblingEventTimeWindows, WatermarkStrategy, nativeAvailable, type EngineName, type JobResult } from '../ts/index.js';

const events = Number(process.argv[2] ?? 20_000_000);

interface HotAuction {
  auction: number;
  windowStart: number;
  windowEnd: number;
  bids: number;
  topPrice: number;
}

async function run(engine: EngineName): Promise<{ rows: HotAuction[]; result: JobResult }> {
  const env = StreamEnvironment.create({ engine });
  const sink = new CollectSink<HotAuction>();
  env
    .fromSource(NexmarkSource.bids({ events, seed: 42 }), WatermarkStrategy.forBoundedOutOfOrderness(4000))
    .keyBy('auction')
    .window(TumblingEventTimeWindows.of(10_000))
    .aggregate({ bids: agg.count(), topPrice: agg.max('price') })
    .sinkTo(sink);
  if (engine === 'native') console.log(env.explain() + '\n');
  const result = await env.execute(`hot auctions (${engine})`, { progress: true, progressIntervalMs: 250 });
  if (process.stderr.isTTY) process.stderr.write('\n');
  return { rows: sink.records, result };
}

function top(rows: HotAuction[], n: number): HotAuction[] {
  return [...rows].sort((a, b) => b.bids - a.bids || b.topPrice - a.topPrice || a.windowStart - b.windowStart || a.auction - b.auction).slice(0, n);
}

function summary(r: JobResult): string {
  const rate = (r.recordsIn / r.durationMs) * 1000;
  return `${r.recordsIn.toLocaleString('en')} bids in ${(r.durationMs / 1000).toFixed(2)} s = ${(rate / 1e6).toFixed(2)} M bids/s; ${r.lateRecordsDropped} late`;
}

const engines: EngineName[] = nativeAvailable() ? ['native', 'ts'] : ['ts'];
if (engines.length === 1) console.log('The native addon is not built here; running the pure-TypeScript engine only.');
console.log(`Generating ${events.toLocaleString('en')} Nexmark events (seed 42) and finding the hottest auctions per 10 s window.\n`);
const runs = new Map<EngineName, { rows: HotAuction[]; result: JobResult }>();
for (const engine of engines) {
  console.log(`== ${engine} engine`);
  const r = await run(engine);
  runs.set(engine, r);
  console.log(summary(r.result));
  console.log(`${r.rows.length.toLocaleString('en')} (auction, window) results\n`);
}

const first = runs.get(engines[0]!)!;
console.log('Top 10 auction windows by number of bids:');
console.table(
  top(first.rows, 10).map((r) => ({
    auction: r.auction,
    window: `${new Date(r.windowStart).toISOString().slice(11, 19)}-${new Date(r.windowEnd).toISOString().slice(11, 19)}`,
    bids: r.bids,
    'top price': r.topPrice,
  })),
);
if (engines.length === 2) {
  const a = runs.get('native')!;
  const b = runs.get('ts')!;
  const same = JSON.stringify(a.rows) === JSON.stringify(b.rows);
  console.log(`native and TS results identical: ${same ? 'yes' : 'NO'} (${a.rows.length} rows each)`);
  const ra = a.result.recordsIn / a.result.durationMs;
  const rb = b.result.recordsIn / b.result.durationMs;
  console.log(`native/TS throughput ratio: ${(ra / rb).toFixed(2)}x`);
  if (!same) process.exitCode = 1;
}
