/**
 * What the dashboard server (cli/dashboard.ts) and the page (ui/main.ts) exchange: the job
 * (GET /api/job), live events (GET /api/events, Server-Sent Events), and the answers to the
 * state-changing requests (POST /api/savepoint, POST /api/stop-with-savepoint, POST /api/rescale), which need the
 * run's token in the TOKEN_HEADER header.
 */

import type { Progress } from '../api/job.js';
import type { PlanGraph } from '../plan/physical.js';

export const TOKEN_HEADER = 'x-sluice-token';

export interface JobInfo {
  readonly jobName: string;
  readonly engine: string;
  readonly parallelism: number;
  /** When the process started the job (epoch ms). */
  readonly startedAt: number;
  readonly plan: PlanGraph;
  /** Checkpointing: savepoints and stop-with-savepoint are possible only with it. */
  readonly checkpoints: { readonly intervalMs: number; readonly dir: string } | null;
  /** The default target directory of savepoints (--savepoint-dir), or null: the request names one. */
  readonly savepointDir: string | null;
}

export type JobState = 'starting' | 'running' | 'restarting' | 'stopping' | 'finished' | 'stopped' | 'failed';

/** An error as the page shows it: its message, and the stack of the innermost error that has one. */
export interface ErrorView {
  readonly message: string;
  readonly stack: string;
}

/** Events on /api/events, by SSE event name. */
export interface Events {
  /** The job's metrics, every progress interval. */
  readonly progress: Progress;
  readonly status: { readonly state: JobState; readonly at: number; readonly error?: ErrorView; readonly detail?: string };
  /** A failure after which the restart strategy restarts the job. */
  readonly restart: { readonly restart: number; readonly failedAt: number; readonly delayMs: number; readonly error: ErrorView };
  /** A savepoint requested from the dashboard finished (or failed). */
  readonly savepoint: { readonly at: number; readonly stop: boolean; readonly path?: string; readonly error?: string };
  /** A rescale requested from the dashboard (POST /api/rescale) finished: the job as it runs now, or the error. */
  readonly rescale: { readonly at: number; readonly to: number; readonly path?: string; readonly job?: JobInfo; readonly error?: string };
}

/** The body of POST /api/rescale: the parallelism to run at. Answered like a savepoint (its path). */
export interface RescaleRequest {
  readonly parallelism: number;
}

/** The body of POST /api/savepoint and /api/stop-with-savepoint (dir: the target directory, else the default). */
export interface SavepointRequest {
  readonly dir?: string;
}

/** Their answer: 200 { path }, or an error status with { error }. */
export type SavepointResponse = { readonly path: string } | { readonly error: string };
