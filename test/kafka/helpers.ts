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

/**
 * Every record of `topic` visible under read_committed, read to the end offsets; by partition,
 * then offset. `settled`: first wait (up to 60 s) until no transaction is open on the topic (the
 * last stable offsets reach the high watermarks), since a committed transaction's markers are
 * written by the coordinator after the commit returns.
 */
export async function readCommitted(bootstrap: string, topic: string, settled = false): Promise<ReadRecord[]> {
  const consumer = new Consumer({
    clientId: `reader-${uid()}`,
    groupId: `reader-${uid()}`,
    bootstrapBrokers: [bootstrap],
    deserializers: stringDeserializers,
    isolationLevel: FetchIsolationLevels.READ_COMMITTED,
  });
  try {
    let ends = (await consumer.listOffsets({ topics: [topic], isolationLevel: FetchIsolationLevels.READ_COMMITTED })).get(topic)!;
    for (const until = Date.now() + 60_000; settled; ) {
      const high = (await consumer.listOffsets({ topics: [topic], isolationLevel: FetchIsolationLevels.READ_UNCOMMITTED })).get(topic)!;
      if (high.every((h, p) => h === ends[p])) break;
      if (Date.now() > until) throw new Error(`topic '${topic}': a transaction is still open after 60 s (last stable offsets ${ends.join(',')}, high watermarks ${high.join(',')})`);
      await new Promise((r) => setTimeout(r, 50));
      ends = (await consumer.listOffsets({ topics: [topic], isolationLevel: FetchIsolationLevels.READ_COMMITTED })).get(topic)!;
    }
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

// The windowed job of test/fixtures/jobs/kafka-window.ts: its input and the windows it must produce.
const T0 = 1_700_000_000_000;
const USERS = 40;

/** `n` JSON records { user, amount, ts } over 2 partitions, 10 ms apart. */
export function windowInput(n: number): TestRecord[] {
  return Array.from({ length: n }, (_, i) => ({ partition: i % 2, value: JSON.stringify({ user: i % USERS, amount: i % 97, ts: T0 + i * 10 }) }));
}

/** Per user and 10 s window of `windowInput(n)`: `user@start count sum`, sorted. */
export function expectedWindows(n: number): string[] {
  const m = new Map<string, { records: number; total: number }>();
  for (let i = 0; i < n; i++) {
    const start = Math.floor((T0 + i * 10) / 10_000) * 10_000;
    const k = `${i % USERS}@${start}`;
    const w = m.get(k) ?? { records: 0, total: 0 };
    w.records++;
    w.total += i % 97;
    m.set(k, w);
  }
  return [...m].map(([k, w]) => `${k} ${w.records} ${w.total}`).sort();
}

/** An output record of the windowed job as `user@windowStart records total`. */
export function windowOf(value: string): string {
  const r = JSON.parse(value) as Record<string, number>;
  return `${r.user}@${r.windowStart ?? r.window_start ?? r.start} ${r.records} ${r.total}`;
}
