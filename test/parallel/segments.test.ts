/**
 * The exchange's segments: the layout both engines compute alike, the partitioner writing rows
 * into segments (the consumer's views equal the hash partitioner's parts, on both engines),
 * the pool (exhaustion, a taker waiting until another thread gives one back), and the channel
 * carrying segments and control messages in order between real worker threads.
 */

import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { batchFromRecords } from '../../ts/batch/builder.js';
import { takeColumn, takeEventTime } from '../../ts/batch/column.js';
import { RecordBatch } from '../../ts/batch/record-batch.js';
import { Schema } from '../../ts/batch/schema.js';
import { isBorrowed, ownedBatch, segmentBatch, segmentLayout } from '../../ts/batch/segment.js';
import type { EngineName, SegmentIo } from '../../ts/engine/engine.js';
import { NativeEngine } from '../../ts/engine/native/engine.js';
import { selectEngine } from '../../ts/engine/select.js';
import { encodeBatch } from '../../ts/engine/ts/codec.js';
import { hashPartition } from '../../ts/engine/ts/partition.js';
import type { Message } from '../../ts/runtime/exchange.js';
import { createRing, RING_ENTRIES, SegmentChannel } from '../../ts/runtime/segment-channel.js';
import { SegmentPool } from '../../ts/runtime/segment-pool.js';
import { ENGINES, requireNative, rng } from '../engines.js';

const r = rng(11);
const schema = Schema.from({ id: 'i64', name: 'utf8?', score: 'f64', ok: 'bool', n: 'i32?', at: 'timestamp' });
const records = Array.from({ length: 5000 }, (_, i) => ({
  id: Math.floor(r() * 300) - 100,
  // Text of 0 to 59 bytes that differs by row and position (a byte copied from the wrong place shows), some not ASCII.
  name: r() < 0.1 ? null : `${i}:${'abcdefghijklmnopqrstuvwxyzäöü'.repeat(3)}`.slice(0, Math.floor(r() * 60)),
  score: Math.floor(r() * 20) / 4,
  ok: r() < 0.5,
  n: r() < 0.2 ? null : i,
  at: i,
}));
const batch = batchFromRecords(records, schema).withEventTime(BigInt64Array.from(records.map((x) => BigInt(x.at))));
const wire = (b: RecordBatch): string => Buffer.from(encodeBatch(b)).toString('base64');

describe('segment layout', () => {
  it('is the same on both engines, with regions inside the segment that do not overlap', () => {
    requireNative();
    const native = selectEngine('native') as NativeEngine;
    for (const s of [schema, Schema.from({ a: 'i64' }), Schema.from({ a: 'utf8', b: 'utf8?', c: 'bool' }), Schema.from({ a: 'i32', b: 'bool?' })]) {
      for (const bytes of [256, 4096, 32 * 1024, 256 * 1024]) {
        const l = segmentLayout(s, bytes);
        expect(native.segmentLayoutNumbers(s, bytes)).toEqual([l.capacity, l.headerBytes, l.eventTime, ...l.columns.flatMap((c) => [c.validity, c.values, c.data, c.dataBytes])]);
        expect(l.capacity).toBeGreaterThan(0);
        const spans: [number, number][] = [[0, l.headerBytes], [l.eventTime, l.eventTime + 8 * l.capacity]];
        s.fields.forEach((f, k) => {
          const c = l.columns[k]!;
          spans.push([c.validity, c.validity + Math.ceil(l.capacity / 8)]);
          const w = f.type === 'i32' ? 4 * l.capacity : f.type === 'utf8' ? 4 * (l.capacity + 1) : f.type === 'bool' ? Math.ceil(l.capacity / 8) : 8 * l.capacity;
          spans.push([c.values, c.values + w]);
          if (f.type === 'utf8') spans.push([c.data, c.data + c.dataBytes]);
        });
        spans.sort((a, b) => a[0] - b[0]);
        for (let i = 0; i < spans.length; i++) {
          expect(spans[i]![1]).toBeLessThanOrEqual(i + 1 < spans.length ? spans[i + 1]![0] : bytes);
          expect(spans[i]![0] % 8).toBe(0);
        }
      }
    }
    expect(() => segmentLayout(Schema.from({ a: 'utf8' }), 64)).toThrow(/cannot hold one row/);
  });
});

/** Scatters `batches` in turn (one writer: a target's segment goes on across batches) with few spares (so the writer stops and goes on), returns each target's segments' views in order. */
function scatterAll(engine: EngineName, batches: RecordBatch | readonly RecordBatch[], p: number, segmentBytes: number): RecordBatch[][] {
  const eng = selectEngine(engine);
  const list = batches instanceof RecordBatch ? [batches] : batches;
  const s = list[0]!.schema;
  const pool = SegmentPool.create(1000, segmentBytes);
  const layout = segmentLayout(s, segmentBytes);
  const io: SegmentIo = { cur: new Int32Array(p).fill(-1), spares: new Int32Array(3), full: new Int32Array(1 + 2 * (2 + p)) };
  const out: RecordBatch[][] = Array.from({ length: p }, () => []);
  const view = (seg: number): RecordBatch => segmentBatch(pool.memory, pool.base(seg), layout, s);
  let calls = 0;
  for (const b of list) {
    const targets = new Uint32Array(b.length);
    for (let row = 0; row < b.length; ) {
      while (io.spares[0]! < 2) io.spares[++io.spares[0]!] = pool.tryAcquire();
      io.full[0] = 0;
      row = eng.scatterToSegments(b, { kind: 'hash', keyFields: [0], maxParallelism: 128, targets }, pool.bytes, layout, io, row);
      for (let f = 0; f < io.full[0]!; f++) out[io.full[1 + 2 * f]!]!.push(view(io.full[2 + 2 * f]!));
      calls++;
    }
  }
  for (let t = 0; t < p; t++) if (io.cur[t]! >= 0) out[t]!.push(view(io.cur[t]!));
  expect(calls).toBeGreaterThan(1);
  return out;
}

/**
 * At p = 1, 2 and 3: both engines fill segments of the same sizes and event times from `batches`
 * (scattered in turn), and each target's rows are the hash partitioner's part.
 */
function expectSameSegments(batches: readonly RecordBatch[], segmentBytes: number, label: string): void {
  const s = batches[0]!.schema;
  for (const p of [1, 2, 3]) {
    const [nat, ts] = ENGINES.map((engine) =>
      scatterAll(engine, batches, p, segmentBytes).map((segs) => ({
        sizes: segs.map((x) => x.length),
        rows: wire(RecordBatch.concat(s, segs)),
        times: segs.map((x) => (x.eventTime === null ? '-' : x.eventTime.join(','))).join(';'),
      })),
    );
    const parts = hashPartition(RecordBatch.concat(s, batches), [0], p, 128);
    for (let t = 0; t < p; t++) {
      const at = `${label}p=${p}, target ${t}`;
      expect(ts![t]!.sizes, at).toEqual(nat![t]!.sizes);
      expect(ts![t]!.times, at).toEqual(nat![t]!.times);
      expect(nat![t]!.rows, at).toEqual(wire(parts[t]!));
      expect(ts![t]!.rows, at).toEqual(wire(parts[t]!));
    }
  }
}

describe('the partitioner writing into segments', () => {
  it('gives each target its rows in order, as the hash partitioner does, on both engines', () => {
    requireNative();
    for (const engine of ENGINES) {
      for (const p of [1, 2, 3]) {
        const parts = hashPartition(batch, [0], p, 128);
        const segs = scatterAll(engine, batch, p, 4096);
        for (let t = 0; t < p; t++) {
          expect(segs[t]!.every((s) => s.length > 0 && isBorrowed(s))).toBe(true);
          expect(wire(RecordBatch.concat(schema, segs[t]!))).toEqual(wire(parts[t]!));
        }
      }
    }
  });

  it('keeps an event time that is a column once, also where batches with their own event time follow into the same segments, on both engines', () => {
    requireNative();
    const at = (b: RecordBatch): BigInt64Array => (b.columns[5] as { values: BigInt64Array }).values;
    // The event time as the 'at' column itself (a source's timestamp field), then as an equal
    // copy: a segment that went on from the first kind moves its rows' times to its own region.
    const batches = [0, 1200, 2500, 3100].map((from, i, all) => {
      const part = batch.slice(from, all[i + 1] ?? batch.length);
      return part.withEventTime(i % 2 === 0 ? at(part) : at(part).slice());
    });
    for (const engine of ENGINES) {
      for (const p of [1, 2, 3]) {
        const parts = hashPartition(batch, [0], p, 128);
        const segs = scatterAll(engine, batches, p, 4096);
        for (let t = 0; t < p; t++) expect(wire(RecordBatch.concat(schema, segs[t]!)), `${engine}, p=${p}, target ${t}`).toEqual(wire(parts[t]!));
        // Segments filled only from the first batch read their event time as the column's own view.
        expect(segs[0]![0]!.eventTime).toBe(at(segs[0]![0]!));
        expect(segs.flat().some((x) => x.eventTime !== at(x))).toBe(true);
      }
    }
  });

  it('fills the same segments on both engines across batches of short texts, then long ones, then short again, then very long', () => {
    requireNative();
    // Short texts (at most the bytes reserved per row) let the native scatter place rows by count
    // alone; a held segment whose text ran long earlier, or a long text now, takes the walk.
    const tr = rng(5);
    // Long: 33 to 59 characters, some not ASCII; short: 24 to 32 ASCII bytes, so that a segment
    // whose earlier rows ran long fills its text before its rows; very long: 200 to 699 bytes
    // (the TS partitioner copies text past 256 bytes another way).
    const text = (i: number, long: boolean | 'very') =>
      long === 'very'
        ? `${i}:${'abcdefghijklmnopqrstuvwxyzäöü'.repeat(25)}`.slice(0, 200 + Math.floor(tr() * 500))
        : long
          ? `${i}:${'abcdefghijklmnopqrstuvwxyzäöü'.repeat(3)}`.slice(0, 33 + Math.floor(tr() * 27))
          : `${i}:${'abcdefghijklmnopqrstuvwxyz'.repeat(2)}`.slice(0, 24 + Math.floor(tr() * 9));
    const make = (from: number, long: boolean | 'very') =>
      batchFromRecords(
        Array.from({ length: 1500 }, (_, k) => ({ id: Math.floor(tr() * 300) - 100, name: tr() < 0.1 ? null : text(from + k, long), score: k / 4, ok: k % 3 === 0, n: k, at: from + k })),
        schema,
      ).withEventTime(BigInt64Array.from({ length: 1500 }, (_, k) => BigInt(from + k)));
    expectSameSegments([make(0, false), make(1500, true), make(3000, false), make(4500, false), make(6000, 'very')], 4096, '');
  });

  it('fills the same segments on both engines from rows with several text columns, each of its own length', () => {
    requireNative();
    // Two, three (the native walk keeps up to four columns' state in registers) and five text
    // columns (the general walk); lengths 0 to 160 bytes (copied natively as 16 or 128 bytes,
    // or past 128 another way), so that now one column fills its segment's text first, now another.
    const tr = rng(23);
    const word = (i: number, c: number): string => {
      const n = [0, 5, 16, 17, 31, 33, 63, 64, 65, 96, 127, 128, 129, 160][Math.floor(tr() * 14)]!;
      return `${i}/${c}:${'abcdefghijklmnopqrstuvwxyzäöü'.repeat(6)}`.slice(0, n);
    };
    for (const columns of [2, 3, 5]) {
      const fields: Record<string, 'i64' | 'utf8' | 'utf8?'> = { id: 'i64' };
      for (let c = 0; c < columns; c++) fields[`t${c}`] = c === 1 ? 'utf8?' : 'utf8';
      const s = Schema.from(fields);
      const make = (from: number) =>
        batchFromRecords(
          Array.from({ length: 1200 }, (_, k) => {
            const row: Record<string, number | string | null> = { id: Math.floor(tr() * 300) - 100 };
            for (let c = 0; c < columns; c++) row[`t${c}`] = c === 1 && tr() < 0.1 ? null : word(from + k, c);
            return row;
          }),
          s,
        );
      expectSameSegments([make(0), make(1200), make(2400)], 8192, `${columns} text columns, `);
    }
  });

  it('fills the same segments on both engines from batches of 8-byte columns only, whatever their event time, also after a batch with nulls', () => {
    requireNative();
    // Every value goes through the 8-byte copies; held segments go on from batches whose event
    // time is kept another way, or whose column had nulls.
    const wide = Schema.from({ id: 'i64', score: 'f64', at: 'timestamp', n: 'i64?' });
    const wr = rng(23);
    const make = (from: number, length: number, time: 'none' | 'column' | 'own', nulls: boolean) => {
      const b = batchFromRecords(
        Array.from({ length }, (_, k) => ({ id: Math.floor(wr() * 300) - 100, score: wr() * 8 - 4, at: from + k, n: nulls && k % 7 === 0 ? null : from * 3 + k })),
        wide,
      );
      const at = (b.columns[2] as { values: BigInt64Array }).values;
      return time === 'none' ? b : b.withEventTime(time === 'column' ? at : at.slice());
    };
    const runs: [string, RecordBatch[]][] = [
      ['no event time', [make(0, 2500, 'none', false), make(2500, 1700, 'none', false)]],
      ['event time a column', [make(0, 2500, 'column', false), make(2500, 1700, 'column', false)]],
      ['event time its own', [make(0, 2500, 'own', false), make(2500, 1700, 'own', false)]],
      ['column, then own, then column', [make(0, 1200, 'column', false), make(1200, 900, 'own', false), make(2100, 1300, 'column', false)]],
      ['nulls, then none', [make(0, 1000, 'column', false), make(1000, 800, 'column', true), make(1800, 2000, 'column', false)]],
    ];
    for (const [what, batches] of runs) expectSameSegments(batches, 4096, `${what}, `);
  });

  it('moves i64 values whose bits are NaNs, f64 NaNs with payloads and text made of their bytes, with their bits unchanged, on both engines, as does a filter\'s gather', () => {
    requireNative();
    // The TS partitioner copies 8-byte values as doubles: a NaN made quiet or canonical on the
    // way would change these i64 values and the f64 payloads.
    const sch = Schema.from({ id: 'i64', v: 'i64', x: 'f64', at: 'timestamp' });
    const patterns = [0x7ff0000000000001n, 0x7ff4000000000000n, 0x7ff8000000000001n, 0x7fffffffffffffffn, -0x000fffffffffffffn, -1n, -(2n ** 63n), 0x7ff0000000000000n];
    const n = 3000;
    const v = BigInt64Array.from({ length: n }, (_, i) => patterns[i % patterns.length]! + BigInt(i % 3 === 0 ? 0 : -(i % 5)));
    const xBits = BigInt64Array.from({ length: n }, (_, i) => patterns[(i + 3) % patterns.length]!);
    const x = new Float64Array(xBits.buffer);
    const b = new RecordBatch(
      sch,
      [
        { type: 'i64', values: BigInt64Array.from({ length: n }, (_, i) => BigInt((i * 7919) % 500)), validity: null },
        { type: 'i64', values: v, validity: null },
        { type: 'f64', values: x, validity: null },
        { type: 'timestamp', values: v.slice(), validity: null },
      ],
      n,
    ).withEventTime(v.slice());
    const bits = (f: Float64Array): bigint[] => Array.from(new BigInt64Array(f.buffer, f.byteOffset, f.length));
    for (const p of [1, 2, 3]) {
      const parts = hashPartition(b, [0], p, 128);
      for (const engine of ENGINES) {
        const segs = scatterAll(engine, b, p, 4096);
        for (let t = 0; t < p; t++) {
          const got = RecordBatch.concat(sch, segs[t]!);
          const want = parts[t]!;
          expect(wire(got), `${engine}, p=${p}, target ${t}`).toEqual(wire(want));
          expect(Array.from((got.columns[1] as { values: BigInt64Array }).values)).toEqual(Array.from((want.columns[1] as { values: BigInt64Array }).values));
          expect(bits((got.columns[2] as { values: Float64Array }).values)).toEqual(bits((want.columns[2] as { values: Float64Array }).values));
          expect(Array.from(got.eventTime!)).toEqual(Array.from(want.eventTime!));
        }
      }
      // Every value went somewhere, with its bits.
      expect(parts.flatMap((q) => Array.from((q.columns[1] as { values: BigInt64Array }).values)).sort()).toEqual(Array.from(v).sort());
    }
    // Text is copied in 8-byte pieces moved as doubles (TS): text whose bytes are those NaNs, at
    // every alignment and of lengths around the piece, arrives byte for byte on both engines.
    const st = Schema.from({ id: 'i64', s: 'utf8' });
    const nanBytes = new Uint8Array(new BigInt64Array(patterns).buffer);
    const lens = Array.from({ length: n }, (_, i) => (i * 7) % 41);
    const offsets = new Int32Array(n + 1);
    for (let i = 0; i < n; i++) offsets[i + 1] = offsets[i]! + lens[i]!;
    const data = Uint8Array.from({ length: offsets[n]! }, (_, j) => nanBytes[(j * 5 + (j >> 6)) % nanBytes.length]!);
    const tb = new RecordBatch(st, [{ type: 'i64', values: BigInt64Array.from({ length: n }, (_, i) => BigInt((i * 7919) % 500)), validity: null }, { type: 'utf8', offsets, data, validity: null }], n);
    const textBytes = (c: RecordBatch['columns'][number]): number[] => {
      const u = c as { offsets: Int32Array; data: Uint8Array };
      return Array.from(u.data.subarray(u.offsets[0]!, u.offsets[u.offsets.length - 1]!));
    };
    for (const p of [1, 2, 3]) {
      const parts = hashPartition(tb, [0], p, 128);
      for (const engine of ENGINES) {
        const segs = scatterAll(engine, tb, p, 4096);
        for (let t = 0; t < p; t++) {
          const got = RecordBatch.concat(st, segs[t]!);
          expect(Array.from((got.columns[1] as { offsets: Int32Array }).offsets), `${engine}, p=${p}, target ${t}`).toEqual(Array.from((parts[t]!.columns[1] as { offsets: Int32Array }).offsets));
          expect(textBytes(got.columns[1]!), `${engine}, p=${p}, target ${t}`).toEqual(textBytes(parts[t]!.columns[1]!));
        }
      }
    }
    // A filter's gather (takeColumn, takeEventTime) moves them as doubles too.
    const idx = Uint32Array.from({ length: 1000 }, (_, i) => (i * 3 + 1) % n);
    const want = Array.from(idx, (i) => v[i]!);
    expect(Array.from((takeColumn(b.columns[1]!, idx, idx.length) as { values: BigInt64Array }).values)).toEqual(want);
    expect(Array.from(takeEventTime(v, idx, idx.length))).toEqual(want);
  });

  it('refuses a row larger than a segment, with the same words on both engines', () => {
    requireNative();
    const big = batchFromRecords([{ s: 'y'.repeat(5000) }], Schema.from({ s: 'utf8' }));
    const msgs = ENGINES.map((engine) => {
      try {
        scatterAll(engine, big, 1, 4096);
      } catch (e) {
        return (e as Error).message;
      }
      return 'no error';
    });
    expect(msgs[0]).toMatch(/row 0 of the batch \(5000 bytes of text\) does not fit an exchange segment of 4096 bytes .* raise the exchange segment size/);
    expect(msgs[1]).toEqual(msgs[0]);
  });

  it('refuses a row larger than a segment also after rows that partly filled its target\'s segment', () => {
    requireNative();
    const big = batchFromRecords([{ s: 'x' }, { s: 'y'.repeat(5000) }], Schema.from({ s: 'utf8' }));
    const msgs = ENGINES.map((engine) => {
      try {
        scatterAll(engine, big, 1, 4096);
      } catch (e) {
        return (e as Error).message;
      }
      return 'no error';
    });
    expect(msgs[0]).toMatch(/row 1 of the batch \(5000 bytes of text\) does not fit an exchange segment of 4096 bytes .* raise the exchange segment size/);
    expect(msgs[1]).toEqual(msgs[0]);
  });

  it('ownedBatch copies a view out of shared memory, into one buffer, an event time that is a column kept as that column', () => {
    const segs = scatterAll('ts', batch, 2, 4096);
    const v = segs[0]![0]!;
    const before = wire(v);
    const o = ownedBatch(v);
    expect(isBorrowed(o)).toBe(false);
    expect(wire(o)).toEqual(before);
    expect(Array.from(o.eventTime!)).toEqual(Array.from(v.eventTime!));
    // (buffers() stands in an empty array for a column without nulls' validity)
    const buffers = new Set([...o.buffers(), o.eventTime!].filter((b) => b.byteLength > 0).map((b) => b.buffer));
    expect(buffers.size).toBe(1);
    // The segment's memory used again: the copy keeps its rows.
    for (const b of v.buffers()) new Uint8Array(b.buffer, b.byteOffset, b.byteLength).fill(0x5a);
    expect(wire(o)).toEqual(before);
    expect(ownedBatch(batch)).toBe(batch);
    // Event time in a column of the segment (as a source's timestamp column): the copy's too.
    const at = (v.columns[5] as { values: BigInt64Array }).values;
    const withColumnTime = ownedBatch(v.withEventTime(at));
    expect(withColumnTime.eventTime).toBe((withColumnTime.columns[5] as { values: BigInt64Array }).values);
  });
});

describe('the segment pool', () => {
  it('hands out each segment once, reports use, and refuses past its size', () => {
    const pool = SegmentPool.create(40, 1024);
    const got = Array.from({ length: 40 }, () => pool.tryAcquire());
    expect(new Set(got).size).toBe(40);
    expect(got.every((s) => s >= 0 && s < 40)).toBe(true);
    expect(pool.tryAcquire()).toBe(-1);
    expect(pool.used).toBe(40);
    pool.release(got[7]!);
    expect(pool.used).toBe(39);
    expect(pool.tryAcquire()).toBe(got[7]);
    expect(pool.peak).toBe(40);
    expect(() => pool.release(99)).toThrow(/not in this pool/);
    pool.release(3);
    expect(() => pool.release(3)).toThrow(/released twice/);
  });

  it('a taker waits while the pool is empty and goes on when another thread gives a segment back', async () => {
    const pool = SegmentPool.create(2, 1024);
    const a = pool.tryAcquire();
    pool.tryAcquire();
    let got = -2;
    const waiting = pool.acquire().then((s) => (got = s));
    await new Promise((go) => setTimeout(go, 50));
    expect(got).toBe(-2);
    const w = new Worker(
      `const { workerData, parentPort } = require('node:worker_threads');
       import(workerData.url).then(({ SegmentPool }) => { SegmentPool.attach(workerData.pool).release(workerData.seg); parentPort.postMessage('released'); });`,
      { eval: true, workerData: { url: new URL('../../dist/ts/runtime/segment-pool.js', import.meta.url).href, pool: pool.setup, seg: a } },
    );
    await new Promise((go) => w.once('message', go));
    await waiting;
    expect(got).toBe(a);
    await w.terminate();
  });
});

describe('the segment channel between worker threads', () => {
  for (const engine of ENGINES) {
    it(`carries batches with watermarks, barriers, idleness and the end in order (${engine}), under backpressure`, async () => {
      if (engine === 'native') requireNative();
      const pool = SegmentPool.create(16, 4096);
      const ring = createRing();
      const parts = [batch.slice(0, 1000), batch.slice(1000, 1001), batch.slice(1001, 5000)];
      const script = [
        { t: 'w', wm: 5 },
        { t: 'b', bytes: encodeBatch(parts[0]!) },
        { t: 'k', id: 1 },
        { t: 'i', idle: true },
        { t: 'b', bytes: encodeBatch(parts[1]!) },
        { t: 'w', wm: 9 },
        { t: 'b', bytes: encodeBatch(parts[2]!) },
        { t: 'e' },
      ];
      // One credit: the sender waits for every segment to be given back before the next.
      const w = new Worker(new URL('./segment-sender.mjs', import.meta.url), { workerData: { engine, pool: pool.setup, ring, credits: 1, script } });
      const rx = new SegmentChannel(ring, pool, schema, 1, selectEngine(engine), null);
      const seen: string[] = [];
      const rows: RecordBatch[] = [];
      await new Promise<void>((done) =>
        rx.onMessage((m: Message) => {
          if (m.t === 'b') {
            rows.push(ownedBatch(m.batch));
            seen.push('b');
            // Processed later: the sender meanwhile has no credit.
            setTimeout(() => rx.credit(), 1);
          } else seen.push(m.t === 'w' ? `w${m.wm}` : m.t === 'k' ? `k${m.id}` : m.t === 'i' ? `i${m.idle}` : 'e');
          if (m.t === 'e') done();
        }),
      );
      rx.close();
      await w.terminate();
      const compact = seen.join(' ').replace(/(b )+b|b/g, 'B');
      expect(compact).toBe('w5 B k1 itrue B w9 B e');
      expect(wire(RecordBatch.concat(schema, rows))).toEqual(wire(batch));
      await new Promise((go) => setTimeout(go, 20));
      expect(pool.used).toBe(0);
    });

    it(`holds what does not fit its ring until the receiver makes room, then delivers it in order (${engine})`, async () => {
      if (engine === 'native') requireNative();
      const pool = SegmentPool.create(16, 4096);
      const ring = createRing();
      // More entries than the ring holds, sent before the receiver reads any: the sender keeps the
      // rest and waits for room, which only the receiver's reading (on this thread) makes. The
      // batch fits one segment, within the channel's one credit.
      const before = Array.from({ length: 2 * RING_ENTRIES + 88 }, (_, i) => ({ t: 'w', wm: i + 1 }));
      const after = Array.from({ length: RING_ENTRIES + 44 }, (_, i) => ({ t: 'w', wm: before.length + i + 1 }));
      const script = [...before, { t: 'b', bytes: encodeBatch(batch.slice(0, 10)) }, ...after, { t: 'e' }];
      const w = new Worker(new URL('./segment-sender.mjs', import.meta.url), { workerData: { engine, pool: pool.setup, ring, credits: 1, script } });
      await new Promise((go) => w.once('message', go)); // everything sent or held back
      const rx = new SegmentChannel(ring, pool, schema, 1, selectEngine(engine), null);
      const seen: string[] = [];
      await new Promise<void>((done) =>
        rx.onMessage((m: Message) => {
          if (m.t === 'b') {
            seen.push(`b${m.batch.length}`);
            rx.credit();
          } else seen.push(m.t === 'w' ? `w${m.wm}` : m.t);
          if (m.t === 'e') done();
        }),
      );
      rx.close();
      await w.terminate();
      expect(seen).toEqual([...before.map((c) => `w${c.wm}`), 'b10', ...after.map((c) => `w${c.wm}`), 'e']);
      expect(pool.used).toBe(0);
    });
  }
});
