// The real broker (scripts/kafka/broker.mjs, started once by test/kafka/global-setup.ts) with
// the chosen JavaScript client (@platformatic/kafka, docs/kafka-clients.md): a topic with two
// partitions, one transaction committed, one aborted, one committed again, then a
// read_committed consumer in a group reads exactly the committed records, up to the end
// offsets of both partitions (so nothing aborted was merely not yet read).
import { Admin, Consumer, FetchIsolationLevels, Producer, stringDeserializers, stringSerializers } from '@platformatic/kafka';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';

const bootstrap = inject('kafkaBootstrap');
const closers: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close();
});

describe('Kafka broker + client', () => {
  it('commits and aborts transactions; read_committed sees exactly the committed records', async () => {
    const run = randomUUID().slice(0, 8);
    const topic = `broker-test-${run}`;
    const admin = new Admin({ clientId: `admin-${run}`, bootstrapBrokers: [bootstrap] });
    closers.push(() => admin.close());
    await admin.createTopics({ topics: [topic], partitions: 2, replicas: 1 });

    const producer = new Producer({
      clientId: `producer-${run}`,
      bootstrapBrokers: [bootstrap],
      serializers: stringSerializers,
      idempotent: true,
      transactionalId: `broker-test-${run}`,
    });
    closers.push(() => producer.close());
    const sendInTransaction = async (values: string[], outcome: 'commit' | 'abort') => {
      const tx = await producer.beginTransaction();
      // Keys spread the records over both partitions.
      await tx.send({ messages: values.map((value, i) => ({ topic, key: `key-${i}`, value })) });
      await (outcome === 'commit' ? tx.commit() : tx.abort());
    };
    const first = Array.from({ length: 10 }, (_, i) => `committed-a-${i}`);
    const aborted = Array.from({ length: 10 }, (_, i) => `aborted-${i}`);
    const last = Array.from({ length: 5 }, (_, i) => `committed-b-${i}`);
    await sendInTransaction(first, 'commit');
    await sendInTransaction(aborted, 'abort');
    await sendInTransaction(last, 'commit');

    const consumer = new Consumer({
      clientId: `consumer-${run}`,
      groupId: `broker-test-${run}`,
      bootstrapBrokers: [bootstrap],
      deserializers: stringDeserializers,
      isolationLevel: FetchIsolationLevels.READ_COMMITTED,
    });
    closers.push(() => consumer.close());
    // The last stable offsets, once every transaction's markers are in: a commit or abort
    // returns when the coordinator has logged it, and the broker writes the markers into the
    // partitions after that, so the last stable offset can stop short of the last transaction
    // for a moment. It has ended in a partition when that offset equals the high watermark.
    const offsets = async (isolationLevel: (typeof FetchIsolationLevels)[keyof typeof FetchIsolationLevels]) =>
      (await consumer.listOffsets({ topics: [topic], isolationLevel })).get(topic)!;
    let ends = await offsets(FetchIsolationLevels.READ_COMMITTED);
    for (;;) {
      const high = await offsets(FetchIsolationLevels.READ_UNCOMMITTED);
      if (ends.length === high.length && ends.every((e, p) => e === high[p])) break;
      await new Promise((r) => setTimeout(r, 20));
      ends = await offsets(FetchIsolationLevels.READ_COMMITTED);
    }
    expect(ends).toHaveLength(2);
    // 25 records, 15 committed, plus 3 transaction markers in each partition that has records.
    expect(ends!.reduce((a, b) => a + b, 0n)).toBeGreaterThan(25n);

    const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false, maxWaitTime: 100 });
    closers.push(() => stream.close());
    const read: { value: string; partition: number }[] = [];
    // Records arrive as 'data'; the stream fetches continuously and emits 'fetch' at each
    // response, by which time its positions include the previous response's markers.
    const reachedEnd = () => ends!.every((end, p) => (stream.offsetsToFetch.get(`${topic}:${p}`) ?? 0n) >= end);
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (read.length >= first.length + last.length && reachedEnd()) resolve();
      };
      stream.on('data', (message) => {
        read.push({ value: message.value, partition: message.partition });
        check();
      });
      stream.on('fetch', check);
      stream.on('error', reject);
    });
    stream.pause();

    expect(read.map((r) => r.value).sort()).toEqual([...first, ...last].sort());
    expect(new Set(read.map((r) => r.partition))).toEqual(new Set([0, 1]));
  });
});
