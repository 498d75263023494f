// Operator uids (Flink's uid()): a savepoint of one version of a job restores into a changed
// version when the stateful operators keep their uids; state no operator claims fails the
// restore, listing those operators, unless --allow-non-restored-state drops it.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkpointIds } from '../../ts/runtime/checkpoint-store.js';
import { FileSink, NexmarkSource, StreamEnvironment, TumblingEventTimeWindows, WatermarkStrategy, agg } from '../../ts/index.js';
import { cli, root, sortedLines, UNPACED, work } from './checkpoint-jobs.js';
import { ENGINES } from '../engines.js';

afterAll(() => rmSync(work, { recursive: true, force: true }));

const EVENTS = '100000';
const RATE = '40000'; // about 2.5 s of wall time: the savepoint is taken well before the end

function args(engine: string, version: string, uids: 'uids' | 'none', out: string, checkpoints: string, extra: string[] = [], rate = RATE): string[] {
  return [cli, 'run', 'test/fixtures/jobs/evolving.ts', '--engine', engine, '--no-progress', ...extra, '--', version, uids, out, checkpoints, EVENTS, rate];
}

function run(a: string[]) {
  return spawnSync(process.execPath, a, { cwd: root, encoding: 'utf8' });
}

/** Runs version 1 and stops it with a savepoint (Ctrl-C) after its first checkpoint; returns the savepoint root. */
async function savepointOfV1(engine: string, uids: 'uids' | 'none', out: string, tag: string): Promise<string> {
  const checkpoints = join(work, `uid-chk-${tag}`);
  const savepoints = join(work, `uid-sp-${tag}`);
  const child = spawn(process.execPath, args(engine, 'v1', uids, out, checkpoints, ['--savepoint-dir', savepoints]), { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  let ended = false;
  void exited.then(() => (ended = true));
  while (!ended && (checkpointIds(checkpoints)[0] ?? 0) === 0) await new Promise((res) => setTimeout(res, 5));
  child.kill('SIGINT');
  expect(await exited, stderr).toBe(130);
  expect(stderr).toMatch(/savepoint at /);
  return savepoints;
}

describe.each(ENGINES)('operator uids (%s engine)', (engine) => {
  it('a savepoint restores into a changed job (an operator inserted, operators renamed) when the stateful operators keep their uids: output as uninterrupted', async () => {
    const ref = join(work, `uid-ref-${engine}.jsonl`);
    // The reference at full speed (the output does not depend on the pace).
    const r = run(args(engine, 'v1', 'uids', ref, join(work, `uid-ref-chk-${engine}`), [], UNPACED));
    expect(r.status, r.stderr).toBe(0);
    const out = join(work, `uid-${engine}.jsonl`);
    const savepoint = await savepointOfV1(engine, 'uids', out, `${engine}-uids`);
    expect(sortedLines(readFileSync(out, 'utf8')).length).toBeLessThan(sortedLines(readFileSync(ref, 'utf8')).length);

    // The window's uid changed: its state has no owner, so the restore fails before any output is touched.
    const partial = readFileSync(out, 'utf8');
    const v3 = run(args(engine, 'v3', 'uids', out, join(work, `uid-chk-${engine}-v3`), ['--restore-from', savepoint], UNPACED));
    expect(v3.status).not.toBe(0);
    expect(v3.stderr).toMatch(/holds state that no operator of this job claims: 'Window\(.*' \(uid 'per-auction'\)\. .*--allow-non-restored-state/);
    expect(v3.stderr).not.toMatch(/uid 'bids'|uid 'out'/);
    expect(readFileSync(out, 'utf8')).toBe(partial);

    const v2 = run(args(engine, 'v2', 'uids', out, join(work, `uid-chk-${engine}-v2`), ['--restore-from', savepoint], UNPACED));
    expect(v2.status, v2.stderr).toBe(0);
    expect(v2.stderr).toMatch(/resumed from .*chk-\d+/);
    expect(sortedLines(readFileSync(out, 'utf8'))).toEqual(sortedLines(readFileSync(ref, 'utf8')));
  });

  it('--allow-non-restored-state drops the state no operator claims, with a warning naming it', async () => {
    const out = join(work, `uid-drop-${engine}.jsonl`);
    const savepoint = await savepointOfV1(engine, 'uids', out, `${engine}-drop`);
    const v3 = run(args(engine, 'v3', 'uids', out, join(work, `uid-chk-${engine}-drop-v3`), ['--restore-from', savepoint, '--allow-non-restored-state'], UNPACED));
    expect(v3.status, v3.stderr).toBe(0);
    expect(v3.stderr).toMatch(/dropping the state of 'Window\(.*' \(uid 'per-auction'\)/);
    expect(v3.stderr).toMatch(/resumed from .*chk-\d+/);
  });

  it('without uids, an inserted operator moves the generated identities: the restore fails naming the operators whose state it would lose', async () => {
    const out = join(work, `uid-none-${engine}.jsonl`);
    const savepoint = await savepointOfV1(engine, 'none', out, `${engine}-none`);
    const partial = readFileSync(out, 'utf8');
    const v2 = run(args(engine, 'v2', 'none', out, join(work, `uid-chk-${engine}-none-v2`), ['--restore-from', savepoint], UNPACED));
    expect(v2.status).not.toBe(0);
    // The source keeps its place (its position is found); the window and the sink moved.
    expect(v2.stderr).toMatch(/claims: 'Window\(.*' \(operator #2, no uid\), 'Sink: .*' \(operator #3, no uid\)\. Operators are matched by their uid\(\)/);
    expect(readFileSync(out, 'utf8')).toBe(partial);
  });
});

describe('uid() and name()', () => {
  it('uids are unique within a job and cannot look like generated ones', () => {
    const env = StreamEnvironment.create();
    const s = env.fromSource(NexmarkSource.bids({ events: 10 })).uid('bids');
    expect(() => s.filter(() => true).uid('bids')).toThrow("uid 'bids' is already the uid of 'Source: nexmark bids'; an operator's uid must be unique within the job");
    expect(() => s.filter(() => true).uid('a#b')).toThrow(/is not a valid uid; give a non-empty string without '#'/);
    expect(() => s.filter(() => true).uid('')).toThrow(/is not a valid uid/);
    expect(() => s.name('  ')).toThrow(/is not a valid name/);
  });

  it('name() names the operator in the plan, the metrics and its errors; the sink returned by sinkTo takes uid, name and parallelism', async () => {
    const env = StreamEnvironment.create();
    const out = join(work, 'named.jsonl');
    env
      .fromSource(NexmarkSource.bids({ events: 2000 }), WatermarkStrategy.forMonotonousTimestamps())
      .name('bids')
      .filter((b) => b.price >= 0)
      .name('positive prices')
      .keyBy('auction')
      .window(TumblingEventTimeWindows.of(10_000))
      .aggregate({ n: agg.count() })
      .name('bids per auction')
      .sinkTo(FileSink.jsonl(out))
      .uid('out')
      .name('counts file')
      .setParallelism(1);
    const plan = env.explain('text');
    for (const n of ['bids', 'positive prices', 'bids per auction', 'counts file']) expect(plan).toContain(` ${n} (p=`);
    const result = await env.execute('named');
    expect(result.operators.map((o) => o.name)).toEqual(expect.arrayContaining(['bids', 'positive prices', 'bids per auction', 'counts file']));

    const failing = StreamEnvironment.create();
    failing
      .fromSource(NexmarkSource.bids({ events: 10 }))
      .map((b) => {
        if (b.price >= 0) throw new Error('no');
        return b;
      })
      .name('price check')
      .uid('check')
      .sinkTo(FileSink.jsonl(join(work, 'never.jsonl')));
    await expect(failing.execute('failing')).rejects.toThrow(/^job 'failing' failed in operator 'price check' \(uid 'check', subtask 0\): the function of 'price check' threw on record 0 /);
  });
});
