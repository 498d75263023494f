/**
 * The Nexmark queries in examples/nexmark, on both engines, against an independent computation
 * of the same query over the same generated events (plain code over the generator's records).
 */

import { describe, expect, it } from 'vitest';
import { CollectSink, StreamEnvironment, type DataStream, type EngineName, type Row } from '../ts/index.js';
import { selectEngine } from '../ts/engine/select.js';
import { DEFAULT_NEXMARK_CONFIG, type NexmarkKind } from '../ts/engine/nexmark-config.js';
import { q0 } from '../examples/nexmark/q0.js';
import { q1 } from '../examples/nexmark/q1.js';
import { q2 } from '../examples/nexmark/q2.js';
import { onBothEngines } from './engines.js';

const EVENTS = 100_000;

/** All events of one kind as plain records, straight from the generator (no pipeline). */
function events(kind: NexmarkKind, count = EVENTS): Row[] {
  const g = selectEngine('ts').createNexmarkGenerator({ ...DEFAULT_NEXMARK_CONFIG, eventCount: count }, kind);
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
