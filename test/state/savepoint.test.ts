// Savepoints (stop with savepoint on Ctrl-C) and rescaling: a savepoint taken at one
// parallelism resumes at another, keyed state moving by key group.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkpointIds } from '../../ts/runtime/checkpoint-store.js';
import { cli, EVENTS, RATE, root, sortedLines, UNPACED, work } from './checkpoint-jobs.js';
import { ENGINES } from '../engines.js';

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.each(ENGINES)('savepoints and rescaling (%s engine)', (engine) => {
  const kinds = ['process', 'window', 'builtin', 'session', 'count', 'countbuiltin', 'cogroup', 'interval'] as const;
  const cases = kinds.flatMap((kind) => [[kind, 1, 2] as const, [kind, 2, 1] as const]);
  // One test per kind and direction, so that a loaded machine slows each down, not all at once.
  it.each(cases)('%s: stop with a savepoint (Ctrl-C) at parallelism %i, resume at %i: keyed state moves by key group, output as uninterrupted', async (kind, from, to) => {
    {
      const tag = `${engine}-${kind}-${from}-${to}`;
      // The source runs as one subtask (its position is not keyed state); the keyed operator rescales.
      // Paced only where it must be: the run stopped before its end.
      const args = (out: string, p: number, extra: string[], rate: string, checkpoints = join(work, `sp-chk-${tag}`)) => [cli, 'run', 'test/fixtures/jobs/checkpointed.ts', '--engine', engine, '--parallelism', String(p), '--no-progress', ...extra, '--', kind, out, checkpoints, EVENTS, rate, '1'];
      // One uninterrupted run per engine and kind: the output is the same multiset at either parallelism.
      const ref = join(work, `sp-ref-${engine}-${kind}.jsonl`);
      if (!existsSync(ref)) {
        // Its checkpoints go elsewhere: the run below waits for its own first one.
        const r = spawnSync(process.execPath, args(ref, from, [], UNPACED, join(work, `sp-ref-chk-${engine}-${kind}`)), { cwd: root, encoding: 'utf8' });
        expect(r.status, r.stderr).toBe(0);
      }
      const out = join(work, `sp-${tag}.jsonl`);
      const savepoints = join(work, `sp-${tag}`);
      const child = spawn(process.execPath, args(out, from, ['--savepoint-dir', savepoints], RATE), { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
      let ended = false;
      void exited.then(() => (ended = true));
      // Stop once the job made progress (its first checkpoint; it is paced, so its input is far from the end then).
      while (!ended && (checkpointIds(join(work, `sp-chk-${tag}`))[0] ?? 0) === 0) await new Promise((res) => setTimeout(res, 5));
      child.kill('SIGINT');
      expect(await exited, stderr).toBe(130);
      expect(stderr).toMatch(/savepoint at .*sp-.*chk-\d+/);
      const partial = readFileSync(out, 'utf8');
      expect(sortedLines(partial).length).toBeLessThan(sortedLines(readFileSync(ref, 'utf8')).length);
      const resumed = spawnSync(process.execPath, args(out, to, ['--restore-from', savepoints], UNPACED), { cwd: root, encoding: 'utf8' });
      expect(resumed.status, resumed.stderr).toBe(0);
      expect(resumed.stderr).toMatch(/resumed from .*chk-\d+/);
      expect(sortedLines(readFileSync(out, 'utf8'))).toEqual(sortedLines(readFileSync(ref, 'utf8')));
    }
  });

  it('refuses to move state that is not keyed to another parallelism', async () => {
    const dir = join(work, `nk-${engine}`);
    const out = join(work, `nk-${engine}.jsonl`);
    const run = (p: number, extra: string[]) => spawnSync(process.execPath, [cli, 'run', 'test/fixtures/jobs/checkpointed.ts', '--engine', engine, '--parallelism', String(p), '--no-progress', ...extra, '--', 'process', out, dir, '20000', '1000000'], { cwd: root, encoding: 'utf8' });
    expect(run(1, []).status).toBe(0);
    const again = run(2, ['--restore-from', dir]);
    expect(again.status).not.toBe(0);
    expect(again.stderr).toMatch(/has state of 1 subtasks in checkpoint .* and runs at parallelism 2 now; only keyed state .*moves between subtasks, so run it at parallelism 1/);
  });
});
