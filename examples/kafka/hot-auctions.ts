/**
 * Reads the bids examples/kafka/produce-bids.ts wrote and counts bids per auction in 10 s
 * event-time windows (per-partition watermarks, an idle partition does not hold them back),
 * writing the counts to another topic exactly once (a Kafka transaction per checkpoint).
 *   npm run cli -- run examples/kafka/hot-auctions.ts -- 127.0.0.1:<port> bids bid-counts
 * args: <bootstrap servers> <input topic> <output topic (must exist, or is created)>
 * Bounded: it reads what the topic holds when it starts, then ends.
 */

import { Admin } from '@platformatic/kafka';
import { agg, KafkaSink, KafkaSource, OffsetsInitializer, TumblingEventTimeWindows, WatermarkStrategy, type StreamEnvironment } from '../../ts/index.js';

const BID = { auction: 'i64', bidder: 'i64', price: 'i64', channel: 'utf8', url: 'utf8', dateTime: 'timestamp', extra: 'utf8' } as const;

export default async function (env: StreamEnvironment, args: readonly string[]): Promise<void> {
  const [bootstrap = '127.0.0.1:9092', input = 'bids', output = 'bid-counts'] = args;
  const admin = new Admin({ clientId: 'sluice-example', bootstrapBrokers: [bootstrap] });
  try {
    if (!(await admin.listTopics()).includes(output)) await admin.createTopics({ topics: [output], partitions: 1, replicas: 1 });
  } finally {
    await admin.close();
  }
  env.enableCheckpointing(1000, { dir: '.sluice-checkpoints/hot-auctions' });
  const bids = KafkaSource.builder().setBootstrapServers(bootstrap).setTopics(input).setGroupId('hot-auctions').setStartingOffsets(OffsetsInitializer.earliest()).setBounded(OffsetsInitializer.latest()).setJsonValue(BID).build();
  env
    .fromSource(bids, WatermarkStrategy.forBoundedOutOfOrderness<{ dateTime: number }>(1000).withTimestampAssigner('dateTime').withIdleness(5000))
    .keyBy('auction')
    .window(TumblingEventTimeWindows.of(10_000))
    .aggregate({ bids: agg.count(), top: agg.max('price') })
    .sinkTo(KafkaSink.builder().setBootstrapServers(bootstrap).setTopic(output).setKeyFields('auction').setDeliveryGuarantee('exactly-once').setTransactionalIdPrefix('hot-auctions').build());
}
