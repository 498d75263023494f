/**
 * The V8 heap of the worker threads that run tasks (a parallel job's workers, an application
 * instance's task threads).
 *
 * Why: a task allocates its batches' columns as ArrayBuffers, most of them dead within a batch.
 * A new isolate starts with a small old-generation limit, computed from a live heap of a few MB,
 * and V8 starts a major (mark-compact) collection once the space left under that limit is no
 * larger than the young generation. A task thread's heap stays that small, so it ran a major
 * collection about every 30 ms (Nexmark q0 at parallelism 2: 160 of them in 4 s, against 2 on
 * the main thread at parallelism 1), each with concurrent-marking tasks that compete with the
 * tasks' own threads for the cores. A larger initial limit leaves the young generation to free
 * those buffers, as it does on the main thread.
 *
 * V8 flags are per process: the flag is set once, before the first task thread starts, and
 * applies to every isolate created after it, other workers of the process included (the main
 * thread's heap is already configured). A process started with its own
 * `--initial-old-space-size` or `--initial-heap-size` keeps it (Node refuses both in
 * NODE_OPTIONS, so the command line is where they can be).
 */

import { setFlagsFromString } from 'node:v8';

/**
 * Initial old-generation limit of a worker's heap, in MiB: garbage promoted up to this is
 * collected by one major collection rather than many. 64 MiB per thread was as fast as 256 in
 * the parallel benchmarks and bounds what a thread may hold before its first one.
 */
export const WORKER_INITIAL_OLD_SPACE_MB = 64;

/** The V8 flag to set for task threads' heaps, or null when the process was started with one (`execArgv`). */
export function workerHeapFlag(execArgv: readonly string[]): string | null {
  if (execArgv.some((a) => /^--initial[-_](old[-_]space|heap)[-_]size\b/.test(a))) return null;
  return `--initial-old-space-size=${WORKER_INITIAL_OLD_SPACE_MB}`;
}

let configured = false;

/** Before starting a worker thread that runs tasks: sets the flag once per process. */
export function configureWorkerHeaps(): void {
  if (configured) return;
  configured = true;
  const flag = workerHeapFlag(process.execArgv);
  if (flag !== null) setFlagsFromString(flag);
}
