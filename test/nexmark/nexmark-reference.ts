/**
 * Independent computations of the Nexmark queries over plain event arrays, written from the
 * queries' SQL in the nexmark repository (batch semantics: the generator emits events in
 * order, so with a 4 s watermark bound no record is late and the streaming results equal
 * these). Kept apart from the engine on purpose: no Sluice code runs here.
 */

export interface Person { id: number; name: string; city: string; state: string; dateTime: number }
export interface Auction { id: number; seller: number; category: number; dateTime: number; expires: number }
export interface Bid { auction: number; bidder: number; price: number; dateTime: number; extra: string }

const tumble = (ts: number, size: number): number => ts - (((ts % size) + size) % size);

/** q3: auctions of category 10 joined to sellers in OR, ID or CA. */
export function q3(persons: Person[], auctions: Auction[]): { name: string; city: string; state: string; id: number }[] {
  const sellers = new Map(persons.filter((p) => ['OR', 'ID', 'CA'].includes(p.state)).map((p) => [p.id, p]));
  return auctions.flatMap((a) => {
    const p = sellers.get(a.seller);
    return a.category === 10 && p !== undefined ? [{ name: p.name, city: p.city, state: p.state, id: a.id }] : [];
  });
}

/** q4: per category, the average over auctions of the highest bid within the auction's lifetime. */
export function q4(auctions: Auction[], bids: Bid[]): Map<number, number> {
  const byId = new Map(auctions.map((a) => [a.id, a]));
  const final = new Map<number, number>();
  for (const b of bids) {
    const a = byId.get(b.auction);
    if (a === undefined || b.dateTime < a.dateTime || b.dateTime > a.expires) continue;
    final.set(a.id, Math.max(final.get(a.id) ?? -Infinity, b.price));
  }
  const sums = new Map<number, { sum: number; n: number }>();
  for (const [id, price] of final) {
    const c = byId.get(id)!.category;
    const s = sums.get(c) ?? { sum: 0, n: 0 };
    s.sum += price;
    s.n++;
    sums.set(c, s);
  }
  return new Map([...sums].map(([c, s]) => [c, s.sum / s.n]));
}

/** q5: per 10 s window sliding by 2 s, the auctions with the most bids (ties all kept). */
export function q5(bids: Bid[], size = 10_000, slide = 2_000): { auction: number; num: number; windowStart: number }[] {
  const counts = new Map<number, Map<number, number>>(); // windowStart -> auction -> count
  for (const b of bids) {
    for (let start = tumble(b.dateTime, slide); start > b.dateTime - size; start -= slide) {
      const w = counts.get(start) ?? new Map<number, number>();
      w.set(b.auction, (w.get(b.auction) ?? 0) + 1);
      counts.set(start, w);
    }
  }
  const out: { auction: number; num: number; windowStart: number }[] = [];
  for (const [start, w] of counts) {
    const max = Math.max(...w.values());
    for (const [auction, num] of w) if (num >= max) out.push({ auction, num, windowStart: start });
  }
  return out;
}

/** q7: bids whose price is the highest of a 10 s window, with dateTime in [end - 10 s, end]. */
export function q7(bids: Bid[], size = 10_000): Bid[] {
  const max = new Map<number, number>(); // windowEnd -> max price
  for (const b of bids) {
    const end = tumble(b.dateTime, size) + size;
    max.set(end, Math.max(max.get(end) ?? -Infinity, b.price));
  }
  const out: Bid[] = [];
  for (const [end, price] of max) {
    for (const b of bids) if (b.price === price && b.dateTime >= end - size && b.dateTime <= end) out.push(b);
  }
  return out;
}

/** q8: people who opened an auction in the same 10 s tumbling window as they registered. */
export function q8(persons: Person[], auctions: Auction[], size = 10_000): { id: number; name: string; starttime: number }[] {
  const sellers = new Set(auctions.map((a) => `${a.seller}@${tumble(a.dateTime, size)}`));
  const seen = new Set<string>();
  const out: { id: number; name: string; starttime: number }[] = [];
  for (const p of persons) {
    const start = tumble(p.dateTime, size);
    const k = `${p.id}@${start}`;
    if (sellers.has(k) && !seen.has(`${k}/${p.name}`)) {
      seen.add(`${k}/${p.name}`);
      out.push({ id: p.id, name: p.name, starttime: start });
    }
  }
  return out;
}

/** q11: bids per bidder per session (10 s gap): sessions [first, last + gap). */
export function q11(bids: Bid[], gap = 10_000): { bidder: number; bidCount: number; starttime: number; endtime: number }[] {
  const byBidder = new Map<number, number[]>();
  for (const b of bids) {
    const l = byBidder.get(b.bidder) ?? [];
    l.push(b.dateTime);
    byBidder.set(b.bidder, l);
  }
  const out: { bidder: number; bidCount: number; starttime: number; endtime: number }[] = [];
  for (const [bidder, times] of byBidder) {
    times.sort((x, y) => x - y);
    let start = times[0]!;
    let last = start;
    let n = 0;
    for (const t of times) {
      if (t > last + gap) {
        out.push({ bidder, bidCount: n, starttime: start, endtime: last + gap });
        start = t;
        n = 0;
      }
      last = t;
      n++;
    }
    out.push({ bidder, bidCount: n, starttime: start, endtime: last + gap });
  }
  return out;
}
