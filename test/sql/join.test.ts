/**
 * Interval joins in SQL on both engines: JOIN ... ON keys AND a time bound, planned onto the
 * DataStream API's interval join, against a nested-loop computation over the same events.
 */

import { describe, expect, it } from 'vitest';
import { CollectSink, NexmarkSource, SqlError, StreamEnvironment, TableEnvironment, type Auction, type Bid, type EngineName } from '../../ts/index.js';
import { onBothEngines } from '../engines.js';

const EVENTS = 20_000;
const DDL = [
  `CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING, \`dateTime\` TIMESTAMP(3), extra STRING,
     WATERMARK FOR \`dateTime\` AS \`dateTime\` - INTERVAL '4' SECOND) WITH ('connector' = 'nexmark', 'events' = '${EVENTS}')`,
  `CREATE TABLE auction (id BIGINT, itemName STRING, description STRING, initialBid BIGINT, reserve BIGINT, \`dateTime\` TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT, category BIGINT, extra STRING,
     WATERMARK FOR \`dateTime\` AS \`dateTime\` - INTERVAL '4' SECOND) WITH ('connector' = 'nexmark', 'events' = '${EVENTS}')`,
];

async function collect<T extends object>(source: NexmarkSource<T>): Promise<T[]> {
  const env = StreamEnvironment.create({ engine: 'native' });
  const sink = new CollectSink<T>();
  env.fromSource(source).sinkTo(sink);
  await env.execute();
  return sink.records;
}

async function run(engine: EngineName, q: string, builds?: string): Promise<Record<string, unknown>[]> {
  const env = StreamEnvironment.create({ engine });
  const tEnv = TableEnvironment.create(env);
  for (const d of DDL) await tEnv.executeSql(d);
  const sink = new CollectSink();
  (await tEnv.sqlQuery(q)).toDataStream().sinkTo(sink);
  expect(env.explain()).toContain('IntervalJoin[');
  // The join builds only the joined columns read after it.
  if (builds !== undefined) expect(env.explain()).toContain(`IntervalJoin[-5000, 0] (p=1) [builds ${builds}]`);
  await env.execute();
  return sink.records;
}

const sorted = (rows: Record<string, unknown>[]): string[] => rows.map((r) => JSON.stringify(r)).sort();

describe('SQL interval joins', () => {
  it('bids within 5 s after their auction, above its initial bid, on both engines', async () => {
    const q = `SELECT B.auction, B.price, A.seller, A.\`dateTime\` AS opened, B.\`dateTime\`, A.extra AS aextra, B.extra
      FROM bid AS B JOIN auction A
      ON B.auction = A.id AND B.\`dateTime\` BETWEEN A.\`dateTime\` AND A.\`dateTime\` + INTERVAL '5' SECOND AND B.price > A.initialBid
      WHERE MOD(B.bidder, 2) = 0`;
    const builds = 'auction, bidder, price, dateTime, extra, initialBid, dateTime0, seller, extra0';
    const { native } = await onBothEngines((engine) => run(engine, q, builds));
    const bids = await collect(NexmarkSource.bids({ events: EVENTS }));
    const auctions = await collect(NexmarkSource.auctions({ events: EVENTS }));
    const byId = new Map<number, Auction[]>();
    for (const a of auctions) byId.set(a.id, [...(byId.get(a.id) ?? []), a]);
    const expected: Record<string, unknown>[] = [];
    for (const b of bids as Bid[]) {
      if (b.bidder % 2 !== 0) continue;
      for (const a of byId.get(b.auction) ?? []) {
        if (b.dateTime >= a.dateTime && b.dateTime <= a.dateTime + 5000 && b.price > a.initialBid) {
          expected.push({ auction: b.auction, price: b.price, seller: a.seller, opened: a.dateTime, dateTime: b.dateTime, aextra: a.extra, extra: b.extra });
        }
      }
    }
    expect(sorted(native)).toEqual(sorted(expected));
    expect(native.length).toBeGreaterThan(20);
  });

  it('says what a join needs', async () => {
    const env = StreamEnvironment.create({ engine: 'ts' });
    const tEnv = TableEnvironment.create(env);
    for (const d of DDL) await tEnv.executeSql(d);
    const cases: [string, string][] = [
      ['SELECT B.auction FROM bid B CROSS JOIN auction A', 'only [INNER] JOIN and LEFT / RIGHT / FULL [OUTER] JOIN ... ON are supported'],
      ['SELECT B.auction FROM bid B LEFT JOIN auction A ON B.auction = A.id AND B.price > A.reserve', "an outer join's ON takes only equalities"],
      ["SELECT extra FROM bid B JOIN auction A ON B.auction = A.id AND B.`dateTime` BETWEEN A.`dateTime` AND A.`dateTime` + INTERVAL '5' SECOND", "the column 'extra' is on both sides of the join; qualify it (B.extra or A.extra)"],
      ["SELECT B.auction FROM bid B JOIN auction A ON B.`dateTime` BETWEEN A.`dateTime` AND A.`dateTime` + INTERVAL '5' SECOND", 'the join needs an equality between a column of each side'],
    ];
    const got: [string, string][] = [];
    for (const [sql, text] of cases) {
      const e = await tEnv.sqlQuery(sql).then(() => null, (x: unknown) => x);
      expect(e, sql).toBeInstanceOf(SqlError);
      got.push([sql, (e as SqlError).message.includes(text) ? text : (e as SqlError).message]);
    }
    expect(got).toEqual(cases);
  });
});
