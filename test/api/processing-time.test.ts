import { describe, expect, it } from 'vitest';
import { agg, batchFromRecords, CollectSink, ProcessingTimeSessionWindows, Schema, StreamEnvironment, TumblingProcessingTimeWindows, type Row, type Source } from '../../ts/index.js';

const SCHEMA = Schema.from({ k: 'i64', v: 'i64' });

/** A source of batches with a real pause before each one (wall-clock gaps for processing time). */
function paced(batches: { k: number; v: number }[][], pauseMs: number): Source<{ k: number; v: number }> {
  return {
    name: 'paced',
    schema: SCHEMA,
    hasEventTime: false,
    supportsProjection: false,
    open: () => {
      let i = 0;
      return {
        next: async () => {
          if (i >= batches.length) return null;
          await new Promise((r) => setTimeout(r, pauseMs));
          return batchFromRecords(batches[i++]!, SCHEMA);
        },
        close: () => undefined,
      };
    },
  };
}

const batches = [
  [{ k: 1, v: 1 }, { k: 2, v: 2 }, { k: 1, v: 3 }],
  [{ k: 1, v: 4 }],
  [{ k: 2, v: 5 }, { k: 2, v: 6 }],
];

/** Rows grouped by window start, as sorted [key, count] lists, windows in order. */
function byWindow(rows: Row[]): [number, number][][] {
  const w = new Map<number, [number, number][]>();
  for (const r of rows) w.set(r.windowStart as number, [...(w.get(r.windowStart as number) ?? []), [r.k as number, r.n as number]]);
  return [...w.keys()].sort((a, b) => a - b).map((k) => w.get(k)!.sort((a, b) => a[0] - b[0]));
}

describe('processing-time windows', () => {
  for (const engine of ['native', 'ts'] as const) {
    it(`tumbling: records group by the wall clock at the window, without timestamps (${engine})`, async () => {
      const env = StreamEnvironment.create({ engine });
      const sink = new CollectSink();
      // 150 ms between batches, 100 ms windows: every batch lands in a window of its own.
      env.fromSource(paced(batches, 150)).keyBy('k').window(TumblingProcessingTimeWindows.of(100)).aggregate({ n: agg.count() }).sinkTo(sink);
      expect(env.explain()).toContain('Window(TumblingProcessingTimeWindows(100 ms))');
      const r = await env.execute();
      expect(byWindow(sink.records)).toEqual([
        [
          [1, 2],
          [2, 1],
        ],
        [[1, 1]],
        [[2, 2]],
      ]);
      expect(r.lateRecordsDropped).toBe(0);
      for (const row of sink.records) expect((row.windowEnd as number) - (row.windowStart as number)).toBe(100);
    });

    it(`sessions: batches close in time merge, a long pause starts a new session (${engine})`, async () => {
      const env = StreamEnvironment.create({ engine });
      const sink = new CollectSink();
      env.fromSource(paced([...batches, ...batches], 10)).keyBy('k').window(ProcessingTimeSessionWindows.withGap(2_000)).aggregate({ n: agg.count() }).sinkTo(sink);
      await env.execute();
      // All within well under 2 s: one session per key, flushed at the end of input.
      expect(byWindow(sink.records).flat().sort((a, b) => a[0] - b[0])).toEqual([
        [1, 6],
        [2, 6],
      ]);
    });
  }
});
