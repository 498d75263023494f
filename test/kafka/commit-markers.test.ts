// A committed transaction still open on a partition, which is what a broker leaves when it loses
// a commit's markers (a single broker's controlled shutdown during the commit: outage.test.ts
// hit it about once in ten loaded runs). Made here on purpose, on a broker of its own with
// Kafka's partition verification off: a transaction is committed on partition 0, then a
// transactional batch of the same producer id and epoch is written to partition 1, which the
// coordinator never heard of. read_committed readers stop at it; CommitMarkerCheck finds it
// (DescribeProducers, DescribeTransactions: CompleteCommit) and writes its COMMIT marker.
import { rmSync } from 'node:fs';
import { Connection, Consumer, FetchIsolationLevels, Producer, produceV11 } from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { startBroker } from '../../scripts/kafka/broker.mjs';
import { CommitMarkerCheck } from '../../ts/connectors/kafka/commit-markers.js';
import { PLAINTEXT } from '../../ts/connectors/kafka/security.js';
import { createTopic, highWatermarks, readLog } from './helpers.js';

describe('Kafka sink: committed transactions whose commit markers were lost', () => {
  it('are found open on their partitions and completed with a COMMIT marker; ended ones are left alone', async () => {
    const log = (line: string) => process.stderr.write(`[kafka markers] ${line}\n`);
    const broker = await startBroker({ log, properties: ['transaction.partition.verification.enable=false'] });
    try {
      const bootstrap = broker.bootstrap;
      const topic = 'markers';
      await createTopic(bootstrap, topic, 2);
      const producer = new Producer({ clientId: 'markers', bootstrapBrokers: [bootstrap], idempotent: true, transactionalId: 'markers-0', producerId: -1n, producerEpoch: -1 });
      const tx = await producer.beginTransaction();
      await tx.send({ messages: [{ topic, partition: 0, value: Buffer.from('{"n":1}') }] });
      await tx.commit();
      const producerId = producer.producerId!;
      const epoch = producer.producerEpoch!;
      await producer.close();
      // The batch whose marker "was lost": same producer id and epoch, a partition outside the transaction.
      const [host, port] = bootstrap.split(':') as [string, string];
      const c = new Connection('markers');
      await (c.connect(host, Number(port)) as Promise<void>);
      await produceV11.api.async(c, -1, 30_000, [{ topic, partition: 1, key: Buffer.from('k'), value: Buffer.from('{"n":2}'), headers: new Map() }], { transactionalId: 'markers-0', producerId, producerEpoch: epoch });
      await c.close();
      // Open: partition 1's last stable offset stays at the batch (0) below its high watermark (1).
      const consumer = new Consumer({ clientId: 'markers-lso', groupId: 'markers-lso', bootstrapBrokers: [bootstrap] });
      const offsets = async (isolationLevel: number) => (await consumer.listOffsets({ topics: [topic], isolationLevel })).get(topic)!;
      // (Partition 0's commit marker is written after the commit returned: wait for it, as long
      // as the test's own timeout allows.)
      while ((await offsets(FetchIsolationLevels.READ_COMMITTED))[0] !== 2n) await new Promise((r) => setTimeout(r, 50));
      expect(await offsets(FetchIsolationLevels.READ_COMMITTED)).toEqual([2n, 0n]);
      expect(await offsets(FetchIsolationLevels.READ_UNCOMMITTED)).toEqual([2n, 1n]);

      const check = new CommitMarkerCheck([bootstrap], PLAINTEXT, 'markers', 'Kafka sink (test)');
      const warnings: string[] = [];
      const onWarning = (w: Error) => warnings.push(w.message);
      process.on('warning', onWarning);
      try {
        check.add({ transactionalId: 'markers-0', producerId: String(producerId), epoch, partitions: [{ topic, partition: 0 }, { topic, partition: 1 }] });
        await check.settle(60_000);
        await new Promise((r) => setImmediate(r));
      } finally {
        process.off('warning', onWarning);
      }
      expect(check.unchecked).toEqual([]);
      expect(warnings).toEqual([
        `Kafka sink (test): transaction 'markers-0' (producer id ${producerId}) was committed but the broker lost its commit markers on 'markers' partition 1 (a partition without a leader while they were sent, e.g. a broker shut down during the commit); the sink wrote them`,
      ]);
      const after = await readLog(bootstrap, topic, true);
      expect(await offsets(FetchIsolationLevels.READ_COMMITTED)).toEqual([2n, 2n]);
      await consumer.close();
      expect(after.records.map((r) => [r.partition, r.value])).toEqual([
        [0, '{"n":1}'],
        [1, '{"n":2}'],
      ]);
      expect(after.transactions.map((t) => [t.partition, t.committed])).toEqual([
        [0, true],
        [1, true],
      ]);
      // Nothing more to do: a second pass writes nothing (the high watermarks stay).
      const probe = highWatermarks(bootstrap, topic);
      const before = await probe.total();
      check.add({ transactionalId: 'markers-0', producerId: String(producerId), epoch, partitions: [{ topic, partition: 0 }, { topic, partition: 1 }] });
      await check.check();
      expect(check.unchecked).toEqual([]);
      expect(await probe.total()).toBe(before);
      await probe.close();
    } finally {
      await broker.stop();
      rmSync(broker.dir, { recursive: true, force: true });
    }
  }, 180_000);
});
