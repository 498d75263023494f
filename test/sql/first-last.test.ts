/**
 * FIRST_VALUE / LAST_VALUE in updating (non-windowed) aggregations, Flink's retracting
 * semantics: nulls are skipped, each value keeps its arrival order, a retraction removes the
 * value's earliest occurrence, the result is the earliest / latest value still there. On both
 * engines: over append-only bids against the generated bids in order, and over an updating input
 * against a simulation of those semantics over the input's own changes.
 */

import { describe, expect, it } from 'vitest';
import { CollectSink, StreamEnvironment, TableEnvironment, type EngineName } from '../../ts/index.js';
import { onBothEngines } from '../engines.js';
import { bidDdl, generatedBids } from './bids.js';

const EVENTS = 20_000;

type Change = Record<string, unknown> & { rowKind: string };

/** The final table of a changelog keyed by `key`: +I/+U set, -U/-D must retract what is there. */
function finalTable(changes: readonly Change[], key: (r: Record<string, unknown>) => string): string[] {
  const t = new Map<string, string>();
  for (const { rowKind, ...row } of changes) {
    const s = JSON.stringify(row);
    if (rowKind === '+I' || rowKind === '+U') t.set(key(row), s);
    else {
      expect(t.get(key(row)), `${rowKind} ${s}`).toBe(s);
      t.delete(key(row));
    }
  }
  return [...t.values()].sort();
}

async function changes(engine: EngineName, query: string): Promise<Change[]> {
  const env = StreamEnvironment.create({ engine, batchSize: 512 });
  const tEnv = TableEnvironment.create(env);
  await tEnv.executeSql(bidDdl(EVENTS));
  const sink = new CollectSink<Change>();
  (await tEnv.sqlQuery(query)).toChangelogStream().sinkTo(sink);
  await env.execute();
  return sink.records;
}

describe('SQL FIRST_VALUE / LAST_VALUE in updating aggregations', () => {
  it('over append-only bids: the first channel and the last price of each auction, in arrival order', async () => {
    const q = 'SELECT auction, FIRST_VALUE(channel) AS fc, LAST_VALUE(price) AS lp, COUNT(*) AS n FROM bid GROUP BY auction';
    const { native } = await onBothEngines(async (engine) => finalTable(await changes(engine, q), (r) => String(r.auction)));
    const per = new Map<number, { auction: number; fc: string; lp: number; n: number }>();
    for (const b of await generatedBids(EVENTS)) {
      const e = per.get(b.auction);
      if (e === undefined) per.set(b.auction, { auction: b.auction, fc: b.channel, lp: b.price, n: 1 });
      else {
        e.lp = b.price;
        e.n++;
      }
    }
    expect(native).toEqual([...per.values()].map((r) => JSON.stringify(r)).sort());
    expect(native.length).toBeGreaterThan(100);
  });

  it("over an updating input (a GROUP BY's -U/+U): a retraction removes the value's earliest occurrence", async () => {
    const inner = 'SELECT auction, channel, COUNT(*) AS n FROM bid WHERE MOD(auction, 7) = 0 GROUP BY auction, channel';
    const q = `SELECT channel, FIRST_VALUE(auction) AS fa, LAST_VALUE(auction) AS la, FIRST_VALUE(n) AS fn, COUNT(*) AS c FROM (${inner}) GROUP BY channel`;
    const { native } = await onBothEngines(async (engine) => {
      const got = finalTable(await changes(engine, q), (r) => String(r.channel));
      // The same semantics simulated over the inner query's changes (the outer query's input).
      const lists = new Map<string, { a: number; n: number }[]>();
      for (const { rowKind, ...r } of await changes(engine, inner)) {
        const l = lists.get(r.channel as string) ?? [];
        if (rowKind === '+I' || rowKind === '+U') l.push({ a: r.auction as number, n: r.n as number });
        else l.splice(l.findIndex((x) => x.a === r.auction && x.n === r.n), 1);
        lists.set(r.channel as string, l);
      }
      // Per value, FIRST/LAST remove the value's earliest occurrence: for fn (n values repeat
      // across auctions) the list of n values is kept apart.
      const nLists = new Map<string, number[]>();
      for (const { rowKind, ...r } of await changes(engine, inner)) {
        const l = nLists.get(r.channel as string) ?? [];
        if (rowKind === '+I' || rowKind === '+U') l.push(r.n as number);
        else l.splice(l.indexOf(r.n as number), 1);
        nLists.set(r.channel as string, l);
      }
      const expected = [...lists]
        .filter(([, l]) => l.length > 0)
        .map(([channel, l]) => JSON.stringify({ channel, fa: l[0]!.a, la: l[l.length - 1]!.a, fn: nLists.get(channel)![0], c: l.length }))
        .sort();
      expect(got).toEqual(expected);
      return got;
    });
    expect(native.length).toBeGreaterThan(3);
  });
});
