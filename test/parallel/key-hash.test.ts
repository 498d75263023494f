import { describe, expect, it } from 'vitest';
import { selectEngine } from '../../ts/index.js';
import { batchFromRecords } from '../../ts/batch/builder.js';
import { Schema } from '../../ts/batch/schema.js';
import { encodeKey, keyViews, KeyScratch } from '../../ts/keys/key-bytes.js';
import { keyGroupOf, keyGroups as batchKeyGroups } from '../../ts/keys/key-groups.js';
import { requireNative } from '../engines.js';

const enc = (s: string) => new TextEncoder().encode(s);

/** Key group of row i: murmur3(canonical key bytes, seed 0) % maxParallelism (Flink's rule on stable bytes). */
function keyGroups(records: object[], spec: Record<string, 'i64' | 'utf8' | 'f64' | 'i32?'>, engine: 'native' | 'ts', maxParallelism = 128): number[] {
  const b = batchFromRecords(records, Schema.from(spec));
  const sc = new KeyScratch();
  const views = keyViews(b.columns);
  return records.map((_, i) => {
    sc.len = 0;
    encodeKey(b.columns, views, i, sc);
    return selectEngine(engine).murmur3(sc.buf.slice(0, sc.len), 0) % maxParallelism;
  });
}

describe('stable hashing', () => {
  it('murmur3 x86_32 matches the published vectors on both engines', () => {
    requireNative();
    for (const engine of ['native', 'ts'] as const) {
      const h = selectEngine(engine).murmur3.bind(selectEngine(engine));
      expect(h(new Uint8Array(0), 0)).toBe(0);
      expect(h(new Uint8Array(0), 1)).toBe(0x514e28b7);
      expect(h(new Uint8Array([0, 0, 0, 0]), 0)).toBe(0x2362f9de);
      expect(h(enc('abc'), 0)).toBe(0xb3dd93fa);
      expect(h(enc('Hello, world!'), 0x9747b28c)).toBe(0x24884cba);
      expect(h(enc('The quick brown fox jumps over the lazy dog'), 0x9747b28c)).toBe(0x2fa826cd);
    }
  });

  it('pins the key groups of known keys, identically on both engines', () => {
    requireNative();
    const cases: [object[], Record<string, 'i64' | 'utf8' | 'f64' | 'i32?'>, number[]][] = [
      [[{ k: 0 }, { k: 1 }, { k: 42 }, { k: 1000 }, { k: -1 }, { k: 2n ** 62n }], { k: 'i64' }, [105, 72, 86, 18, 71, 38]],
      [[{ k: '' }, { k: 'auction' }, { k: 'Ünïcode' }], { k: 'utf8' }, [19, 68, 74]],
      [[{ k: 0 }, { k: -0 }, { k: NaN }], { k: 'f64' }, [105, 105, 40]], // -0 is 0; NaN is one key,
      [[{ a: 'x', b: 1 }, { a: 'x', b: null }], { a: 'utf8', b: 'i32?' } as never, [90, 95]],
    ];
    for (const [records, spec, want] of cases) {
      expect(keyGroups(records, spec, 'ts')).toEqual(want);
      expect(keyGroups(records, spec, 'native')).toEqual(want);
    }
  });

  it('gives the remainder of every unsigned hash for every max parallelism, in the batch path too', () => {
    requireNative();
    const hashes = [0, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 31 + 1, 2 ** 32 - 2, 2 ** 32 - 1];
    for (let i = 0; i < 2000; i++) hashes.push((Math.imul(i, 0x9e3779b1) ^ (i << 7)) >>> 0);
    for (const m of [1, 2, 3, 7, 100, 127, 128, 1000, 4096, 32767, 32768]) {
      for (const h of hashes) expect(keyGroupOf(h, m)).toBe(Number(BigInt(h) % BigInt(m)));
      // i64 keys through the column path, against the hash of each key's canonical bytes.
      const records = Array.from({ length: 300 }, (_, i) => ({ k: BigInt(i) * 0x9e3779b97f4an - 2n ** 40n }));
      const b = batchFromRecords(records, Schema.from({ k: 'i64' }));
      const want = records.map((_, i) => {
        const sc = new KeyScratch();
        encodeKey(b.columns, keyViews(b.columns), i, sc);
        return Number(BigInt(selectEngine('native').murmur3(sc.buf.slice(0, sc.len), 0)) % BigInt(m));
      });
      expect([...batchKeyGroups(b, [0], m)]).toEqual(want);
    }
  });
});
