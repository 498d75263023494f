// `sluice run --parallelism auto`: the autoscaler rescales a running checkpointed job from 1 to 2
// when its subtasks are busy, then keeps 2 or goes back to 1 by the records a second it measured.
import { spawn, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, root, UNPACED, work } from '../state/checkpoint-jobs.js';
import { ENGINES } from '../engines.js';

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.each(ENGINES)('sluice run --parallelism auto (%s engine)', (engine) => {
  it('scales a busy job up, judges the scale-up by its throughput, and stops cleanly', async () => {
    const out = join(work, `autoscale-${engine}.jsonl`);
    const dir = join(work, `autoscale-chk-${engine}`);
    // Unpaced, and long (stopped below, once judged; a minute or more at full speed, so that an
    // autoscaler that never acts fails the test when the job ends): its one source subtask and
    // the window are busy all the time, above the low threshold given here on a loaded machine
    // too. The source keeps parallelism 1 (its split state does not move); the window's keyed
    // state does.
    const args = [cli, 'run', 'test/fixtures/jobs/checkpointed.ts', '--engine', engine, '--parallelism', 'auto', '--autoscale-max', '2', '--autoscale-window', '500', '--autoscale-up-busy', '0.2', '--autoscale-down-busy', '0.01', '--no-progress', '--', 'window', out, dir, '200000000', UNPACED, '1'];
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    const waiters: { re: RegExp; found: () => void }[] = [];
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      for (const w of waiters.splice(0)) (w.re.test(stderr) ? w.found : () => waiters.push(w))();
    });
    // Resolves once stderr shows `re`; fails when the process ends first.
    const seen = (re: RegExp): Promise<void> =>
      Promise.race([
        new Promise<void>((found) => (re.test(stderr) ? found() : waiters.push({ re, found }))),
        exited.then((code) => {
          if (!re.test(stderr)) throw new Error(`sluice exited (${code}) before printing ${re}:\n${stderr}`);
        }),
      ]);

    await seen(/autoscaler: rescaling from parallelism 1 to 2: every subtask busy \d+% or more/);
    await seen(/rescaled from parallelism 1 to 2 through savepoint .*chk-\d+/);
    await seen(/autoscaler: (keeping parallelism 2|rescaling back from parallelism 2 to 1): parallelism 2 read [\d.]+ [kM] records\/s against [\d.]+ [kM] at 1/);
    if (/rescaling back/.test(stderr)) await seen(/rescaled from parallelism 2 to 1 through savepoint/);
    child.kill('SIGINT');
    expect(await exited, stderr).toBe(130);
    expect(stderr).not.toMatch(/autoscaler: the rescale .* failed/);
  });
});

describe('sluice run --parallelism auto: usage', () => {
  const sluice = (args: string[]) => spawnSync(process.execPath, [cli, 'run', join(root, 'test', 'fixtures', 'cli-pipeline.ts'), ...args, '--', '1000', join(work, 'usage.jsonl')], { cwd: root, encoding: 'utf8' });

  it('needs a checkpointing job, and its options go with it', () => {
    const r = sluice(['--parallelism', 'auto']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--parallelism auto rescales the job through savepoints, so the job must checkpoint/);
    const s = sluice(['--parallelism', '1', '--autoscale-max', '2']);
    expect(s.status).toBe(2);
    expect(s.stderr).toMatch(/--autoscale-max goes with --parallelism auto/);
    const a = sluice(['--parallelism', 'auto', '--application-id', 'app', '--bootstrap', '127.0.0.1:9']);
    expect(a.status).toBe(2);
    expect(a.stderr).toMatch(/--parallelism auto does not go with --application-id/);
  });
});
