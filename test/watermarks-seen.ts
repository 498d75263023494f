/** Records through a keyed process function that notes the watermark each one sees (the filter pushdown tests). */

import { expect } from 'vitest';
import { CollectSink, type DataStream, type JobResult, type StreamEnvironment } from '../ts/index.js';

export interface Seen {
  auction: number;
  price: number;
  wm: number;
}

/** Runs `env` with `stream` keyed by auction into a function collecting each record's watermark; the records, the plan and the result. */
export async function watermarksSeen(env: StreamEnvironment, stream: DataStream<{ auction: number; price: number }>): Promise<{ seen: Seen[]; plan: string; result: JobResult }> {
  const sink = new CollectSink<Seen>();
  stream
    .keyBy('auction', 'i64')
    .process(
      {
        processElement(r: { auction: number; price: number }, ctx, out) {
          out.collect({ auction: r.auction, price: r.price, wm: ctx.timerService().currentWatermark() });
        },
      },
      { auction: 'i64', price: 'i64', wm: 'f64' },
    )
    .sinkTo(sink);
  const plan = env.explain();
  const result = await env.execute();
  return { seen: sink.records, plan, result };
}

type Run = Awaited<ReturnType<typeof watermarksSeen>>;

/**
 * The same records, each seeing the same watermark, with the filter pushed into the source
 * `source` (the operator's name) and without; the watermark moved between kept records
 * (through batches whose rows were all dropped) and the source emitted the kept rows only.
 */
export function expectPushedAsNot(pushed: Run, not: Run, source: string): void {
  expect(not.plan).not.toContain('[filters');
  expect(pushed.seen).toEqual(not.seen);
  expect(pushed.seen.length).toBeGreaterThan(20);
  expect(new Set(pushed.seen.map((s) => s.wm)).size).toBeGreaterThan(10);
  const sourceOf = (r: JobResult) => r.operators.find((o) => o.name === source)!;
  expect(sourceOf(pushed.result).recordsOut).toBe(pushed.seen.length);
  expect(sourceOf(not.result).recordsOut).toBeGreaterThan(100_000);
}
