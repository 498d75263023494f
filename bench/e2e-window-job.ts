/**
 * The e2e keyed window job (bench case `e2e-q-window`) as a job module, so that the parallel-*
 * cases run it through runJob at parallelism 1, 2 and 4 like the Nexmark query modules:
 * Nexmark bids -> keyBy(auction) -> 10 s tumbling max(price), count -> discard.
 */

import { agg, NexmarkSource, TumblingEventTimeWindows, WatermarkStrategy, type StreamEnvironment } from '../ts/index.js';
import { parseQueryArgs } from '../examples/nexmark/common.js';

/** The job's stream, before its sink (also built by the `e2e-q-window` case). */
export function e2eWindow(env: StreamEnvironment, events: number) {
  // As in q5 and q7: parallel source subtasks advance together (within 10 s of event time).
  // Unaligned, at p=2 one subtask's source ran 50-270 s of event time ahead of the other's, so
  // each window subtask held 75-155 k groups open against 9 k at p=1, and its push cost 27-32
  // ns per row against 17.5 (measured 2026-12-06).
  return env
    .fromSource(NexmarkSource.bids({ events }), WatermarkStrategy.forBoundedOutOfOrderness(4000).withWatermarkAlignment('bids', 10_000))
    .keyBy('auction')
    .window(TumblingEventTimeWindows.of(10_000))
    .aggregate({ maxPrice: agg.max('price'), bids: agg.count() });
}

export default function (env: StreamEnvironment, args: readonly string[]): void {
  const { events, sink } = parseQueryArgs(args);
  e2eWindow(env, events).sinkTo(sink);
}
