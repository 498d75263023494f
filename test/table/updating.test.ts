/**
 * Updating tables in the Table API, on both engines: groupBy(...).select(...) as an updating
 * aggregation (changes with row kinds, toChangelogStream), an aggregation over an updating one
 * (consuming retractions: MIN/MAX/AVG/COUNT DISTINCT), distinct(), and the errors for
 * toDataStream of an updating table and a group window over one.
 */

import { describe, expect, it } from 'vitest';
import { $, CollectSink, countStar, lit, StreamEnvironment, TableEnvironment, TableError, Tumble, type EngineName } from '../../ts/index.js';
import { onBothEngines } from '../engines.js';

const ORDERS = { id: 'i64', product: 'utf8', price: 'f64', qty: 'i32', shop: 'i64?' } as const;
const orders = Array.from({ length: 3000 }, (_, k) => ({
  id: k,
  product: `p${(k * 7) % 23}`,
  price: ((k * 37) % 1000) / 4,
  qty: (k * 7) % 13,
  shop: k % 11 === 0 ? null : (k * 13) % 5,
}));

type Change = Record<string, unknown> & { rowKind: string };

/** The final table of a changelog applied as upserts/retractions, by the key columns. */
function apply(changes: readonly Change[], keys: readonly string[]): Map<string, Record<string, unknown>> {
  const t = new Map<string, Record<string, unknown>>();
  for (const c of changes) {
    const { rowKind, ...row } = c;
    const k = JSON.stringify(keys.map((x) => row[x]));
    if (rowKind === '+I' || rowKind === '+U') {
      if (rowKind === '+I') expect(t.has(k), `+I of a key in the table: ${k}`).toBe(false);
      t.set(k, row);
    } else {
      expect(t.get(k), `${rowKind} retracts what was emitted`).toEqual(row);
      t.delete(k);
    }
  }
  return t;
}

describe('updating tables (Table API)', () => {
  it('groupBy(...).select(...) emits +I/-U/+U whose final state is the batch result; a second aggregation consumes its retractions', async () => {
    const { native } = await onBothEngines(async (engine: EngineName) => {
      const env = StreamEnvironment.create({ engine, batchSize: 128 });
      const tEnv = TableEnvironment.create(env);
      const perProduct = tEnv
        .fromDataStream(env.fromRecords(orders, ORDERS))
        .where($('qty').isGreater(0))
        .groupBy($('product'))
        .select($('product'), countStar().as('n'), $('qty').sum().as('units'), $('price').max().as('top'), $('price').min().as('low'), $('price').avg().as('mean'), $('shop').countDistinct().as('shops'), $('shop').count().as('withShop'));
      expect(perProduct.isUpdating()).toBe(true);
      // Over the updating result: by number of shops, consuming -U/+U.
      const byShops = perProduct.groupBy($('shops')).select($('shops'), countStar().as('products'), $('top').max().as('best'), $('low').min().as('worst'), $('units').sum().as('units'));
      const a = new CollectSink<Change>();
      const b = new CollectSink<Change>();
      perProduct.toChangelogStream().sinkTo(a);
      byShops.toChangelogStream().sinkTo(b);
      expect(env.explain()).toMatch(/GroupAggregate\(groupBy=\[product\], select=\[product, EXPR\$agg0=count\(\)/);
      await env.execute();
      return { a: a.records, b: b.records };
    });
    const kinds = new Set(native.a.map((c) => c.rowKind));
    expect([...kinds].sort()).toEqual(['+I', '+U', '-U']);
    expect(new Set(native.b.map((c) => c.rowKind)).has('-D')).toBe(true);
    // Independent computation.
    const groups = new Map<string, typeof orders>();
    for (const o of orders) if (o.qty > 0) groups.set(o.product, [...(groups.get(o.product) ?? []), o]);
    const expected = new Map<string, Record<string, unknown>>();
    for (const [p, rows] of groups) {
      const prices = rows.map((r) => r.price);
      expected.set(JSON.stringify([p]), {
        product: p,
        n: rows.length,
        units: rows.reduce((s, r) => s + r.qty, 0),
        top: Math.max(...prices),
        low: Math.min(...prices),
        mean: prices.reduce((s, x) => s + x, 0) / prices.length,
        shops: new Set(rows.map((r) => r.shop).filter((x) => x !== null)).size,
        withShop: rows.filter((r) => r.shop !== null).length,
      });
    }
    expect(apply(native.a, ['product'])).toEqual(expected);
    const second = new Map<string, Record<string, unknown>>();
    for (const r of expected.values()) {
      const k = JSON.stringify([r['shops']]);
      const cur = second.get(k);
      second.set(k, cur === undefined
        ? { shops: r['shops'], products: 1, best: r['top'], worst: r['low'], units: r['units'] }
        : { shops: r['shops'], products: (cur['products'] as number) + 1, best: Math.max(cur['best'] as number, r['top'] as number), worst: Math.min(cur['worst'] as number, r['low'] as number), units: (cur['units'] as number) + (r['units'] as number) });
    }
    expect(apply(native.b, ['shops'])).toEqual(second);
  });

  it('distinct() emits each distinct row once', async () => {
    const { native } = await onBothEngines(async (engine: EngineName) => {
      const env = StreamEnvironment.create({ engine, batchSize: 100 });
      const tEnv = TableEnvironment.create(env);
      const sink = new CollectSink<Change>();
      tEnv.fromDataStream(env.fromRecords(orders, ORDERS)).select($('product'), $('shop')).distinct().toChangelogStream().sinkTo(sink);
      await env.execute();
      return sink.records;
    });
    const expected = [...new Set(orders.map((o) => JSON.stringify([o.product, o.shop])))].sort();
    expect(native.every((c) => c.rowKind === '+I')).toBe(true);
    expect(native.map((c) => JSON.stringify([c['product'], c['shop']])).sort()).toEqual(expected);
  });

  it('join / leftOuterJoin / fullOuterJoin on equal keys (regular joins, retractions for padded rows), then an aggregation over the outer join', async () => {
    const SHOPS = { shopId: 'i64', city: 'utf8' } as const;
    // Shops 0..2 and 7: orders of shops 3 and 4 have no shop, shop 7 no orders.
    const shops = [0, 1, 2, 7].map((k) => ({ shopId: k, city: ['Oslo', 'Rome', 'Lima', 'Kyiv'][k % 4]! }));
    const { native } = await onBothEngines(async (engine: EngineName) => {
      const env = StreamEnvironment.create({ engine, batchSize: 64 });
      const tEnv = TableEnvironment.create(env);
      const o = tEnv.fromDataStream(env.fromRecords(orders, ORDERS)).where($('qty').isGreater(10));
      const s = tEnv.fromDataStream(env.fromRecords(shops, SHOPS));
      const inner = new CollectSink<Change>();
      const left = new CollectSink<Change>();
      const full = new CollectSink<Change>();
      const perCity = new CollectSink<Change>();
      o.join(s, $('shop').isEqual($('shopId')).and($('price').isGreater(100))).select($('id'), $('city')).toChangelogStream().sinkTo(inner);
      o.leftOuterJoin(s, $('shop').isEqual($('shopId'))).select($('id'), $('city')).toChangelogStream().sinkTo(left);
      s.fullOuterJoin(o.select($('id'), $('shop')), $('shopId').isEqual($('shop'))).select($('city'), $('id')).toChangelogStream().sinkTo(full);
      o.leftOuterJoin(s, $('shop').isEqual($('shopId'))).groupBy($('city')).select($('city'), countStar().as('n')).toChangelogStream().sinkTo(perCity);
      expect(() => o.join(s, $('qty').isGreater(1))).toThrow(/join: the condition needs an equality between a column of each table/);
      expect(() => o.leftOuterJoin(s, $('shop').isEqual($('shopId')).and($('qty').isGreater(1)))).toThrow(/an outer join's condition takes only equalities/);
      await env.execute();
      return { inner: inner.records, left: left.records, full: full.records, perCity: perCity.records };
    });
    const cityOf = new Map(shops.map((x) => [x.shopId, x.city]));
    const sel = orders.filter((x) => x.qty > 10);
    const multiset = (changes: readonly Change[]): string[] => {
      const rows: string[] = [];
      for (const { rowKind, ...r } of changes) {
        const k = JSON.stringify(r);
        if (rowKind === '+I' || rowKind === '+U') rows.push(k);
        else {
          const at = rows.indexOf(k);
          expect(at, `${rowKind} of a row not there: ${k}`).toBeGreaterThanOrEqual(0);
          rows.splice(at, 1);
        }
      }
      return rows.sort();
    };
    const js = (rows: Record<string, unknown>[]): string[] => rows.map((r) => JSON.stringify(r)).sort();
    expect(multiset(native.inner)).toEqual(js(sel.filter((x) => x.shop !== null && cityOf.has(x.shop) && x.price > 100).map((x) => ({ id: x.id, city: cityOf.get(x.shop!)! }))));
    expect(multiset(native.left)).toEqual(js(sel.map((x) => ({ id: x.id, city: x.shop === null ? null : (cityOf.get(x.shop) ?? null) }))));
    expect(native.left.some((c) => c.rowKind === '-D')).toBe(true);
    const fullRows = [...sel.map((x) => ({ city: x.shop === null ? null : (cityOf.get(x.shop) ?? null), id: x.id })), { city: 'Kyiv', id: null }];
    expect(multiset(native.full)).toEqual(js(fullRows));
    const counts = new Map<string | null, number>();
    for (const x of sel) {
      const c = x.shop === null ? null : (cityOf.get(x.shop) ?? null);
      counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    expect(multiset(native.perCity)).toEqual(js([...counts].map(([city, n]) => ({ city, n }))));
  });

  it('refuses toDataStream of an updating table and a group window over one, naming what to do', () => {
    const env = StreamEnvironment.create({ engine: 'ts' });
    const tEnv = TableEnvironment.create(env);
    const t = tEnv.fromDataStream(env.fromRecords(orders, ORDERS)).groupBy($('product')).select($('product'), countStar().as('n'));
    expect(() => t.toDataStream()).toThrow(TableError);
    expect(() => t.toDataStream()).toThrow(/toDataStream: the table is updating \(its rows are changed by node GroupAggregate\(groupBy=\[product\].*use toChangelogStream\(\)/);
    expect(() => t.window(Tumble.over(lit(1).seconds()).on($('n')).as('w'))).toThrow(/doesn't support consuming update and delete changes/);
    expect(() => tEnv.fromDataStream(env.fromRecords(orders, ORDERS)).groupBy($('product')).select($('price'))).toThrow(/'price' is neither grouped nor aggregated/);
  });
});
