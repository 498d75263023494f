/**
 * The interval join's buffer against a plain list: records in arrival order, a head that
 * passes the oldest expired ones, matches by key and time range in arrival order. Enough
 * records and keys to compact and grow the arrays, sweep the key map and drop row readers.
 */
import { describe, expect, it } from 'vitest';
import { IntervalBuffer, Matches } from '../../ts/runtime/operators/interval-buffer.js';
import { RecordBatch } from '../../ts/batch/record-batch.js';
import { Schema } from '../../ts/batch/schema.js';
import { rng } from '../engines.js';

describe('interval join buffer', () => {
  /**
   * `probes(batch)`: how many lookups follow the batch. Number keys wait unindexed while this
   * side is probed rarely and are indexed once it is probed often, so the runs probe often,
   * rarely, and rarely then often (a long unindexed tail indexed at once).
   */
  const agreesWithAPlainList = (seed: number, probes: (batch: number) => number): void => {
    const r = rng(seed);
    const buf = new IntervalBuffer();
    const plain: { k: unknown; t: number; row: object }[] = [];
    let head = 0;
    let now = 0;
    // Keys from 6000 numbers, a few strings, and now and then -0 or NaN.
    const key = (): unknown => {
      const x = r();
      return x < 0.1 ? `s${Math.floor(r() * 20)}` : x < 0.12 ? -0 : x < 0.14 ? NaN : Math.floor(r() * 6000);
    };
    const same = (a: unknown, b: unknown): boolean => a === b || (a !== a && b !== b);
    for (let batch = 0; batch < 400; batch++) {
      const rows = Array.from({ length: 1 + Math.floor(r() * 100) }, (_, i) => ({ batch, i }));
      buf.addReader((i) => rows[i]!, new RecordBatch(Schema.from({ i: 'i32' }), [{ type: 'i32', values: Int32Array.from(rows, (x) => x.i), validity: null }], rows.length, null));
      rows.forEach((row, i) => {
        // Out of order by up to 50.
        const t = now + Math.floor(r() * 50);
        now += 1;
        const k = key();
        buf.add(k, t, i);
        plain.push({ k, t, row });
      });
      for (let q = probes(batch); q > 0; q--) {
        const k = key();
        const lo = now - Math.floor(r() * 400);
        const hi = lo + Math.floor(r() * 200);
        const want = plain.slice(head).filter((e) => same(e.k, k) && e.t >= lo && e.t <= hi);
        const got = (buf.matching(k, lo, hi) ?? []).map((s) => [buf.timeAt(s), buf.recordAt(s)]);
        expect(got).toEqual(want.map((e) => [e.t, e.row]));
        // The same matches as rows of the batches given to addReader, with the later time.
        const m = new Matches();
        buf.matchRows(k, lo, hi, 7, now, m);
        expect(Array.from({ length: m.n }, (_, j) => [m.probe[j], m.batches[j]!.columns[0]!.values[m.rows[j]!], m.times[j]])).toEqual(
          want.map((e) => [7, (e.row as { i: number }).i, Math.max(e.t, now)]),
        );
      }
      if (batch % 3 === 0) {
        const wm = now - 300;
        buf.expire((t) => t < wm);
        while (head < plain.length && plain[head]!.t < wm) head++;
        expect(buf.size).toBe(plain.length - head);
      }
    }
    expect(plain.length - head).toBeLessThan(plain.length / 10);
    expect(buf.snapshot()).toEqual(plain.slice(head).map((e) => [e.k, e.t, e.row]));
  };

  it('matches, expiry, compaction and snapshots agree with a plain list, probed often', () => agreesWithAPlainList(5, () => 20));
  it('... probed rarely (number keys stay unindexed)', () => agreesWithAPlainList(6, (b) => (b % 9 === 0 ? 1 : 0)));
  it('... probed rarely, then often (a long unindexed tail indexed at once)', () => agreesWithAPlainList(7, (b) => (b < 200 ? (b % 9 === 0 ? 1 : 0) : 20)));

  it('compares number keys as a Map does: 0 and -0 alike, NaN equal to itself, 1 apart from "1"', () => {
    const buf = new IntervalBuffer();
    const rows = [{ r: 0 }, { r: 1 }, { r: 2 }, { r: 3 }];
    buf.addReader((i) => rows[i]!);
    buf.add(0, 10, 0);
    buf.add(NaN, 10, 1);
    buf.add('1', 10, 2);
    buf.add(1, 10, 3);
    const found = (k: unknown) => {
      return (buf.matching(k, 0, 100) ?? []).map((s) => buf.recordAt(s));
    };
    expect(found(-0)).toEqual([{ r: 0 }]);
    expect(found(NaN)).toEqual([{ r: 1 }]);
    expect(found(1)).toEqual([{ r: 3 }]);
    expect(found('1')).toEqual([{ r: 2 }]);
    expect(found(2)).toEqual([]);
  });
});
