/**
 * Map and filter functions that are single expressions over the record's fields run as calc
 * kernels (ts/plan/record-functions.ts): the same output and the same errors as the function
 * called per record, on both engines, and the source reads only the fields they name.
 */

import { describe, expect, it } from 'vitest';
import { CollectSink, NexmarkSource, StreamEnvironment, type EngineName } from '../../ts/index.js';
import { Schema, type SchemaSpec } from '../../ts/batch/schema.js';
import { compileFilterFunction, compileMapFunction } from '../../ts/plan/record-functions.js';
import type { UserFn } from '../../ts/plan/graph.js';
import { onBothEngines, rng } from '../engines.js';

const IN = { id: 'i64', a: 'i64', x: 'f64', s: 'utf8', ok: 'bool', n: 'i32', t: 'timestamp' } as const;
const IN_NULLS = { ...IN, maybe: 'i64?' } as const;
type In = { id: number; a: number | bigint; x: number; s: string; ok: boolean; n: number; t: number; maybe?: number | null };

/** Negative and positive integers up to ±(2^53 - 1), -0, NaN, infinities, non-ASCII text. */
function rows(count: number, seed: number, extra: (i: number) => Partial<In> = () => ({})): In[] {
  const r = rng(seed);
  const xs = [-0, 0, NaN, Infinity, -Infinity, 1e308, 5e-324];
  const words = ['', 'a', 'Zoë', '日本語', '🙂', 'x'.repeat(300)];
  return Array.from({ length: count }, (_, i) => ({
    id: i,
    a: i % 97 === 0 ? (r() < 0.5 ? -1 : 1) * Number.MAX_SAFE_INTEGER : Math.floor((r() - 0.5) * 2e6),
    x: i % 13 === 0 ? xs[i % xs.length]! : (r() - 0.5) * 1e4,
    s: words[i % words.length]! + i,
    ok: r() < 0.5,
    n: Math.floor((r() - 0.5) * 2000),
    t: 1_700_000_000_000 + i * 37,
    ...extra(i),
  }));
}

/** The same function, but opaque to the compiler (it calls a closure): run per record. */
function opaque<T>(fn: (r: T) => unknown): (r: T) => unknown {
  return (r) => fn(r);
}

async function collect(engine: EngineName, input: In[], spec: SchemaSpec, build: (s: ReturnType<StreamEnvironment['fromRecords']>) => { sinkTo(s: CollectSink<object>): void }): Promise<object[]> {
  const env = StreamEnvironment.create({ engine, batchSize: 100 });
  const sink = new CollectSink<object>();
  build(env.fromRecords(input as never[], spec)).sinkTo(sink);
  await env.execute('compiled functions');
  return sink.records;
}

const MAPS: { name: string; fn: (r: In) => unknown; out: SchemaSpec }[] = [
  { name: 'a projection (Nexmark q0)', fn: (r) => ({ id: r.id, s: r.s, t: r.t, ok: r.ok }), out: { id: 'i64', s: 'utf8', t: 'timestamp', ok: 'bool' } },
  { name: 'arithmetic in doubles (Nexmark q1)', fn: (r) => ({ id: r.id, y: 0.908 * (r.a as number), z: r.x / 3 - r.n * 2, w: -r.x, v: (r.a as number) + r.t }), out: { id: 'i64', y: 'f64', z: 'f64', w: 'f64', v: 'f64' } },
  { name: 'literals and numbers into f64', fn: (r) => ({ id: r.id, c: 7, f: r.n, g: r.a, tag: 'k', yes: true, h: -2.5 }), out: { id: 'i64', c: 'i64', f: 'f64', g: 'f64', tag: 'utf8', yes: 'bool', h: 'f64' } },
];

const FILTERS: { name: string; fn: (r: In) => boolean }[] = [
  { name: 'integer % literal === literal (Nexmark q2)', fn: (r) => (r.a as number) % 123 === 0 },
  { name: 'negative remainders, != and ==', fn: (r) => (r.a as number) % 7 != -3 && r.n % 5 == -0 },
  { name: 'comparisons, ||, ! and a boolean field', fn: (r) => (r.id < 100 || r.n >= 500 || !r.ok) && r.ok },
  { name: 'a timestamp compared as an integer', fn: (r) => r.t % 2 === 1 },
];

describe('record functions compiled into calc kernels', () => {
  for (const m of MAPS) {
    it(`map: ${m.name} gives what the function called per record gives, on both engines`, async () => {
      expect(compileMapFunction(m.fn as UserFn, Schema.from(IN), Schema.from(m.out), 'Map')).not.toBeNull();
      const input = rows(1000, 11);
      const compiled = await onBothEngines((engine) => collect(engine, input, IN, (s) => s.map(m.fn as never, m.out)));
      const called = await onBothEngines((engine) => collect(engine, input, IN, (s) => s.map(opaque(m.fn) as never, m.out)));
      expect(compiled.native).toEqual(called.native);
      expect(compiled.native.length).toBe(1000);
    });
  }

  for (const f of FILTERS) {
    it(`filter: ${f.name} keeps what the function called per record keeps, on both engines`, async () => {
      expect(compileFilterFunction(f.fn as UserFn, Schema.from(IN))).not.toBeNull();
      const input = rows(1000, 12);
      const compiled = await onBothEngines((engine) => collect(engine, input, IN, (s) => s.filter(f.fn as never)));
      const called = await onBothEngines((engine) => collect(engine, input, IN, (s) => s.filter(opaque(f.fn) as never)));
      expect(compiled.native).toEqual(called.native);
      expect(compiled.native.length).toBeGreaterThan(0);
      expect(compiled.native.length).toBeLessThan(1000);
    });
  }

  it('a batch with a null in a field read, or an i64 beyond 2^53, gives JavaScript per-record result or error', async () => {
    const withNulls = rows(500, 13, (i) => ({ maybe: i % 3 === 0 ? null : i - 250 }));
    const keep = (r: In): boolean => (r.maybe as number) % 2 === 0;
    expect(compileFilterFunction(keep as UserFn, Schema.from(IN_NULLS))).not.toBeNull();
    const compiled = await onBothEngines((engine) => collect(engine, withNulls, IN_NULLS, (s) => s.filter(keep as never)));
    const called = await onBothEngines((engine) => collect(engine, withNulls, IN_NULLS, (s) => s.filter(opaque(keep) as never)));
    expect(compiled.native).toEqual(called.native);
    // JavaScript: null % 2 === 0, so rows with a null are kept.
    expect(compiled.native.filter((r) => (r as In).maybe === null).length).toBe(167);

    const big = rows(500, 14, (i) => (i === 321 ? { a: 2n ** 60n } : {}));
    const message = async (fn: (r: In) => unknown): Promise<Record<EngineName, string>> =>
      onBothEngines(async (engine) => {
        try {
          await collect(engine, big, IN, (s) => s.map(fn as never, { id: 'i64', y: 'f64' }));
        } catch (e) {
          return (e as Error).message;
        }
        return 'no error';
      });
    const project = (r: In) => ({ id: r.id, y: (r.a as number) * 2 });
    const fromCalc = await message(project);
    expect(fromCalc.native).toEqual((await message(opaque(project))).native);
    expect(fromCalc.native).toMatch(/field 'a'.*1152921504606846976/);
  });

  it('does not compile what the calc would not compute exactly as JavaScript does', () => {
    const input = Schema.from(IN);
    const factor = 2;
    const notMaps: [(r: In) => unknown, SchemaSpec][] = [
      [(r) => ({ id: r.id, y: r.x * factor }), { id: 'i64', y: 'f64' }], // a closure variable
      [(r) => ({ id: r.id, y: Math.floor(r.x) }), { id: 'i64', y: 'f64' }], // a call
      [(r) => ({ id: r.id, s: r.s + '!' }), { id: 'i64', s: 'utf8' }], // string concatenation
      [(r) => ({ id: (r.a as number) + 1 }), { id: 'i64' }], // arithmetic into an integer
      [(r) => ({ id: r.id, m: (r.a as number) % 10 }), { id: 'i64', m: 'f64' }], // a remainder as a value (-0)
      [(r) => ({ ...r }), IN], // a spread
      [(r) => ({ id: r.id }), { id: 'i64', s: 'utf8' }], // a missing field
      [(r) => ({ id: r.id, other: r.n }), { id: 'i64' }], // a field the output lacks
      [(r) => ({ id: r.id, s: r.n }), { id: 'i64', s: 'utf8' }], // a number into text
      [(r) => ({ id: r['id'] }), { id: 'i64' }], // a computed member
      [(r) => ({ id: (r as { nope?: number }).nope }), { id: 'i64' }], // a field the input lacks
      [(r) => { return { id: r.id }; }, { id: 'i64' }], // a block body
      [function (r: In) { return { id: r.id }; }, { id: 'i64' }], // not an arrow function
      [({ id }: In) => ({ id }), { id: 'i64' }], // destructuring
      [(r) => ({ id: r.id, y: -0 }), { id: 'i64', y: 'f64' }], // -0 (JSON, which carries the spec to Rust, writes 0)
      [(r) => ({ id: r.id, s: '\ud800' }), { id: 'i64', s: 'utf8' }], // no UTF-8 for a lone surrogate
    ];
    for (const [fn, out] of notMaps) expect(compileMapFunction(fn as UserFn, input, Schema.from(out), 'Map'), String(fn)).toBeNull();
    const d = 0;
    const notFilters: ((r: In) => unknown)[] = [
      (r) => (r.a as number) % 0 === 0, // NaN in JavaScript
      (r) => (r.a as number) % d === 0,
      (r) => (r.a as number) % r.n === 0,
      (r) => r.x < 1, // doubles: NaN compares differently in SQL
      (r) => r.s === 'a',
      (r) => r.n, // a number, not a boolean: never kept
      (r) => r.ok && r.n, // && gives the number
      (r) => (r.a as number) % 2.5 === 0,
      (r) => r.id < 0.5,
    ];
    for (const fn of notFilters) expect(compileFilterFunction(fn as UserFn, input), String(fn)).toBeNull();
  });

  it('the source reads only the fields a compiled filter and map name, and explain says so', () => {
    const env = StreamEnvironment.create({ engine: 'native', parallelism: 1 });
    env
      .fromSource(NexmarkSource.bids({ events: 1000 }))
      .filter((b) => b.auction % 123 === 0)
      .map((b) => ({ auction: b.auction, price: b.price }), { auction: 'i64', price: 'i64' })
      .sinkTo(new CollectSink());
    const plan = env.explain('text');
    expect(plan).toContain('[reads auction, price]');
    expect(plan).toMatch(/Filter \(p=1\) \[compiled to a calc\]/);
    expect(plan).toMatch(/Map \(p=1\) \[compiled to a calc\]/);
  });
});
