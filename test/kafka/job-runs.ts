// Runs of the checkpointed Kafka -> keyBy -> window -> Kafka job (test/fixtures/jobs/kafka-window.ts)
// as real `sluice` processes, SIGKILLed on a log line of a kind once they have written records
// into a transaction (fault.test.ts, rescale.test.ts).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { highWatermarks, readCommitted, readLog, windowOf } from './helpers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = `${root}dist/ts/cli/main.js`;

export interface Kill {
  /** The log line to kill on (once armed). */
  readonly on: RegExp;
  /** Extra delay after the line, ms. */
  readonly delayMs: number;
}

export const WRITTEN = /^sluice: debug: checkpoint \d+ written/;
export const COMPLETED = /^sluice: checkpoint \d+ completed/;

/** One run of the job; killed as `kill` says once this run wrote records, or left to finish. */
export async function run(bootstrap: string, args: readonly string[], out: string, kill: Kill | null): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  const child = spawn(process.execPath, [cli, ...args], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  let armed = false;
  let fired = false;
  let exited = false;
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.on('exit', (code, signal) => {
      exited = true;
      r({ code, signal });
    }),
  );
  createInterface({ input: child.stderr }).on('line', (line) => {
    stderr += `${line}\n`;
    if (kill === null || !armed || fired || !kill.on.test(line)) return;
    fired = true;
    if (kill.delayMs === 0) child.kill('SIGKILL');
    else setTimeout(() => child.kill('SIGKILL'), kill.delayMs);
  });
  if (kill !== null) {
    // Armed once this run has written records into a transaction.
    const probe = highWatermarks(bootstrap, out);
    try {
      const start = await probe.total();
      while (!exited && (await probe.total()) < start + 20n) await new Promise((r) => setTimeout(r, 20));
    } finally {
      await probe.close();
    }
    armed = true;
  }
  const { code, signal } = await exit;
  return { code, signal, stderr };
}

/** What is committed in `out` so far is part of the expected windows: none twice, none foreign. */
export async function expectPartOf(bootstrap: string, out: string, want: readonly string[], when: string): Promise<void> {
  const now = (await readCommitted(bootstrap, out)).map((x) => windowOf(x.value)).sort();
  const left = new Map<string, number>();
  for (const w of want) left.set(w, (left.get(w) ?? 0) + 1);
  for (const w of now) {
    expect(left.get(w) ?? 0, `${when}: ${w}`).toBeGreaterThan(0);
    left.set(w, left.get(w)! - 1);
  }
}

/** At the end: every expected window exactly once, each transaction under its own producer id (restores included). */
export async function expectExactlyOnce(bootstrap: string, out: string, want: readonly string[]): Promise<void> {
  const log = await readLog(bootstrap, out, true);
  expect(log.records.map((x) => windowOf(x.value)).sort()).toEqual(want);
  const seen = new Set<string>();
  for (const t of log.transactions) {
    const key = `${t.partition}/${t.producerId}`;
    expect(seen.has(key), `producer ${t.producerId} wrote two transactions to partition ${t.partition}`).toBe(false);
    seen.add(key);
  }
}
