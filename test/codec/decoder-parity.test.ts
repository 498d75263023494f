/**
 * Differential fuzzing of the two batch decoders (ts/engine/ts/codec.ts and sluice-core's codec
 * through N-API): valid encodings of varied batches are mutated byte-wise, truncated and
 * spliced; both decoders must accept the same buffers, decode them to the same batch, and
 * reject the others with the same error kind. Seeded, so a failure repeats.
 */

import { describe, expect, it } from 'vitest';
import { bitGet, bitmapBytes, type Column } from '../../ts/batch/column.js';
import { RecordBatch } from '../../ts/batch/record-batch.js';
import { Schema, type DataType } from '../../ts/batch/schema.js';
import { EngineError } from '../../ts/engine/errors.js';
import { selectEngine } from '../../ts/engine/select.js';
import { rng } from '../engines.js';

const native = selectEngine('native');
const ts = selectEngine('ts');

const TYPES: readonly DataType[] = ['i32', 'i64', 'f64', 'bool', 'utf8', 'timestamp'];
const WORDS = ['', 'a', 'héllo', '日本語', '😀', 'naïve café', 'x'.repeat(40), '\u0000'];

/** A batch of `n` rows over `types`, values and nulls drawn from `r`. */
function randomBatch(r: () => number, types: readonly DataType[], n: number, eventTime: boolean): RecordBatch {
  const enc = new TextEncoder();
  const fields = types.map((type, i) => ({ name: i % 3 === 2 ? `fé${i}` : `c${i}`, type, nullable: r() < 0.5 }));
  const columns: Column[] = fields.map((f) => {
    let validity: Uint8Array | null = null;
    if (f.nullable) {
      validity = new Uint8Array(bitmapBytes(n));
      for (let i = 0; i < n; i++) if (r() < 0.7) validity[i >>> 3]! |= 1 << (i & 7);
    }
    const int = () => Math.floor(r() * 2 ** 31) - 2 ** 30;
    switch (f.type) {
      case 'i32':
        return { type: 'i32', values: Int32Array.from({ length: n }, int), validity };
      case 'i64':
      case 'timestamp':
        return { type: f.type, values: BigInt64Array.from({ length: n }, () => BigInt(int()) * 1_000_003n), validity };
      case 'f64':
        return { type: 'f64', values: Float64Array.from({ length: n }, () => (r() - 0.5) * 1e6), validity };
      case 'bool': {
        const values = new Uint8Array(bitmapBytes(n));
        for (let i = 0; i < n; i++) if (r() < 0.5) values[i >>> 3]! |= 1 << (i & 7);
        return { type: 'bool', values, validity };
      }
      case 'utf8': {
        const parts = Array.from({ length: n }, () => enc.encode(WORDS[Math.floor(r() * WORDS.length)]!));
        const offsets = new Int32Array(n + 1);
        for (let i = 0; i < n; i++) offsets[i + 1] = offsets[i]! + parts[i]!.length;
        const data = new Uint8Array(offsets[n]!);
        parts.forEach((p, i) => data.set(p, offsets[i]!));
        return { type: 'utf8', offsets, data, validity };
      }
    }
  });
  const et = eventTime ? BigInt64Array.from({ length: n }, (_, i) => 1_700_000_000_000n + BigInt(i)) : null;
  return new RecordBatch(new Schema(fields), columns, n, et);
}

/** A decoded batch as plain data: schema, length, event time and every value (f64 by its bits, invalid UTF-8 as bytes). */
function snapshot(b: RecordBatch): unknown {
  const cols = b.columns.map((c) => {
    const out: unknown[] = [];
    for (let i = 0; i < b.length; i++) {
      if (c.validity !== null && !bitGet(c.validity, i)) out.push(null);
      else if (c.type === 'bool') out.push(bitGet(c.values, i));
      else if (c.type === 'utf8') out.push([...c.data.subarray(c.offsets[i]!, c.offsets[i + 1]!)].join(','));
      else if (c.type === 'f64') out.push(new BigInt64Array(Float64Array.of(c.values[i]!).buffer)[0]);
      else out.push(c.values[i]);
    }
    return out;
  });
  return { fields: b.schema.fields.map((f) => ({ ...f })), length: b.length, eventTime: b.eventTime === null ? null : [...b.eventTime], cols };
}

type Outcome = { ok: unknown } | { kind: string; message: string };

function decodeWith(engine: typeof ts, bytes: Uint8Array): Outcome {
  try {
    return { ok: snapshot(engine.decodeBatch(bytes.slice())) };
  } catch (e) {
    if (!(e instanceof EngineError)) throw new Error(`${engine.name} decoder threw a ${(e as Error).name} instead of an EngineError: ${(e as Error).message}`);
    return { kind: e.kind, message: e.message };
  }
}

/** One mutation of `bytes`: byte flips, random bytes, a 32-bit value at an aligned place, a truncation, or a splice from `other`. */
function mutate(r: () => number, bytes: Uint8Array, other: Uint8Array): Uint8Array {
  const at = (len: number) => Math.floor(r() * len);
  const b = bytes.slice();
  switch (at(6)) {
    case 0:
      for (let k = 1 + at(3); k > 0; k--) b[at(b.length)]! ^= 1 << at(8);
      return b;
    case 1:
      for (let k = 1 + at(3); k > 0; k--) b[at(b.length)] = at(256);
      return b;
    case 2: {
      // Offsets and lengths are 32-bit little-endian words: small and boundary values.
      const p = at(b.length >> 2) << 2;
      const v = [0, 1, 3, 4, 0x7fffffff, 0xffffffff, b.length, b.length - 4, at(b.length)][at(9)]!;
      new DataView(b.buffer).setUint32(p, v >>> 0, true);
      return b;
    }
    case 3:
      return b.slice(0, at(b.length));
    case 4: {
      const from = at(other.length);
      const len = Math.min(1 + at(32), other.length - from);
      const into = at(b.length);
      b.set(other.subarray(from, from + Math.min(len, b.length - into)), into);
      return b;
    }
    default: {
      // Insert or delete a few bytes in the middle.
      const p = at(b.length);
      const n = 1 + at(8);
      if (r() < 0.5) return Uint8Array.from([...b.subarray(0, p), ...b.subarray(p + n)]);
      return Uint8Array.from([...b.subarray(0, p), ...Array.from({ length: n }, () => at(256)), ...b.subarray(p)]);
    }
  }
}

describe('batch decoders: native and TS agree on every input', () => {
  it('reject utf8 values that are not UTF-8, or start inside a character, with the same message', () => {
    const utf8 = (offsets: number[], data: number[]) =>
      ts.encodeBatch(new RecordBatch(new Schema([{ name: 's', type: 'utf8', nullable: false }]), [{ type: 'utf8', offsets: Int32Array.from(offsets), data: Uint8Array.from(data), validity: null }], offsets.length - 1, null));
    const cases: [Uint8Array, string][] = [
      [utf8([0, 1, 2], [0x61, 0xff]), "malformed record batch: column 's': utf8 data is not valid UTF-8"],
      [utf8([0, 2], [0xed, 0xa0]), "malformed record batch: column 's': utf8 data is not valid UTF-8"], // a lone surrogate half
      [utf8([0, 1, 2], [0xc3, 0xa9]), "malformed record batch: column 's': value 1 does not start on a UTF-8 character boundary"], // 'é' cut in two
    ];
    for (const [bytes, message] of cases) {
      for (const engine of [native, ts]) {
        const o = decodeWith(engine, bytes);
        expect(o, engine.name).toEqual({ kind: 'data', message });
      }
    }
    // The same bytes as whole characters decode.
    expect(decodeWith(native, utf8([0, 2], [0xc3, 0xa9]))).toEqual(decodeWith(ts, utf8([0, 2], [0xc3, 0xa9])));
    expect('ok' in decodeWith(ts, utf8([0, 2], [0xc3, 0xa9]))).toBe(true);
  });


  it('seeded differential fuzz: mutated, truncated and spliced batches are accepted, decoded and rejected alike', () => {
    const r = rng(0x5eed_0021);
    const seeds: Uint8Array[] = [];
    for (let i = 0; i < 24; i++) {
      const types = Array.from({ length: 1 + Math.floor(r() * 5) }, () => TYPES[Math.floor(r() * TYPES.length)]!);
      const batch = randomBatch(r, types, Math.floor(r() * 12), r() < 0.5);
      const bytes = ts.encodeBatch(batch);
      expect(native.encodeBatch(batch)).toEqual(bytes);
      seeds.push(bytes);
    }
    const tally = { accepted: 0, rejected: new Map<string, number>() };
    for (let t = 0; t < 20_000; t++) {
      const bytes = mutate(r, seeds[t % seeds.length]!, seeds[Math.floor(r() * seeds.length)]!);
      const a = decodeWith(native, bytes);
      const b = decodeWith(ts, bytes);
      if ('ok' in a && 'ok' in b) {
        expect(b.ok, `case ${t}`).toEqual(a.ok);
        tally.accepted++;
      } else {
        expect({ native: 'ok' in a ? 'accepted' : a.kind, ts: 'ok' in b ? 'accepted' : b.kind }, `case ${t}: native ${'ok' in a ? 'accepted' : a.message}; ts ${'ok' in b ? 'accepted' : b.message}`).toEqual({
          native: 'data',
          ts: 'data',
        });
        const key = (a as { message: string }).message.replace(/\d+/g, 'N').slice(0, 60);
        tally.rejected.set(key, (tally.rejected.get(key) ?? 0) + 1);
      }
    }
    // Both outcomes happen often: the mutations reach past the identifier and the verifier.
    expect(tally.accepted).toBeGreaterThan(500);
    expect([...tally.rejected.values()].reduce((s, n) => s + n, 0)).toBeGreaterThan(5000);
  });
});
