/**
 * What the exactly-once Kafka sink needs beyond the client's producer (Flink's
 * FlinkKafkaInternalProducer does the same through reflection): committing a transaction that
 * an earlier process prepared, by its transactional id, producer id and epoch (EndTxn), and
 * fencing a transactional id (InitProducerId), which aborts a transaction it left open.
 * Requests go to the transaction coordinator through the client's protocol layer.
 */

import type { Connection } from '@platformatic/kafka';
import { loadKafka } from './client.js';
import { connectionOptions } from './client-options.js';
import { PLAINTEXT, type KafkaSecurity } from './security.js';
import type { TransactionOffsets } from './task-offsets.js';

/** Kafka error codes retried here: the coordinator is busy, moving or still loading. */
const RETRIABLE = new Set([14 /* COORDINATOR_LOAD_IN_PROGRESS */, 15 /* COORDINATOR_NOT_AVAILABLE */, 16 /* NOT_COORDINATOR */, 51 /* CONCURRENT_TRANSACTIONS */]);

export function errorCodes(e: unknown): number[] {
  const codes: number[] = [];
  const visit = (x: unknown, depth: number): void => {
    if (depth > 5 || x === null || typeof x !== 'object') return;
    const o = x as { errorCode?: unknown; apiCode?: unknown; errors?: unknown; cause?: unknown; response?: { errorCode?: unknown } };
    if (typeof o.errorCode === 'number') codes.push(o.errorCode);
    if (typeof o.apiCode === 'number') codes.push(o.apiCode);
    if (typeof o.response?.errorCode === 'number') codes.push(o.response.errorCode);
    if (Array.isArray(o.errors)) for (const i of o.errors) visit(i, depth + 1);
    else if (o.errors !== null && typeof o.errors === 'object') for (const v of Object.values(o.errors)) if (Array.isArray(v) && typeof v[0] === 'number') codes.push(v[0]);
    visit(o.cause, depth + 1);
  };
  visit(e, 0);
  return codes;
}

export class TransactionCoordinatorClient {
  private readonly connections: Connection[] = [];

  constructor(
    private readonly bootstrap: readonly string[],
    private readonly clientId: string,
    private readonly security: KafkaSecurity = PLAINTEXT,
  ) {}

  private async connect(host: string, port: number): Promise<Connection> {
    const kafka = await loadKafka();
    const c = new kafka.Connection(this.clientId, connectionOptions(this.security));
    await (c.connect(host, port) as Promise<void>);
    this.connections.push(c);
    return c;
  }

  /** A connection to the coordinator of `key`: a transactional id's, or (`group`) a consumer group's. */
  private async coordinator(key: string, group: boolean): Promise<Connection> {
    const kafka = await loadKafka();
    const [host, port] = this.bootstrap[0]!.split(':') as [string, string];
    const boot = await this.connect(host, Number(port));
    const r = await kafka.findCoordinatorV6.api.async(boot, group ? 0 : 1, [key]);
    const c = r.coordinators[0]!;
    if (c.errorCode !== 0) throw Object.assign(new Error(`no ${group ? 'group' : 'transaction'} coordinator for '${key}' (Kafka error code ${c.errorCode})`), { errorCode: c.errorCode });
    return this.connect(c.host, c.port);
  }

  private async retrying<R>(key: string, f: (c: Connection) => Promise<R>, group = false): Promise<R> {
    const deadline = Date.now() + 60_000;
    for (let attempt = 0; ; attempt++) {
      try {
        return await f(await this.coordinator(key, group));
      } catch (e) {
        if (!errorCodes(e).some((c) => RETRIABLE.has(c)) || Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** attempt, 1000)));
      } finally {
        await this.closeAll();
      }
    }
  }

  /** Commits the transaction `producerId`/`epoch` of `transactionalId` (idempotent: committing a committed one succeeds). */
  async commit(transactionalId: string, producerId: bigint, epoch: number): Promise<void> {
    const kafka = await loadKafka();
    await this.retrying(transactionalId, (c) => kafka.endTxnV4.api.async(c, transactionalId, producerId, epoch, true));
  }

  /**
   * sendOffsetsToTransaction: adds the consumer group's offsets to the open transaction
   * `producerId`/`epoch` of `transactionalId` (AddOffsetsToTxn), then writes them to the group's
   * coordinator as part of it (TxnOffsetCommit): they become the group's committed offsets when
   * the transaction commits, and are dropped if it aborts. Sent without a member id or generation
   * (as a producer that is not the group's consumer): the group's own members are not checked;
   * zombies are fenced by the task's transactional ids (task-ownership.ts).
   */
  async sendOffsets(transactionalId: string, producerId: bigint, epoch: number, offsets: TransactionOffsets): Promise<void> {
    const kafka = await loadKafka();
    await this.retrying(transactionalId, (c) => kafka.addOffsetsToTxnV4.api.async(c, transactionalId, producerId, epoch, offsets.group));
    const topics = offsets.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partition, committedOffset: BigInt(p.offset), committedLeaderEpoch: -1 })) }));
    const r = await this.retrying(offsets.group, (c) => kafka.txnOffsetCommitV3.api.async(c, transactionalId, offsets.group, producerId, epoch, -1, '', null, topics), true);
    const failed = r.topics.flatMap((t) => t.partitions.filter((p) => p.errorCode !== 0).map((p) => `${t.name}:${p.partitionIndex} (Kafka error code ${p.errorCode})`));
    if (failed.length > 0) throw Object.assign(new Error(`committing offsets of group '${offsets.group}' in transaction '${transactionalId}' failed for ${failed.join(', ')}`), { errorCode: r.topics[0]!.partitions.find((p) => p.errorCode !== 0)!.errorCode });
  }

  /**
   * Fences `transactionalId` (aborting a transaction it left open) and returns the epoch now
   * in force: 0 for an id never used before.
   */
  async fence(transactionalId: string, timeoutMs: number): Promise<number> {
    const kafka = await loadKafka();
    const r = await this.retrying(transactionalId, (c) => kafka.initProducerIdV5.api.async(c, transactionalId, timeoutMs, -1n, -1));
    return r.producerEpoch;
  }

  /**
   * Initializes `transactionalId` (fencing whoever had it) and returns its producer id and the
   * epoch now in force: a number the broker raises on every call, so later callers get larger
   * (producer id, epoch) pairs.
   */
  async initProducer(transactionalId: string, timeoutMs: number): Promise<{ producerId: bigint; epoch: number }> {
    const kafka = await loadKafka();
    const r = await this.retrying(transactionalId, (c) => kafka.initProducerIdV5.api.async(c, transactionalId, timeoutMs, -1n, -1));
    return { producerId: BigInt(r.producerId), epoch: r.producerEpoch };
  }

  async closeAll(): Promise<void> {
    const all = this.connections.splice(0);
    for (const c of all) await c.close().catch(() => undefined);
  }
}
