// The non-windowed top-N's state in checkpoints: a job ranking bids per auction (ROW_NUMBER()
// ... <= 3), killed with SIGKILL at random moments and resumed from its latest checkpoint, or
// stopped with a savepoint at parallelism 1 and resumed at 2; the published changes, applied as
// upserts by (auction, rank) and retractions, give the same final table as an uninterrupted
// run (each partition's kept rows restored, moved by key group on a rescale), on both engines.
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
const JOB = 'test/fixtures/jobs/rank-checkpointed.ts';

/** The final table of a changelog by (auction, rn); each -U/-D must retract what is there, each +I a new rank. */
function finalTable(text: string): string[] {
  const t = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const { rowKind, ...row } = JSON.parse(line) as { rowKind: string; auction: number; rn: number };
    const key = `${row.auction}/${row.rn}`;
    const s = JSON.stringify(row);
    // A lost state would insert a rank that is there, or retract a row that is not.
    if (rowKind === '+I') expect(t.has(key), `+I ${s}`).toBe(false);
    if (rowKind === '+I' || rowKind === '+U') t.set(key, s);
    else {
      expect(t.get(key), `${rowKind} ${s}`).toBe(s);
      t.delete(key);
    }
  }
  return [...t.values()].sort();
}

describe.each(ENGINES)('the updating top-N resumes from checkpoints (%s engine)', (engine) => {
  it("killed with SIGKILL and resumed: the changes give the uninterrupted run's final table", async () => {
    const args = (out: string, dir: string, rate: string, extra: string[] = []): string[] => ['run', JOB, '--engine', engine, '--no-progress', ...extra, '--', out, dir, EVENTS, rate];
    const refOut = join(work, `rank-ref-${engine}.jsonl`);
    const r = spawnSync(process.execPath, [cli, ...args(refOut, join(work, `rank-ref-chk-${engine}`), UNPACED)], { cwd: root, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const reference = publishedOutput(refOut);
    const expected = finalTable(reference);
    expect(expected.length).toBeGreaterThan(1000);
    const out = join(work, `rank-${engine}.jsonl`);
    const dir = join(work, `rank-chk-${engine}`);
    await killAndResume({ args: (slowdown) => args(out, dir, paced(RATE, slowdown), ['--restore-from', 'latest']), out, dir, reference, ordered: false, seed: 19, compare: (final) => expect(finalTable(final)).toEqual(expected) });
  });

  it('stopped with a savepoint (Ctrl-C) at parallelism 1, resumed at 2: the partitions move by key group, the final table as uninterrupted', async () => {
    const run = (out: string, p: number, extra: string[], chk: string, rate: string): string[] => [cli, 'run', JOB, '--engine', engine, '--parallelism', String(p), '--no-progress', ...extra, '--', out, chk, EVENTS, rate, '1'];
    const ref = join(work, `rank-sp-ref-${engine}.jsonl`);
    const r = spawnSync(process.execPath, run(ref, 1, [], join(work, `rank-sp-ref-chk-${engine}`), UNPACED), { cwd: root, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const expected = finalTable(publishedOutput(ref));
    const out = join(work, `rank-sp-${engine}.jsonl`);
    const chk = join(work, `rank-sp-chk-${engine}`);
    const savepoints = join(work, `rank-sp-${engine}`);
    const child = spawn(process.execPath, run(out, 1, ['--savepoint-dir', savepoints], chk, RATE), { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    let ended = false;
    void exited.then(() => (ended = true));
    while (!ended && (checkpointIds(chk)[0] ?? 0) === 0) await new Promise((res) => setTimeout(res, 5));
    child.kill('SIGINT');
    expect(await exited, stderr).toBe(130);
    const resumed = spawnSync(process.execPath, run(out, 2, ['--restore-from', savepoints], chk, UNPACED), { cwd: root, encoding: 'utf8' });
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resumed from .*chk-\d+|restored from .*chk-\d+/);
    expect(finalTable(publishedOutput(out))).toEqual(expected);
  });
});
