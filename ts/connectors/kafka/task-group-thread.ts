/**
 * An instance's group membership on a worker thread of its own (task-group-worker.ts): a task
 * that keeps its thread busy (a long batch, a slow user function, a stalled event loop) must not
 * stop the heartbeats, or the broker would drop the instance and give its tasks away while they
 * still run. Same contract as TaskGroup.
 */

import { Worker } from 'node:worker_threads';
import type { TaskGroupHandler, TaskGroupOptions } from './task-group.js';
import { workerScript } from '../../runtime/worker-script.js';

export type ToGroup = { t: 'revoked'; id: number } | { t: 'release'; task: number } | { t: 'alive'; at: number } | { t: 'stop' };
export type FromGroup =
  | { t: 'assign'; tasks: number[] }
  | { t: 'assigned'; info: { member: string; generation: number; leader: boolean; tasks: number[] } }
  | { t: 'revoke'; id: number; tasks: number[] }
  | { t: 'stalled'; ms: number }
  | { t: 'done' }
  | { t: 'error'; message: string; stack?: string };

export class TaskGroupThread {
  private worker: Worker | null = null;

  constructor(
    private readonly o: TaskGroupOptions,
    private readonly handler: TaskGroupHandler,
    /** When the instance's threads last all answered (ms since the epoch): the one that answered least recently counts. */
    private readonly answered: () => number = Date.now,
  ) {}

  /** Takes part in the group until `signal` aborts (then leaves it, after stopping every task). */
  run(signal: AbortSignal): Promise<void> {
    const w = new Worker(workerScript('./task-group-worker.js', import.meta.url, "an application instance's group thread"), { workerData: this.o });
    this.worker = w;
    const send = (m: ToGroup): void => w.postMessage(m);
    const onAbort = (): void => send({ t: 'stop' });
    // While this thread and the task threads answer, the instance is alive (see TaskGroupOptions.maxStallMs).
    const alive = setInterval(() => send({ t: 'alive', at: this.answered() }), 1000);
    alive.unref();
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const end = (e: Error | null): void => {
        if (settled) return;
        settled = true;
        clearInterval(alive);
        signal.removeEventListener('abort', onAbort);
        this.worker = null;
        void w.terminate();
        if (e === null) resolve();
        else reject(e);
      };
      w.on('message', (m: FromGroup) => {
        switch (m.t) {
          case 'assign':
            this.handler.assign(m.tasks);
            break;
          case 'assigned':
            this.handler.assigned(m.info);
            break;
          case 'revoke':
            this.handler.revoke(m.tasks).then(
              () => send({ t: 'revoked', id: m.id }),
              () => send({ t: 'revoked', id: m.id }),
            );
            break;
          case 'stalled':
            this.handler.stalled(m.ms);
            break;
          case 'done':
            end(null);
            break;
          case 'error':
            end(Object.assign(new Error(m.message), m.stack === undefined ? {} : { stack: m.stack }));
            break;
        }
      });
      w.on('error', (e) => end(e));
      w.on('exit', (code) => end(code === 0 ? null : new Error(`the application's group thread exited with code ${code}`)));
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** See TaskGroup.release. */
  release(task: number): void {
    this.worker?.postMessage({ t: 'release', task } satisfies ToGroup);
  }
}
