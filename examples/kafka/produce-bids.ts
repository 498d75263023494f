/**
 * Writes Nexmark bids into a Kafka topic as JSON: a Sluice job from the Nexmark generator to a
 * KafkaSink (creating the topic if it is missing).
 *   npm run kafka      # in another terminal: prints the bootstrap servers
 *   npm run cli -- run examples/kafka/produce-bids.ts -- 127.0.0.1:<port> bids 1000000
 * args: <bootstrap servers> <topic> <events> [partitions, default 4]
 */

import { Admin } from '@platformatic/kafka';
import { KafkaSink, NexmarkSource, type StreamEnvironment } from '../../ts/index.js';

export default async function (env: StreamEnvironment, args: readonly string[]): Promise<void> {
  const [bootstrap = '127.0.0.1:9092', topic = 'bids', events = '1000000', partitions = '4'] = args;
  const admin = new Admin({ clientId: 'sluice-example', bootstrapBrokers: [bootstrap] });
  try {
    if (!(await admin.listTopics()).includes(topic)) await admin.createTopics({ topics: [topic], partitions: Number(partitions), replicas: 1 });
  } finally {
    await admin.close();
  }
  env
    .fromSource(NexmarkSource.bids({ events: Number(events) }))
    .sinkTo(KafkaSink.builder().setBootstrapServers(bootstrap).setTopic(topic).setKeyFields('auction').setDeliveryGuarantee('at-least-once').build());
}
