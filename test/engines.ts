/** Runs a pipeline on both engines and checks they agree. */

import { expect } from 'vitest';
import { CollectSink, nativeAvailable, StreamEnvironment, type EngineName, type Source } from '../ts/index.js';

export const ENGINES: readonly EngineName[] = ['native', 'ts'];

/** The native engine is part of what is tested: its absence is a failure, not a skip. */
export function requireNative(): void {
  if (!nativeAvailable()) throw new Error('the native addon did not load; run `npm run build` before the tests');
}

/** Runs `run` on each engine, asserts identical results, returns them by engine. */
export async function onBothEngines<T>(run: (engine: EngineName) => Promise<T>): Promise<Record<EngineName, T>> {
  requireNative();
  const native = await run('native');
  const ts = await run('ts');
  expect(ts).toEqual(native);
  return { native, ts };
}

/** Deterministic pseudo-random numbers for tests (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The message of the error `source` fails a job with (source -> collect) on `engine`. */
export async function failure(source: Source<object>, engine: EngineName = 'ts'): Promise<string> {
  const env = StreamEnvironment.create({ engine });
  env.fromSource(source).sinkTo(new CollectSink());
  try {
    await env.execute();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('the job did not fail');
}
