/** One benchmark case in this process: `node dist/bench/worker.js <case> <engine> <events>`. */

import { runCase, type CaseName } from './cases.js';
import type { EngineName } from '../ts/engine/engine.js';

const [name, engine, events] = process.argv.slice(2);
// Started as one of a pair (cases.ts, pairOfJobs): loaded, say so, and run when told.
if (process.env.SLUICE_BENCH_AFTER_GO === '1') {
  process.stderr.write('ready\n');
  await new Promise<void>((go) => process.stdin.once('data', () => go()));
  process.stdin.pause();
}
const r = await runCase(name as CaseName, engine as EngineName, Number(events));
const maxRssMb = process.resourceUsage().maxRSS / 1024;
process.stdout.write(JSON.stringify({ ...r, maxRssMb }) + '\n');
