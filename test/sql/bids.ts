// Shared by the SQL tests: the Nexmark bid table's DDL, and the same bids through the DataStream
// API alone (the independent side the SQL results are checked against).
import { CollectSink, NexmarkSource, StreamEnvironment, type Bid } from '../../ts/index.js';

/** CREATE TABLE bid over `events` Nexmark events, with a 4 s bounded-out-of-orderness watermark. */
export function bidDdl(events: number): string {
  return `CREATE TABLE bid (
  auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING,
  \`dateTime\` TIMESTAMP(3), extra STRING,
  WATERMARK FOR \`dateTime\` AS \`dateTime\` - INTERVAL '4' SECOND
) WITH ('connector' = 'nexmark', 'kind' = 'bid', 'events' = '${events}')`;
}

/** The bids of the generator over `events` events, read through the DataStream API. */
export async function generatedBids(events: number): Promise<Bid[]> {
  const env = StreamEnvironment.create({ engine: 'native' });
  const sink = new CollectSink<Bid>();
  env.fromSource(NexmarkSource.bids({ events })).sinkTo(sink);
  await env.execute();
  return sink.records;
}
