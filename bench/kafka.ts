/**
 * The Kafka benchmarks, against a local broker (scripts/kafka/broker.mjs, its folder kept
 * between runs; its start, about 15 s, is not timed):
 * - source: JSON bids (~150 bytes) in one partition, read to the end by a KafkaSource (one
 *   subtask) and decoded into batches by the engine (the topic is produced once; the second of
 *   two passes is timed);
 * - sink: generated bids written by a KafkaSink as JSON, keyed by auction, to a new topic of two
 *   partitions, with a checkpoint every second, at-least-once against exactly-once (a
 *   transaction per checkpoint interval, committed when the checkpoint completes).
 */

import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Admin, Consumer, Producer } from '@platformatic/kafka';
import { KafkaSink, KafkaSource, NexmarkSource, OffsetsInitializer, StreamEnvironment, type EngineName, type Sink, type SinkWriter } from '../ts/index.js';
import type { RecordBatch } from '../ts/batch/record-batch.js';

type BrokerModule = typeof import('../scripts/kafka/broker.mjs');

const BID = { auction: 'i64', bidder: 'i64', price: 'i64', channel: 'utf8', url: 'utf8', dateTime: 'timestamp', extra: 'utf8' } as const;

function bid(i: number): string {
  return JSON.stringify({
    auction: 1000 + (i % 10_000),
    bidder: 2000 + ((i * 7) % 50_000),
    price: 100 + ((i * 13) % 100_000),
    channel: `channel-${i % 10}`,
    url: `https://www.nexmark.com/${(i % 997).toString(36)}/item.htm?query=${i % 100}`,
    dateTime: 1_700_000_000_000 + i,
    extra: '',
  });
}

class CountSink implements Sink {
  readonly name = 'count';
  rows = 0;
  open(): SinkWriter {
    return { write: (b: RecordBatch) => void (this.rows += b.length), close: () => undefined };
  }
}

export async function kafkaSource(engine: EngineName, events: number): Promise<{ events: number; seconds: number; check: number; extra: Record<string, number> }> {
  const { startBroker } = (await import(new URL('../../scripts/kafka/broker.mjs', import.meta.url).href)) as BrokerModule;
  const broker = await startBroker({ dir: join(tmpdir(), 'sluice-bench-kafka'), log: () => undefined });
  try {
    const bootstrap = broker.bootstrap;
    const topic = `bench-bids-${events}`;
    const admin = new Admin({ clientId: 'bench', bootstrapBrokers: [bootstrap] });
    if (!(await admin.listTopics()).includes(topic)) await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1 });
    await admin.close();
    const consumer = new Consumer({ clientId: 'bench', groupId: 'bench', bootstrapBrokers: [bootstrap] });
    const end = Number((await consumer.listOffsets({ topics: [topic] })).get(topic)![0]!);
    await consumer.close();
    let produceSeconds = 0;
    if (end < events) {
      const t0 = performance.now();
      const producer = new Producer({ clientId: 'bench', bootstrapBrokers: [bootstrap], idempotent: true, compression: 'none' });
      for (let i = end; i < events; i += 4000) {
        const n = Math.min(4000, events - i);
        await producer.send({ messages: Array.from({ length: n }, (_, k) => ({ topic, partition: 0, value: Buffer.from(bid(i + k)) })) });
      }
      await producer.close();
      produceSeconds = (performance.now() - t0) / 1000;
    }
    const read = async (): Promise<{ rows: number; seconds: number }> => {
      const env = StreamEnvironment.create({ engine });
      const sink = new CountSink();
      env.fromSource(KafkaSource.builder().setBootstrapServers(bootstrap).setTopics(topic).setBounded(OffsetsInitializer.offsets({ [`${topic}:0`]: events })).setJsonValue(BID).build()).sinkTo(sink);
      const t0 = performance.now();
      await env.execute('bench kafka source');
      return { rows: sink.rows, seconds: (performance.now() - t0) / 1000 };
    };
    // Steady state: the broker is started for each run, and its first reads of the topic (a
    // cold JVM and page cache) and this process's first batches (cold JIT) are not the
    // source's speed; one untimed pass reads the topic first.
    await read();
    const { rows, seconds } = await read();
    const sink = { rows };
    return { events: sink.rows, seconds, check: sink.rows, extra: { bytesPerRecord: bid(events >> 1).length, ...(produceSeconds > 0 ? { produceSeconds } : {}) } };
  } finally {
    await broker.stop();
  }
}

/** Generated bids into a new topic through a KafkaSink with 1 s checkpoints; `check`: the records the sink took. */
export async function kafkaSink(engine: EngineName, events: number, guarantee: 'at-least-once' | 'exactly-once'): Promise<{ events: number; seconds: number; check: number; extra: Record<string, number> }> {
  const { startBroker } = (await import(new URL('../../scripts/kafka/broker.mjs', import.meta.url).href)) as BrokerModule;
  const broker = await startBroker({ dir: join(tmpdir(), 'sluice-bench-kafka'), log: () => undefined });
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-sink-'));
  const topic = `bench-sink-${randomUUID().slice(0, 8)}`;
  const admin = new Admin({ clientId: 'bench', bootstrapBrokers: [broker.bootstrap] });
  try {
    await admin.createTopics({ topics: [topic], partitions: 2, replicas: 1 });
    const env = StreamEnvironment.create({ engine });
    env.enableCheckpointing(1000, { dir });
    env
      .fromSource(NexmarkSource.bids({ events }))
      .sinkTo(KafkaSink.builder().setBootstrapServers(broker.bootstrap).setTopic(topic).setKeyFields('auction').setDeliveryGuarantee(guarantee).setTransactionalIdPrefix(`bench-${topic}`).build());
    const t0 = performance.now();
    const r = await env.execute(`bench kafka sink ${guarantee}`);
    const seconds = (performance.now() - t0) / 1000;
    const written = r.operators.filter((o) => o.role === 'sink').reduce((n, o) => n + o.recordsIn, 0);
    return { events: written, seconds, check: written, extra: { checkpoints: r.checkpoints?.completed ?? 0 } };
  } finally {
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.close();
    rmSync(dir, { recursive: true, force: true });
    await broker.stop();
  }
}
