import { describe, expect, it } from 'vitest';
import { batchFromRecords } from '../ts/batch/builder.js';
import type { RecordBatch } from '../ts/batch/record-batch.js';
import { Schema } from '../ts/batch/schema.js';
import { selectEngine } from '../ts/engine/select.js';
import { encodeBatch } from '../ts/engine/ts/codec.js';
import { hashPartition } from '../ts/engine/ts/partition.js';
import { keyGroups } from '../ts/keys/key-groups.js';
import { requireNative, rng } from './engines.js';

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
