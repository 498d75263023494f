/**
 * Nexmark q1, currency conversion:
 * `SELECT auction, bidder, 0.908 * price AS price, dateTime, extra FROM bid` (dollars to euros).
 *   npm run cli -- run examples/nexmark/q1.ts -- 10000000 [out.jsonl]
 */

import { NexmarkSource, type NexmarkOptions, type StreamEnvironment } from '../../ts/index.js';
import { parseQueryArgs } from './common.js';

export const Q1_SCHEMA = { auction: 'i64', bidder: 'i64', price: 'f64', dateTime: 'timestamp', extra: 'utf8' } as const;

export function q1(env: StreamEnvironment, source: NexmarkOptions) {
  return env
    .fromSource(NexmarkSource.bids(source))
    .map((b) => ({ auction: b.auction, bidder: b.bidder, price: 0.908 * b.price, dateTime: b.dateTime, extra: b.extra }), Q1_SCHEMA);
}

export default function (env: StreamEnvironment, args: readonly string[]): void {
  const { events, sink } = parseQueryArgs(args);
  q1(env, { events }).sinkTo(sink);
}
