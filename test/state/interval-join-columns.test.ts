// The interval join without a function (SQL's: the left's columns, then the right's, gathered
// column by column) at the operator: the same rows, event times and order as the join calling a
// function that copies the columns, with nulls, strings, late records, expiry, and a checkpoint
// restored at every step.
import { describe, expect, it } from 'vitest';
import { BatchBuilder } from '../../ts/batch/builder.js';
import type { RecordBatch, Row } from '../../ts/batch/record-batch.js';
import { Schema } from '../../ts/batch/schema.js';
import { IntervalJoinOperator } from '../../ts/runtime/operators/joins.js';
import { Collect } from './collect.js';

const left = Schema.from({ k: 'i64', t: 'timestamp', s: 'utf8?', v: 'f64?' });
const right = Schema.from({ k: 'i64', t: 'timestamp', s: 'utf8?', b: 'bool' });
const joined = Schema.from({ k: 'i64', t: 'timestamp', s: 'utf8?', v: 'f64?', k0: 'i64', t0: 'timestamp', s0: 'utf8?', b: 'bool' });

function batch(schema: Schema, rows: Row[]): RecordBatch {
  const b = new BatchBuilder(schema, rows.length);
  rows.forEach((r, i) => b.append(r, 'test', i, r.t as number));
  return b.finish();
}

/** Without a function: the joined columns to build (all by default), by name. */
function operator(withFunction: boolean, build: readonly string[] = joined.names()): { op: IntervalJoinOperator; out: Collect } {
  const fn = (l: Row, r: Row) => ({ k: l.k, t: l.t, s: l.s, v: l.v, k0: r.k, t0: r.t, s0: r.s, b: r.b });
  const op = new IntervalJoinOperator(1, 'join', {
    keys: [(r) => r.k, (r) => r.k],
    keyFields: [['k'], ['k']],
    lower: -3,
    upper: 2,
    fn: withFunction ? fn : null,
    schema: withFunction ? joined : new Schema(joined.fields.filter((f) => build.includes(f.name))),
    inputSchemas: [left, right],
    columns: withFunction
      ? null
      : joined
          .names()
          .map((n, k) => [n, k] as const)
          .filter(([n]) => build.includes(n))
          .map(([, k]) => (k < left.length ? { input: 0, column: k } : { input: 1, column: k - left.length })),
    keyGroups: null,
  });
  const out = new Collect(2, 'collect');
  op.addOutput(out);
  return { op, out };
}

/** A small generator with a fixed seed: the same steps every run. */
function steps(): ((op: IntervalJoinOperator) => Promise<void> | void)[] {
  let seed = 7;
  // mulberry32
  const rand = (n: number): number => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) % n;
  };
  const out: ((op: IntervalJoinOperator) => Promise<void> | void)[] = [];
  let now = 10;
  for (let s = 0; s < 12; s++) {
    for (const side of [0, 1]) {
      const rows: Row[] = [];
      for (let i = 0, n = 1 + rand(8); i < n; i++) {
        // Up to 4 ms out of order: some rows are late once the watermark has passed them.
        const t = now + rand(6) - 4;
        const s = rand(4) === 0 ? null : `${side === 0 ? 'l' : 'r'}${rand(100)}é`;
        rows.push(side === 0 ? { k: rand(3), t, s, v: rand(5) === 0 ? null : rand(1000) / 8 } : { k: rand(3), t, s, b: rand(2) === 0 });
      }
      const b = batch(side === 0 ? left : right, rows);
      out.push((op) => op.processBatch(b, side));
    }
    now += 1 + rand(3);
    const wm = now - 3;
    out.push((op) => op.processWatermark(wm, 0));
    out.push((op) => op.processWatermark(wm, 1));
  }
  return out;
}

describe('the interval join gathering columns (SQL)', () => {
  it('joins the same rows, in the same order, as a function copying the columns; also restored from a checkpoint at every step', async () => {
    const run = async (withFunction: boolean, checkpointAfter: number | null, build?: readonly string[]): Promise<unknown[]> => {
      let { op, out } = operator(withFunction, build);
      const emitted: unknown[] = [];
      const all = steps();
      for (let i = 0; i < all.length; i++) {
        await all[i]!(op);
        if (i === checkpointAfter) {
          const state = structuredClone(op.snapshotState());
          const watermark = op.watermark;
          emitted.push(...out.rows);
          ({ op, out } = operator(withFunction, build));
          op.restoreWatermark(watermark);
          op.restoreState(state);
        }
      }
      return [...emitted, ...out.rows];
    };
    const expected = await run(true, null);
    // Enough matches of each kind for the comparison to mean something.
    expect(expected.length).toBeGreaterThan(50);
    expect(expected.some((r) => (r as Row).s === null)).toBe(true);
    expect(expected.some((r) => (r as Row).s0 === null)).toBe(true);
    expect(expected.some((r) => (r as Row).v === null)).toBe(true);
    expect(await run(false, null)).toEqual(expected);
    const n = steps().length;
    for (let at = 0; at < n; at += 5) expect(await run(false, at)).toEqual(expected);
    // Only some columns built (those read after the join), from both sides.
    const some = ['v', 'k0', 's0'];
    const pick = (r: unknown): unknown => Object.fromEntries(Object.entries(r as Row).filter(([k]) => some.includes(k) || k === '$time'));
    expect(await run(false, null, some)).toEqual(expected.map(pick));
    expect(await run(false, 7, some)).toEqual(expected.map(pick));
  });
});
