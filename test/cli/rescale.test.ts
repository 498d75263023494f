// Rescaling a running `sluice run` job from outside: POST /api/rescale on its dashboard (token-guarded).
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkpointIds } from '../../ts/runtime/checkpoint-store.js';
import { cli, root, sortedLines, UNPACED, work } from '../state/checkpoint-jobs.js';
import { ENGINES } from '../engines.js';

afterAll(() => rmSync(work, { recursive: true, force: true }));

// Paced at 40 000 events a second (10 s: room for the requests); the reference at full speed (the output does not depend on the pace).
const args = (engine: string, out: string, dir: string, extra: string[], rate = '40000') => [cli, 'run', 'test/fixtures/jobs/checkpointed.ts', '--engine', engine, '--parallelism', '1', '--no-progress', ...extra, '--', 'window', out, dir, '400000', rate, '1'];

describe.each(ENGINES)('sluice run: rescale through the dashboard (%s engine)', (engine) => {
  it('POST /api/rescale with the token rescales the running job; without it, or with a bad body, nothing happens', async () => {
    const ref = join(work, `cli-rs-ref-${engine}.jsonl`);
    const r = spawnSync(process.execPath, args(engine, ref, join(work, `cli-rs-ref-chk-${engine}`), [], UNPACED), { cwd: root, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);

    const out = join(work, `cli-rs-${engine}.jsonl`);
    const dir = join(work, `cli-rs-chk-${engine}`);
    const child = spawn(process.execPath, args(engine, out, dir, ['--ui', '0']), { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let ended = false;
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    void exited.then(() => (ended = true));
    const address = new Promise<string>((res) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        const m = /dashboard at (http:\/\/[^ ]+)\/#token=([^ ]+) /.exec(stderr);
        if (m !== null) res(`${m[1]} ${m[2]}`);
      });
    });
    const [base, token] = (await Promise.race([address, exited.then(() => 'ended ended')])).split(' ') as [string, string];
    expect(base, stderr).not.toBe('ended');
    while (!ended && (checkpointIds(dir)[0] ?? 0) === 0) await new Promise((res) => setTimeout(res, 5));

    const post = (body: string, headers: Record<string, string>) => fetch(`${base}/api/rescale`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    expect((await post('{"parallelism": 2}', {})).status).toBe(403);
    const bad = await post('{"parallelism": 0}', { 'x-sluice-token': token });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/whole number >= 1/);

    const ok = await post('{"parallelism": 2}', { 'x-sluice-token': token });
    const body = (await ok.json()) as { path?: string; error?: string };
    expect(ok.status, body.error).toBe(200);
    expect(body.path).toMatch(/chk-\d+$/);
    const job = (await (await fetch(`${base}/api/job`)).json()) as { parallelism: number; plan: { nodes: { parallelism: number }[] } };
    expect(job.parallelism).toBe(2);
    expect(Math.max(...job.plan.nodes.map((n) => n.parallelism))).toBe(2);

    expect(await exited, stderr).toBe(0);
    expect(stderr).toMatch(/rescaled from parallelism 1 to 2 through savepoint .*chk-\d+/);
    expect(sortedLines(readFileSync(out, 'utf8'))).toEqual(sortedLines(readFileSync(ref, 'utf8')));
  });
});
