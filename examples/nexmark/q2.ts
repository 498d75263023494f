/**
 * Nexmark q2, selection: `SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0`.
 *   npm run cli -- run examples/nexmark/q2.ts -- 10000000 [out.jsonl]
 */

import { NexmarkSource, type NexmarkOptions, type StreamEnvironment } from '../../ts/index.js';
import { parseQueryArgs } from './common.js';

export const Q2_SCHEMA = { auction: 'i64', price: 'i64' } as const;

export function q2(env: StreamEnvironment, source: NexmarkOptions) {
  return env
    .fromSource(NexmarkSource.bids(source))
    .filter((b) => b.auction % 123 === 0)
    .map((b) => ({ auction: b.auction, price: b.price }), Q2_SCHEMA);
}

export default function (env: StreamEnvironment, args: readonly string[]): void {
  const { events, sink } = parseQueryArgs(args);
  q2(env, { events }).sinkTo(sink);
}
