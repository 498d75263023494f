/**
 * The partitioners of DataStream at parallelism 2, on both engines: where each sends which
 * records (observed through the worker thread a record was mapped on), that no record is lost
 * or duplicated (broadcast: one copy per subtask), and the build-time errors.
 */

import { describe, expect, it } from 'vitest';
import { batchFromRecords } from '../../ts/batch/builder.js';
import type { RecordBatch } from '../../ts/batch/record-batch.js';
import { Schema } from '../../ts/batch/schema.js';
import { selectEngine } from '../../ts/engine/select.js';
import { encodeBatch } from '../../ts/engine/ts/codec.js';
import { hashPartition } from '../../ts/engine/ts/partition.js';
import { keyGroups } from '../../ts/keys/key-groups.js';
import { requireNative, rng } from '../engines.js';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agg, CollectSink, NexmarkSource, runJob, StreamEnvironment, TumblingEventTimeWindows } from '../../ts/index.js';
import { edgeTargets } from '../../ts/plan/physical.js';

describe('hash partitioning', () => {
  function nativePartition(b: RecordBatch, keys: number[], p: number, maxP: number): RecordBatch[] {
    requireNative();
    return selectEngine('native').hashPartition(b, keys, p, maxP);
  }

  const wire = (bs: RecordBatch[]) => bs.map((b) => Buffer.from(encodeBatch(b)).toString('base64'));

  describe('hash partitioning by key groups', () => {
    const r = rng(7);
    const schema = Schema.from({ id: 'i64', name: 'utf8?', score: 'f64', ok: 'bool', at: 'timestamp' });
    const records = Array.from({ length: 5000 }, (_, i) => ({
      id: Math.floor(r() * 300) - 100,
      name: r() < 0.1 ? null : `n${Math.floor(r() * 50)}`,
      score: Math.floor(r() * 20) / 4,
      ok: r() < 0.5,
      at: i,
    }));
    const batch = batchFromRecords(records, schema).withEventTime(BigInt64Array.from(records.map((x) => BigInt(x.at))));

    it('splits identically on both engines, for every key shape', () => {
      for (const keys of [[0], [1], [2], [3], [1, 0], [4]]) {
        for (const [p, maxP] of [[1, 128], [2, 128], [4, 128], [3, 7], [128, 128]] as const) {
          const ts = hashPartition(batch, keys, p, maxP);
          expect(ts).toHaveLength(p);
          expect(wire(ts)).toEqual(wire(nativePartition(batch, keys, p, maxP)));
        }
      }
    });

    it('sends every key to exactly one subtask, keeps row order, loses nothing', () => {
      const parts = hashPartition(batch, [1], 4, 128);
      const owner = new Map<unknown, number>();
      let rows = 0;
      parts.forEach((part, t) => {
        const recs = part.toRecords();
        rows += recs.length;
        const ats = recs.map((x) => x.at as number);
        expect([...ats].sort((a, b) => a - b)).toEqual(ats);
        expect(Array.from(part.eventTime!, Number)).toEqual(ats);
        for (const x of recs) {
          expect(owner.get(x.name) ?? t).toBe(t);
          owner.set(x.name, t);
        }
      });
      expect(rows).toBe(records.length);
    });

    it('subtask i owns the contiguous key-group range [i*max/p, (i+1)*max/p)', () => {
      const groups = keyGroups(batch, [0], 128);
      const parts = hashPartition(batch, [0], 4, 128);
      parts.forEach((part, t) => {
        for (const g of keyGroups(part, [0], 128)) expect(Math.floor((g * 4) / 128)).toBe(t);
      });
      expect(Math.max(...groups)).toBeLessThan(128);
    });

    it('rejects a parallelism outside 1..maxParallelism', () => {
      expect(() => hashPartition(batch, [0], 0, 128)).toThrow('parallelism must be between 1 and maxParallelism (128), got 0');
      expect(() => hashPartition(batch, [0], 129, 128)).toThrow(/got 129/);
      expect(() => nativePartition(batch, [0], 129, 128)).toThrow(/between 1 and maxParallelism \(128\)/);
    });
  });
});

describe('partitioners', () => {
  type Tagged = { auction: number; bidder: number; price: number; thread: number };

  async function run(how: string, engine: 'native' | 'ts', extra: string[] = []): Promise<Tagged[]> {
    const out = join(tmpdir(), `sluice-part-${process.pid}-${how}-${engine}.jsonl`);
    rmSync(out, { force: true });
    // The fixture tells subtasks apart by thread: one thread each, even on a machine with one core.
    process.env.SLUICE_TASK_THREADS = '2';
    try {
      await runJob(new URL('../fixtures/jobs/partitioners.ts', import.meta.url), { engine, parallelism: 2, args: [how, out, ...extra] });
    } finally {
      delete process.env.SLUICE_TASK_THREADS;
    }
    const rows = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Tagged);
    rmSync(out, { force: true });
    return rows;
  }

  const key = (r: Tagged): string => `${r.auction}/${r.bidder}/${r.price}`;
  const byThread = (rows: Tagged[]): Map<number, Tagged[]> => {
    const m = new Map<number, Tagged[]>();
    for (const r of rows) m.set(r.thread, [...(m.get(r.thread) ?? []), r]);
    return m;
  };

  describe('partitioners', () => {
    // Every bid once, as global() delivers them: what the other partitioners must deliver too.
    let input: string[] = [];
    const baseline = async (): Promise<void> => {
      if (input.length === 0) input = (await run('global', 'ts')).map(key).sort();
    };
    const expectAllOnce = (rows: Tagged[]): void => expect(rows.map(key).sort()).toEqual(input);

    for (const engine of ['native', 'ts'] as const) {
      describe(`${engine} engine`, () => {
        it('rebalance, shuffle and rescale spread the records over both subtasks, each record once', async () => {
          requireNative();
          await baseline();
          for (const how of ['rebalance', 'shuffle', 'rescale']) {
            const rows = await run(how, engine);
            expectAllOnce(rows);
            const parts = [...byThread(rows).values()].map((r) => r.length);
            expect(parts.length, how).toBe(2);
            // Shuffle is random per record: both halves are near 50%; by batch, rebalance too.
            for (const n of parts) expect(n / rows.length, how).toBeGreaterThan(how === 'shuffle' ? 0.45 : 0.2);
          }
        });

        it('global sends every record to one subtask; broadcast sends every record to every subtask', async () => {
          requireNative();
          await baseline();
          const g = await run('global', engine);
          expectAllOnce(g);
          expect(byThread(g).size).toBe(1);
          const b = await run('broadcast', engine);
          const threads = byThread(b);
          expect(threads.size).toBe(2);
          for (const rows of threads.values()) expectAllOnce(rows);
        });

        it('partitionCustom sends each record where the function says', async () => {
          requireNative();
          await baseline();
          const rows = await run('custom', engine);
          expectAllOnce(rows);
          const threads = [...byThread(rows).values()];
          expect(threads.length).toBe(2);
          // auction % 2: one subtask has the even auctions, the other the odd ones.
          for (const t of threads) expect(new Set(t.map((r) => r.auction % 2)).size).toBe(1);
        });

        it('partitionByRange splits at the given boundary, or at the median of a sample', async () => {
          requireNative();
          await baseline();
          for (const extra of [['5000000'], []]) {
            const rows = await run('range', engine, extra);
            expectAllOnce(rows);
            const threads = [...byThread(rows).values()].sort((a, b) => a[0]!.price - b[0]!.price);
            expect(threads.length).toBe(2);
            const [low, high] = threads as [Tagged[], Tagged[]];
            const top = Math.max(...low.map((r) => r.price));
            const bottom = Math.min(...high.map((r) => r.price));
            expect(top).toBeLessThan(bottom);
            if (extra.length > 0) expect(top < 5_000_000 && bottom >= 5_000_000).toBe(true);
            // Sampled: the boundary is the sample's median, so the halves are close to even.
            else expect(Math.abs(low.length - high.length) / rows.length).toBeLessThan(0.1);
          }
        });
      });
    }

    it('a join keyed by selector functions gives the same rows at parallelism 1 and 2, on both engines', async () => {
      requireNative();
      const rows = async (engine: 'native' | 'ts', parallelism: number): Promise<string[]> => {
        const out = join(tmpdir(), `sluice-fnjoin-${process.pid}-${engine}-${parallelism}.jsonl`);
        rmSync(out, { force: true });
        await runJob(new URL('../fixtures/jobs/fn-join.ts', import.meta.url), { engine, parallelism, args: [out] });
        const lines = readFileSync(out, 'utf8').trim().split('\n').sort();
        rmSync(out, { force: true });
        return lines;
      };
      const base = await rows('native', 1);
      expect(base.length).toBeGreaterThan(100);
      expect(await rows('native', 2)).toEqual(base);
      expect(await rows('ts', 2)).toEqual(base);
      const env = StreamEnvironment.create({ engine: 'ts', parallelism: 2, job: { url: 'x', args: [] } });
      const mod = (await import('../fixtures/jobs/fn-join.js')) as { default: (env: StreamEnvironment, args: string[]) => void };
      mod.default(env, ['/dev/null']);
      expect(env.explain()).toMatch(/--HASH\(key selector\) \(input 1 of 2\)--> #\d+ WindowJoin.* \(p=2\)/);
    });

    it('rescale feeds local groups of subtasks', () => {
      expect([0, 1].map((a) => edgeTargets('rescale', a, 2, 4))).toEqual([[0, 1], [2, 3]]);
      expect([0, 1, 2, 3].map((a) => edgeTargets('rescale', a, 4, 2))).toEqual([[0], [0], [1], [1]]);
      expect([0, 1].map((a) => edgeTargets('rescale', a, 2, 3))).toEqual([[0], [1, 2]]);
    });

    it('explain names every partitioner', () => {
      const env = StreamEnvironment.create({ engine: 'ts', parallelism: 2 });
      const bids = env.fromSource(NexmarkSource.bids({ events: 10 }));
      bids.rebalance().map((b) => b).shuffle().map((b) => b).broadcast().map((b) => b).rescale().map((b) => b).forward().map((b) => b).sinkTo(new CollectSink());
      bids.partitionCustom((a: number, n) => a % n, 'auction').map((b) => b).partitionByRange('price', { boundaries: [100] }).map((b) => b).sinkTo(new CollectSink());
      const text = env.explain();
      for (const l of ['--REBALANCE--> #2 Map (p=2) [new task]', '--SHUFFLE-->', '--BROADCAST-->', '--RESCALE-->', '--CUSTOM(auction)-->', '--RANGE(price, boundaries 100)-->']) expect(text).toContain(l);
    });

    it('bad partitioner configurations fail while the job is built', () => {
      const env = StreamEnvironment.create({ engine: 'ts', parallelism: 2 });
      const bids = env.fromSource(NexmarkSource.bids({ events: 10 }));
      expect(() => bids.broadcast().keyBy('auction')).toThrow(/keyBy\(\) after broadcast\(\): a keyed operator needs each key on one subtask/);
      expect(() => bids.rebalance().windowAll(TumblingEventTimeWindows.of(10))).toThrow(/windowAll\(\) partitions the stream itself, so the rebalance\(\) before it has no effect/);
      expect(() => bids.rebalance().shuffle()).toThrow(/shuffle\(\) follows rebalance\(\)/);
      expect(() => bids.partitionByRange('price', { boundaries: [5, 3] })).toThrow(/strictly ascending/);
      expect(() => bids.partitionByRange('price', { boundaries: ['a'] })).toThrow(/boundary 0 is string, but field 'price' is i64/);
      expect(() => bids.partitionByRange('nope' as 'price')).toThrow(/no field 'nope'/);
      expect(() => bids.broadcast().join(bids).where('auction')).toThrow(/join\(\) after broadcast\(\)/);

      const env2 = StreamEnvironment.create({ engine: 'ts', parallelism: 2 });
      env2.fromSource(NexmarkSource.bids({ events: 10 })).map((b) => b).setParallelism(1).forward().map((b) => b).sinkTo(new CollectSink());
      expect(() => env2.explain()).toThrow(/forward\(\) keeps records on the same subtask, so it needs equal parallelism on both sides, but Map has 1 and Map has 2/);

      const env3 = StreamEnvironment.create({ engine: 'ts', parallelism: 2 });
      env3.fromSource(NexmarkSource.bids({ events: 10 })).partitionByRange('price', { boundaries: [1, 2] }).sinkTo(new CollectSink());
      expect(() => env3.explain()).toThrow(/partitionByRange\(price\) has 2 boundaries for 1 subtask/);

      const env5 = StreamEnvironment.create({ engine: 'ts', parallelism: 2 });
      env5.fromSource(NexmarkSource.bids({ events: 10 })).partitionByRange('price').map((b) => b).sinkTo(new CollectSink());
      expect(() => env5.explain()).toThrow(/samples its boundaries in the sending subtask, but Source: nexmark bids has 2 subtasks .* give the boundaries, or setParallelism\(1\)/);

      const env4 = StreamEnvironment.create({ engine: 'ts', parallelism: 2 });
      env4.fromSource(NexmarkSource.bids({ events: 10 })).keyBy('auction').window(TumblingEventTimeWindows.of(10)).aggregate({ n: agg.count() }).sinkTo(new CollectSink());
      expect(env4.explain()).toContain('HASH(auction)');
    });
  });
});
