/**
 * The Kafka benchmarks, against a local broker (scripts/kafka/broker.mjs, its folder kept
 * between runs; its start, about 15 s, is not timed):
 * - source: JSON bids (~150 bytes) in one partition, read to the end by a KafkaSource (one
 *   subtask) and decoded into batches by the engine (the topic is produced once; the second of
 *   two passes is timed);
 * - sink: generated bids written by a KafkaSink as JSON, keyed by auction, to a new topic of two
 *   partitions, with a checkpoint every second, at-least-once against exactly-once (a
 *   transaction per checkpoint interval, committed when the checkpoint completes);
 * - application: a keyed window job as a Kafka application of 1, 2 and 3 processes.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { KafkaSink, KafkaSource, NexmarkSource, OffsetsInitializer, StreamEnvironment, type EngineName, type Sink, type SinkWriter } from '../ts/index.js';
import type { RecordBatch } from '../ts/batch/record-batch.js';

/**
 * The Kafka client, imported by the Kafka cases only: loaded with the harness, it (and the ajv
 * schemas it compiles) took 0.4 s and grew the main thread's heap in every case's process, and
 * p=1 jobs, which run on the main thread, ran about 5% slower for it (e2e, 3 alternated runs).
 */
function kafkaClient(): Promise<typeof import('@platformatic/kafka')> {
  return import('@platformatic/kafka');
}

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
  const { Admin, Consumer, Producer } = await kafkaClient();
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
  const { Admin } = await kafkaClient();
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

const APP_PARTITIONS = 6;
const APP_USERS = 1000;

/**
 * A job as a Kafka application (docs/application-mode.md) run by 1, 2 and 3 instances, each a
 * separate `sluice run --application-id` process: the application test's keyed window job
 * (test/fixtures/jobs/kafka-app-window.ts: JSON events partitioned by user -> keyBy(user) ->
 * 10 s tumbling count and sum -> Kafka exactly-once, a checkpoint every 300 ms), unpaced, over
 * `events` records in 6 partitions. Timed from starting the processes until every task has
 * finished on the instance holding it (start-up, joining the group and rebalances included);
 * also from the first task's start. The seconds are the one-instance run's; the extras give
 * each count's events/s, and one instance's on one task thread instead of one per core.
 */
export async function kafkaApplication(engine: EngineName, events: number): Promise<{ events: number; seconds: number; check: number; extra: Record<string, number> }> {
  const { Admin, Producer } = await kafkaClient();
  const { startBroker } = (await import(new URL('../../scripts/kafka/broker.mjs', import.meta.url).href)) as BrokerModule;
  const broker = await startBroker({ dir: join(tmpdir(), 'sluice-bench-kafka'), log: () => undefined });
  const work = mkdtempSync(join(tmpdir(), 'sluice-bench-app-'));
  const admin = new Admin({ clientId: 'bench', bootstrapBrokers: [broker.bootstrap] });
  const made: string[] = [];
  const apps: string[] = [];
  try {
    const bootstrap = broker.bootstrap;
    const input = `bench-app-in2-${events}`;
    if (!(await admin.listTopics()).includes(input)) {
      await admin.createTopics({ topics: [input], partitions: APP_PARTITIONS, replicas: 1 });
      const producer = new Producer({ clientId: 'bench', bootstrapBrokers: [bootstrap], idempotent: true, compression: 'none' });
      for (let i = 0; i < events; i += 6000) {
        const n = Math.min(6000, events - i);
        const messages = Array.from({ length: n }, (_, k) => {
          const user = (i + k) % APP_USERS;
          const value = { user, region: user % 8, amount: (i + k) % 97, ts: 1_700_000_000_000 + i + k };
          return { topic: input, partition: user % APP_PARTITIONS, key: Buffer.from(String(user)), value: Buffer.from(JSON.stringify(value)) };
        });
        await producer.send({ messages });
      }
      await producer.close();
    }
    const rate: Record<string, number> = {};
    let seconds = 0;
    let outputRows = 0;
    // The job keyed by user (the input's partitioning: 6 tasks), then the same window keyed by
    // region (test/fixtures/jobs/kafka-app-region.ts: through a repartition topic, 12 tasks).
    // Each instance runs its tasks on one task thread per core (the default parallelism); `oneThread`: one instance on one task thread.
    const runs = [...[1, 2, 3].map((count) => ({ count, repartition: false, oneThread: false })), { count: 1, repartition: false, oneThread: true }, ...[1, 2].map((count) => ({ count, repartition: true, oneThread: false }))];
    for (const { count, repartition, oneThread } of runs) {
      const out = `bench-app-out-${randomUUID().slice(0, 8)}`;
      made.push(out);
      await admin.createTopics({ topics: [out], partitions: 3, replicas: 1 });
      const app = `bench-app-${randomUUID().slice(0, 8)}`;
      apps.push(app);
      const jobArgs = [bootstrap, input, out, `eo-${out}`, join(work, out), '0', ...(repartition ? [] : ['window'])];
      const args = ['--application-id', app, '--bootstrap', bootstrap, ...(oneThread ? ['--parallelism', '1'] : []), '--', ...jobArgs];
      const t0 = performance.now();
      const instances = Array.from({ length: count }, () => appInstance(engine, repartition ? 'kafka-app-region' : 'kafka-app-window', args));
      const name = `${repartition ? 'repartitioned' : 'instances'}${count}${oneThread ? 'OneThread' : ''}`;
      try {
        const firstStart = await untilAllFinished(instances, repartition ? 2 * APP_PARTITIONS : APP_PARTITIONS);
        const t1 = performance.now();
        rate[name] = events / ((t1 - t0) / 1000);
        rate[`${name}FromFirstTask`] = events / ((t1 - firstStart) / 1000);
        if (name === 'instances1') seconds = (t1 - t0) / 1000;
      } finally {
        for (const i of instances) i.child.kill('SIGTERM');
        await Promise.all(instances.map((i) => i.exited));
      }
      if (name === 'instances1') outputRows = await committedCount(bootstrap, out);
    }
    rate.instances2Over1 = rate.instances2! / rate.instances1!;
    rate.instances3Over1 = rate.instances3! / rate.instances1!;
    rate.threadsOverOneThread = rate.instances1! / rate.instances1OneThread!;
    // What the repartition topic adds per record, on one instance (its CPU: the one process).
    rate.repartitionNsPerRecord = ((1 / rate.repartitioned1! - 1 / rate.instances1!) * 1e9);
    return { events, seconds, check: outputRows, extra: rate };
  } finally {
    // The output topics, and the applications' repartition topics.
    const internal = (await admin.listTopics().catch(() => [] as string[])).filter((t) => apps.some((a) => t.startsWith(`${a}-`)));
    await admin.deleteTopics({ topics: [...made, ...internal] }).catch(() => undefined);
    await admin.close();
    rmSync(work, { recursive: true, force: true });
    await broker.stop();
  }
}

interface AppInstance {
  readonly child: ChildProcess;
  readonly lines: string[];
  readonly exited: Promise<void>;
}

function appInstance(engine: EngineName, fixture: string, args: readonly string[]): AppInstance {
  const cli = fileURLToPath(new URL('../ts/cli/main.js', import.meta.url));
  const job = fileURLToPath(new URL(`../../test/fixtures/jobs/${fixture}.ts`, import.meta.url));
  const child = spawn(process.execPath, [cli, 'run', job, '--engine', engine, '--no-progress', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  const lines: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (l) => lines.push(l));
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  return { child, lines, exited };
}

/** Waits until every task has finished on the instance that holds it; resolves with the time the first task started. */
async function untilAllFinished(instances: readonly AppInstance[], tasks: number): Promise<number> {
  let firstStart = -1;
  for (;;) {
    if (firstStart < 0 && instances.some((i) => i.lines.some((l) => / task \d+ started/.test(l)))) firstStart = performance.now();
    const done = Array.from({ length: tasks }, (_, t) => t).every((t) =>
      instances.some((i) => {
        const holds = [...i.lines].reverse().find((l) => / generation \d+: tasks \[/.test(l));
        const tasks = holds === undefined ? [] : (/tasks \[([\d,]*)\]/.exec(holds)?.[1] ?? '').split(',').filter((x) => x !== '').map(Number);
        const started = lastLine(i.lines, `task ${t} started`);
        return tasks.includes(t) && started >= 0 && lastLine(i.lines, `task ${t} finished`) > started;
      }),
    );
    if (done) return firstStart;
    const dead = instances.find((i) => i.child.exitCode !== null);
    if (dead !== undefined) throw new Error(`an application instance ended before every task finished:\n${dead.lines.join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function lastLine(lines: readonly string[], text: string): number {
  for (let k = lines.length - 1; k >= 0; k--) if (lines[k]!.includes(text)) return k;
  return -1;
}

/** Records in a topic's committed transactions (read_committed, to the end). */
async function committedCount(bootstrap: string, topic: string): Promise<number> {
  const env = StreamEnvironment.create({ engine: 'ts' });
  const sink = new CountSink();
  env.fromSource(KafkaSource.builder().setBootstrapServers(bootstrap).setTopics(topic).setBounded(OffsetsInitializer.latest()).setJsonValue({ user: 'i64' }).build()).sinkTo(sink);
  await env.execute('bench kafka application output');
  return sink.rows;
}
