/**
 * The interval join's buffer against a plain list: records in arrival order, a head that
 * passes the oldest expired ones, matches by key and time range in arrival order. Enough
 * records and keys to compact and grow the arrays, sweep the key map and drop row readers.
 */
import { describe, expect, it } from 'vitest';
import { IntervalBuffer } from '../../ts/runtime/operators/interval-buffer.js';
import { rng } from '../engines.js';

describe('interval join buffer', () => {
  it('matches, expiry, compaction and snapshots agree with a plain list', () => {
    const r = rng(5);
    const buf = new IntervalBuffer();
    const plain: { k: unknown; t: number; row: object }[] = [];
    let head = 0;
    let now = 0;
    for (let batch = 0; batch < 400; batch++) {
      const rows = Array.from({ length: 1 + Math.floor(r() * 100) }, (_, i) => ({ batch, i }));
      buf.addReader((i) => rows[i]!);
      rows.forEach((row, i) => {
        // Out of order by up to 50; keys from 6000 numbers and a few strings.
        const t = now + Math.floor(r() * 50);
        now += 1;
        const k = r() < 0.1 ? `s${Math.floor(r() * 20)}` : Math.floor(r() * 6000);
        buf.add(k, t, i);
        plain.push({ k, t, row });
      });
      for (let q = 0; q < 20; q++) {
        const k = r() < 0.1 ? `s${Math.floor(r() * 20)}` : Math.floor(r() * 6000);
        const lo = now - Math.floor(r() * 400);
        const hi = lo + Math.floor(r() * 200);
        const got = (buf.matching(k, lo, hi) ?? []).map((s) => [buf.timeAt(s), buf.recordAt(s)]);
        const want = plain.slice(head).filter((e) => e.k === k && e.t >= lo && e.t <= hi).map((e) => [e.t, e.row]);
        expect(got).toEqual(want);
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
  });

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
