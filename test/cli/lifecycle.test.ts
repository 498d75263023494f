/**
 * The command's account of a run: stacks source-mapped to the job's TypeScript, a restore that
 * finds only damaged checkpoints fails unless told to start fresh, and one log line per
 * lifecycle event at the log level asked for.
 */

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkpointIds } from '../../ts/runtime/checkpoint-store.js';

const root = resolve(import.meta.dirname, '../..');
const cli = join(root, 'dist', 'ts', 'cli', 'main.js');
const jobs = join(root, 'test', 'fixtures', 'jobs');
const dir = mkdtempSync(join(tmpdir(), 'sluice-life-'));

function sluice(args: string[]) {
  if (!existsSync(cli)) throw new Error('run `npm run build` first (the CLI test runs dist/ts/cli/main.js)');
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', cwd: root, env: { ...process.env, SLUICE_ENGINE: '' } });
}

/** 1-based line and column of `text` in a file. */
function positionOf(file: string, text: string): string {
  const lines = readFileSync(file, 'utf8').split('\n');
  const line = lines.findIndex((l) => l.includes(text));
  return `${line + 1}:${lines[line]!.indexOf(text) + 1}`;
}

describe('errors with their cause', () => {
  it("a user function's stack points at the job's TypeScript lines and columns, on the calling thread and on workers", () => {
    const file = join(jobs, 'failing-typed.ts');
    // Types come before the throw on its line: the stripped JavaScript has it in another column.
    const thrown = positionOf(file, 'new Error(`bad');
    const caller = positionOf(file, 'check(b, bad);');
    for (const parallelism of ['1', '2']) {
      const r = sluice(['run', file, '--engine', 'ts', '--parallelism', parallelism, '--no-progress', '--', '1009']);
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/sluice: job 'failing-typed' failed in operator 'Map' \(subtask \d\): the function of 'Map' threw on record \d+ \{"auction":1009,/);
      expect(r.stderr).toContain(`at check (${file}:${thrown})`);
      expect(r.stderr).toContain(`(${file}:${caller})`);
    }
  });
});

describe('restoring', () => {
  it('fails loudly when every checkpoint is damaged, and starts fresh only with --allow-fresh-start', () => {
    const out = join(dir, 'damaged.jsonl');
    const chk = join(dir, 'damaged-chk');
    const run = (extra: string[]) => sluice(['run', join(jobs, 'checkpointed.ts'), '--engine', 'ts', '--parallelism', '1', '--no-progress', ...extra, '--', 'process', out, chk, '20000', '1000000']);
    expect(run([]).status).toBe(0);
    const ids = checkpointIds(chk);
    expect(ids.length).toBeGreaterThan(0);
    for (const id of ids) {
      const state = join(chk, `chk-${id}`, 'state.bin');
      const bytes = readFileSync(state);
      bytes[bytes.length >> 1] ^= 0xff;
      writeFileSync(state, bytes);
    }
    const published = readFileSync(out, 'utf8');
    const failed = run(['--restore-from', 'latest']);
    expect(failed.status).toBe(1);
    expect(failed.stderr).toMatch(new RegExp(`restoreFrom: no usable checkpoint in .*damaged-chk: all ${ids.length} found are damaged or incomplete \\(.*state\\.bin fails its checksum`));
    expect(failed.stderr).toContain('start from scratch on purpose with allowFreshStart (sluice run --allow-fresh-start)');
    expect(readFileSync(out, 'utf8')).toBe(published);
    // Starting fresh over the published output also needs --overwrite (the file is not empty).
    const refused = run(['--restore-from', 'latest', '--allow-fresh-start']);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain(`file sink '${out}': the file exists`);
    expect(readFileSync(out, 'utf8')).toBe(published);
    const fresh = run(['--restore-from', 'latest', '--allow-fresh-start', '--overwrite']);
    expect(fresh.status, fresh.stderr).toBe(0);
    expect(fresh.stderr).toMatch(/sluice: warn: SLUICE_FRESH_START Warning: restoreFrom: no usable checkpoint in .*; starting from scratch as allowed/);
    expect(fresh.stderr).not.toMatch(/restored from/);
  });
});

describe('the log', () => {
  it('has one line per start, checkpoint, restore and end at info, and none of them at error', () => {
    const out = join(dir, 'log.jsonl');
    const chk = join(dir, 'log-chk');
    const args = (level: string[], restore: string[] = []) => ['run', join(jobs, 'checkpointed.ts'), '--engine', 'native', '--parallelism', '1', '--no-progress', ...level, ...restore, '--', 'process', out, chk, '20000', '1000000'];
    const info = sluice(args([]));
    expect(info.status, info.stderr).toBe(0);
    const lines = info.stderr.split('\n');
    expect(lines[0]).toBe("sluice: job 'checkpointed' starting on the native engine at parallelism 1");
    const checkpoints = lines.filter((l) => /^sluice: checkpoint \d+ completed in \d+ ms \([\d.]+ KiB, barriers aligned in [\d.]+ ms\): .*log-chk\/chk-\d+$/.test(l));
    expect(checkpoints.length).toBe(Math.max(...checkpointIds(chk))); // ids from 1, one line each
    expect(lines).toContain("sluice: job 'checkpointed' finished at the end of its input");
    const resumed = sluice(args([], ['--restore-from', 'latest']));
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/^sluice: job 'checkpointed' starting on the native engine at parallelism 1, restoring from latest\nsluice: restored from .*log-chk\/chk-\d+\n/);
    const quiet = sluice(args(['--log-level', 'error'], ['--restore-from', 'latest']));
    expect(quiet.status, quiet.stderr).toBe(0);
    expect(quiet.stderr).toBe('');
    const debug = sluice(args(['--log-level', 'debug'], ['--restore-from', 'latest']));
    expect(debug.stderr).toMatch(/sluice: debug: plan:\n/);
    expect(sluice(args(['--log-level', 'loud'])).stderr).toContain("--log-level is 'loud'; use error, warn, info, debug");
  });

  it('shows warnings raised on worker threads at warn, once, and not at --log-level error (both engines)', () => {
    for (const engine of ['native', 'ts']) {
      const args = (level: string[]) => ['run', join(jobs, 'worker-warning.ts'), '--engine', engine, '--parallelism', '2', '--no-progress', ...level];
      const shown = sluice(args([]));
      expect(shown.status, shown.stderr).toBe(0);
      // Both subtasks raise it; the calling thread shows it once, through the log.
      expect(shown.stderr.split('\n').filter((l) => l.includes('the job saw its first bid'))).toEqual(['sluice: warn: JOB_FIRST_BID Warning: the job saw its first bid']);
      const quiet = sluice(args(['--log-level', 'error']));
      expect(quiet.status, quiet.stderr).toBe(0);
      expect(quiet.stderr).toBe('');
    }
  });

  it('says when the job restarts, once, instead of a process warning', () => {
    const out = join(dir, 'restart.jsonl');
    const r = sluice(['run', join(jobs, 'fail-once.ts'), '--engine', 'ts', '--parallelism', '1', '--no-progress', '--', join(dir, 'marker'), out, join(dir, 'restart-chk')]);
    expect(r.status, r.stderr).toBe(0);
    const restarts = r.stderr.split('\n').filter((l) => /restart \d|restarting|SLUICE_RESTART/.test(l));
    expect(restarts).toHaveLength(1);
    expect(restarts[0]).toMatch(/^sluice: warn: restart 1 in 10 ms from the latest checkpoint after a failure: job 'fail-once' failed in operator 'Map' \(subtask 0\): .*injected failure/);
  });
});
