// Where an application's job is cut into sub-topologies (ts/connectors/kafka/sub-topologies.ts):
// a keyed exchange whose key the input is not declared partitioned by goes through a repartition
// topic; exchanges that gather by other rules, and shapes not supported yet, are refused with a
// message saying what to do, never run per partition (wrong).
import { describe, expect, it } from 'vitest';
import { cutTopics, describeSubTopologies, repartitionCounts, repartitionCuts } from '../../ts/connectors/kafka/sub-topologies.js';
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
      const cuts = repartitionCuts(job('region', declared).graph, 'app');
      expect(cuts.length).toBe(1);
      const cut = cuts[0];
      expect(cut?.node.op.kind).toBe('windowAggregate');
      expect(cut?.keys).toEqual([['region']]);
      expect([...cut!.downstream].map((n) => n.op.kind)).toEqual(['windowAggregate', 'sink']);
    }
  });

  it('keyed by the declared partitioning (or by more fields including it): one sub-topology, the whole job per input partition', () => {
    expect(repartitionCuts(job('user', 'user').graph, 'app')).toEqual([]);
    expect(repartitionCuts(job(['user', 'region'], 'user').graph, 'app')).toEqual([]);
    // Declared by region, keyed by user and region: equal keys have equal regions, so one partition.
    expect(repartitionCuts(job(['user', 'region'], 'region').graph, 'app')).toEqual([]);
  });

  it('a chain of keyed exchanges: a cut at each, in order; after a cut even a key the input declared is cut again', () => {
    for (const [declared, second] of [[null, 'records'], ['user', 'user']] as const) {
      const env = StreamEnvironment.create();
      let b = KafkaSource.builder().setBootstrapServers('localhost:9092').setTopics('in').setJsonValue(schema);
      if (declared !== null) b = b.setPartitionedBy(declared);
      env
        .fromSource(b.build(), WatermarkStrategy.forBoundedOutOfOrderness<{ ts: number }>(1000).withTimestampAssigner('ts'))
        .keyBy('region')
        .window(TumblingEventTimeWindows.of(10_000))
        .aggregate({ records: agg.count(), user: agg.max('user') })
        .keyBy(second)
        .window(TumblingEventTimeWindows.of(60_000))
        .aggregate({ n: agg.count() })
        .sinkTo(KafkaSink.builder().setBootstrapServers('localhost:9092').setTopic('out').build());
      const cuts = repartitionCuts(env.graph, "application 'x'");
      expect(cuts.map((c) => c.keys)).toEqual([[['region']], [[second]]]);
      expect(cuts[0]!.downstream.has(cuts[1]!.node)).toBe(true);
      expect(cuts.map((c) => [c.level, ...c.inputLevels])).toEqual([[1, 0], [2, 1]]);
      expect([...cuts[1]!.downstream].map((n) => n.op.kind)).toEqual(['windowAggregate', 'sink']);
    }
  });

  it('keyed exchanges on separate branches: a cut on each, both starting sub-topology 1; a node reading from both sides of a cut: cut too', () => {
    const env = StreamEnvironment.create();
    const src = KafkaSource.builder().setBootstrapServers('localhost:9092').setTopics('in').setJsonValue(schema).build();
    const s = env.fromSource(src, WatermarkStrategy.forBoundedOutOfOrderness<{ ts: number }>(1000).withTimestampAssigner('ts'));
    const sink = () => KafkaSink.builder().setBootstrapServers('localhost:9092').setTopic('out').build();
    s.keyBy('region').window(TumblingEventTimeWindows.of(10_000)).aggregate({ n: agg.count() }).sinkTo(sink());
    s.keyBy('amount').window(TumblingEventTimeWindows.of(10_000)).aggregate({ n: agg.count() }).sinkTo(sink());
    const branches = repartitionCuts(env.graph, "application 'x'");
    expect(branches.map((c) => [c.keys, c.level, c.inputLevels])).toEqual([[[['region']], 1, [0]], [[['amount']], 1, [0]]]);
    expect(branches[0]!.node.inputs[0]).toBe(branches[1]!.node.inputs[0]);

    const env2 = StreamEnvironment.create();
    const s2 = env2.fromSource(KafkaSource.builder().setBootstrapServers('localhost:9092').setTopics('in').setJsonValue(schema).build(), WatermarkStrategy.forBoundedOutOfOrderness<{ ts: number }>(1000).withTimestampAssigner('ts'));
    const counted = s2.keyBy('region').window(TumblingEventTimeWindows.of(10_000)).aggregate({ user: agg.count(), amount: agg.sum('amount'), ts: agg.max('ts') });
    counted.map((r) => ({ user: r.user, region: r.region, amount: r.amount, ts: r.ts }), schema).union(s2).sinkTo(sink());
    // The union takes one input from after the cut at the window and one from before it: cut too,
    // both inputs unkeyed through topics of their own, written by sub-topologies 1 and 0.
    const mixed = repartitionCuts(env2.graph, "application 'x'");
    expect(mixed.map((c) => [c.node.op.kind, c.keys, c.level, c.inputLevels])).toEqual([
      ['windowAggregate', [['region']], 1, [0]],
      ['union', [[], []], 2, [1, 0]],
    ]);
    expect(describeSubTopologies(env2.graph, 'x')).toContain("writes 'x-node");
    expect(describeSubTopologies(env2.graph, 'x')).toMatch(/Sub-topology 0: .*writes .*\(by region\) and .*-in1-repartition' \(unkeyed: each upstream task to one partition\)/);
  });

  it('a union of two cut branches stays in their sub-topology; a union of levels 1 and 2 is cut at level 3: no level without nodes', () => {
    const env = StreamEnvironment.create();
    const s = env.fromSource(KafkaSource.builder().setBootstrapServers('localhost:9092').setTopics('in').setJsonValue(schema).build(), WatermarkStrategy.forBoundedOutOfOrderness<{ ts: number }>(1000).withTimestampAssigner('ts'));
    const out = { k: 'i64', n: 'i64' } as const;
    const byRegion = s.keyBy('region').window(TumblingEventTimeWindows.of(10_000)).aggregate({ n: agg.count() }).map((r) => ({ k: r.region, n: r.n }), out);
    const byAmount = s.keyBy('amount').window(TumblingEventTimeWindows.of(10_000)).aggregate({ n: agg.count() }).map((r) => ({ k: r.amount, n: r.n }), out);
    byRegion.union(byAmount).sinkTo(KafkaSink.builder().setBootstrapServers('localhost:9092').setTopic('out').build());
    const cuts = repartitionCuts(env.graph, 'x');
    expect(cuts.map((c) => [c.node.op.kind, c.level, c.inputLevels])).toEqual([
      ['windowAggregate', 1, [0]],
      ['windowAggregate', 1, [0]],
    ]);
    expect(describeSubTopologies(env.graph, 'x')).toMatch(/2 sub-topologies, 2P tasks[\s\S]*Sub-topology 1:[\s\S]*Union/);

    // One branch keyed twice (level 2), unioned with the other (level 1): the union is cut at 3.
    const env2 = StreamEnvironment.create();
    const s2 = env2.fromSource(KafkaSource.builder().setBootstrapServers('localhost:9092').setTopics('in').setJsonValue(schema).build(), WatermarkStrategy.forBoundedOutOfOrderness<{ ts: number }>(1000).withTimestampAssigner('ts'));
    const once = s2.keyBy('region').window(TumblingEventTimeWindows.of(10_000)).aggregate({ n: agg.count() }).map((r) => ({ k: r.region, n: r.n }), out);
    const twice = s2.keyBy('amount').window(TumblingEventTimeWindows.of(10_000)).aggregate({ n: agg.count() }).map((r) => ({ k: r.amount, n: r.n }), out).keyBy('n').window(TumblingEventTimeWindows.of(10_000)).aggregate({ c: agg.count() }).map((r) => ({ k: r.n, n: r.c }), out);
    once.union(twice).sinkTo(KafkaSink.builder().setBootstrapServers('localhost:9092').setTopic('out').build());
    const c2 = repartitionCuts(env2.graph, 'x');
    expect(c2.map((c) => [c.node.op.kind, c.level, c.inputLevels])).toEqual([
      ['windowAggregate', 1, [0]],
      ['windowAggregate', 1, [0]],
      ['windowAggregate', 2, [1]],
      ['union', 3, [1, 2]],
    ]);
    const described = describeSubTopologies(env2.graph, 'x');
    for (const k of [0, 1, 2, 3]) expect(described).toMatch(new RegExp(`Sub-topology ${k}: [^\n]*\n    #`));
  });

  it('setParallelism at a cut sets its sub-topology\'s partition count, over repartitionPartitions; cuts of one sub-topology must agree', () => {
    const chain = (first: number | null, second: number | null): StreamEnvironment => {
      const env = StreamEnvironment.create();
      const w = env
        .fromSource(KafkaSource.builder().setBootstrapServers('localhost:9092').setTopics('in').setJsonValue(schema).build(), WatermarkStrategy.forBoundedOutOfOrderness<{ ts: number }>(1000).withTimestampAssigner('ts'))
        .keyBy('region')
        .window(TumblingEventTimeWindows.of(10_000))
        .aggregate({ records: agg.count(), user: agg.max('user') });
      if (first !== null) w.setParallelism(first);
      const v = w.keyBy('records').window(TumblingEventTimeWindows.of(60_000)).aggregate({ n: agg.count() });
      if (second !== null) v.setParallelism(second);
      v.sinkTo(KafkaSink.builder().setBootstrapServers('localhost:9092').setTopic('out').build());
      return env;
    };
    const counts = (env: StreamEnvironment, r?: number): (number | undefined)[] => repartitionCounts(env.graph, repartitionCuts(env.graph, 'x'), r, 'x');
    expect(counts(chain(null, null))).toEqual([undefined, undefined]);
    expect(counts(chain(null, 4))).toEqual([undefined, 4]);
    expect(counts(chain(null, 4), 5)).toEqual([5, 4]);
    expect(counts(chain(6, null), 5)).toEqual([6, 5]);
    expect(describeSubTopologies(chain(null, 4).graph, 'x')).toContain('3 sub-topologies, 2P+4 tasks');
    expect(describeSubTopologies(chain(null, 4).graph, 'x')).toContain('Sub-topology 1: tasks P..2P-1;');
    expect(describeSubTopologies(chain(null, 4).graph, 'x')).toContain('Sub-topology 2: tasks 2P..2P+3;');
    expect(describeSubTopologies(chain(6, null).graph, 'x', 5)).toContain('Sub-topology 2: tasks P+6..P+10;');
    expect(() => counts(chain(200, null))).toThrow(/sub-topology 1 would have 200 partitions, above the job's max parallelism 128/);

    // Two branches starting sub-topology 1 with different parallelisms: refused, saying which.
    const env = StreamEnvironment.create();
    const s = env.fromSource(KafkaSource.builder().setBootstrapServers('localhost:9092').setTopics('in').setJsonValue(schema).build(), WatermarkStrategy.forBoundedOutOfOrderness<{ ts: number }>(1000).withTimestampAssigner('ts'));
    const sink = () => KafkaSink.builder().setBootstrapServers('localhost:9092').setTopic('out').build();
    s.keyBy('region').window(TumblingEventTimeWindows.of(10_000)).aggregate({ n: agg.count() }).setParallelism(2).sinkTo(sink());
    s.keyBy('amount').window(TumblingEventTimeWindows.of(10_000)).aggregate({ n: agg.count() }).setParallelism(3).sinkTo(sink());
    expect(() => counts(env)).toThrow(/start sub-topology 1 with different parallelisms \(2 and 3\).*give them the same setParallelism/);
  });

  it('a join of keyed inputs: one cut repartitioning both; a self-join too, each side through its own topic', () => {
    const env = StreamEnvironment.create();
    const read = (topic: string) => env.fromSource(KafkaSource.builder().setBootstrapServers('localhost:9092').setTopics(topic).setJsonValue(schema).setPartitionedBy('user').build(), WatermarkStrategy.forBoundedOutOfOrderness<{ ts: number }>(1000).withTimestampAssigner('ts'));
    const sink = () => KafkaSink.builder().setBootstrapServers('localhost:9092').setTopic('out').build();
    read('a').join(read('b')).where('region').equalTo('amount').window(TumblingEventTimeWindows.of(10_000)).apply((x, y) => ({ r: x.region, n: y.amount }), { r: 'i64', n: 'i64' }).sinkTo(sink());
    const cuts = repartitionCuts(env.graph, "application 'x'");
    expect(cuts.map((c) => c.keys)).toEqual([[['region'], ['amount']]]);
    expect(cuts[0]!.node.inputs.length).toBe(2);

    // Keyed by the declared partitioning on both sides: no cut.
    const env2 = StreamEnvironment.create();
    const read2 = (topic: string) => env2.fromSource(KafkaSource.builder().setBootstrapServers('localhost:9092').setTopics(topic).setJsonValue(schema).setPartitionedBy('user').build(), WatermarkStrategy.forBoundedOutOfOrderness<{ ts: number }>(1000).withTimestampAssigner('ts'));
    read2('a').join(read2('b')).where('user').equalTo('user').window(TumblingEventTimeWindows.of(10_000)).apply((x, y) => ({ r: x.region, n: y.amount }), { r: 'i64', n: 'i64' }).sinkTo(sink());
    expect(repartitionCuts(env2.graph, "application 'x'")).toEqual([]);

    const env3 = StreamEnvironment.create();
    const s3 = env3.fromSource(KafkaSource.builder().setBootstrapServers('localhost:9092').setTopics('a').setJsonValue(schema).build(), WatermarkStrategy.forBoundedOutOfOrderness<{ ts: number }>(1000).withTimestampAssigner('ts'));
    s3.join(s3).where('region').equalTo('region').window(TumblingEventTimeWindows.of(10_000)).apply((x, y) => ({ r: x.region, n: y.amount }), { r: 'i64', n: 'i64' }).sinkTo(sink());
    // Keyed by functions (a join's key selectors): always cut, each side by the key group of its selected key.
    const env4 = StreamEnvironment.create();
    const read4 = (topic: string) => env4.fromSource(KafkaSource.builder().setBootstrapServers('localhost:9092').setTopics(topic).setJsonValue(schema).setPartitionedBy('region').build(), WatermarkStrategy.forBoundedOutOfOrderness<{ ts: number }>(1000).withTimestampAssigner('ts'));
    read4('a').join(read4('b')).where((r) => r.region).equalTo((r) => r.region).window(TumblingEventTimeWindows.of(10_000)).apply((x, y) => ({ r: x.region, n: y.amount }), { r: 'i64', n: 'i64' }).sinkTo(sink());
    const byFn = repartitionCuts(env4.graph, "application 'x'");
    expect(byFn.map((c) => [c.keys, c.selectors, c.level])).toEqual([[[[], []], ['key selector', 'key selector'], 1]]);
    expect(describeSubTopologies(env4.graph, 'x')).toContain('(by the key selector (key selector))');

    // A self-join: each side through a topic of its own, both written by the one input node.
    const self = repartitionCuts(env3.graph, "application 'x'");
    expect(self.map((c) => [c.keys, c.level, c.inputLevels])).toEqual([[[['region'], ['region']], 1, [0, 0]]]);
    expect(self[0]!.node.inputs[0]).toBe(self[0]!.node.inputs[1]);
    expect(cutTopics('x', self[0]!)).toEqual([`x-node${self[0]!.node.id}-in0-repartition`, `x-node${self[0]!.node.id}-in1-repartition`]);
  });

  it('a global exchange (windowAll): refused, never run per partition', () => {
    const env = StreamEnvironment.create();
    const src = KafkaSource.builder().setBootstrapServers('localhost:9092').setTopics('in').setJsonValue(schema).setPartitionedBy('user').build();
    env
      .fromSource(src, WatermarkStrategy.forBoundedOutOfOrderness<{ ts: number }>(1000).withTimestampAssigner('ts'))
      .windowAll(TumblingEventTimeWindows.of(10_000))
      .aggregate({ n: agg.count() })
      .sinkTo(KafkaSink.builder().setBootstrapServers('localhost:9092').setTopic('out').build());
    expect(() => repartitionCuts(env.graph, "application 'x'")).toThrow(/receives its input through a global exchange .* Run this job as one process/);
  });

  it('setPartitionedBy names a field of the source', () => {
    expect(() => KafkaSource.builder().setBootstrapServers('localhost:9092').setTopics('in').setJsonValue(schema).setPartitionedBy('country').build()).toThrow(/field 'country' is not among the source's fields/);
  });
});
