/**
 * CREATE TABLE ... WITH ('connector' = 'kafka', ...): Flink's Kafka SQL connector options on
 * the DataStream API's KafkaSource and KafkaSink. The table's columns are the record values'
 * fields (format 'json' or 'csv'). Scan: topic (or topic-pattern), properties.bootstrap.servers,
 * properties.group.id, scan.startup.mode (earliest-offset, latest-offset, group-offsets,
 * timestamp, specific-offsets), scan.bounded.mode (the same, or unbounded: the default; a
 * bounded table ends where the mode says, as Flink's), properties.isolation.level. Sink:
 * sink.delivery-guarantee (none, at-least-once, exactly-once with sink.transactional-id-prefix
 * and checkpoints), sink.partitioner (round-robin, or by key.fields with the default).
 * Security: properties.security.protocol, properties.sasl.mechanism, properties.sasl.jaas.config
 * and properties.ssl.* (TLS and SASL, as the Java client's properties; connectors/kafka/security.ts).
 */

import { Schema, type SchemaSpec } from '../batch/schema.js';
import type { Sink, Source } from '../api/connector.js';
import { KafkaSink, type DeliveryGuarantee } from '../connectors/kafka/sink.js';
import { KafkaSource, type IsolationLevel } from '../connectors/kafka/source.js';
import { OffsetsInitializer, type OffsetReset, type OffsetsSpec } from '../connectors/kafka/offsets.js';
import { parseSecurity, SECURITY_PROPERTIES } from '../connectors/kafka/security.js';
import { fail, type SqlNode } from './parser.js';
import type { UpsertSourceConfig } from './upsert-kafka-source.js';

/** What this module needs of a table definition (connectors.ts's TableDef). */
interface KafkaTableDef {
  readonly name: string;
  readonly columns: readonly { readonly name: string; readonly nullable: boolean; readonly type: string }[];
  readonly options: ReadonlyMap<string, { readonly value: string; readonly node: SqlNode; readonly key: SqlNode }>;
  readonly node: SqlNode;
  readonly primaryKey: { readonly columns: readonly string[]; readonly node: SqlNode } | null;
}

export const KAFKA_OPTIONS: readonly string[] = [
  'connector',
  'topic',
  'topic-pattern',
  'properties.bootstrap.servers',
  'properties.group.id',
  'properties.client.id',
  'properties.isolation.level',
  'properties.auto.offset.reset',
  'format',
  'value.format',
  'csv.field-delimiter',
  'scan.startup.mode',
  'scan.startup.timestamp-millis',
  'scan.startup.specific-offsets',
  'scan.bounded.mode',
  'scan.bounded.timestamp-millis',
  'scan.bounded.specific-offsets',
  'scan.topic-partition-discovery.interval',
  'sink.delivery-guarantee',
  'sink.transactional-id-prefix',
  'sink.partitioner',
  'key.fields',
  ...SECURITY_PROPERTIES.map((p) => `properties.${p}`),
];

/** The table's TLS/SASL client properties, without the `properties.` prefix. */
function securityProperties(def: KafkaTableDef): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of SECURITY_PROPERTIES) {
    const v = opt(def, `properties.${p}`);
    if (v !== undefined) out[p] = v;
  }
  return out;
}

const MODES = ['earliest-offset', 'latest-offset', 'group-offsets', 'timestamp', 'specific-offsets'];

function opt(def: KafkaTableDef, key: string): string | undefined {
  return def.options.get(key)?.value;
}

function at(def: KafkaTableDef, key: string): SqlNode {
  return def.options.get(key)?.node ?? def.node;
}

/** 'partition:0,offset:42;partition:1,offset:300' (Flink's form) for each topic. */
function specificOffsets(def: KafkaTableDef, key: string, topics: readonly string[]): Record<string, number> {
  const text = opt(def, key);
  if (text === undefined) fail(def.node, `'${key}' is needed with the mode 'specific-offsets', e.g. 'partition:0,offset:42;partition:1,offset:300'`);
  const out: Record<string, number> = {};
  for (const part of text.split(';').filter((p) => p.trim() !== '')) {
    const m = /^\s*partition\s*:\s*(\d+)\s*,\s*offset\s*:\s*(\d+)\s*$/.exec(part);
    if (m === null) fail(at(def, key), `'${key}': '${part}' is not 'partition:<n>,offset:<n>'`);
    for (const t of topics) out[`${t}:${m[1]}`] = Number(m[2]);
  }
  return out;
}

function offsetsOf(def: KafkaTableDef, prefix: 'scan.startup' | 'scan.bounded', mode: string, topics: readonly string[] | null): OffsetsSpec {
  const reset = (opt(def, 'properties.auto.offset.reset') ?? (prefix === 'scan.startup' ? 'earliest' : 'latest')) as OffsetReset;
  switch (mode) {
    case 'earliest-offset':
      return OffsetsInitializer.earliest();
    case 'latest-offset':
      return OffsetsInitializer.latest();
    case 'group-offsets':
      return OffsetsInitializer.committedOffsets(reset);
    case 'timestamp': {
      const k = `${prefix}.timestamp-millis`;
      const v = opt(def, k);
      if (v === undefined || !/^\d+$/.test(v)) fail(v === undefined ? at(def, `${prefix}.mode`) : at(def, k), `the mode 'timestamp' needs '${k}' = '<ms since the epoch>'`);
      return OffsetsInitializer.timestamp(Number(v));
    }
    case 'specific-offsets':
      if (topics === null) fail(at(def, `${prefix}.mode`), "'specific-offsets' needs 'topic' (not 'topic-pattern')");
      return OffsetsInitializer.offsets(specificOffsets(def, `${prefix}.specific-offsets`, topics), reset);
    default:
      fail(at(def, `${prefix}.mode`), `'${prefix}.mode' = '${mode}' is not one of ${(prefix === 'scan.bounded' ? ['unbounded', ...MODES] : MODES).join(', ')}`);
  }
}

function topicsOf(def: KafkaTableDef): string[] | null {
  const t = opt(def, 'topic');
  return t === undefined ? null : t.split(';').map((x) => x.trim()).filter((x) => x !== '');
}

function formatOf(def: KafkaTableDef): 'json' | 'csv' {
  const key = def.options.has('value.format') ? 'value.format' : 'format';
  const f = opt(def, key);
  if (f !== 'json' && f !== 'csv') fail(f === undefined ? def.node : at(def, key), `the kafka connector needs 'format' = 'json' or 'csv'${f === undefined ? '' : `, got '${f}'`}`);
  return f;
}

/** Checks the options when the table is created (without connecting). */
export function checkKafkaTable(def: KafkaTableDef): void {
  if (opt(def, 'properties.bootstrap.servers') === undefined) fail(def.node, `CREATE TABLE ${def.name}: the kafka connector needs 'properties.bootstrap.servers' = 'host:port'`);
  const topics = topicsOf(def);
  if ((topics === null) === (opt(def, 'topic-pattern') === undefined)) fail(def.node, `CREATE TABLE ${def.name}: give the kafka connector one of 'topic' = 'name' or 'topic-pattern' = 'regex'`);
  formatOf(def);
  const reset = opt(def, 'properties.auto.offset.reset');
  if (reset !== undefined && !['earliest', 'latest', 'fail'].includes(reset)) fail(at(def, 'properties.auto.offset.reset'), `'properties.auto.offset.reset' is 'earliest', 'latest' or 'fail', got '${reset}'`);
  offsetsOf(def, 'scan.startup', opt(def, 'scan.startup.mode') ?? 'group-offsets', topics);
  const bounded = opt(def, 'scan.bounded.mode');
  if (bounded !== undefined && bounded !== 'unbounded') offsetsOf(def, 'scan.bounded', bounded, topics);
  const iso = opt(def, 'properties.isolation.level');
  if (iso !== undefined && iso !== 'read_committed' && iso !== 'read_uncommitted') fail(at(def, 'properties.isolation.level'), `'properties.isolation.level' is 'read_committed' or 'read_uncommitted', got '${iso}'`);
  const g = opt(def, 'sink.delivery-guarantee');
  if (g !== undefined && !['none', 'at-least-once', 'exactly-once'].includes(g)) fail(at(def, 'sink.delivery-guarantee'), `'sink.delivery-guarantee' is 'none', 'at-least-once' or 'exactly-once', got '${g}'`);
  if (g === 'exactly-once' && opt(def, 'sink.transactional-id-prefix') === undefined) fail(at(def, 'sink.delivery-guarantee'), "'exactly-once' needs 'sink.transactional-id-prefix' = '<unique to this job>' (and checkpoints)");
  const p = opt(def, 'sink.partitioner');
  if (p !== undefined && p !== 'default' && p !== 'round-robin') fail(at(def, 'sink.partitioner'), `'sink.partitioner' is 'default' (by key.fields, else round-robin) or 'round-robin', got '${p}'`);
  for (const k of keyFields(def)) if (!def.columns.some((c) => c.name === k)) fail(at(def, 'key.fields'), `'key.fields': no column '${k}'; the columns are: ${def.columns.map((c) => c.name).join(', ')}`);
  const d = opt(def, 'csv.field-delimiter');
  if (d !== undefined && d.length !== 1) fail(at(def, 'csv.field-delimiter'), `'csv.field-delimiter' is one character, got '${d}'`);
  const security = securityProperties(def);
  if (Object.keys(security).length > 0) {
    try {
      parseSecurity(new Map(Object.entries(security)), `CREATE TABLE ${def.name}`);
    } catch (e) {
      const named = Object.keys(security).find((k) => (e as Error).message.includes(`'${k}'`));
      fail(named === undefined ? def.node : at(def, `properties.${named}`), (e as Error).message.replace(/'((?:security|sasl|ssl)\.[\w.]+)'/g, "'properties.$1'"));
    }
  }
}

function keyFields(def: KafkaTableDef): string[] {
  const k = opt(def, 'key.fields');
  return k === undefined ? [] : k.split(';').map((x) => x.trim()).filter((x) => x !== '');
}

/** The table's source: its columns from the values (json or csv). */
export function kafkaSource(def: KafkaTableDef, spec: SchemaSpec): Source<Record<string, unknown>> {
  // Checked when the table is read (a table only written to needs no start).
  if ((opt(def, 'scan.startup.mode') ?? 'group-offsets') === 'group-offsets' && opt(def, 'properties.group.id') === undefined) {
    fail(at(def, 'scan.startup.mode'), `reading ${def.name} from 'group-offsets' (Flink's default 'scan.startup.mode') needs 'properties.group.id'; or set 'scan.startup.mode' = 'earliest-offset'`);
  }
  const topics = topicsOf(def);
  let b = KafkaSource.builder().setBootstrapServers(opt(def, 'properties.bootstrap.servers')!);
  b = topics !== null ? b.setTopics(...topics) : b.setTopicPattern(new RegExp(opt(def, 'topic-pattern')!));
  const group = opt(def, 'properties.group.id');
  if (group !== undefined) b.setGroupId(group);
  const client = opt(def, 'properties.client.id');
  if (client !== undefined) b.setClientId(client);
  b.setProperties(securityProperties(def));
  const iso = opt(def, 'properties.isolation.level');
  if (iso !== undefined) b.setIsolationLevel(iso as IsolationLevel);
  b.setStartingOffsets(offsetsOf(def, 'scan.startup', opt(def, 'scan.startup.mode') ?? 'group-offsets', topics));
  const bounded = opt(def, 'scan.bounded.mode');
  if (bounded !== undefined && bounded !== 'unbounded') b.setBounded(offsetsOf(def, 'scan.bounded', bounded, topics));
  const discovery = opt(def, 'scan.topic-partition-discovery.interval');
  if (discovery !== undefined) {
    const ms = /^\d+$/.test(discovery) ? Number(discovery) : NaN;
    if (!(ms > 0)) fail(at(def, 'scan.topic-partition-discovery.interval'), `'scan.topic-partition-discovery.interval' is a number of ms above 0, got '${discovery}'`);
    b.setPartitionDiscoveryInterval(ms);
  }
  const delimiter = opt(def, 'csv.field-delimiter');
  const built = formatOf(def) === 'json' ? b.setJsonValue(spec).build() : b.setCsvValue(spec, delimiter === undefined ? {} : { delimiter }).build();
  if (!built.schema.equals(Schema.from(spec))) fail(def.node, `the kafka table ${def.name}'s columns differ from what its source reads: ${String(built.schema)}`);
  return built as unknown as Source<Record<string, unknown>>;
}

/** The table's sink: rows as json or csv values. */
export function kafkaSink(def: KafkaTableDef): Sink {
  const topics = topicsOf(def);
  if (topics === null || topics.length !== 1) fail(def.node, `INSERT INTO ${def.name}: a kafka sink table writes one 'topic' (not a list or a pattern)`);
  const d = opt(def, 'csv.field-delimiter');
  if (d !== undefined && d !== ',') fail(at(def, 'csv.field-delimiter'), `INSERT INTO ${def.name}: the kafka sink writes CSV with ',' only; drop 'csv.field-delimiter' or use 'format' = 'json'`);
  const b = KafkaSink.builder().setBootstrapServers(opt(def, 'properties.bootstrap.servers')!).setTopic(topics[0]!).setValueFormat(formatOf(def));
  const keys = keyFields(def);
  if (keys.length > 0) b.setKeyFields(...keys);
  if (opt(def, 'sink.partitioner') === 'round-robin') b.setPartitioner('round-robin');
  const g = opt(def, 'sink.delivery-guarantee');
  if (g !== undefined) b.setDeliveryGuarantee(g as DeliveryGuarantee);
  const prefix = opt(def, 'sink.transactional-id-prefix');
  if (prefix !== undefined) b.setTransactionalIdPrefix(prefix);
  const client = opt(def, 'properties.client.id');
  if (client !== undefined) b.setClientId(client);
  b.setProperties(securityProperties(def));
  return b.build();
}

/** Flink's 'upsert-kafka' options Sluice has. */
export const UPSERT_KAFKA_OPTIONS: readonly string[] = [
  'connector',
  'topic',
  'properties.bootstrap.servers',
  'properties.client.id',
  'properties.group.id',
  'properties.isolation.level',
  'scan.bounded.mode',
  'scan.bounded.timestamp-millis',
  'scan.bounded.specific-offsets',
  ...SECURITY_PROPERTIES.map((p) => `properties.${p}`),
  'key.format',
  'value.format',
  'value.fields-include',
  'sink.delivery-guarantee',
  'sink.transactional-id-prefix',
];

/** Checks an 'upsert-kafka' table when it is created. */
export function checkUpsertKafkaTable(def: KafkaTableDef): void {
  if (def.primaryKey === null) {
    fail(
      def.node,
      `CREATE TABLE ${def.name}: 'upsert-kafka' tables require to define a PRIMARY KEY constraint. The PRIMARY KEY specifies which columns should be read from or write to the Kafka message key. The PRIMARY KEY also defines records in the 'upsert-kafka' table should update or delete on which keys. Add PRIMARY KEY (col, ...) NOT ENFORCED`,
    );
  }
  if (opt(def, 'properties.bootstrap.servers') === undefined) fail(def.node, `CREATE TABLE ${def.name}: the upsert-kafka connector needs 'properties.bootstrap.servers' = 'host:port'`);
  const topics = topicsOf(def);
  if (topics === null || topics.length !== 1) fail(def.options.get('topic')?.node ?? def.node, `CREATE TABLE ${def.name}: the upsert-kafka connector needs one 'topic' = 'name'`);
  for (const k of ['key.format', 'value.format']) {
    const f = opt(def, k);
    if (f === undefined) fail(def.node, `CREATE TABLE ${def.name}: the upsert-kafka connector needs '${k}' = 'json'`);
    if (f !== 'json') fail(at(def, k), `'${k}' = '${f}': Sluice's upsert-kafka writes 'json' only`);
  }
  const inc = opt(def, 'value.fields-include');
  if (inc !== undefined && inc !== 'ALL' && inc !== 'EXCEPT_KEY') fail(at(def, 'value.fields-include'), `'value.fields-include' is 'ALL' or 'EXCEPT_KEY', got '${inc}'`);
  const g = opt(def, 'sink.delivery-guarantee');
  if (g !== undefined && !['none', 'at-least-once', 'exactly-once'].includes(g)) fail(at(def, 'sink.delivery-guarantee'), `'sink.delivery-guarantee' is 'none', 'at-least-once' or 'exactly-once', got '${g}'`);
  if (g === 'exactly-once' && opt(def, 'sink.transactional-id-prefix') === undefined) fail(at(def, 'sink.delivery-guarantee'), "'exactly-once' needs 'sink.transactional-id-prefix' = '<unique to this job>' (and checkpoints)");
  const bounded = opt(def, 'scan.bounded.mode');
  if (bounded !== undefined && bounded !== 'unbounded') offsetsOf(def, 'scan.bounded', bounded, topics);
  const iso = opt(def, 'properties.isolation.level');
  if (iso !== undefined && iso !== 'read_committed' && iso !== 'read_uncommitted') fail(at(def, 'properties.isolation.level'), `'properties.isolation.level' is 'read_committed' or 'read_uncommitted', got '${iso}'`);
}

/** What reading an 'upsert-kafka' table needs (upsert-kafka-source.ts): from the earliest offset, as Flink's. */
export function upsertKafkaSourceConfig(def: KafkaTableDef): UpsertSourceConfig {
  const bounded = opt(def, 'scan.bounded.mode');
  return {
    table: def.name,
    topic: topicsOf(def)![0]!,
    bootstrap: opt(def, 'properties.bootstrap.servers')!,
    columns: def.columns,
    key: def.primaryKey!.columns,
    bounded: bounded === undefined || bounded === 'unbounded' ? null : offsetsOf(def, 'scan.bounded', bounded, topicsOf(def)),
    groupId: opt(def, 'properties.group.id'),
    clientId: opt(def, 'properties.client.id'),
    isolation: opt(def, 'properties.isolation.level') as UpsertSourceConfig['isolation'],
    security: securityProperties(def),
  };
}

/**
 * The 'upsert-kafka' table's sink: keyed by the primary key (a JSON object), an insert or
 * update-after the row as the value, a delete a tombstone, an update-before nothing; records of
 * a key go to the partition of the key's murmur2 hash (Kafka's default partitioner).
 */
export function upsertKafkaSink(def: KafkaTableDef): Sink {
  const b = KafkaSink.builder()
    .setBootstrapServers(opt(def, 'properties.bootstrap.servers')!)
    .setTopic(topicsOf(def)![0]!)
    .setValueFormat('json')
    .setKeyFields(...def.primaryKey!.columns)
    .setUpsert({ valueFieldsInclude: opt(def, 'value.fields-include') === 'EXCEPT_KEY' ? 'except-key' : 'all' });
  const g = opt(def, 'sink.delivery-guarantee');
  if (g !== undefined) b.setDeliveryGuarantee(g as DeliveryGuarantee);
  const prefix = opt(def, 'sink.transactional-id-prefix');
  if (prefix !== undefined) b.setTransactionalIdPrefix(prefix);
  const client = opt(def, 'properties.client.id');
  if (client !== undefined) b.setClientId(client);
  return b.build();
}
