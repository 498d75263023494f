// TLS and SASL against the real broker's SSL, SASL_PLAINTEXT and SASL_SSL listeners (started by
// test/kafka/global-setup.ts with a test CA made by openssl and PLAIN / SCRAM users): over each,
// an exactly-once KafkaSink writes and a read_committed KafkaSource reads the rows back (its raw
// fetches on the same authenticated connections), on both engines with identical output; the
// same through SQL's `properties.*` options; a wrong password, an untrusted broker certificate
// and bad properties fail with messages naming the mechanism, the broker and what to do.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { CollectSink, KafkaSink, KafkaSource, OffsetsInitializer, StreamEnvironment, TableEnvironment, type EngineName } from '../../ts/index.js';
import { onBothEngines } from '../engines.js';
import { createTopic, readCommitted, uid } from './helpers.js';

const bootstrap = inject('kafkaBootstrap');
const secure = inject('kafkaSecure');
const work = mkdtempSync(join(tmpdir(), 'sluice-kafka-sec-'));
const schema = { id: 'i64', name: 'utf8' } as const;
const rows = Array.from({ length: 120 }, (_, i) => ({ id: i, name: `name-${i % 7}` }));

const jaas = (mechanism: string, user: { username: string; password: string }): string =>
  `org.apache.kafka.common.security.${mechanism === 'PLAIN' ? 'plain.PlainLoginModule' : 'scram.ScramLoginModule'} required username="${user.username}" password="${user.password}";`;
const trust = { 'ssl.truststore.type': 'PEM', 'ssl.truststore.location': secure.caFile };

interface Case {
  readonly name: string;
  readonly bootstrap: string;
  readonly props: Record<string, string>;
}

const cases: Case[] = [
  { name: 'SSL', bootstrap: secure.ssl, props: { 'security.protocol': 'SSL', ...trust } },
  { name: 'SASL_PLAINTEXT with PLAIN', bootstrap: secure.saslPlaintext, props: { 'security.protocol': 'SASL_PLAINTEXT', 'sasl.mechanism': 'PLAIN', 'sasl.jaas.config': jaas('PLAIN', secure.users.plain) } },
  { name: 'SASL_PLAINTEXT with SCRAM-SHA-256', bootstrap: secure.saslPlaintext, props: { 'security.protocol': 'SASL_PLAINTEXT', 'sasl.mechanism': 'SCRAM-SHA-256', 'sasl.jaas.config': jaas('SCRAM-SHA-256', secure.users.scram) } },
  { name: 'SASL_SSL with SCRAM-SHA-512', bootstrap: secure.saslSsl, props: { 'security.protocol': 'SASL_SSL', 'sasl.mechanism': 'SCRAM-SHA-512', 'sasl.jaas.config': jaas('SCRAM-SHA-512', secure.users.scram), ...trust } },
  { name: 'SASL_SSL with PLAIN', bootstrap: secure.saslSsl, props: { 'security.protocol': 'SASL_SSL', 'sasl.mechanism': 'PLAIN', 'sasl.jaas.config': jaas('PLAIN', secure.users.plain), ...trust } },
];

async function roundTrip(engine: EngineName, c: Case, topic: string): Promise<Record<string, unknown>[]> {
  const env = StreamEnvironment.create({ engine, batchSize: 32 });
  env.enableCheckpointing(50, { dir: join(work, `chk-${uid()}`) });
  env.fromRecords(rows, schema).sinkTo(KafkaSink.builder().setBootstrapServers(c.bootstrap).setProperties(c.props).setTopic(topic).setKeyFields('name').setDeliveryGuarantee('exactly-once').setTransactionalIdPrefix(`tx-${topic}`).build());
  await env.execute();
  const read = StreamEnvironment.create({ engine, batchSize: 32 });
  const sink = new CollectSink();
  read.fromSource(KafkaSource.builder().setBootstrapServers(c.bootstrap).setProperties(c.props).setTopics(topic).setBounded(OffsetsInitializer.latest()).setJsonValue(schema).build()).sinkTo(sink);
  await read.execute();
  return (sink.records as Record<string, unknown>[]).sort((a, b) => (a.id as number) - (b.id as number));
}

describe('Kafka over TLS and SASL', () => {
  it.each(cases)('$name: an exactly-once sink writes and a read_committed source reads every row once, on both engines', async (c) => {
    const out = await onBothEngines(async (engine) => {
      const topic = `sec-${c.name.replace(/\W+/g, '-')}-${engine}-${uid()}`;
      await createTopic(bootstrap, topic, 2);
      const got = await roundTrip(engine, c, topic);
      // Read back over the plain listener too, independently of the source: committed, once.
      expect((await readCommitted(bootstrap, topic, true)).map((r) => JSON.parse(r.value) as unknown).sort((a, b) => (a as { id: number }).id - (b as { id: number }).id)).toEqual(rows);
      return got;
    });
    expect(out.native).toEqual(rows);
  });

  it('SQL: properties.security.protocol, properties.sasl.* and properties.ssl.* reach the source and the sink', async () => {
    const [src, dst] = [`sec-sql-in-${uid()}`, `sec-sql-out-${uid()}`];
    await createTopic(bootstrap, src, 1);
    await createTopic(bootstrap, dst, 1);
    const c = cases[3]!;
    const env = StreamEnvironment.create({ engine: 'native' });
    env.enableCheckpointing(50, { dir: join(work, `chk-${uid()}`) });
    env.fromRecords(rows, schema).sinkTo(KafkaSink.builder().setBootstrapServers(c.bootstrap).setProperties(c.props).setTopic(src).build());
    await env.execute();
    const props = Object.entries(c.props).map(([k, v]) => `'properties.${k}' = '${v.replace(/'/g, "''")}'`).join(', ');
    const env2 = StreamEnvironment.create({ engine: 'native' });
    env2.enableCheckpointing(50, { dir: join(work, `chk-${uid()}`) });
    const t = TableEnvironment.create(env2);
    await t.executeSql(`CREATE TABLE src (id BIGINT, name STRING) WITH ('connector' = 'kafka', 'topic' = '${src}', 'properties.bootstrap.servers' = '${c.bootstrap}', 'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', 'format' = 'json', ${props})`);
    await t.executeSql(`CREATE TABLE dst (id BIGINT, name STRING) WITH ('connector' = 'kafka', 'topic' = '${dst}', 'properties.bootstrap.servers' = '${c.bootstrap}', 'format' = 'json', 'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'tx-${dst}', ${props})`);
    await t.executeSql('INSERT INTO dst SELECT id, name FROM src');
    const got = (await readCommitted(bootstrap, dst, true)).map((r) => JSON.parse(r.value) as { id: number }).sort((a, b) => a.id - b.id);
    expect(got).toEqual(rows);
  });

  it.each([
    ['PLAIN', secure.saslPlaintext, 'SASL_PLAINTEXT', secure.users.plain.username],
    ['SCRAM-SHA-256', secure.saslPlaintext, 'SASL_PLAINTEXT', secure.users.scram.username],
    ['SCRAM-SHA-512', secure.saslSsl, 'SASL_SSL', secure.users.scram.username],
  ])('a wrong %s password fails the source and the sink with a message naming the mechanism, the user and the broker', async (mechanism, at, protocol, username) => {
    const props = { 'security.protocol': protocol, 'sasl.mechanism': mechanism, 'sasl.jaas.config': jaas(mechanism, { username, password: 'wrong' }), ...(protocol === 'SASL_SSL' ? trust : {}) };
    const topic = `sec-bad-${uid()}`;
    await createTopic(bootstrap, topic, 1);
    const want = `refused SASL authentication with mechanism ${mechanism} as user '${username}'`;
    const read = StreamEnvironment.create({ engine: 'ts' });
    read.fromSource(KafkaSource.builder().setBootstrapServers(at).setProperties(props).setTopics(topic).setBounded(OffsetsInitializer.latest()).setJsonValue(schema).build()).sinkTo(new CollectSink());
    const e1 = await read.execute().then(() => null, (e: unknown) => e as Error);
    expect(e1?.message).toContain(`Kafka source ('${topic}'): the Kafka broker(s) at ${at} ${want}`);
    expect(e1?.message).toContain("check the user name and password in 'sasl.jaas.config'");
    const write = StreamEnvironment.create({ engine: 'ts' });
    write.fromRecords(rows, schema).sinkTo(KafkaSink.builder().setBootstrapServers(at).setProperties(props).setTopic(topic).setDeliveryGuarantee('at-least-once').build());
    const e2 = await write.execute().then(() => null, (e: unknown) => e as Error);
    expect(e2?.message).toContain(`Kafka sink (topic '${topic}'): the Kafka broker(s) at ${at} ${want}`);
  });

  it('a broker certificate not signed by a trusted CA fails with a message saying what to check', async () => {
    // No trust store: the system's CAs, which did not sign the test broker's certificate.
    const topic = `sec-tls-${uid()}`;
    await createTopic(bootstrap, topic, 1);
    const read = StreamEnvironment.create({ engine: 'ts' });
    read.fromSource(KafkaSource.builder().setBootstrapServers(secure.ssl).setProperty('security.protocol', 'SSL').setTopics(topic).setBounded(OffsetsInitializer.latest()).setJsonValue(schema).build()).sinkTo(new CollectSink());
    const e = await read.execute().then(() => null, (x: unknown) => x as Error);
    expect(e?.message).toContain(`Kafka source ('${topic}'): the TLS connection to the Kafka broker(s) at ${secure.ssl} failed`);
    expect(e?.message).toContain("'ssl.truststore.*' holds the CA that signed its certificate");
  });

  it('refuses properties it does not read, a missing JAAS entry and a trust store that is not PEM, naming the property', () => {
    writeFileSync(join(work, 'empty.pem'), '');
    const b = () => KafkaSource.builder().setBootstrapServers(secure.saslSsl).setTopics('t').setRawValue();
    expect(() => b().setProperty('sasl.kerberos.service.name', 'kafka').build()).toThrow("KafkaSource: Kafka property 'sasl.kerberos.service.name' is not supported");
    expect(() => b().setProperties({ 'security.protocol': 'SASL_SSL', 'sasl.mechanism': 'SCRAM-SHA-256' }).build()).toThrow("KafkaSource: security.protocol SASL_SSL with SCRAM-SHA-256 needs 'sasl.jaas.config'");
    expect(() => b().setProperties({ 'security.protocol': 'SASL_SSL', 'sasl.mechanism': 'OAUTHBEARER', 'sasl.jaas.config': 'x required;' }).build()).toThrow("'sasl.mechanism' is one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, got 'OAUTHBEARER'");
    expect(() => b().setProperties({ 'security.protocol': 'SASL_PLAINTEXT', 'sasl.mechanism': 'PLAIN', 'sasl.jaas.config': jaas('SCRAM-SHA-256', secure.users.scram) }).build()).toThrow('takes its credentials from PlainLoginModule');
    expect(() => b().setProperties({ 'security.protocol': 'SSL', 'ssl.truststore.location': join(work, 'empty.pem') }).build()).toThrow('holds no PEM certificate');
    expect(() => b().setProperties({ 'security.protocol': 'SSL', 'ssl.truststore.type': 'JKS', 'ssl.truststore.location': '/x.jks' }).build()).toThrow("'ssl.truststore.type' JKS is not read here");
    expect(() => KafkaSink.builder().setBootstrapServers(secure.ssl).setTopic('t').setProperties({ 'ssl.truststore.location': secure.caFile }).build()).toThrow("KafkaSink: 'ssl.truststore.location' set but 'security.protocol' is PLAINTEXT");
  });
});
