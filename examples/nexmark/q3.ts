/**
 * Nexmark q3, local item suggestion: auctions of category 10 joined to their sellers when the
 * seller lives in OR, ID or CA (a regular, unwindowed join: both sides are kept).
 *
 * The connected streams are keyed (person id = auction seller), so a person and their auctions
 * meet on one subtask at any parallelism. The join state lives in the co-flatMap's closure (per
 * subtask; not yet checkpointed keyed state, which arrives with checkpoints).
 *   npm run cli -- run examples/nexmark/q3.ts -- 10000000 [out.jsonl]
 */

import { NexmarkSource, type Auction, type NexmarkOptions, type Person, type StreamEnvironment } from '../../ts/index.js';
import { parseQueryArgs } from './common.js';

export const Q3_SCHEMA = { name: 'utf8', city: 'utf8', state: 'utf8', id: 'i64' } as const;

export function q3(env: StreamEnvironment, source: NexmarkOptions) {
  const people = new Map<number, Person>();
  const waiting = new Map<number, Auction[]>();
  const row = (p: Person, a: Auction) => ({ name: p.name, city: p.city, state: p.state, id: a.id });
  return env
    .fromSource(NexmarkSource.persons(source))
    .filter((p) => p.state === 'OR' || p.state === 'ID' || p.state === 'CA')
    .connect(env.fromSource(NexmarkSource.auctions(source)).filter((a) => a.category === 10))
    .keyBy('id', 'seller')
    .flatMap(
      (p) => {
        people.set(p.id, p);
        const matched = waiting.get(p.id) ?? [];
        waiting.delete(p.id);
        return matched.map((a) => row(p, a));
      },
      (a) => {
        const p = people.get(a.seller);
        if (p !== undefined) return [row(p, a)];
        waiting.set(a.seller, [...(waiting.get(a.seller) ?? []), a]);
        return [];
      },
      Q3_SCHEMA,
    );
}

export default function (env: StreamEnvironment, args: readonly string[]): void {
  const { events, sink } = parseQueryArgs(args);
  q3(env, { events }).sinkTo(sink);
}
