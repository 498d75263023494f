/**
 * A task thread of an application instance (Kafka Streams' StreamThread): a worker thread
 * (task-thread-worker.ts) that builds the job from its module and runs the tasks it is given,
 * each as its own job at parallelism 1. The instance has as many as the job's parallelism and
 * spreads its tasks over them (application.ts), so its tasks use every core, as a parallel run's
 * subtasks do. Only task numbers, events, progress and results cross between the threads.
 */

import { Worker } from 'node:worker_threads';
import type { EnvironmentSettings } from '../../api/environment.js';
import type { ApplicationEvent, JobEvent, JobModule, JobResult, Progress, RestartInfo } from '../../api/job.js';
import type { LayoutSetup } from './task-graph.js';
import { workerScript } from '../../runtime/worker-script.js';
import { configureWorkerHeaps } from '../../runtime/worker-heap.js';
import { taskThreadData } from '../../engine/select.js';

/** What a task thread is started with. */
export interface TaskThreadSetup {
  /** The thread's number in the instance (0, 1, ...). */
  readonly index: number;
  readonly jobName: string;
  readonly job: JobModule;
  readonly env: EnvironmentSettings;
  readonly application: string;
  /** The application's brokers (the task claims). */
  readonly bootstrap: readonly string[];
  readonly stateDir: string;
  readonly layout: LayoutSetup;
  /** The cuts' node ids in the graph the instance started with: the thread's build must cut at the same nodes. */
  readonly cutNodes: readonly number[];
  readonly options: TaskRunOptions;
}

/** The parts of ExecuteOptions that a task's run takes from the instance's (functions become messages). */
export interface TaskRunOptions {
  readonly progressIntervalMs?: number;
  readonly allowFreshStart?: boolean;
  readonly allowNonRestoredState?: boolean;
  readonly overwrite?: boolean;
  /** Report each task's progress (the instance combines them). */
  readonly progress: boolean;
}

/** How a task's run on its thread ended. */
export type TaskOutcome =
  | { readonly kind: 'finished'; readonly result: JobResult }
  /** Stopped when asked before it finished (revoked, or the instance stops). */
  | { readonly kind: 'stopped' }
  /** Another instance took the task over: its ownership check refused this run (`refused`), or its transactions were fenced. */
  | { readonly kind: 'migrated'; readonly refused: boolean }
  | { readonly kind: 'failed'; readonly error: Error };

export type ToTaskThread = { t: 'start'; task: number } | { t: 'stop'; task: number } | { t: 'close' };
export type FromTaskThread =
  | { t: 'alive'; at: number }
  | { t: 'event'; e: ApplicationEvent }
  | { t: 'job-event'; task: number; e: JobEvent }
  | { t: 'restart'; task: number; r: RestartInfo }
  | { t: 'progress'; task: number; p: Progress }
  | { t: 'ended'; task: number; outcome: Exclude<TaskOutcome, { kind: 'failed' }> | { kind: 'failed'; message: string; stack?: string } }
  | { t: 'warning'; name: string; message: string; code?: string }
  | { t: 'closed' }
  | { t: 'error'; message: string; stack?: string };

/** Where the instance hears of its tasks' runs. */
export interface TaskThreadHandler {
  event(e: ApplicationEvent): void;
  jobEvent?(task: number, e: JobEvent): void;
  restart?(task: number, r: RestartInfo): void;
  progress?(task: number, p: Progress): void;
}

export class TaskThread {
  private readonly worker: Worker;
  private readonly running = new Map<number, (o: TaskOutcome) => void>();
  private failure: Error | null = null;
  private closed: (() => void) | null = null;
  /** When the thread last showed its event loop runs (it says so every second). */
  lastAlive = Date.now();

  readonly index: number;

  constructor(
    setup: TaskThreadSetup,
    private readonly handler: TaskThreadHandler,
  ) {
    this.index = setup.index;
    configureWorkerHeaps();
    this.worker = new Worker(workerScript('./task-thread-worker.js', import.meta.url, "an application instance's task thread"), { workerData: taskThreadData(setup, setup.env.engine), name: `sluice task thread ${setup.index}` });
    this.worker.on('message', (m: FromTaskThread) => this.received(m));
    this.worker.on('error', (e) => this.fail(e));
    this.worker.on('exit', (code) => this.fail(new Error(`task thread ${setup.index} exited${code === 0 ? '' : ` with code ${code}`} while it ran tasks`)));
  }

  /** Tasks running here. */
  get load(): number {
    return this.running.size;
  }

  /** Runs `task` here; resolves with how its run ended (never rejects). */
  start(task: number): Promise<TaskOutcome> {
    if (this.failure !== null) return Promise.resolve({ kind: 'failed', error: this.failure });
    return new Promise((resolve) => {
      this.running.set(task, resolve);
      this.send({ t: 'start', task });
    });
  }

  /** Asks `task`'s run to stop (its start resolves once it has). */
  stop(task: number): void {
    if (this.running.has(task)) this.send({ t: 'stop', task });
  }

  /** Ends the thread once its output is flushed (its tasks have ended). */
  async close(): Promise<void> {
    if (this.failure === null) {
      await new Promise<void>((resolve) => {
        this.closed = resolve;
        this.send({ t: 'close' });
      });
    }
    this.failure ??= new Error('closed');
    await this.worker.terminate();
  }

  private send(m: ToTaskThread): void {
    this.worker.postMessage(m);
  }

  private received(m: FromTaskThread): void {
    switch (m.t) {
      case 'alive':
        this.lastAlive = m.at;
        break;
      case 'event':
        this.handler.event(m.e);
        break;
      case 'job-event':
        this.handler.jobEvent?.(m.task, m.e);
        break;
      case 'restart':
        this.handler.restart?.(m.task, m.r);
        break;
      case 'progress':
        this.handler.progress?.(m.task, m.p);
        break;
      case 'ended': {
        const resolve = this.running.get(m.task);
        this.running.delete(m.task);
        const o = m.outcome;
        resolve?.(o.kind === 'failed' ? { kind: 'failed', error: Object.assign(new Error(o.message), o.stack === undefined ? {} : { stack: o.stack }) } : o);
        break;
      }
      case 'warning':
        // Emitted again here: printed or filtered as every other warning of the process.
        process.emitWarning(m.message, { type: m.name, ...(m.code !== undefined ? { code: m.code } : {}) });
        break;
      case 'closed':
        this.closed?.();
        break;
      case 'error':
        this.fail(Object.assign(new Error(`task thread ${this.index}: ${m.message}`), m.stack === undefined ? {} : { stack: m.stack }));
        break;
    }
  }

  /** The thread cannot run tasks any more: every task it ran fails with the reason. */
  private fail(e: Error): void {
    if (this.failure !== null) return;
    this.failure = e;
    for (const resolve of this.running.values()) resolve({ kind: 'failed', error: e });
    this.running.clear();
    this.closed?.();
  }
}
