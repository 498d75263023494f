/**
 * KafkaSource (Flink's KafkaSource, built the same way): records of topics (or of a topic
 * pattern) decoded into columnar batches of a declared schema. Each partition is a split with
 * its own watermark; partitions are spread over the source's subtasks by Flink's rule, and a
 * pattern's new topics and partitions are picked up while the job runs. Positions are part of
 * checkpoints (a restore continues exactly there) and are committed to the consumer group when
 * a checkpoint completes, for monitoring only. The reader fetches with the Kafka protocol
 * directly (no consumer-group membership: Sluice assigns the partitions) and hands each
 * partition's fetched values to the job's engine decoder in one call per batch (up to the job's
 * batch size).
 */

import { randomUUID } from 'node:crypto';
import type { Consumer, ConnectionPool } from '@platformatic/kafka';
import type { Source, SourceContext, SourceReader } from '../../api/connector.js';
import { BatchBuilder } from '../../batch/builder.js';
import type { RecordBatch } from '../../batch/record-batch.js';
import { Schema, type RecordOf, type SchemaSpec } from '../../batch/schema.js';
import { EngineError } from '../../engine/errors.js';
import { DeadLetterFile, type DeadLetterPosition } from '../../runtime/dead-letters.js';
import { bootstrapList, isAuthenticationError, kafkaError, loadKafka } from './client.js';
import { connectionOptions } from './client-options.js';
import { PLAINTEXT, parseSecurity, type KafkaSecurity } from './security.js';
import { OffsetsInitializer, type OffsetsSpec } from './offsets.js';
import type { ExtraColumns, MetadataField, ValueFormat } from './formats.js';
import { PartitionDecoder, type BadRecord } from './records.js';
import { rawFetch, type RawFetchResponse, type RawFetchTopic } from './fetch.js';
import type { TaskOffsets } from './task-offsets.js';
import type { KafkaRecordSet } from '../../engine/engine.js';

export type IsolationLevel = 'read_committed' | 'read_uncommitted';

const METADATA_TYPES: Readonly<Record<MetadataField, 'utf8' | 'i32' | 'i64' | 'timestamp'>> = {
  topic: 'utf8',
  partition: 'i32',
  offset: 'i64',
  timestamp: 'timestamp',
  headers: 'utf8',
};

interface SourceConfig {
  readonly bootstrap: readonly string[];
  readonly topics: readonly string[] | null;
  readonly pattern: RegExp | null;
  readonly groupId: string | null;
  readonly commitOffsets: boolean;
  readonly starting: OffsetsSpec;
  readonly stopping: OffsetsSpec | null;
  readonly format: ValueFormat;
  readonly extras: ExtraColumns;
  readonly isolation: IsolationLevel;
  readonly deadLetterPath: string | null;
  readonly pollMs: number;
  readonly discoveryMs: number | null;
  readonly maxBytesPerPartition: number;
  readonly clientId: string;
  readonly security: KafkaSecurity;
  /** An application's task: only these partitions (of every topic) are read; null: all. */
  /** An application task's input offsets, committed to the application's group in its transactions (task-offsets.ts). */
  readonly taskOffsets?: TaskOffsets;
  readonly only: ReadonlySet<number> | null;
  /** setPartitionedBy: the fields whose values decide a record's partition (all records of equal values in one partition), or null. */
  readonly partitionedBy: readonly string[] | null;
}

/** Flink's KafkaSourceEnumerator rule: a topic's partitions go round the readers from a start that depends on the topic. */
export function ownerOf(topic: string, partition: number, parallelism: number): number {
  let h = 0;
  for (let i = 0; i < topic.length; i++) h = (Math.imul(31, h) + topic.charCodeAt(i)) | 0; // Java's String.hashCode
  const start = (Math.imul(h, 31) & 0x7fffffff) % parallelism;
  return (start + partition) % parallelism;
}

export class KafkaSourceBuilder<T extends object = Record<string, never>> {
  private bootstrap: readonly string[] | null = null;
  private topics: readonly string[] | null = null;
  private pattern: RegExp | null = null;
  private groupId: string | null = null;
  private commitOffsets = true;
  private starting: OffsetsSpec = OffsetsInitializer.earliest();
  private stopping: OffsetsSpec | null = null;
  private format: ValueFormat | null = null;
  private key: string | null = null;
  private metadata: { field: MetadataField; column: string }[] = [];
  private isolation: IsolationLevel = 'read_committed';
  private deadLetterPath: string | null = null;
  private pollMs = 100;
  private discoveryMs: number | null = null;
  // Larger than the Java consumer's 1 MiB default: fewer round trips (1 MiB fetches bound a
  // source at ~0.6 M JSON bids/s on the local broker, 8 MiB ones at ~1.3 M/s before prefetching;
  // with prefetching, 16 MiB read 1.82-1.98 -> 2.12-2.54 M/s against 8). A response stays within
  // 32 MiB whatever the partition count (the fetch's own limit).
  private maxBytesPerPartition = 16 << 20;
  private clientId = 'sluice';
  private partitionedBy: readonly string[] | null = null;
  private readonly properties = new Map<string, string>();

  /** `'host:port'`, a comma-separated list, or an array. */
  setBootstrapServers(servers: string | readonly string[]): this {
    this.bootstrap = bootstrapList(servers, 'KafkaSource');
    return this;
  }

  /**
   * A Kafka client property, named as for the Java client (Flink's `setProperty`): the security
   * ones (`security.protocol`, `sasl.mechanism`, `sasl.jaas.config`, `ssl.*`; see
   * docs/kafka-security.md), `bootstrap.servers`, `group.id`, `client.id` and `isolation.level`.
   */
  setProperty(key: string, value: string): this {
    if (typeof key !== 'string' || typeof value !== 'string') throw new TypeError('KafkaSource.setProperty: give a property name and a string value');
    if (key === 'bootstrap.servers') return this.setBootstrapServers(value);
    if (key === 'group.id') return this.setGroupId(value);
    if (key === 'client.id') return this.setClientId(value);
    if (key === 'isolation.level') return this.setIsolationLevel(value as IsolationLevel);
    this.properties.set(key, value);
    return this;
  }

  /** Several properties at once (see setProperty). */
  setProperties(properties: Readonly<Record<string, string>>): this {
    for (const [k, v] of Object.entries(properties)) this.setProperty(k, v);
    return this;
  }

  setTopics(...topics: string[]): this {
    if (topics.length === 0 || topics.some((t) => typeof t !== 'string' || t === '')) throw new TypeError('KafkaSource.setTopics: give one or more topic names');
    this.topics = topics;
    this.pattern = null;
    return this;
  }

  /** Every topic whose whole name matches; topics created later are picked up (see setPartitionDiscoveryInterval). */
  setTopicPattern(pattern: RegExp): this {
    if (!(pattern instanceof RegExp)) throw new TypeError('KafkaSource.setTopicPattern: give a RegExp');
    this.pattern = pattern;
    this.topics = null;
    return this;
  }

  /** The consumer group: committed offsets are read from it (OffsetsInitializer.committedOffsets) and written to it at checkpoints. */
  setGroupId(groupId: string): this {
    if (typeof groupId !== 'string' || groupId === '') throw new TypeError('KafkaSource.setGroupId: give a group id');
    this.groupId = groupId;
    return this;
  }

  /** Commit the checkpointed offsets to the group when a checkpoint completes (default true when a group id is set). */
  setCommitOffsetsOnCheckpoint(commit: boolean): this {
    this.commitOffsets = commit;
    return this;
  }

  setStartingOffsets(spec: OffsetsSpec): this {
    this.starting = spec;
    return this;
  }

  /** Bounded: stop at these offsets (OffsetsInitializer.latest(): the end at the start; .timestamp(ms); .offsets(...)). */
  setBounded(spec: OffsetsSpec): this {
    if (spec.kind === 'committed') throw new TypeError('KafkaSource.setBounded: stop at latest(), timestamp(ms) or offsets(...)');
    this.stopping = spec;
    return this;
  }

  /** Unbounded (the default): read until the job is stopped. */
  setUnbounded(): this {
    this.stopping = null;
    return this;
  }

  /** Values are JSON objects of this schema (decoded as the JSON Lines files are). */
  setJsonValue<S extends SchemaSpec>(schema: S): KafkaSourceBuilder<Omit<T, keyof RecordOf<S>> & RecordOf<S>> {
    this.format = { kind: 'json', schema: Schema.from(schema) };
    return this as unknown as KafkaSourceBuilder<Omit<T, keyof RecordOf<S>> & RecordOf<S>>;
  }

  /** Values are CSV records (RFC 4180, no header) of this schema, fields by position. */
  setCsvValue<S extends SchemaSpec>(schema: S, options: { readonly delimiter?: string } = {}): KafkaSourceBuilder<Omit<T, keyof RecordOf<S>> & RecordOf<S>> {
    const delimiter = options.delimiter ?? ',';
    if (typeof delimiter !== 'string' || delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') {
      throw new TypeError(`KafkaSource.setCsvValue: delimiter must be one character other than a quote or a line break, got ${JSON.stringify(delimiter)}`);
    }
    this.format = { kind: 'csv', schema: Schema.from(schema), delimiter };
    return this as unknown as KafkaSourceBuilder<Omit<T, keyof RecordOf<S>> & RecordOf<S>>;
  }

  /** Values as UTF-8 text, in a column `value` (null for a record without a value). */
  setRawValue(): KafkaSourceBuilder<T & { value: string | null }> {
    this.format = { kind: 'raw' };
    return this as unknown as KafkaSourceBuilder<T & { value: string | null }>;
  }

  /** The record key as UTF-8 text in column `column` (null for a record without a key). */
  withKey<C extends string = 'key'>(column?: C): KafkaSourceBuilder<T & { [K in C]: string | null }> {
    this.key = column ?? 'key';
    return this as unknown as KafkaSourceBuilder<T & { [K in C]: string | null }>;
  }

  /**
   * Metadata columns: topic (utf8), partition (i32), offset (i64), timestamp (the Kafka
   * timestamp, ms), headers (utf8: JSON `[[key, value], ...]`). Named as the field, or as
   * mapped: `withMetadata({ timestamp: 'kafkaTime' })`.
   */
  withMetadata(...fields: (MetadataField | Partial<Record<MetadataField, string>>)[]): KafkaSourceBuilder<T & Record<string, unknown>> {
    for (const f of fields) {
      const pairs = typeof f === 'string' ? [[f, f] as const] : Object.entries(f);
      for (const [field, column] of pairs) {
        if (!(field in METADATA_TYPES)) throw new TypeError(`KafkaSource.withMetadata: unknown field '${field}'; use ${Object.keys(METADATA_TYPES).join(', ')}`);
        this.metadata.push({ field: field as MetadataField, column: column! });
      }
    }
    return this as unknown as KafkaSourceBuilder<T & Record<string, unknown>>;
  }

  /** 'read_committed' (default: records of open or aborted transactions are not read) or 'read_uncommitted'. */
  setIsolationLevel(level: IsolationLevel): this {
    if (level !== 'read_committed' && level !== 'read_uncommitted') throw new TypeError(`KafkaSource.setIsolationLevel: 'read_committed' or 'read_uncommitted', got ${JSON.stringify(level)}`);
    this.isolation = level;
    return this;
  }

  /** Records that do not decode go to this file (JSON Lines: topic, partition, offset, error, raw) instead of failing the job. */
  setDeadLetterPath(path: string): this {
    this.deadLetterPath = path;
    return this;
  }

  /** Longest wait of one fetch for new records, ms (default 100): an idle source yields to the job this often. */
  setPollTimeout(ms: number): this {
    this.pollMs = positive(ms, 'setPollTimeout');
    return this;
  }

  /** Look for new partitions (and, with a pattern, topics) this often, ms (default: never for bounded sources, 10 s otherwise). */
  setPartitionDiscoveryInterval(ms: number | null): this {
    this.discoveryMs = ms === null ? null : positive(ms, 'setPartitionDiscoveryInterval');
    return this;
  }

  /**
   * Most bytes one fetch returns per partition (Kafka's max.partition.fetch.bytes; default 16 MiB).
   * The broker still returns a first record batch larger than this whole, and cuts the last
   * one off at the limit (read again by the next fetch).
   */
  setMaxPartitionFetchBytes(bytes: number): this {
    if (!Number.isInteger(bytes) || bytes < 1 || bytes > 2 ** 31 - 1) throw new RangeError(`KafkaSource.setMaxPartitionFetchBytes: a whole number of bytes from 1 to 2^31 - 1, got ${String(bytes)}`);
    this.maxBytesPerPartition = bytes;
    return this;
  }

  setClientId(id: string): this {
    this.clientId = id;
    return this;
  }

  /**
   * Declares how the topics are partitioned: all records with equal values of these fields are
   * in one partition (e.g. the producer's key is that field), in every topic of the source, with
   * the same partition for equal values across topics. Used by application mode
   * (docs/application-mode.md): a keyBy on these fields (or on more fields including them)
   * then runs within each input partition's task, without a repartition topic. Not checked: a
   * wrong declaration aggregates a key's records per partition.
   */
  setPartitionedBy(...fields: string[]): this {
    if (fields.length === 0 || fields.some((f) => typeof f !== 'string' || f === '')) throw new TypeError('KafkaSource.setPartitionedBy: give one or more field names');
    this.partitionedBy = fields;
    return this;
  }

  build(): KafkaSource<T> {
    if (this.bootstrap === null) throw new TypeError('KafkaSource: setBootstrapServers(...) is required');
    if (this.topics === null && this.pattern === null) throw new TypeError('KafkaSource: setTopics(...) or setTopicPattern(...) is required');
    if (this.format === null) throw new TypeError('KafkaSource: a value format is required: setJsonValue(schema), setCsvValue(schema) or setRawValue()');
    if (this.starting.kind === 'committed' && this.groupId === null) throw new TypeError('KafkaSource: starting from committed offsets needs setGroupId(...)');
    const valueFields = this.format.kind === 'raw' ? [{ name: 'value', type: 'utf8' as const, nullable: true }] : this.format.schema.fields;
    const fields = [
      ...valueFields,
      ...(this.key === null ? [] : [{ name: this.key, type: 'utf8' as const, nullable: true }]),
      ...this.metadata.map((m) => ({ name: m.column, type: METADATA_TYPES[m.field], nullable: false })),
    ];
    const names = new Set<string>();
    for (const f of fields) {
      if (names.has(f.name)) throw new TypeError(`KafkaSource: column '${f.name}' is both a value field and a key/metadata column; name one otherwise (withKey('k'), withMetadata({ ${f.name}: 'kafka_${f.name}' }))`);
      names.add(f.name);
    }
    for (const f of this.partitionedBy ?? []) if (!names.has(f)) throw new TypeError(`KafkaSource.setPartitionedBy: field '${f}' is not among the source's fields (${[...names].join(', ')})`);
    const bounded = this.stopping !== null;
    return new KafkaSource<T>(new Schema(fields), {
      bootstrap: this.bootstrap,
      topics: this.topics,
      pattern: this.pattern,
      groupId: this.groupId,
      commitOffsets: this.commitOffsets && this.groupId !== null,
      starting: this.starting,
      stopping: this.stopping,
      format: this.format,
      extras: { key: this.key, metadata: this.metadata },
      isolation: this.isolation,
      deadLetterPath: this.deadLetterPath,
      pollMs: this.pollMs,
      discoveryMs: this.discoveryMs ?? (bounded ? null : 10_000),
      maxBytesPerPartition: this.maxBytesPerPartition,
      clientId: this.clientId,
      security: this.properties.size === 0 ? PLAINTEXT : parseSecurity(this.properties, 'KafkaSource'),
      only: null,
      partitionedBy: this.partitionedBy,
    });
  }
}

function positive(ms: number, who: string): number {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0) throw new RangeError(`KafkaSource.${who}: a number of ms above 0, got ${String(ms)}`);
  return ms;
}

export class KafkaSource<T extends object = Record<string, unknown>> implements Source<T> {
  declare readonly __record?: T;
  readonly hasEventTime = false;
  readonly supportsProjection = false;
  readonly parallel = true;
  readonly name: string;

  constructor(
    readonly schema: Schema,
    private readonly config: SourceConfig,
  ) {
    this.name = `Kafka ${config.topics?.join(',') ?? `/${config.pattern!.source}/`}`;
  }

  static builder(): KafkaSourceBuilder {
    return new KafkaSourceBuilder();
  }

  /** @internal The named topics (null for a pattern) and the brokers: what an application's tasks are made of. */
  get topicsAndBootstrap(): { readonly topics: readonly string[] | null; readonly bootstrap: readonly string[] } {
    return { topics: this.config.topics, bootstrap: this.config.bootstrap };
  }

  /** @internal setPartitionedBy's fields, or null. */
  get partitionedBy(): readonly string[] | null {
    return this.config.partitionedBy;
  }

  /** @internal This source reading only partitions `partitions` of its topics (an application's task), recording its offsets at checkpoints into `offsets`. */
  forPartitions(partitions: readonly number[], offsets?: TaskOffsets): KafkaSource<T> {
    return new KafkaSource<T>(this.schema, { ...this.config, only: new Set(partitions), ...(offsets === undefined ? {} : { taskOffsets: offsets }) });
  }

  open(ctx: SourceContext): SourceReader {
    return new KafkaReader(this.config, this.schema, ctx);
  }
}

interface Split {
  readonly topic: string;
  readonly partition: number;
  /** Where the next fetch starts. */
  fetchAt: bigint;
  /** Past the last batch handed out (what a checkpoint records). */
  emitted: bigint;
  /** Bounded: the first offset not to read. */
  stop: bigint | null;
  decoder: PartitionDecoder;
}

/** A source subtask's position: each of its partitions' next offset (and stop), its dead letters. */
interface KafkaPosition {
  readonly splits: readonly { readonly topic: string; readonly partition: number; readonly next: string; readonly stop: string | null }[];
  readonly deadLetters: DeadLetterPosition | null;
}

const key = (topic: string, partition: number): string => `${topic}:${partition}`;

/** The snapshot of a job's final state (taken without a checkpoint id). */
const FINAL = -1;

class KafkaReader implements SourceReader {
  private consumer: Consumer | null = null;
  /** Connections of the raw fetches (the consumer's own are for metadata, offsets and commits). */
  private pool: ConnectionPool | null = null;
  private ready: Promise<void> | null = null;
  private readonly splitsByKey = new Map<string, Split>();
  private restored: KafkaPosition | null = null;
  /**
   * Fetched, not yet handed out: records from..to of a fetch's record set, decoded when handed
   * out (so the next fetch is on its way while these decode); a batch's rejected records go to
   * the dead-letter file then too (so checkpoints cover both alike).
   */
  private readonly queue: { split: Split; set: KafkaRecordSet | null; from: number; to: number; next: bigint }[] = [];
  private current = '';
  private readonly dead: DeadLetterFile | null;
  private readonly who: string;
  private readonly subtask: number;
  private readonly parallelism: number;
  private lastDiscovery = 0;
  private idleMs = 0;
  /** Offsets of the checkpoints taken and not yet complete, to commit to the group. */
  private readonly snapshots = new Map<number, KafkaPosition['splits']>();

  constructor(
    private readonly config: SourceConfig,
    private readonly schema: Schema,
    private readonly ctx: SourceContext,
  ) {
    this.subtask = ctx.subtask ?? 0;
    this.dead = config.deadLetterPath === null ? null : new DeadLetterFile(config.deadLetterPath, this.subtask);
    this.parallelism = ctx.parallelism ?? 1;
    this.who = `Kafka source (${config.topics?.map((t) => `'${t}'`).join(', ') ?? `topics matching /${config.pattern!.source}/`})`;
  }

  private async start(): Promise<void> {
    const kafka = await loadKafka();
    const c = this.config;
    this.consumer = new kafka.Consumer({
      clientId: `${c.clientId}-source-${this.subtask}`,
      groupId: c.groupId ?? `sluice-${randomUUID()}`,
      bootstrapBrokers: [...c.bootstrap],
      ...connectionOptions(c.security),
      isolationLevel: c.isolation === 'read_committed' ? kafka.FetchIsolationLevels.READ_COMMITTED : kafka.FetchIsolationLevels.READ_UNCOMMITTED,
      retries: 3,
      timeout: 10_000,
    });
    // The raw fetches' connections authenticate as the client's own do.
    this.pool = new kafka.ConnectionPool(`${c.clientId}-source-${this.subtask}`, { connectTimeout: 10_000, ...connectionOptions(c.security) });
    await this.discover(true);
  }

  /** The topics to read now: the named ones (each must exist), or those matching the pattern. */
  private async topicsNow(first: boolean): Promise<Map<string, number>> {
    const consumer = this.consumer!;
    const c = this.config;
    let names: string[];
    if (c.topics !== null) names = [...c.topics];
    else {
      const meta = await this.call('listing topics', () => consumer.metadata({ topics: [], forceUpdate: true }));
      names = [...meta.topics.keys()].filter((t) => fullMatch(c.pattern!, t)).sort();
      if (names.length === 0 && first) return new Map();
    }
    const out = new Map<string, number>();
    if (names.length === 0) return out;
    let meta;
    try {
      meta = await consumer.metadata({ topics: names, forceUpdate: true, autocreateTopics: false });
    } catch (e) {
      const missing = /UNKNOWN_TOPIC|Unknown topic/i.test(String((e as Error)?.message) + JSON.stringify((e as { errors?: unknown })?.errors ?? '', (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
      if (missing) throw new Error(`${this.who}: topic ${names.map((t) => `'${t}'`).join(' or ')} does not exist on ${c.bootstrap.join(',')}; create it first (or check the name)`, { cause: e });
      throw kafkaError(this.who, c.bootstrap, 'reading topic metadata', e, c.security);
    }
    for (const t of names) {
      const m = meta.topics.get(t);
      if (m === undefined) throw new Error(`${this.who}: topic '${t}' does not exist on ${c.bootstrap.join(',')}; create it first (or check the name)`);
      out.set(t, m.partitionsCount);
    }
    return out;
  }

  /** Adds this subtask's partitions not yet read: at the start (or restore), and later new ones. */
  private async discover(first: boolean): Promise<void> {
    this.lastDiscovery = performance.now();
    const topics = await this.topicsNow(first);
    const fresh: { topic: string; partition: number }[] = [];
    for (const [topic, count] of topics) {
      for (let p = 0; p < count; p++) {
        if (this.config.only !== null && !this.config.only.has(p)) continue;
        if (ownerOf(topic, p, this.parallelism) === this.subtask && !this.splitsByKey.has(key(topic, p))) fresh.push({ topic, partition: p });
      }
    }
    if (fresh.length === 0) return;
    const restored = new Map((this.restored?.splits ?? []).map((s) => [key(s.topic, s.partition), s]));
    const c = this.config;
    // Partitions found after the start (or not in the restored checkpoint) are read from the beginning, as in Flink.
    const startSpec = first && this.restored === null ? c.starting : OffsetsInitializer.earliest();
    const unrestored = fresh.filter((f) => !restored.has(key(f.topic, f.partition)));
    const starts = await this.resolve(unrestored, startSpec, 'starting');
    const stops = c.stopping === null ? null : await this.resolve(unrestored, c.stopping, 'stopping');
    for (const f of fresh) {
      const k = key(f.topic, f.partition);
      const r = restored.get(k);
      const at = r !== undefined ? BigInt(r.next) : starts.get(k)!;
      const stop = r !== undefined ? (r.stop === null ? null : BigInt(r.stop)) : (stops?.get(k) ?? null);
      const decoder = this.decoderFor(f.topic, f.partition);
      this.splitsByKey.set(k, { topic: f.topic, partition: f.partition, fetchAt: at, emitted: at, stop, decoder });
    }
  }

  private decoderFor(topic: string, partition: number): PartitionDecoder {
    const f = this.config.format;
    const where = `Kafka topic '${topic}', partition ${partition}`;
    const engine = this.ctx.engine;
    const dec = f.kind === 'json' ? engine.createJsonlDecoder(f.schema, where) : f.kind === 'csv' ? engine.createCsvDecoder(f.schema, where, { delimiter: f.delimiter, header: false }) : null;
    return new PartitionDecoder(topic, partition, f, this.schema, this.config.extras, dec);
  }

  /** Offsets of `parts` by an initializer. */
  private async resolve(parts: readonly { topic: string; partition: number }[], spec: OffsetsSpec, what: string): Promise<Map<string, bigint>> {
    const out = new Map<string, bigint>();
    if (parts.length === 0) return out;
    const consumer = this.consumer!;
    const topics = [...new Set(parts.map((p) => p.topic))];
    const partitions: Record<string, number[]> = {};
    for (const p of parts) (partitions[p.topic] ??= []).push(p.partition);
    const kafka = await loadKafka();
    const isolationLevel = this.config.isolation === 'read_committed' ? kafka.FetchIsolationLevels.READ_COMMITTED : kafka.FetchIsolationLevels.READ_UNCOMMITTED;
    const list = async (timestamp: bigint): Promise<Map<string, bigint>> => {
      const r = await this.call(`listing ${what} offsets`, () => consumer.listOffsets({ topics, partitions, timestamp, isolationLevel }));
      const m = new Map<string, bigint>();
      for (const p of parts) m.set(key(p.topic, p.partition), r.get(p.topic)![p.partition]!);
      return m;
    };
    const reset = async (r: 'earliest' | 'latest' | 'fail', missing: { topic: string; partition: number }[]): Promise<void> => {
      if (missing.length === 0) return;
      if (r === 'fail') {
        throw new Error(`${this.who}: no ${spec.kind === 'committed' ? `committed offset in group '${this.config.groupId}'` : 'offset given'} for ${missing.map((m) => key(m.topic, m.partition)).join(', ')}; commit one, or start with committedOffsets('earliest') / ('latest')`);
      }
      const ends = await list(r === 'earliest' ? -2n : -1n);
      for (const m of missing) out.set(key(m.topic, m.partition), ends.get(key(m.topic, m.partition))!);
    };
    switch (spec.kind) {
      case 'earliest':
        return list(-2n);
      case 'latest':
        return list(-1n);
      case 'timestamp': {
        const r = await this.call(`listing ${what} offsets by time`, () => consumer.listOffsetsWithTimestamps({ topics, partitions, timestamp: BigInt(spec.ms), isolationLevel }));
        const none: { topic: string; partition: number }[] = [];
        for (const p of parts) {
          const o = r.get(p.topic)?.get(p.partition)?.offset ?? -1n;
          if (o < 0n) none.push(p);
          else out.set(key(p.topic, p.partition), o);
        }
        await reset('latest', none); // nothing at or after the time: the end
        return out;
      }
      case 'committed': {
        const r = await this.call('reading committed offsets', () => consumer.listCommittedOffsets({ topics: topics.map((t) => ({ topic: t, partitions: partitions[t]! })) }));
        const none: { topic: string; partition: number }[] = [];
        for (const p of parts) {
          const o = r.get(p.topic)?.[p.partition] ?? -1n;
          if (o < 0n) none.push(p);
          else out.set(key(p.topic, p.partition), o);
        }
        await reset(spec.reset, none);
        return out;
      }
      case 'offsets': {
        const none: { topic: string; partition: number }[] = [];
        for (const p of parts) {
          const o = spec.offsets.get(key(p.topic, p.partition));
          if (o === undefined) none.push(p);
          else out.set(key(p.topic, p.partition), o);
        }
        await reset(spec.reset, none);
        return out;
      }
    }
  }

  private async call<R>(doing: string, f: () => Promise<R>): Promise<R> {
    try {
      return await f();
    } catch (e) {
      throw kafkaError(this.who, this.config.bootstrap, doing, e, this.config.security);
    }
  }

  private active(): Split[] {
    return [...this.splitsByKey.values()].filter((s) => s.stop === null || s.emitted < s.stop);
  }

  async next(): Promise<RecordBatch | null> {
    this.ready ??= this.start();
    await this.ready;
    for (;;) {
      const item = this.queue.shift();
      if (item !== undefined) {
        // The next fetch goes out while the batches of this one decode, so the broker reads and
        // sends while this thread works (one fetch in flight, at most about two fetches' records
        // held: memory stays bounded).
        if (this.queue.length <= 8 && this.inflight === null) this.prefetch();
        if (item.set === null) {
          item.split.emitted = item.next;
          continue;
        }
        const { batch, bad } = item.split.decoder.decode(item.set, item.from, item.to);
        if (bad.length > 0 && this.dead === null) throw new EngineError('data', bad[0]!.message);
        item.split.emitted = item.next;
        for (const b of bad) this.dead!.writeEntry({ topic: item.split.topic, partition: item.split.partition, offset: Number(b.offset), error: b.message, raw: b.raw });
        if (batch.length === 0) continue;
        this.current = key(item.split.topic, item.split.partition);
        return batch;
      }
      const c = this.config;
      const t0 = performance.now();
      let got: boolean;
      if (this.inflight !== null) {
        const f = this.inflight;
        this.inflight = null;
        got = await f;
      } else {
        if (c.discoveryMs !== null && performance.now() - this.lastDiscovery >= c.discoveryMs) await this.discover(false);
        const toFetch = this.toFetch();
        if (toFetch.length === 0) {
          // Bounded and every partition has reached its stop (an unbounded source with no partition yet waits for discovery).
          if (c.stopping !== null) return null;
          await new Promise((r) => setTimeout(r, c.pollMs));
          this.idleMs += c.pollMs;
          return new BatchBuilder(this.schema, 0).finish();
        }
        got = await this.fetch(toFetch);
      }
      if (!got && this.queue.length === 0) {
        this.idleMs += performance.now() - t0;
        return new BatchBuilder(this.schema, 0).finish();
      }
    }
  }

  /** A fetch round started before the queue runs dry; awaited (errors included) by next() or close(). */
  private inflight: Promise<boolean> | null = null;

  private toFetch(): Split[] {
    return [...this.splitsByKey.values()].filter((s) => s.stop === null || s.fetchAt < s.stop);
  }

  private prefetch(): void {
    if (this.toFetch().length === 0) return;
    const f = (async () => {
      const c = this.config;
      // New partitions are looked for here too: under steady load a fetch is always in flight.
      if (c.discoveryMs !== null && performance.now() - this.lastDiscovery >= c.discoveryMs) await this.discover(false);
      const toFetch = this.toFetch();
      return toFetch.length > 0 && (await this.fetch(toFetch));
    })();
    f.catch(() => undefined); // seen when awaited
    this.inflight = f;
  }

  /** One fetch round over `splits`, grouped by leader; queues a batch per partition. False when nothing came back. */
  private async fetch(splits: readonly Split[]): Promise<boolean> {
    const consumer = this.consumer!;
    const c = this.config;
    const topics = [...new Set(splits.map((s) => s.topic))];
    const meta = await this.call('reading topic metadata', () => consumer.metadata({ topics }));
    const byLeader = new Map<number, Map<string, { topicId: string; partitions: RawFetchTopic['partitions'][number][] }>>();
    const topicOfId = new Map<string, string>();
    for (const s of splits) {
      const tm = meta.topics.get(s.topic)!;
      const pm = tm.partitions[s.partition]!;
      topicOfId.set(tm.id, s.topic);
      let req = byLeader.get(pm.leader);
      if (req === undefined) byLeader.set(pm.leader, (req = new Map()));
      let t = req.get(s.topic);
      if (t === undefined) req.set(s.topic, (t = { topicId: tm.id, partitions: [] }));
      t.partitions.push({ partition: s.partition, currentLeaderEpoch: pm.leaderEpoch, fetchOffset: s.fetchAt, lastFetchedEpoch: -1, partitionMaxBytes: c.maxBytesPerPartition });
    }
    const kafka = await loadKafka();
    const isolationLevel = c.isolation === 'read_committed' ? kafka.FetchIsolationLevels.READ_COMMITTED : kafka.FetchIsolationLevels.READ_UNCOMMITTED;
    const responses = await Promise.all(
      [...byLeader].map(([node, req]) => {
        const broker = meta.brokers.get(node);
        if (broker === undefined) throw new Error(`${this.who}: the leader (node ${node}) is not among the brokers the cluster listed; the cluster is changing, restart the job`);
        return this.call('fetching records', () => this.fetchWithRetries(broker, { maxWaitMs: c.pollMs, maxBytes: 32 << 20, isolationLevel, topics: [...req.values()] }));
      }),
    );
    const engine = this.ctx.engine;
    let any = false;
    for (const r of responses) {
      for (const t of r.responses) {
        const topic = topicOfId.get(t.topicId)!;
        for (const p of t.partitions) {
          const split = this.splitsByKey.get(key(topic, p.partitionIndex))!;
          if (p.errorCode !== 0) throw new Error(`${this.who}: fetching topic '${topic}', partition ${p.partitionIndex} at offset ${split.fetchAt} failed with Kafka error code ${p.errorCode}`);
          if (p.records === null) continue;
          const aborted = c.isolation === 'read_committed' ? p.abortedTransactions : [];
          const wanted = split.decoder.wanted;
          // The record batches are read by the engine (in Rust on the native engine): no object per record.
          let set: KafkaRecordSet;
          try {
            set = engine.takeKafkaRecords(p.records, aborted, split.fetchAt, split.stop, split.decoder.wanted);
          } catch (e) {
            throw new EngineError('data', `${this.who}: topic '${topic}', partition ${p.partitionIndex}, fetched at offset ${split.fetchAt}: ${(e as Error).message}`);
          }
          const next = set.next;
          if (next === split.fetchAt) continue;
          split.fetchAt = next;
          any = true;
          const n = set.offsets.length;
          if (n === 0) this.queue.push({ split, set: null, from: 0, to: 0, next });
          // Batches of at most batchSize rows: barriers (checkpoints) fall between batches, so a
          // large fetch must not make one batch that holds a checkpoint back.
          const size = this.ctx.batchSize;
          for (let from = 0; from < n; from += size) {
            const to = Math.min(n, from + size);
            this.queue.push({ split, set, from, to, next: to === n ? next : set.offsets[to - 1]! + 1n });
          }
        }
      }
    }
    return any;
  }

  /**
   * A fetch, tried again every second while the broker cannot be reached, for up to 60 s
   * (Kafka's default.api.timeout.ms): the Java consumer rides through a broker restart the
   * same way, and the job fails (to restart from its checkpoint) only after that.
   */
  private async fetchWithRetries(broker: { readonly host: string; readonly port: number }, request: Parameters<typeof rawFetch>[2]): Promise<RawFetchResponse> {
    const t0 = performance.now();
    for (;;) {
      try {
        return await rawFetch(this.pool!, broker, request);
      } catch (e) {
        // A refused login or certificate does not get better by waiting.
        if (this.pool === null || performance.now() - t0 > 60_000 || isAuthenticationError(e)) throw e;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  splits(): { current: string; active: readonly string[] } {
    return { current: this.current, active: this.active().map((s) => key(s.topic, s.partition)) };
  }

  checkpoint(checkpointId?: number): KafkaPosition {
    // Before the first batch (a checkpoint right at the start) the restored position still holds.
    const splits =
      this.splitsByKey.size === 0 && this.restored !== null
        ? this.restored.splits
        : [...this.splitsByKey.values()].map((s) => ({ topic: s.topic, partition: s.partition, next: String(s.emitted), stop: s.stop === null ? null : String(s.stop) }));
    if (this.config.commitOffsets) this.snapshots.set(checkpointId ?? FINAL, splits);
    this.config.taskOffsets?.record(checkpointId, splits);
    return { splits, deadLetters: this.dead?.position() ?? null };
  }

  restore(position: unknown): void {
    const p = position as KafkaPosition;
    this.restored = p;
    if (p.deadLetters !== null) this.dead?.restore(p.deadLetters);
  }

  /** At another parallelism: every old subtask's partitions, of which this subtask continues those it owns now. */
  restoreRescaled(positions: readonly unknown[]): void {
    const ps = positions as readonly (KafkaPosition | null)[];
    const splits = ps.flatMap((p) => p?.splits ?? []).filter((s) => ownerOf(s.topic, s.partition, this.parallelism) === this.subtask);
    this.restored = { splits, deadLetters: null };
    this.dead?.restoreRescaled(ps.map((p) => p?.deadLetters ?? null), this.parallelism);
  }

  async checkpointComplete(checkpointId: number): Promise<void> {
    // The job's final state is taken without a checkpoint id (FINAL); its checkpoint completes after the source closed.
    const splits = this.snapshots.get(checkpointId) ?? this.snapshots.get(FINAL);
    for (const id of [...this.snapshots.keys()]) if (id <= checkpointId) this.snapshots.delete(id);
    if (splits === undefined || splits.length === 0) return;
    const kafka = await loadKafka();
    // The final checkpoint's commit runs after the source closed, on a consumer of its own: it
    // retries as the source's does (a group's coordinator may still be loading on the first try).
    const consumer = this.consumer ?? new kafka.Consumer({ clientId: `${this.config.clientId}-source-${this.subtask}`, groupId: this.config.groupId!, bootstrapBrokers: [...this.config.bootstrap], ...connectionOptions(this.config.security), retries: 3 });
    // Not a member of the group (Sluice assigns partitions): commit as a simple consumer does.
    consumer.generationId = -1;
    consumer.memberId = '';
    try {
      await consumer.commit({ offsets: splits.map((s) => ({ topic: s.topic, partition: s.partition, offset: BigInt(s.next), leaderEpoch: -1 })) });
    } catch {
      // Monitoring only (recovery uses the checkpoint): a failed commit is counted, not fatal.
      this.commitFailures++;
    } finally {
      if (consumer !== this.consumer) await new Promise<void>((resolve) => consumer.close(true, () => resolve()));
    }
  }

  private commitFailures = 0;

  metrics(): Record<string, number> {
    return { deadLetters: this.dead?.count ?? 0, idleMs: this.idleMs, offsetCommitFailures: this.commitFailures };
  }

  async close(): Promise<void> {
    // Closed first: a fetch still retrying stops at its next attempt.
    const pool = this.pool;
    this.pool = null;
    await this.inflight?.catch(() => undefined);
    this.inflight = null;
    this.dead?.close();
    const consumer = this.consumer;
    this.consumer = null;
    if (pool !== null) await pool.close().catch(() => undefined);
    if (consumer !== null) await new Promise<void>((resolve) => consumer.close(true, () => resolve()));
  }
}

function fullMatch(re: RegExp, s: string): boolean {
  const m = new RegExp(`^(?:${re.source})$`, re.flags.replace('g', '')).exec(s);
  return m !== null;
}
