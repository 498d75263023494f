/**
 * Parallel runs: one slot per subtask index (the highest parallelism in the plan), slot i
 * running subtask i of every operator that has an i-th subtask (Flink's slot sharing), and
 * the calling thread running the sinks that write as one subtask. The slots run on worker
 * threads, at most one per core (`taskThreads`): with more slots than cores a thread hosts
 * several, each with its own operators and channels on the thread's event loop, as a Flink
 * TaskManager runs several slots, rather than more threads than cores taking turns (four
 * threads on two cores ran at 0.8-1.0x of two, every extra isolate loading and compiling the
 * modules again; BENCHMARKS.md). Workers build the same job
 * by importing the job module and calling its default export, so no function is ever sent
 * between threads; only batches are, over channels wired here.
 *
 * A failure anywhere stops every worker: execute() rejects with the operator's name, the
 * subtask index and the original error, and no worker outlives the call.
 */

import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import type { Engine, EngineName } from '../engine/engine.js';
import { taskThreadData } from '../engine/select.js';
import { buildPlan, edgeTargets, type PhysicalEdge, type PhysicalNode, type PhysicalPlan } from '../plan/physical.js';
import type { Schema } from '../batch/schema.js';
import type { JobGraph } from '../plan/graph.js';
import type { ChannelIn, ChannelOut, PortLike } from './exchange.js';
import { createRing, SegmentChannel } from './segment-channel.js';
import { SegmentPool, type SegmentPoolSetup } from './segment-pool.js';
import { WatermarkBoard } from './alignment.js';
import { CheckpointTask, type CheckpointCoordinator, type CheckpointThread } from './checkpoint.js';
import type { CheckpointData, StateEntry } from './checkpoint-store.js';
import { CHANNEL_CREDITS, EXCHANGE_SEGMENT_BYTES, ManagedMemory, planMemory, type SharedMemorySetup } from './memory.js';
import { ProgressTracker } from './progress.js';
import { printProgress, runTask, type TaskRun } from './executor.js';
import { checkOutputs, prepareRestore, startCoordinator } from './job-checkpoints.js';
import { jobResult } from './job-result.js';
import { edgeKey, type Placement } from './task.js';
import { JobFailedError } from '../api/errors.js';
import type { ExecuteOptions, JobModule, JobResult, OperatorMetrics } from '../api/job.js';
import { workerScript } from './worker-script.js';
import type { SubtaskMessage } from './subtask-mailbox.js';
import { configureWorkerHeaps } from './worker-heap.js';


/** One end of a channel between threads: its port (transferred) and ring. */
export interface ChannelPort {
  readonly edge: string;
  readonly from: number;
  readonly to: number;
  readonly port: MessagePort;
  readonly ring: SharedArrayBuffer;
}

/** What a worker needs; ports are transferred alongside. */
export interface WorkerSetup {
  readonly job: JobModule;
  readonly jobName: string;
  readonly env: { readonly engine: EngineName; readonly batchSize: number; readonly parallelism: number; readonly maxParallelism: number; readonly bufferTimeoutMs: number };
  /** The slots this thread hosts: each subtask index with the ports of its channels. */
  readonly subtasks: readonly { readonly subtask: number; readonly ports: readonly ChannelPort[] }[];
  /** The run's exchange segments (null when the plan has no exchange). */
  readonly segments: SegmentPoolSetup | null;
  readonly memory: SharedMemorySetup;
  /** The run's source watermarks (watermark alignment). */
  readonly watermarks: SharedArrayBuffer;
  /** The checkpoint the run resumes from (checkpointing jobs), or null. */
  readonly restore: CheckpointData | null;
  /** Report operator metrics this often (ms), or null when nobody watches progress. */
  readonly progressIntervalMs: number | null;
}

/** What a worker tells the thread that runs the job. */
export type WorkerMessage =
  | { t: 'done'; subtask: number; metrics: readonly OperatorMetrics[]; final: StateEntry[] }
  /** Checkpointing: the subtask committed the final checkpoint and closed its sinks. */
  | { t: 'closed'; subtask: number }
  | { t: 'ack'; subtask: number; id: number; entries: StateEntry[] }
  | { t: 'metrics'; subtask: number; operators: readonly OperatorMetrics[] }
  | { t: 'error'; operator: string; uid: string | undefined; subtask: number; message: string; stack?: string }
  /** A process warning raised on the worker, emitted again on the calling thread. */
  | { t: 'warning'; name: string; message: string; code?: string };


/**
 * Channels of one thread, by edge and subtasks: segment channels (segment-channel.ts) over the
 * run's segment pool, with a ring shared with the other thread (its port only keeps the thread
 * alive until the channel is closed) or, within the thread, a ring of its own.
 */
export class ChannelTable {
  private readonly ends = new Map<string, SegmentChannel>();
  private readonly pool: SegmentPool | null;

  constructor(
    ports: readonly ChannelPort[],
    private readonly schemaOf: (edge: string) => Schema,
    private readonly memory: ManagedMemory,
    private readonly engine: Engine,
    segments: SegmentPoolSetup | null,
  ) {
    this.pool = segments === null ? null : SegmentPool.attach(segments);
    for (const p of ports) {
      this.ends.set(`${p.edge}/${p.from}/${p.to}`, new SegmentChannel(p.ring, this.segmentPool(), schemaOf(p.edge), CHANNEL_CREDITS, engine, memory, p.port as unknown as PortLike));
    }
  }

  private segmentPool(): SegmentPool {
    if (this.pool === null) throw new Error('internal error: an exchange channel in a plan without exchange segments');
    return this.pool;
  }

  private get(edge: string, from: number, to: number): SegmentChannel {
    const k = `${edge}/${from}/${to}`;
    let c = this.ends.get(k);
    if (c === undefined) {
      c = new SegmentChannel(createRing(), this.segmentPool(), this.schemaOf(edge), CHANNEL_CREDITS, this.engine, this.memory);
      this.ends.set(k, c);
    }
    return c;
  }

  out(edge: string, from: number, targets: readonly number[], width: number): (ChannelOut | undefined)[] {
    const out: (ChannelOut | undefined)[] = new Array(width).fill(undefined);
    for (const t of targets) out[t] = this.get(edge, from, t);
    return out;
  }

  in(edge: string, to: number, sources: readonly number[]): ChannelIn[] {
    return sources.map((s) => this.get(edge, s, to));
  }
}

/** The edge named by `edgeKey`, with its downstream node. */
export function edgeOf(plan: PhysicalPlan, edge: string): PhysicalEdge & { readonly to: PhysicalNode } {
  const [id, j] = edge.split(':').map(Number);
  const to = plan.all.find((p) => p.node.id === id)!;
  return { ...to.edges[j!]!, to };
}

/** The channels of thread `where` for the executor. */
export function placementOf(plan: PhysicalPlan, where: number | 'main', table: ChannelTable): Placement {
  return {
    where,
    out: (edge, from) => {
      const e = edgeOf(plan, edge);
      return table.out(edge, from, edgeTargets(e.kind, from, e.from.parallelism, e.to.parallelism), e.to.parallelism);
    },
    in: (edge, to) => {
      const e = edgeOf(plan, edge);
      const from = Array.from({ length: e.from.parallelism }, (_, a) => a).filter((a) => edgeTargets(e.kind, a, e.from.parallelism, e.to.parallelism).includes(to));
      return table.in(edge, to, from);
    },
  };
}


export async function executeParallel(
  jobName: string,
  graph: JobGraph,
  engine: Engine,
  batchSize: number,
  options: ExecuteOptions,
  job: JobModule,
  memoryBytes: number,
): Promise<JobResult> {
  const plan = buildPlan(graph);
  // A bad SLUICE_TASK_THREADS fails here, before any memory or thread is taken.
  const threads = taskThreads(plan.slots);
  const { exchangeReservedBytes, segments } = planMemory(plan, memoryBytes);
  const memory = ManagedMemory.create(memoryBytes, exchangeReservedBytes);
  // The exchange's segments, allocated once for the run (its exchange share of the budget).
  const pool = segments > 0 ? SegmentPool.create(segments, EXCHANGE_SEGMENT_BYTES) : null;
  // One pool for the window operators of every thread (the addon is loaded once per process).
  engine.openMemoryPool(memory.id, memory.operatorBudgetBytes);
  try {
    return await runParallel(jobName, graph, plan, engine, batchSize, options, job, memory, pool, threads);
  } finally {
    engine.closeMemoryPool(memory.id);
  }
}

/** A port of a channel between two slots, held by slot `thread` (-1: the calling thread). */
interface ThreadPort extends ChannelPort {
  readonly thread: number;
}

/**
 * The ports of every exchange channel between two slots (within one slot, channels are local).
 * Two slots hosted by the same worker thread still talk through a port and ring, both ends on
 * that thread.
 */
function threadPorts(plan: PhysicalPlan): ThreadPort[] {
  const ports: ThreadPort[] = [];
  for (const c of plan.all) {
    c.edges.forEach((e, j) => {
      if (e.kind === 'chain') return;
      const edge = edgeKey(c.node.id, j);
      for (let a = 0; a < e.from.parallelism; a++) {
        for (const b of edgeTargets(e.kind, a, e.from.parallelism, c.parallelism)) {
          const receiver = c.onMain ? -1 : b;
          if (receiver === a) continue; // same slot: a local channel
          const { port1, port2 } = new MessageChannel();
          const ring = createRing();
          ports.push({ thread: a, edge, from: a, to: b, port: port1, ring }, { thread: receiver, edge, from: a, to: b, port: port2, ring });
        }
      }
    });
  }
  return ports;
}

/** What the calling thread does with a worker's messages, by the subtask they concern. */
interface WorkerHandlers {
  readonly closed: (subtask: number) => void;
  readonly ack: (subtask: number, id: number, entries: StateEntry[]) => void;
  readonly metrics: (subtask: number, operators: readonly OperatorMetrics[]) => void;
  readonly done: (subtask: number, final: StateEntry[]) => void;
  /** Whether the run failed already (a worker then exits without saying why). */
  readonly failed: () => boolean;
  /** Whether the calling thread waits for the subtasks to close (after the final checkpoint). */
  readonly closing: () => boolean;
  readonly fail: (e: JobFailedError) => void;
  readonly warning: (w: { name: string; message: string; code?: string }) => void;
}

/**
 * Resolves with the metrics of every subtask worker `w` (thread `t`) hosts once all of them are
 * done; rejects with the operator and subtask that failed.
 */
function watchWorker(w: Worker, t: number, subtasks: readonly number[], jobName: string, on: WorkerHandlers): Promise<OperatorMetrics[]> {
  return new Promise<OperatorMetrics[]>((resolve, reject) => {
    const metrics: OperatorMetrics[] = [];
    let running = subtasks.length;
    let closed = 0;
    const failWith = (e: JobFailedError): void => {
      on.fail(e);
      reject(e);
    };
    w.on('message', (m: WorkerMessage) => {
      if (m.t === 'closed') {
        closed++;
        on.closed(m.subtask);
      } else if (m.t === 'ack') on.ack(m.subtask, m.id, m.entries);
      else if (m.t === 'metrics') on.metrics(m.subtask, m.operators);
      else if (m.t === 'warning') on.warning(m);
      else if (m.t === 'done') {
        on.done(m.subtask, m.final);
        metrics.push(...m.metrics);
        if (--running === 0) resolve(metrics);
      } else {
        const original = new Error(m.message);
        if (m.stack !== undefined) original.stack = m.stack;
        failWith(new JobFailedError(jobName, m.operator, m.subtask, original, m.uid));
      }
    });
    const name = `worker thread ${t} (subtasks ${subtasks.join(', ')})`;
    w.on('error', (err) => failWith(new JobFailedError(jobName, name, subtasks[0]!, err)));
    w.on('exit', (code) => {
      if (on.failed()) return;
      // Done, and closed where the calling thread waits for that (else it would wait for ever).
      if (running === 0 && !(on.closing() && closed < subtasks.length)) return;
      const when = running > 0 ? 'before the job ended' : 'after the final checkpoint, before its sinks closed';
      failWith(new JobFailedError(jobName, name, subtasks[0]!, new Error(`the worker thread exited (code ${code}) ${when}`)));
    });
  });
}

/**
 * Worker threads for `slots` slots: one per core at most (Node's availableParallelism), so that
 * a parallelism above the cores hosts several slots per thread instead of starting more threads
 * than can run. `SLUICE_TASK_THREADS` overrides the cap (at least 1).
 */
export function taskThreads(slots: number, env: NodeJS.ProcessEnv = process.env): number {
  const set = env.SLUICE_TASK_THREADS;
  if (set !== undefined && set !== '') {
    const n = Number(set);
    if (!Number.isInteger(n) || n < 1) throw new Error(`SLUICE_TASK_THREADS must be a whole number of threads, at least 1, not '${set}'; unset it to use one per core`);
    return Math.min(slots, n);
  }
  return Math.min(slots, availableParallelism());
}

async function runParallel(
  jobName: string,
  graph: JobGraph,
  plan: PhysicalPlan,
  engine: Engine,
  batchSize: number,
  options: ExecuteOptions,
  job: JobModule,
  memory: ManagedMemory,
  pool: SegmentPool | null,
  /** Worker threads to host the slots on (`taskThreads`). */
  threads: number,
): Promise<JobResult> {
  const started = performance.now();
  const slots = plan.slots;
  const board = WatermarkBoard.forPlan(plan);
  const hasMain = plan.all.some((p) => p.onMain);
  // Checkpoints: the coordinator runs here; every worker (and this thread, when it runs sinks) has a task.
  const config = graph.checkpoint;
  const restore = prepareRestore(options, config, plan);
  checkOutputs(graph, options, restore);
  let coordinator: CheckpointCoordinator | null = null;
  const mainTask = config !== null && hasMain ? new CheckpointTask(0, (id, entries) => coordinator!.acknowledge(slots, id, entries)) : null;
  const workers: Worker[] = [];
  const ports = threadPorts(plan);
  const mainPortsClosed = ports.filter((p) => p.thread === -1).map((p) => new Promise<void>((r) => p.port.once('close', () => r())));
  const portsOf = (t: number) => ports.filter((p) => p.thread === t).map(({ edge, from, to, port, ring }) => ({ edge, from, to, port, ring }));

  const results: Promise<OperatorMetrics[]>[] = [];
  /** Per subtask: resolves its 'closed' (after the final checkpoint it commits and closes its sinks). */
  const closed: (() => void)[] = [];
  /** Set once the calling thread waits for every subtask's 'closed'. */
  let closing = false;
  /** The worker that hosts each subtask: thread t hosts subtasks t, t + threads, ... */
  const host = (subtask: number): Worker => workers[subtask % threads]!;
  // Stopping (the caller's signal, or stop with savepoint): every thread stops its sources and receivers.
  const stop = new AbortController();
  const stopAll = (): void => {
    if (stop.signal.aborted) return;
    stop.abort();
    for (const w of workers) w.postMessage({ t: 'stop' } satisfies SubtaskMessage);
  };
  if (options.signal?.aborted === true) stopAll();
  options.signal?.addEventListener('abort', stopAll, { once: true });
  // Progress: each thread reports its operators' metrics; this thread combines them.
  const report = typeof options.progress === 'function' ? options.progress : options.progress === true ? printProgress : null;
  const interval = options.progressIntervalMs ?? 500;
  const latest = new Map<number, readonly OperatorMetrics[]>();
  let failure: JobFailedError | null = null;
  // Rejects on the first failure: what waits for workers after they reported 'done' (their
  // sinks' final commit and close) must not wait for ever on one that failed there instead.
  let onFailure: (e: JobFailedError) => void = () => undefined;
  const failedAt = new Promise<never>((_, reject) => (onFailure = reject));
  failedAt.catch(() => undefined);
  const fail = (e: JobFailedError): void => {
    if (failure === null) failure = e;
    onFailure(e);
    for (const w of workers) void w.terminate();
  };
  // Each worker raises the same warnings (e.g. an at-least-once sink of every subtask): shown once.
  const warned = new Set<string>();
  const warning = (w: { name: string; message: string; code?: string }): void => {
    const id = `${w.code ?? ''}\0${w.name}\0${w.message}`;
    if (warned.has(id)) return;
    warned.add(id);
    process.emitWarning(w.message, { type: w.name, ...(w.code !== undefined ? { code: w.code } : {}) });
  };
  for (let t = 0; t < threads; t++) {
    const subtasks = Array.from({ length: Math.ceil((slots - t) / threads) }, (_, k) => t + k * threads);
    const hosted = subtasks.map((subtask) => ({ subtask, ports: portsOf(subtask) }));
    const setup: WorkerSetup = {
      job,
      jobName,
      env: { engine: engine.name, batchSize, parallelism: graph.parallel.parallelism, maxParallelism: graph.parallel.maxParallelism, bufferTimeoutMs: graph.parallel.bufferTimeoutMs },
      subtasks: hosted,
      memory: memory.setup,
      segments: pool?.setup ?? null,
      watermarks: board.buffer,
      restore: restore?.from ?? null,
      progressIntervalMs: report === null ? null : interval,
    };
    configureWorkerHeaps();
    const w = new Worker(workerScript('./worker.js', import.meta.url, 'a parallel run'), { workerData: taskThreadData(setup, engine.name), transferList: hosted.flatMap((h) => h.ports.map((p) => p.port)) });
    workers.push(w);
    results.push(
      watchWorker(w, t, subtasks, jobName, {
        closed: (i) => closed[i]?.(),
        ack: (i, id, entries) => coordinator?.acknowledge(i, id, entries),
        metrics: (i, operators) => latest.set(i, operators),
        done: (i, final) => coordinator?.threadEnded(i, () => final),
        failed: () => failure !== null,
        closing: () => closing,
        fail,
        warning,
      }),
    );
  }
  // This thread runs the sinks that write as one subtask, fed by the workers.
  const table = new ChannelTable(portsOf(-1), (edge) => edgeOf(plan, edge).from.outputSchema, memory, engine, pool?.setup ?? null);
  if (config !== null) {
    // One checkpoint participant per subtask (the coordinator's "thread" i is slot i), and this thread.
    const participants: CheckpointThread[] = Array.from({ length: slots }, (_, subtask) => ({
      trigger: (id: number) => host(subtask).postMessage({ t: 'trigger', id, subtask } satisfies SubtaskMessage),
      complete: (id: number) => host(subtask).postMessage({ t: 'complete', id, subtask } satisfies SubtaskMessage),
    }));
    if (mainTask !== null) participants.push({ trigger: (id) => mainTask.trigger(id), complete: (id) => mainTask.commit(id) });
    coordinator = startCoordinator({ config, jobName, parallelism: graph.parallel.parallelism, maxParallelism: plan.maxParallelism, threads: participants, restore, options, stop: stopAll });
  }
  let progressTimer: NodeJS.Timeout | undefined;
  if (report !== null) {
    // Each thread computes its operators' rates over its own interval.
    const tracker = new ProgressTracker(jobName, started, true);
    progressTimer = setInterval(() => report(tracker.tick([...latest.values()].flat(), { memory: memory.use(engine), coordinator })), interval);
  }
  const mainOptions: ExecuteOptions = { signal: stop.signal, ...(report !== null ? { progress: (p) => latest.set(-1, p.operators), progressIntervalMs: interval } : {}) };
  const part = { placement: placementOf(plan, 'main', table), checkpoints: mainTask === null ? null : { task: mainTask, restore: restore?.from ?? null } };
  let mainRun: TaskRun | null = null;
  const mainPart = hasMain
    ? runTask({ jobName, graph, plan, engine, batchSize, options: mainOptions, memory, board, part }).then(
        (run) => (mainRun = run),
        (e: unknown) => {
          const err = e instanceof JobFailedError ? e : new JobFailedError(jobName, 'job', 0, e);
          fail(err);
          throw err;
        },
      )
    : null;
  let perWorker: OperatorMetrics[][];
  let failed = false;
  try {
    const all = await Promise.all([Promise.all(results), mainPart]);
    perWorker = all[0];
    if (coordinator !== null && stop.signal.aborted) await coordinator.abandon();
    else if (coordinator !== null) {
      coordinator.check();
      // Everything ended: the final checkpoint publishes the last output; then the sinks close.
      if (mainTask !== null) coordinator.threadEnded(slots, (id) => mainTask.finalEntries(id));
      await coordinator.finish();
      await (mainRun as TaskRun | null)?.close();
      // Sinks in workers commit the final checkpoint there (its 'complete' came first on the
      // same port) and then close; only then may the workers end.
      closing = true;
      await Promise.race([
        Promise.all(
          Array.from({ length: slots }, (_, subtask) => {
            const p = new Promise<void>((r) => (closed[subtask] = r));
            host(subtask).postMessage({ t: 'close', subtask } satisfies SubtaskMessage);
            return p;
          }),
        ),
        failedAt,
      ]);
    }
    await (mainRun as TaskRun | null)?.close();
  } catch (e) {
    failed = true;
    await coordinator?.abandon();
    throw failure ?? e;
  } finally {
    // The calling thread's operators close once, whatever happened (idempotent after a close above).
    if (failed) await (mainRun as TaskRun | null)?.close(true);
    if (progressTimer !== undefined) clearInterval(progressTimer);
    options.signal?.removeEventListener('abort', stopAll);
    options.client?.detach();
    await Promise.all(workers.map((w) => w.terminate()));
    // Settle only once this thread's channel ports are closed (closing completes asynchronously;
    // a receiver may have closed its port already).
    for (const p of ports) if (p.thread === -1) p.port.close();
    await Promise.all(mainPortsClosed);
  }
  const onMain = (mainRun as TaskRun | null)?.result.operators ?? [];
  const operators = [...perWorker.flat(), ...onMain].sort((a, b) => a.id - b.id || a.subtask - b.subtask);
  return jobResult({ jobName, engine: engine.name, durationMs: performance.now() - started, operators, cancelled: stop.signal.aborted, memory: memory.use(engine), coordinator, taskThreads: threads });
}
