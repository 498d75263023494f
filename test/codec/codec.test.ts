/**
 * The wire format: TS codec (ts/engine/ts/codec.ts) and native codec (sluice-core codec via
 * napi) round-trip every column type and agree byte for byte.
 */

import { describe, it, expect } from 'vitest';
import { bitGet, bitmapBytes, type Column } from '../../ts/batch/column.js';
import { I64_MAX, I64_MIN } from '../../ts/batch/i64.js';
import { RecordBatch } from '../../ts/batch/record-batch.js';
import { Schema, type DataType } from '../../ts/batch/schema.js';
import { loadNative, type NativeBinding } from '../../ts/engine/native/binding.js';
import { batchBuffers, fieldSpecs, fromBatchOut, schemaFromSpecs } from '../../ts/engine/native/convert.js';
import { decodeBatch as tsDecode, encodeBatch as tsEncode } from '../../ts/engine/ts/codec.js';

const loaded = loadNative();
if (!loaded.ok) throw new Error(`the native binding is required for these tests (npm run build:native): ${loaded.reason}`);
const native: NativeBinding = loaded.binding;

function nativeEncode(batch: RecordBatch): Uint8Array {
  return native.encodeBatch(fieldSpecs(batch.schema), batchBuffers(batch), batch.length, batch.eventTime);
}

function nativeDecode(bytes: Uint8Array): RecordBatch {
  const { fields, batch } = native.decodeBatch(bytes);
  return fromBatchOut(schemaFromSpecs(fields), batch);
}

// ---------------------------------------------------------------------------------------------
// Test data

const SAMPLES: Record<DataType, unknown[]> = {
  i32: [0, 1, -1, 2147483647, -2147483648, 42, 7, -8, 9],
  i64: [0n, 1n, -1n, 2n ** 53n + 1n, -(2n ** 53n) - 1n, I64_MIN, I64_MAX, 1234567890123456789n, -5n],
  f64: [0, -0, NaN, Infinity, -Infinity, 1.5, Number.MAX_VALUE, Number.MIN_VALUE, -1e-300],
  bool: [true, false, true, true, false, false, true, false, true],
  utf8: ['', 'a', 'héllo', '日本語', '😀 emoji', '', 'x'.repeat(100), 'naïve café', '\u0000nul'],
  timestamp: [0n, 1700000000000n, -1n, I64_MAX, I64_MIN, 86400000n, 2n ** 53n, 3n, 4n],
};
const TYPES = Object.keys(SAMPLES) as DataType[];

const isNullRow = (i: number) => i % 3 === 1;

/** A column of `n` rows of sample values (cycled); rows with isNullRow null when `nulls`. */
function makeColumn(type: DataType, n: number, nulls: boolean): Column {
  const src = SAMPLES[type];
  const at = (i: number) => src[i % src.length];
  let validity: Uint8Array | null = null;
  if (nulls) {
    validity = new Uint8Array(bitmapBytes(n));
    for (let i = 0; i < n; i++) if (!isNullRow(i)) validity[i >>> 3]! |= 1 << (i & 7);
  }
  switch (type) {
    case 'i32':
      return { type, values: Int32Array.from({ length: n }, (_, i) => at(i) as number), validity };
    case 'i64':
    case 'timestamp':
      return { type, values: BigInt64Array.from({ length: n }, (_, i) => at(i) as bigint), validity };
    case 'f64':
      return { type, values: Float64Array.from({ length: n }, (_, i) => at(i) as number), validity };
    case 'bool': {
      const values = new Uint8Array(bitmapBytes(n));
      for (let i = 0; i < n; i++) if (at(i) as boolean) values[i >>> 3]! |= 1 << (i & 7);
      return { type, values, validity };
    }
    case 'utf8': {
      const enc = new TextEncoder();
      const parts = Array.from({ length: n }, (_, i) => enc.encode(at(i) as string));
      const offsets = new Int32Array(n + 1);
      for (let i = 0; i < n; i++) offsets[i + 1] = offsets[i]! + parts[i]!.length;
      const data = new Uint8Array(offsets[n]!);
      parts.forEach((p, i) => data.set(p, offsets[i]!));
      return { type, offsets, data, validity };
    }
  }
}

function eventTimes(n: number): BigInt64Array {
  return BigInt64Array.from({ length: n }, (_, i) => 1700000000000n + BigInt(i) * 1000n - (i === 2 ? 10n ** 15n : 0n));
}

function makeBatch(cols: { name: string; type: DataType; nulls: boolean }[], n: number, withEventTime: boolean): RecordBatch {
  const schema = new Schema(cols.map((c) => ({ name: c.name, type: c.type, nullable: c.nulls })));
  return new RecordBatch(
    schema,
    cols.map((c) => makeColumn(c.type, n, c.nulls)),
    n,
    withEventTime ? eventTimes(n) : null,
  );
}

// ---------------------------------------------------------------------------------------------
// Comparison

/** A column's values as JS values (null under nulls; bigint for i64; f64 kept as numbers). */
function materialise(col: Column, n: number): unknown[] {
  const out: unknown[] = [];
  const dec = new TextDecoder();
  for (let i = 0; i < n; i++) {
    if (col.validity !== null && !bitGet(col.validity, i)) {
      out.push(null);
      continue;
    }
    switch (col.type) {
      case 'i32':
      case 'f64':
      case 'i64':
      case 'timestamp':
        out.push(col.values[i]);
        break;
      case 'bool':
        out.push(bitGet(col.values, i));
        break;
      case 'utf8':
        out.push(dec.decode(col.data.subarray(col.offsets[i]!, col.offsets[i + 1]!)));
        break;
    }
  }
  return out;
}

/** Same schema (names, types, nullability), length, event time and values; f64 by Object.is. */
function expectSameBatch(actual: RecordBatch, expected: RecordBatch): void {
  expect(actual.schema.fields.map((f) => ({ ...f }))).toEqual(expected.schema.fields.map((f) => ({ ...f })));
  expect(actual.length).toBe(expected.length);
  expect(actual.eventTime === null ? null : [...actual.eventTime]).toEqual(
    expected.eventTime === null ? null : [...expected.eventTime.subarray(0, expected.length)],
  );
  for (let k = 0; k < expected.columns.length; k++) {
    const a = materialise(actual.columns[k]!, actual.length);
    const e = materialise(expected.columns[k]!, expected.length);
    const name = expected.schema.fields[k]!.name;
    expect(a.length, name).toBe(e.length);
    for (let i = 0; i < e.length; i++) {
      if (!Object.is(a[i], e[i])) {
        expect.fail(`column '${name}', row ${i}: got ${String(a[i])}, expected ${String(e[i])}`);
      }
    }
  }
}

/** Every buffer exactly as long as `length` rows need; utf8 offsets within the data. */
function expectConsistent(batch: RecordBatch): void {
  const n = batch.length;
  const bits = bitmapBytes(n);
  if (batch.eventTime !== null) expect(batch.eventTime.length).toBe(n);
  for (const c of batch.columns) {
    if (c.validity !== null) expect(c.validity.length).toBe(bits);
    if (c.type === 'utf8') {
      expect(c.offsets.length).toBe(n + 1);
      for (let i = 0; i < n; i++) expect(c.offsets[i]! <= c.offsets[i + 1]!).toBe(true);
      expect(c.offsets[0]! >= 0 && c.offsets[n]! <= c.data.length).toBe(true);
    } else expect(c.values.length).toBe(c.type === 'bool' ? bits : n);
  }
}

// ---------------------------------------------------------------------------------------------
// Cases

interface Case {
  name: string;
  batch: RecordBatch;
}

const cases: Case[] = [];
for (const type of TYPES) {
  for (const nulls of [false, true]) {
    for (const et of [false, true]) {
      cases.push({
        name: `${type}${nulls ? ' with nulls' : ''}${et ? ', event time' : ''}`,
        batch: makeBatch([{ name: 'v', type, nulls }], 9, et),
      });
    }
  }
}
const allColumns = TYPES.flatMap((type) => [
  { name: type, type, nulls: false },
  { name: `${type}?`, type, nulls: true },
]);
for (const et of [false, true]) {
  cases.push({ name: `every type, 20 rows${et ? ', event time' : ''}`, batch: makeBatch(allColumns, 20, et) });
  cases.push({ name: `empty batch${et ? ', event time' : ''}`, batch: makeBatch(allColumns, 0, et) });
  cases.push({ name: `one row${et ? ', event time' : ''}`, batch: makeBatch(allColumns, 1, et) });
}
cases.push({ name: 'no fields', batch: new RecordBatch(new Schema([]), [], 3, null) });
cases.push({ name: 'RecordBatch.empty', batch: RecordBatch.empty({ a: 'i64', b: 'utf8?', c: 'bool' }) });
// Buffers longer than `length` (a prefix view): only `length` rows go on the wire.
{
  const long = makeBatch(allColumns, 20, true);
  cases.push({ name: 'buffers longer than length', batch: new RecordBatch(long.schema, long.columns, 11, long.eventTime) });
}

describe('codec: TS and native agree', () => {
  for (const { name, batch } of cases) {
    it(name, () => {
      const fromTs = tsEncode(batch);
      const fromNative = nativeEncode(batch);

      // (a) TS encode -> native decode
      expectSameBatch(nativeDecode(fromTs), batch);
      // (b) native encode -> TS decode
      expectSameBatch(tsDecode(fromNative), batch);
      // and each side with itself
      expectSameBatch(tsDecode(fromTs), batch);
      expectSameBatch(nativeDecode(fromNative), batch);

      // (c) Identical bytes: both encoders build the same objects in the same order (see
      // "Layout" in crates/sluice-core/src/codec/mod.rs), and both builders align and
      // deduplicate vtables the same way.
      expect(Buffer.from(fromTs).equals(Buffer.from(fromNative))).toBe(true);
      expect(String.fromCharCode(...fromTs.subarray(4, 8))).toBe('SLB1');
    });
  }

  it('carries nullability both ways', () => {
    const batch = makeBatch(
      [
        { name: 'a', type: 'i32', nulls: false },
        { name: 'b', type: 'utf8', nulls: true },
      ],
      4,
      false,
    );
    for (const bytes of [tsEncode(batch), nativeEncode(batch)]) {
      expect(tsDecode(bytes).schema.fields.map((f) => f.nullable)).toEqual([false, true]);
      expect(native.decodeBatch(bytes).fields.map((f) => f.nullable)).toEqual([false, true]);
    }
  });
});

describe('codec: TS decode', () => {
  it('views aligned vectors in place', () => {
    const batch = makeBatch(allColumns, 20, true);
    const bytes = tsEncode(batch);
    const back = tsDecode(bytes);
    for (const c of back.columns) {
      const views = c.type === 'utf8' ? [c.offsets, c.data] : [c.values];
      for (const v of views) expect(v.buffer).toBe(bytes.buffer);
    }
    expect(back.eventTime!.buffer).toBe(bytes.buffer);
  });

  it('copies vectors that would be misaligned in memory', () => {
    const batch = makeBatch(allColumns, 20, true);
    const bytes = nativeEncode(batch);
    for (const shift of [1, 2, 3, 4, 5, 6, 7]) {
      const buf = new Uint8Array(bytes.length + shift);
      buf.set(bytes, shift);
      const shifted = buf.subarray(shift);
      expectSameBatch(tsDecode(shifted), batch);
      expectSameBatch(nativeDecode(shifted), batch);
    }
  });

  it('keeps absent validity and event time absent', () => {
    const batch = makeBatch([{ name: 'v', type: 'f64', nulls: false }], 5, false);
    for (const bytes of [tsEncode(batch), nativeEncode(batch)]) {
      const back = tsDecode(bytes);
      expect(back.columns[0]!.validity).toBeNull();
      expect(back.eventTime).toBeNull();
    }
  });
});

describe('codec: malformed input', () => {
  const good = tsEncode(makeBatch(allColumns, 9, true));

  function bothReject(bytes: Uint8Array, message: RegExp): void {
    expect(() => tsDecode(bytes)).toThrow(message);
    expect(() => nativeDecode(bytes)).toThrow(message);
  }

  it('rejects short buffers', () => {
    for (let len = 0; len < 8; len++) bothReject(new Uint8Array(len), /not a Sluice record batch: .* too short/);
  });

  it('rejects a wrong file identifier', () => {
    const bytes = good.slice();
    bytes.set([0x58, 0x58, 0x58, 0x58], 4);
    bothReject(bytes, /file identifier is "XXXX", expected "SLB1"/);
  });

  it('rejects every truncation', () => {
    for (let len = 0; len < good.length; len++) {
      const bytes = good.slice(0, len);
      expect(() => tsDecode(bytes), `TS, ${len} bytes`).toThrow(Error);
      expect(() => nativeDecode(bytes), `native, ${len} bytes`).toThrow(Error);
    }
  });

  it('survives random corruption: an Error or a consistent batch, never a crash', () => {
    let seed = 0x2545f491;
    const next = () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return seed >>> 0;
    };
    const outcomes = { ts: { ok: 0, err: 0 }, native: { ok: 0, err: 0 } };
    for (let t = 0; t < 3000; t++) {
      const bytes = good.slice();
      const flips = 1 + (next() % 4);
      for (let k = 0; k < flips; k++) bytes[next() % bytes.length] = next() & 0xff;
      for (const [side, decode] of [['ts', tsDecode], ['native', nativeDecode]] as const) {
        let batch: RecordBatch | undefined;
        try {
          batch = decode(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(Error);
          outcomes[side].err++;
          continue;
        }
        // What decodes is consistent: every buffer exactly as long as its rows need.
        expectConsistent(batch);
        outcomes[side].ok++;
      }
    }
    // Both paths were exercised on both sides.
    for (const o of Object.values(outcomes)) expect(o.ok > 0 && o.err > 0, JSON.stringify(outcomes)).toBe(true);
  });

  it('reports inconsistent contents clearly', () => {
    // A utf8 column whose offsets point past its data, built from a good encoding by hand: the
    // data vector's length prefix is made smaller.
    const batch = makeBatch([{ name: 's', type: 'utf8', nulls: false }], 3, false);
    const bytes = tsEncode(batch).slice();
    const dataLen = (batch.columns[0] as { data: Uint8Array }).data.length;
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let patched = false;
    for (let p = 0; p + 4 <= bytes.length; p += 4) {
      if (dv.getUint32(p, true) === dataLen && bytes[p + 4] === 0x61 /* 'a' after '' */) {
        dv.setUint32(p, 1, true);
        patched = true;
        break;
      }
    }
    expect(patched).toBe(true);
    bothReject(bytes, /malformed record batch: column 's': utf8 data has 1 entries, \d+ needed/);
  });

  it('TS encode rejects a batch whose buffers are too short', () => {
    const col: Column = { type: 'i32', values: new Int32Array(2), validity: null };
    const bad = new RecordBatch(new Schema([{ name: 'x', type: 'i32', nullable: false }]), [col], 5, null);
    expect(() => tsEncode(bad)).toThrow(/cannot encode record batch: column 'x': values has 2 entries, 5 needed for 5 rows/);
    expect(() => nativeEncode(bad)).toThrow(/values has 2 entries, 5 needed/);
  });
});
