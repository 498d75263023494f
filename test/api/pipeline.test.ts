import { readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  agg,
  CollectSink,
  JobFailedError,
  UserFunctionError,
  FileSink,
  FileSource,
  NexmarkSource,
  Schema,
  StreamEnvironment,
  batchFromRecords,
  type Bid,
  type Progress,
  TumblingEventTimeWindows,
  WatermarkStrategy,
  type EngineName,
} from '../../ts/index.js';
import { onBothEngines } from '../engines.js';

const CLICKS = { user: 'utf8', page: 'utf8', ms: 'i64', at: 'timestamp' } as const;
const clicks = [
  { user: 'ann', page: '/a', ms: 120, at: 1_000 },
  { user: 'bob', page: '/b', ms: 40, at: 1_500 },
  { user: 'ann', page: '/c', ms: 300, at: 2_200 },
  { user: 'cid', page: '/a', ms: 10, at: 9_000 },
  { user: 'bob', page: '/a', ms: 75, at: 11_000 },
  { user: 'ann', page: '/b', ms: 5, at: 12_500 },
];

describe('a pipeline with user functions', () => {
  it('map, filter, flatMap and keyBy(selector) feed a window identically on both engines', async () => {
    await onBothEngines(async (engine: EngineName) => {
      const env = StreamEnvironment.create({ engine, batchSize: 4 });
      const sink = new CollectSink();
      env
        .fromRecords(clicks, CLICKS, WatermarkStrategy.forBoundedOutOfOrderness<(typeof clicks)[number]>(1000).withTimestampAssigner('at'))
        .filter((c) => c.ms >= 10)
        .map((c) => ({ ...c, ms: c.ms * 2 }))
        .flatMap((c) => (c.page === '/a' ? [c, { ...c, page: '/a-copy' }] : [c]))
        .keyBy((c) => c.user.toUpperCase())
        .window(TumblingEventTimeWindows.of(10_000))
        .aggregate({ views: agg.count(), time: agg.sum('ms'), longest: agg.max('ms'), mean: agg.avg('ms') })
        .sinkTo(sink);
      const result = await env.execute('clicks');
      expect(result.engine).toBe(engine);
      const counts = Object.fromEntries(result.operators.map((o) => [o.name, [o.recordsIn, o.recordsOut]]));
      expect(counts['Filter']).toEqual([6, 5]);
      expect(counts['FlatMap']).toEqual([5, 8]);
      expect(sink.records).toEqual([
        { key: 'ANN', windowStart: 0, windowEnd: 10000, views: 3, time: 1080, longest: 600, mean: 360 },
        { key: 'BOB', windowStart: 0, windowEnd: 10000, views: 1, time: 80, longest: 80, mean: 80 },
        { key: 'CID', windowStart: 0, windowEnd: 10000, views: 2, time: 40, longest: 20, mean: 20 },
        { key: 'BOB', windowStart: 10000, windowEnd: 20000, views: 2, time: 300, longest: 150, mean: 150 },
      ]);
      return sink.records;
    });
  });

  it('collect() yields records as an async iterator, on both engines', async () => {
    await onBothEngines(async (engine) => {
      const env = StreamEnvironment.create({ engine, batchSize: 2 });
      const out: unknown[] = [];
      for await (const r of env
        .fromRecords(clicks, CLICKS, WatermarkStrategy.forMonotonousTimestamps<(typeof clicks)[number]>().withTimestampAssigner('at'))
        .keyBy('user')
        .window(TumblingEventTimeWindows.of(5000))
        .aggregate({ n: agg.count() })
        .collect()) {
        out.push(r);
      }
      expect(out).toHaveLength(5);
      return out;
    });
  });

  it('a timestamp assigner function computes event time per record', async () => {
    await onBothEngines(async (engine) => {
      const env = StreamEnvironment.create({ engine });
      const sink = new CollectSink();
      env
        .fromRecords(clicks, CLICKS)
        .assignTimestampsAndWatermarks(WatermarkStrategy.forMonotonousTimestamps<(typeof clicks)[number]>().withTimestampAssigner((c) => c.at * 2))
        .keyBy('page')
        .window(TumblingEventTimeWindows.of(10_000))
        .aggregate({ n: agg.count() })
        .sinkTo(sink);
      await env.execute();
      expect(sink.records.map((r) => (r as { windowStart: number }).windowStart)).toEqual([0, 0, 0, 10000, 20000, 20000]);
      return sink.records;
    });
  });

  it('a failing user function rejects execute() with the operator, the record, its position and the original error with its stack', async () => {
    await onBothEngines(async (engine) => {
      for (const reuse of [false, true]) {
        const env = StreamEnvironment.create({ engine, objectReuse: reuse });
        env
          .fromRecords(clicks, CLICKS)
          .filter((c) => c.ms > 0)
          .map(function throwsOnCid(c) {
            if (c.user === 'cid') throw new Error('boom on cid');
            return c;
          })
          .sinkTo(new CollectSink());
        const e = (await env.execute('failing').catch((err: unknown) => err)) as JobFailedError;
        expect(e).toBeInstanceOf(JobFailedError);
        expect(e.message).toBe(
          `job 'failing' failed in operator 'Map' (subtask 0): the function of 'Map' threw on record 3 {"user":"cid","page":"/a","ms":10,"at":9000}: Error: boom on cid`,
        );
        const cause = e.original as UserFunctionError;
        expect(cause).toBeInstanceOf(UserFunctionError);
        expect(cause.position).toBe(3);
        expect((cause.original as Error).message).toBe('boom on cid');
        // The user's frame is kept: the stack names the function that threw, in this file.
        expect(cause.stack).toMatch(/at throwsOnCid \(.*pipeline\.test\.ts:\d+:\d+\)/);
      }
      return 'ok';
    });
  });

  it('the functions of filter, flatMap, keyBy and process name their record when they throw; a long record is truncated', async () => {
    const long = [{ ...clicks[0]!, page: 'x'.repeat(1000) }];
    const cases: [string, (env: StreamEnvironment) => void][] = [
      ['Filter', (env) => void env.fromRecords(long, CLICKS).filter(() => { throw new RangeError('f'); }).sinkTo(new CollectSink())],
      ['FlatMap', (env) => void env.fromRecords(long, CLICKS).flatMap(function* () { yield* []; throw new RangeError('f'); }).sinkTo(new CollectSink())],
      ['KeyBy', (env) => void env.fromRecords(long, CLICKS).keyBy((): string => { throw new RangeError('f'); }).map((x) => x, { ...CLICKS, key: 'utf8' }).sinkTo(new CollectSink())],
      ['KeyedProcess', (env) => void env.fromRecords(long, CLICKS).keyBy('user').process({ processElement() { throw new RangeError('f'); } }, { user: 'utf8' }).sinkTo(new CollectSink())],
    ];
    for (const [what, build] of cases) {
      const env = StreamEnvironment.create({ engine: 'ts' });
      build(env);
      const e = (await env.execute(what).catch((err: unknown) => err)) as JobFailedError;
      const cause = e.original as UserFunctionError;
      expect(cause, what).toBeInstanceOf(UserFunctionError);
      expect(cause.message).toMatch(/threw on record 0 \{"user":"ann","page":"x+…: RangeError: f$/);
      expect(cause.record.length).toBeLessThanOrEqual(301);
    }
  });

  it('a map whose output does not fit the schema names the operator, record and field', async () => {
    const env = StreamEnvironment.create({ engine: 'ts' });
    env
      .fromRecords(clicks, CLICKS)
      .map((c) => ({ total: c.user }) as never, { total: 'f64' })
      .sinkTo(new CollectSink());
    await expect(env.execute()).rejects.toThrow(/Map output, record 0, field 'total': expected an f64 number, got string "ann"/);
  });
});

describe('configuration errors fail when the pipeline is built', () => {
  const env = () => StreamEnvironment.create({ engine: 'ts' });
  it('window size and offset', () => {
    expect(() => TumblingEventTimeWindows.of(0)).toThrow(/size above 0 ms/);
    expect(() => TumblingEventTimeWindows.of(-5)).toThrow(/size above 0 ms/);
    expect(() => TumblingEventTimeWindows.of(10, 10)).toThrow(/offset must be/);
  });
  it('unknown fields and wrong types', () => {
    const s = env().fromRecords(clicks, CLICKS, WatermarkStrategy.forMonotonousTimestamps<(typeof clicks)[number]>().withTimestampAssigner('at'));
    expect(() => s.keyBy('nope' as 'user')).toThrow(/no field 'nope'.*fields are: user, page, ms, at/);
    expect(() => s.keyBy('user').window(TumblingEventTimeWindows.of(10)).aggregate({ x: agg.sum('page') })).toThrow(/needs a numeric field/);
    expect(() => s.keyBy('user').window(TumblingEventTimeWindows.of(10)).aggregate({ user: agg.count() })).toThrow(/two fields named 'user'/);
    expect(() => env().fromRecords(clicks, CLICKS, WatermarkStrategy.forMonotonousTimestamps<(typeof clicks)[number]>().withTimestampAssigner('user'))).toThrow(
      /timestamp field 'user' is utf8/,
    );
    expect(() => env().fromRecords(clicks, { a: 'int' } as never)).toThrow(/unknown type 'int'/);
  });
  it('an event-time window without timestamps', () => {
    expect(() => env().fromRecords(clicks, CLICKS).keyBy('user').window(TumblingEventTimeWindows.of(10))).toThrow(/needs event timestamps/);
  });
  it('a job without a sink', async () => {
    const e = env();
    e.fromRecords(clicks, CLICKS);
    await expect(e.execute()).rejects.toThrow(/no sink/);
  });
  it('explain() shows the plan with partitioning and projection', () => {
    const e = env();
    e.fromRecords(clicks, CLICKS, WatermarkStrategy.forMonotonousTimestamps<(typeof clicks)[number]>().withTimestampAssigner('at'))
      .keyBy('user')
      .window(TumblingEventTimeWindows.of(10))
      .aggregate({ n: agg.count() })
      .sinkTo(new CollectSink());
    const text = e.explain();
    expect(text).toMatch(/--HASH\(user\)--> #2 Window\(TumblingEventTimeWindows\(10 ms\)\) aggregate \[n=count\(\)\]/);
    expect(e.explain('mermaid')).toMatch(/^flowchart LR/);
  });
});

describe('file connectors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-test-'));
  const SCHEMA = { id: 'i64', name: 'utf8?', score: 'f64', ok: 'bool', at: 'timestamp' } as const;

  it('JSONL in, JSONL and CSV out, identical on both engines', async () => {
    const input = join(dir, 'in.jsonl');
    writeFileSync(
      input,
      [
        '{"id": 1, "name": "a,\\"b\\"", "score": 1.5, "ok": true, "at": 100}',
        '{"id": "9007199254740993", "name": null, "score": -2, "ok": false, "at": 200}',
        '',
        '{"id": 3, "name": "ünï", "score": 0.25, "ok": true, "at": 300}',
      ].join('\n'),
    );
    await onBothEngines(async (engine) => {
      const env = StreamEnvironment.create({ engine });
      const s = env.fromSource(FileSource.jsonl(input, SCHEMA));
      s.sinkTo(FileSink.jsonl(join(dir, `out-${engine}.jsonl`)));
      s.sinkTo(FileSink.csv(join(dir, `out-${engine}.csv`)));
      await env.execute();
      return [readFileSync(join(dir, `out-${engine}.jsonl`), 'utf8'), readFileSync(join(dir, `out-${engine}.csv`), 'utf8')];
    });
    // An i64 beyond 2^53 given as a decimal string stays exact all the way to the files.
    expect(readFileSync(join(dir, 'out-native.jsonl'), 'utf8')).toBe(
      [
        '{"id":1,"name":"a,\\"b\\"","score":1.5,"ok":true,"at":100}',
        '{"id":9007199254740993,"name":null,"score":-2,"ok":false,"at":200}',
        '{"id":3,"name":"ünï","score":0.25,"ok":true,"at":300}',
        '',
      ].join('\n'),
    );
    expect(readFileSync(join(dir, 'out-native.csv'), 'utf8')).toBe('id,name,score,ok,at\n1,"a,""b""",1.5,true,100\n9007199254740993,,-2,false,200\n3,ünï,0.25,true,300\n');
  });

  it('a bad line is an error naming the file, line and field', async () => {
    const input = join(dir, 'bad.jsonl');
    writeFileSync(input, '{"id": 1, "name": "a", "score": 1, "ok": true, "at": 1}\n{"id": "x", "name": "b", "score": 1, "ok": true, "at": 2}\n');
    const env = StreamEnvironment.create({ engine: 'ts' });
    env.fromSource(FileSource.jsonl(input, SCHEMA)).sinkTo(new CollectSink());
    await expect(env.execute()).rejects.toThrow(`file '${input}', line 2, field 'id': expected an i64, got string "x"`);
    writeFileSync(input, '{"id": 1, "name": "a", "score": 1, "ok": true, "at": 1}\n{"id": 2,\n');
    const env2 = StreamEnvironment.create({ engine: 'ts' });
    env2.fromSource(FileSource.jsonl(input, SCHEMA)).sinkTo(new CollectSink());
    await expect(env2.execute()).rejects.toThrow(`file '${input}', line 2: malformed JSON`);
    // An unquoted integer beyond 2^53 is read exactly on both engines (JSON.parse alone would round it).
    writeFileSync(input, '{"id": 9007199254740993, "name": "a", "score": 1, "ok": true, "at": -9223372036854775808}\n');
    await onBothEngines(async (engine) => {
      const env3 = StreamEnvironment.create({ engine });
      env3.fromSource(FileSource.jsonl(input, SCHEMA)).sinkTo(FileSink.jsonl(join(dir, `exact-${engine}.jsonl`)));
      await env3.execute();
      const text = readFileSync(join(dir, `exact-${engine}.jsonl`), 'utf8');
      expect(text).toBe('{"id":9007199254740993,"name":"a","score":1,"ok":true,"at":-9223372036854775808}\n');
      return text;
    });
    // A float-looking integer beyond 2^53 (1e20) is not an exact integer: rejected, with the fix.
    writeFileSync(input, '{"id": 1e20, "name": "a", "score": 1, "ok": true, "at": 1}\n');
    const env4 = StreamEnvironment.create({ engine: 'ts' });
    env4.fromSource(FileSource.jsonl(input, SCHEMA)).sinkTo(new CollectSink());
    await expect(env4.execute()).rejects.toThrow(/line 1, field 'id'.*beyond ±2\^53.*decimal string/);
  });

  it('bad lines go to the dead-letter file when one is configured, and are counted', async () => {
    const input = join(dir, 'mixed.jsonl');
    const dead = join(dir, 'dead.jsonl');
    writeFileSync(
      input,
      [
        '{"id": 1, "name": "a", "score": 1, "ok": true, "at": 1}',
        'not json',
        '{"id": 2, "name": "b", "score": "high", "ok": true, "at": 2}',
        '{"id": 3, "score": 3, "ok": false, "at": 3}',
        '{"id": 4, "name": "d", "score": 4, "ok": true}',
      ].join('\n'),
    );
    await onBothEngines(async (engine) => {
      const env = StreamEnvironment.create({ engine });
      const sink = new CollectSink();
      env.fromSource(FileSource.jsonl(input, SCHEMA, { deadLetterPath: dead })).sinkTo(sink);
      const result = await env.execute();
      expect(result.deadLetters).toBe(3);
      expect(sink.records.map((r) => (r as { id: number }).id)).toEqual([1, 3]);
      const lines = readFileSync(dead, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { line: number; error: string });
      expect(lines.map((l) => l.line)).toEqual([2, 3, 5]);
      expect(lines[1]!.error).toMatch(/line 3, field 'score': expected an f64 number/);
      expect(lines[2]!.error).toMatch(/line 5, field 'at': is missing but the field is not nullable/);
      return sink.records;
    });
  });
});

describe('environment', () => {
  it('a second execute() runs only the sinks added since the first', async () => {
    const env = StreamEnvironment.create({ engine: 'ts' });
    const a = new CollectSink();
    const src = env.fromRecords(clicks, CLICKS);
    src.sinkTo(a);
    const r1 = await env.execute('first');
    const b = new CollectSink();
    src.filter((c) => c.user === 'ann').sinkTo(b);
    const r2 = await env.execute('second');
    expect(a.records).toHaveLength(6);
    expect(b.records).toHaveLength(3);
    expect(r1.operators.map((o) => o.name)).toEqual(['Source: records', 'Sink: collect']);
    expect(r2.operators.map((o) => o.name)).toEqual(['Source: records', 'Filter', 'Sink: collect']);
  });
});

describe('sources, time and collect() at the edges', () => {
  /** A source whose batches carry event time (like a generator), built from records. */
  function timedSource(rows: object[], spec: Record<string, string>, times: bigint[], declared?: Record<string, string>) {
    const schema = Schema.from(spec as never);
    return {
      name: 'timed',
      schema: Schema.from((declared ?? spec) as never),
      hasEventTime: true,
      supportsProjection: false,
      open: () => {
        let done = false;
        return {
          next: () => {
            if (done) return null;
            done = true;
            return batchFromRecords(rows, schema).withEventTime(BigInt64Array.from(times));
          },
          close: () => undefined,
        };
      },
    };
  }

  it('a timestamp assigner function sees whole records even where the planner narrows sources', async () => {
    await onBothEngines(async (engine) => {
      const env = StreamEnvironment.create({ engine });
      const sink = new CollectSink();
      env
        .fromSource(NexmarkSource.bids({ events: 2000 }), WatermarkStrategy.forBoundedOutOfOrderness<Bid>(0).withTimestampAssigner((b) => b.dateTime + 1))
        .keyBy('auction')
        .window(TumblingEventTimeWindows.of(1000))
        .aggregate({ n: agg.count() })
        .sinkTo(sink);
      expect(env.explain()).not.toContain('[reads');
      await env.execute();
      expect(sink.records.reduce((s, r) => s + (r as { n: number }).n, 0)).toBe(1840);
      return sink.records;
    });
  });

  it('event time beyond ±2^53 ms from a source is rejected, naming the source and record', async () => {
    for (const engine of ['native', 'ts'] as const) {
      const env = StreamEnvironment.create({ engine });
      env.fromSource(timedSource([{ k: 1 }, { k: 2 }], { k: 'i32' }, [1n, 2n ** 60n])).keyBy('k').window(TumblingEventTimeWindows.of(10)).aggregate({ n: agg.count() }).sinkTo(new CollectSink());
      await expect(env.execute()).rejects.toThrow("timed, record 1, field '(event time)': timestamp 1152921504606846976 ms is outside ±2^53 ms");
    }
  });

  it('a source whose batches do not match its declared schema fails loudly', async () => {
    const env = StreamEnvironment.create({ engine: 'native' });
    env.fromSource(timedSource([{ k: 1 }], { k: 'i64' }, [1n], { k: 'f64' })).keyBy('k').window(TumblingEventTimeWindows.of(10)).aggregate({ n: agg.count() }).sinkTo(new CollectSink());
    await expect(env.execute()).rejects.toThrow("produced a batch of { k: i64 } but declared { k: f64 }");
  });

  it('min and max propagate NaN (as Java Math.min/max do) on both engines', async () => {
    await onBothEngines(async (engine) => {
      const env = StreamEnvironment.create({ engine });
      const sink = new CollectSink();
      const rows = [
        { k: 1, v: 1, t: 1 },
        { k: 1, v: NaN, t: 2 },
        { k: 1, v: 3, t: 3 },
        { k: 2, v: NaN, t: 4 },
        { k: 3, v: 2, t: 5 },
      ];
      env
        .fromRecords(rows, { k: 'i32', v: 'f64', t: 'timestamp' }, WatermarkStrategy.noWatermarks<(typeof rows)[number]>().withTimestampAssigner('t'))
        .keyBy('k')
        .window(TumblingEventTimeWindows.of(10))
        .aggregate({ lo: agg.min('v'), hi: agg.max('v') })
        .sinkTo(sink);
      await env.execute();
      expect(sink.records.map((r) => [(r as { lo: number }).lo, (r as { hi: number }).hi])).toEqual([
        [NaN, NaN],
        [NaN, NaN],
        [2, 2],
      ]);
      return sink.records;
    });
  });

  it('collect() beside execute(): each runs its own sinks, nothing hangs', async () => {
    const env = StreamEnvironment.create({ engine: 'ts', batchSize: 1 });
    const many = Array.from({ length: 100 }, (_, i) => ({ ...clicks[0]!, ms: i }));
    const s = env.fromRecords(many, CLICKS);
    const other = new CollectSink();
    s.sinkTo(other);
    const it = s.collect();
    await env.execute('the sink only');
    expect(other.records).toHaveLength(100);
    let n = 0;
    for await (const _ of it) n++;
    expect(n).toBe(100);
  });

  it('leaving a collect() loop early stops the job', async () => {
    const env = StreamEnvironment.create({ engine: 'ts', batchSize: 10 });
    let mapped = 0;
    const many = Array.from({ length: 10_000 }, (_, i) => ({ ...clicks[0]!, ms: i }));
    for await (const r of env.fromRecords(many, CLICKS).map((c) => (mapped++, c)).collect()) {
      expect(r.ms).toBe(0);
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
    expect(mapped).toBeLessThan(10_000);
  });
});

describe('metrics', () => {
  it('a slow sink shows up as backpressure on the operators before it, and as blocked time on the sink', async () => {
    const env = StreamEnvironment.create({ engine: 'native', batchSize: 10 });
    const slow = {
      name: 'slow',
      open: () => ({ write: () => new Promise<void>((r) => setTimeout(r, 20)), close: () => undefined }),
    };
    const many = Array.from({ length: 200 }, (_, i) => ({ ...clicks[0]!, ms: i }));
    env.fromRecords(many, CLICKS).filter((c) => c.ms >= 0).sinkTo(slow);
    const reports: Progress[] = [];
    const result = await env.execute('slow', { progress: (p) => reports.push(p), progressIntervalMs: 60 });
    const seen = reports.find((p) => p.backpressured !== null);
    expect(seen?.backpressured).toMatchObject({ blockedBy: 'Sink: slow' });
    expect(['Source: records', 'Filter']).toContain(seen!.backpressured!.operator);
    const byName = Object.fromEntries(result.operators.map((o) => [o.name, o]));
    expect(byName['Sink: slow']!.blockedMs).toBeGreaterThan(300);
    expect(byName['Source: records']!.backpressuredMs).toBeGreaterThan(300);
    expect(byName['Filter']!.busyMs).toBeLessThan(byName['Filter']!.backpressuredMs);
    expect(result.operators.every((o) => o.subtask === 0)).toBe(true);
  });
});
