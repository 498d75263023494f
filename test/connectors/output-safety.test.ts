/**
 * An existing output file survives a run that fails or is killed: the single-file sink writes
 * under a temporary name and renames it over the file only when its input ended. With
 * checkpoints a fresh run does not start over a non-empty file unless told to overwrite it.
 */

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileSink, NexmarkSource, RestartStrategies, StreamEnvironment, type EngineName } from '../../ts/index.js';
import { ENGINES, onBothEngines, requireNative } from '../engines.js';

const root = resolve(import.meta.dirname, '..', '..');
const cli = join(root, 'dist', 'ts', 'cli', 'main.js');
const fresh = (): string => mkdtempSync(join(tmpdir(), 'sluice-out-'));
const OLD = '{"previous":"output"}\n';

/** Records 0..n-1; the map throws at `failAt` (after earlier batches reached the sink). */
async function run(engine: EngineName, out: string, format: 'jsonl' | 'csv', failAt: number | null): Promise<string> {
  const env = StreamEnvironment.create({ engine, batchSize: 10 });
  const records = Array.from({ length: 100 }, (_, i) => ({ i, name: `n${i}` }));
  env
    .fromRecords(records, { i: 'i64', name: 'utf8' })
    .map((r) => {
      if (r.i === failAt) throw new Error(`record ${r.i} is bad`);
      return r;
    })
    .sinkTo(format === 'csv' ? FileSink.csv(out) : FileSink.jsonl(out));
  try {
    await env.execute('output-safety');
    return 'finished';
  } catch (e) {
    return (e as Error).message.split('\n')[0]!;
  }
}

describe('an existing output file is never destroyed', () => {
  it('a failing job leaves the existing file as it was and no temporary file behind (JSONL and CSV, both engines)', async () => {
    const results = await onBothEngines(async (engine) => {
      const seen: string[] = [];
      for (const format of ['jsonl', 'csv'] as const) {
        const dir = fresh();
        const out = join(dir, `out.${format}`);
        writeFileSync(out, OLD);
        seen.push(await run(engine, out, format, 57));
        expect(readFileSync(out, 'utf8')).toBe(OLD);
        expect(readdirSync(dir)).toEqual([`out.${format}`]);
      }
      return seen;
    });
    expect(results.native[0]).toMatch(/record 57 is bad/);
  });

  it('a job that ends replaces the file with its whole output in one rename (both engines)', async () => {
    await onBothEngines(async (engine) => {
      const dir = fresh();
      const out = join(dir, 'out.csv');
      writeFileSync(out, OLD);
      expect(await run(engine, out, 'csv', null)).toBe('finished');
      const text = readFileSync(out, 'utf8');
      expect(readdirSync(dir)).toEqual(['out.csv']);
      return text;
    }).then(({ native }) => {
      const lines = native.trim().split('\n');
      expect(lines[0]).toBe('i,name');
      expect(lines).toHaveLength(101);
    });
  });

  it('a stopped job publishes what it wrote as a whole file; stopped before any row, it keeps the existing file (both engines)', async () => {
    await onBothEngines(async (engine) => {
      const outcome: unknown[] = [];
      for (const early of [true, false]) {
        const dir = fresh();
        const out = join(dir, 'out.jsonl');
        writeFileSync(out, OLD);
        const env = StreamEnvironment.create({ engine, batchSize: 100 });
        env.fromSource(NexmarkSource.bids({ events: 1e9, targetRatePerSec: 20_000 })).sinkTo(FileSink.jsonl(out));
        const stop = new AbortController();
        if (early) stop.abort();
        const running = env.execute('stopped', { signal: stop.signal });
        if (!early) {
          const tmp = join(dir, `.out.jsonl.inprogress-${process.pid}`);
          while (!(existsSync(tmp) && statSync(tmp).size > 1000)) await new Promise((r) => setTimeout(r, 10));
          stop.abort();
        }
        const result = await running;
        const text = readFileSync(out, 'utf8');
        expect(readdirSync(dir)).toEqual(['out.jsonl']);
        if (early) expect(text).toBe(OLD);
        else {
          expect(text.endsWith('\n')).toBe(true);
          const lines = text.trim().split('\n').map((l) => JSON.parse(l) as { auction: number });
          expect(lines.length).toBeGreaterThan(0);
          expect(lines[0]).toHaveProperty('auction');
        }
        outcome.push({ early, cancelled: result.cancelled });
      }
      return outcome;
    });
  });

  for (const engine of ENGINES) {
    it(`a run killed with SIGKILL while writing leaves the existing file whole (${engine} engine)`, async () => {
      requireNative();
      const dir = fresh();
      const out = join(dir, 'out.jsonl');
      writeFileSync(out, OLD);
      const child = spawn(process.execPath, [cli, 'run', join(root, 'test', 'fixtures', 'jobs', 'file-output.ts'), '--engine', engine, '--parallelism', '1', '--progress-interval', '100', '--', out, 'jsonl'], { cwd: root });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_code, signal) => r(signal)));
      // Ready: the job reports progress, and this run's output is being written (its temporary file grows).
      const tmp = join(dir, `.out.jsonl.inprogress-${child.pid}`);
      const ready = (): boolean => /\[file-output\] in /.test(stderr) && existsSync(tmp) && statSync(tmp).size > 10_000;
      // (A sink writing into the output itself would change it before its temporary file appears: stop waiting then.)
      while (child.exitCode === null && !ready() && readFileSync(out, 'utf8') === OLD) {
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(child.exitCode, stderr).toBeNull();
      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');
      expect(readFileSync(out, 'utf8')).toBe(OLD);
      // What the killed run wrote stays hidden under its temporary name, never under the output's.
      const lines = readFileSync(tmp, 'utf8').split('\n');
      expect(JSON.parse(lines[0]!)).toHaveProperty('auction');
    });
  }
});

/** Records 0..99 into `out` in a job checkpointing into `chk`, with a restart strategy (a refusal is never retried). */
async function checkpointed(engine: EngineName, out: string, chk: string, format: 'jsonl' | 'csv', o: { sinkOverwrite?: boolean; overwrite?: boolean; restore?: boolean } = {}): Promise<string> {
  const env = StreamEnvironment.create({ engine, batchSize: 10 });
  env.enableCheckpointing(50, { dir: chk });
  env.setRestartStrategy(RestartStrategies.fixedDelay(2, 10));
  const records = Array.from({ length: 100 }, (_, i) => ({ i, name: `n${i}` }));
  const options = o.sinkOverwrite === true ? { overwrite: true } : {};
  env.fromRecords(records, { i: 'i64', name: 'utf8' }).sinkTo(format === 'csv' ? FileSink.csv(out, options) : FileSink.jsonl(out, options));
  const events: string[] = [];
  try {
    await env.execute('checkpointed-output', { overwrite: o.overwrite === true, onEvent: (e) => events.push(e.kind), ...(o.restore === true ? { restoreFrom: 'latest' } : {}) });
    return 'finished';
  } catch (e) {
    expect(events).toEqual([]); // failed at set-up: no restart, no checkpoint
    return (e as Error).message;
  }
}

describe('a fresh checkpointed run and an existing output file', () => {
  it('refuses a non-empty file before touching anything, names it and says what to do; overwrite or a restore proceed (JSONL and CSV, both engines)', async () => {
    await onBothEngines(async (engine) => {
      for (const format of ['jsonl', 'csv'] as const) {
        const dir = fresh();
        const out = join(dir, `out.${format}`);
        const chk = join(fresh(), 'chk');
        writeFileSync(out, OLD);
        const refused = await checkpointed(engine, out, chk, format);
        expect(refused).toContain(`file sink '${out}': the file exists (${OLD.length} bytes) and a fresh run of a checkpointing job starts its output file anew; the job did not start and the file is untouched`);
        expect(refused).toContain(`sluice run --overwrite, ExecuteOptions.overwrite, or FileSink.${format}(path, { overwrite: true })`);
        expect(refused).toContain('sluice run --restore-from');
        expect(readFileSync(out, 'utf8')).toBe(OLD);
        expect(readdirSync(dir)).toEqual([`out.${format}`]);
        expect(existsSync(chk)).toBe(false);
        // Allowed by the sink's option, or by the run's.
        expect(await checkpointed(engine, out, chk, format, { sinkOverwrite: true })).toBe('finished');
        const written = readFileSync(out, 'utf8');
        expect(written).not.toContain('previous');
        expect(written.trim().split('\n')).toHaveLength(format === 'csv' ? 101 : 100);
        writeFileSync(out, OLD);
        expect(await checkpointed(engine, out, join(fresh(), 'chk'), format, { overwrite: true })).toBe('finished');
        expect(readFileSync(out, 'utf8')).toBe(written);
        // A restore continues the file without being told to overwrite it.
        expect(await checkpointed(engine, out, chk, format, { restore: true })).toBe('finished');
        expect(readFileSync(out, 'utf8')).toBe(written);
        // An empty file holds nothing to lose.
        writeFileSync(out, '');
        expect(await checkpointed(engine, out, join(fresh(), 'chk'), format)).toBe('finished');
        expect(readFileSync(out, 'utf8')).toBe(written);
      }
    });
  });

  for (const engine of ENGINES) {
    it(`sluice run refuses it at parallelism 1 and 2 unless --overwrite (${engine} engine)`, () => {
      requireNative();
      for (const parallelism of ['1', '2']) {
        const dir = fresh();
        const out = join(dir, 'out.jsonl');
        const chk = join(dir, 'chk');
        writeFileSync(out, OLD);
        const run = (extra: string[]) =>
          spawnSync(process.execPath, [cli, 'run', join(root, 'test', 'fixtures', 'jobs', 'checkpointed.ts'), '--engine', engine, '--parallelism', parallelism, '--no-progress', ...extra, '--', 'window', out, chk, '20000', '1000000'], { cwd: root, encoding: 'utf8' });
        const refused = run([]);
        expect(refused.status).toBe(1);
        expect(refused.stderr).toContain(`file sink '${out}': the file exists (${OLD.length} bytes)`);
        expect(readFileSync(out, 'utf8')).toBe(OLD);
        expect(readdirSync(dir)).toEqual(['out.jsonl']);
        const replaced = run(['--overwrite']);
        expect(replaced.status, replaced.stderr).toBe(0);
        const written = readFileSync(out, 'utf8');
        expect(written).not.toContain('previous');
        expect(written.length).toBeGreaterThan(100);
        const resumed = run(['--restore-from', 'latest']);
        expect(resumed.status, resumed.stderr).toBe(0);
        expect(readFileSync(out, 'utf8')).toBe(written);
      }
    });
  }
});
