// Kafka record batches as the source reads them (in Rust on the native engine, from the
// JavaScript client's parse on the TypeScript engine), against the real broker: batches of
// every compression codec (from the JavaScript client and from Kafka's own Java producer),
// transactions (aborted records and control records skipped), batches cut off at the end of a
// fetch response, keys, headers and values that need care; identical output on both engines.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Admin, ConnectionPool, Consumer, Producer } from '@platformatic/kafka';
import { describe, expect, inject, it } from 'vitest';
import { CollectSink, KafkaSource, OffsetsInitializer, StreamEnvironment, type EngineName } from '../../ts/index.js';
import { rawFetch } from '../../ts/connectors/kafka/fetch.js';
import { fetchKafkaJars } from '../../scripts/kafka/broker.mjs';
import { failure, onBothEngines } from '../engines.js';
import { createTopic, uid } from './helpers.js';

const bootstrap = inject('kafkaBootstrap');
const work = mkdtempSync(join(tmpdir(), 'sluice-kafka-batch-'));

type Row = Record<string, unknown>;

async function read(engine: EngineName, source: KafkaSource<object>, batchSize = 7): Promise<Row[]> {
  const env = StreamEnvironment.create({ engine, batchSize });
  const sink = new CollectSink();
  env.fromSource(source).sinkTo(sink);
  await env.execute();
  return (sink.records as Row[]).sort((a, b) => (a.offset as number) - (b.offset as number));
}

const json = (topic: string) => KafkaSource.builder().setBootstrapServers(bootstrap).setTopics(topic).setBounded(OffsetsInitializer.latest()).setJsonValue({ id: 'i64', name: 'utf8' });

/** Values through Kafka's own console producer (Java client) with a compression codec. */
function javaProduce(topic: string, codec: string, lines: readonly string[]): void {
  const libs = fetchKafkaJars({ log: () => undefined });
  execFileSync('java', ['-cp', join(libs, '*'), 'org.apache.kafka.tools.ConsoleProducer', '--bootstrap-server', bootstrap, '--topic', topic, '--compression-codec', codec], {
    input: lines.join('\n') + '\n',
    stdio: ['pipe', 'ignore', 'pipe'],
  });
}

/** The compression codec (attributes & 7) of each whole record batch of partition 0 in one fetch of at most `max` bytes, and the bytes after them (a batch cut off). */
async function batchesInFetch(topic: string, max = 1 << 20): Promise<{ codecs: number[]; cut: number }> {
  const consumer = new Consumer({ clientId: `codecs-${uid()}`, groupId: `codecs-${uid()}`, bootstrapBrokers: [bootstrap] });
  const pool = new ConnectionPool(`codecs-${uid()}`, {});
  try {
    const meta = await consumer.metadata({ topics: [topic] });
    const tm = meta.topics.get(topic)!;
    const r = await rawFetch(pool, meta.brokers.get(tm.partitions[0]!.leader)!, {
      maxWaitMs: 100,
      maxBytes: 1 << 20,
      isolationLevel: 0,
      topics: [{ topicId: tm.id, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, partitionMaxBytes: max }] }],
    });
    // Batch headers only (the client's parse cannot read the Java producer's snappy framing, nor zstd on Node 20).
    const bytes = r.responses[0]!.partitions[0]!.records!;
    const codecs: number[] = [];
    let at = 0;
    for (; bytes.length - at >= 61 && bytes.length - at - 12 >= bytes.readInt32BE(at + 8); at += 12 + bytes.readInt32BE(at + 8)) codecs.push(bytes.readInt16BE(at + 21) & 7);
    return { codecs, cut: bytes.length - at };
  } finally {
    await pool.close();
    await consumer.close();
  }
}

describe('Kafka record batches', () => {
  it('reads batches of every codec: none, gzip, snappy, lz4 from the JavaScript client; gzip, snappy, lz4, zstd from the Java producer', async () => {
    const topic = `codecs-${uid()}`;
    await createTopic(bootstrap, topic, 1);
    const want: Row[] = [];
    let id = 0;
    for (const codec of ['none', 'gzip', 'snappy', 'lz4'] as const) {
      const producer = new Producer({ clientId: `p-${uid()}`, bootstrapBrokers: [bootstrap], compression: codec });
      const batch = Array.from({ length: 30 }, () => ({ id: id++, name: `js ${codec} ${'x'.repeat(id % 17)}` }));
      await producer.send({ messages: batch.map((v) => ({ topic, partition: 0, value: Buffer.from(JSON.stringify(v)) })) });
      await producer.close();
      want.push(...batch);
    }
    for (const codec of ['gzip', 'snappy', 'lz4', 'zstd']) {
      const batch = Array.from({ length: 30 }, () => ({ id: id++, name: `java ${codec} ${'y'.repeat(id % 13)}` }));
      javaProduce(topic, codec, batch.map((v) => JSON.stringify(v)));
      want.push(...batch);
    }
    // Each producer's records went as compressed batches of its codec (0 none .. 4 zstd).
    expect([...new Set((await batchesInFetch(topic)).codecs)].sort()).toEqual([0, 1, 2, 3, 4]);
    const got = await onBothEngines((engine) => read(engine, json(topic).withMetadata('offset').build()));
    expect(got.native).toEqual(want.map((v, i) => ({ ...v, offset: i })));
  });

  it('read_committed skips aborted transactions and control records; read_uncommitted reads the aborted records, never a control record', async () => {
    const topic = `txn-${uid()}`;
    await createTopic(bootstrap, topic, 1);
    const producer = new Producer({ clientId: `txn-${uid()}`, bootstrapBrokers: [bootstrap], idempotent: true, transactionalId: `txn-${uid()}` });
    try {
      for (const [t, outcome] of (['commit', 'abort', 'commit', 'abort', 'commit'] as const).entries()) {
        const tx = await producer.beginTransaction();
        await tx.send({ messages: Array.from({ length: 3 }, (_, i) => ({ topic, partition: 0, value: Buffer.from(JSON.stringify({ id: t * 10 + i, name: outcome })) })) });
        await (outcome === 'commit' ? tx.commit() : tx.abort());
      }
    } finally {
      await producer.close();
    }
    // Each transaction: 3 records, then its marker (one offset each): transaction t at offsets 4t..4t+2.
    const rows = (outcomes: readonly number[]) => outcomes.flatMap((t) => [0, 1, 2].map((i) => ({ id: t * 10 + i, name: t % 2 === 0 ? 'commit' : 'abort', offset: 4 * t + i })));
    const committed = await onBothEngines((engine) => read(engine, json(topic).withMetadata('offset').build()));
    expect(committed.native).toEqual(rows([0, 2, 4]));
    const all = await onBothEngines((engine) => read(engine, json(topic).withMetadata('offset').setIsolationLevel('read_uncommitted').build()));
    expect(all.native).toEqual(rows([0, 1, 2, 3, 4]));
  });

  it('a record batch cut off at the end of a fetch response is read whole by the next fetch', async () => {
    const topic = `cut-${uid()}`;
    await createTopic(bootstrap, topic, 1);
    const producer = new Producer({ clientId: `cut-${uid()}`, bootstrapBrokers: [bootstrap] });
    const want: Row[] = [];
    try {
      // 12 batches of 1 to 12 records of ~100 bytes; fetches of at most 700 bytes cut most of them.
      for (let b = 1; b <= 12; b++) {
        const batch = Array.from({ length: b }, (_, i) => ({ id: want.length + i, name: `batch ${b} `.padEnd(80, '.') }));
        await producer.send({ messages: batch.map((v) => ({ topic, partition: 0, value: Buffer.from(JSON.stringify(v)) })) });
        want.push(...batch);
      }
    } finally {
      await producer.close();
    }
    // The broker does cut: a fetch of 700 bytes holds whole batches and the start of the next.
    const first = await batchesInFetch(topic, 700);
    expect(first.cut).toBeGreaterThan(0);
    for (const max of [700, 1500]) {
      const got = await onBothEngines((engine) => read(engine, json(topic).withMetadata('offset').setMaxPartitionFetchBytes(max).build(), 5));
      expect(got.native, `max ${max} bytes`).toEqual(want.map((v, i) => ({ ...v, offset: i })));
    }
  });

  it("a LogAppendTime topic's records carry the broker's append time, not the producer's", async () => {
    const topic = `lat-${uid()}`;
    const admin = new Admin({ clientId: `lat-${uid()}`, bootstrapBrokers: [bootstrap] });
    try {
      await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1, configs: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }] });
    } finally {
      await admin.close();
    }
    const before = Date.now();
    const producer = new Producer({ clientId: `lat-${uid()}`, bootstrapBrokers: [bootstrap] });
    try {
      await producer.send({ messages: [0, 1, 2].map((id) => ({ topic, partition: 0, value: Buffer.from(JSON.stringify({ id, name: 'x' })), timestamp: 1_000_000n + BigInt(id) })) });
    } finally {
      await producer.close();
    }
    const got = await onBothEngines((engine) => read(engine, json(topic).withMetadata('offset', 'timestamp').build()));
    const times = got.native.map((r) => r.timestamp as number);
    expect(new Set(times).size).toBe(1); // one batch, one append time
    expect(times[0]).toBeGreaterThanOrEqual(before - 5_000); // the broker's clock, not 1_000_000
  });

  it('keys (text or null), headers (repeated, none, characters JSON escapes) and JSON values with line feeds; a key or header that is not UTF-8 names its field', async () => {
    const topic = `kh-${uid()}`;
    await createTopic(bootstrap, topic, 1);
    const h = (pairs: [string, string][]) => new Map(pairs.map(([k, v]) => [Buffer.from(k), Buffer.from(v)]));
    const producer = new Producer({ clientId: `kh-${uid()}`, bootstrapBrokers: [bootstrap] });
    try {
      await producer.send({
        messages: [
          { topic, partition: 0, key: Buffer.from('k0'), value: Buffer.from('{"id":0,"name":"a"}'), headers: h([['a', '1'], ['a', '2']]) },
          { topic, partition: 0, value: Buffer.from('{"id":1,\n"name":"line\\nfeed"}') },
          { topic, partition: 0, key: Buffer.from('ké "q"'), value: Buffer.from('{"id":2,"name":"b"}'), headers: h([['q"\\', 'tab\there\nnl\u0001\u001f é 😀']]) },
          { topic, partition: 0, key: Buffer.from([0xff, 0xfe]), value: Buffer.from('{"id":3,"name":"bad key"}') },
          { topic, partition: 0, key: Buffer.from('k4'), value: Buffer.from('{"id":4,"name":"bad header"}'), headers: new Map([[Buffer.from('h'), Buffer.from([0xc3, 0x28])]]) },
          { topic, partition: 0, value: Buffer.from('{"id":"five",\n"name":"bad value"}') },
          { topic, partition: 0, value: Buffer.from('{"id":6,"name":"c"}') },
        ],
      });
    } finally {
      await producer.close();
    }
    const source = () => json(topic).withKey('k').withMetadata('offset', { headers: 'h' });
    const failed = await onBothEngines((engine) => failure(source().build(), engine));
    expect(failed.native).toContain(`Kafka topic '${topic}', partition 0, offset 3, field 'k': the key is not UTF-8 text`);
    const got = await onBothEngines(async (engine) => {
      const path = join(work, `dead-${topic}-${engine}.jsonl`);
      const rows = await read(engine, source().setDeadLetterPath(path).build());
      const dead = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { offset: number; error: string; raw: string });
      return { rows, dead };
    });
    expect(got.native.rows).toEqual([
      { id: 0, name: 'a', k: 'k0', offset: 0, h: JSON.stringify([['a', '1'], ['a', '2']]) },
      { id: 1, name: 'line\nfeed', k: null, offset: 1, h: '[]' },
      { id: 2, name: 'b', k: 'ké "q"', offset: 2, h: JSON.stringify([['q"\\', 'tab\there\nnl\u0001\u001f é 😀']]) },
      { id: 6, name: 'c', k: null, offset: 6, h: '[]' },
    ]);
    expect(got.native.dead.map((d) => [d.offset, d.raw])).toEqual([
      [3, '{"id":3,"name":"bad key"}'],
      [4, '{"id":4,"name":"bad header"}'],
      [5, '{"id":"five",\n"name":"bad value"}'],
    ]);
    expect(got.native.dead[1]!.error).toBe(`Kafka topic '${topic}', partition 0, offset 4, field 'h': a header is not UTF-8 text`);
    expect(got.native.dead[2]!.error).toContain(`Kafka topic '${topic}', partition 0, offset 5, field 'id'`);
  });
});
