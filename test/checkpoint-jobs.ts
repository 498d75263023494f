// Shared by the checkpoint tests: the checkpointed job run through the real `sluice` command.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export const root = fileURLToPath(new URL('..', import.meta.url));
export const cli = `${root}dist/ts/cli/main.js`;
export const work = mkdtempSync(join(tmpdir(), 'sluice-ckpt-'));

export const EVENTS = '200000';
export const RATE = '40000'; // about 5 s of wall time without restarts: room for four kills after progress, also on a loaded machine

export function jobArgs(kind: string, out: string, dir: string, engine: string, parallelism: number, extra: string[] = []): string[] {
  // q8 joins persons with auctions: smaller batches, so that its sparse persons source reaches a
  // batch boundary (where barriers go) often enough for checkpoints between the kills.
  const batches = kind === 'q8' ? ['--batch-size', '128'] : kind === 'q7' ? ['--batch-size', '1024'] : [];
  return ['run', 'test/fixtures/jobs/checkpointed.ts', '--engine', engine, '--parallelism', String(parallelism), '--no-progress', ...batches, ...extra, '--', kind, out, dir, EVENTS, RATE];
}

/** Runs to the end without interruption; returns the published output. */
export function uninterrupted(engine: string, kind: string, parallelism: number): string {
  const out = join(work, `ref-${engine}-${kind}-${parallelism}.jsonl`);
  const p = spawnSync(process.execPath, [cli, ...jobArgs(kind, out, join(work, `ref-${engine}-${kind}-${parallelism}-chk`), engine, parallelism)], { cwd: root, encoding: 'utf8' });
  expect(p.status, p.stderr).toBe(0);
  return readFileSync(out, 'utf8');
}

export const sortedLines = (text: string): string[] => text.split('\n').filter((l) => l !== '').sort();

/** True when every line of `part` is in `whole` (as a multiset): nothing published twice, nothing foreign. */
export function subMultiset(part: string, whole: string): boolean {
  const count = new Map<string, number>();
  for (const l of sortedLines(whole)) count.set(l, (count.get(l) ?? 0) + 1);
  for (const l of sortedLines(part)) {
    const n = count.get(l) ?? 0;
    if (n === 0) return false;
    count.set(l, n - 1);
  }
  return true;
}
