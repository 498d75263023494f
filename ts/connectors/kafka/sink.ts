/**
 * KafkaSink (Flink's KafkaSink, built the same way): each row becomes a record, its value the
 * row as JSON or CSV (Engine.encodeTextRows: one call per batch, identical bytes on both
 * engines), its key the key fields, its topic fixed or taken from a field, its partition by key
 * hash (Kafka's murmur2, as the Java client), round robin, or from a field.
 *
 * Delivery guarantees:
 * - 'none': records are sent without waiting for them at checkpoints.
 * - 'at-least-once': every write is acknowledged before the next, so at a checkpoint all
 *   records before it are in Kafka (a restore may write some again).
 * - 'exactly-once': Flink's two-phase commit with Kafka transactions. Each subtask writes the
 *   records between two checkpoints in one transaction, with its own transactional id
 *   `<prefix>-<subtask>-<n>`; at a checkpoint the transaction is prepared (everything sent and
 *   acknowledged) and its id, producer id and epoch go into the checkpoint; when the checkpoint
 *   completes it is committed. On restore, the prepared transactions in the checkpoint are
 *   committed (they belong to a complete checkpoint; committing twice is harmless), then the ids
 *   from the checkpoint's next `n` on are fenced, which aborts what the failed run left open,
 *   until an id that was never used; new transactions continue from that one, so that each
 *   transactional id (and so each producer id) writes one transaction at most, as in Flink, whose
 *   ids follow checkpoint ids that never repeat. Consumers with read_committed see each record once.
 */

import type { Admin, Producer } from '@platformatic/kafka';
import type { Sink, SinkContext, SinkWriter } from '../../api/connector.js';
import { RecordBatch, valueReader, type Row } from '../../batch/record-batch.js';
import { Schema } from '../../batch/schema.js';
import type { Engine, TextFormat } from '../../engine/engine.js';
import { bootstrapList, kafkaError, loadKafka } from './client.js';
import { connectionOptions } from './client-options.js';
import { PLAINTEXT, parseSecurity, type KafkaSecurity } from './security.js';
import { CommitMarkerCheck, type CommittedTransaction } from './commit-markers.js';
import { TransactionCoordinatorClient } from './transactions.js';
import { endRecords, idleRecords, rowRecords, watermarkRecords, type RepartitionRecord } from './repartition-records.js';
import type { TaskOffsets, TransactionOffsets } from './task-offsets.js';

/** Bytes of keys and values per send: a record batch per partition stays well under the broker's default 1 MiB limit. */
const SEND_BYTES = 512 * 1024;
/** A record's framing in a record batch (varints, attributes, deltas, headers count), at most. */
const RECORD_OVERHEAD = 32;

export type DeliveryGuarantee = 'none' | 'at-least-once' | 'exactly-once';
export type KafkaPartitioner = 'key-hash' | 'round-robin' | { readonly field: string };

interface SinkConfig {
  readonly bootstrap: readonly string[];
  readonly topic: { readonly fixed: string } | { readonly field: string };
  readonly keyFields: readonly string[];
  readonly partitioner: KafkaPartitioner;
  readonly format: TextFormat;
  readonly guarantee: DeliveryGuarantee;
  readonly transactionalIdPrefix: string | null;
  readonly transactionTimeoutMs: number;
  readonly clientId: string;
  /**
   * Upsert mode (Flink's upsert-kafka sink): keys as JSON of the key fields, +I/+U rows as
   * values, -D rows as tombstones (null values), -U rows dropped; the stream may carry row kinds
   * (a last `$rowkind` field). `exceptKey`: values without the key fields.
   */
  readonly upsert: { readonly exceptKey: boolean } | null;
  readonly security: KafkaSecurity;
  /** An application task's ownership check (throws once another instance claimed the task): before each transaction begins. */
  readonly beforeTransaction?: () => void;
  /** An application task's former owners' transactional id prefixes: fenced from their first id on start (anything they left open is aborted). */
  readonly formerPrefixes?: readonly string[];
  /** An application task's input offsets, committed to its group inside the transaction of each checkpoint (task-offsets.ts). */
  readonly offsets?: TaskOffsets;
  /**
   * An application's repartition topic (repartition-records.ts): rows go to the partition of
   * their key group as wire-format records, watermarks and the end of input as records of
   * their own, all written by upstream task `task`.
   */
  readonly repartition?: { readonly keyFields: readonly string[]; readonly keySelector?: (row: Row) => unknown; readonly maxParallelism: number; readonly partitions: number; readonly task: number };
}

export class KafkaSinkBuilder {
  private bootstrap: readonly string[] | null = null;
  private topic: SinkConfig['topic'] | null = null;
  private keyFields: readonly string[] = [];
  private partitioner: KafkaPartitioner | null = null;
  private format: TextFormat = 'jsonl';
  private guarantee: DeliveryGuarantee = 'at-least-once';
  private prefix: string | null = null;
  private timeoutMs = 60_000;
  private clientId = 'sluice';
  private upsert: SinkConfig['upsert'] = null;
  private readonly properties = new Map<string, string>();

  setBootstrapServers(servers: string | readonly string[]): this {
    this.bootstrap = bootstrapList(servers, 'KafkaSink');
    return this;
  }

  /**
   * A Kafka client property, named as for the Java client (Flink's `setProperty`): the security
   * ones (`security.protocol`, `sasl.mechanism`, `sasl.jaas.config`, `ssl.*`; see
   * docs/kafka-security.md) and `bootstrap.servers`.
   */
  setProperty(key: string, value: string): this {
    if (typeof key !== 'string' || typeof value !== 'string') throw new TypeError('KafkaSink.setProperty: give a property name and a string value');
    if (key === 'bootstrap.servers') return this.setBootstrapServers(value);
    this.properties.set(key, value);
    return this;
  }

  /** Several properties at once (see setProperty). */
  setProperties(properties: Readonly<Record<string, string>>): this {
    for (const [k, v] of Object.entries(properties)) this.setProperty(k, v);
    return this;
  }

  setTopic(topic: string): this {
    if (typeof topic !== 'string' || topic === '') throw new TypeError('KafkaSink.setTopic: give a topic name');
    this.topic = { fixed: topic };
    return this;
  }

  /** Each row goes to the topic named by its utf8 field `field`. */
  setTopicField(field: string): this {
    this.topic = { field };
    return this;
  }

  /** The record key: the values of these fields as a CSV row (one plain text field: that text). */
  setKeyFields(...fields: string[]): this {
    this.keyFields = fields;
    return this;
  }

  /** 'key-hash' (default with key fields: Kafka's murmur2 of the key), 'round-robin' (default without), or `{ field }` (an i32/i64 partition number). */
  setPartitioner(p: KafkaPartitioner): this {
    if (p !== 'key-hash' && p !== 'round-robin' && (typeof p !== 'object' || p === null || typeof p.field !== 'string')) {
      throw new TypeError(`KafkaSink.setPartitioner: 'key-hash', 'round-robin' or { field: 'name' }, got ${JSON.stringify(p)}`);
    }
    this.partitioner = p;
    return this;
  }

  /** Values as JSON objects (default) or CSV rows. */
  setValueFormat(format: 'json' | 'csv'): this {
    if (format !== 'json' && format !== 'csv') throw new TypeError(`KafkaSink.setValueFormat: 'json' or 'csv', got ${JSON.stringify(format)}`);
    this.format = format === 'json' ? 'jsonl' : 'csv';
    return this;
  }

  setDeliveryGuarantee(g: DeliveryGuarantee): this {
    if (g !== 'none' && g !== 'at-least-once' && g !== 'exactly-once') throw new TypeError(`KafkaSink.setDeliveryGuarantee: 'none', 'at-least-once' or 'exactly-once', got ${JSON.stringify(g)}`);
    this.guarantee = g;
    return this;
  }

  /** Exactly-once: the start of every transactional id; unique per job writing to the same cluster. */
  setTransactionalIdPrefix(prefix: string): this {
    if (typeof prefix !== 'string' || prefix === '') throw new TypeError('KafkaSink.setTransactionalIdPrefix: give a prefix');
    this.prefix = prefix;
    return this;
  }

  /** Exactly-once: the broker aborts a transaction open longer than this (default 60 s); above the checkpoint interval plus the time to complete one. */
  setTransactionTimeout(ms: number): this {
    if (typeof ms !== 'number' || !Number.isSafeInteger(ms) || ms <= 0) throw new RangeError(`KafkaSink.setTransactionTimeout: a whole number of ms above 0, got ${String(ms)}`);
    this.timeoutMs = ms;
    return this;
  }

  setClientId(id: string): this {
    this.clientId = id;
    return this;
  }

  /**
   * Writes a changelog as upserts (Flink's upsert-kafka): the record key is the key fields
   * (setKeyFields) as a JSON object, an insert or update-after the row's value, a delete a
   * tombstone (null value), an update-before nothing. `valueFieldsInclude` 'except-key' leaves
   * the key fields out of the values ('all' by default, as Flink's 'value.fields-include').
   */
  setUpsert(options: { valueFieldsInclude?: 'all' | 'except-key' } = {}): this {
    const v = options.valueFieldsInclude ?? 'all';
    if (v !== 'all' && v !== 'except-key') throw new TypeError(`KafkaSink.setUpsert: valueFieldsInclude is 'all' or 'except-key', got ${JSON.stringify(v)}`);
    this.upsert = { exceptKey: v === 'except-key' };
    return this;
  }

  build(): KafkaSink {
    if (this.bootstrap === null) throw new TypeError('KafkaSink: setBootstrapServers(...) is required');
    if (this.topic === null) throw new TypeError('KafkaSink: setTopic(name) or setTopicField(field) is required');
    if (this.guarantee === 'exactly-once' && this.prefix === null) throw new TypeError("KafkaSink: 'exactly-once' needs setTransactionalIdPrefix(...), unique to this job");
    const partitioner = this.partitioner ?? (this.keyFields.length > 0 ? 'key-hash' : 'round-robin');
    if (partitioner === 'key-hash' && this.keyFields.length === 0) throw new TypeError("KafkaSink: the 'key-hash' partitioner needs setKeyFields(...)");
    if (this.upsert !== null && this.keyFields.length === 0) throw new TypeError('KafkaSink: upsert mode needs setKeyFields(...) (the primary key)');
    if (this.upsert !== null && this.format !== 'jsonl') throw new TypeError("KafkaSink: upsert mode writes JSON values; setValueFormat('json')");
    return new KafkaSink({
      bootstrap: this.bootstrap,
      topic: this.topic,
      keyFields: this.keyFields,
      partitioner,
      format: this.format,
      guarantee: this.guarantee,
      transactionalIdPrefix: this.prefix,
      transactionTimeoutMs: this.timeoutMs,
      clientId: this.clientId,
      upsert: this.upsert,
      security: this.properties.size === 0 ? PLAINTEXT : parseSecurity(this.properties, 'KafkaSink'),
    });
  }
}

export class KafkaSink implements Sink {
  readonly parallel = true;
  readonly name: string;

  constructor(private readonly config: SinkConfig) {
    this.name = `Kafka ${'fixed' in config.topic ? config.topic.fixed : `topic of '${config.topic.field}'`} (${config.guarantee})`;
  }

  static builder(): KafkaSinkBuilder {
    return new KafkaSinkBuilder();
  }

  /**
   * @internal The writer of an application's repartition topic (application.ts): exactly once,
   * rows by key group, watermarks and the end of input passed on; run by upstream task `task`
   * through forTask (which gives it the task's transactional ids).
   */
  static repartition(o: { bootstrap: readonly string[]; topic: string; keyFields: readonly string[]; keySelector?: (row: Row) => unknown; maxParallelism: number; partitions: number; task: number; application: string; security?: KafkaSecurity; sinkInTask?: number }): KafkaSink {
    return new KafkaSink({
      bootstrap: o.bootstrap,
      topic: { fixed: o.topic },
      keyFields: [],
      partitioner: 'round-robin',
      format: 'jsonl',
      guarantee: 'exactly-once',
      // A task's second and later repartition sinks (a join's inputs, cuts on other branches): transactional ids of their own.
      transactionalIdPrefix: o.sinkInTask === undefined || o.sinkInTask === 0 ? 'sluice-repartition' : `sluice-repartition-${o.sinkInTask}`,
      transactionTimeoutMs: 60_000,
      clientId: `sluice-${o.application}`,
      upsert: null,
      security: o.security ?? PLAINTEXT,
      repartition: { keyFields: o.keyFields, ...(o.keySelector === undefined ? {} : { keySelector: o.keySelector }), maxParallelism: o.maxParallelism, partitions: o.partitions, task: o.task },
    });
  }

  /**
   * @internal This sink as an application's task `task` writes it: its own transactional ids
   * (`<prefix>-<application>-task<n>-<subtask>-<k>`), the same on whichever instance runs the
   * task, so the instance that takes the task over commits or fences what the former one left.
   */
  forTask(application: string, task: number, owner?: { readonly name: string; readonly predecessors: readonly string[]; readonly beforeTransaction: () => void; readonly offsets?: TaskOffsets }): KafkaSink {
    const c = this.config;
    if (c.transactionalIdPrefix === null) return new KafkaSink({ ...c });
    const base = `${c.transactionalIdPrefix}-${application}-task${task}`;
    if (owner === undefined) return new KafkaSink({ ...c, transactionalIdPrefix: base });
    // Each owner of the task has ids of its own (a former owner still running never takes an id
    // the new one uses); the new owner fences the former owners' ids.
    return new KafkaSink({ ...c, transactionalIdPrefix: `${base}-${owner.name}`, beforeTransaction: owner.beforeTransaction, formerPrefixes: owner.predecessors.map((p) => `${base}-${p}`), ...(owner.offsets === undefined ? {} : { offsets: owner.offsets }) });
  }

  /** @internal The delivery guarantee (an application checks it). */
  get guarantee(): DeliveryGuarantee {
    return this.config.guarantee;
  }

  open(schema: Schema, ctx: SinkContext): SinkWriter {
    const c = this.config;
    const check = (field: string, what: string, types: readonly string[]): void => {
      const i = schema.names().indexOf(field);
      if (i < 0) throw new TypeError(`KafkaSink: ${what} field '${field}' is not in the stream's fields (${schema.names().join(', ')})`);
      if (!types.includes(schema.fields[i]!.type)) throw new TypeError(`KafkaSink: ${what} field '${field}' is ${schema.fields[i]!.type}; it must be ${types.join(' or ')}`);
    };
    if ('field' in c.topic) check(c.topic.field, 'topic', ['utf8']);
    for (const k of c.keyFields) check(k, 'key', ['utf8', 'i32', 'i64', 'f64', 'bool', 'timestamp']);
    if (typeof c.partitioner === 'object') check(c.partitioner.field, 'partition', ['i32', 'i64']);
    const writer = new KafkaWriter(c, schema, ctx.engine, ctx.subtask ?? 0, ctx.parallelism ?? 1);
    if (c.guarantee !== 'exactly-once') return writer;
    const twoPhase: SinkWriter = {
      write: (b) => writer.write(b),
      close: () => writer.close(),
      preCommit: (id) => writer.preCommit(id),
      commit: (id) => writer.commit(id),
      restore: (state) => writer.restore(state),
      restoreRescaled: (states) => writer.restoreRescaled(states),
    };
    if (c.repartition === undefined) return twoPhase;
    const keys = c.repartition.keyFields.map((f) => {
      const i = schema.names().indexOf(f);
      if (i < 0) throw new TypeError(`${this.name}: key field '${f}' is not in the stream's fields (${schema.names().join(', ')})`);
      return i;
    });
    return {
      ...twoPhase,
      write: (b) => writer.writeRepartitioned(b, keys),
      watermark: (w) => writer.repartitionWatermark(w),
      idle: (idle) => writer.repartitionIdle(idle),
      // The end of the upstream task's input: into the last transaction, committed with the final checkpoint.
      finish: (reason) => (reason === 'end' ? writer.repartitionEnd() : undefined),
    };
  }
}

interface Prepared {
  readonly checkpointId: number;
  readonly transactionalId: string;
  readonly producerId: string;
  readonly epoch: number;
  /** The partitions it wrote (absent in checkpoints of earlier versions). */
  readonly partitions?: readonly { readonly topic: string; readonly partition: number }[];
}

/** What a checkpoint holds of an exactly-once writer. */
interface KafkaSinkState {
  readonly prepared: readonly Prepared[];
  /** The `n` of the next transactional id. */
  readonly next: number;
  /** The subtask whose state this is (absent in checkpoints of earlier versions: its index). */
  readonly subtask?: number;
  /** Transactional id sequences of former subtasks this one took over on a rescaled restore and has not yet fenced. */
  readonly adopted?: readonly { readonly subtask: number; readonly next: number }[];
  /** Committed transactions not yet seen ended on all their partitions (see commit-markers.ts). */
  readonly unchecked?: readonly CommittedTransaction[];
  /** The transactional id prefix `next` and `adopted` count under (absent in checkpoints of earlier versions: the sink's own). */
  readonly prefix?: string;
}

interface Open {
  readonly producer: Producer;
  readonly transactionalId: string;
  readonly tx: Awaited<ReturnType<Producer['beginTransaction']>>;
  sent: number;
  /** `topic:partition` of every partition written. */
  readonly partitions: Set<string>;
}

class KafkaWriter implements SinkWriter {
  private producer: Producer | null = null;
  private admin: Admin | null = null;
  private ready: Promise<void> | null = null;
  private readonly who: string;
  private partitions = new Map<string, { count: number; at: number }>();
  private roundRobin = 0;
  /** 'none': sends not yet acknowledged (at most two, chained). */
  private inFlight: Promise<unknown>[] = [];
  // Exactly-once.
  private open: Open | null = null;
  /** `sending`: the input offsets being added to the live transaction (sendOffsetsToTransaction), awaited before it commits. */
  private prepared: (Prepared & { live: Open | null; sending?: Promise<void> })[] = [];
  private next = 0;
  private restored: KafkaSinkState | null = null;
  /** Former subtasks' id sequences to fence (see restoreRescaled). */
  private adopted: readonly { readonly subtask: number; readonly next: number }[] = [];
  /** Restored under another prefix (an application task's former owner): its id sequence, fenced on start. */
  private former: { readonly prefix: string; readonly next: number; readonly adopted: readonly { readonly subtask: number; readonly next: number }[] } | null = null;
  /** Closed: a write still under way must not leave a transaction open (see zombie). */
  private closed = false;
  /** The producer of a transaction being begun. */
  private opening: Producer | null = null;
  /** Exactly-once: committed transactions checked for lost commit markers. */
  private readonly markers: CommitMarkerCheck;

  constructor(
    private readonly c: SinkConfig,
    private readonly schema: Schema,
    private readonly engine: Engine,
    private readonly subtask: number,
    private readonly parallelism: number,
  ) {
    this.who = `Kafka sink (${'fixed' in c.topic ? `topic '${c.topic.fixed}'` : `topic from field '${c.topic.field}'`})`;
    this.markers = new CommitMarkerCheck(c.bootstrap, c.security, `${c.clientId}-sink-${subtask}`, this.who);
  }

  private async call<R>(doing: string, f: () => Promise<R>): Promise<R> {
    try {
      return await f();
    } catch (e) {
      throw kafkaError(this.who, this.c.bootstrap, doing, e, this.c.security);
    }
  }

  private async start(): Promise<void> {
    const kafka = await loadKafka();
    if (this.c.guarantee !== 'exactly-once') {
      this.producer = new kafka.Producer({ clientId: `${this.c.clientId}-sink-${this.subtask}`, bootstrapBrokers: [...this.c.bootstrap], ...connectionOptions(this.c.security), idempotent: true, acks: -1, autocreateTopics: false });
      return;
    }
    // Recovery first: commit what the restored checkpoint prepared, then fence (abort) every id a failed run may have left open.
    const coordinator = new TransactionCoordinatorClient(this.c.bootstrap, `${this.c.clientId}-recovery-${this.subtask}`, this.c.security);
    try {
      if (this.restored !== null) {
        for (const p of this.restored.prepared) {
          await this.call(`committing transaction '${p.transactionalId}' of checkpoint ${p.checkpointId} on restore`, () => coordinator.commit(p.transactionalId, BigInt(p.producerId), p.epoch));
          this.markers.add({ transactionalId: p.transactionalId, producerId: p.producerId, epoch: p.epoch, partitions: p.partitions ?? [] });
        }
        this.prepared = this.prepared.filter((p) => !this.restored!.prepared.some((r) => r.transactionalId === p.transactionalId));
      }
      // New transactions start at the first id never used, not at the ids a failed run used: a
      // transactional id keeps its producer id, and consumers whose read_committed filter tracks
      // one aborted transaction per producer id (@platformatic/kafka 1.35) would let the earlier
      // ones through.
      // A former owner's ids (an application task taken over): from the restored checkpoint's on,
      // and every other former owner's from its first (it may have left one open).
      const former = this.former;
      if (former !== null) {
        await this.fenceFrom(coordinator, this.subtask, former.next, former.prefix);
        for (const a of former.adopted) await this.fenceFrom(coordinator, a.subtask, a.next, former.prefix);
      }
      for (const p of this.c.formerPrefixes ?? []) if (p !== former?.prefix) await this.fenceFrom(coordinator, this.subtask, 0, p);
      this.former = null;
      this.next = await this.fenceFrom(coordinator, this.subtask, this.next);
      // Former subtasks taken over at a lower parallelism: nothing of theirs may stay open either.
      for (const a of this.adopted) await this.fenceFrom(coordinator, a.subtask, a.next);
      this.adopted = [];
    } finally {
      await coordinator.closeAll();
    }
  }

  /** Fences (aborts what is open under) subtask `subtask`'s ids from `n` on, up to the first never used, which it returns. */
  private async fenceFrom(coordinator: TransactionCoordinatorClient, subtask: number, n: number, prefix = this.c.transactionalIdPrefix!): Promise<number> {
    for (; ; n++) {
      const epoch = await this.call('aborting transactions left open by an earlier run', () => coordinator.fence(this.transactionalId(n, subtask, prefix), this.c.transactionTimeoutMs));
      // Never used before: nothing further can be open.
      if (epoch === 0) return n;
    }
  }

  private transactionalId(n: number, subtask = this.subtask, prefix = this.c.transactionalIdPrefix!): string {
    return `${prefix}-${subtask}-${n}`;
  }

  private whenReady(): Promise<void> {
    this.ready ??= this.start();
    return this.ready;
  }

  restore(state: unknown): void {
    const s = state as KafkaSinkState;
    this.restored = s;
    this.next = s.next;
    this.prepared = s.prepared.map((p) => ({ ...p, live: null }));
    this.adopted = s.adopted ?? [];
    if (s.prefix !== undefined && s.prefix !== this.c.transactionalIdPrefix) {
      // Another prefix's sequence (a former owner of an application task): fenced on start; this one's own ids start at its first.
      this.former = { prefix: s.prefix, next: s.next, adopted: this.adopted };
      this.next = 0;
      this.adopted = [];
    }
    for (const t of s.unchecked ?? []) this.markers.add(t);
  }

  /**
   * At another parallelism: this subtask continues its own id sequence (if it had one) and takes
   * over the former subtasks no subtask has now (those numbered from `parallelism` on, each by
   * the one at its number mod `parallelism`): their prepared transactions are committed and
   * their ids fenced, as its own.
   */
  restoreRescaled(states: readonly unknown[]): void {
    const olds = (states as readonly KafkaSinkState[]).map((s, j) => ({ ...s, subtask: s.subtask ?? j }));
    const taken = olds.flatMap((s) => [{ subtask: s.subtask, next: s.next }, ...(s.adopted ?? [])]).filter((a) => a.subtask >= this.parallelism && a.subtask % this.parallelism === this.subtask);
    const own = olds.find((s) => s.subtask === this.subtask);
    const mine = olds.filter((s) => s === own || taken.some((a) => a.subtask === s.subtask));
    const prefix = own?.prefix ?? olds[0]?.prefix;
    this.restore({ prepared: mine.flatMap((s) => s.prepared), next: own?.next ?? 0, adopted: taken, unchecked: mine.flatMap((s) => s.unchecked ?? []), ...(prefix === undefined ? {} : { prefix }) });
  }

  /** Partition count of `topic` (metadata cached for 10 s). */
  private async partitionCount(topic: string): Promise<number> {
    const cached = this.partitions.get(topic);
    if (cached !== undefined && performance.now() - cached.at < 10_000) return cached.count;
    const kafka = await loadKafka();
    // An admin client for metadata: the producer's own lookup waits for a missing topic forever.
    this.admin ??= new kafka.Admin({ clientId: `${this.c.clientId}-sink-meta-${this.subtask}`, bootstrapBrokers: [...this.c.bootstrap], ...connectionOptions(this.c.security) });
    let meta;
    try {
      meta = await this.admin.metadata({ topics: [topic], autocreateTopics: false, forceUpdate: true });
    } catch (e) {
      if (/UNKNOWN_TOPIC|Unknown topic/i.test(String(e) + String((e as { errors?: unknown[] }).errors?.map(String)))) throw new Error(`${this.who}: topic '${topic}' does not exist on ${this.c.bootstrap.join(',')}; create it first (or check the name)`, { cause: e });
      throw kafkaError(this.who, this.c.bootstrap, `reading the metadata of topic '${topic}'`, e, this.c.security);
    }
    const t = meta.topics.get(topic);
    if (t === undefined) throw new Error(`${this.who}: topic '${topic}' does not exist on ${this.c.bootstrap.join(',')}; create it first (or check the name)`);
    this.partitions.set(topic, { count: t.partitionsCount, at: performance.now() });
    return t.partitionsCount;
  }

  /** The batch as records: values, keys, topics, partitions. */
  private async records(batch: RecordBatch): Promise<{ topic: string; key?: Buffer; value: Buffer | null; partition: number }[]> {
    const n = batch.length;
    // Upsert mode: the values leave out the row kind (and the key with 'except-key').
    const kinds = this.c.upsert !== null && this.schema.names()[this.schema.length - 1] === '$rowkind' ? (batch.columns[this.schema.length - 1] as { values: Int32Array }).values : null;
    let valueBatch = batch;
    if (this.c.upsert !== null) {
      const keep = this.schema.fields.map((_, i) => i).filter((i) => !(kinds !== null && i === this.schema.length - 1) && !(this.c.upsert!.exceptKey && this.c.keyFields.includes(this.schema.fields[i]!.name)));
      valueBatch = new RecordBatch(new Schema(keep.map((i) => this.schema.fields[i]!)), keep.map((i) => batch.columns[i]!), n, null);
    }
    const { bytes, rowEnds } = this.engine.encodeTextRows(valueBatch, this.c.format);
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const names = this.schema.names();
    const topicOf: (i: number) => string =
      'fixed' in this.c.topic
        ? ((t: string) => () => t)(this.c.topic.fixed)
        : ((read: (i: number) => unknown, f: string) => (i: number) => {
            const t = read(i);
            if (typeof t !== 'string' || t === '') throw new Error(`${this.who}: row ${i} of a batch has no topic in field '${f}' (${JSON.stringify(t)})`);
            return t;
          })(valueReader(batch.columns[names.indexOf(this.c.topic.field)]!, this.c.topic.field), this.c.topic.field);
    let keys: Buffer[] | null = null;
    if (this.c.keyFields.length > 0) {
      const idx = this.c.keyFields.map((f) => names.indexOf(f));
      const keyBatch = new RecordBatch(new Schema(idx.map((k) => this.schema.fields[k]!)), idx.map((k) => batch.columns[k]!), n, null);
      // Upsert keys are JSON objects of the key fields (Flink's 'key.format' = 'json').
      const k = this.engine.encodeTextRows(keyBatch, this.c.upsert !== null ? 'jsonl' : 'csv');
      const kb = Buffer.from(k.bytes.buffer, k.bytes.byteOffset, k.bytes.byteLength);
      keys = [];
      let start = 0;
      for (let i = 0; i < n; i++) {
        const end = k.rowEnds[i]!;
        keys.push(kb.subarray(start, end - 1));
        start = end;
      }
    }
    const partField = typeof this.c.partitioner === 'object' ? valueReader(batch.columns[names.indexOf(this.c.partitioner.field)]!, this.c.partitioner.field) : null;
    const kafka = await loadKafka();
    const out: { topic: string; key?: Buffer; value: Buffer | null; partition: number }[] = [];
    let start = 0;
    for (let i = 0; i < n; i++) {
      const end = rowEnds[i]!;
      // An upsert sink writes nothing for an update-before (the update-after replaces the key's value).
      if (kinds !== null && kinds[i] === 1) {
        start = end;
        continue;
      }
      const topic = topicOf(i);
      const cached = this.partitions.get(topic);
      const count = cached !== undefined && performance.now() - cached.at < 10_000 ? cached.count : await this.partitionCount(topic);
      let partition: number;
      if (partField !== null) {
        const p = partField(i);
        if (typeof p !== 'number' || !Number.isInteger(p) || p < 0 || p >= count) {
          throw new Error(`${this.who}: row ${i} of a batch names partition ${String(p)} in field '${(this.c.partitioner as { field: string }).field}', but topic '${topic}' has partitions 0..${count - 1}`);
        }
        partition = p;
      } else if (this.c.partitioner === 'key-hash') partition = (kafka.murmur2(keys![i]!, false) & 0x7fffffff) % count;
      else partition = this.roundRobin++ % count;
      // A delete is a tombstone: the key with a null value.
      const rec: { topic: string; key?: Buffer; value: Buffer | null; partition: number } = { topic, value: kinds !== null && kinds[i] === 3 ? null : buf.subarray(start, end - 1), partition };
      if (keys !== null) rec.key = keys[i]!;
      out.push(rec);
      start = end;
    }
    return out;
  }

  /** A repartition topic's rows: one record per partition their key groups go to. */
  async writeRepartitioned(batch: RecordBatch, keys: readonly number[]): Promise<void> {
    if (batch.length === 0) return;
    await this.sendRepartition((r) => rowRecords(batch, r.keySelector ?? keys, r.maxParallelism, r.partitions, r.task));
  }

  /** Records of this upstream task (`make` from the topic's settings) into the repartition topic. */
  private async sendRepartition(make: (r: NonNullable<SinkConfig['repartition']>) => RepartitionRecord[]): Promise<void> {
    await this.whenReady();
    const topic = (this.c.topic as { fixed: string }).fixed;
    await this.send(make(this.c.repartition!).map((x) => ({ topic, value: x.value, partition: x.partition })));
  }

  /** The last watermark written to the repartition topic. */
  private sentWatermark = -Infinity;

  /**
   * A repartition topic: the upstream task's watermark, to every partition, when it advanced.
   * (Not named `watermark`: the writer itself is the SinkWriter of the other guarantees, whose
   * sink operator would then pass it every watermark.)
   */
  async repartitionWatermark(w: number): Promise<void> {
    if (!(w > this.sentWatermark)) return;
    this.sentWatermark = w;
    await this.sendRepartition((r) => watermarkRecords(r.partitions, r.task, w));
  }

  /** Whether the last idle record written said idle. */
  private sentIdle = false;

  /** A repartition topic: the upstream task's input became idle or active again, to every partition, when that changed. */
  async repartitionIdle(idle: boolean): Promise<void> {
    if (idle === this.sentIdle) return;
    this.sentIdle = idle;
    await this.sendRepartition((r) => idleRecords(r.partitions, r.task, idle));
  }

  /** A repartition topic: the upstream task's input ended, to every partition. */
  async repartitionEnd(): Promise<void> {
    await this.sendRepartition((r) => endRecords(r.partitions, r.task));
  }

  async write(batch: RecordBatch): Promise<void> {
    if (batch.length === 0) return;
    await this.whenReady();
    const messages = await this.records(batch);
    // The client puts a send's records for one partition into one record batch, which the broker
    // rejects above its message.max.bytes (1 MiB by default): a large batch goes as several sends.
    let from = 0;
    while (from < messages.length) {
      let to = from;
      let bytes = 0;
      while (to < messages.length && (to === from || bytes < SEND_BYTES)) {
        const m = messages[to++]!;
        bytes += (m.value?.length ?? 0) + (m.key?.length ?? 0) + RECORD_OVERHEAD;
      }
      await this.send(from === 0 && to === messages.length ? messages : messages.slice(from, to));
      from = to;
    }
  }

  private async send(records: { topic: string; key?: Buffer; value: Buffer | null; partition: number }[]): Promise<void> {
    // A tombstone's value is null: the client writes it as length -1 (its types say Buffer only,
    // and its message check wants the property present, which undefined is not).
    const messages = records as { topic: string; key?: Buffer; value: Buffer; partition: number }[];
    if (this.c.guarantee === 'exactly-once') {
      const o = await this.transaction();
      await this.call(`writing to transaction '${o.transactionalId}'`, () => o.tx.send({ messages }));
      if (this.closed) await this.zombie(o, o.transactionalId);
      o.sent += messages.length;
      for (const m of messages) o.partitions.add(`${m.topic}:${m.partition}`);
      return;
    }
    const previous = this.inFlight[this.inFlight.length - 1];
    const sent = (previous ?? Promise.resolve()).then(() => this.call('writing records', () => this.producer!.send({ messages })));
    if (this.c.guarantee === 'at-least-once') {
      await sent;
      return;
    }
    // 'none': one send in flight while the next is encoded, no waiting at checkpoints; a
    // failure still fails the job. (The client's sends must not overlap: sequence numbers.)
    this.inFlight.push(sent);
    if (this.inFlight.length >= 2) await this.inFlight.shift();
  }

  /** The open transaction, begun on the first write after a checkpoint. */
  private async transaction(): Promise<Open> {
    if (this.open !== null) return this.open;
    // A former owner of an application task begins nothing: the new owner continues this id sequence.
    this.c.beforeTransaction?.();
    const kafka = await loadKafka();
    const transactionalId = this.transactionalId(this.next++);
    const producer = new kafka.Producer({
      clientId: `${this.c.clientId}-sink-${this.subtask}`,
      bootstrapBrokers: [...this.c.bootstrap],
      ...connectionOptions(this.c.security),
      idempotent: true,
      transactionalId,
      acks: -1,
      autocreateTopics: false,
      // The client sends its request timeout as the transaction timeout (InitProducerId).
      timeout: this.c.transactionTimeoutMs,
      // "No producer yet" in InitProducerId (the client's default, 0/0, is fenced once the id exists).
      producerId: -1n,
      producerEpoch: -1,
    });
    this.opening = producer;
    let tx;
    try {
      tx = await this.call(`beginning transaction '${transactionalId}'`, () => producer.beginTransaction());
    } finally {
      this.opening = null;
    }
    if (this.closed) await this.zombie({ producer, tx }, transactionalId);
    this.open = { producer, transactionalId, tx, sent: 0, partitions: new Set() };
    return this.open;
  }

  /** Phase one: the open transaction (all acknowledged: writes are awaited) is prepared for checkpoint `id`. */
  preCommit(checkpointId: number): KafkaSinkState {
    const o = this.open;
    if (o !== null && o.sent > 0) {
      const partitions = [...o.partitions].map((k) => {
        const i = k.lastIndexOf(':');
        return { topic: k.slice(0, i), partition: Number(k.slice(i + 1)) };
      });
      // The task's input offsets of this checkpoint, into this transaction (the first of the task's sinks to prepare one takes them).
      const offsets = this.c.offsets?.take(checkpointId) ?? null;
      const sending = offsets === null ? undefined : this.sendOffsets(o, offsets);
      this.prepared.push({ checkpointId, transactionalId: o.transactionalId, producerId: String(o.producer.producerId), epoch: o.producer.producerEpoch!, partitions, live: o, ...(sending === undefined ? {} : { sending }) });
      this.open = null;
    }
    const unchecked = this.markers.unchecked;
    return {
      prepared: this.prepared.map(({ live: _live, sending: _sending, ...p }) => p),
      next: this.next,
      subtask: this.subtask,
      ...(this.c.transactionalIdPrefix === null ? {} : { prefix: this.c.transactionalIdPrefix }),
      ...(this.adopted.length === 0 ? {} : { adopted: this.adopted }),
      ...(unchecked.length === 0 ? {} : { unchecked: [...unchecked] }),
    };
  }

  /**
   * sendOffsetsToTransaction for a prepared transaction, while it is still open (preCommit runs
   * synchronously, so this goes on until the commit awaits it). The offsets are for monitoring
   * the group's lag: recovery resumes from the checkpoint, which holds them too. So a failure is
   * a warning, not a failed checkpoint; a transaction prepared by a run that died before this
   * finished commits on restore without them (the next one carries later offsets).
   */
  private async sendOffsets(o: Open, offsets: TransactionOffsets): Promise<void> {
    const coordinator = new TransactionCoordinatorClient(this.c.bootstrap, `${this.c.clientId}-offsets-${this.subtask}`, this.c.security);
    try {
      await coordinator.sendOffsets(o.transactionalId, o.producer.producerId!, o.producer.producerEpoch!, offsets);
    } catch (e) {
      process.emitWarning(`${this.who}: the input offsets of transaction '${o.transactionalId}' were not committed to group '${offsets.group}' (only its lag shows them; recovery uses the checkpoint): ${e instanceof Error ? e.message : String(e)}`, { code: 'SLUICE_OFFSETS_NOT_COMMITTED' });
    } finally {
      await coordinator.closeAll();
    }
  }

  /** Phase two: checkpoint `id` completed: commit its transactions (and earlier ones not yet committed). */
  async commit(checkpointId: number): Promise<void> {
    await this.whenReady();
    while (this.prepared.length > 0 && this.prepared[0]!.checkpointId <= checkpointId) {
      const p = this.prepared[0]!;
      if (p.live !== null) {
        const live = p.live;
        await p.sending;
        await this.call(`committing transaction '${p.transactionalId}' of checkpoint ${p.checkpointId}`, () => live.tx.commit());
        await live.producer.close().catch(() => undefined);
      } else {
        const coordinator = new TransactionCoordinatorClient(this.c.bootstrap, `${this.c.clientId}-commit-${this.subtask}`, this.c.security);
        await this.call(`committing transaction '${p.transactionalId}' of checkpoint ${p.checkpointId}`, () => coordinator.commit(p.transactionalId, BigInt(p.producerId), p.epoch));
      }
      this.prepared.shift();
      this.markers.add({ transactionalId: p.transactionalId, producerId: p.producerId, epoch: p.epoch, partitions: p.partitions ?? [] });
    }
    // Now and then: were the committed transactions' markers written? (A failed check is tried again later.)
    await this.markers.maybeCheck().catch(() => undefined);
  }

  /**
   * A write still under way when the writer was closed (a failed run closes its operators while
   * the client retries, e.g. through a broker outage) has just opened or written to a
   * transaction: abort it and stop, or it would stay open, holding read_committed consumers back
   * until its timeout, under an id that the restored writer's fencing has already passed.
   */
  private async zombie(t: { producer: Producer; tx: Open['tx'] }, transactionalId: string): Promise<never> {
    await t.tx.abort().catch(() => undefined);
    await t.producer.close().catch(() => undefined);
    throw new Error(`${this.who}: transaction '${transactionalId}' aborted: the writer was closed while writing to it`);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.opening?.close().catch(() => undefined);
    const errors: unknown[] = [];
    try {
      await Promise.all(this.inFlight.splice(0));
    } catch (e) {
      errors.push(e);
    }
    // An open transaction was never prepared (a failed run, or no final checkpoint): abort it;
    // prepared ones are left for the commit or for a restore to commit.
    const o = this.open;
    this.open = null;
    if (o !== null) {
      await o.tx.abort().catch(() => undefined);
      await o.producer.close().catch(() => undefined);
    }
    for (const p of this.prepared) if (p.live !== null) await p.live.producer.close().catch(() => undefined);
    // Everything prepared was committed (the end of a job, not a failure): nothing committed may stay open.
    if (this.c.guarantee === 'exactly-once' && o === null && this.prepared.length === 0 && this.ready !== null) {
      await this.markers.settle(60_000).catch((e: unknown) => errors.push(e));
    }
    if (this.producer !== null) await this.producer.close().catch((e: unknown) => errors.push(e));
    this.producer = null;
    await this.admin?.close().catch(() => undefined);
    this.admin = null;
    if (errors.length > 0) throw errors[0];
  }
}
