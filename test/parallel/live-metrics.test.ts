// Live progress (what `sluice run --ui` shows): busy / backpressured / idle time per second per
// operator subtask (Flink's busyTimeMsPerSecond and friends), managed memory now and at its
// peak, the checkpoint history and each subtask's state in the last checkpoint; on both
// engines, on one thread and on worker threads. And the restart callback with the failure.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runJob, type Progress, type RestartInfo } from '../../ts/index.js';
import { onBothEngines } from '../engines.js';

const work = mkdtempSync(join(tmpdir(), 'sluice-live-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const job = new URL('../fixtures/jobs/live-metrics.ts', import.meta.url);

describe('live progress', () => {
  it.each([1, 2])('reports load, memory, checkpoints and checkpointed state per subtask (parallelism %i)', async (parallelism) => {
    await onBothEngines(async (engine) => {
      const dir = join(work, `chk-${engine}-${parallelism}`);
      const reports: Progress[] = [];
      const result = await runJob(job, { engine, parallelism, batchSize: 500, args: [dir, '200000'], progress: (p) => reports.push(p), progressIntervalMs: 50 });
      expect(result.recordsIn).toBe(184_000); // the bids among 200 000 Nexmark events
      expect(reports.length).toBeGreaterThan(0);
      const ops = reports.flatMap((p) => p.operators);
      // Every subtask's second is split into busy, backpressured and idle time.
      for (const m of ops) {
        for (const v of [m.busyMsPerSecond, m.backPressuredMsPerSecond, m.idleMsPerSecond]) {
          expect(v).toBeGreaterThanOrEqual(0);
          expect(v).toBeLessThanOrEqual(1000);
        }
        expect(m.busyMsPerSecond! + m.backPressuredMsPerSecond! + m.idleMsPerSecond!).toBeCloseTo(1000, 6);
      }
      // The slow sink is busy waiting for its destination; what feeds it is backpressured.
      const sinkBusy = ops.some((m) => m.role === 'sink' && m.busyMsPerSecond! > 0);
      const upstreamBackpressured = ops.some((m) => m.role !== 'sink' && m.backPressuredMsPerSecond! > 0);
      // Memory: the budget and its split, with what is in use now.
      const memory = reports.map((p) => p.memory!);
      expect(memory.every((m) => m.budgetBytes > 0 && m.operatorUsedBytes >= 0 && m.exchangeInFlightBytes >= 0 && m.exchangeInFlightBytes <= m.exchangeReservedBytes)).toBe(true);
      // Checkpoints: a history of completed ones, each with its size, timings and directory.
      const last = reports.findLast((p) => p.checkpoints?.history.some((r) => r.status === 'completed'))?.checkpoints;
      const done = last?.history.filter((r) => r.status === 'completed') ?? [];
      const ids = (last?.history ?? []).map((r) => r.id);
      const keyed = ops.filter((m) => m.name === 'KeyedProcess' && m.checkpointedBytes !== undefined && m.checkpointedBytes > 0).map((m) => m.subtask);
      return {
        sinkBusy,
        upstreamBackpressured,
        exchange: memory.every((m) => (parallelism > 1 ? m.exchangeReservedBytes > 0 : m.exchangeReservedBytes === 0)),
        completed: done.length > 0 && done.every((r) => r.bytes! > 0 && r.durationMs! >= 0 && r.alignMs! >= 0 && r.path !== null && r.error === null && !r.savepoint),
        ascending: ids.every((id, i) => i === 0 || id > ids[i - 1]!),
        // Older ones are pruned (retain 2); the final checkpoint is kept.
        finalKept: existsSync(result.checkpoints?.history.at(-1)?.path ?? ''),
        keyedSubtasksWithState: [...new Set(keyed)].sort(),
        finalInResult: (result.checkpoints?.history.at(-1)?.status ?? null) === 'completed',
      };
    }).then((r) => {
      expect(r.native).toEqual({
        sinkBusy: true,
        upstreamBackpressured: true,
        exchange: true,
        completed: true,
        ascending: true,
        finalKept: true,
        keyedSubtasksWithState: parallelism === 1 ? [0] : [0, 1],
        finalInResult: true,
      });
    });
  });

  it('tells onRestart about a failure its restart strategy restarts from, with the error', async () => {
    await onBothEngines(async (engine) => {
      const marker = join(work, `fail-once-${engine}`);
      const restarts: RestartInfo[] = [];
      const r = await runJob(new URL('../fixtures/jobs/fail-once.ts', import.meta.url), {
        engine,
        parallelism: 1,
        args: [marker, join(work, `fail-once-${engine}.jsonl`), join(work, `fail-once-${engine}-chk`)],
        onRestart: (x) => restarts.push(x),
      });
      return {
        restarts: r.restarts,
        seen: restarts.map((x) => ({ restart: x.restart, delayMs: x.delayMs, when: x.failedAt > 0, message: /failed in operator 'Map'.*injected failure/.test(x.error.message), stack: /fail-once\.ts/.test(String((x.error.cause as Error | undefined)?.stack)) })),
      };
    }).then((r) => expect(r.native).toEqual({ restarts: 1, seen: [{ restart: 1, delayMs: 10, when: true, message: true, stack: true }] }));
  });
});
