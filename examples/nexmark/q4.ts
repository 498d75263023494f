/**
 * Nexmark q4, average price per category: per auction the highest bid placed between its start
 * and expiry, then per category the average of those. Like the SQL, the result is updating:
 * every time an auction's highest valid bid rises, its category's average is emitted again; the
 * last row per category is the final answer.
 *
 * The join and aggregation state lives in the functions' closures (per subtask, not yet
 * checkpointed keyed state), so both steps are keyed: the join by auction id, the averages by
 * category. At parallelism above 1 the updates of a category may come in another order (they
 * reach the averages from several join subtasks), so intermediate rows differ; the last row
 * per category does not.
 *   npm run cli -- run examples/nexmark/q4.ts -- 10000000 [out.jsonl]
 */

import { NexmarkSource, type Bid, type NexmarkOptions, type StreamEnvironment } from '../../ts/index.js';
import { parseQueryArgs } from './common.js';

interface Open {
  readonly category: number;
  readonly start: number;
  readonly end: number;
  max: number | null;
}

export function q4(env: StreamEnvironment, source: NexmarkOptions) {
  const auctions = new Map<number, Open>();
  const early = new Map<number, Bid[]>(); // bids for auctions not seen yet
  const consider = (id: number, a: Open, b: Bid, out: { auction: number; category: number; maxPrice: number }[]): void => {
    if (b.dateTime >= a.start && b.dateTime <= a.end && (a.max === null || b.price > a.max)) {
      a.max = b.price;
      out.push({ auction: id, category: a.category, maxPrice: b.price });
    }
  };
  const maxima = env
    .fromSource(NexmarkSource.auctions(source))
    .connect(env.fromSource(NexmarkSource.bids(source)))
    .keyBy('id', 'auction')
    .flatMap(
      (a) => {
        const open: Open = { category: a.category, start: a.dateTime, end: a.expires, max: null };
        auctions.set(a.id, open);
        const out: { auction: number; category: number; maxPrice: number }[] = [];
        for (const b of early.get(a.id) ?? []) consider(a.id, open, b, out);
        early.delete(a.id);
        return out;
      },
      (b) => {
        const open = auctions.get(b.auction);
        const out: { auction: number; category: number; maxPrice: number }[] = [];
        if (open === undefined) early.set(b.auction, [...(early.get(b.auction) ?? []), b]);
        else consider(b.auction, open, b, out);
        return out;
      },
      { auction: 'i64', category: 'i64', maxPrice: 'i64' },
    );
  const categories = new Map<number, { sum: number; n: number; max: Map<number, number> }>();
  // Keyed by category: every update of a category meets the same running average at any parallelism.
  return maxima.keyBy('category').map(
    (u) => {
      let c = categories.get(u.category);
      if (c === undefined) {
        c = { sum: 0, n: 0, max: new Map() };
        categories.set(u.category, c);
      }
      const before = c.max.get(u.auction);
      if (before === undefined) c.n++;
      c.sum += u.maxPrice - (before ?? 0);
      c.max.set(u.auction, u.maxPrice);
      return { category: u.category, avgPrice: c.sum / c.n };
    },
    { category: 'i64', avgPrice: 'f64' },
  );
}

export default function (env: StreamEnvironment, args: readonly string[]): void {
  const { events, sink } = parseQueryArgs(args);
  q4(env, { events }).sinkTo(sink);
}
