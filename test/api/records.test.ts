/**
 * Records as user functions see them: fresh plain objects by default, reused row views with
 * object reuse; values that pass through a function unchanged are taken from the input as they
 * are; a map without a schema keeps the input's and rejects records that do not fit it.
 */

import { describe, expect, it } from 'vitest';
import { CollectSink, copyRecord, JobFailedError, StreamEnvironment, type EngineName } from '../../ts/index.js';
import { batchFromRecords } from '../../ts/batch/builder.js';
import { RowReader } from '../../ts/batch/row-reader.js';
import { BatchBuilder } from '../../ts/batch/builder.js';
import { Schema } from '../../ts/batch/schema.js';
import { onBothEngines, rng } from '../engines.js';

const ITEMS = { id: 'i64', name: 'utf8', note: 'utf8?', price: 'f64', big: 'i64', ok: 'bool', n: 'i32' } as const;

/** Rows with ASCII and non-ASCII text, long and short strings, nulls, -0, and i64 beyond 2^53. */
function items(count: number, seed = 7): { id: number; name: string; note: string | null; price: number; big: number; ok: boolean; n: number }[] {
  const r = rng(seed);
  const words = ['a', 'ann', 'Zoë', 'naïve café', '日本語のテキスト', '🙂 emoji', 'x'.repeat(200), 'plain ascii text that is longer than a few bytes'];
  return Array.from({ length: count }, (_, i) => ({
    id: i,
    name: words[Math.floor(r() * words.length)]! + i,
    note: r() < 0.3 ? null : words[Math.floor(r() * words.length)]!,
    price: i % 11 === 0 ? -0 : Math.round(r() * 1e6) / 100,
    big: i * 1_000_003,
    ok: r() < 0.5,
    n: (i * 7919) % 1000,
  }));
}

async function run(engine: EngineName, reuse: boolean, build: (env: StreamEnvironment) => CollectSink<object>): Promise<object[]> {
  const env = StreamEnvironment.create({ engine, batchSize: 64, objectReuse: reuse });
  const sink = build(env);
  await env.execute('records');
  return sink.records;
}

describe('records handed to user functions', () => {
  it('map, filter, flatMap and keyBy(selector) give the same output with fresh records and with object reuse, on both engines', async () => {
    const input = items(700);
    const pipeline = (env: StreamEnvironment) => {
      const sink = new CollectSink<object>();
      env
        .fromRecords(input, ITEMS)
        .filter((x) => x.id % 3 !== 1)
        .map((x) => ({ id: x.id, name: x.id % 5 === 0 ? x.name.toUpperCase() : x.name, note: x.note, price: x.price * 2, big: x.big, ok: !x.ok, n: x.n }), ITEMS)
        // A view is valid during its call only: the second record copies it (copyRecord works on both).
        .flatMap((x) => (x.id % 4 === 0 ? [x, { ...copyRecord(x), name: `${x.name}+`, note: null }] : [x]))
        .keyBy((x) => x.name.length % 3, 'i64')
        .map((x) => copyRecord(x), { ...ITEMS, key: 'i64' })
        .sinkTo(sink);
      return sink;
    };
    const fresh = await onBothEngines((engine) => run(engine, false, pipeline));
    const reused = await onBothEngines((engine) => run(engine, true, pipeline));
    expect(reused.native).toEqual(fresh.native);
    expect(fresh.native.length).toBe(467 + 117);
  });

  it('a kept record stays as it was: fresh records by default; with object reuse the view moves on and copyRecord keeps it', async () => {
    const input = items(10);
    for (const engine of ['native', 'ts'] as const) {
      const kept: object[] = [];
      const copies: object[] = [];
      const env = StreamEnvironment.create({ engine, batchSize: 4 });
      env.fromRecords(input, ITEMS).filter((x) => (kept.push(x), true)).sinkTo(new CollectSink());
      await env.execute('fresh');
      expect(kept).toEqual(input);
      expect(kept[0]).not.toBe(kept[1]);
      expect({ ...kept[3] }).toEqual(input[3]);

      const kept2: object[] = [];
      const env2 = StreamEnvironment.create({ engine, batchSize: 4 }).enableObjectReuse();
      env2.fromRecords(input, ITEMS).filter((x) => (kept2.push(x), copies.push(copyRecord(x)), true)).sinkTo(new CollectSink());
      await env2.execute('reused');
      expect(kept2[0]).toBe(kept2[1]); // one view per operator, moved from row to row
      expect(copies).toEqual(input);
      expect(Object.getPrototypeOf(copies[0])).toBe(Object.prototype);
      expect(JSON.parse(JSON.stringify(kept2[9]))).toEqual({ ...input[9], price: input[9]!.price === 0 ? 0 : input[9]!.price });
    }
  });

  it('a map without a schema keeps the input schema and rejects a record with another field, naming it; with object reuse a spread view is rejected the same way', async () => {
    await onBothEngines(async (engine) => {
      const env = StreamEnvironment.create({ engine });
      env
        .fromRecords(items(3), ITEMS)
        .map((x) => ({ ...x, extra: 1 }) as typeof x)
        .sinkTo(new CollectSink());
      const e = await env.execute('extra').catch((err: unknown) => err);
      expect(e).toBeInstanceOf(JobFailedError);
      expect((e as Error).message).toContain("Map output, record 0, field 'extra': is not a field of { id: i64, name: utf8, note: utf8?, price: f64, big: i64, ok: bool, n: i32 }, the input's schema, which the output keeps when no schema is given; pass the output schema");
      return (e as Error).message;
    });
    await onBothEngines(async (engine) => {
      const env = StreamEnvironment.create({ engine, objectReuse: true });
      env
        .fromRecords(items(3), ITEMS)
        .map((x) => ({ ...x }))
        .sinkTo(new CollectSink());
      const e = await env.execute('spread').catch((err: unknown) => err);
      expect((e as Error).message).toContain("Map output, record 0, field 'id': is missing but the field is not nullable");
      return (e as Error).message;
    });
  });

  it('a flatMap without a schema rejects a record with another field too', async () => {
    await onBothEngines(async (engine) => {
      const env = StreamEnvironment.create({ engine });
      env
        .fromRecords(items(2), ITEMS)
        .flatMap((x) => [x, { ...x, more: true } as typeof x])
        .sinkTo(new CollectSink());
      const e = await env.execute('extra').catch((err: unknown) => err);
      expect((e as Error).message).toContain("FlatMap output, record 0, field 'more': is not a field of");
      return (e as Error).message;
    });
  });
});

describe('values passed through unchanged', () => {
  const schema = Schema.from(ITEMS);

  function mapped(input: ReturnType<typeof items>, fn: (r: Record<string, unknown>, i: number) => object, reuse: boolean) {
    const batch = batchFromRecords(input, schema);
    const reader = new RowReader(schema).reset(batch);
    const b = new BatchBuilder(schema, batch.length, { from: { batch, reader } });
    for (let i = 0; i < batch.length; i++) b.append(fn(reuse ? reader.view(i) : reader.record(i), i), 'test', i, undefined, i);
    return { batch, out: b.finish() };
  }

  it('a column returned unchanged for every row is the input column itself; any other value makes a copy with exactly the values returned', () => {
    const input = items(300);
    for (const reuse of [false, true]) {
      const same = mapped(input, (r) => ({ id: r.id, name: r.name, note: r.note, price: r.price, big: r.big, ok: r.ok, n: r.n }), reuse);
      same.out.columns.forEach((c, k) => expect(c).toBe(same.batch.columns[k]));
      expect(same.out.toRecords()).toEqual(input);

      // Row 150 differs in every column: rows before it were passed through, rows after it are copied.
      const changed = (r: Record<string, unknown>, i: number) =>
        i === 150
          ? { id: -1, name: 'changed é', note: r.note === null ? 'now set' : null, price: 0, big: 2 ** 53 - 1, ok: !r.ok, n: -5 }
          : { id: r.id, name: r.name, note: r.note, price: r.price, big: r.big, ok: r.ok, n: r.n };
      const diff = mapped(input, changed, reuse);
      diff.out.columns.forEach((c, k) => expect(c).not.toBe(diff.batch.columns[k]));
      const want = input.map((x, i) => (i === 150 ? { id: -1, name: 'changed é', note: x.note === null ? 'now set' : null, price: 0, big: 2 ** 53 - 1, ok: !x.ok, n: -5 } : x));
      const got = diff.out.toRecords();
      expect(got).toEqual(want);
      // -0 and 0 are different f64 values: neither is taken for the other.
      got.forEach((g, i) => expect(Object.is(g.price, want[i]!.price)).toBe(true));
    }
  });

  it('-0 returned for 0 (and 0 for -0) is written as returned, not taken from the input', () => {
    const input = items(30);
    const { out } = mapped(input, (r) => ({ ...copyRecord(r), price: Object.is(r.price, -0) ? 0 : r.price === 0 ? -0 : r.price }), false);
    out.toRecords().forEach((g, i) => {
      const p = input[i]!.price;
      expect(Object.is(g.price, Object.is(p, -0) ? 0 : p === 0 ? -0 : p)).toBe(true);
    });
  });

  it('rows repeated or skipped (flatMap) copy the bytes of unchanged strings, including non-ASCII text and nulls', () => {
    const input = items(200, 11);
    const batch = batchFromRecords(input, schema);
    const reader = new RowReader(schema).reset(batch);
    const b = new BatchBuilder(schema, batch.length, { from: { batch, reader } });
    const want: object[] = [];
    for (let i = 0; i < batch.length; i++) {
      const r = reader.record(i);
      const times = i % 3;
      for (let t = 0; t < times; t++) {
        b.append(r, 'test', i, undefined, i);
        want.push(input[i]!);
      }
    }
    expect(b.finish().toRecords()).toEqual(want);
  });

  it('a string equal to the input but computed (not the value read) is encoded, with the same bytes', () => {
    const input = items(50);
    const { out } = mapped(input, (r) => ({ ...copyRecord(r), name: `${String(r.name)}` }), false);
    expect(out.toRecords()).toEqual(input);
  });
});
