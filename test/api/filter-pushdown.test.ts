/**
 * Filter pushdown of a DataStream `filter()`: a function compiled into a calc (as Nexmark q2's
 * `b.auction % 123 === 0`) is pushed into a Nexmark source as a SQL WHERE is. The records, and
 * the watermark each one sees downstream, are those of the same function called per record;
 * the source emits the kept rows only. The source may take it because JavaScript reads every
 * value it produces exactly (`exactValues`), which the last test checks at the configuration's
 * bounds. On both engines.
 */

import { describe, expect, it } from 'vitest';
import { CollectSink, NexmarkSource, StreamEnvironment, WatermarkStrategy, type Bid, type EngineName } from '../../ts/index.js';
import { selectEngine } from '../../ts/engine/select.js';
import { DEFAULT_NEXMARK_CONFIG, type NexmarkKind } from '../../ts/engine/nexmark-config.js';
import { MAX_BASE_TIME_MS, MAX_EVENT_COUNT } from '../../ts/engine/ts/nexmark.js';
import { onBothEngines } from '../engines.js';
import { expectPushedAsNot, watermarksSeen } from '../watermarks-seen.js';

/** Bids through `keep`, each kept one with the watermark its keyed process function saw; the plan and the result. */
async function kept(engine: EngineName, keep: (b: Bid) => boolean): ReturnType<typeof watermarksSeen> {
  // Small batches: most of them hold no row the filter keeps.
  const env = StreamEnvironment.create({ engine, batchSize: 500 });
  return watermarksSeen(env, env.fromSource(NexmarkSource.bids({ events: 200_000 }), WatermarkStrategy.forBoundedOutOfOrderness<Bid>(1000)).filter(keep));
}

describe('DataStream: a compiled filter() pushed into the Nexmark source', () => {
  it('keeps what the function called per record keeps, each record seeing the same watermark', async () => {
    await onBothEngines(async (engine) => {
      const pushed = await kept(engine, (b) => b.auction % 211 === 3 && b.price > 1000);
      // A block body does not compile: the function is called per record, nothing is pushed.
      const called = await kept(engine, (b) => {
        return b.auction % 211 === 3 && b.price > 1000;
      });
      // (The text is the function's source, which the test's transform may respell: 1000 as 1e3.)
      expect(pushed.plan).toContain('[filters b.auction % 211 === 3 && b.price > ');
      expectPushedAsNot(pushed, called, 'Source: nexmark bids');
      return pushed.seen;
    });
  });

  it('is not pushed where it could fail, nor into a source another operator reads too', () => {
    const plan = (build: (env: StreamEnvironment) => void): string => {
      const env = StreamEnvironment.create({ engine: 'ts' });
      build(env);
      return env.explain();
    };
    // Integer multiplication can overflow: its error belongs to the filter, naming the record.
    expect(plan((env) => env.fromSource(NexmarkSource.bids({ events: 1000 })).filter((b) => b.price * 3 > 10).sinkTo(new CollectSink()))).not.toContain('[filters');
    const twice = plan((env) => {
      const bids = env.fromSource(NexmarkSource.bids({ events: 1000 }));
      bids.filter((b) => b.auction % 2 === 0).sinkTo(new CollectSink());
      bids.sinkTo(new CollectSink());
    });
    expect(twice).not.toContain('[filters');
  });

  it('the source may take it: at the bounds of its configuration every value is exact in JavaScript', async () => {
    // The last 50 events of the longest timeline (2^43 events, one a second, from the latest base
    // time): split 2^42 - k of 2^42 holds events 2^42 - k and 2^43 - k, so every kind is there.
    // (Both engines validate the configuration against the same bounds.)
    const splits = MAX_EVENT_COUNT / 2;
    const bounds = await onBothEngines(async (engine) => {
      let largest = 0n;
      for (const kind of ['person', 'auction', 'bid'] as NexmarkKind[]) {
        for (let k = 1; k <= 50; k++) {
          const config = { ...DEFAULT_NEXMARK_CONFIG, eventCount: MAX_EVENT_COUNT, ratePerSec: 1, baseTimeMs: MAX_BASE_TIME_MS, splitIndex: splits - k, splitCount: splits };
          const g = selectEngine(engine).createNexmarkGenerator(config, kind);
          for (let b = g.nextBatch(100); b !== null; b = g.nextBatch(100)) {
            for (const c of b.columns) {
              expect(c.validity).toBeNull();
              if (c.type !== 'i64' && c.type !== 'timestamp') continue;
              for (const v of c.values as BigInt64Array) {
                expect(v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER)).toBe(true);
                if (v > largest) largest = v;
              }
            }
          }
        }
      }
      return largest;
    });
    // The check reached the edge: the latest times are within 2^50 of 2^53.
    expect(bounds.native).toBeGreaterThan(2n ** 53n - 2n ** 50n);
  });
});
