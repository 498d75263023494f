/**
 * A task thread of an application instance (task-thread.ts starts it). For each task it is given:
 * claims the task (task-ownership.ts: a new owner epoch, after which the former owner can no
 * longer restore, checkpoint or commit), builds the job again from its module (the task's own
 * user function objects), takes the task's copy of it (task-graph.ts) and runs that with the
 * job's restart strategy, resuming from the checkpoint the claim chose. Tells the instance how
 * each run ended; a run that another instance's claim refused or whose transactions it fenced
 * ends as 'migrated' (Kafka Streams' TaskMigratedException), not as a failure.
 */

import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { StreamEnvironment } from '../../api/environment.js';
import type { ApplicationEvent, ExecuteOptions, Progress } from '../../api/job.js';
import { importJobModule } from '../../runtime/job-module.js';
import { repartitionCuts } from './sub-topologies.js';
import { taskGraph, type Layout } from './task-graph.js';
import { CLAIMED_ELSEWHERE, TaskClaim } from './task-ownership.js';
import type { FromTaskThread, TaskOutcome, TaskThreadSetup, ToTaskThread } from './task-thread.js';
import { errorCodes } from './transactions.js';

const setup = workerData as TaskThreadSetup;
const port = parentPort!;
const post = (m: FromTaskThread): void => port.postMessage(m);
const emit = (e: ApplicationEvent): void => post({ t: 'event', e });
const who = `application '${setup.application}'`;

// Warnings go to the instance's main thread, which emits them as its own (printed or filtered there).
process.removeAllListeners('warning');
process.on('warning', (w: Error & { code?: string }) => post({ t: 'warning', name: w.name, message: w.message, ...(w.code !== undefined ? { code: w.code } : {}) }));

// The instance leaves the group when a task thread stops answering (ApplicationOptions.maxStallMs).
setInterval(() => post({ t: 'alive', at: Date.now() }), 1000).unref();

const stops = new Map<number, AbortController>();
let layout: Promise<Layout> | null = null;

/** A fresh environment with the job built in it (the module imported once per thread). */
async function build(): Promise<StreamEnvironment> {
  const builder = await importJobModule(setup.job);
  const env = StreamEnvironment.create({ ...setup.env, job: setup.job });
  await (builder as (env: StreamEnvironment, args: readonly string[]) => unknown)(env, setup.job.args);
  return env;
}

/** The instance's layout with its cuts found in this thread's build of the job (the same nodes, or the module builds another job). */
async function layoutHere(): Promise<Layout> {
  const cuts = repartitionCuts((await build()).pendingGraph(), who);
  const ids = cuts.map((c) => c.node.id);
  if (ids.join() !== setup.cutNodes.join()) throw new Error(`${who}: the job's module built another job on a task thread (cut at nodes ${ids.join(', ') || 'none'}, not ${setup.cutNodes.join(', ') || 'none'}); the module must build the same job every time`);
  return { ...setup.layout, cuts };
}

async function run(task: number, stop: AbortSignal, refused: { value: boolean }): Promise<TaskOutcome> {
  layout ??= layoutHere();
  const l = await layout;
  const claim = await TaskClaim.claim(setup.bootstrap, setup.application, task, join(setup.stateDir, `task-${task}`));
  emit({ kind: 'task-claimed', task, owner: claim.owner, from: claim.from });
  emit({ kind: 'task-started', task, checkpointDir: claim.dir, thread: setup.index });
  const ownership = (doing: string): void => {
    try {
      claim.check(doing);
    } catch (e) {
      if (!refused.value) emit({ kind: 'task-refused', task, reason: e instanceof Error ? e.message : String(e) });
      refused.value = true;
      throw e;
    }
  };
  const env = await build();
  const { progress, ...taken } = setup.options;
  const options: ExecuteOptions = {
    ...taken,
    ...(progress ? { progress: (p: Progress) => post({ t: 'progress', task, p }) } : {}),
    onEvent: (e) => post({ t: 'job-event', task, e }),
    onRestart: (r) => post({ t: 'restart', task, r }),
    signal: stop,
    restoreFrom: 'latest',
    ownership,
  };
  const result = await env.executeTask(setup.jobName, taskGraph(env.pendingGraph(), setup.application, task, claim, ownership, l), options);
  return { kind: 'finished', result };
}

function start(task: number): void {
  const stop = new AbortController();
  stops.set(task, stop);
  const refused = { value: false };
  run(task, stop.signal, refused)
    .then(
      (outcome) => outcome,
      (e: unknown): TaskOutcome => {
        if (stop.signal.aborted && !refused.value) return { kind: 'stopped' };
        if (refused.value || claimedElsewhere(e)) return { kind: 'migrated', refused: true };
        if (fenced(e)) return { kind: 'migrated', refused: false };
        return { kind: 'failed', error: e instanceof Error ? e : new Error(String(e)) };
      },
    )
    .then((outcome) => {
      stops.delete(task);
      post({ t: 'ended', task, outcome: outcome.kind === 'failed' ? { kind: 'failed', message: outcome.error.message, ...(outcome.error.stack !== undefined ? { stack: outcome.error.stack } : {}) } : outcome });
    });
}

/** The error of a task refused by its ownership check (another instance claimed it). */
function claimedElsewhere(e: unknown): boolean {
  for (let x: unknown = e, depth = 0; x instanceof Error && depth < 8; x = x.cause, depth++) if (x.message.includes(CLAIMED_ELSEWHERE)) return true;
  return false;
}

/** The error of a task whose sink was fenced (its transactional id reinitialized by another instance). */
function fenced(e: unknown): boolean {
  const codes = errorCodes(e);
  // INVALID_PRODUCER_EPOCH, PRODUCER_FENCED, INVALID_TXN_STATE after a fencing.
  if (codes.includes(47) || codes.includes(90)) return true;
  for (let x: unknown = e, depth = 0; x instanceof Error && depth < 8; x = x.cause, depth++) {
    if (/old epoch|INVALID_PRODUCER_EPOCH|PRODUCER_FENCED|fenced|fences the current one/i.test(x.message)) return true;
  }
  return false;
}

/**
 * A worker's stdout and stderr reach the process's through the main thread, asynchronously: a
 * sink that printed must see its lines there before the thread ends.
 */
async function stdioFlushed(): Promise<void> {
  await Promise.all([process.stdout, process.stderr].map((s) => new Promise<void>((r) => s.write('', () => r()))));
}

port.on('message', (m: ToTaskThread) => {
  if (m.t === 'start') start(m.task);
  else if (m.t === 'stop') stops.get(m.task)?.abort();
  else void stdioFlushed().then(() => post({ t: 'closed' }));
});
