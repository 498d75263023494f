/** One benchmark case in this process: `node dist/bench/worker.js <case> <engine> <events>`. */

import { runCase, type CaseName } from './cases.js';
import type { EngineName } from '../ts/engine/engine.js';

const [name, engine, events] = process.argv.slice(2);
const r = await runCase(name as CaseName, engine as EngineName, Number(events));
const maxRssMb = process.resourceUsage().maxRSS / 1024;
process.stdout.write(JSON.stringify({ ...r, maxRssMb }) + '\n');
