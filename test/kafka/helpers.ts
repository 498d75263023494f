// Shared by the Kafka tests: topics on the real broker, producing test records with the client
// directly, and reading a topic back independently of Sluice's source (the client's own
// read_committed consumer, up to the end offsets).
import { Admin, Consumer, FetchIsolationLevels, Producer } from '@platformatic/kafka';
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
  /** The producer that wrote it (-1 for a producer without an id). */
  readonly producerId: bigint;
}

/** The parts of a fetched record batch read here (the client's raw fetch response). */
interface RawBatch {
  readonly firstOffset: bigint;
  readonly lastOffsetDelta: number;
  readonly attributes: number;
  readonly producerId: bigint;
  readonly records: readonly { readonly offsetDelta: number; readonly key: Buffer | null; readonly value: Buffer | null }[];
}

const IS_TRANSACTIONAL = 1 << 4;
const IS_CONTROL = 1 << 5;

/** Each partition's log start offset (what DeleteRecords or retention left), in partition order. */
export function earliestOffsets(bootstrap: string, topic: string): Promise<bigint[]> {
  return offsetsAt(bootstrap, topic, -2n);
}

/** Each partition's latest offset (the next to be written), in partition order. */
export function latestOffsets(bootstrap: string, topic: string): Promise<bigint[]> {
  return offsetsAt(bootstrap, topic, -1n);
}

/** ListOffsets at `timestamp` (-2: earliest, -1: latest) for every partition, in partition order. */
async function offsetsAt(bootstrap: string, topic: string, timestamp: bigint): Promise<bigint[]> {
  const consumer = new Consumer({ clientId: `reader-${uid()}`, groupId: `reader-${uid()}`, bootstrapBrokers: [bootstrap] });
  try {
    return [...(await consumer.listOffsets({ topics: [topic], timestamp })).get(topic)!];
  } finally {
    await consumer.close(true);
  }
}

/** The offsets consumer group `group` has committed for `topic`, by partition (-1: none), in partition order. */
export async function groupOffsets(bootstrap: string, group: string, topic: string, partitions: number): Promise<bigint[]> {
  const admin = new Admin({ clientId: `reader-${uid()}`, bootstrapBrokers: [bootstrap] });
  try {
    const [g] = await admin.listConsumerGroupOffsets({ groups: [{ groupId: group, topics: [{ name: topic, partitionIndexes: Array.from({ length: partitions }, (_, p) => p) }] }], requireStable: true });
    const t = g?.topics.find((x) => x.name === topic);
    return Array.from({ length: partitions }, (_, p) => t?.partitions.find((x) => x.partitionIndex === p)?.committedOffset ?? -1n);
  } finally {
    await admin.close();
  }
}

/**
 * Every record of `topic` that a read_committed consumer sees, read to the last stable offsets;
 * by partition, then offset. `settled`: first wait (up to 60 s) until no transaction is open on
 * the topic (the last stable offsets reach the high watermarks), since a committed
 * transaction's markers are written by the coordinator after the commit returns.
 *
 * Which transaction committed is decided here from the log itself, independently of Sluice's
 * source and of the client's read_committed filter (@platformatic/kafka 1.35 keeps one aborted
 * range per producer id per fetch, so a producer id with two aborted transactions in one fetch
 * had the first one's records delivered as if committed: the "duplicate window" of issue 19):
 * the whole partition is fetched read_uncommitted, and each transactional producer's records
 * belong to the transaction that its next control marker (commit or abort) ends.
 */
export async function readCommitted(bootstrap: string, topic: string, settled = false): Promise<ReadRecord[]> {
  return (await readLog(bootstrap, topic, settled)).records;
}

/** A transaction found in a topic's log: its producer, partition, first offset and outcome. */
export interface LoggedTransaction {
  readonly producerId: bigint;
  readonly partition: number;
  readonly firstOffset: bigint;
  readonly committed: boolean;
}

/**
 * What readCommitted reads, and every ended transaction in the log (by partition, in the order
 * they ended).
 */
export async function readLog(bootstrap: string, topic: string, settled = false): Promise<{ records: ReadRecord[]; transactions: LoggedTransaction[] }> {
  const consumer = new Consumer({ clientId: `reader-${uid()}`, groupId: `reader-${uid()}`, bootstrapBrokers: [bootstrap] });
  try {
    const committedEnds = async () => (await consumer.listOffsets({ topics: [topic], isolationLevel: FetchIsolationLevels.READ_COMMITTED })).get(topic)!;
    const highs = async () => (await consumer.listOffsets({ topics: [topic], isolationLevel: FetchIsolationLevels.READ_UNCOMMITTED })).get(topic)!;
    let ends = await committedEnds();
    for (const until = Date.now() + 60_000; settled; ) {
      const high = await highs();
      if (high.every((h, p) => h === ends[p])) break;
      if (Date.now() > until) throw new Error(`topic '${topic}': a transaction is still open after 60 s (last stable offsets ${ends.join(',')}, high watermarks ${high.join(',')})`);
      await new Promise((r) => setTimeout(r, 50));
      ends = await committedEnds();
    }
    // Read after the last stable offsets: every transaction with a record before them has ended by now, its marker below these.
    const high = await highs();
    const meta = (await consumer.metadata({ topics: [topic], forceUpdate: true })).topics.get(topic)!;
    const read: ReadRecord[] = [];
    const transactions: LoggedTransaction[] = [];
    for (let p = 0; p < ends.length; p++) {
      const batches: RawBatch[] = [];
      for (let at = 0n; at < high[p]!; ) {
        const r = await consumer.fetch({
          node: meta.partitions[p]!.leader,
          topics: [{ topicId: meta.id, partitions: [{ partition: p, currentLeaderEpoch: meta.partitions[p]!.leaderEpoch, fetchOffset: at, lastFetchedEpoch: -1, partitionMaxBytes: 1 << 20 }] }],
          maxWaitTime: 100,
          minBytes: 1,
          maxBytes: 8 << 20,
          isolationLevel: FetchIsolationLevels.READ_UNCOMMITTED,
        });
        const part = r.responses[0]!.partitions[0]!;
        if (part.errorCode !== 0) throw new Error(`fetching '${topic}' partition ${p} at ${at}: Kafka error code ${part.errorCode}`);
        const got = (part.records ?? []) as unknown as RawBatch[];
        for (const b of got) {
          const last = b.firstOffset + BigInt(b.lastOffsetDelta);
          if (last < at) continue;
          batches.push(b);
          at = last + 1n;
        }
      }
      const open = new Map<bigint, ReadRecord[]>();
      const out: ReadRecord[] = [];
      for (const b of batches) {
        if ((b.attributes & IS_CONTROL) !== 0) {
          // A control record's key: version (int16), type (int16: 0 abort, 1 commit).
          const committed = b.records[0]!.key!.readInt16BE(2) === 1;
          const rs = open.get(b.producerId) ?? [];
          if (committed) out.push(...rs);
          transactions.push({ producerId: b.producerId, partition: p, firstOffset: rs[0]?.offset ?? b.firstOffset, committed });
          open.delete(b.producerId);
          continue;
        }
        const records = b.records.map((x) => ({
          partition: p,
          offset: b.firstOffset + BigInt(x.offsetDelta),
          key: x.key === null || x.key.length === 0 ? null : x.key.toString(),
          value: x.value?.toString() ?? '',
          producerId: b.producerId,
        }));
        if ((b.attributes & IS_TRANSACTIONAL) === 0) out.push(...records);
        else open.set(b.producerId, [...(open.get(b.producerId) ?? []), ...records]);
      }
      for (const rs of open.values()) {
        if (rs.some((x) => x.offset < ends[p]!)) throw new Error(`topic '${topic}' partition ${p}: a transaction of producer ${rs[0]!.producerId} from offset ${rs[0]!.offset} has no marker, below the last stable offset ${ends[p]}`);
      }
      read.push(...out.filter((x) => x.offset < ends[p]!).sort((a, b) => (a.offset < b.offset ? -1 : 1)));
    }
    return { records: read, transactions };
  } finally {
    await consumer.close(true);
  }
}

// The windowed job of test/fixtures/jobs/kafka-window.ts: its input and the windows it must produce.
const T0 = 1_700_000_000_000;
const USERS = 40;

/** `n` JSON records { user, amount, ts } over `partitions` partitions, 10 ms apart. */
export function windowInput(n: number, partitions = 2): TestRecord[] {
  return Array.from({ length: n }, (_, i) => ({ partition: i % partitions, value: JSON.stringify({ user: i % USERS, amount: i % 97, ts: T0 + i * 10 }) }));
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

/** The sum of a topic's high watermarks (records and transaction markers written, committed or not), polled through one client. */
export function highWatermarks(bootstrap: string, topic: string): { total: () => Promise<bigint>; close: () => Promise<void> } {
  const consumer = new Consumer({ clientId: `probe-${uid()}`, groupId: `probe-${uid()}`, bootstrapBrokers: [bootstrap] });
  return {
    total: async () => ((await consumer.listOffsets({ topics: [topic], isolationLevel: FetchIsolationLevels.READ_UNCOMMITTED })).get(topic) ?? []).reduce((a, b) => a + b, 0n),
    close: () => consumer.close(true),
  };
}

/** A topic's settings `names` (DescribeConfigs), with its replicas per partition. */
export async function topicSettings(bootstrap: string, topic: string, names: readonly string[]): Promise<{ configs: Record<string, string | null>; replicas: number[] }> {
  const admin = new Admin({ clientId: `admin-${uid()}`, bootstrapBrokers: [bootstrap] });
  try {
    const [d] = await admin.describeConfigs({ resources: [{ resourceType: 2, resourceName: topic, configurationKeys: [...names] }] });
    const meta = await admin.metadata({ topics: [topic] });
    return { configs: Object.fromEntries(d!.configs.map((c) => [c.name, c.value])), replicas: meta.topics.get(topic)!.partitions.map((p) => p.replicas.length) };
  } finally {
    await admin.close();
  }
}
