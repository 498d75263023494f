/**
 * Where a worker thread's entry module is: next to the module that starts it when running
 * built (dist/), the build's copy when running from sources (tests import ts/ directly, but a
 * worker needs JavaScript).
 */

import { existsSync } from 'node:fs';

/** The entry `file` (e.g. './worker.js') of a worker started from the module at `from` (its import.meta.url); `what` names it in the error. */
export function workerScript(file: string, from: string, what: string): URL {
  const here = new URL(file, from);
  if (existsSync(here)) return here;
  const at = here.href.lastIndexOf('/ts/');
  const built = new URL(`${here.href.slice(0, at)}/dist${here.href.slice(at)}`);
  if (!existsSync(built)) throw new Error(`${what} needs the built worker ${built.pathname.slice(built.pathname.lastIndexOf('/dist/') + 1)}; run \`npm run build\` first`);
  return built;
}
