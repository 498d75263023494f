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

  /** A connection to the coordinator of `transactionalId`. */
  private async coordinator(transactionalId: string): Promise<Connection> {
    const kafka = await loadKafka();
    const [host, port] = this.bootstrap[0]!.split(':') as [string, string];
    const boot = await this.connect(host, Number(port));
    const r = await kafka.findCoordinatorV6.api.async(boot, 1 /* transaction */, [transactionalId]);
    const c = r.coordinators[0]!;
    if (c.errorCode !== 0) throw Object.assign(new Error(`no transaction coordinator for '${transactionalId}' (Kafka error code ${c.errorCode})`), { errorCode: c.errorCode });
    return this.connect(c.host, c.port);
  }

  private async retrying<R>(transactionalId: string, f: (c: Connection) => Promise<R>): Promise<R> {
    const deadline = Date.now() + 60_000;
    for (let attempt = 0; ; attempt++) {
      try {
        return await f(await this.coordinator(transactionalId));
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
