// Checkpoints and exactly-once recovery: real child processes killed with SIGKILL at random
// moments and resumed from their checkpoints; damaged checkpoints; restart strategies.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileSink, MapStateDescriptor, RestartStrategies, StreamEnvironment, ValueStateDescriptor, type ValueState } from '../../ts/index.js';
import { checkpointIds, findLatest } from '../../ts/runtime/checkpoint-store.js';
import { cli, jobArgs, killAndResume, pacedJobArgs, root, sortedLines, uninterrupted, work } from './checkpoint-jobs.js';
import { ENGINES, rng } from '../engines.js';

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.each(ENGINES)('exactly-once recovery from SIGKILL (%s engine)', (engine) => {
  it.each([
    ['process', 1],
    ['window', 1],
    ['builtin', 1],
    ['process', 2],
    ['window', 2],
    ['builtin', 2],
    ['session', 1],
    ['session', 2],
    ['count', 1],
    ['countbuiltin', 1],
    ['q7', 1],
    // Its windowAll runs in two phases: a pre-aggregation per source subtask, one window after.
    ['q7', 2],
    ['q8', 1],
  ] as const)('%s at parallelism %i: killed at random moments and resumed, the output equals an uninterrupted run', async (kind, parallelism) => {
    const reference = uninterrupted(engine, kind, parallelism);
    // q7 keeps the highest bid per 10 s window: few rows; the others many.
    expect(sortedLines(reference).length).toBeGreaterThan(kind === 'q7' ? 0 : 100);
    const out = join(work, `kill-${engine}-${kind}-${parallelism}.jsonl`);
    const dir = join(work, `kill-${engine}-${kind}-${parallelism}-chk`);
    await killAndResume({ args: pacedJobArgs(kind, out, dir, engine, parallelism, ['--restore-from', 'latest']), out, dir, reference, ordered: parallelism === 1, seed: parallelism * 100 + kind.length });
    // Only the published file remains: no pending or in-progress files.
    expect(readdirSync(work).filter((n) => n.startsWith(`kill-${engine}-${kind}-${parallelism}.jsonl.`))).toEqual([]);
  });
});

describe.each(ENGINES)('exactly-once rolling part files after SIGKILL (%s engine)', (engine) => {
  it.each([
    ['process', 1],
    ['builtin', 2],
  ] as const)('%s at parallelism %i: the published parts, in order, equal an uninterrupted run', async (kind, parallelism) => {
    const reference = uninterrupted(engine, kind, parallelism);
    const out = join(work, `parts-${engine}-${kind}-${parallelism}/`);
    const dir = join(work, `parts-${engine}-${kind}-${parallelism}-chk`);
    await killAndResume({ args: pacedJobArgs(kind, out, dir, engine, parallelism, ['--restore-from', 'latest']), out, dir, reference, ordered: parallelism === 1, seed: 31 + parallelism });
    // Only published parts remain, each subtask's numbered without gaps (a restore deletes the
    // parts after its checkpoint and writes them again); in parallel each subtask writes its own.
    const files = readdirSync(out).sort();
    expect(files.length).toBeGreaterThan(3);
    for (const prefix of parallelism === 1 ? ['part-'] : ['part-0-', 'part-1-']) {
      const mine = files.filter((n) => n.startsWith(prefix) && /^part-(\d+-)?\d{5}\.jsonl$/.test(n) && (parallelism === 1 || n.split('-').length === 3));
      expect(mine.length).toBeGreaterThan(1);
      expect(mine).toEqual(mine.map((_, i) => `${prefix}${String(i).padStart(5, '0')}.jsonl`));
    }
    expect(files.every((n) => /^part-(\d+-)?\d{5}\.jsonl$/.test(n))).toBe(true);
  });
});

/** Four input files of 50 000 records (bad ones among them), CSV or JSONL, with a BOM, CRLF line ends and an unterminated last line. */
function writeInputs(dir: string, format: 'csv' | 'jsonl', overlapping: boolean): void {
  mkdirSync(dir, { recursive: true });
  const random = rng(format.length);
  const items = ['a', 'café', '日本', 'z"q', 'x,y'];
  for (let f = 0; f < 4; f++) {
    const lines: string[] = format === 'csv' ? ['ts,user,item,amount'] : [];
    for (let i = 0; i < 50_000; i++) {
      const ts = (overlapping ? 0 : f * 500_000) + i * 10 + Math.floor(random() * 800);
      const user = 1 + Math.floor(random() * 50);
      const item = items[Math.floor(random() * items.length)]!;
      const bad = (i + f) % 4999 === 0;
      if (format === 'csv') lines.push(`${ts},${user},"${item.replaceAll('"', '""')}",${bad ? 'x' : i % 97}`);
      else lines.push(bad ? `{"ts":${ts},"user":${user},` : JSON.stringify({ ts, user, item, amount: i % 97 }));
    }
    const eol = f === 1 ? '\r\n' : '\n';
    writeFileSync(join(dir, `part-${f}.${format}`), (f === 0 ? '\ufeff' : '') + lines.join(eol) + (f === 3 ? '' : eol));
  }
}

describe.each(ENGINES)('exactly-once recovery of file sources from SIGKILL (%s engine)', (engine) => {
  it.each([
    ['csv', 'interleaved', 1],
    ['jsonl', 'sequential', 2],
  ] as const)('%s files read %s at parallelism %i: output and dead letters equal an uninterrupted run', async (format, mode, parallelism) => {
    const input = join(work, `files-${format}-${mode}`);
    if (!existsSync(input)) writeInputs(input, format, mode === 'interleaved');
    const args = (name: string, extra: string[]) => [
      'run', 'test/fixtures/jobs/files-checkpointed.ts', '--engine', engine, '--parallelism', String(parallelism), '--no-progress', '--batch-size', '1000', ...extra, '--',
      format, mode, input, join(work, `${name}.jsonl`), join(work, `${name}-chk`), join(work, `${name}-dead.jsonl`),
    ];
    const ref = `files-ref-${engine}-${format}-${parallelism}`;
    const p = spawnSync(process.execPath, [cli, ...args(ref, [])], { cwd: root, encoding: 'utf8' });
    expect(p.status, p.stderr).toBe(0);
    const reference = readFileSync(join(work, `${ref}.jsonl`), 'utf8');
    const deadReference = readFileSync(join(work, `${ref}-dead.jsonl`), 'utf8');
    expect(sortedLines(reference).length).toBeGreaterThan(1000);
    expect(sortedLines(deadReference).length).toBeGreaterThan(30);
    const name = `files-kill-${engine}-${format}-${parallelism}`;
    await killAndResume({ args: args(name, ['--restore-from', 'latest']), out: join(work, `${name}.jsonl`), dir: join(work, `${name}-chk`), reference, ordered: parallelism === 1, seed: 7 + parallelism });
    // The source is one subtask: its rejected records come in file order, each once.
    expect(readFileSync(join(work, `${name}-dead.jsonl`), 'utf8')).toBe(deadReference);
  });
});

describe('damaged checkpoints', () => {
  it('are detected by their checksums and skipped for the previous complete one', async () => {
    const out = join(work, 'damaged.jsonl');
    const dir = join(work, 'damaged-chk');
    const run = (extra: string[] = []) => spawnSync(process.execPath, [cli, ...jobArgs('process', out, dir, 'ts', 1, extra).slice(0, -2), '20000', '1000000'], { cwd: root, encoding: 'utf8' });
    expect(run().status).toBe(0);
    // A second run resumes from the first one's final checkpoint and adds its own: at least two.
    expect(run(['--restore-from', 'latest']).status).toBe(0);
    const ids = checkpointIds(dir);
    expect(ids.length).toBe(2); // retain: 2
    const [newest, previous] = ids as [number, number];
    const state = join(dir, `chk-${newest}`, 'state.bin');
    const bytes = readFileSync(state);
    bytes[bytes.length >> 1] ^= 0xff;
    writeFileSync(state, bytes);
    let found = findLatest(dir);
    expect(found.checkpoint!.id).toBe(previous);
    expect(found.skipped[0]).toMatch(/state\.bin fails its checksum: the file is damaged/);
    // A truncated manifest: also skipped.
    const manifest = join(dir, `chk-${previous}`, '_manifest');
    writeFileSync(manifest, readFileSync(manifest).subarray(0, 10));
    found = findLatest(dir);
    expect(found.checkpoint).toBeNull();
    expect(found.skipped[1]).toMatch(/_manifest fails its checksum/);
    // Asked for explicitly, no intact checkpoint is an error that says why.
    const job = () => {
      const env = StreamEnvironment.create({ engine: 'ts' });
      env.enableCheckpointing(1000, { dir }).fromRecords([{ a: 1 }], { a: 'i64' }).sinkTo(FileSink.jsonl(join(work, 'x.jsonl')));
      return env;
    };
    await expect(job().execute('x', { restoreFrom: dir })).rejects.toThrow(/no usable checkpoint in .*damaged-chk: all 2 found are damaged or incomplete \(.*fails its checksum/);
    // 'latest' too: completed checkpoints, all damaged, are not a first run.
    await expect(job().execute('x', { restoreFrom: 'latest' })).rejects.toThrow(/restoreFrom: no usable checkpoint in .*damaged-chk: .*The job did not start; its state would be lost/);
    const fresh = await job().execute('x', { restoreFrom: 'latest', allowFreshStart: true });
    expect(fresh.checkpoints?.restoredFrom).toBeNull();
  });
});

describe.each(ENGINES)('restart strategies (%s engine)', (engine) => {
  it('restart a failed job from its latest checkpoint; the exactly-once file holds each record once', async () => {
    const records = Array.from({ length: 3000 }, (_, i) => ({ user: `u${i % 13}`, n: i }));
    const run = async (failAt: number | null, out: string, strategy = RestartStrategies.fixedDelay(2, 10)) => {
      let failed = false;
      const env = StreamEnvironment.create({ engine, batchSize: 100 });
      env.enableCheckpointing(10, { dir: `${out}-chk` }).setRestartStrategy(strategy);
      let count!: ValueState<number>;
      env
        .fromRecords(records, { user: 'utf8', n: 'i64' })
        .map((r) => {
          // Slow enough (1 ms per 100 records) that checkpoints complete before the failure.
          if (r.n % 100 === 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
          if (!failed && r.n === failAt) {
            failed = true;
            throw new Error('boom');
          }
          return r;
        }, { user: 'utf8', n: 'i64' })
        .keyBy('user')
        .process(
          {
            open: (ctx) => {
              count = ctx.getState(new ValueStateDescriptor<number>('count', 0));
              ctx.getMapState(new MapStateDescriptor<string, number>('unused'));
            },
            processElement: (r, ctx, o) => {
              count.update(count.value()! + 1);
              o.collect({ user: ctx.getCurrentKey(), n: r.n, count: count.value() });
            },
          },
          { user: 'utf8', n: 'i64', count: 'i64' },
        )
        .sinkTo(FileSink.jsonl(out));
      return env.execute('restarts');
    };
    const ref = join(work, `restart-ref-${engine}.jsonl`);
    await run(null, ref);
    const out = join(work, `restart-${engine}.jsonl`);
    const r = await run(2500, out);
    expect(r.restarts).toBe(1);
    expect(r.checkpoints!.restoredFrom).not.toBeNull();
    expect(readFileSync(out, 'utf8')).toBe(readFileSync(ref, 'utf8'));
    await expect(run(2500, join(work, `norestart-${engine}.jsonl`), RestartStrategies.none())).rejects.toThrow(/boom/);
  });

  it('strategies decide when to give up', () => {
    const fixed = RestartStrategies.fixedDelay(2, 5);
    expect([fixed.nextDelay([1]), fixed.nextDelay([1, 2]), fixed.nextDelay([1, 2, 3])]).toEqual([5, 5, null]);
    const exp = RestartStrategies.exponentialDelay(10, 50);
    expect([1, 2, 3, 4].map((n) => exp.nextDelay(Array.from({ length: n }, (_, i) => i)))).toEqual([10, 20, 40, 50]);
    const rate = RestartStrategies.failureRate(2, 1000, 0);
    expect(rate.nextDelay([0, 500])).toBe(0);
    expect(rate.nextDelay([0, 500, 900])).toBeNull();
    expect(rate.nextDelay([0, 500, 1600])).toBe(0);
    expect(RestartStrategies.none().nextDelay([1])).toBeNull();
  });
});

describe.each(ENGINES)('restart strategies in parallel runs (%s engine)', (engine) => {
  it('a task that throws restarts every worker from the latest checkpoint; output as without the failure', async () => {
    const { runJob } = await import('../../ts/index.js');
    const run = async (tag: string, failing: boolean) => {
      const marker = join(work, `fail-once-${engine}-${tag}`);
      if (!failing) writeFileSync(marker, 'no failure');
      const out = join(work, `fail-once-${engine}-${tag}.jsonl`);
      const r = await runJob(new URL('../fixtures/jobs/fail-once.ts', import.meta.url), { engine, parallelism: 2, args: [marker, out, join(work, `fail-once-${engine}-${tag}-chk`)] });
      return { r, lines: sortedLines(readFileSync(out, 'utf8')) };
    };
    const ref = await run('ref', false);
    expect(ref.r.restarts).toBeUndefined();
    const failed = await run('failing', true);
    expect(failed.r.restarts).toBe(1);
    expect(failed.r.checkpoints!.restoredFrom).toMatch(/chk-\d+$/);
    expect(failed.lines.length).toBeGreaterThan(1000);
    expect(failed.lines).toEqual(ref.lines);
  });
});

describe('checkpointing configuration', () => {
  it('shows its settings, and fails at start for state it does not cover', async () => {
    const env = StreamEnvironment.create({ engine: 'ts' });
    env.enableCheckpointing(100, { dir: join(work, 'gap-chk') });
    const { agg, WatermarkStrategy } = await import('../../ts/index.js');
    env
      .fromRecords([{ k: 1, t: 1 }], { k: 'i64', t: 'timestamp' }, WatermarkStrategy.forMonotonousTimestamps<{ k: number; t: number }>().withTimestampAssigner('t'))
      .keyBy('k')
      .countWindow(10)
      .aggregate({ n: agg.count() })
      .sinkTo(FileSink.jsonl(join(work, 'gap.jsonl')));
    // Built-in count windows are covered (their kill and savepoint tests are above and in savepoint.test.ts).
    await env.execute('gap');
    expect(env.explain()).toMatch(/Checkpoints every 100 ms into .*gap-chk \(the newest 3 kept\); restart strategy: no restarts/);
    expect(() => StreamEnvironment.create().enableCheckpointing(5, { dir: 'x' })).toThrow(/at least 10 ms/);
    const { runJob } = await import('../../ts/index.js');
    await expect(runJob(new URL('../fixtures/jobs/range-checkpoint.ts', import.meta.url), { engine: 'ts', parallelism: 2, args: [join(work, 'range.jsonl'), join(work, 'range-chk')] })).rejects.toThrow(
      /range partitioning with sampled boundaries samples again after a restore; give the boundaries/,
    );
    expect(() => StreamEnvironment.create().enableCheckpointing(100, {} as never)).toThrow(/needs \{ dir \}/);
  });
});
