import { describe, expect, it } from 'vitest';
import {
  agg,
  CollectSink,
  DiscardingSink,
  NexmarkSource,
  selectEngine,
  StreamEnvironment,
  TumblingEventTimeWindows,
  WatermarkStrategy,
  type RecordBatch,
} from '../../ts/index.js';
import { BufferPool } from '../../ts/batch/lease.js';
import { encodeBatch } from '../../ts/engine/ts/codec.js';
import { DEFAULT_NEXMARK_CONFIG, type NexmarkConfig, type NexmarkKind } from '../../ts/engine/nexmark-config.js';
import { onBothEngines, requireNative } from '../engines.js';

function drain(engine: 'native' | 'ts', config: NexmarkConfig, kind: NexmarkKind, batch: number, fields?: string[]): RecordBatch[] {
  const g = selectEngine(engine).createNexmarkGenerator(config, kind, fields);
  const out: RecordBatch[] = [];
  for (let b = g.nextBatch(batch); b !== null; b = g.nextBatch(batch)) out.push(b);
  return out;
}

/** The strictest comparison there is: the same bytes on the wire (schema, columns, event time). */
const wire = (bs: RecordBatch[]) => bs.map((b) => Buffer.from(encodeBatch(b)).toString('base64'));

describe('the Nexmark generator', () => {
  const cfg = (over: Partial<NexmarkConfig>): NexmarkConfig => ({ ...DEFAULT_NEXMARK_CONFIG, eventCount: 20_000, ...over });

  for (const kind of ['person', 'auction', 'bid'] as const) {
    it(`produces identical ${kind}s natively and in TypeScript`, () => {
      requireNative();
      for (const c of [cfg({}), cfg({ seed: 7, ratePerSec: 3, splitIndex: 1, splitCount: 3 }), cfg({ baseTimeMs: 0, eventCount: 5_000 })]) {
        const native = drain('native', c, kind, 1000);
        const ts = drain('ts', c, kind, 1000);
        expect(native.length).toBeGreaterThan(0);
        expect(wire(ts)).toEqual(wire(native));
      }
    });
  }

  it('writes the same batches into lent buffers that hold other bytes as into fresh arrays', () => {
    requireNative();
    // Every buffer lent is filled with junk first: a column that relies on zeroed memory differs.
    class Junk extends BufferPool {
      override take(bytes: number): SharedArrayBuffer {
        const b = super.take(bytes);
        new Uint8Array(b).fill(0xab);
        return b;
      }
    }
    for (const kind of ['person', 'auction', 'bid'] as const) {
      for (const engine of ['native', 'ts'] as const) {
        const fresh = wire(drain(engine, cfg({}), kind, 1000));
        const g = selectEngine(engine).createNexmarkGenerator(cfg({}), kind);
        const pool = new Junk();
        const lent: string[] = [];
        for (;;) {
          const lease = pool.lease();
          const b = g.nextBatch(1000, lease);
          if (b === null) break;
          lent.push(...wire([b]));
          lease.release();
        }
        expect(lent, `${engine} ${kind}s`).toEqual(fresh);
      }
    }
  });

  it('is deterministic, batch-size independent, and projects without changing values', () => {
    const c = cfg({});
    const whole = drain('ts', c, 'bid', 20_000);
    expect(whole).toHaveLength(1);
    const small = drain('native', c, 'bid', 333);
    const rows = small.flatMap((b) => b.toRecords());
    expect(rows).toEqual(whole[0]!.toRecords());
    const proj = drain('native', c, 'bid', 20_000, ['price', 'auction']);
    expect(proj[0]!.schema.names()).toEqual(['auction', 'price']);
    expect(proj[0]!.toRecords()).toEqual(rows.map((r) => ({ auction: r.auction, price: r.price })));
  });

  it('follows the event model: 1:3:46 proportions, ids, timestamps, prices', () => {
    const c = cfg({ eventCount: 50_000 });
    const count = (k: NexmarkKind) => drain('native', c, k, 8192).reduce((s, b) => s + b.length, 0);
    expect([count('person'), count('auction'), count('bid')]).toEqual([1000, 3000, 46000]);
    const persons = drain('ts', c, 'person', 100_000)[0]!.toRecords();
    expect(persons[0]!.id).toBe(1000);
    expect(persons[1]!.id).toBe(1001);
    // Event n happens at base + n * 1000 / rate ms: person 1 is event 50.
    expect(persons[1]!.dateTime).toBe(DEFAULT_NEXMARK_CONFIG.baseTimeMs + 5);
    const bids = drain('ts', c, 'bid', 100_000)[0]!.toRecords();
    for (const b of bids) {
      expect(b.price).toBeGreaterThanOrEqual(100);
      expect(b.price).toBeLessThanOrEqual(100_000_000);
    }
    const hot = bids.filter((b) => (b.auction as number) % 100 === 0).length / bids.length;
    expect(hot).toBeGreaterThan(0.45);
  });

  it('seeks to a position and continues with the same events', () => {
    const c = cfg({});
    const g = selectEngine('native').createNexmarkGenerator(c, 'bid');
    g.nextBatch(500);
    const pos = g.position();
    const next = g.nextBatch(500)!;
    const h = selectEngine('ts').createNexmarkGenerator(c, 'bid');
    h.seek(pos);
    expect(wire([h.nextBatch(500)!])).toEqual(wire([next]));
  });
});

describe('the Nexmark source in a pipeline', () => {
  it('bids -> keyBy(auction) -> 10 s window gives identical results on both engines, reading only the fields it needs', async () => {
    const { native } = await onBothEngines(async (engine) => {
      const env = StreamEnvironment.create({ engine, batchSize: 4096 });
      const sink = new CollectSink();
      env
        .fromSource(NexmarkSource.bids({ events: 300_000 }), WatermarkStrategy.forBoundedOutOfOrderness(4000))
        .keyBy('auction')
        .window(TumblingEventTimeWindows.of(10_000))
        .aggregate({ maxPrice: agg.max('price'), bids: agg.count() })
        .sinkTo(sink);
      expect(env.explain()).toContain('[reads auction, price]');
      const result = await env.execute();
      expect(result.recordsIn).toBe(276_000); // 46 of every 50 events are bids
      return sink.records;
    });
    const total = native.reduce((s, r) => s + (r as { bids: number }).bids, 0);
    expect(total).toBe(276_000);
  });

  it('writes its batches into buffers it reuses; a sink that keeps batches gets copies, the same events on both engines', async () => {
    const sources = { person: NexmarkSource.persons, auction: NexmarkSource.auctions, bid: NexmarkSource.bids };
    for (const [kind, open] of Object.entries(sources)) {
      await onBothEngines(async (engine) => {
        const env = StreamEnvironment.create({ engine, batchSize: 100 });
        const events = env.fromSource(open({ events: 20_000 }) as NexmarkSource<object>);
        const kept = new CollectSink<object>();
        events.sinkTo(kept);
        // A sink done with each batch when write returns: sees the batches as the source made them.
        const buffers = new Set<ArrayBufferLike>();
        let batches = 0;
        events.sinkTo({
          name: 'buffers',
          open: () => ({
            write: (b: RecordBatch) => {
              batches++;
              buffers.add((b.columns[0] as { values: BigInt64Array }).values.buffer);
            },
            borrows: true,
            close: () => undefined,
          }),
        });
        await env.execute();
        expect(batches, kind).toBeGreaterThan(3);
        expect([...buffers].every((b) => b instanceof SharedArrayBuffer)).toBe(true);
        expect(buffers.size).toBeLessThan(batches);
        // Distinct rows: a kept batch was not overwritten by the next one written into its buffers.
        expect(new Set(kept.records.map((r) => JSON.stringify(r))).size).toBe(kept.records.length);
        expect(kept.records.length).toBe(20_000 * { person: 1, auction: 3, bid: 46 }[kind]! / 50);
        return kept.records;
      });
    }
  });

  it('paces itself to a target rate of events per second', async () => {
    const env = StreamEnvironment.create({ engine: 'native', batchSize: 1000 });
    env.fromSource(NexmarkSource.bids({ events: 20_000, targetRatePerSec: 50_000 })).sinkTo(new DiscardingSink());
    const result = await env.execute();
    // 20 000 events at 50 000/s cannot take less than ~0.4 s (the last batch is due at 0.38 s).
    expect(result.durationMs).toBeGreaterThanOrEqual(350);
    expect(() => NexmarkSource.bids({ targetRatePerSec: 0 })).toThrow(/targetRatePerSec must be above 0/);
  });
});
