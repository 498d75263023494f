// The records of an application's repartition topic (ts/connectors/kafka/repartition-records.ts):
// rows go to the partition of their key group's range, each record a batch in the wire format
// (event time and nulls included) that decodes to exactly the rows sent; watermark and end
// records; a downstream watermark is the minimum over the upstream tasks.
import { describe, expect, it } from 'vitest';
import { batchFromRecords } from '../../ts/batch/builder.js';
import { Schema } from '../../ts/batch/schema.js';
import { keyFnGroup, keyGroups } from '../../ts/keys/key-groups.js';
import type { Row } from '../../ts/batch/record-batch.js';
import { decodeRecord, endRecords, idleRecords, partitionOfKeyGroup, repartitionTopic, rowRecords, UpstreamWatermarks, watermarkRecords } from '../../ts/connectors/kafka/repartition-records.js';

const schema = Schema.from({ user: 'i64', name: 'utf8?', amount: 'f64', ts: 'timestamp' });

function rows(n: number): { user: number; name: string | null; amount: number; ts: number }[] {
  return Array.from({ length: n }, (_, i) => ({ user: i % 37, name: i % 5 === 0 ? null : `n${i}`, amount: i / 4, ts: 1_700_000_000_000 + i }));
}

describe('repartition records', () => {
  it('each row goes to the partition of its key group range, and the records decode to exactly the rows sent, event time included', () => {
    const input = rows(500);
    const batch = batchFromRecords(input, schema);
    const withTime = batch.withEventTime(BigInt64Array.from(input, (r) => BigInt(r.ts) * 2n));
    const maxParallelism = 128;
    const partitions = 6;
    const records = rowRecords(withTime, [0], maxParallelism, partitions, 4);
    expect(records.length).toBeGreaterThan(1);
    const back: unknown[] = [];
    const times: bigint[] = [];
    for (const r of records) {
      const d = decodeRecord(r.value, schema, 'test');
      if (d.kind !== 'rows') throw new Error(`rows expected, got ${d.kind}`);
      expect(d.task).toBe(4);
      for (const g of keyGroups(d.batch, [0], maxParallelism)) expect(partitionOfKeyGroup(g, maxParallelism, partitions)).toBe(r.partition);
      back.push(...d.batch.toRecords().map((x) => ({ ...x })));
      times.push(...d.batch.eventTime!);
    }
    const key = (r: unknown): string => JSON.stringify(r);
    expect(back.map(key).sort()).toEqual(input.map((r) => key({ ...r })).sort());
    expect(times.map(String).sort()).toEqual(input.map((r) => String(BigInt(r.ts) * 2n)).sort());
  });

  it('without key fields (an unkeyed input of a cut), all rows of an upstream task go to one partition, its index mod the count, in order', () => {
    const input = rows(50);
    const batch = batchFromRecords(input, schema);
    for (const [task, partition] of [[1, 1], [4, 0], [5, 1]] as const) {
      const records = rowRecords(batch, [], 128, 4, task);
      expect(records.map((r) => r.partition)).toEqual([partition]);
      const d = decodeRecord(records[0]!.value, schema, 'test');
      if (d.kind !== 'rows') throw new Error(`rows expected, got ${d.kind}`);
      expect(d.task).toBe(task);
      expect(d.batch.toRecords().map((x) => ({ ...x }))).toEqual(input);
    }
  });

  it('by a key selector (a join keyed by a function), each row goes to the partition of its selected key\'s group, as a keyFn exchange', () => {
    const input = rows(300);
    const selector = (r: Row): unknown => `${r.user as number}-${(r.user as number) % 3}`;
    const records = rowRecords(batchFromRecords(input, schema), selector, 128, 4, 2);
    expect(records.length).toBeGreaterThan(1);
    let n = 0;
    for (const r of records) {
      const d = decodeRecord(r.value, schema, 'test');
      if (d.kind !== 'rows') throw new Error(`rows expected, got ${d.kind}`);
      for (const row of d.batch.toRecords()) expect(partitionOfKeyGroup(keyFnGroup(selector(row), 128), 128, 4)).toBe(r.partition);
      n += d.batch.length;
    }
    expect(n).toBe(300);
  });

  it('key-group ranges cover the partitions in order; a topic name from the application and the operator', () => {
    const seen = Array.from({ length: 128 }, (_, g) => partitionOfKeyGroup(g, 128, 6));
    expect(seen[0]).toBe(0);
    expect(seen[127]).toBe(5);
    for (let g = 1; g < 128; g++) expect(seen[g]! - seen[g - 1]!).toBeGreaterThanOrEqual(0);
    expect(new Set(seen).size).toBe(6);
    expect(repartitionTopic('orders-app', 'window by user')).toBe('orders-app-window_by_user-repartition');
  });

  it('watermark and end records, and a downstream watermark that is the minimum over the upstream tasks', () => {
    const w = watermarkRecords(3, 2, 12_345);
    expect(w.map((r) => r.partition)).toEqual([0, 1, 2]);
    expect(decodeRecord(w[1]!.value, schema, 'test')).toEqual({ kind: 'watermark', task: 2, watermark: 12_345 });
    expect(decodeRecord(endRecords(2, 1)[0]!.value, schema, 'test')).toEqual({ kind: 'end', task: 1 });

    const m = new UpstreamWatermarks(3);
    expect(m.observe(0, 100)).toBeNull(); // tasks 1 and 2 not heard from: held back
    expect(m.observe(1, 50)).toBeNull();
    expect(m.observe(2, 70)).toBe(50);
    expect(m.observe(1, 80)).toBe(70);
    expect(m.observe(1, 10)).toBeNull(); // a replayed older watermark does not go back
    expect(m.watermark).toBe(70);
    const saved = m.snapshot();
    expect(m.end(2)).toBe(80);
    const restored = new UpstreamWatermarks(3);
    restored.restore(saved);
    expect(restored.watermark).toBe(70);
    expect(() => m.observe(3, 1)).toThrow(/upstream task 3, but the sub-topology has tasks 0..2/);
  });

  it('idle upstream tasks are left out of the downstream watermark, until they send again; a checkpoint keeps them', () => {
    const r = idleRecords(2, 1, true);
    expect(r.map((x) => x.partition)).toEqual([0, 1]);
    expect(decodeRecord(r[0]!.value, schema, 'test')).toEqual({ kind: 'idle', task: 1, idle: true });
    expect(decodeRecord(idleRecords(1, 0, false)[0]!.value, schema, 'test')).toEqual({ kind: 'idle', task: 0, idle: false });

    const m = new UpstreamWatermarks(3);
    expect(m.observe(0, 100)).toBeNull();
    expect(m.setIdle(1, true)).toBeNull(); // task 2 not heard from yet
    expect(m.observe(2, 60)).toBe(60); // task 1, never heard from, is idle: left out
    expect(m.observe(2, 120)).toBe(100);
    expect(m.setIdle(0, true)).toBe(120);
    expect(m.setIdle(2, true)).toBeNull(); // every task idle: the watermark stays
    expect(m.watermark).toBe(120);
    expect(m.setIdle(0, false)).toBeNull(); // active again below it: no going back, held until it catches up
    expect(m.observe(2, 200)).toBeNull(); // a watermark makes task 2 active again; task 0 holds at 100
    expect(m.observe(0, 150)).toBe(150);
    // Task 1 idle, the others ended: the end waits for task 1, which may still send.
    expect(m.end(0)).toBe(200);
    expect(m.end(2)).toBeNull();
    expect(m.idleTasks()).toEqual([1]);
    const restored = new UpstreamWatermarks(3);
    restored.restore(m.snapshot(), m.idleTasks(), m.watermark);
    expect(restored.watermark).toBe(200);
    expect(restored.idleTasks()).toEqual([1]);
    restored.rowsFrom(1); // rows of task 1 (restored upstream, no idle record first): active, at -Infinity
    expect(restored.idleTasks()).toEqual([]);
    expect(restored.observe(1, 300)).toBe(300);
    // A checkpoint from before idleness: no idle tasks, the minimum.
    const old = new UpstreamWatermarks(2);
    old.restore([5, 9]);
    expect([old.watermark, old.idleTasks()]).toEqual([5, []]);
    expect(() => m.setIdle(3, true)).toThrow(/upstream task 3/);
  });

  it('once every task left is idle, the watermark is the highest of theirs, whichever went idle first', () => {
    // Task 0 sent its watermark and went idle before task 1, never heard from, did: the order an
    // application's tasks can take when the idle one starts late (found as an intermittent
    // failure of the idle-partition application test).
    const m = new UpstreamWatermarks(2);
    expect(m.observe(0, 100)).toBeNull();
    expect(m.setIdle(0, true)).toBeNull(); // task 1 still active, at -Infinity
    expect(m.setIdle(1, true)).toBe(100);
    expect(m.setIdle(1, false)).toBeNull(); // active again below it: no going back
    expect(m.observe(1, 150)).toBe(150);
    // With an ended task: the highest of the idle ones, not the end.
    const e = new UpstreamWatermarks(3);
    expect(e.observe(0, 40)).toBeNull();
    expect(e.end(2)).toBeNull();
    expect(e.setIdle(0, true)).toBeNull();
    expect(e.setIdle(1, true)).toBe(40);
    expect(e.watermark).toBe(40);
  });

  it('refuses a record that is not a repartition record, and rows of another schema, loudly', () => {
    expect(() => decodeRecord(Buffer.from('{"user":1}'), schema, 'repartition topic t partition 0 offset 7')).toThrow(/repartition topic t partition 0 offset 7: a record that is not a Sluice repartition record/);
    const [r] = rowRecords(batchFromRecords(rows(3), schema), [0], 128, 1, 0);
    expect(() => decodeRecord(r!.value, Schema.from({ user: 'i64' }), 'where')).toThrow(/where: a batch arrived with the schema/);
  });
});
