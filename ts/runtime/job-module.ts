/**
 * A job's module, imported on a worker thread (a parallel run's workers, an application's task
 * threads): its default export builds the job. Module hooks registered on the main thread do not
 * reach a worker, so a TypeScript job registers the loader here first.
 */

import { register } from 'node:module';
import type { JobModule } from '../api/job.js';

export type JobBuilder = (env: never, args: readonly string[]) => unknown;

let hooks = false;

/** The builder of `job` (its default export); fails naming the module when there is none. */
export async function importJobModule(job: JobModule): Promise<JobBuilder> {
  if (/\.[cm]?ts$/.test(job.url) && !hooks) {
    hooks = true;
    // Stacks from the job's TypeScript name its own lines (the hooks emit inline source maps).
    process.setSourceMapsEnabled(true);
    const root = new URL('../../../', import.meta.url);
    register(new URL('../cli/ts-hooks.js', import.meta.url).href, {
      parentURL: import.meta.url,
      data: { sources: new URL('ts/', root).href, build: new URL('dist/ts/', root).href },
    });
  }
  const mod = (await import(job.url)) as { default?: unknown };
  if (typeof mod.default !== 'function') throw new Error(`${job.url} has no default export that builds the job`);
  return mod.default as JobBuilder;
}
