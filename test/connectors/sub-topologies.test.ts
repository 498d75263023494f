// Where an application's job is cut into sub-topologies (ts/connectors/kafka/sub-topologies.ts):
// a keyed exchange whose key the input is not declared partitioned by goes through a repartition
// topic; exchanges that gather by other rules, and shapes not supported yet, are refused with a
// message saying what to do, never run per partition (wrong).
import { describe, expect, it } from 'vitest';
import { repartitionCut } from '../../ts/connectors/kafka/sub-topologies.js';
import { agg, KafkaSink, KafkaSource, OffsetsInitializer, StreamEnvironment, TumblingEventTimeWindows, WatermarkStrategy } from '../../ts/index.js';

const schema = { user: 'i64', region: 'i64', amount: 'i64', ts: 'timestamp' } as const;

function job(key: 'user' | 'region' | ['user', 'region'], declared: string | null): StreamEnvironment {
  const env = StreamEnvironment.create();
  let b = KafkaSource.builder().setBootstrapServers('localhost:9092').setTopics('in').setBounded(OffsetsInitializer.latest()).setJsonValue(schema);
  if (declared !== null) b = b.setPartitionedBy(declared);
  env
    .fromSource(b.build(), WatermarkStrategy.forBoundedOutOfOrderness<{ ts: number }>(1000).withTimestampAssigner('ts'))
    .keyBy(key)
    .window(TumblingEventTimeWindows.of(10_000))
    .aggregate({ records: agg.count(), total: agg.sum('amount') })
    .sinkTo(KafkaSink.builder().setBootstrapServers('localhost:9092').setTopic('out').build());
  return env;
}

describe('an application job cut into sub-topologies', () => {
  it('keyed by a field the input is not declared partitioned by: cut at the keyed exchange', () => {
    for (const declared of [null, 'user']) {
      const cut = repartitionCut(job('region', declared).graph, 'app');
      expect(cut?.node.op.kind).toBe('windowAggregate');
      expect(cut?.keyFields).toEqual(['region']);
      expect([...cut!.downstream].map((n) => n.op.kind)).toEqual(['windowAggregate', 'sink']);
    }
  });

  it('keyed by the declared partitioning (or by more fields including it): one sub-topology, the whole job per input partition', () => {
    expect(repartitionCut(job('user', 'user').graph, 'app')).toBeNull();
    expect(repartitionCut(job(['user', 'region'], 'user').graph, 'app')).toBeNull();
    // Declared by region, keyed by user and region: equal keys have equal regions, so one partition.
    expect(repartitionCut(job(['user', 'region'], 'region').graph, 'app')).toBeNull();
  });

  it('two keyed exchanges: refused, saying what to do', () => {
    const env = StreamEnvironment.create();
    const src = KafkaSource.builder().setBootstrapServers('localhost:9092').setTopics('in').setJsonValue(schema).build();
    env
      .fromSource(src, WatermarkStrategy.forBoundedOutOfOrderness<{ ts: number }>(1000).withTimestampAssigner('ts'))
      .keyBy('region')
      .window(TumblingEventTimeWindows.of(10_000))
      .aggregate({ records: agg.count(), total: agg.sum('amount') })
      .keyBy('records')
      .window(TumblingEventTimeWindows.of(60_000))
      .aggregate({ n: agg.count() })
      .sinkTo(KafkaSink.builder().setBootstrapServers('localhost:9092').setTopic('out').build());
    expect(() => repartitionCut(env.graph, "application 'x'")).toThrow(/application 'x': the job has 2 keyed exchanges that need a repartition topic .*repartitions once for now/);
  });

  it('a global exchange (windowAll): refused, never run per partition', () => {
    const env = StreamEnvironment.create();
    const src = KafkaSource.builder().setBootstrapServers('localhost:9092').setTopics('in').setJsonValue(schema).setPartitionedBy('user').build();
    env
      .fromSource(src, WatermarkStrategy.forBoundedOutOfOrderness<{ ts: number }>(1000).withTimestampAssigner('ts'))
      .windowAll(TumblingEventTimeWindows.of(10_000))
      .aggregate({ n: agg.count() })
      .sinkTo(KafkaSink.builder().setBootstrapServers('localhost:9092').setTopic('out').build());
    expect(() => repartitionCut(env.graph, "application 'x'")).toThrow(/receives its input through a global exchange .* Run this job as one process/);
  });

  it('setPartitionedBy names a field of the source', () => {
    expect(() => KafkaSource.builder().setBootstrapServers('localhost:9092').setTopics('in').setJsonValue(schema).setPartitionedBy('country').build()).toThrow(/field 'country' is not among the source's fields/);
  });
});
