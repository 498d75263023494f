// KafkaSink against the real broker: every delivery guarantee writes every row (read back with
// the client's own read_committed consumer), keys and the key-hash partitioner agree with the
// Java client's rule, topic and partition from fields, CSV values; exactly-once at parallelism
// 1 and 2 through the two-phase commit; both engines write identical records.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { murmur2 } from '@platformatic/kafka';
import { describe, expect, inject, it } from 'vitest';
import { KafkaSink, runJob, StreamEnvironment, type DeliveryGuarantee, type EngineName } from '../../ts/index.js';
import { onBothEngines, requireNative } from '../engines.js';
import { createTopic, produce, readCommitted, uid } from './helpers.js';

const bootstrap = inject('kafkaBootstrap');
const work = mkdtempSync(join(tmpdir(), 'sluice-kafka-sink-'));
const schema = { id: 'i64', name: 'utf8', city: 'utf8', part: 'i32' } as const;
const rows = Array.from({ length: 300 }, (_, i) => ({ id: i, name: `name-${i % 13}`, city: i % 3 === 0 ? 'Oslo' : 'Lima', part: i % 3 }));

async function write(engine: EngineName, sink: KafkaSink, checkpoints: boolean): Promise<void> {
  const env = StreamEnvironment.create({ engine, batchSize: 64 });
  if (checkpoints) env.enableCheckpointing(50, { dir: join(work, `chk-${uid()}`) });
  env.fromRecords(rows, schema).sinkTo(sink);
  await env.execute();
}

describe('KafkaSink', () => {
  it.each(['none', 'at-least-once', 'exactly-once'] as const)('%s: every row arrives once, keyed and partitioned as the Java client would, identically on both engines', async (guarantee: DeliveryGuarantee) => {
    const out = await onBothEngines(async (engine) => {
      const topic = `sink-${guarantee}-${engine}-${uid()}`;
      await createTopic(bootstrap, topic, 3);
      const sink = KafkaSink.builder().setBootstrapServers(bootstrap).setTopic(topic).setKeyFields('name').setDeliveryGuarantee(guarantee).setTransactionalIdPrefix(`tx-${topic}`).build();
      await write(engine, sink, guarantee === 'exactly-once');
      return (await readCommitted(bootstrap, topic, true)).map((r) => ({ partition: r.partition, key: r.key, value: r.value }));
    });
    const got = out.native;
    expect(got.map((r) => JSON.parse(r.value) as unknown).sort((a, b) => (a as { id: number }).id - (b as { id: number }).id)).toEqual(rows);
    for (const r of got) {
      expect(r.key).toBe((JSON.parse(r.value) as { name: string }).name);
      // Kafka's default partitioner: toPositive(murmur2(key bytes)) % partitions.
      expect(r.partition).toBe((murmur2(Buffer.from(r.key!), false) & 0x7fffffff) % 3);
    }
  });

  it('takes the topic and the partition from fields, and writes CSV values', async () => {
    const [oslo, lima] = [`sink-oslo-${uid()}`, `sink-lima-${uid()}`];
    await createTopic(bootstrap, oslo, 3);
    await createTopic(bootstrap, lima, 3);
    const named = rows.map((r) => ({ ...r, city: r.city === 'Oslo' ? oslo : lima }));
    const env = StreamEnvironment.create({ engine: 'native' });
    env.fromRecords(named, schema).sinkTo(KafkaSink.builder().setBootstrapServers(bootstrap).setTopicField('city').setPartitioner({ field: 'part' }).setValueFormat('csv').build());
    await env.execute();
    const a = await readCommitted(bootstrap, oslo, true);
    const b = await readCommitted(bootstrap, lima, true);
    expect(a.length + b.length).toBe(rows.length);
    for (const [records, topic] of [[a, oslo], [b, lima]] as const) {
      for (const r of records) {
        const [id, name, city, part] = r.value.split(',');
        expect(city).toBe(topic);
        expect(Number(part)).toBe(r.partition);
        expect(name).toBe(`name-${Number(id) % 13}`);
        expect(r.key).toBeNull();
      }
    }
  });

  it('a missing topic is a clear error', async () => {
    const missing = `missing-${uid()}`;
    const env = StreamEnvironment.create({ engine: 'ts' });
    env.fromRecords(rows, schema).sinkTo(KafkaSink.builder().setBootstrapServers(bootstrap).setTopic(missing).build());
    await expect(env.execute()).rejects.toThrow(`topic '${missing}' does not exist on ${bootstrap}; create it first`);
  });

  it('exactly-once at parallelism 2: each subtask its own transactions; read_committed sees every record once', async () => {
    requireNative();
    const input = `eo-in-${uid()}`;
    await createTopic(bootstrap, input, 4);
    await produce(bootstrap, input, Array.from({ length: 2000 }, (_, i) => ({ partition: i % 4, value: JSON.stringify({ id: i, name: `n${i % 17}` }) })));
    for (const engine of ['native', 'ts'] as const) {
      const out = `eo-out-${engine}-${uid()}`;
      await createTopic(bootstrap, out, 2);
      const r = await runJob(new URL('../fixtures/jobs/kafka-copy.ts', import.meta.url), { engine, parallelism: 2, args: [bootstrap, input, `kafka:${out}:exactly-once:tx-${out}`, join(work, `chk-${out}`)] });
      expect(r.operators.filter((m) => m.name.startsWith('Sink')).map((m) => m.subtask).sort()).toEqual([0, 1]);
      const ids = (await readCommitted(bootstrap, out, true)).map((x) => (JSON.parse(x.value) as { id: number }).id).sort((a, b) => a - b);
      expect(ids).toEqual(Array.from({ length: 2000 }, (_, i) => i));
    }
  });
  it.each(['none', 'at-least-once', 'exactly-once'] as const)('%s: a batch of 2.4 MB into one partition (over the broker\'s 1 MiB record batch limit) is written in several sends, every row once', async (guarantee: DeliveryGuarantee) => {
    const topic = `sink-big-${guarantee}-${uid()}`;
    await createTopic(bootstrap, topic, 1);
    const big = Array.from({ length: 4000 }, (_, i) => ({ id: i, text: `${i}:${'x'.repeat(590)}` }));
    const env = StreamEnvironment.create({ engine: 'native', batchSize: 4000 });
    if (guarantee === 'exactly-once') env.enableCheckpointing(1000, { dir: join(work, `chk-${uid()}`) });
    env.fromRecords(big, { id: 'i64', text: 'utf8' }).sinkTo(KafkaSink.builder().setBootstrapServers(bootstrap).setTopic(topic).setDeliveryGuarantee(guarantee).setTransactionalIdPrefix(`tx-${topic}`).build());
    await env.execute();
    const got = (await readCommitted(bootstrap, topic, true)).map((r) => JSON.parse(r.value) as { id: number; text: string });
    expect(got.map((r) => r.id)).toEqual(big.map((r) => r.id));
    expect(got.every((r) => r.text === big[r.id]!.text)).toBe(true);
  });
});

