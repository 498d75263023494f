// Updating tables in checkpoints: a job of an updating GROUP BY, a regular join of its result
// with another stream, and a GROUP BY consuming the join's retractions, killed with SIGKILL at random moments and resumed from
// its latest checkpoint; the published changes, applied as upserts and retractions, give the
// same final table as an uninterrupted run (the groups' state, multisets included, restored),
// on both engines.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, killAndResume, paced, publishedOutput, root, UNPACED, work } from './checkpoint-jobs.js';
import { checkpointIds } from '../../ts/runtime/checkpoint-store.js';
import { ENGINES } from '../engines.js';

afterAll(() => rmSync(work, { recursive: true, force: true }));

const EVENTS = '100000';
const RATE = '25000';

const args = (engine: string, out: string, dir: string, rate: string, extra: string[] = []): string[] => ['run', 'test/fixtures/jobs/changelog-checkpointed.ts', '--engine', engine, '--no-progress', ...extra, '--', out, dir, EVENTS, rate];

/** The final table of a changelog (JSON Lines with rowKind), by `category`; each retraction must match what is in the table. */
function finalTable(text: string): string[] {
  const t = new Map<number, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const { rowKind, ...row } = JSON.parse(line) as { rowKind: string; category: number };
    const s = JSON.stringify(row);
    if (rowKind === '+I' || rowKind === '+U') t.set(row.category, s);
    else {
      expect(t.get(row.category), `${rowKind} ${s}`).toBe(s);
      t.delete(row.category);
    }
  }
  return [...t.values()].sort();
}

describe.each(ENGINES)('updating aggregations and a regular join resume from checkpoints (%s engine)', (engine) => {
  it('killed with SIGKILL and resumed: the changes give the uninterrupted run\'s final table', async () => {
    const refOut = join(work, `changelog-ref-${engine}.jsonl`);
    const r = spawnSync(process.execPath, [cli, ...args(engine, refOut, join(work, `changelog-ref-chk-${engine}`), UNPACED)], { cwd: root, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const reference = publishedOutput(refOut);
    const expected = finalTable(reference);
    expect(expected.length).toBe(5);
    const out = join(work, `changelog-${engine}.jsonl`);
    const dir = join(work, `changelog-chk-${engine}`);
    // The output is compared as a final table, not line by line: after a restore the source's
    // batches (and so the mini-batch changes) may fall differently.
    await killAndResume({ args: (slowdown) => args(engine, out, dir, paced(RATE, slowdown), ['--restore-from', 'latest']), out, dir, reference, ordered: false, seed: 22, compare: (final) => expect(finalTable(final)).toEqual(expected) });
  });

  it.each([
    [1, 2],
    [2, 1],
  ])('stopped with a savepoint (Ctrl-C) at parallelism %i, resumed at %i: the groups and join rows move by key group, the final table as uninterrupted', async (from, to) => {
    const tag = `${engine}-${from}-${to}`;
    const run = (out: string, p: number, extra: string[], chk: string, rate: string): string[] => [cli, 'run', 'test/fixtures/jobs/changelog-checkpointed.ts', '--engine', engine, '--parallelism', String(p), '--no-progress', ...extra, '--', out, chk, EVENTS, rate, '1'];
    const ref = join(work, `sp-ref-${tag}.jsonl`);
    const r = spawnSync(process.execPath, run(ref, from, [], join(work, `sp-ref-chk-${tag}`), UNPACED), { cwd: root, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const expected = finalTable(publishedOutput(ref));
    const out = join(work, `sp-${tag}.jsonl`);
    const chk = join(work, `sp-chk-${tag}`);
    const savepoints = join(work, `sp-${tag}`);
    const child = spawn(process.execPath, run(out, from, ['--savepoint-dir', savepoints], chk, RATE), { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    let ended = false;
    void exited.then(() => (ended = true));
    // Stop once the job made progress (its first checkpoint; paced, its input is far from the end then).
    while (!ended && (checkpointIds(chk)[0] ?? 0) === 0) await new Promise((res) => setTimeout(res, 5));
    child.kill('SIGINT');
    expect(await exited, stderr).toBe(130);
    const resumed = spawnSync(process.execPath, run(out, to, ['--restore-from', savepoints], chk, UNPACED), { cwd: root, encoding: 'utf8' });
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resumed from .*chk-\d+|restored from .*chk-\d+/);
    expect(finalTable(publishedOutput(out))).toEqual(expected);
  });
});
