/**
 * The reader of one partition of an application's repartition topic (docs/application-mode.md,
 * "Repartition topics"): the input of a downstream sub-topology's task. It reads read_committed
 * (an upstream task's records count once its checkpoint committed them), decodes the records
 * of repartition-records.ts, and keeps the task's watermark as the minimum over the upstream
 * tasks' (UpstreamWatermarks: idle ones left out), emitted by the source itself after the rows
 * that precede it in the partition. It ends once every upstream task's end record arrived (bounded upstream
 * input); its checkpoint holds the offset and the upstream tasks' watermarks and ends.
 *
 * Once a checkpoint completes, the records below the offset of the oldest checkpoint the job
 * keeps are deleted (DeleteRecords), as Kafka Streams purges its repartition topics after each
 * commit: only this task reads its partition, and no restore goes back further, so the topic
 * holds what is in flight, not the application's whole history.
 */

import { randomUUID } from 'node:crypto';
import type { Admin, Consumer, ConnectionPool } from '@platformatic/kafka';
import type { Source, SourceContext, SourceReader } from '../../api/connector.js';
import { BatchBuilder } from '../../batch/builder.js';
import type { RecordBatch } from '../../batch/record-batch.js';
import type { Schema } from '../../batch/schema.js';
import { EngineError } from '../../engine/errors.js';
import { kafkaError, loadKafka } from './client.js';
import { rawFetch, type RawFetchResponse } from './fetch.js';
import { decodeRecord, UpstreamWatermarks } from './repartition-records.js';
import type { TaskOffsets } from './task-offsets.js';

export interface RepartitionSourceOptions {
  readonly bootstrap: readonly string[];
  readonly topic: string;
  readonly partition: number;
  /** The upstream sub-topology's task count (every one writes watermarks and an end to every partition). */
  readonly upstreamTasks: number;
  readonly application: string;
  /** The rows carry event time (the cut's input had it). */
  readonly hasEventTime: boolean;
  /** Checkpoints the job keeps (a restore may fall back to the oldest): records below its offset are purged. */
  readonly retain: number;
  /** The task's input offsets, committed to the application's group in its transactions (task-offsets.ts). */
  readonly offsets?: TaskOffsets;
}

/** What a checkpoint holds of the reader. */
interface RepartitionPosition {
  /** The offset after the last record the reader consumed. */
  readonly next: string;
  /** Each upstream task's latest watermark (UpstreamWatermarks.snapshot). */
  readonly watermarks: readonly number[];
  /** The upstream tasks whose end record was read. */
  readonly ended: readonly number[];
  /** The upstream tasks idle then (absent in checkpoints before idleness: none). */
  readonly idle?: readonly number[];
  /** The combined watermark then (absent before idleness: the minimum of `watermarks`). */
  readonly watermark?: number;
}

export class RepartitionSource implements Source {
  readonly hasEventTime: boolean;
  readonly supportsProjection = false;
  readonly parallel = false;
  readonly name: string;

  constructor(
    readonly schema: Schema,
    private readonly o: RepartitionSourceOptions,
  ) {
    this.name = `repartition topic '${o.topic}' partition ${o.partition}`;
    this.hasEventTime = o.hasEventTime;
  }

  open(ctx: SourceContext): SourceReader {
    return new RepartitionReader(this.o, this.schema, ctx);
  }
}

const POLL_MS = 100;

class RepartitionReader implements SourceReader {
  private consumer: Consumer | null = null;
  private pool: ConnectionPool | null = null;
  private ready: Promise<void> | null = null;
  private fetchAt = 0n;
  /** Past the last record consumed (rows handed out, watermark or end applied): what a checkpoint records. */
  private consumed = 0n;
  private readonly pending: { offset: bigint; value: Uint8Array }[] = [];
  private readonly upstream: UpstreamWatermarks;
  private readonly ended = new Set<number>();
  private readonly who: string;
  private idleMs = 0;
  /** The offset each checkpoint taken recorded, and the completed ones the job keeps (oldest first). */
  private readonly taken = new Map<number, bigint>();
  private readonly kept: bigint[] = [];
  private purgedTo = 0n;
  private admin: Admin | null = null;
  private purgeErrors = 0;

  constructor(
    private readonly o: RepartitionSourceOptions,
    private readonly schema: Schema,
    private readonly ctx: SourceContext,
  ) {
    this.upstream = new UpstreamWatermarks(o.upstreamTasks);
    this.who = `repartition topic '${o.topic}' partition ${o.partition}`;
  }

  private async start(): Promise<void> {
    const kafka = await loadKafka();
    this.consumer = new kafka.Consumer({
      clientId: `sluice-${this.o.application}-repartition-${this.o.partition}`,
      groupId: `sluice-${randomUUID()}`,
      bootstrapBrokers: [...this.o.bootstrap],
      isolationLevel: kafka.FetchIsolationLevels.READ_COMMITTED,
      retries: 3,
      timeout: 10_000,
    });
    this.pool = new kafka.ConnectionPool(`sluice-${this.o.application}-repartition-${this.o.partition}`, { connectTimeout: 10_000 });
  }

  watermark(): number {
    return this.upstream.watermark;
  }

  async next(): Promise<RecordBatch | null> {
    this.ready ??= this.start();
    await this.ready;
    for (;;) {
      // In log order: rows go out as they are; a watermark or end that advances the combined
      // watermark ends the batch here (an empty one), so that it is emitted after the rows before it.
      for (let r = this.pending.shift(); r !== undefined; r = this.pending.shift()) {
        this.consumed = r.offset + 1n;
        const d = decodeRecord(r.value, this.schema, `${this.who}, offset ${r.offset}`);
        if (d.kind === 'rows') {
          this.upstream.rowsFrom(d.task);
          if (d.batch.length > 0) return d.batch;
          continue;
        }
        if (d.task >= this.o.upstreamTasks) throw new Error(`${this.who}: a record of upstream task ${d.task}, but the upstream sub-topology has ${this.o.upstreamTasks} tasks; did the input topics' partition count change?`);
        const advanced = d.kind === 'end' ? (this.ended.add(d.task), this.upstream.end(d.task)) : d.kind === 'idle' ? this.upstream.setIdle(d.task, d.idle) : this.upstream.observe(d.task, d.watermark);
        if (advanced !== null) return new BatchBuilder(this.schema, 0).finish();
      }
      if (this.ended.size === this.o.upstreamTasks) return null;
      const t0 = performance.now();
      if (!(await this.fetch())) {
        this.idleMs += performance.now() - t0;
        return new BatchBuilder(this.schema, 0).finish();
      }
    }
  }

  /** One fetch from the partition's leader; false when nothing new came back. */
  private async fetch(): Promise<boolean> {
    const consumer = this.consumer!;
    const kafka = await loadKafka();
    let meta;
    try {
      meta = await consumer.metadata({ topics: [this.o.topic] });
    } catch (e) {
      throw kafkaError(this.who, this.o.bootstrap, 'reading the topic\'s metadata', e);
    }
    const tm = meta.topics.get(this.o.topic)!;
    const pm = tm.partitions[this.o.partition];
    if (pm === undefined) throw new Error(`${this.who}: the topic has ${tm.partitionsCount} partitions; it was changed while the application ran (delete it and run the application again from the start, or restore the partition count)`);
    const broker = meta.brokers.get(pm.leader);
    if (broker === undefined) throw new Error(`${this.who}: the leader (node ${pm.leader}) is not among the brokers the cluster listed; the cluster is changing, restart the job`);
    let r: RawFetchResponse;
    const t0 = performance.now();
    for (;;) {
      try {
        r = await rawFetch(this.pool!, broker, {
          maxWaitMs: POLL_MS,
          maxBytes: 32 << 20,
          isolationLevel: kafka.FetchIsolationLevels.READ_COMMITTED,
          topics: [{ topicId: tm.id, partitions: [{ partition: this.o.partition, currentLeaderEpoch: pm.leaderEpoch, fetchOffset: this.fetchAt, lastFetchedEpoch: -1, partitionMaxBytes: 16 << 20 }] }],
        });
        break;
      } catch (e) {
        // Through a broker restart, as the Kafka source (60 s, then the task fails and restores).
        if (this.pool === null || performance.now() - t0 > 60_000) throw kafkaError(this.who, this.o.bootstrap, 'fetching records', e);
        await new Promise((res) => setTimeout(res, 1000));
      }
    }
    const p = r.responses[0]?.partitions[0];
    if (p === undefined) return false;
    if (p.errorCode !== 0) throw new Error(`${this.who}: fetching at offset ${this.fetchAt} failed with Kafka error code ${p.errorCode}`);
    if (p.records === null) return false;
    let set;
    try {
      set = this.ctx.engine.takeKafkaRecords(p.records, p.abortedTransactions, this.fetchAt, null, { kind: 'raw', keys: false, headers: false });
    } catch (e) {
      throw new EngineError('data', `${this.who}, fetched at offset ${this.fetchAt}: ${(e as Error).message}`);
    }
    if (set.next === this.fetchAt) return false;
    this.fetchAt = set.next;
    for (let i = 0; i < set.offsets.length; i++) {
      const from = set.valueEnds[i]!;
      const to = set.valueEnds[i + 1]!;
      // Each value is followed by a line feed in `values` (none for a null value, which a repartition record never is).
      if (to === from) throw new Error(`${this.who}: a record without a value at offset ${set.offsets[i]}; is another producer writing to this internal topic?`);
      this.pending.push({ offset: set.offsets[i]!, value: set.values.subarray(from, to - 1) });
    }
    // Past control markers and aborted records only: consumed as soon as nothing before them is pending.
    if (this.pending.length === 0) this.consumed = this.fetchAt;
    return true;
  }

  checkpoint(checkpointId?: number): RepartitionPosition {
    if (checkpointId !== undefined) this.taken.set(checkpointId, this.consumed);
    this.o.offsets?.record(checkpointId, [{ topic: this.o.topic, partition: this.o.partition, next: String(this.consumed) }]);
    return { next: String(this.consumed), watermarks: this.upstream.snapshot(), ended: [...this.ended].sort((a, b) => a - b), idle: this.upstream.idleTasks(), watermark: this.upstream.watermark };
  }

  restore(position: unknown): void {
    const p = position as RepartitionPosition;
    this.fetchAt = this.consumed = BigInt(p.next);
    this.upstream.restore(p.watermarks, p.idle, p.watermark);
    for (const t of p.ended) this.ended.add(t);
  }

  async checkpointComplete(checkpointId: number): Promise<void> {
    const at = this.taken.get(checkpointId);
    for (const id of this.taken.keys()) if (id <= checkpointId) this.taken.delete(id);
    if (at === undefined) return;
    this.kept.push(at);
    if (this.kept.length > this.o.retain) this.kept.shift();
    const to = this.kept[0]!;
    if (this.kept.length < this.o.retain || to <= this.purgedTo) return;
    try {
      const kafka = await loadKafka();
      this.admin ??= new kafka.Admin({ clientId: `sluice-${this.o.application}-purge-${this.o.partition}`, bootstrapBrokers: [...this.o.bootstrap], retries: 3 });
      await this.admin.deleteRecords({ topics: [{ name: this.o.topic, partitions: [{ partition: this.o.partition, offset: to }] }] });
      this.purgedTo = to;
    } catch {
      // Housekeeping only (the records stay until the next checkpoint's purge, or the topic's
      // retention): counted in the task's metrics, not a failure of the job.
      this.purgeErrors++;
    }
  }

  metrics(): Record<string, number> {
    return { idleMs: this.idleMs, purgedTo: Number(this.purgedTo), purgeErrors: this.purgeErrors };
  }

  async close(): Promise<void> {
    const admin = this.admin;
    this.admin = null;
    if (admin !== null) await admin.close().catch(() => undefined);
    const pool = this.pool;
    this.pool = null;
    const consumer = this.consumer;
    this.consumer = null;
    if (pool !== null) await pool.close().catch(() => undefined);
    if (consumer !== null) await new Promise<void>((resolve) => consumer.close(true, () => resolve()));
  }
}
