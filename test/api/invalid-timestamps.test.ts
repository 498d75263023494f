import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agg, CollectSink, StreamEnvironment, TumblingEventTimeWindows, WatermarkStrategy } from '../../ts/index.js';
import { onBothEngines } from '../engines.js';

const SCHEMA = { k: 'i64', t: 'timestamp?' } as const;
type Ev = { k: number; t: number | null };
const evs: Ev[] = [
  { k: 1, t: 10 },
  { k: 1, t: null },
  { k: 2, t: 20 },
  { k: 2, t: 30 },
];

describe('records without a valid timestamp', () => {
  it('go to the dead-letter file when one is configured, and are counted, on both engines', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-ts-dl-'));
    await onBothEngines(async (engine) => {
      const path = join(dir, `${engine}.jsonl`);
      const env = StreamEnvironment.create({ engine, batchSize: 2 });
      const sink = new CollectSink();
      env
        .fromRecords(evs, SCHEMA, WatermarkStrategy.forMonotonousTimestamps<Ev>().withTimestampAssigner('t').withInvalidTimestampsTo(path))
        .keyBy('k')
        .window(TumblingEventTimeWindows.of(100))
        .aggregate({ n: agg.count() })
        .sinkTo(sink);
      const r = await env.execute();
      expect(r.deadLetters).toBe(1);
      expect(sink.records).toEqual([
        { k: 1, windowStart: 0, windowEnd: 100, n: 1 },
        { k: 2, windowStart: 0, windowEnd: 100, n: 2 },
      ]);
      const lines = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines).toEqual([
        { source: 'Source: records', record: 1, field: 't', error: "Source: records, record 1, field 't': has no valid timestamp (null); every record needs its event time", raw: '{"k":1,"t":null}' },
      ]);
      return sink.records;
    });
  });

  it('from a timestamp function: invalid results are dead-lettered with the record', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'sluice-ts-dl-')), 'dl.jsonl');
    const env = StreamEnvironment.create({ engine: 'native' });
    const sink = new CollectSink();
    env
      .fromRecords(evs, SCHEMA)
      .assignTimestampsAndWatermarks(WatermarkStrategy.forMonotonousTimestamps<Ev>().withTimestampAssigner((e) => (e.t === null ? NaN : e.t * 2 ** 50)).withInvalidTimestampsTo(path))
      .sinkTo(sink);
    const r = await env.execute();
    const errors = readFileSync(path, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { error: string }).error);
    expect(r.deadLetters).toBe(4);
    expect(errors[0]).toContain("record 0, field '(timestamp assigner)': the timestamp assigner returned 11258999068426240; it must return ms since the epoch as a whole number within ±2^53");
    expect(errors[1]).toContain('the timestamp assigner returned NaN');
    expect(sink.records).toEqual([]);
  });

  it('without a dead-letter file fail the job, naming source, record and field', async () => {
    const env = StreamEnvironment.create({ engine: 'ts' });
    env.fromRecords(evs, SCHEMA, WatermarkStrategy.forMonotonousTimestamps<Ev>().withTimestampAssigner('t')).sinkTo(new CollectSink());
    await expect(env.execute()).rejects.toThrow("Source: records, record 1, field 't': has no valid timestamp (null)");
  });
});
