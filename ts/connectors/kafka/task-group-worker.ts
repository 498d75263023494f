/**
 * The worker thread of an instance's group membership (task-group-thread.ts starts it): runs
 * TaskGroup here, so that heartbeats go on while the instance's tasks keep its main thread busy
 * (the Java consumer's heartbeat thread). Asks the main thread to start and stop tasks, and
 * waits for a stop to be done before it joins again.
 */

import { parentPort, workerData } from 'node:worker_threads';
import { TaskGroup, type TaskGroupOptions } from './task-group.js';
import type { FromGroup, ToGroup } from './task-group-thread.js';

const port = parentPort!;
const post = (m: FromGroup): void => port.postMessage(m);
const stop = new AbortController();
const revoking = new Map<number, () => void>();
let nextRevoke = 0;

const group = new TaskGroup(workerData as TaskGroupOptions, {
  assign: (tasks) => post({ t: 'assign', tasks: [...tasks] }),
  stalled: (ms) => post({ t: 'stalled', ms }),
  assigned: (info) => post({ t: 'assigned', info: { ...info, tasks: [...info.tasks] } }),
  revoke: (tasks) =>
    new Promise<void>((resolve) => {
      const id = nextRevoke++;
      revoking.set(id, resolve);
      post({ t: 'revoke', id, tasks: [...tasks] });
    }),
});

port.on('message', (m: ToGroup) => {
  if (m.t === 'revoked') {
    revoking.get(m.id)?.();
    revoking.delete(m.id);
  } else if (m.t === 'alive') group.alive(m.at);
  else if (m.t === 'release') group.release(m.task);
  else stop.abort();
});

group.run(stop.signal).then(
  () => post({ t: 'done' }),
  (e: unknown) => post({ t: 'error', message: e instanceof Error ? e.message : String(e), ...(e instanceof Error && e.stack !== undefined ? { stack: e.stack } : {}) }),
);
