// KafkaSource against the real broker (test/kafka/global-setup.ts): bounded reads with every
// starting-offset mode, key and metadata columns, JSON / CSV / raw values, bad records (an
// error naming topic, partition, offset and field, or the dead-letter file), a missing topic,
// an unreachable broker, and parallel subtasks sharing the partitions; on both engines with
// identical output.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { CollectSink, KafkaSource, KafkaSourceBuilder, OffsetsInitializer, runJob, StreamEnvironment, type EngineName } from '../../ts/index.js';
import { freePort } from '../../scripts/kafka/broker.mjs';
import { failure, onBothEngines, requireNative } from '../engines.js';
import { Producer } from '@platformatic/kafka';
import { createTopic, produce, readLog, uid, type TestRecord } from './helpers.js';

const bootstrap = inject('kafkaBootstrap');
const T0 = 1_700_000_000_000;
const work = mkdtempSync(join(tmpdir(), 'sluice-kafka-src-'));

/** 40 records over 2 partitions: record i in partition i % 2 at offset floor(i / 2), time T0 + i s. */
const records: TestRecord[] = Array.from({ length: 40 }, (_, i) => ({
  partition: i % 2,
  key: `k${i % 5}`,
  value: JSON.stringify({ id: i, name: `n${i}` }),
  timestamp: T0 + i * 1000,
  headers: { src: 'test', n: String(i) },
}));

const expected = (i: number) => ({
  id: i,
  name: `n${i}`,
  key: `k${i % 5}`,
  topic: '',
  partition: i % 2,
  offset: Math.floor(i / 2),
  timestamp: T0 + i * 1000,
  headers: JSON.stringify([['src', 'test'], ['n', String(i)]]),
});

type Row = Record<string, unknown>;
const byPlace = (a: Row, b: Row): number => (a.partition as number) - (b.partition as number) || (a.offset as number) - (b.offset as number);

async function read(engine: EngineName, source: KafkaSource<object>): Promise<Row[]> {
  const env = StreamEnvironment.create({ engine, batchSize: 7 });
  const sink = new CollectSink();
  env.fromSource(source).sinkTo(sink);
  await env.execute();
  return (sink.records as Row[]).sort(byPlace);
}


let shared: Promise<string> | null = null;
/** The topic of `records`, created once. */
function topicWithRecords(): Promise<string> {
  shared ??= (async () => {
    const topic = `src-${uid()}`;
    await createTopic(bootstrap, topic, 2);
    await produce(bootstrap, topic, records);
    return topic;
  })();
  return shared;
}

const base = (topic: string): KafkaSourceBuilder<Record<string, unknown>> =>
  KafkaSource.builder().setBootstrapServers(bootstrap).setTopics(topic).setJsonValue({ id: 'i64', name: 'utf8' }).withKey().withMetadata('topic', 'partition', 'offset', 'timestamp', 'headers');

describe('KafkaSource', () => {
  it('reads a bounded topic from the earliest offsets with key and metadata columns, identically on both engines', async () => {
    const topic = await topicWithRecords();
    const { native } = await onBothEngines((engine) => read(engine, base(topic).setBounded(OffsetsInitializer.latest()).build()));
    expect(native).toEqual(records.map((_, i) => ({ ...expected(i), topic })).sort(byPlace));
  });

  it('starts at latest, at a timestamp, at explicit offsets; stops at a timestamp or at explicit offsets', async () => {
    const topic = await topicWithRecords();
    const ids = (rows: Row[]) => rows.map((r) => r.id as number).sort((a, b) => a - b);
    const range = (from: number, to: number, keep: (i: number) => boolean = () => true) => Array.from({ length: to - from }, (_, k) => from + k).filter(keep);
    const cases: [string, KafkaSource<object>, number[]][] = [
      ['latest', base(topic).setStartingOffsets(OffsetsInitializer.latest()).setBounded(OffsetsInitializer.latest()).build(), []],
      ['timestamp', base(topic).setStartingOffsets(OffsetsInitializer.timestamp(T0 + 25_000)).setBounded(OffsetsInitializer.latest()).build(), range(25, 40)],
      // Partition 0 from offset 15 (record 30); partition 1 has no offset given: from its start.
      ['explicit', base(topic).setStartingOffsets(OffsetsInitializer.offsets({ [`${topic}:0`]: 15 })).setBounded(OffsetsInitializer.latest()).build(), range(0, 40, (i) => i % 2 === 1 || i >= 30)],
      ['stop at timestamp', base(topic).setBounded(OffsetsInitializer.timestamp(T0 + 10_000)).build(), range(0, 10)],
      ['stop at offsets', base(topic).setBounded(OffsetsInitializer.offsets({ [`${topic}:0`]: 3, [`${topic}:1`]: 1 })).build(), [0, 1, 2, 4]],
    ];
    for (const [name, source, want] of cases) {
      const got = await onBothEngines((engine) => read(engine, source));
      expect(ids(got.native), name).toEqual(want);
    }
  });

  it('commits checkpointed offsets to the group; committedOffsets() starts there', async () => {
    const topic = await topicWithRecords();
    const group = `group-${uid()}`;
    // The first job reads up to offsets 5 and 7 and commits them when its final checkpoint completes.
    const env = StreamEnvironment.create({ engine: 'native' });
    env.enableCheckpointing(50, { dir: join(work, `chk-${group}`) });
    const first = new CollectSink();
    env.fromSource(base(topic).setGroupId(group).setBounded(OffsetsInitializer.offsets({ [`${topic}:0`]: 5, [`${topic}:1`]: 7 })).build()).sinkTo(first);
    await env.execute();
    expect(first.records.length).toBe(12);
    await onBothEngines(async (engine) => {
      const rest = await read(engine, base(topic).setGroupId(group).setStartingOffsets(OffsetsInitializer.committedOffsets()).setBounded(OffsetsInitializer.latest()).setCommitOffsetsOnCheckpoint(false).build());
      expect(rest.map((r) => r.id as number).sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i).filter((i) => (i % 2 === 0 ? i / 2 >= 5 : (i - 1) / 2 >= 7)));
      return rest;
    });
    // A group without committed offsets: the default fails, naming the partitions.
    const msg = await failure(base(topic).setGroupId(`empty-${uid()}`).setStartingOffsets(OffsetsInitializer.committedOffsets()).setBounded(OffsetsInitializer.latest()).build());
    expect(msg).toMatch(new RegExp(`no committed offset in group 'empty-[0-9a-f]+' for ${topic}:0, ${topic}:1`));
  });

  it('decodes CSV values and raw text values', async () => {
    const topic = `csv-${uid()}`;
    await createTopic(bootstrap, topic, 1);
    await produce(bootstrap, topic, [
      { partition: 0, value: '1,"a, quoted"' },
      { partition: 0, value: '2,"two\nlines"' },
      { partition: 0, value: '3,' },
    ]);
    const csv = await onBothEngines((engine) =>
      read(engine, KafkaSource.builder().setBootstrapServers(bootstrap).setTopics(topic).setBounded(OffsetsInitializer.latest()).setCsvValue({ id: 'i64', name: 'utf8?' }).withMetadata('offset').build()),
    );
    expect(csv.native).toEqual([
      { id: 1, name: 'a, quoted', offset: 0 },
      { id: 2, name: 'two\nlines', offset: 1 },
      { id: 3, name: null, offset: 2 },
    ]);
    const raw = await onBothEngines((engine) => read(engine, KafkaSource.builder().setBootstrapServers(bootstrap).setTopics(topic).setBounded(OffsetsInitializer.latest()).setRawValue().withMetadata('partition', 'offset').build()));
    expect(raw.native.map((r) => r.value)).toEqual(['1,"a, quoted"', '2,"two\nlines"', '3,']);
  });

  it('a record that does not decode fails the job naming topic, partition, offset and field, or goes to the dead-letter file', async () => {
    const topic = `bad-${uid()}`;
    await createTopic(bootstrap, topic, 1);
    await produce(bootstrap, topic, [
      { partition: 0, value: '{"id":1,"name":"a"}' },
      { partition: 0, value: '{"id":"two","name":"b"}' },
      { partition: 0, value: null },
      { partition: 0, value: '{"id":4,"name":"d"}' },
      { partition: 0, value: '{"id":5,' },
    ]);
    const source = () => KafkaSource.builder().setBootstrapServers(bootstrap).setTopics(topic).setBounded(OffsetsInitializer.latest()).setJsonValue({ id: 'i64', name: 'utf8' });
    const messages = await onBothEngines((engine) => failure(source().build(), engine));
    expect(messages.native).toContain(`Kafka topic '${topic}', partition 0, offset 1, field 'id'`);
    const dead = await onBothEngines(async (engine) => {
      const path = join(work, `dead-${topic}-${engine}.jsonl`);
      const rows = await read(engine, source().withMetadata('offset').setDeadLetterPath(path).build());
      const entries = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { topic: string; partition: number; offset: number; error: string; raw: string });
      return { rows, entries };
    });
    expect(dead.native.rows).toEqual([
      { id: 1, name: 'a', offset: 0 },
      { id: 4, name: 'd', offset: 3 },
    ]);
    expect(dead.native.entries.map((e) => [e.topic, e.partition, e.offset, e.raw])).toEqual([
      [topic, 0, 1, '{"id":"two","name":"b"}'],
      [topic, 0, 2, ''],
      [topic, 0, 4, '{"id":5,'],
    ]);
    expect(dead.native.entries[1]!.error).toContain(`Kafka topic '${topic}', partition 0, offset 2: the record has no value (null: a tombstone?)`);
  });

  it('a topic that does not exist and an unreachable broker are clear errors', async () => {
    const missing = `missing-${uid()}`;
    const m = await onBothEngines((engine) => failure(KafkaSource.builder().setBootstrapServers(bootstrap).setTopics(missing).setRawValue().setBounded(OffsetsInitializer.latest()).build(), engine));
    expect(m.native).toContain(`topic '${missing}' does not exist on ${bootstrap}; create it first`);
    const port = await freePort();
    const u = await failure(KafkaSource.builder().setBootstrapServers(`127.0.0.1:${port}`).setTopics('t').setRawValue().setBounded(OffsetsInitializer.latest()).build());
    expect(u).toContain(`cannot reach the Kafka broker(s) at 127.0.0.1:${port}`);
  });

  it('spreads the partitions over parallel subtasks (worker threads); together they read every record once, each subtask its own dead-letter file', async () => {
    requireNative();
    const topic = `par-${uid()}`;
    await createTopic(bootstrap, topic, 4);
    // Two records in 50 do not decode (their id is text): dead letters, in every partition.
    const bad = (i: number): boolean => i % 50 === 7 || i % 50 === 8;
    const input: TestRecord[] = Array.from({ length: 400 }, (_, i) => ({ partition: i % 4, value: JSON.stringify({ id: bad(i) ? `x${i}` : i, name: `n${i}` }) }));
    await produce(bootstrap, topic, input);
    const want = input.flatMap((r, i) => (bad(i) ? [] : [JSON.stringify({ id: i, name: `n${i}`, partition: r.partition, offset: Math.floor(i / 4) })])).sort();
    const wantDead = input.flatMap((r, i) => (bad(i) ? [`${r.partition}/${Math.floor(i / 4)} ${r.value}`] : [])).sort();
    for (const engine of ['native', 'ts'] as const) {
      const out = join(work, `par-${topic}-${engine}.jsonl`);
      const dead = join(work, `par-dead-${topic}-${engine}.jsonl`);
      const r = await runJob(new URL('../fixtures/jobs/kafka-copy.ts', import.meta.url), { engine, parallelism: 2, args: [bootstrap, topic, `file:${out}`, '', dead] });
      const sources = r.operators.filter((m) => m.name.startsWith('Source'));
      expect(sources.map((m) => m.subtask).sort()).toEqual([0, 1]);
      expect(sources.every((m) => m.recordsOut > 0)).toBe(true);
      expect(readFileSync(out, 'utf8').trim().split('\n').sort()).toEqual(want);
      // Subtask 0 writes the path given, subtask 1 `<name>-1<ext>`: both hold dead letters, together each once.
      const files = [dead, dead.replace(/\.jsonl$/, '-1.jsonl')].map((f) => readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { partition: number; offset: number; raw: string }));
      expect(files.every((f) => f.length > 0)).toBe(true);
      expect(files.flat().map((e) => `${e.partition}/${e.offset} ${e.raw}`).sort()).toEqual(wantDead);
      expect(r.deadLetters).toBe(wantDead.length);
    }
  });
  it('read_committed: a producer with several aborted transactions between committed ones (one fetch) yields exactly the committed records', async () => {
    // One transactional id: its transactions share a producer id, as an exactly-once sink's
    // reused id's do after restores. Records of aborted transactions lie in the log between
    // committed ones; Kafka's rule (the Java consumer's) skips every one of them.
    const topic = `src-aborts-${uid()}`;
    await createTopic(bootstrap, topic, 2);
    const producer = new Producer({ clientId: `aborts-${uid()}`, bootstrapBrokers: [bootstrap], idempotent: true, transactionalId: `aborts-${uid()}` });
    const outcomes = ['commit', 'abort', 'abort', 'commit', 'abort', 'abort', 'commit', 'abort'] as const;
    try {
      for (const [t, outcome] of outcomes.entries()) {
        const tx = await producer.beginTransaction();
        await tx.send({ messages: Array.from({ length: 6 }, (_, i) => ({ topic, partition: i % 2, value: Buffer.from(JSON.stringify({ id: t * 100 + i, name: outcome })) })) });
        await (outcome === 'commit' ? tx.commit() : tx.abort());
      }
    } finally {
      await producer.close();
    }
    const committed = outcomes.flatMap((o, t) => (o === 'commit' ? Array.from({ length: 6 }, (_, i) => t * 100 + i) : []));
    // The tests' own reader (outcome of each transaction from its marker in the log) agrees.
    const log = await readLog(bootstrap, topic, true);
    expect(log.records.map((r) => (JSON.parse(r.value) as { id: number }).id).sort((a, b) => a - b)).toEqual(committed);
    expect(log.transactions.filter((t) => !t.committed)).toHaveLength(2 * 5);
    expect(new Set(log.transactions.map((t) => t.producerId)).size).toBe(1);
    const source = KafkaSource.builder().setBootstrapServers(bootstrap).setTopics(topic).setJsonValue({ id: 'i64', name: 'utf8' }).setBounded(OffsetsInitializer.latest()).build();
    const { native } = await onBothEngines((engine) => read(engine, source));
    expect(native.map((r) => r.id as number).sort((a, b) => a - b)).toEqual(committed);
    expect(native.every((r) => r.name === 'commit')).toBe(true);
  });
});

