/**
 * The examples run as a user runs them (`sluice run examples/<file>.ts`), on both engines with
 * identical output.
 */

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { onBothEngines } from '../engines.js';

const root = resolve(import.meta.dirname, '../..');
const cli = join(root, 'dist', 'ts', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'sluice-examples-'));

function run(example: string, engine: string, args: string[]) {
  if (!existsSync(cli)) throw new Error('run `npm run build` first (the test runs dist/ts/cli/main.js)');
  const r = spawnSync(process.execPath, [cli, 'run', join(root, 'examples', example), '--engine', engine, '--parallelism', '1', '--no-progress', '--', ...args], { cwd: root, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
}

describe('examples', () => {
  it('file-pipeline.ts: clicks per user and minute from CSV to JSON Lines, bad rows to a dead-letter file', async () => {
    const input = join(dir, 'clicks.csv');
    const clicks = ['user,page,at', 'ann,/,2026-01-05T10:00:01Z', 'bob,/a,1767607202000', 'ann,/b,2026-01-05T10:00:30.5Z', 'ann,/,2026-01-05T11:01:10+01:00', 'bob,/a,yesterday', 'ann,/c'];
    writeFileSync(input, clicks.join('\n') + '\n');
    const { native } = await onBothEngines(async (engine) => {
      const out = join(dir, `per-minute-${engine}.jsonl`);
      const dead = join(dir, `dead-${engine}.jsonl`);
      run('file-pipeline.ts', engine, [input, out, dead]);
      return { rows: readFileSync(out, 'utf8').trim().split('\n').sort(), dead: readFileSync(dead, 'utf8').trim().split('\n').length };
    });
    const at = (iso: string) => Date.parse(iso);
    expect(native.rows.map((l) => JSON.parse(l) as unknown)).toEqual(
      expect.arrayContaining([
        { user: 'ann', windowStart: at('2026-01-05T10:01:00Z'), windowEnd: at('2026-01-05T10:02:00Z'), clicks: 1, pages: 1 },
        { user: 'ann', windowStart: at('2026-01-05T10:00:00Z'), windowEnd: at('2026-01-05T10:01:00Z'), clicks: 2, pages: 2 },
        { user: 'bob', windowStart: at('2026-01-05T10:00:00Z'), windowEnd: at('2026-01-05T10:01:00Z'), clicks: 1, pages: 1 },
      ]),
    );
    expect(native.rows).toHaveLength(3);
    expect(native.dead).toBe(2);
  });

  it('keyed-process.ts: bursts per bidder from state and event-time timers', async () => {
    const { native } = await onBothEngines(async (engine) => {
      const out = join(dir, `bursts-${engine}.jsonl`);
      run('keyed-process.ts', engine, ['50000', out]);
      return readFileSync(out, 'utf8').trim().split('\n').sort();
    });
    const bursts = native.map((l) => JSON.parse(l) as { bidder: number; bids: number; from: number; to: number });
    expect(bursts.length).toBeGreaterThan(10);
    // Every bid is in exactly one burst (the last ones fire at the end of input).
    expect(bursts.reduce((s, b) => s + b.bids, 0)).toBe(Math.round(50000 * 0.92));
    for (const b of bursts) expect(b.to).toBeGreaterThanOrEqual(b.from);
  });
});
