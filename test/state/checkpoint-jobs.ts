// Shared by the checkpoint tests: the checkpointed job run through the real `sluice` command.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { rng } from '../engines.js';
import { checkpointIds } from '../../ts/runtime/checkpoint-store.js';

export const root = fileURLToPath(new URL('../..', import.meta.url));
export const cli = `${root}dist/ts/cli/main.js`;
export const work = mkdtempSync(join(tmpdir(), 'sluice-ckpt-'));

export const EVENTS = '200000';
export const RATE = '40000'; // about 5 s of wall time without restarts: room for four kills after progress, also on a loaded machine
/**
 * The pace of runs that need none (references, a run resumed after the last kill or from a
 * savepoint): far above what the jobs reach. Their output does not depend on the pace (event
 * time comes from the generator), and a paced run costs CI seconds of waiting each.
 */
export const UNPACED = '1000000000';

/** `rate` events/s `slowdown` times slower; `null`: unpaced. */
export function paced(rate: string, slowdown: number | null): string {
  return slowdown === null ? UNPACED : String(Math.max(1, Math.floor(Number(rate) / slowdown)));
}

export function jobArgs(kind: string, out: string, dir: string, engine: string, parallelism: number, extra: string[] = [], rate = RATE): string[] {
  // (q8's sparse persons source needs no smaller batches: a paced Nexmark source emits what is due every 10 ms.)
  const batches = kind === 'q7' ? ['--batch-size', '1024'] : [];
  return ['run', 'test/fixtures/jobs/checkpointed.ts', '--engine', engine, '--parallelism', String(parallelism), '--no-progress', ...batches, ...extra, '--', kind, out, dir, EVENTS, rate];
}

/** The same job paced `slowdown` times slower (`null`: unpaced; its output does not depend on the pace: event time comes from the generator). */
export function pacedJobArgs(kind: string, out: string, dir: string, engine: string, parallelism: number, extra: string[] = []): (slowdown: number | null) => string[] {
  return (slowdown) => jobArgs(kind, out, dir, engine, parallelism, extra, paced(RATE, slowdown));
}

/** Ids of the checkpoints under `dir` that completed (their manifest, written last, exists), newest first. */
function completedIds(dir: string): number[] {
  return checkpointIds(dir).filter((id) => existsSync(join(dir, `chk-${id}`, '_manifest')));
}

/** What a file sink published: the file, or (`dir/`) its visible part files in name order, concatenated. */
export function publishedOutput(out: string): string {
  if (!out.endsWith('/')) return existsSync(out) ? readFileSync(out, 'utf8') : '';
  if (!existsSync(out)) return '';
  return readdirSync(out)
    .filter((n) => !n.startsWith('.'))
    .sort()
    .map((n) => readFileSync(join(out, n), 'utf8'))
    .join('');
}

/** Runs to the end without interruption; returns the published output. */
export function uninterrupted(engine: string, kind: string, parallelism: number): string {
  const out = join(work, `ref-${engine}-${kind}-${parallelism}.jsonl`);
  const chk = join(work, `ref-${engine}-${kind}-${parallelism}-chk`);
  // A fresh run: another test may have computed this reference already (a checkpointed run does not start over a non-empty output).
  rmSync(out, { force: true });
  rmSync(chk, { recursive: true, force: true });
  const p = spawnSync(process.execPath, [cli, ...jobArgs(kind, out, chk, engine, parallelism, [], UNPACED)], { cwd: root, encoding: 'utf8' });
  expect(p.status, p.stderr).toBe(0);
  return publishedOutput(out);
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

/**
 * Runs `sluice <args> --restore-from latest` again and again, SIGKILLing each of the first four
 * runs at a random moment after it completed a new checkpoint, until a run finishes. After
 * every kill the published output must be part of `reference` (a prefix on one thread); at
 * the end it must equal it (on one thread byte for byte, else as a multiset).
 *
 * A paced job (`args` a function of a slowdown) lasts a fixed wall-clock time however loaded
 * the machine is, while each kill waits for a checkpoint, which takes longer on a loaded one: when
 * a run finishes before the fourth kill, its output is checked and the whole sequence starts
 * again from scratch at half the pace (up to 16 times slower), instead of depending on speed.
 * The run after the fourth kill, which is not killed, is unpaced (`args(null)`).
 */
export async function killAndResume(o: {
  args: readonly string[] | ((slowdown: number | null) => readonly string[]);
  out: string;
  dir: string;
  reference: string;
  ordered: boolean;
  seed: number;
  /** Instead of comparing lines: checks the final output (jobs whose lines depend on where a restore cut the input, e.g. updating aggregations' changes). */
  compare?: (final: string) => void;
}): Promise<void> {
  const published = (): string => publishedOutput(o.out);
  const random = rng(o.seed);
  for (let slowdown = 1; ; slowdown *= 2) {
    const args = (kills: number): readonly string[] => (typeof o.args === 'function' ? o.args(kills < 4 ? slowdown : null) : o.args);
    const kills = await killRuns(args, o, published, random);
    const final = published();
    if (o.compare !== undefined) o.compare(final);
    else if (o.ordered) expect(final).toBe(o.reference);
    else expect(sortedLines(final)).toEqual(sortedLines(o.reference));
    if (kills >= 4 || typeof o.args !== 'function' || slowdown >= 16) {
      expect(kills).toBeGreaterThanOrEqual(4);
      return;
    }
    rmSync(o.out, { recursive: true, force: true });
    rmSync(o.dir, { recursive: true, force: true });
  }
}

/** The kill-and-resume sequence until a run finishes; returns the number of kills. */
async function killRuns(args: (kills: number) => readonly string[], o: { out: string; dir: string; reference: string; ordered: boolean; compare?: (final: string) => void }, published: () => string, random: () => number): Promise<number> {
  let kills = 0;
  let finished = false;
  for (let attempt = 0; attempt < 40 && !finished; attempt++) {
    const before = completedIds(o.dir)[0] ?? 0;
    const child = spawn(process.execPath, [cli, ...args(kills)], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
    let done: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    void exited.then((d) => (done = d));
    // Kill only after this run made progress (a new completed checkpoint: a kill during the
    // first one would leave nothing to resume from), at a random moment after it.
    const killAfterProgress = kills < 4;
    while (done === null && killAfterProgress && (completedIds(o.dir)[0] ?? 0) <= before) await new Promise((r) => setTimeout(r, 5));
    if (done === null && killAfterProgress) {
      await new Promise((r) => setTimeout(r, Math.floor(random() * 250)));
      child.kill('SIGKILL');
    }
    const { code, signal } = await exited;
    if (signal === 'SIGKILL') {
      kills++;
      const now = published();
      // Whatever is published is part of the uninterrupted output: nothing twice. On one
      // thread the order is the same too, so it is a prefix. Only output of completed
      // checkpoints is published; a kill in the middle of a commit (appending a completed
      // checkpoint's pending file) can leave the last line unfinished, which the restore completes.
      const cut = now.lastIndexOf('\n') + 1;
      const tail = now.slice(cut);
      if (o.compare !== undefined) {
        // Lines may differ from the reference's; the final output is checked at the end.
      } else if (o.ordered) expect(o.reference.startsWith(now)).toBe(true);
      else {
        expect(subMultiset(now.slice(0, cut), o.reference)).toBe(true);
        if (tail !== '') expect(o.reference.split('\n').some((l) => l.startsWith(tail))).toBe(true);
      }
    } else {
      expect(code, stderr).toBe(0);
      finished = true;
    }
  }
  expect(finished).toBe(true);
  return kills;
}
