/**
 * Nexmark q0, pass-through: `SELECT auction, bidder, price, dateTime, extra FROM bid`.
 * Measures the cost of moving records through the engine.
 *   npm run cli -- run examples/nexmark/q0.ts --engine native -- 10000000 [out.jsonl]
 */

import { NexmarkSource, type NexmarkOptions, type StreamEnvironment } from '../../ts/index.js';
import { parseQueryArgs } from './common.js';

export const Q0_SCHEMA = { auction: 'i64', bidder: 'i64', price: 'i64', dateTime: 'timestamp', extra: 'utf8' } as const;

export function q0(env: StreamEnvironment, source: NexmarkOptions) {
  return env
    .fromSource(NexmarkSource.bids(source))
    .map((b) => ({ auction: b.auction, bidder: b.bidder, price: b.price, dateTime: b.dateTime, extra: b.extra }), Q0_SCHEMA);
}

export default function (env: StreamEnvironment, args: readonly string[]): void {
  const { events, sink } = parseQueryArgs(args);
  q0(env, { events }).sinkTo(sink);
}
