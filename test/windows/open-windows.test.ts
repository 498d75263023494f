/**
 * Tumbling windows while many are open (a source running ahead of another in a parallel job):
 * each firing drops one window's groups and compacts only once the dropped ones are half of
 * all, so dropped groups linger for a while. Rows that come for still-open windows of the same
 * keys must find their own groups, rows for fired windows are late, and rows within the allowed
 * lateness fire their window again, on both engines as computed here.
 */

import { describe, expect, it } from 'vitest';
import { BatchBuilder } from '../../ts/batch/builder.js';
import { rowReader, type RecordBatch } from '../../ts/batch/record-batch.js';
import { Schema } from '../../ts/batch/schema.js';
import { selectEngine } from '../../ts/engine/select.js';
import { ENGINES, requireNative, rng } from '../engines.js';

const input = Schema.from({ k: 'i64', v: 'i64', t: 'timestamp' });
const SIZE = 10;
const WINDOWS = 40;
const KEYS = 50;

type Row = { k: number; v: number; t: number };
type Out = { k: number; windowStart: number; windowEnd: number; n: number; total: number };

function batch(rows: Row[]): RecordBatch {
  const b = new BatchBuilder(input, rows.length);
  rows.forEach((r, i) => b.append(r, 'test', i, r.t));
  return b.finish();
}

function rowsOf(b: RecordBatch | null): Out[] {
  if (b === null) return [];
  const read = rowReader(b);
  return Array.from({ length: b.length }, (_, i) => read(i) as Out);
}

/** Rows for every window of `from..WINDOWS`, keys in a shuffled order, `per` rows a window. */
function rowsFor(r: () => number, from: number, per: number): Row[] {
  const out: Row[] = [];
  for (let w = from; w < WINDOWS; w++) for (let i = 0; i < per; i++) out.push({ k: Math.floor(r() * KEYS), v: Math.floor(r() * 100), t: w * SIZE + Math.floor(r() * SIZE) });
  return out.sort(() => r() - 0.5);
}

describe.each(ENGINES)('tumbling windows with many open (%s engine)', (engine) => {
  for (const lateness of [0, 25]) {
    it(`fire one at a time as computed (allowed lateness ${lateness} ms)`, () => {
      if (engine === 'native') requireNative();
      const agg = selectEngine(engine).createWindowAggregator({
        input,
        keyFields: [0],
        window: { kind: 'tumbling', sizeMs: SIZE, offsetMs: 0 },
        aggregates: [
          { name: 'n', kind: 'count', field: null },
          { name: 'total', kind: 'sum', field: 1 },
        ],
        allowedLatenessMs: lateness,
      });
      const r = rng(7);
      // Expected: every row pushed before its window's end + lateness passed, by (key, window).
      const kept = new Map<string, { n: number; total: number }>();
      let watermark = -Infinity;
      let late = 0;
      let refired = 0;
      let emitted = 0;
      // The latest row of each window (a refiring updates it).
      const got = new Map<string, Out>();
      const take = (rows: Out[]): void => {
        emitted += rows.length;
        rows.forEach((o) => got.set(`${o.k}@${o.windowStart}`, o));
      };
      const push = (rows: Row[]): void => {
        for (const row of rows) {
          const ws = Math.floor(row.t / SIZE) * SIZE;
          if (ws + SIZE - 1 + lateness <= watermark) {
            late++;
            continue;
          }
          // A row for a fired window emits its window's row again (the first, for a new key).
          if (ws + SIZE - 1 <= watermark && kept.has(`${row.k}@${ws}`)) refired++;
          const e = kept.get(`${row.k}@${ws}`) ?? { n: 0, total: 0 };
          e.n++;
          e.total += row.v;
          kept.set(`${row.k}@${ws}`, e);
        }
        // Rows within the lateness fire their window again (pushed one at a time by the operator).
        const b = batch(rows);
        expect(agg.push(b)).toBe(rows.filter((x) => Math.floor(x.t / SIZE) * SIZE + SIZE - 1 + lateness <= watermark).length);
        take(rowsOf(agg.takePushedOutput()));
      };
      // Every window open at once, then each fired alone with more rows for all the windows,
      // those already fired included.
      push(rowsFor(r, 0, 200));
      for (let w = 0; w < WINDOWS; w++) {
        watermark = w * SIZE + SIZE - 1;
        take(rowsOf(agg.advanceWatermark(watermark)));
        push(rowsFor(r, Math.max(0, w - 3), 20));
      }
      take(rowsOf(agg.advanceWatermark(Infinity)));
      expect(late).toBeGreaterThan(0);
      if (lateness > 0) expect(refired).toBeGreaterThan(0);
      // One row per window and key when it fires, one more for each row that fired it again:
      // a dropped group emitted again would add rows.
      expect(emitted).toBe(kept.size + refired);
      const want = [...kept].map(([id, e]) => {
        const [k, ws] = id.split('@').map(Number) as [number, number];
        return { k, windowStart: ws, windowEnd: ws + SIZE, n: e.n, total: e.total };
      });
      const order = (a: Out, b: Out): number => a.windowStart - b.windowStart || a.k - b.k;
      expect([...got.values()].sort(order)).toEqual(want.sort(order));
    });
  }
});
