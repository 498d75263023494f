/**
 * Checkpoints of built-in count windows: a fresh aggregator that replays what CountRetention
 * keeps continues exactly as the aggregator that saw everything (both engines).
 */
import { describe, expect, it } from 'vitest';
import { RecordBatch } from '../../ts/batch/record-batch.js';
import { Schema } from '../../ts/batch/schema.js';
import { selectEngine } from '../../ts/engine/select.js';
import type { WindowAggregator } from '../../ts/engine/engine.js';
import { CountRetention, replayedRecords } from '../../ts/runtime/replay/count-retention.js';
import { ENGINES, requireNative, rng } from '../engines.js';

const schema = new Schema([
  { name: 'k', type: 'i64', nullable: false },
  { name: 'name', type: 'utf8', nullable: false },
  { name: 'v', type: 'i64', nullable: true },
  { name: 'f', type: 'f64', nullable: true },
]);

function batch(r: () => number, n: number, keys: number): RecordBatch {
  const k = new BigInt64Array(n);
  const v = new BigInt64Array(n);
  const names: string[] = [];
  const validity = new Uint8Array(Math.ceil(n / 8));
  const f = new Float64Array(n);
  const fValid = new Uint8Array(Math.ceil(n / 8));
  for (let i = 0; i < n; i++) {
    const key = Math.floor(r() * keys);
    // Half the keys beyond 2^53 (told apart only in all 64 bits): 2^60 + key.
    k[i] = BigInt(key) + (key % 2 === 0 ? 1n << 60n : 0n);
    // Keys that JSON or a type-tagged string would merge: null, NaN, the text 'object:null'.
    names.push(key % 7 === 0 ? 'object:null' : key % 7 === 1 ? 'null' : `n${key % 5}`);
    const fk = key % 4;
    if (fk !== 0) {
      f[i] = fk === 1 ? NaN : fk === 2 ? Infinity : -0;
      fValid[i >> 3]! |= 1 << (i & 7);
    }
    if (r() < 0.9) {
      v[i] = BigInt(Math.floor(r() * 1000));
      validity[i >> 3]! |= 1 << (i & 7);
    }
  }
  const enc = new TextEncoder();
  const bytes = names.map((s) => enc.encode(s));
  const offsets = new Int32Array(n + 1);
  bytes.forEach((b, i) => (offsets[i + 1] = offsets[i]! + b.length));
  const data = new Uint8Array(offsets[n]!);
  bytes.forEach((b, i) => data.set(b, offsets[i]!));
  return new RecordBatch(
    schema,
    [
      { type: 'i64', values: k, validity: null },
      { type: 'utf8', offsets, data, validity: null },
      { type: 'i64', values: v, validity },
      { type: 'f64', values: f, validity: fValid },
    ],
    n,
    null,
  );
}

/** The rows a push fires, as arrays of exact values (i64 as bigint, null where invalid). */
function rows(a: WindowAggregator, b: RecordBatch): unknown[][] {
  a.push(b);
  const out = a.takePushedOutput();
  if (out === null) return [];
  const dec = new TextDecoder();
  return Array.from({ length: out.length }, (_, i) =>
    out.columns.map((c) => {
      if (c.validity !== null && (c.validity[i >> 3]! & (1 << (i & 7))) === 0) return null;
      if (c.type === 'utf8') return dec.decode(c.data.subarray(c.offsets[i]!, c.offsets[i + 1]!));
      if (c.type === 'bool') return (c.values[i >> 3]! >> (i & 7)) & 1;
      return c.values[i];
    }),
  );
}

describe('count window checkpoints by replay', () => {
  it('replays c records while c < size + slide, then size to size + slide - 1 in step with the slide', () => {
    expect([0, 3, 14].map((c) => replayedRecords(c, 10, 5))).toEqual([0, 3, 14]);
    expect([15, 16, 19, 20, 21, 1002].map((c) => replayedRecords(c, 10, 5))).toEqual([10, 11, 14, 10, 11, 12]);
    expect([3, 12, 17].map((c) => replayedRecords(c, 5, 10))).toEqual([3, 12, 7]);
  });

  for (const engine of ENGINES) {
    for (const [size, slide, keyFields] of [
      [10, 5, [0]],
      [6, 4, [1, 0]],
      [5, 10, [1]],
      [7, 7, []],
      [3, 1, [3, 1]],
    ] as const) {
      it(`${engine}: countWindow(${size}, ${slide}) keyed by [${keyFields.join(', ')}] continues after a restore as if never stopped`, () => {
        if (engine === 'native') requireNative();
        const eng = selectEngine(engine);
        const spec = {
          input: schema,
          keyFields,
          window: { kind: 'count', size, slide } as const,
          aggregates: [
            { name: 'n', kind: 'count', field: null },
            { name: 's', kind: 'sum', field: 2 },
            { name: 'fst', kind: 'first', field: 2 },
            { name: 'l', kind: 'last', field: 2 },
            { name: 'd', kind: 'countDistinct', field: 2 },
          ] as const,
        };
        const r = rng(size * 100 + slide);
        const before = Array.from({ length: 30 }, () => batch(r, 1 + Math.floor(r() * 200), 40));
        const after = Array.from({ length: 10 }, () => batch(r, 1 + Math.floor(r() * 200), 50));
        const whole = eng.createWindowAggregator(spec);
        const keep = new CountRetention(keyFields, size, slide);
        for (const b of before) {
          rows(whole, b);
          keep.add(b);
        }
        const kept = keep.keep();
        expect(kept.reduce((n, b) => n + b.length, 0)).toBeLessThanOrEqual(41 * (size + slide));
        const restored = eng.createWindowAggregator(spec);
        for (const b of kept) rows(restored, eng.decodeBatch(eng.encodeBatch(b)));
        const want = after.flatMap((b) => rows(whole, b));
        expect(want.length).toBeGreaterThan(20);
        expect(after.flatMap((b) => rows(restored, b))).toEqual(want);
        expect(restored.unfiredRows).toBe(whole.unfiredRows);
      });
    }
  }
});
