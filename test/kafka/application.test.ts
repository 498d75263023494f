// A job run as a Kafka application across processes (docs/application-mode.md), against the real
// broker: 3 instances of a keyed windowed job (the built-in window, or a keyed process function
// with state and event-time timers) (`sluice run --application-id`, separate processes)
// share an input topic of 6 partitions (JSON events, partitioned by the key); one instance is
// SIGKILLed while it works (the first that has completed checkpoints of an unfinished task once all 3 joined), the survivors take its tasks over once the broker has dropped it
// (session timeout), and a new instance started later is given a share. At the end the output
// read with read_committed must equal a single-process run's: every window exactly once, and
// each transaction under its own producer id.
//
// Every step waits for what the processes report (their log lines) or for what the broker
// holds, never for a guessed time.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { chromium } from 'playwright-core';
import { requireNative } from '../engines.js';
import { chromiumPath } from '../ui/chromium.js';
import { createTopic, earliestOffsets, expectedWindows, groupOffsets, latestOffsets, produce, readCommitted, readLog, topicSettings, uid, windowOf, type TestRecord } from './helpers.js';
import { expectExactlyOnce, run } from './job-runs.js';

const bootstrap = inject('kafkaBootstrap');
const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = `${root}dist/ts/cli/main.js`;
const work = mkdtempSync(join(tmpdir(), 'sluice-kafka-app-'));
const JOB = 'test/fixtures/jobs/kafka-app-window.ts';
const N = 48_000;
const PARTITIONS = 6;
const T0 = 1_700_000_000_000;

/** The records of expectedWindows(N) (user i % 40, 10 ms apart), each in the partition of its user: the input is partitioned by the job's key. */
function keyedInput(n: number): TestRecord[] {
  return Array.from({ length: n }, (_, i) => ({ partition: (i % 40) % PARTITIONS, key: String(i % 40), value: JSON.stringify({ user: i % 40, amount: i % 97, ts: T0 + i * 10 }) }));
}

interface Instance {
  readonly name: string;
  readonly child: ChildProcess;
  readonly lines: string[];
  /** Resolves with the first line (seen so far or later) that matches; rejects when the process ends first. */
  waitFor(re: RegExp, what: string): Promise<string>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started: Instance[] = [];
afterEach(() => {
  for (const i of started.splice(0)) if (i.child.exitCode === null && i.child.signalCode === null) i.child.kill('SIGKILL');
});

function instance(name: string, engine: string, args: readonly string[], job = JOB): Instance {
  const child = spawn(process.execPath, [cli, 'run', job, '--engine', engine, '--no-progress', '--batch-size', '200', ...args], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  let ended = false;
  const enders: (() => void)[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => {
    lines.push(line);
    for (const w of waiters.splice(0)) {
      if (w.re.test(line)) w.resolve(line);
      else waiters.push(w);
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.on('exit', (code, signal) => {
      ended = true;
      enders.splice(0).forEach((f) => f());
      r({ code, signal });
    }),
  );
  const i: Instance = {
    name,
    child,
    lines,
    exited,
    waitFor: (re, what) =>
      new Promise((resolve, reject) => {
        const seen = lines.find((l) => re.test(l));
        if (seen !== undefined) return resolve(seen);
        const fail = (): void => reject(new Error(`instance ${name} ended before ${what}:\n${lines.join('\n')}`));
        if (ended) return fail();
        waiters.push({ re, resolve });
        enders.push(fail);
      }),
  };
  started.push(i);
  return i;
}

/** The tasks an instance holds after its latest assignment. */
function tasksOf(i: Instance): number[] {
  const last = [...i.lines].reverse().find((l) => / generation \d+: tasks \[/.test(l));
  const m = last === undefined ? null : /tasks \[([\d,]*)\]/.exec(last);
  return m === null || m[1] === '' ? [] : m[1]!.split(',').map(Number);
}

/** Task `t` has finished on instance `i` since it last started there. */
function finishedOn(i: Instance, t: number): boolean {
  const started = i.lines.findLastIndex((l) => new RegExp(`task ${t} started`).test(l));
  return started >= 0 && i.lines.findLastIndex((l) => new RegExp(`task ${t} finished`).test(l)) > started;
}

/**
 * Instance `i` runs a task not finished yet and has completed 3 checkpoints since it last
 * started a task (part of its output committed), while it still works.
 */
function workingOnTasks(i: Instance): boolean {
  const lastStart = i.lines.findLastIndex((l) => /task \d+ started/.test(l));
  return lastStart >= 0 && tasksOf(i).some((t) => !finishedOn(i, t)) && i.lines.slice(lastStart).filter((l) => /checkpoint \d+ completed/.test(l)).length >= 3;
}

/** Waits (polling the instances' lines) until `cond` holds. */
async function until(cond: () => boolean, what: string, instances: readonly Instance[]): Promise<void> {
  const deadline = Date.now() + 180_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}:\n${instances.map((i) => `--- ${i.name}\n${i.lines.join('\n')}`).join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// CI runs the window job on the native engine and the process-function job on the TS engine;
// SLUICE_KAFKA_KILL_TESTS=1 runs all four combinations.
const all = process.env.SLUICE_KAFKA_KILL_TESTS === '1';
const cases = ([
  ['native', 'window'],
  ['ts', 'process'],
  ['ts', 'window'],
  ['native', 'process'],
] as const).filter((_, i) => all || i < 2);

/**
 * Topics for one test (`prefix`: their names' start), the input produced, and the reference:
 * the same job as one process (not an application), unpaced, whose windows must be the expected.
 */
async function prepare(prefix: string, engine: string, how: string): Promise<{ input: string; out: string; want: string[]; reference: string[] }> {
  const input = `${prefix}in-${uid()}`;
  const out = `${prefix}out-${uid()}`;
  const single = `${prefix}single-${uid()}`;
  await createTopic(bootstrap, input, PARTITIONS);
  await createTopic(bootstrap, out, 3);
  await createTopic(bootstrap, single, 3);
  await produce(bootstrap, input, keyedInput(N));
  const want = expectedWindows(N);
  const ref = await run(bootstrap, ['run', JOB, '--engine', engine, '--parallelism', '1', '--no-progress', '--', bootstrap, input, single, `ref-${single}`, join(work, `ref-${single}`), '0', how], single, null);
  expect(ref.code, ref.stderr).toBe(0);
  const reference = (await readCommitted(bootstrap, single, true)).map((r) => windowOf(r.value)).sort();
  expect(reference).toEqual(want);
  return { input, out, want, reference };
}

/** Whether every task (of `tasks`) has finished on the instance that holds it. */
function allFinished(instances: readonly Instance[], tasks = PARTITIONS): boolean {
  return Array.from({ length: tasks }, (_, t) => t).every((t) => instances.some((i) => tasksOf(i).includes(t) && finishedOn(i, t)));
}

/** Two instances of `job` with `args`, once both joined and every one of `tasks` tasks finished where it is now. */
async function finishedPair(engine: string, args: readonly string[], job: string, tasks: number, what: string): Promise<Instance[]> {
  const pair = [instance('a', engine, args, job), instance('b', engine, args, job)];
  await until(() => allFinished(pair, tasks) && pair.every((i) => i.lines.some((l) => / generation \d+: tasks/.test(l))), `both joined and every task of ${what} finished`, pair);
  return pair;
}

/** Stops the instances (SIGTERM) and waits until they are gone. */
async function stopAll(instances: readonly Instance[]): Promise<void> {
  for (const i of instances) i.child.kill('SIGTERM');
  for (const i of instances) await i.exited;
}

/**
 * Two instances of `job` with `args`; once both joined, the one working on its tasks is
 * SIGKILLed (it must have had unfinished tasks) and a new one started; returns once every one of
 * `tasks` tasks finished on the survivors, both holding tasks, and they are stopped.
 */
async function killOneOfTwo(engine: string, args: readonly string[], job: string, tasks: number, what: string): Promise<void> {
  const pair = [instance('a', engine, args, job), instance('b', engine, args, job)];
  await until(() => pair.every((i) => i.lines.some((l) => / generation \d+: tasks/.test(l))) && pair.some(workingOnTasks), 'both joined and one has worked on its tasks', pair);
  const victim = pair.find(workingOnTasks)!;
  victim.child.kill('SIGKILL');
  await victim.exited;
  expect(tasksOf(victim).filter((t) => !finishedOn(victim, t)).length, `instance ${victim.name} finished its tasks before it was killed:\n${victim.lines.join('\n')}`).toBeGreaterThan(0);
  // The survivor takes the dead one's tasks once its session timed out; a new instance gets a share.
  const survivors = [pair.find((i) => i !== victim)!, instance('c', engine, args, job)];
  await until(() => allFinished(survivors, tasks) && survivors.every((i) => tasksOf(i).length > 0), `every task of ${what} finished on the survivors, both holding tasks`, [...pair, survivors[1]!]);
  await stopAll(survivors);
}

describe('a job as a Kafka application of several processes', () => {
  it.each(cases)('%s engine, %s job: 3 instances, one SIGKILLed mid-run, a new one later: every window exactly once, as a single process', async (engine, how) => {
    requireNative();
    const { input, out, want, reference } = await prepare('app-', engine, how);

    const app = `app-${uid()}`;
    // Paced to 1 record per ms per task (8000 records each), each task on one of its instance's task threads: an instance of 2 tasks has at least 8 s of work.
    // The default session (10 s): heartbeats run on a thread of their own, so a paced instance's busy task threads do not stall them (the zombie and stall tests below use 6 s).
    const args = ['--application-id', app, '--bootstrap', bootstrap, '--', bootstrap, input, out, `eo-${out}`, join(work, `chk-${out}`), '1', how];
    const a = instance('a', engine, args);
    const b = instance('b', engine, args);
    const c = instance('c', engine, args);
    const trio = [a, b, c];
    // The victim: once all 3 have joined, the first instance working on its tasks.
    await until(() => trio.every((i) => tasksOf(i).length > 0 || i.lines.some((l) => / generation \d+: tasks/.test(l))) && trio.some(workingOnTasks), 'all 3 joined and one has worked on its tasks', trio);
    const victim = trio.find(workingOnTasks)!;
    victim.child.kill('SIGKILL');
    await victim.exited;
    const unfinished = tasksOf(victim).filter((t) => !finishedOn(victim, t));
    expect(unfinished.length, `instance ${victim.name} finished its tasks before it was killed:\n${victim.lines.join('\n')}`).toBeGreaterThan(0);

    // The survivors take the dead instance's tasks once the broker dropped it (its session timed out).
    const pair = trio.filter((i) => i !== victim);
    await until(() => new Set(pair.flatMap(tasksOf)).size === PARTITIONS && pair.every((i) => tasksOf(i).length === 3), 'the 2 survivors hold 3 tasks each', trio);
    for (const t of unfinished) {
      const taker = pair.find((i) => tasksOf(i).includes(t))!;
      await taker.waitFor(new RegExp(`task ${t} started`), `task ${t} restarting`);
    }

    // A new instance: the others hand it tasks (cooperatively: each stops one, then it is given them).
    const d = instance('d', engine, args);
    const quartet = [...pair, d];
    await until(() => tasksOf(d).length === 2 && new Set(quartet.flatMap(tasksOf)).size === PARTITIONS, 'the new instance holds 2 tasks', [...trio, d]);

    // Every task finished on the instance that holds it now (each restores its checkpoint and runs to the end of its partition).
    await until(
      () => allFinished(quartet),
      'every task finished',
      [...trio, d],
    );
    for (const i of quartet) i.child.kill('SIGTERM');
    for (const i of quartet) {
      const r = await i.exited;
      expect(r.signal === null ? r.code : r.signal, i.lines.join('\n')).not.toBe('SIGKILL');
      // The start line says how the job runs: tasks at parallelism 1, not the environment's.
      expect(i.lines.some((l) => l.includes(`as Kafka application '${app}' (each task at parallelism 1, on up to `)), i.lines.join('\n')).toBe(true);
    }
    // SLUICE_APP_TEST_LOG=<file>: what each instance reported, to read afterwards.
    if (process.env.SLUICE_APP_TEST_LOG !== undefined) writeFileSync(process.env.SLUICE_APP_TEST_LOG, [...trio, d].map((i) => `--- ${i.name}\n${i.lines.join('\n')}`).join('\n'));
    const got = (await readCommitted(bootstrap, out, true)).map((r) => windowOf(r.value)).sort();
    expect(got).toEqual(reference);
    await expectExactlyOnce(bootstrap, out, want);
  });
});

// A zombie: an instance paused (SIGSTOP) until the group has given its tasks to the others, then
// resumed (SIGCONT) while its tasks still run. The others claimed those tasks (a larger owner
// epoch, see task-ownership.ts) before choosing their checkpoints, so whatever the zombie still
// tries (a checkpoint, a commit, a write to a fenced transaction) is refused, and the output
// stays exactly once. Its heartbeats run on a thread of their own, so only a paused process
// (not a busy thread) loses its place.
describe('a paused instance (a zombie) cannot corrupt the tasks it lost', () => {
  it.each(cases)('%s engine, %s job: 3 instances, one paused until the others run its tasks, then resumed: gives them up, every window exactly once', async (engine, how) => {
    requireNative();
    const { input, out, want, reference } = await prepare('z', engine, how);

    const app = `zapp-${uid()}`;
    // The broker's shortest session (6 s): the zombie is dropped soon after it is paused.
    const args = ['--application-id', app, '--bootstrap', bootstrap, '--session-timeout', '6000', '--', bootstrap, input, out, `eo-${out}`, join(work, `chk-${out}`), '1', how];
    const trio = [instance('a', engine, args), instance('b', engine, args), instance('c', engine, args)];
    await until(() => trio.every((i) => i.lines.some((l) => / generation \d+: tasks/.test(l))) && trio.some(workingOnTasks), 'all 3 joined and one has worked on its tasks', trio);
    const zombie = trio.find(workingOnTasks)!;
    const pair = trio.filter((i) => i !== zombie);
    // The tasks it runs as it is paused: started and not yet stopped, finished or given up.
    const held = Array.from({ length: PARTITIONS }, (_, t) => t).filter((t) => {
      const lastStart = zombie.lines.findLastIndex((l) => new RegExp(`task ${t} started`).test(l));
      return lastStart >= 0 && !zombie.lines.slice(lastStart).some((l) => new RegExp(`task ${t} (stopped|finished|was fenced)|task ${t}: .* refused`).test(l));
    });
    expect(held.length, zombie.lines.join('\n')).toBeGreaterThan(0);
    const before = pair.map((i) => i.lines.length);
    zombie.child.kill('SIGSTOP');
    // The others claim its tasks once the broker dropped it; the zombie's tasks still "run" (paused).
    await until(() => new Set(pair.flatMap(tasksOf)).size === PARTITIONS, 'the 2 others hold every task', trio);
    for (const t of held) {
      const taker = pair.find((i) => tasksOf(i).includes(t))!;
      await until(() => taker.lines.slice(before[pair.indexOf(taker)]).some((l) => new RegExp(`task ${t} claimed as owner-`).test(l)), `task ${t} claimed by ${taker.name}`, trio);
    }
    const resumedAt = zombie.lines.length;
    zombie.child.kill('SIGCONT');
    // Resumed, the zombie learns it lost its tasks: from the group (its member is gone), from its
    // ownership check (a checkpoint or commit refused) or from the broker (a fenced transaction).
    await until(() => held.every((t) => zombie.lines.slice(resumedAt).some((l) => new RegExp(`task ${t} (stopped|was fenced)|task ${t}: .* refused`).test(l))), 'the zombie gave up its tasks', trio);
    // Which comes first after SIGCONT is a race: the group's answer to its heartbeat (it stops the
    // task and tries nothing more) or the task's overdue checkpoint (refused by its ownership check,
    // or its transaction fenced by the broker); task-ownership.test.ts covers the refusal itself.
    // Either way the zombie finished none of its held tasks before giving it up.
    const after = zombie.lines.slice(resumedAt);
    for (const t of held) {
      const gaveUp = after.findIndex((l) => new RegExp(`task ${t} (stopped|was fenced)|task ${t}: .* refused`).test(l));
      const finished = after.findIndex((l) => new RegExp(`task ${t} finished`).test(l));
      expect(finished === -1 || finished > gaveUp, zombie.lines.join('\n')).toBe(true);
    }
    const refusals = after.filter((l) => /refused|was fenced/.test(l));
    // It joins again and is given a share once more; every task finishes on its holder.
    await until(() => tasksOf(zombie).length > 0 && new Set(trio.flatMap(tasksOf)).size === PARTITIONS, 'the resumed instance holds tasks again', trio);
    await until(() => allFinished(trio), 'every task finished', trio);
    for (const i of trio) i.child.kill('SIGTERM');
    for (const i of trio) {
      const r = await i.exited;
      expect(r.signal === null ? r.code : r.signal, i.lines.join('\n')).not.toBe('SIGKILL');
    }
    if (process.env.SLUICE_APP_TEST_LOG !== undefined) writeFileSync(`${process.env.SLUICE_APP_TEST_LOG}.zombie`, [`refusals: ${refusals.length}`, ...trio.map((i) => `--- ${i.name}\n${i.lines.join('\n')}`)].join('\n'));
    const got = (await readCommitted(bootstrap, out, true)).map((r) => windowOf(r.value)).sort();
    expect(got).toEqual(reference);
    await expectExactlyOnce(bootstrap, out, want);
  });
});

// The other side of the same coin: an instance whose task thread is merely busy (a user function
// blocks it for longer than the session) keeps its place and its tasks, because its heartbeats
// run on a thread of their own (task-group-thread.ts). Before, it was dropped and became a zombie.
// Its tasks run on worker threads, the task threads (task-thread.ts), as many as --parallelism.
describe('an instance whose task thread is busy past its session', () => {
  it.each(cases.slice(0, 1))('%s engine, %s job: keeps its tasks, no rebalance, every window exactly once', async (engine, how) => {
    requireNative();
    const { input, out, want, reference } = await prepare('b', engine, how);

    const app = `bapp-${uid()}`;
    // A session of 6 s, a stall of 10 s.
    const args = ['--application-id', app, '--bootstrap', bootstrap, '--session-timeout', '6000', '--parallelism', '2', '--', bootstrap, input, out, `eo-${out}`, join(work, `chk-${out}`), '1', how, `${join(work, `stall-${out}`)}:10000`];
    const pair = [instance('a', engine, args), instance('b', engine, args)];
    await until(() => pair.some((i) => i.lines.some((l) => /stalling the main thread/.test(l))), 'one instance stalls', pair);
    const stalled = pair.find((i) => i.lines.some((l) => /stalling the main thread/.test(l)))!;
    const from = pair.map((i) => i.lines.length);
    // The group was settled when the stall began: 3 tasks each.
    expect(pair.map((i) => tasksOf(i).length), pair.map((i) => i.lines.join('\n')).join('\n---\n')).toEqual([3, 3]);
    await stalled.waitFor(/stall over/, 'the stall ends');
    await until(() => allFinished(pair), 'every task finished', pair);
    // Each instance ran its 3 tasks on its 2 task threads (worker threads: never the main thread, id 0).
    for (const i of pair) {
      const threads = new Set(i.lines.flatMap((l) => /^records on thread (\d+)$/.exec(l)?.[1] ?? []));
      expect([...threads].some((t) => t === '0'), i.lines.join('\n')).toBe(false);
      expect(threads.size, i.lines.join('\n')).toBe(2);
      expect(new Set(i.lines.flatMap((l) => / started on task thread (\d+) /.exec(l)?.[1] ?? [])), i.lines.join('\n')).toEqual(new Set(['0', '1']));
    }
    // No rebalance and no task moved or given up since the stall began.
    pair.forEach((i, k) => {
      const since = i.lines.slice(from[k]);
      expect(since.filter((l) => / generation \d+: tasks|task \d+ (started|stopped|was fenced)|refused/.test(l)), i.lines.join('\n')).toEqual([]);
    });
    await stopAll(pair);
    const got = (await readCommitted(bootstrap, out, true)).map((r) => windowOf(r.value)).sort();
    expect(got).toEqual(reference);
    await expectExactlyOnce(bootstrap, out, want);
  });
});

// A task thread that hangs for longer than --max-stall: the instance leaves the group by itself
// (its heartbeat thread would otherwise keep its tasks forever), the other takes them over, and
// what the hung one still tries when it wakes is refused.
describe('an instance whose task thread hangs past --max-stall', () => {
  it.each(cases.slice(0, 1))('%s engine, %s job: leaves the group, the other takes its tasks over, every window exactly once', async (engine, how) => {
    requireNative();
    const { input, out, want, reference } = await prepare('h', engine, how);

    const app = `happ-${uid()}`;
    const args = ['--application-id', app, '--bootstrap', bootstrap, '--session-timeout', '6000', '--max-stall', '5000', '--', bootstrap, input, out, `eo-${out}`, join(work, `chk-${out}`), '1', how, `${join(work, `stall-${out}`)}:30000`];
    const pair = [instance('a', engine, args), instance('b', engine, args)];
    await until(() => pair.some((i) => i.lines.some((l) => /stalling the main thread/.test(l))), 'one instance stalls', pair);
    const hung = pair.find((i) => i.lines.some((l) => /stalling the main thread/.test(l)))!;
    const other = pair.find((i) => i !== hung)!;
    // The other gets every task while the hung one still sleeps.
    await until(() => tasksOf(other).length === PARTITIONS || hung.lines.some((l) => /stall over/.test(l)), 'the other instance holds every task', pair);
    expect(hung.lines.some((l) => /stall over/.test(l)), 'the other instance took the tasks over only after the stall ended').toBe(false);
    await hung.waitFor(/stall over/, 'the stall ends');
    await hung.waitFor(/did not respond for \d+ ms \(more than --max-stall 5000\); it left the group/, 'the hung instance reports it left');
    await until(() => tasksOf(hung).length > 0, 'the hung instance holds tasks again', pair);
    await until(() => allFinished(pair), 'every task finished', pair);
    await stopAll(pair);
    if (process.env.SLUICE_APP_TEST_LOG !== undefined) writeFileSync(`${process.env.SLUICE_APP_TEST_LOG}.hang`, pair.map((i) => `--- ${i.name}\n${i.lines.join('\n')}`).join('\n'));
    const got = (await readCommitted(bootstrap, out, true)).map((r) => windowOf(r.value)).sort();
    expect(got).toEqual(reference);
    await expectExactlyOnce(bootstrap, out, want);
  });
});

// The repartition topic: a job keyed by a field the input is NOT partitioned by (events partitioned
// by user, keyed by region). As an application it is cut at the keyBy into two sub-topologies:
// tasks 0-5 read the input partitions and write each row to the repartition topic's partition of
// its key group (with their watermarks and, at the end, an end record), exactly once; tasks 6-11
// read those partitions read_committed and run the windows. 3 instances, one SIGKILLed after
// checkpoints while it works; the output must equal a single process's, every window once.
// (Without the repartition, each region's windows would be counted per input partition: the
// per-partition run is only chosen for a declared partitioning, test/connectors/sub-topologies.test.ts.)
const REGION_JOB = 'test/fixtures/jobs/kafka-app-region.ts';
const REGIONS = 5;

/** N events of 40 users (partitioned by user), each in one of 5 regions independently of its user, 10 ms apart. */
function regionInput(n: number): TestRecord[] {
  return Array.from({ length: n }, (_, i) => ({ partition: (i % 40) % PARTITIONS, key: String(i % 40), value: JSON.stringify({ user: i % 40, region: (i >> 1) % REGIONS, amount: i % 97, ts: T0 + i * 10 }) }));
}

/** Per region and 10 s window of regionInput(n): `region@start count sum`, sorted. */
function expectedRegionWindows(n: number): string[] {
  const m = new Map<string, { records: number; total: number }>();
  for (let i = 0; i < n; i++) {
    const k = `${(i >> 1) % REGIONS}@${Math.floor((T0 + i * 10) / 10_000) * 10_000}`;
    const w = m.get(k) ?? { records: 0, total: 0 };
    w.records++;
    w.total += i % 97;
    m.set(k, w);
  }
  return [...m].map(([k, w]) => `${k} ${w.records} ${w.total}`).sort();
}

/** A new input topic of 2 partitions and an output topic of 1, named after `tag`. */
async function inputOfTwoPartitions(tag: string): Promise<{ input: string; out: string }> {
  const [input, out] = [`${tag}in-${uid()}`, `${tag}out-${uid()}`] as const;
  await createTopic(bootstrap, input, 2);
  await createTopic(bootstrap, out, 1);
  return { input, out };
}

function regionWindowOf(value: string): string {
  const r = JSON.parse(value) as Record<string, number>;
  return `${r.region}@${r.windowStart} ${r.records} ${r.total}`;
}

describe('a job keyed by a field the input is not partitioned by: repartitioned through a Kafka topic', () => {
  // CI runs it on the native engine (its cut, topic, sink and source are the same TypeScript on
  // both engines; the TS engine runs the other application tests' process job), within CI's time
  // budget; SLUICE_KAFKA_KILL_TESTS=1 runs it on both.
  it.each(all ? ['native', 'ts'] : ['native'])('%s engine: 3 instances, one SIGKILLed mid-run: every window exactly once, as a single process', async (engine) => {
    requireNative();
    const input = `rin-${uid()}`;
    const out = `rout-${uid()}`;
    const single = `rsingle-${uid()}`;
    await createTopic(bootstrap, input, PARTITIONS);
    await createTopic(bootstrap, out, 3);
    await createTopic(bootstrap, single, 3);
    await produce(bootstrap, input, regionInput(N));
    const want = expectedRegionWindows(N);
    const ref = await run(bootstrap, ['run', REGION_JOB, '--engine', engine, '--parallelism', '1', '--no-progress', '--', bootstrap, input, single, `ref-${single}`, join(work, `ref-${single}`), '0'], single, null);
    expect(ref.code, ref.stderr).toBe(0);
    const reference = (await readCommitted(bootstrap, single, true)).map((r) => regionWindowOf(r.value)).sort();
    expect(reference).toEqual(want);

    const app = `rapp-${uid()}`;
    const TASKS = 2 * PARTITIONS;
    const args = ['--application-id', app, '--bootstrap', bootstrap, '--', bootstrap, input, out, `eo-${out}`, join(work, `chk-${out}`), '1'];
    const trio = [instance('a', engine, args, REGION_JOB), instance('b', engine, args, REGION_JOB), instance('c', engine, args, REGION_JOB)];
    await until(() => trio.every((i) => i.lines.some((l) => / generation \d+: tasks/.test(l))) && trio.some(workingOnTasks), 'all 3 joined and one has worked on its tasks', trio);
    for (const i of trio) expect(i.lines.some((l) => l.includes(`keyed by region at `) && l.includes(`repartitioned through topic '${app}-`) && l.includes(`(${TASKS} tasks`)), i.lines.join('\n')).toBe(true);
    const victim = trio.find(workingOnTasks)!;
    victim.child.kill('SIGKILL');
    await victim.exited;
    const unfinished = tasksOf(victim).filter((t) => !finishedOn(victim, t));
    expect(unfinished.length, `instance ${victim.name} finished its tasks before it was killed:\n${victim.lines.join('\n')}`).toBeGreaterThan(0);
    const pair = trio.filter((i) => i !== victim);
    await until(() => new Set(pair.flatMap(tasksOf)).size === TASKS && pair.every((i) => tasksOf(i).length === TASKS / 2), 'the 2 survivors hold 6 tasks each', trio);
    for (const t of unfinished) {
      const taker = pair.find((i) => tasksOf(i).includes(t))!;
      await taker.waitFor(new RegExp(`task ${t} started`), `task ${t} restarting`);
    }
    await until(() => allFinished(pair, TASKS), 'every task finished', trio);
    for (const i of pair) i.child.kill('SIGTERM');
    for (const i of pair) {
      const r = await i.exited;
      expect(r.signal === null ? r.code : r.signal, i.lines.join('\n')).not.toBe('SIGKILL');
    }
    if (process.env.SLUICE_APP_TEST_LOG !== undefined) writeFileSync(`${process.env.SLUICE_APP_TEST_LOG}.repartition`, trio.map((i) => `--- ${i.name}\n${i.lines.join('\n')}`).join('\n'));
    const log = await readLog(bootstrap, out, true);
    expect(log.records.map((r) => regionWindowOf(r.value)).sort()).toEqual(reference);
    const seen = new Set<string>();
    for (const t of log.transactions) {
      const key = `${t.partition}/${t.producerId}`;
      expect(seen.has(key), `producer ${t.producerId} wrote two transactions to partition ${t.partition}`).toBe(false);
      seen.add(key);
    }
  });
});

describe('an idle input partition of a repartitioned application does not hold its windows back', () => {
  // The input's partition 1 never gets a record: its task goes idle (withIdleness), says so in
  // the repartition topic, and the downstream tasks' watermark follows partition 0's task alone,
  // so the windows it passed are emitted while the (unbounded) job runs. Without idleness
  // through the topic, the task that never sent a watermark would hold them back for good.
  it.each(['native', 'ts'])('%s engine: one instance, the windows of partition 0 emitted, exactly; the consumed records purged', async (engine) => {
    if (engine === 'native') requireNative();
    const { input, out } = await inputOfTwoPartitions('i');
    const n = 3000; // 30 s of event time, 10 ms apart: 0-10 s and 10-20 s close, 20-30 s stays open
    const records = regionInput(n).map((r) => ({ ...r, partition: 0 }));
    await produce(bootstrap, input, records);
    const maxTs = T0 + (n - 1) * 10;
    // A window [s, s + 10 s) fires once the watermark (max - 1000 - 1) reaches its end - 1.
    const want = expectedRegionWindows(n).filter((w) => Number(/@(\d+)/.exec(w)![1]) + 9_999 <= maxTs - 1_001);
    expect(want.length).toBe(2 * REGIONS);
    const app = `iapp-${uid()}`;
    const one = instance('a', engine, ['--application-id', app, '--bootstrap', bootstrap, '--', bootstrap, input, out, `eo-${out}`, join(work, `chk-${out}`), '0', '-', '200'], REGION_JOB);
    await one.waitFor(/repartitioned through topic/, 'the job cut at its keyBy');
    let got: string[] = [];
    const deadline = Date.now() + 180_000;
    while (got.length < want.length) {
      if (Date.now() > deadline || one.child.exitCode !== null) throw new Error(`the windows did not come (${got.length} of ${want.length}):\n${one.lines.join('\n')}`);
      await new Promise((r) => setTimeout(r, 500));
      got = (await readCommitted(bootstrap, out)).map((r) => regionWindowOf(r.value)).sort();
    }
    // Consumed records are purged from the repartition topic once the checkpoints the job keeps are past them.
    const topic = /repartitioned through topic '([^']+)'/.exec(one.lines.join('\n'))![1]!;
    let starts = await earliestOffsets(bootstrap, topic);
    while (!starts.every((o) => o > 0n)) {
      if (Date.now() > deadline || one.child.exitCode !== null) throw new Error(`the repartition topic was not purged (log start offsets ${starts.join(', ')}):\n${one.lines.join('\n')}`);
      await new Promise((r) => setTimeout(r, 500));
      starts = await earliestOffsets(bootstrap, topic);
    }
    one.child.kill('SIGTERM');
    const r = await one.exited;
    expect(r.signal === null ? r.code : r.signal, one.lines.join('\n')).not.toBe('SIGKILL');
    expect(got).toEqual(want);
  });
});

describe('repartition topics as the application creates them', () => {
  // As Kafka Streams' internal topics: kept until the downstream task's purge deletes what it
  // consumed, never by age (the broker's 7 days would drop records of an application stopped that
  // long); replicas as --replication-factor asks, and more than the brokers fails the start.
  it('kept until purged (retention.ms -1, delete), replicas as asked; more replicas than brokers: the start fails, saying so', async () => {
    requireNative();
    const { input, out } = await inputOfTwoPartitions('rt');
    const args = (app: string, replicas: string): string[] => ['--application-id', app, '--bootstrap', bootstrap, '--replication-factor', replicas, '--', bootstrap, input, out, `eo-${out}`, join(work, `chk-${out}-${app}`), '0', '-', '200'];
    const too = instance('a', 'native', args(`rtapp-${uid()}`, '2'), REGION_JOB);
    const r = await too.exited;
    expect(r.code, too.lines.join('\n')).toBe(1);
    expect(too.lines.join('\n')).toMatch(/creating the repartition topic '[^']+-repartition'.*replication/is);

    const one = instance('b', 'native', args(`rtapp-${uid()}`, '1'), REGION_JOB);
    const topic = /repartitioned through topic '([^']+)'/.exec(await one.waitFor(/repartitioned through topic/, 'the job cut at its keyBy'))![1]!;
    const t = await topicSettings(bootstrap, topic, ['retention.ms', 'cleanup.policy', 'segment.bytes']);
    expect(t.configs).toEqual({ 'retention.ms': '-1', 'cleanup.policy': 'delete', 'segment.bytes': String(50 * 1024 * 1024) });
    expect(t.replicas).toEqual([1, 1]);
    one.child.kill('SIGTERM');
    await one.exited;
  });
});

describe('the dashboard of an application instance', () => {
  // Every task runs its operators as subtask 0 of a job of its own: the page tells them apart by
  // task (t<n>), each its own row, instead of showing them all as subtask 0.
  it('shows each task the instance runs as rows of its own, in a real browser', async () => {
    requireNative();
    const { input, out } = await inputOfTwoPartitions('d');
    await produce(bootstrap, input, regionInput(400).map((r) => ({ ...r, partition: Number(r.key) % 2 })));
    const app = `dapp-${uid()}`;
    const one = instance('a', 'native', ['--ui', '--application-id', app, '--bootstrap', bootstrap, '--', bootstrap, input, out, `eo-${out}`, join(work, `chk-${out}`), '0', '-', '200'], REGION_JOB);
    const base = /sluice: dashboard at (http:\/\/127\.0\.0\.1:\d+\/)#token=/.exec(await one.waitFor(/sluice: dashboard at /, 'the dashboard'))![1]!;
    await one.waitFor(/task 3 started/, 'its 4 tasks');
    const browser = await chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage();
      await page.goto(base);
      // Each row: the operator and the copy it is of. Tasks 0 and 1 read the input partitions, 2 and 3 the repartition topic.
      const rows = (): Promise<string[]> => page.$$eval('#operators tbody tr', (trs) => trs.map((tr) => `${tr.cells[0]!.textContent} | ${tr.cells[1]!.textContent}`));
      const copiesOf = (seen: readonly string[], name: RegExp): string[] => seen.filter((r) => name.test(r)).map((r) => r.split(' | ')[1]!).sort();
      let seen: string[] = [];
      while (copiesOf(seen, /Window/).length < 2 || copiesOf(seen, /Source: Kafka \S+ \|/).length < 2) {
        if (one.child.exitCode !== null) throw new Error(`the instance ended:\n${one.lines.join('\n')}`);
        await new Promise((r) => setTimeout(r, 200));
        seen = await rows();
      }
      // Before, every row said subtask 0: the window's two tasks were indistinguishable.
      expect(copiesOf(seen, /Window/), seen.join('\n')).toEqual(['t2', 't3']);
      expect(copiesOf(seen, /Source: Kafka \S+ \|/), seen.join('\n')).toEqual(['t0', 't1']);
      expect(copiesOf(seen, /Sink: repartition/), seen.join('\n')).toEqual(['t0', 't1']);
      expect(copiesOf(seen, /Source: repartition/), seen.join('\n')).toEqual(['t2', 't3']);
    } finally {
      await browser.close();
    }
    one.child.kill('SIGTERM');
    await one.exited;
  });
});

const CHAIN_JOB = 'test/fixtures/jobs/kafka-app-chain.ts';

/** The chain job's input topic (n events in 3 partitions) and its output as computed: per 10 s slot, `slot regions records total`, sorted. */
async function chainInput(n: number): Promise<{ input: string; want: string[] }> {
  const input = `cin-${uid()}`;
  await createTopic(bootstrap, input, 3);
  await produce(bootstrap, input, regionInput(n).map((r) => ({ ...r, partition: Number(r.key) % 3 })));
  // Per 10 s slot: the regions seen, the records and their amounts.
  const slots = new Map<number, { regions: Set<number>; records: number; total: number }>();
  for (let i = 0; i < n; i++) {
    const slot = Math.floor((T0 + i * 10) / 10_000) * 10_000;
    const s = slots.get(slot) ?? { regions: new Set(), records: 0, total: 0 };
    s.regions.add((i >> 1) % REGIONS);
    s.records++;
    s.total += i % 97;
    slots.set(slot, s);
  }
  return { input, want: [...slots].map(([slot, s]) => `${slot} ${s.regions.size} ${s.records} ${s.total}`).sort() };
}

function slotOf(value: string): string {
  const r = JSON.parse(value) as Record<string, number>;
  return `${r.slot} ${r.regions} ${r.records} ${r.total}`;
}

describe('a job keyed twice by fields the input is not partitioned by: a chain of three sub-topologies', () => {
  // Also with repartition topics of 5 partitions (more tasks than the input's 3 partitions): 3 + 5 + 5 tasks;
  // and with setParallelism(4) on the slot window: its topic alone has 4 partitions, 3 + 3 + 4 tasks.
  it.each([['native', null, null], ['ts', null, null], ['native', 5, null], ['ts', null, 4]] as const)('%s engine, repartition partitions %s, slot window parallelism %s: 2 instances, every slot exactly once, as a single process', async (engine, repartitions, slotParallelism) => {
    if (engine === 'native') requireNative();
    const r = repartitions ?? 3;
    const r2 = slotParallelism ?? r;
    const tasks = 3 + r + r2;
    const slotArgs = slotParallelism === null ? [] : ['0', String(slotParallelism)];
    const { input, want } = await chainInput(6000);
    const out = `cout-${uid()}`;
    const single = `csingle-${uid()}`;
    await createTopic(bootstrap, out, 2);
    await createTopic(bootstrap, single, 2);
    const ref = await run(bootstrap, ['run', CHAIN_JOB, '--engine', engine, '--parallelism', '1', '--no-progress', '--', bootstrap, input, single, `ref-${single}`, join(work, `ref-${single}`), ...slotArgs], single, null);
    expect(ref.code, ref.stderr).toBe(0);
    expect((await readCommitted(bootstrap, single, true)).map((r) => slotOf(r.value)).sort()).toEqual(want);

    const app = `capp-${uid()}`;
    const args = ['--metrics-port', '0', '--application-id', app, '--bootstrap', bootstrap, ...(repartitions === null ? [] : ['--repartition-partitions', String(repartitions)]), '--', bootstrap, input, out, `eo-${out}`, join(work, `chk-${out}`), ...slotArgs];
    // Each instance says its cuts before it joins.
    const pair = await finishedPair(engine, args, CHAIN_JOB, tasks, 'the 3 sub-topologies');
    for (const i of pair) {
      expect(i.lines.some((l) => l.includes('keyed by region at ') && l.includes(`(${tasks} tasks: tasks 0..2 read the input partitions, 3..${2 + r} this topic`)), i.lines.join('\n')).toBe(true);
      expect(i.lines.some((l) => l.includes('keyed by slot at ') && l.includes(`${3 + r}..${2 + r + r2} this topic`)), i.lines.join('\n')).toBe(true);
      // The metrics show which tasks this instance runs, and every operator's task: as its
      // latest assignment says, once that assignment held across the scrape (a rebalance may
      // still move finished tasks between the two instances).
      const url = /metrics at (http:\S+)/.exec(await i.waitFor(/metrics at http/, 'the metrics address'))![1]!;
      for (const deadline = Date.now() + 60_000; ; ) {
        const assigned = [...tasksOf(i)].sort((a, b) => a - b).join(',');
        const text = await (await fetch(url)).text();
        const running = [...text.matchAll(/^sluice_application_task\{job="[^"]*",task="(\d+)"\} 1$/gm)].map((m) => Number(m[1]));
        const tagged = [...new Set([...text.matchAll(/^sluice_records_in_total\{[^}]*,task="(\d+)"\}/gm)].map((m) => Number(m[1])))].sort((a, b) => a - b);
        if (running.join(',') === assigned && tagged.join(',') === assigned && [...tasksOf(i)].sort((a, b) => a - b).join(',') === assigned) break;
        if (Date.now() > deadline) throw new Error(`instance ${i.name}: the metrics show tasks [${running.join(',')}] (operators of [${tagged.join(',')}]), its assignment [${assigned}]:\n${text}`);
        await new Promise((res) => setTimeout(res, 200));
      }
    }
    await stopAll(pair);
    expect((await readCommitted(bootstrap, out, true)).map((r) => slotOf(r.value)).sort()).toEqual(want);
    // Each task committed its input offsets to the application's group in its transactions
    // (sendOffsetsToTransaction): the input topic's to its end (every input task writes rows);
    // a repartition partition's only if its task wrote output (a transaction carries them), never past its end.
    expect(await groupOffsets(bootstrap, app, input, 3)).toEqual(await latestOffsets(bootstrap, input));
    for (const m of pair[0]!.lines.join('\n').matchAll(/keyed by (\w+) at .*repartitioned through topic '([^']+)'/g)) {
      const [committed, latest] = [await groupOffsets(bootstrap, app, m[2]!, m[1] === 'slot' ? r2 : r), await latestOffsets(bootstrap, m[2]!)];
      expect(latest.length).toBe(m[1] === 'slot' ? r2 : r);
      expect(committed.some((o) => o > 0n) && committed.every((o, p) => o <= latest[p]!), `${m[2]}: committed ${committed.join(',')} of ${latest.join(',')}`).toBe(true);
    }
  });
});

describe('a chain of three sub-topologies, one instance SIGKILLed mid-run', () => {
  // The first sub-topology paced to 1 record per ms (4000 per task); the others wait for its end.
  it.each(['native', 'ts'])('%s engine: 2 instances, one killed while its tasks run, a new one later: every slot exactly once', async (engine) => {
    if (engine === 'native') requireNative();
    const { input, want } = await chainInput(12_000);
    const out = `ckout-${uid()}`;
    await createTopic(bootstrap, out, 2);
    const app = `ckapp-${uid()}`;
    await killOneOfTwo(engine, ['--application-id', app, '--bootstrap', bootstrap, '--', bootstrap, input, out, `eo-${out}`, join(work, `chk-${out}`), '1'], CHAIN_JOB, 9, 'the 3 sub-topologies');
    expect((await readCommitted(bootstrap, out, true)).map((r) => slotOf(r.value)).sort()).toEqual(want);
  });
});

const JOIN_JOB = 'test/fixtures/jobs/kafka-app-join.ts';

/** The join job's two input topics (n events, even ones left, odd ones right, 3 partitions each) and its output as computed: `region start na nb sa sb`, sorted. */
async function joinInput(n: number): Promise<{ left: string; right: string; want: string[] }> {
  const [left, right] = ['jl', 'jr'].map((p) => `${p}-${uid()}`) as [string, string];
  for (const t of [left, right]) await createTopic(bootstrap, t, 3);
  const side = (k: number) => regionInput(n).filter((_, i) => i % 2 === k).map((r) => ({ ...r, partition: Number(r.key) % 3 }));
  await produce(bootstrap, left, side(0));
  await produce(bootstrap, right, side(1));
  // Per region and 10 s window: the records and amounts of each side (even i left, odd i right).
  const m = new Map<string, number[]>();
  for (let i = 0; i < n; i++) {
    const k = `${(i >> 1) % REGIONS} ${Math.floor((T0 + i * 10) / 10_000) * 10_000}`;
    const w = m.get(k) ?? [0, 0, 0, 0];
    w[i % 2]! += 1;
    w[2 + (i % 2)]! += i % 97;
    m.set(k, w);
  }
  return { left, right, want: [...m].map(([k, w]) => `${k} ${w.join(' ')}`).sort() };
}

function joinRowOf(value: string): string {
  const r = JSON.parse(value) as Record<string, number>;
  return `${r.region} ${r.start} ${r.na} ${r.nb} ${r.sa} ${r.sb}`;
}

describe('a window coGroup of two topics keyed by a field they are not partitioned by: both inputs repartitioned', () => {
  it.each(['native', 'ts'])('%s engine: 2 instances, every region and window exactly once, as a single process', async (engine) => {
    if (engine === 'native') requireNative();
    const { left, right, want } = await joinInput(4000);
    const [out, single] = ['jout', 'jsingle'].map((p) => `${p}-${uid()}`) as [string, string];
    await createTopic(bootstrap, out, 2);
    await createTopic(bootstrap, single, 2);
    const ref = await run(bootstrap, ['run', JOIN_JOB, '--engine', engine, '--parallelism', '1', '--no-progress', '--', bootstrap, left, right, single, `ref-${single}`, join(work, `ref-${single}`)], single, null);
    expect(ref.code, ref.stderr).toBe(0);
    expect((await readCommitted(bootstrap, single, true)).map((r) => joinRowOf(r.value)).sort()).toEqual(want);

    const app = `japp-${uid()}`;
    const args = ['--application-id', app, '--bootstrap', bootstrap, '--', bootstrap, left, right, out, `eo-${out}`, join(work, `chk-${out}`)];
    const pair = await finishedPair(engine, args, JOIN_JOB, 6, 'the 2 sub-topologies');
    for (const i of pair) {
      const cut = i.lines.filter((l) => l.includes('keyed by region at ') && l.includes('(6 tasks: tasks 0..2 read the input partitions, 3..5 this topic'));
      expect(cut.length, i.lines.join('\n')).toBe(2);
      expect(cut.some((l) => l.includes('-in0-repartition')) && cut.some((l) => l.includes('-in1-repartition')), i.lines.join('\n')).toBe(true);
    }
    await stopAll(pair);
    expect((await readCommitted(bootstrap, out, true)).map((r) => joinRowOf(r.value)).sort()).toEqual(want);
  });

  it.each(['native', 'ts'])('%s engine: keyed by key selector functions instead of the field: 2 instances, both inputs repartitioned by the selected key, every region and window exactly once', async (engine) => {
    if (engine === 'native') requireNative();
    const { left, right, want } = await joinInput(4000);
    const out = `jfout-${uid()}`;
    await createTopic(bootstrap, out, 2);
    const app = `jfapp-${uid()}`;
    const pair = await finishedPair(engine, ['--application-id', app, '--bootstrap', bootstrap, '--', bootstrap, left, right, out, `eo-${out}`, join(work, `chk-${out}`), '0', 'fn'], JOIN_JOB, 6, 'the 2 sub-topologies');
    for (const i of pair) {
      const cut = i.lines.filter((l) => l.includes('keyed by a key selector (key selector) at ') && l.includes('(6 tasks: tasks 0..2 read the input partitions, 3..5 this topic'));
      expect(cut.length, i.lines.join('\n')).toBe(2);
    }
    await stopAll(pair);
    expect((await readCommitted(bootstrap, out, true)).map((r) => joinRowOf(r.value)).sort()).toEqual(want);
  });

  it.each(['native', 'ts'])('%s engine: a self-join (one stream coGrouped with itself), 2 instances: each side through its own topic, every region and window exactly once', async (engine) => {
    if (engine === 'native') requireNative();
    const n = 3000;
    const input = `jself-${uid()}`;
    await createTopic(bootstrap, input, 3);
    await produce(bootstrap, input, regionInput(n).map((r) => ({ ...r, partition: Number(r.key) % 3 })));
    // Both sides see every record: per region and 10 s window, na = nb and sa = sb.
    const m = new Map<string, number[]>();
    for (let i = 0; i < n; i++) {
      const k = `${(i >> 1) % REGIONS} ${Math.floor((T0 + i * 10) / 10_000) * 10_000}`;
      const w = m.get(k) ?? [0, 0];
      w[0]! += 1;
      w[1]! += i % 97;
      m.set(k, w);
    }
    const want = [...m].map(([k, [c, s]]) => `${k} ${c} ${c} ${s} ${s}`).sort();
    const out = `jsout-${uid()}`;
    await createTopic(bootstrap, out, 2);
    const app = `jsapp-${uid()}`;
    const pair = await finishedPair(engine, ['--application-id', app, '--bootstrap', bootstrap, '--', bootstrap, input, input, out, `eo-${out}`, join(work, `chk-${out}`)], JOIN_JOB, 6, 'the 2 sub-topologies');
    for (const i of pair) {
      const cut = i.lines.filter((l) => l.includes('keyed by region at ') && l.includes('(6 tasks: tasks 0..2 read the input partitions, 3..5 this topic'));
      expect(cut.some((l) => l.includes('-in0-repartition')) && cut.some((l) => l.includes('-in1-repartition')), i.lines.join('\n')).toBe(true);
    }
    await stopAll(pair);
    expect((await readCommitted(bootstrap, out, true)).map((r) => joinRowOf(r.value)).sort()).toEqual(want);
  });

  // The first sub-topology paced to 1 record per ms (2000 per task from each topic); the other waits for its end.
  it.each(['native', 'ts'])('%s engine: 2 instances, one SIGKILLed while its tasks run, a new one later: every region and window exactly once', async (engine) => {
    if (engine === 'native') requireNative();
    const { left, right, want } = await joinInput(12_000);
    const out = `jkout-${uid()}`;
    await createTopic(bootstrap, out, 2);
    const app = `jkapp-${uid()}`;
    await killOneOfTwo(engine, ['--application-id', app, '--bootstrap', bootstrap, '--', bootstrap, left, right, out, `eo-${out}`, join(work, `chk-${out}`), '1'], JOIN_JOB, 6, 'the 2 sub-topologies');
    expect((await readCommitted(bootstrap, out, true)).map((r) => joinRowOf(r.value)).sort()).toEqual(want);
  });
});

const UNION_JOB = 'test/fixtures/jobs/kafka-app-union.ts';

describe('a union of a stream before a keyBy with one after it: the union cut too, both inputs through topics', () => {
  it.each(['native', 'ts'])('%s engine: 2 instances, 3 sub-topologies, every window and every record exactly once', async (engine) => {
    if (engine === 'native') requireNative();
    const n = 3000;
    const input = `uin-${uid()}`;
    await createTopic(bootstrap, input, 3);
    const records = regionInput(n).map((r) => ({ ...r, partition: Number(r.key) % 3 }));
    await produce(bootstrap, input, records);
    // The windows, and each record as `region@-1 1 amount`.
    const want = [...expectedRegionWindows(n), ...records.map((r) => JSON.parse(r.value!) as Record<string, number>).map((r) => `${r.region}@-1 1 ${r.amount}`)].sort();
    const out = `uout-${uid()}`;
    await createTopic(bootstrap, out, 2);
    const app = `uapp-${uid()}`;
    const pair = await finishedPair(engine, ['--application-id', app, '--bootstrap', bootstrap, '--', bootstrap, input, out, `eo-${out}`, join(work, `chk-${out}`)], UNION_JOB, 9, 'the 3 sub-topologies');
    for (const i of pair) {
      expect(i.lines.some((l) => l.includes('keyed by region at ') && l.includes('(9 tasks: tasks 0..2 read the input partitions, 3..5 this topic')), i.lines.join('\n')).toBe(true);
      const unkeyed = i.lines.filter((l) => l.includes("unkeyed (each upstream task's rows to one partition) at ") && l.includes("6..8 this topic's"));
      expect(unkeyed.length, i.lines.join('\n')).toBe(2);
    }
    await stopAll(pair);
    expect((await readCommitted(bootstrap, out, true)).map((r) => regionWindowOf(r.value)).sort()).toEqual(want);
  });
});

const BRANCH_JOB = 'test/fixtures/jobs/kafka-app-branches.ts';

/** The branch job's input topic (n events in 3 partitions) and its two outputs as computed: `key@windowStart count`, sorted. */
async function branchInput(n: number): Promise<{ input: string; byRegion: string[]; byAmount: string[] }> {
  const input = `bin-${uid()}`;
  await createTopic(bootstrap, input, 3);
  await produce(bootstrap, input, regionInput(n).map((r) => ({ ...r, partition: Number(r.key) % 3 })));
  const count = (key: (i: number) => number): string[] => {
    const m = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const k = `${key(i)}@${Math.floor((T0 + i * 10) / 10_000) * 10_000}`;
      m.set(k, (m.get(k) ?? 0) + 1);
    }
    return [...m].map(([k, c]) => `${k} ${c}`).sort();
  };
  return { input, byRegion: count((i) => (i >> 1) % REGIONS), byAmount: count((i) => i % 97) };
}

/** The branch outputs' rows (field: the key) as branchInput computes them. */
async function branchRows(topic: string, field: string): Promise<string[]> {
  return (await readCommitted(bootstrap, topic, true))
    .map((r) => {
      const v = JSON.parse(r.value) as Record<string, number>;
      return `${v[field]}@${v.windowStart} ${v.n}`;
    })
    .sort();
}

describe('a job with two keyed branches from one topic: a cut on each, both starting the second sub-topology', () => {
  it.each(['native', 'ts'])('%s engine: 2 instances, both outputs exactly once, as computed', async (engine) => {
    if (engine === 'native') requireNative();
    const { input, byRegion, byAmount } = await branchInput(4000);
    const [region, amount] = ['bregion', 'bamount'].map((p) => `${p}-${uid()}`) as [string, string];
    for (const t of [region, amount]) await createTopic(bootstrap, t, 2);
    const app = `bapp-${uid()}`;
    const args = ['--application-id', app, '--bootstrap', bootstrap, '--', bootstrap, input, region, amount, `eo-${app}`, join(work, `chk-${app}`)];
    const pair = await finishedPair(engine, args, BRANCH_JOB, 6, 'the 2 sub-topologies');
    for (const i of pair) {
      const cuts = i.lines.filter((l) => l.includes('(6 tasks: tasks 0..2 read the input partitions, 3..5 this topic'));
      expect(cuts.some((l) => l.includes('keyed by region at ')) && cuts.some((l) => l.includes('keyed by amount at ')), i.lines.join('\n')).toBe(true);
    }
    await stopAll(pair);
    expect(await branchRows(region, 'region')).toEqual(byRegion);
    expect(await branchRows(amount, 'amount')).toEqual(byAmount);
  });

  // The first sub-topology paced to 1 record per ms (4000 per task); the other waits for its end.
  it.each(['native', 'ts'])('%s engine: 2 instances, one SIGKILLed while its tasks run, a new one later: both outputs exactly once', async (engine) => {
    if (engine === 'native') requireNative();
    const { input, byRegion, byAmount } = await branchInput(12_000);
    const [region, amount] = ['bkregion', 'bkamount'].map((p) => `${p}-${uid()}`) as [string, string];
    for (const t of [region, amount]) await createTopic(bootstrap, t, 2);
    const app = `bkapp-${uid()}`;
    await killOneOfTwo(engine, ['--application-id', app, '--bootstrap', bootstrap, '--', bootstrap, input, region, amount, `eo-${app}`, join(work, `chk-${app}`), '1'], BRANCH_JOB, 6, 'the 2 sub-topologies');
    expect(await branchRows(region, 'region')).toEqual(byRegion);
    expect(await branchRows(amount, 'amount')).toEqual(byAmount);
  });
});

