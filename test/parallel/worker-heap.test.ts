/**
 * The heap of the worker threads that run tasks (ts/runtime/worker-heap.ts): started with an
 * old-generation limit that lets the young generation free the batches' buffers, so a task
 * thread does not run a major collection every few batches.
 */

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WORKER_INITIAL_OLD_SPACE_MB, workerHeapFlag } from '../../ts/runtime/worker-heap.js';
import { ENGINES, requireNative } from '../engines.js';

const root = new URL('../../', import.meta.url).pathname;

describe('the heap of task threads', () => {
  it('is configured unless the process was given its own initial heap size', () => {
    const flag = `--initial-old-space-size=${WORKER_INITIAL_OLD_SPACE_MB}`;
    expect(workerHeapFlag([])).toBe(flag);
    expect(workerHeapFlag(['--max-old-space-size=4096', '--enable-source-maps'])).toBe(flag);
    expect(workerHeapFlag(['--initial-old-space-size=512'])).toBeNull();
    expect(workerHeapFlag(['--initial_heap_size=512'])).toBeNull();
    expect(workerHeapFlag(['--initial-heap-size', '300'])).toBeNull();
  });

  // A job at parallelism 2 in a child process with --trace-gc: the major collections of the
  // whole process ("Mark-Compact" lines), less the main thread's (counted there by a gc
  // observer), are the workers'. Without the setting this job ran 54-60 (27-30 per worker thread).
  for (const engine of ENGINES) {
    it(`${engine}: a job's worker threads run no more than a few major collections`, () => {
      requireNative();
      const index = `${root}dist/ts/index.js`;
      if (!existsSync(index)) throw new Error('run `npm run build` first (this test runs dist/ts/index.js)');
      const script = `
        import { PerformanceObserver, constants } from 'node:perf_hooks';
        // Observing before the import: the main thread's collections while it loads count as its own.
        let major = 0;
        const seen = (list) => { for (const e of list.getEntries()) if (e.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) major++; };
        const obs = new PerformanceObserver(seen);
        obs.observe({ entryTypes: ['gc'] });
        const { runJob } = await import(${JSON.stringify(index)});
        const r = await runJob(new URL(${JSON.stringify(`file://${root}dist/examples/nexmark/q0.js`)}), { engine: ${JSON.stringify(engine)}, parallelism: 2, args: ['20000000'] });
        // Entries are delivered after the collection: a turn of the event loop, then the rest.
        await new Promise((r) => setImmediate(r));
        seen({ getEntries: () => obs.takeRecords() });
        obs.disconnect();
        console.log(JSON.stringify({ mainMajor: major, sinkRows: r.operators.filter((m) => m.name.startsWith('Sink:')).reduce((n, m) => n + m.recordsIn, 0) }));
      `;
      // A file, not --eval: worker threads inherit the process's arguments.
      const dir = mkdtempSync(join(tmpdir(), 'sluice-heap-'));
      writeFileSync(join(dir, 'job.mjs'), script);
      const p = spawnSync(process.execPath, ['--trace-gc', join(dir, 'job.mjs')], { encoding: 'utf8', cwd: root, maxBuffer: 64 << 20 });
      rmSync(dir, { recursive: true, force: true });
      expect(p.status, p.stderr).toBe(0);
      const out = p.stdout.trim().split('\n');
      const { mainMajor, sinkRows } = JSON.parse(out.pop()!) as { mainMajor: number; sinkRows: number };
      // The job ran: 20 M events hold 18.4 M bids.
      expect(sinkRows).toBe(18_400_000);
      const all = out.filter((l) => l.includes('Mark-Compact')).length;
      expect(all - mainMajor, out.filter((l) => l.includes('Mark-Compact')).join('\n')).toBeLessThanOrEqual(6);
    });
  }
});
