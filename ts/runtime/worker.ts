/**
 * A worker thread of a parallel run: rebuilds the job from its module once per subtask it
 * hosts, then runs subtask `subtask` of every operator that has one, for each of those subtasks
 * at once on this thread's event loop, exchanging batches over the channels it was given.
 * Reports each subtask's operator metrics, or the first failure with the operator and subtask.
 */

import { parentPort, workerData } from 'node:worker_threads';
import { StreamEnvironment } from '../api/environment.js';
import { importJobModule } from './job-module.js';
import { buildPlan } from '../plan/physical.js';
import { operatorOf } from './errors.js';
import { runTask } from './executor.js';
import { ManagedMemory } from './memory.js';
import { WatermarkBoard } from './alignment.js';
import { CheckpointTask } from './checkpoint.js';
import { SubtaskMailbox, type SubtaskMessage } from './subtask-mailbox.js';
import { ChannelTable, type ChannelPort, type WorkerMessage, edgeOf, placementOf, type WorkerSetup } from './parallel.js';
import { JobFailedError } from '../api/errors.js';
import type { Progress } from '../api/job.js';

const setup = workerData as WorkerSetup;

// Warnings (Sluice's and the job's own) go to the calling thread, which emits them as its own:
// printed or filtered there like every other warning (`sluice run --log-level`), never here.
process.removeAllListeners('warning');
process.on('warning', (w: Error & { code?: string }) => post({ t: 'warning', name: w.name, message: w.message, ...(w.code !== undefined ? { code: w.code } : {}) }));

async function main(): Promise<void> {
  const build = (await importJobModule(setup.job)) as (env: StreamEnvironment, args: readonly string[]) => unknown;
  const mailbox = new SubtaskMailbox(setup.subtasks.map((s) => s.subtask));
  const onMessage = (m: SubtaskMessage): void => mailbox.deliver(m);
  parentPort!.on('message', onMessage);
  try {
    await Promise.all(setup.subtasks.map((s) => runSubtask(build, s.subtask, s.ports, (h) => mailbox.listen(s.subtask, h))));
  } finally {
    parentPort!.off('message', onMessage);
  }
}

/** One hosted subtask, from building its job to closing its operators; `listen` takes its coordinator handler. */
async function runSubtask(build: (env: StreamEnvironment, args: readonly string[]) => unknown, subtask: number, ports: readonly ChannelPort[], listen: (h: (m: SubtaskMessage) => void) => void): Promise<void> {
  try {
    const env = StreamEnvironment.create(setup.env);
    await build(env, setup.job.args);
    const graph = env.pendingGraph();
    const plan = buildPlan(graph);
    const memory = ManagedMemory.attach(setup.memory);
    const table = new ChannelTable(ports, (edge) => edgeOf(plan, edge).from.outputSchema, memory, env.engine, setup.segments);
    // Checkpoints: this subtask's task answers the coordinator's triggers with its snapshots.
    const task = graph.checkpoint === null ? null : new CheckpointTask(subtask, (id, entries) => post({ t: 'ack', subtask, id, entries }));
    const stop = new AbortController();
    // Commits run one after the other; the final close waits for them.
    let commits: Promise<void> = Promise.resolve();
    let closeRequested!: () => void;
    const close = new Promise<void>((r) => (closeRequested = r));
    listen((m) => {
      if (m.t === 'trigger') task?.trigger(m.id);
      else if (m.t === 'complete') commits = commits.then(() => task?.commit(m.id));
      else if (m.t === 'close') closeRequested();
      else if (m.t === 'stop') stop.abort();
    });
    const part = { placement: placementOf(plan, subtask, table), checkpoints: task === null ? null : { task, restore: setup.restore } };
    const every = setup.progressIntervalMs;
    const options = { signal: stop.signal, ...(every !== null ? { progress: (p: Progress) => post({ t: 'metrics', subtask, operators: p.operators }), progressIntervalMs: every } : {}) };
    const run = await runTask({ jobName: setup.jobName, graph, plan, engine: env.engine, batchSize: env.batchSize, options, memory, board: new WatermarkBoard(setup.watermarks), part });
    // Without checkpoints nothing is committed after the input ended: close now.
    if (task === null) {
      await run.close();
      await stdioFlushed();
    }
    post({ t: 'done', subtask, metrics: run.result.operators, final: task?.finalEntries(0) ?? [] });
    if (task !== null) {
      // The final checkpoint is written on the calling thread, then committed here; sinks
      // (whose close comes after their last commit) close only then.
      await close;
      await commits;
      await run.close();
      await stdioFlushed();
      post({ t: 'closed', subtask });
    }
  } catch (e) {
    postFailure(e, subtask);
  }
}

/** Tells the calling thread that `subtask` failed: the operator where, and the original error. */
function postFailure(e: unknown, subtask: number): void {
  const original = e instanceof JobFailedError ? e.original : e;
  const err = original instanceof Error ? original : new Error(String(original));
  post({
    t: 'error',
    operator: e instanceof JobFailedError ? e.operator : (operatorOf(e)?.name ?? 'job setup'),
    uid: e instanceof JobFailedError ? e.uid : operatorOf(e)?.uid,
    subtask,
    message: err.message,
    stack: err.stack,
  });
}

/**
 * A worker's stdout and stderr reach the process's through the calling thread, asynchronously:
 * a sink that printed (the `print` connector) must see its lines there before the calling thread
 * ends the process, or the last ones are lost. A write's callback runs once the calling thread
 * has taken the data.
 */
async function stdioFlushed(): Promise<void> {
  await Promise.all([process.stdout, process.stderr].map((s) => new Promise<void>((r) => s.write('', () => r()))));
}

function post(m: WorkerMessage): void {
  parentPort!.postMessage(m);
}

// A failure outside any one subtask (importing the job module): named after the thread's first.
main().catch((e: unknown) => postFailure(e, setup.subtasks[0]?.subtask ?? 0));
