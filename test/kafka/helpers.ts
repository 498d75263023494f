// Shared by the Kafka tests: topics on the real broker, producing test records with the client
// directly, and reading a topic back independently of Sluice's source (the client's own
// read_committed consumer, up to the end offsets).
import { Admin, Consumer, FetchIsolationLevels, Producer, stringDeserializers } from '@platformatic/kafka';
import { randomUUID } from 'node:crypto';

export const uid = (): string => randomUUID().slice(0, 8);

export async function createTopic(bootstrap: string, topic: string, partitions: number): Promise<void> {
  const admin = new Admin({ clientId: `admin-${uid()}`, bootstrapBrokers: [bootstrap] });
  try {
    await admin.createTopics({ topics: [topic], partitions, replicas: 1 });
  } finally {
    await admin.close();
  }
}

export interface TestRecord {
  readonly partition: number;
  readonly key?: string;
  readonly value: string | null;
  readonly timestamp?: number;
  readonly headers?: Record<string, string>;
}

/** Sends `records` in order (each to its partition) with a plain idempotent producer. */
export async function produce(bootstrap: string, topic: string, records: readonly TestRecord[]): Promise<void> {
  const producer = new Producer({ clientId: `producer-${uid()}`, bootstrapBrokers: [bootstrap], idempotent: true });
  try {
    for (let i = 0; i < records.length; i += 5000) {
      await producer.send({
        messages: records.slice(i, i + 5000).map((r) => ({
          topic,
          partition: r.partition,
          ...(r.key === undefined ? {} : { key: Buffer.from(r.key) }),
          ...(r.value === null ? {} : { value: Buffer.from(r.value) }),
          ...(r.timestamp === undefined ? {} : { timestamp: BigInt(r.timestamp) }),
          ...(r.headers === undefined ? {} : { headers: new Map(Object.entries(r.headers).map(([k, v]) => [Buffer.from(k), Buffer.from(v)])) }),
        })),
      });
    }
  } finally {
    await producer.close();
  }
}

export interface ReadRecord {
  readonly partition: number;
  readonly offset: bigint;
  readonly key: string | null;
  readonly value: string;
}

/** Every record of `topic` visible under read_committed, read to the end offsets; by partition, then offset. */
export async function readCommitted(bootstrap: string, topic: string): Promise<ReadRecord[]> {
  const consumer = new Consumer({
    clientId: `reader-${uid()}`,
    groupId: `reader-${uid()}`,
    bootstrapBrokers: [bootstrap],
    deserializers: stringDeserializers,
    isolationLevel: FetchIsolationLevels.READ_COMMITTED,
  });
  try {
    const ends = (await consumer.listOffsets({ topics: [topic], isolationLevel: FetchIsolationLevels.READ_COMMITTED })).get(topic)!;
    if (ends.every((e) => e === 0n)) return [];
    const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false, maxWaitTime: 100 });
    const read: ReadRecord[] = [];
    const reachedEnd = () => ends.every((end, p) => (stream.offsetsToFetch.get(`${topic}:${p}`) ?? 0n) >= end);
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (reachedEnd()) resolve();
      };
      stream.on('data', (m) => {
        if (m.offset < ends[m.partition]!) read.push({ partition: m.partition, offset: m.offset, key: m.key === undefined || m.key === '' ? (m.key ?? null) : m.key, value: m.value });
        check();
      });
      stream.on('fetch', check);
      stream.on('error', reject);
    });
    await stream.close();
    return read.sort((a, b) => a.partition - b.partition || (a.offset < b.offset ? -1 : 1));
  } finally {
    await consumer.close(true);
  }
}
