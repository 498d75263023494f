/**
 * Checks that the exactly-once sink's committed transactions really ended on every partition
 * they wrote, and completes those whose commit markers the broker lost.
 *
 * Why: when a partition has no leader while the coordinator sends a transaction's markers, Kafka
 * (TransactionMarkerChannelManager, up to 4.4 at least) takes the partition for deleted, skips its
 * marker, and may still record the transaction as CompleteCommit. A single broker (or any
 * partition with one replica) stopped by a controlled shutdown just as a checkpoint commits does
 * exactly that: the partitions go leaderless first. The transaction then stays open on those
 * partitions for ever (the coordinator never sends the markers again, and no timeout aborts a
 * transaction it considers complete), so read_committed consumers stop at its first offset. Seen
 * in test/kafka/outage.test.ts: `__transaction_state` held CompleteCommit for the sink's first
 * transaction while neither output partition had its marker.
 *
 * What: after commits, each committed transaction's partitions are asked (DescribeProducers) for
 * transactions still open under its producer id; for one that is, the coordinator is asked
 * (DescribeTransactions): CompleteCommit means the markers were lost, and the sink writes the
 * COMMIT markers itself (WriteTxnMarkers to the partition leaders, as Kafka's Admin does for
 * `kafka-transactions.sh abort`, but committing: the transaction did commit). PrepareCommit means
 * they are on their way: asked again later. The transactions not yet seen ended are part of the
 * sink's checkpoints, so a restored writer finishes the check.
 */

import type { Connection, Reader, Writer } from '@platformatic/kafka';
import { loadKafka } from './client.js';
import { connectionOptions } from './client-options.js';
import { type KafkaSecurity } from './security.js';

/** A transaction the sink committed, and the partitions it wrote. */
export interface CommittedTransaction {
  readonly transactionalId: string;
  readonly producerId: string;
  readonly epoch: number;
  readonly partitions: readonly { readonly topic: string; readonly partition: number }[];
}

/** How often (ms) the sink checks while it runs; at the end it checks until all have ended. */
const CHECK_EVERY_MS = 5_000;
/** Longest one pass may take (a broker going away mid-pass must not hold a commit up for ever). */
const PASS_TIMEOUT_MS = 30_000;

/** Resolves after `ms` without keeping the process alive. */
function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

type WriteTxnMarkers = (
  connection: Connection,
  markers: readonly { producerId: bigint; producerEpoch: number; commit: boolean; topics: readonly { name: string; partitions: readonly number[] }[]; coordinatorEpoch: number }[],
) => Promise<{ markers: { producerId: bigint; topics: { name: string; partitions: { partition: number; errorCode: number }[] }[] }[] }>;

let writeTxnMarkersApi: WriteTxnMarkers | null = null;

/** WriteTxnMarkers v1 (api key 27): the request Kafka's coordinator sends to partition leaders, which the client library does not have. */
async function writeTxnMarkers(): Promise<WriteTxnMarkers> {
  if (writeTxnMarkersApi !== null) return writeTxnMarkersApi;
  const kafka = await loadKafka();
  const create = (markers: Parameters<WriteTxnMarkers>[1]): Writer =>
    kafka.Writer.create()
      .appendArray(
        [...markers],
        (w, m) =>
          w
            .appendInt64(m.producerId)
            .appendInt16(m.producerEpoch)
            .appendBoolean(m.commit)
            .appendArray([...m.topics], (w2, t) => w2.appendString(t.name).appendArray([...t.partitions], (w3, p) => w3.appendInt32(p), true, false), true, true)
            .appendInt32(m.coordinatorEpoch),
        true,
        true,
      )
      .appendTaggedFields();
  const parse = (_c: number, _k: number, _v: number, r: Reader) => ({
    markers: r.readArray(
      (r2) => ({
        producerId: r2.readInt64(),
        topics: r2.readArray((r3) => ({ name: r3.readString(), partitions: r3.readArray((r4) => ({ partition: r4.readInt32(), errorCode: r4.readInt16() }), true, true) }), true, true),
      }),
      true,
      true,
    ),
  });
  const api = kafka.createAPI(27, 1, create, parse as never) as unknown as { async: WriteTxnMarkers };
  writeTxnMarkersApi = api.async;
  return writeTxnMarkersApi;
}

export class CommitMarkerCheck {
  private pending: CommittedTransaction[] = [];
  private lastCheck = performance.now();
  /** Where the last pass found each transaction still open (by transactional id). */
  private readonly openOn = new Map<string, readonly { readonly topic: string; readonly partition: number }[]>();
  /** The pass under way (one at a time). */
  private running: Promise<void> | null = null;

  constructor(
    private readonly bootstrap: readonly string[],
    private readonly security: KafkaSecurity,
    private readonly clientId: string,
    private readonly who: string,
  ) {}

  add(t: CommittedTransaction): void {
    if (t.partitions.length > 0) this.pending.push(t);
  }

  /** What a checkpoint keeps: committed transactions not yet seen ended everywhere. */
  get unchecked(): readonly CommittedTransaction[] {
    return this.pending;
  }

  /** Checks now and then while the job runs (at most every few seconds). */
  async maybeCheck(): Promise<void> {
    if (this.pending.length === 0 || performance.now() - this.lastCheck < CHECK_EVERY_MS) return;
    await this.check();
  }

  /**
   * Checks until every committed transaction has ended on all its partitions (markers on their
   * way are waited for, and a failed pass is tried again, up to `timeoutMs`).
   */
  async settle(timeoutMs: number): Promise<void> {
    const until = performance.now() + timeoutMs;
    let failure: unknown = null;
    while (this.pending.length > 0) {
      try {
        await this.check();
        failure = null;
      } catch (e) {
        failure = e;
      }
      if (this.pending.length === 0) return;
      if (performance.now() > until) {
        const t = this.pending[0]!;
        const why = failure === null ? '' : ` (the last check failed: ${failure instanceof Error ? failure.message : String(failure)})`;
        throw new Error(`${this.who}: transaction '${t.transactionalId}' (producer id ${t.producerId}) was committed but is still open on ${(this.openOn.get(t.transactionalId) ?? t.partitions).map((p) => `'${p.topic}' partition ${p.partition}`).join(', ')} after ${Math.round(timeoutMs / 1000)} s${why}; read_committed consumers wait there: check the broker's log for its commit markers`, { cause: failure ?? undefined });
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** One pass (bounded in time): drops the transactions that ended, completes those whose markers were lost. */
  async check(): Promise<void> {
    this.lastCheck = performance.now();
    if (this.pending.length === 0) return;
    const pass = (this.running ??= this.pass().finally(() => (this.running = null)));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.who}: checking that committed transactions ended took over ${PASS_TIMEOUT_MS / 1000} s; is the broker reachable?`)), PASS_TIMEOUT_MS);
    });
    try {
      await Promise.race([pass, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async pass(): Promise<void> {
    const kafka = await loadKafka();
    const opts = connectionOptions(this.security);
    const admin = new kafka.Admin({ clientId: `${this.clientId}-markers`, bootstrapBrokers: [...this.bootstrap], ...opts, retries: 2 });
    const connections: Connection[] = [];
    const connect = async (host: string, port: number): Promise<Connection> => {
      const c = new kafka.Connection(`${this.clientId}-markers`, opts);
      await (c.connect(host, port) as Promise<void>);
      connections.push(c);
      return c;
    };
    try {
      const topics = [...new Set(this.pending.flatMap((t) => t.partitions.map((p) => p.topic)))];
      const meta = await admin.metadata({ topics, forceUpdate: true, autocreateTopics: false });
      // Partitions by leader, and each partition's open transactions: producer id -> [epoch, coordinator epoch].
      const byLeader = new Map<number, Map<string, Set<number>>>();
      for (const t of this.pending) {
        for (const p of t.partitions) {
          const leader = meta.topics.get(p.topic)?.partitions[p.partition]?.leader;
          if (leader === undefined || leader < 0) return; // Leaderless now: check later.
          const ts = byLeader.get(leader) ?? new Map<string, Set<number>>();
          byLeader.set(leader, ts);
          const ps = ts.get(p.topic) ?? new Set<number>();
          ts.set(p.topic, ps);
          ps.add(p.partition);
        }
      }
      const open = new Map<string, Map<string, { epoch: number; coordinatorEpoch: number; leader: number }>>();
      const describe = async (leaders: Map<number, Map<string, Set<number>>>): Promise<void> => {
        for (const [leader, ts] of leaders) {
          const broker = meta.brokers.get(leader)!;
          const c = await connect(broker.host, broker.port);
          const r = await kafka.describeProducersV0.api.async(c, [...ts].map(([name, ps]) => ({ name, partitionIndexes: [...ps] })));
          for (const t of r.topics) {
            for (const p of t.partitions) {
              const m = new Map<string, { epoch: number; coordinatorEpoch: number; leader: number }>();
              for (const a of p.activeProducers) if (a.currentTxnStartOffset >= 0n) m.set(String(a.producerId), { epoch: a.producerEpoch, coordinatorEpoch: a.coordinatorEpoch, leader });
              open.set(`${t.name}:${p.partitionIndex}`, m);
            }
          }
        }
      };
      await describe(byLeader);
      const still: CommittedTransaction[] = [];
      for (const t of this.pending) {
        const hanging = t.partitions.filter((p) => open.get(`${p.topic}:${p.partition}`)?.has(t.producerId) === true);
        if (hanging.length === 0) {
          this.openOn.delete(t.transactionalId);
          continue;
        }
        this.openOn.set(t.transactionalId, hanging);
        // Open somewhere: the coordinator says whether its markers are still on their way.
        const coord = await kafka.findCoordinatorV6.api.async(await connect(...hostPort(this.bootstrap[0]!)), 1 /* transaction */, [t.transactionalId]);
        const co = coord.coordinators[0]!;
        const d = await kafka.describeTransactionsV0.api.async(await connect(co.host, co.port), [t.transactionalId]);
        const s = d.transactionStates[0]!;
        if (s.transactionState !== 'CompleteCommit' || String(s.producerId) !== t.producerId) {
          still.push(t);
          continue;
        }
        // CompleteCommit is recorded after the markers were acknowledged (or skipped): a partition
        // still open now, looked at after that, lost its marker. (Looked at before, it may only
        // have been waiting for it.)
        const again = new Map<number, Map<string, Set<number>>>();
        for (const p of hanging) {
          const leader = meta.topics.get(p.topic)!.partitions[p.partition]!.leader;
          const ts = again.get(leader) ?? new Map<string, Set<number>>();
          again.set(leader, ts);
          ts.set(p.topic, (ts.get(p.topic) ?? new Set<number>()).add(p.partition));
        }
        await describe(again);
        const lost = hanging.filter((p) => open.get(`${p.topic}:${p.partition}`)?.has(t.producerId) === true);
        if (lost.length === 0) {
          this.openOn.delete(t.transactionalId);
          continue;
        }
        hanging.splice(0, hanging.length, ...lost);
        // Committed, yet open here: its markers were lost. Write them.
        const write = await writeTxnMarkers();
        const byBroker = new Map<number, { epoch: number; coordinatorEpoch: number; parts: { topic: string; partition: number }[] }>();
        for (const p of hanging) {
          const o = open.get(`${p.topic}:${p.partition}`)!.get(t.producerId)!;
          const e = byBroker.get(o.leader) ?? { epoch: o.epoch, coordinatorEpoch: o.coordinatorEpoch, parts: [] };
          e.parts.push(p);
          byBroker.set(o.leader, e);
        }
        for (const [leader, e] of byBroker) {
          const broker = meta.brokers.get(leader)!;
          const names = [...new Set(e.parts.map((p) => p.topic))];
          const r = await write(await connect(broker.host, broker.port), [
            { producerId: BigInt(t.producerId), producerEpoch: e.epoch, commit: true, topics: names.map((name) => ({ name, partitions: e.parts.filter((p) => p.topic === name).map((p) => p.partition) })), coordinatorEpoch: Math.max(0, e.coordinatorEpoch) },
          ]);
          const failed = r.markers.flatMap((m) => m.topics.flatMap((x) => x.partitions.filter((p) => p.errorCode !== 0).map((p) => `'${x.name}' partition ${p.partition}: Kafka error code ${p.errorCode}`)));
          if (failed.length > 0) throw new Error(`${this.who}: transaction '${t.transactionalId}' (producer id ${t.producerId}) was committed but the broker lost its commit markers, and writing them failed (${failed.join('; ')}); read_committed consumers wait at it until it is completed (the writer needs the ClusterAction permission to write markers)`);
        }
        process.emitWarning(
          `${this.who}: transaction '${t.transactionalId}' (producer id ${t.producerId}) was committed but the broker lost its commit markers on ${hanging.map((p) => `'${p.topic}' partition ${p.partition}`).join(', ')} (a partition without a leader while they were sent, e.g. a broker shut down during the commit); the sink wrote them`,
          { code: 'SLUICE_KAFKA_COMMIT_MARKERS' },
        );
        still.push(t); // Seen ended on the next pass.
      }
      this.pending = still;
    } finally {
      // Closing is not waited for long (a connection to a broker going away may not report its close).
      const closing = Promise.all([...connections.map((c) => c.close().catch(() => undefined)), admin.close().catch(() => undefined)]);
      await Promise.race([closing, sleep(2000)]);
    }
  }
}

function hostPort(s: string): [string, number] {
  const i = s.lastIndexOf(':');
  return [s.slice(0, i), Number(s.slice(i + 1))];
}
