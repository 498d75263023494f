/**
 * The buffer timeout (StreamEnvironment.setBufferTimeout, Flink's): a sender that splits batches
 * among subtasks holds rows in partly filled segments and hands them over, at the latest, after
 * the timeout while its input goes on; 0 (the default) hands them over after every batch. Both
 * engines.
 */

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runJob, StreamEnvironment } from '../../ts/index.js';
import { ENGINES, requireNative } from '../engines.js';

describe('the buffer timeout', () => {
  for (const engine of ENGINES) {
    for (const timeout of [undefined, 100, 20]) {
      it(`hands rows held by a keyed exchange over while a slow input goes on (${engine}, ${timeout === undefined ? 'the default, 0' : `${timeout} ms`})`, async () => {
        if (engine === 'native') requireNative();
        const dir = mkdtempSync(join(tmpdir(), 'sluice-held-'));
        try {
          // Ten rows a source subtask, far fewer than a holding sender keeps before it hands them
          // over by count: the sources end only once the sinks wrote them all, so the job ends
          // only if they went over while the input went on.
          const r = await runJob(new URL('../fixtures/jobs/held-rows.ts', import.meta.url), { engine, parallelism: 2, args: [dir, '10'], ...(timeout === undefined ? {} : { bufferTimeoutMs: timeout }) });
          const keys = readFileSync(join(dir, 'seen'), 'utf8').trim().split('\n').map(Number).sort((a, b) => a - b);
          expect(keys).toEqual([...Array.from({ length: 10 }, (_, i) => i), ...Array.from({ length: 10 }, (_, i) => 1000 + i)]);
          expect(r.operators.filter((m) => m.role === 'sink').reduce((n, m) => n + m.recordsIn, 0)).toBe(20);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      });
    }
  }

  it('hands fuller buffers over when it holds them: a sink batch then holds rows of several source batches (both engines)', async () => {
    requireNative();
    for (const engine of ENGINES) {
      const sizes = async (bufferTimeoutMs: number): Promise<number[]> => {
        const dir = mkdtempSync(join(tmpdir(), 'sluice-held-sizes-'));
        try {
          // 20 batches of 10 rows a source subtask; batches of 64 rows, so a holding sender at
          // parallelism 2 hands over once it has written 64 rows (about 32 a target).
          await runJob(new URL('../fixtures/jobs/held-rows.ts', import.meta.url), { engine, parallelism: 2, batchSize: 64, bufferTimeoutMs, args: [dir, '10', '20'] });
          expect(readFileSync(join(dir, 'seen'), 'utf8').trim().split('\n')).toHaveLength(400);
          return readFileSync(join(dir, 'sizes'), 'utf8').trim().split('\n').map(Number);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      };
      // Without holding, a segment carries one source batch's rows for its target (at most 10).
      expect(Math.max(...(await sizes(0)))).toBeLessThanOrEqual(10);
      expect(Math.max(...(await sizes(100)))).toBeGreaterThan(10);
    }
  });

  for (const q of ['q5', 'q7']) {
    it(`${q}: the same rows at parallelism 4 with rows held as at parallelism 1, on both engines`, async () => {
      requireNative();
      const dir = mkdtempSync(join(tmpdir(), 'sluice-held-q-'));
      try {
        const rows = async (engine: 'native' | 'ts', parallelism: number, bufferTimeoutMs: number): Promise<string[]> => {
          const out = join(dir, `${engine}-${parallelism}-${bufferTimeoutMs}.jsonl`);
          await runJob(new URL(`../../examples/nexmark/${q}.ts`, import.meta.url), { engine, parallelism, bufferTimeoutMs, args: ['60000', out] });
          return readFileSync(out, 'utf8').trim().split('\n').sort();
        };
        const base = await rows('native', 1, 0);
        expect(base.length).toBeGreaterThan(0);
        for (const engine of ENGINES) expect(await rows(engine, 4, 100_000)).toEqual(base);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  for (const engine of ENGINES) {
    it(`a job restarted from its checkpoint while rows were held gives each record once (${engine})`, async () => {
      if (engine === 'native') requireNative();
      const dir = mkdtempSync(join(tmpdir(), 'sluice-held-ckpt-'));
      try {
        // Checkpoints every 20 ms, a paced source's batches of about 3 700 bids, fewer than a
        // sender holds at parallelism 2 before it hands them over by count: barriers find rows
        // held, which must go before them.
        // The reference holds nothing.
        const run = async (tag: string, failing: boolean) => {
          const marker = join(dir, `fail-once-${tag}`);
          if (!failing) writeFileSync(marker, 'no failure');
          const out = join(dir, `${tag}.jsonl`);
          const r = await runJob(new URL('../fixtures/jobs/fail-once.ts', import.meta.url), { engine, parallelism: 2, bufferTimeoutMs: failing ? 50 : 0, args: [marker, out, join(dir, `${tag}-chk`)] });
          return { r, lines: readFileSync(out, 'utf8').split('\n').filter((l) => l !== '').sort() };
        };
        const ref = await run('ref', false);
        const failed = await run('failing', true);
        expect(failed.r.restarts).toBe(1);
        expect(failed.lines.length).toBeGreaterThan(1000);
        expect(failed.lines).toEqual(ref.lines);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('is 0 unless set, and refuses what is not a whole number of ms >= 0, saying what it takes', () => {
    expect(StreamEnvironment.create({ engine: 'ts' }).bufferTimeout).toBe(0);
    expect(StreamEnvironment.create({ engine: 'ts', bufferTimeoutMs: 100 }).bufferTimeout).toBe(100);
    expect(() => StreamEnvironment.create({ engine: 'ts', bufferTimeoutMs: -1 })).toThrow(/the buffer timeout must be a whole number of ms >= 0 \(0: after every batch\), got -1/);
    expect(() => StreamEnvironment.create({ engine: 'ts' }).setBufferTimeout(1.5)).toThrow(/got 1.5/);
  });
});
