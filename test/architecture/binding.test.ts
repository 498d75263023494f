/**
 * One binding contract: the native addon's declarations are what napi-rs generates from the
 * Rust (committed, and regenerated identically by the build), and both engines raise the same
 * error class, with the same kind and message, for the same bad input: one test per kind (memory
 * in test/parallel/memory.test.ts, where the job that needs too much is).
 */

import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { batchFromRecords } from '../../ts/batch/builder.js';
import { Schema } from '../../ts/batch/schema.js';
import type { Engine, WindowAggregatorSpec } from '../../ts/engine/engine.js';
import { EngineError } from '../../ts/engine/errors.js';
import { selectEngine } from '../../ts/index.js';
import { ENGINES, requireNative } from '../engines.js';

const root = resolve(import.meta.dirname, '../..');
const input = new Schema([
  { name: 'k', type: 'i64', nullable: false },
  { name: 'v', type: 'i64', nullable: false },
]);
const sums = [{ name: 's', kind: 'sum', field: 1 }] as const;

/** What each engine throws for `f`: the class, kind and message. */
function thrownBy(f: (engine: Engine) => unknown): { cls: string; kind: string; message: string }[] {
  requireNative();
  return ENGINES.map((name) => {
    try {
      f(selectEngine(name));
    } catch (e) {
      expect(e, `${name} engine`).toBeInstanceOf(EngineError);
      const err = e as EngineError;
      return { cls: err.name, kind: err.kind, message: err.message };
    }
    throw new Error(`the ${name} engine accepted it`);
  });
}

function expectSameError(f: (engine: Engine) => unknown, kind: string, message: RegExp): void {
  const [native, ts] = thrownBy(f);
  expect(ts).toEqual(native);
  expect(native!.cls).toBe('EngineError');
  expect(native!.kind).toBe(kind);
  expect(native!.message).toMatch(message);
}

function window(spec: Partial<WindowAggregatorSpec>): WindowAggregatorSpec {
  return { input, keyFields: [0], window: { kind: 'tumbling', sizeMs: 10, offsetMs: 0 }, aggregates: sums, ...spec };
}

describe('the native binding', () => {
  it('is typed from the declarations napi-rs generates, committed as the build generates them', () => {
    // The build (npm run build) ran before the tests and regenerated them from the Rust.
    const diff = execFileSync('git', ['status', '--porcelain', '--', 'native/binding.d.cts', 'native/binding.cjs'], { cwd: root, encoding: 'utf8' });
    expect(diff, 'commit the regenerated native/binding.d.cts and native/binding.cjs').toBe('');
  });
});

describe('both engines raise the same EngineError for the same bad input', () => {
  it('config: a window the kernels cannot run, a flush of session windows, a parallelism outside the key groups', () => {
    expectSameError((e) => e.createWindowAggregator(window({ window: { kind: 'sliding', sizeMs: 10, slideMs: 20, offsetMs: 0 } })), 'config', /slide \(20 ms\) is larger than its size \(10 ms\)/);
    expectSameError((e) => e.createWindowAggregator(window({ window: { kind: 'session', gapMs: 5 } })).flush(), 'config', /^flush is for tumbling and sliding windows/);
    const batch = batchFromRecords([{ k: 1, v: 2 }], input, 'test');
    expectSameError((e) => e.hashPartition(batch, [0], 0, 128), 'config', /^parallelism must be between 1 and maxParallelism \(128\), got 0$/);
  });

  it('data: bytes that are not a record batch, rows without event time for a time window', () => {
    expectSameError((e) => e.decodeBatch(new Uint8Array([16, 0, 0, 0, 88, 88, 88, 88, 0, 0, 0, 0, 0, 0, 0, 0])), 'data', /^not a Sluice record batch: file identifier is "XXXX"/);
    const batch = batchFromRecords([{ k: 1, v: 2 }], input, 'test');
    expectSameError((e) => e.createWindowAggregator(window({})).push(batch), 'data', /^the window operator got rows without event timestamps/);
  });

  it('overflow: an i64 sum beyond i64', () => {
    const big = 2n ** 62n;
    const batch = batchFromRecords(
      [
        { k: 1, v: big },
        { k: 1, v: big },
      ],
      input,
      'test',
    ).withEventTime(new BigInt64Array([1n, 2n]));
    expectSameError(
      (e) => {
        const a = e.createWindowAggregator(window({}));
        a.push(batch);
        a.advanceWatermark(Infinity);
      },
      'overflow',
      /^sum 's' = 9223372036854775808 does not fit in i64; aggregate a narrower value or use an f64 field$/,
    );
  });

  // memory: test/parallel/memory.test.ts ('window state that outgrows the budget ...') asserts the
  // same kind and words on both engines (the amounts differ: each engine lays its state out its own way).
});
