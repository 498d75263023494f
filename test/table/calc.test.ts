/**
 * The calc operator on both engines: native kernels and the TS engine's generated code give the
 * same rows, values, nulls and errors; checked against a plain per-row computation in BigInt
 * and JavaScript where that is cheap.
 */

import { describe, expect, it } from 'vitest';
import { batchFromRecords } from '../../ts/batch/builder.js';
import type { Column } from '../../ts/batch/column.js';
import { BufferPool } from '../../ts/batch/lease.js';
import { RecordBatch } from '../../ts/batch/record-batch.js';
import { isBorrowed, ownedBatch } from '../../ts/batch/segment.js';
import { Schema, type SchemaSpec } from '../../ts/batch/schema.js';
import type { CalcSpec } from '../../ts/engine/calc-spec.js';
import { EngineError } from '../../ts/engine/errors.js';
import { selectEngine } from '../../ts/engine/select.js';
import { $, concat, coalesce, ifThenElse, lit, type Expression } from '../../ts/table/expression.js';
import { resolve } from '../../ts/table/resolve.js';
import { requireNative, rng } from '../engines.js';

/** A column's values as plain data: i64 as bigint, nulls as null, floats bit-exact (toEqual tells -0 from 0). */
function dump(b: RecordBatch): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  b.schema.fields.forEach((f, c) => {
    const col = b.columns[c] as Column;
    const vals: unknown[] = [];
    for (let i = 0; i < b.length; i++) {
      if (col.validity !== null && (col.validity[i >>> 3]! & (1 << (i & 7))) === 0) {
        vals.push(null);
        continue;
      }
      switch (col.type) {
        case 'utf8':
          vals.push(Buffer.from(col.data.subarray(col.offsets[i]!, col.offsets[i + 1]!)).toString('utf8'));
          break;
        case 'bool':
          vals.push((col.values[i >>> 3]! & (1 << (i & 7))) !== 0);
          break;
        default:
          vals.push(col.values[i]);
      }
    }
    out[`${f.name}:${f.type}${f.nullable ? '?' : ''}`] = vals;
  });
  if (b.eventTime !== null) out['(event time)'] = Array.from(b.eventTime.subarray(0, b.length));
  return out;
}

function specOf(schema: Schema, cols: Record<string, Expression>, filter: Expression | null = null): CalcSpec {
  return {
    name: 'Calc(test)',
    filter: filter === null ? null : resolve(filter.node, schema, 'test'),
    columns: Object.entries(cols).map(([name, e]) => ({ name, expr: resolve(e.node, schema, 'test') })),
  };
}

/** Runs the spec on both engines; returns the dump (asserted identical) or the error (asserted identical). */
function both(schema: Schema, batch: RecordBatch, spec: CalcSpec): Record<string, unknown[]> | { error: string; kind: string } {
  requireNative();
  const results = (['native', 'ts'] as const).map((name) => {
    const calc = selectEngine(name).createCalc(schema, spec);
    try {
      return dump(calc.process(batch));
    } catch (e) {
      if (!(e instanceof EngineError)) throw e;
      return { error: e.message, kind: e.kind };
    }
  });
  expect(results[1]).toEqual(results[0]);
  return results[0]!;
}

const S: SchemaSpec = { a: 'i64', b: 'i64?', x: 'f64', y: 'f64?', i: 'i32', s: 'utf8', t: 'utf8?', ok: 'bool?', ts: 'timestamp' };

function records(n: number, seed: number): Record<string, unknown>[] {
  const r = rng(seed);
  const words = ['alpha', 'Beta', 'gamma delta', '', ' pad ', 'ünïcødé', '😀x', '100%', 'a_b'];
  const out: Record<string, unknown>[] = [];
  for (let k = 0; k < n; k++) {
    out.push({
      a: Math.floor(r() * 2000) - 1000,
      b: r() < 0.2 ? null : Math.floor(r() * 200) - 100,
      x: (r() - 0.5) * 1000,
      y: r() < 0.2 ? null : r() < 0.1 ? 0 : (r() - 0.5) * 10,
      i: Math.floor(r() * 100) - 50,
      s: words[Math.floor(r() * words.length)]!,
      t: r() < 0.3 ? null : words[Math.floor(r() * words.length)]!,
      ok: r() < 0.3 ? null : r() < 0.5,
      ts: 1_700_000_000_000 + Math.floor(r() * 400 * 86_400_000),
    });
  }
  return out;
}

describe('calc: projection, filter and computed columns', () => {
  const schema = Schema.from(S);
  const recs = records(3000, 7);
  const batch = batchFromRecords(recs, schema).withEventTime(BigInt64Array.from(recs.map((_, k) => BigInt(k * 10))));

  it('arithmetic, comparison and three-valued logic agree with a per-row computation, on both engines', () => {
    const spec = specOf(
      schema,
      {
        a: $('a'),
        sum: $('a').plus($('b')),
        prod: $('a').times($('b')).minus(7),
        q: $('a').dividedBy(lit(7)),
        r: $('a').mod(lit(-7)),
        xr: $('x').times(0.908).plus($('a')),
        cmp: $('x').isGreater($('y')),
        kleene: $('ok').and($('b').isGreater(0)).or($('ok').not()),
        n: $('b').isNull(),
        inList: $('b').in(1, 2, 3, null),
        bw: $('a').between(-10, 500),
      },
      $('a').isGreater(-500),
    );
    const got = both(schema, batch, spec) as Record<string, unknown[]>;
    const kept = recs.filter((r) => (r.a as number) > -500);
    const big = (v: unknown): bigint | null => (v === null ? null : BigInt(v as number));
    const and3 = (p: boolean | null, q: boolean | null): boolean | null => (p === false || q === false ? false : p === null || q === null ? null : true);
    const or3 = (p: boolean | null, q: boolean | null): boolean | null => (p === true || q === true ? true : p === null || q === null ? null : false);
    expect(got['a:i64']).toEqual(kept.map((r) => big(r.a)));
    expect(got['sum:i64?']).toEqual(kept.map((r) => (r.b === null ? null : big(r.a)! + big(r.b)!)));
    expect(got['prod:i64?']).toEqual(kept.map((r) => (r.b === null ? null : big(r.a)! * big(r.b)! - 7n)));
    expect(got['q:i64']).toEqual(kept.map((r) => big(r.a)! / 7n));
    expect(got['r:i64']).toEqual(kept.map((r) => big(r.a)! % -7n));
    expect(got['xr:f64']).toEqual(kept.map((r) => (r.x as number) * 0.908 + (r.a as number)));
    expect(got['cmp:bool?']).toEqual(kept.map((r) => (r.y === null ? null : (r.x as number) > (r.y as number))));
    const okGt = (r: Record<string, unknown>): boolean | null => and3(r.ok as boolean | null, r.b === null ? null : (r.b as number) > 0);
    expect(got['kleene:bool?']).toEqual(kept.map((r) => or3(okGt(r), r.ok === null ? null : !(r.ok as boolean))));
    expect(got['n:bool']).toEqual(kept.map((r) => r.b === null));
    expect(got['inList:bool?']).toEqual(kept.map((r) => (r.b === null ? null : [1, 2, 3].includes(r.b as number) ? true : null)));
    expect(got['bw:bool']).toEqual(kept.map((r) => (r.a as number) >= -10 && (r.a as number) <= 500));
    expect(got['(event time)']).toEqual(recs.flatMap((r, k) => ((r.a as number) > -500 ? [BigInt(k * 10)] : [])));
  });

  // The TS engine reads a field once per row where it is read unconditionally (the filter, a
  // column) and reuses it; a read inside a CASE branch or after AND / OR may not have run, so a
  // later read must not reuse it.
  it('fields read in the filter, in CASE branches, after AND / OR and again in columns agree with a per-row computation, on both engines', () => {
    const spec = specOf(
      schema,
      {
        branch: ifThenElse($('ok').isEqual(true), $('b').plus($('a')), $('a').times(2)),
        after: $('b').minus($('a')),
        shortCircuit: $('ok').and($('b').isGreater(0)),
        bAgain: $('b'),
        tUpper: ifThenElse($('t').isNull(), $('s'), $('t')).upperCase(),
        tLength: $('t').charLength(),
      },
      $('a').isGreater(-900).and($('x').isLess(450)),
    );
    const got = both(schema, batch, spec) as Record<string, unknown[]>;
    const kept = recs.filter((r) => (r.a as number) > -900 && (r.x as number) < 450);
    const big = (v: unknown): bigint | null => (v === null ? null : BigInt(v as number));
    expect(got['branch:i64?']).toEqual(kept.map((r) => (r.ok === true ? (r.b === null ? null : big(r.b)! + big(r.a)!) : big(r.a)! * 2n)));
    expect(got['after:i64?']).toEqual(kept.map((r) => (r.b === null ? null : big(r.b)! - big(r.a)!)));
    expect(got['shortCircuit:bool?']).toEqual(kept.map((r) => (r.ok === false ? false : r.b !== null && (r.b as number) <= 0 ? false : r.ok === null || r.b === null ? null : true)));
    expect(got['bAgain:i64?']).toEqual(kept.map((r) => big(r.b)));
    expect(got['tUpper:utf8?']).toEqual(kept.map((r) => ((r.t ?? r.s) as string).toUpperCase()));
    expect(got['tLength:i32?']).toEqual(kept.map((r) => (r.t === null ? null : [...(r.t as string)].length)));
  });

  it('strings, CASE, COALESCE, CAST, math and dates agree on both engines', () => {
    const spec = specOf(schema, {
      up: $('s').upperCase(),
      low: $('t').lowerCase(),
      sub: $('s').substring(2, 3),
      subEnd: $('s').substring(0),
      len: $('s').charLength(),
      tr: $('s').trim(),
      cat: concat($('s'), '|', $('t')),
      like: $('s').like('%a%'),
      like2: $('s').like('a\\_b', '\\'),
      like3: $('t').like('_ad%'),
      cs: ifThenElse($('x').isGreater(0), $('s'), 'neg'),
      co: coalesce($('t'), $('s')),
      toStr: $('x').cast('utf8'),
      iStr: $('a').cast('utf8'),
      bStr: $('ok').cast('utf8'),
      back: $('i').cast('utf8').cast('i32'),
      xi: $('x').cast('i32'),
      ab: $('a').abs(),
      fl: $('x').floor(),
      ce: $('y').ceil(),
      ro: $('x').round(2),
      ro0: $('x').round(),
      year: $('ts').extract('year'),
      month: $('ts').extract('month'),
      dow: $('ts').extract('dayOfWeek'),
      week: $('ts').extract('week'),
      hour: $('ts').extract('hour'),
      tsText: $('ts').cast('utf8'),
      ms: $('ts').toEpochMillis().plus(1),
      later: $('ts').plus(lit(10).seconds()),
    });
    const got = both(schema, batch, spec) as Record<string, unknown[]>;
    expect(got['up:utf8']).toEqual(recs.map((r) => (r.s as string).toUpperCase()));
    expect(got['len:i32']).toEqual(recs.map((r) => Array.from(r.s as string).length));
    expect(got['cat:utf8?']).toEqual(recs.map((r) => (r.t === null ? null : `${r.s as string}|${r.t as string}`)));
    expect(got['co:utf8']).toEqual(recs.map((r) => r.t ?? r.s));
    expect(got['year:i64']).toEqual(recs.map((r) => BigInt(new Date(r.ts as number).getUTCFullYear())));
    expect(got['dow:i64']).toEqual(recs.map((r) => BigInt(new Date(r.ts as number).getUTCDay() + 1)));
    expect(got['tsText:utf8']).toEqual(recs.map((r) => new Date(r.ts as number).toISOString().replace('T', ' ').replace('Z', '')));
    expect(got['later:timestamp']).toEqual(recs.map((r) => BigInt((r.ts as number) + 10_000)));
    expect(got['like2:bool']).toEqual(recs.map((r) => r.s === 'a_b'));
  });

  it('i64 beyond ±2^53 is exact on both engines (the TS engine reruns the batch with BigInts)', () => {
    const sch = Schema.from({ a: 'i64', b: 'i64' });
    const big = 2n ** 60n + 12345n;
    const b = batchFromRecords([{ a: 1, b: 2 }, { a: big, b: -3 }, { a: -big, b: 5 }], sch);
    const got = both(sch, b, specOf(sch, { p: $('a').times($('b')), d: $('a').dividedBy($('b')), m: $('a').mod($('b')), s: $('a').cast('utf8'), f: $('a').cast('f64'), g: $('a').isGreater(lit(2n ** 59n)) })) as Record<string, unknown[]>;
    expect(got['p:i64']).toEqual([2n, big * -3n, -big * 5n]);
    expect(got['d:i64']).toEqual([0n, big / -3n, -big / 5n]);
    expect(got['m:i64']).toEqual([1n, big % -3n, -big % 5n]);
    expect(got['s:utf8']).toEqual(['1', String(big), String(-big)]);
    expect(got['f:f64']).toEqual([1, Number(big), -Number(big)]);
    expect(got['g:bool']).toEqual([false, true, false]);
  });

  // The TS engine keeps i64 values within int32 in int32 arithmetic for `/` and `%` by a
  // constant and writes them without the two-word split; at the int32 edges and past them it
  // takes the double form. Both must agree with BigInt arithmetic. Every value and result here
  // is within ±2^53, so the TS engine's number form gives them (no rerun with BigInts).
  it('i64 division and remainder by constants and i64 results at and past the int32 edges agree with BigInt, on both engines', () => {
    const sch = Schema.from({ a: 'i64' });
    const edges = [0n, 1n, -1n, 9n, -9n, 10n, -10n, 2n ** 31n - 1n, -(2n ** 31n), 2n ** 31n, -(2n ** 31n) - 1n, 2n ** 32n + 5n, 2n ** 32n + 2n ** 30n + 5n, -(2n ** 40n) - 7n, 2n ** 50n + 3n];
    const b = batchFromRecords(edges.map((a) => ({ a })), sch);
    const divisors = [10n, -10n, 3n, 1n, -2n, 2n ** 31n - 1n, -(2n ** 31n), 2n ** 31n, -1n];
    const cols: Record<string, Expression> = { lin: $('a').times(3).plus(7), neg: lit(0n).minus($('a')) };
    divisors.forEach((d, k) => {
      cols[`d${k}`] = $('a').dividedBy(lit(d));
      cols[`m${k}`] = $('a').mod(lit(d));
    });
    const got = both(sch, b, specOf(sch, cols, $('a').mod(10n).isNotEqual(lit(-9n)))) as Record<string, unknown[]>;
    const kept = edges.filter((a) => a % 10n !== -9n);
    expect(kept.length).toBe(edges.length - 2);
    expect(got['lin:i64']).toEqual(kept.map((a) => a * 3n + 7n));
    expect(got['neg:i64']).toEqual(kept.map((a) => -a));
    divisors.forEach((d, k) => {
      expect(got[`d${k}:i64`]).toEqual(kept.map((a) => a / d));
      expect(got[`m${k}:i64`]).toEqual(kept.map((a) => a % d));
    });
  });

  it('division by zero, overflow and bad casts fail with the same error on both engines, at the first failing row', () => {
    const sch = Schema.from({ a: 'i64', b: 'i64', i: 'i32', s: 'utf8', x: 'f64' });
    const b = batchFromRecords(
      [
        { a: 10, b: 2, i: 1, s: '5', x: 1.5 },
        { a: 9_000_000_000_000_000_000n, b: 0, i: 2147483647, s: 'x', x: 1e20 },
        { a: 1, b: 0, i: 3, s: '7', x: 2 },
      ],
      sch,
    );
    const err = (cols: Record<string, Expression>, filter: Expression | null = null): unknown => both(sch, b, specOf(sch, cols, filter));
    expect(err({ q: $('a').dividedBy($('b')) })).toEqual({
      kind: 'data',
      error: 'Calc(test): (a / b) at row 1 of the batch: division by zero; guard the divisor (CASE WHEN d <> 0 THEN ... END) or divide as f64',
    });
    // The filter drops row 1: the first failing kept row is 2.
    expect(err({ q: $('a').dividedBy($('b')) }, $('i').isNotEqual(2147483647))).toEqual({
      kind: 'data',
      error: 'Calc(test): (a / b) at row 2 of the batch: division by zero; guard the divisor (CASE WHEN d <> 0 THEN ... END) or divide as f64',
    });
    // A guarded division never divides by zero (the branch runs only where the condition holds).
    expect(err({ q: ifThenElse($('b').isNotEqual(0), $('a').dividedBy($('b')), -1) })).toEqual({ 'q:i64': [5n, -1n, -1n] });
    expect(err({ p: $('a').plus($('a')) })).toEqual({
      kind: 'overflow',
      error: 'Calc(test): (a + a) at row 1 of the batch: the result does not fit in i64; cast the operands to a wider type (i64, or f64 where rounding is acceptable)',
    });
    expect(err({ p: $('i').plus(1) })).toEqual({
      kind: 'overflow',
      error: 'Calc(test): (i + 1) at row 1 of the batch: the result does not fit in i32; cast the operands to a wider type (i64, or f64 where rounding is acceptable)',
    });
    expect(err({ c: $('s').cast('i64') })).toEqual({ kind: 'data', error: "Calc(test): CAST(s AS i64) at row 1 of the batch: 'x' is not a valid i64" });
    expect(err({ c: $('x').cast('i32') })).toEqual({ kind: 'overflow', error: 'Calc(test): CAST(x AS i32) at row 1 of the batch: 100000000000000000000 does not fit in i32' });
    // Two failing columns: the earlier row wins, whichever column it is in.
    expect(err({ c: $('s').cast('i64').plus($('b').dividedBy(0)) }, null)).toMatchObject({ error: expect.stringContaining('at row 0 of the batch') });
    expect(err({ q: lit(1).dividedBy($('i').minus(3)), c: $('s').cast('i64') })).toMatchObject({ error: expect.stringContaining("CAST(s AS i64) at row 1 of the batch: 'x'") });
  });

  it('batches of several thousand rows (run in chunks natively), one operator over several batches: same values, nulls and first failing row', () => {
    const sch = Schema.from({ a: 'i64', b: 'i64?', s: 'utf8?' });
    // Nulls only from row 1500 on (past the first chunks), a zero divisor first at row 2402.
    const rows = (n: number, nulls: boolean): Record<string, unknown>[] =>
      Array.from({ length: n }, (_, k) => ({ a: k, b: nulls && k >= 1500 && k % 7 === 0 ? null : k === 2402 ? 4 : (k % 11) + 6, s: nulls && k >= 2000 && k % 5 === 0 ? null : `w${k % 13}` }));
    const spec = specOf(sch, { sum: $('a').plus($('b')), big: $('b').isGreater(10), txt: concat($('s'), '!'), q: $('a').dividedBy($('b').minus(4)) }, $('a').mod(3).isNotEqual(0));
    const engines = (['native', 'ts'] as const).map((name) => selectEngine(name).createCalc(sch, spec));
    requireNative();
    const check = (recs: Record<string, unknown>[]): void => {
      const batch = batchFromRecords(recs, sch);
      const [native, ts] = engines.map((c) => dump(c.process(batch)));
      expect(native).toEqual(ts);
      const kept = recs.filter((r) => (r.a as number) % 3 !== 0);
      expect(native!['sum:i64?']).toEqual(kept.map((r) => (r.b === null ? null : BigInt((r.a as number) + (r.b as number)))));
      expect(native!['big:bool?']).toEqual(kept.map((r) => (r.b === null ? null : (r.b as number) > 10)));
      expect(native!['txt:utf8?']).toEqual(kept.map((r) => (r.s === null ? null : `${r.s as string}!`)));
    };
    check(rows(2400, true));
    check(rows(3000, false).slice(0, 1100));
    check(rows(2401, true).slice(0, 7));
    check(rows(2401, true));
    // Row 2402 (kept: 2402 % 3 is 2) divides by zero, in the last column.
    const failing = batchFromRecords(rows(2600, true), sch);
    const errs = engines.map((c) => {
      try {
        c.process(failing);
        return null;
      } catch (e) {
        return (e as Error).message;
      }
    });
    expect(errs[0]).toEqual(errs[1]);
    expect(errs[0]).toBe('Calc(test): (a / (b - 4)) at row 2402 of the batch: division by zero; guard the divisor (CASE WHEN d <> 0 THEN ... END) or divide as f64');
  });

  it('output into lent buffers: the same rows as owned output, borrowed until released, then reused; ownedBatch keeps a copy', () => {
    const sch = Schema.from({ a: 'i64', b: 'i64?', x: 'f64', ts: 'timestamp' });
    const rows = (from: number): Record<string, unknown>[] =>
      Array.from({ length: 3000 }, (_, k) => ({ a: from + k, b: k % 9 === 0 ? null : k - 1500, x: (from + k) / 8, ts: 1_700_000_000_000 + from + k }));
    // Computed i64 / f64 columns with nulls, a column passed through (taken at the kept rows),
    // and a filter dropping rows (the kept rows' event time is taken too).
    const spec = specOf(sch, { a: $('a'), s: $('a').plus($('b')), y: $('x').times(2) }, $('a').mod(4).isNotEqual(1));
    requireNative();
    for (const name of ['native', 'ts'] as const) {
      const calc = selectEngine(name).createCalc(sch, spec);
      const pool = new BufferPool();
      const first = batchFromRecords(rows(0), sch).withEventTime(null);
      const withTime = new RecordBatch(first.schema, first.columns, first.length, (first.columns[3] as { values: BigInt64Array }).values);
      const lease = pool.lease();
      const lent = calc.process(withTime, lease);
      expect(dump(lent), name).toEqual(dump(calc.process(withTime)));
      expect(isBorrowed(lent), name).toBe(true);
      const kept = ownedBatch(lent);
      expect(isBorrowed(kept), name).toBe(false);
      const before = dump(kept);
      const buffers = new Set([...lent.columns.map((c) => (c as { values: BigInt64Array }).values.buffer), lent.eventTime!.buffer]);
      lease.release();
      // The next batch writes into the same memory; the copy still holds the first batch.
      const second = batchFromRecords(rows(5000), sch);
      const next = pool.lease();
      const again = calc.process(new RecordBatch(second.schema, second.columns, second.length, (second.columns[3] as { values: BigInt64Array }).values), next);
      expect(again.columns.some((c) => buffers.has((c as { values: BigInt64Array }).values.buffer)), name).toBe(true);
      expect(dump(kept), name).toEqual(before);
      expect(dump(lent), name).not.toEqual(before);
      next.release();
    }
  });

  it('a buffer pool lends the power of two at least as large as asked (64 bytes at least) and lends a given-back buffer again', () => {
    const pool = new BufferPool();
    const sizes: [number, number][] = [[0, 64], [1, 64], [64, 64], [65, 128], [128, 128], [129, 256], [65536, 65536], [65537, 131072], [3 * 2 ** 20, 2 ** 22]];
    for (const [asked, got] of sizes) {
      const b = pool.take(asked);
      expect(b.byteLength, `${asked} bytes`).toBe(got);
      pool.give(b);
      expect(pool.take(asked), `${asked} bytes again`).toBe(b);
      expect(pool.take(got), `${got} bytes`).not.toBe(b);
    }
  });

  it('a filter over columns passed through (nothing computed): the same rows, nulls, event time and first failing row on both engines', () => {
    // Natively such a calc returns the kept rows alone and the columns and event time are
    // taken in TypeScript: several chunks, nulls in the filter and the columns, all or no rows
    // kept, and a filter that fails.
    const sch = Schema.from({ a: 'i64', b: 'i64?', s: 'utf8?' });
    const make = (n: number): RecordBatch => {
      const b = batchFromRecords(
        Array.from({ length: n }, (_, k) => ({ a: k, b: k % 9 === 0 ? null : k === 2500 ? 0 : ((k * 7) % 23) + 1, s: k % 4 === 0 ? null : `r${k}` })),
        sch,
      );
      return new RecordBatch(sch, b.columns, n, BigInt64Array.from({ length: n }, (_, k) => BigInt(1_000_000 + 3 * k)));
    };
    const pass = { s: $('s'), a: $('a') };
    const batch = make(2400);
    const kept = both(sch, batch, specOf(sch, pass, $('b').mod(5).isEqual(1).or($('a').isLess(3))));
    const want = Array.from({ length: 2400 }, (_, k) => k).filter((k) => (k % 9 !== 0 && (((k * 7) % 23) + 1) % 5 === 1) || k < 3);
    expect(kept).toEqual({ 's:utf8?': want.map((k) => (k % 4 === 0 ? null : `r${k}`)), 'a:i64': want.map(BigInt), '(event time)': want.map((k) => BigInt(1_000_000 + 3 * k)) });
    expect(both(sch, batch, specOf(sch, pass, $('a').isGreaterOrEqual(0)))).toEqual(dump(new RecordBatch(Schema.from({ s: 'utf8?', a: 'i64' }), [batch.columns[2]!, batch.columns[0]!], 2400, batch.eventTime)));
    expect(both(sch, batch, specOf(sch, pass, $('a').isLess(0)))).toEqual({ 's:utf8?': [], 'a:i64': [], '(event time)': [] });
    // Row 2500 divides by zero in the filter; rows where b is null never divide.
    expect(both(sch, make(3000), specOf(sch, pass, lit(100).dividedBy($('b')).isGreater(1)))).toEqual({
      kind: 'data',
      error: 'Calc(test): (100 / b) at row 2500 of the batch: division by zero; guard the divisor (CASE WHEN d <> 0 THEN ... END) or divide as f64',
    });
  });

  it('unknown columns and type errors are named when the expression is resolved', () => {
    expect(() => resolve($('nope').plus(1).node, schema, 'select')).toThrow("select: unknown column 'nope'; the columns are: a, b, x, y, i, s, t, ok, ts");
    expect(() => resolve($('s').plus(1).node, schema, 'select')).toThrow('select: (s + 1): needs numbers, got utf8 and i32');
    expect(() => resolve($('ok').cast('timestamp').node, schema, 'select')).toThrow('no cast from bool to timestamp');
  });

  it('folds constants', () => {
    expect(resolve(lit(2).plus(3).times(4).node, schema, 'x')).toEqual({ k: 'lit', t: 'i32', n: false, v: 20 });
    expect(resolve($('ok').and(false).node, schema, 'x')).toEqual({ k: 'lit', t: 'bool', n: false, v: false });
    expect(resolve(lit('a').upperCase().isEqual('A').node, schema, 'x')).toEqual({ k: 'lit', t: 'bool', n: false, v: true });
    // Overflow stays a runtime error.
    expect(resolve(lit(2147483647).plus(1).node, schema, 'x').k).toBe('call');
  });
});

describe('calc: random expressions', () => {
  it('agree on both engines, values, nulls and errors (600 random expression sets over rows with nulls and i64 edges)', () => {
    const schema = Schema.from({ a: 'i64', b: 'i64?', i: 'i32?', x: 'f64?', s: 'utf8?', ok: 'bool?', ts: 'timestamp' });
    const r = rng(42);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const I64S = [0n, 1n, -1n, 7n, -13n, 2n ** 53n + 1n, -(2n ** 53n) - 3n, 2n ** 62n, -(2n ** 63n), 2n ** 63n - 1n];
    const recs = Array.from({ length: 300 }, () => ({
      a: pick(I64S),
      b: r() < 0.2 ? null : pick(I64S),
      i: r() < 0.2 ? null : pick([0, 1, -1, 3, 2147483647, -2147483648, 100]),
      x: r() < 0.2 ? null : pick([0, -0, 1.5, -2.25, 1e300, NaN, Infinity, 3e9, 12345.678]),
      s: r() < 0.2 ? null : pick(['', 'abc', ' 12 ', '-7', 'x_y%z', 'ÄÖü', '😀ab', 'true', '1e3', '99999999999999999999']),
      ok: r() < 0.3 ? null : r() < 0.5,
      ts: pick([0n, 1_700_000_000_123n, -86_400_001n, 253_402_300_799_999n]),
    }));
    const batch = batchFromRecords(recs, schema);
    const num = (d: number): Expression => {
      if (d <= 0 || r() < 0.3) return pick([$('a'), $('b'), $('i'), $('x'), lit(pick([0, 2, -3, 2147483647])), lit(2n ** 62n), lit(0.5)]);
      const a = num(d - 1);
      const b = num(d - 1);
      switch (Math.floor(r() * 10)) {
        case 0:
          return a.plus(b);
        case 1:
          return a.minus(b);
        case 2:
          return a.times(b);
        case 3:
          return a.dividedBy(b);
        case 4:
          return a.mod(b);
        case 5:
          return a.abs();
        case 6:
          return ifThenElse(bool(d - 1), a, b);
        case 7:
          return coalesce(a, b);
        case 8:
          return $('s').cast(pick(['i64', 'i32', 'f64'] as const));
        default:
          return $('s').charLength().plus(a.negate());
      }
    };
    const bool = (d: number): Expression => {
      if (d <= 0 || r() < 0.2) return pick([$('ok'), $('a').isGreater($('b')), $('s').like(pick(['%a%', '_b%', '%\\%%'])), $('s').isNull()]);
      switch (Math.floor(r() * 6)) {
        case 0:
          return bool(d - 1).and(bool(d - 1));
        case 1:
          return bool(d - 1).or(bool(d - 1));
        case 2:
          return bool(d - 1).not();
        case 3:
          return num(d - 1).isLessOrEqual(num(d - 1));
        case 4:
          return num(d - 1).in(1, 2, null, 7n);
        default:
          return str(d - 1).isGreater(str(d - 1));
      }
    };
    const str = (d: number): Expression => {
      if (d <= 0 || r() < 0.3) return pick([$('s'), lit('b'), $('ts').cast('utf8'), $('x').cast('utf8'), $('a').cast('utf8')]);
      switch (Math.floor(r() * 5)) {
        case 0:
          return concat(str(d - 1), str(d - 1));
        case 1:
          return str(d - 1).upperCase();
        case 2:
          return str(d - 1).substring(num(0).cast('i32'), lit(2));
        case 3:
          return str(d - 1).trim();
        default:
          return ifThenElse(bool(d - 1), str(d - 1), $('ts').extract(pick(['year', 'week', 'dayOfYear'] as const)).cast('utf8'));
      }
    };
    let errors = 0;
    let ran = 0;
    for (let k = 0; k < 600; k++) {
      let spec: CalcSpec;
      try {
        spec = specOf(schema, { n: num(3), b: bool(3), t: str(3) }, r() < 0.5 ? bool(2) : null);
      } catch {
        continue; // a type error found at resolution (e.g. an IN of a string): not an engine case
      }
      const got = both(schema, batch, spec);
      ran++;
      if ('error' in got) errors++;
    }
    // Most sets resolve, and both outcomes (rows, and an error) are exercised.
    expect(ran).toBeGreaterThan(400);
    expect(errors).toBeGreaterThan(ran / 10);
    expect(errors).toBeLessThan(ran * 0.9);
  });
});
