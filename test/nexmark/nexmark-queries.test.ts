/**
 * The Nexmark queries in examples/nexmark, on both engines, against an independent computation
 * of the same query over the same generated events (plain code over the generator's records).
 */

import { describe, expect, it } from 'vitest';
import { CollectSink, StreamEnvironment, type DataStream, type EngineName, type Row } from '../../ts/index.js';
import { selectEngine } from '../../ts/engine/select.js';
import { DEFAULT_NEXMARK_CONFIG, type NexmarkKind } from '../../ts/engine/nexmark-config.js';
import { q0 } from '../../examples/nexmark/q0.js';
import { q1 } from '../../examples/nexmark/q1.js';
import { q2 } from '../../examples/nexmark/q2.js';
import { q3 } from '../../examples/nexmark/q3.js';
import { q4 } from '../../examples/nexmark/q4.js';
import { q5 } from '../../examples/nexmark/q5.js';
import { q7 } from '../../examples/nexmark/q7.js';
import { q8 } from '../../examples/nexmark/q8.js';
import { q11 } from '../../examples/nexmark/q11.js';
import * as ref from './nexmark-reference.js';
import { onBothEngines } from '../engines.js';

const EVENTS = 100_000;

/** All events of one kind as plain records, straight from the generator (no pipeline). */
function events(kind: NexmarkKind, count = EVENTS, ratePerSec = DEFAULT_NEXMARK_CONFIG.ratePerSec): Row[] {
  const g = selectEngine('ts').createNexmarkGenerator({ ...DEFAULT_NEXMARK_CONFIG, eventCount: count, ratePerSec }, kind);
  const out: Row[] = [];
  for (let b = g.nextBatch(8192); b !== null; b = g.nextBatch(8192)) out.push(...b.toRecords());
  return out;
}

async function run(engine: EngineName, build: (env: StreamEnvironment) => DataStream<object>): Promise<Row[]> {
  const env = StreamEnvironment.create({ engine });
  const sink = new CollectSink();
  build(env).sinkTo(sink);
  await env.execute();
  return sink.records;
}

describe('Nexmark queries on both engines, against an independent computation', () => {
  const bids = events('bid');

  it('q0 pass-through', async () => {
    const { native } = await onBothEngines((e) => run(e, (env) => q0(env, { events: EVENTS })));
    expect(native).toEqual(bids.map((b) => ({ auction: b.auction, bidder: b.bidder, price: b.price, dateTime: b.dateTime, extra: b.extra })));
  });

  it('q1 currency conversion', async () => {
    const { native } = await onBothEngines((e) => run(e, (env) => q1(env, { events: EVENTS })));
    expect(native).toEqual(bids.map((b) => ({ auction: b.auction, bidder: b.bidder, price: 0.908 * (b.price as number), dateTime: b.dateTime, extra: b.extra })));
  });

  it('q2 selection', async () => {
    const { native } = await onBothEngines((e) => run(e, (env) => q2(env, { events: EVENTS })));
    const want = bids.filter((b) => (b.auction as number) % 123 === 0).map((b) => ({ auction: b.auction, price: b.price }));
    expect(want.length).toBeGreaterThan(10);
    expect(native).toEqual(want);
  });
});

describe('windowed and joined Nexmark queries on both engines, against an independent computation', () => {
  // 1 000 events per second of event time: 50 000 events span 50 s, many windows and sessions.
  const source = { events: 50_000, eventRatePerSec: 1_000 };
  const bids = events('bid', source.events, source.eventRatePerSec) as unknown as ref.Bid[];
  const persons = events('person', source.events, source.eventRatePerSec) as unknown as ref.Person[];
  const auctions = events('auction', source.events, source.eventRatePerSec) as unknown as ref.Auction[];
  const sorted = (rows: object[]) => rows.map((r) => JSON.stringify(r)).sort();

  it('q3 local item suggestion (regular join)', async () => {
    const { native } = await onBothEngines(async (e) => sorted(await run(e, (env) => q3(env, source))));
    const want = ref.q3(persons, auctions);
    expect(want.length).toBeGreaterThan(5);
    expect(native).toEqual(sorted(want));
  });

  it('q4 average price per category (updating: the last row per category is final)', async () => {
    const { native } = await onBothEngines(async (e) => {
      const rows = await run(e, (env) => q4(env, source));
      return Object.fromEntries(rows.map((r) => [String(r.category), r.avgPrice]));
    });
    const want = Object.fromEntries([...ref.q4(auctions, bids)].map(([c, avg]) => [String(c), avg]));
    expect(Object.keys(want).length).toBe(5);
    expect(native).toEqual(want);
  });

  it('q5 hot items (sliding windows, then the maximum per window)', async () => {
    const { native } = await onBothEngines(async (e) => sorted(await run(e, (env) => q5(env, source))));
    const want = ref.q5(bids);
    expect(want.length).toBeGreaterThan(20);
    expect(native).toEqual(sorted(want));
  });

  it('q7 highest bid (tumbling maximum, interval-joined back to the bids)', async () => {
    const { native } = await onBothEngines(async (e) => sorted(await run(e, (env) => q7(env, source))));
    const want = ref.q7(bids).map((b) => ({ auction: b.auction, price: b.price, bidder: b.bidder, dateTime: b.dateTime, extra: b.extra }));
    expect(want.length).toBeGreaterThanOrEqual(5);
    expect(native).toEqual(sorted(want));
  });

  it('q8 monitor new users (window join of two windowed distincts)', async () => {
    const { native } = await onBothEngines(async (e) => sorted(await run(e, (env) => q8(env, source))));
    const want = ref.q8(persons, auctions);
    expect(want.length).toBeGreaterThan(10);
    expect(native).toEqual(sorted(want));
  });

  it('q11 user sessions (session windows)', async () => {
    const { native } = await onBothEngines(async (e) =>
      sorted(
        (await run(e, (env) => q11(env, source))).map((r) => ({ bidder: r.bidder, bidCount: r.bidCount, starttime: r.windowStart, endtime: r.windowEnd })),
      ),
    );
    const want = ref.q11(bids);
    expect(want.length).toBeGreaterThan(20);
    expect(native).toEqual(sorted(want));
  });
});
