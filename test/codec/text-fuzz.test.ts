/**
 * Differential fuzzing of the text codecs: the same bytes into both engines' JSON Lines
 * decoders must give identical batches, line counts and bad lines (same messages); the same
 * batches into both engines' encoders must give identical bytes. Seeded and bounded by count.
 */

import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { BatchBuilder } from '../../ts/batch/builder.js';
import { Schema, type SchemaSpec } from '../../ts/batch/schema.js';
import type { DecodedLines, Engine } from '../../ts/engine/engine.js';
import { selectEngine } from '../../ts/engine/select.js';
import { requireNative, rng } from '../engines.js';

requireNative();
const native: Engine = selectEngine('native');
const ts: Engine = selectEngine('ts');

const SPEC: SchemaSpec = { id: 'i64', x: 'f64', s: 'utf8', at: 'timestamp', ok: 'bool', n: 'i32', note: 'utf8?', big: 'i64?' };
const schema = Schema.from(SPEC);
const NAMES = schema.names();

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

const STRINGS = ['', 'a', 'héllo', '𝄞', 'tab\there', 'quote"', 'back\\slash', 'nul\u0000', 'line\nbreak', '\u2028', 'x'.repeat(45), 'é'.repeat(41), 'a'.repeat(39) + '𝄞z'];
const NUMBER_TEXT = [
  '0', '-0', '1', '-1', '42', '1.5', '-2.25', '1e3', '1E-7', '2.5e+10', '1e21', '1e400', '-1e400', '1e-400',
  '9007199254740991', '9007199254740992', '9007199254740993', '-9007199254740993', '9223372036854775807',
  '9223372036854775808', '-9223372036854775808', '-9223372036854775809', '99999999999999999999', '2147483647',
  '2147483648', '-2147483648', '-2147483649', '0.1', '123456789.123456789', '1e20', '4.9e-324', '1.7976931348623157e308',
];

function jsonString(r: Rand): string {
  const s = pick(r, STRINGS);
  const t = JSON.stringify(s);
  // Sometimes escape more than JSON.stringify does (\u escapes, \/), or write a lone surrogate escape.
  const v = r();
  if (v < 0.1) return t.replace(/é/g, '\\u00e9').replace(/a/g, '\\u0061');
  if (v < 0.13) return '"\\ud800x"';
  if (v < 0.16) return '"a\\/b"';
  return t;
}

function jsonValue(r: Rand): string {
  const v = r();
  if (v < 0.45) return pick(r, NUMBER_TEXT);
  if (v < 0.7) return jsonString(r);
  if (v < 0.78) return pick(r, ['true', 'false']);
  if (v < 0.86) return 'null';
  if (v < 0.9) return JSON.stringify(pick(r, ['123', '-9223372036854775808', '9223372036854775808', '+1', '1.0', '']));
  if (v < 0.95) return pick(r, ['{}', '[]', '[1,2]', '{"a":[{"b":null}]}']);
  return pick(r, ['{"nested": 1e400}', '[9007199254740993]']);
}

function goodValue(r: Rand, name: string): string {
  switch (name) {
    case 'id':
    case 'big':
      return pick(r, ['1', '-5', '9007199254740993', '-9223372036854775808', '"12345678901234567"', '1e3']);
    case 'at':
      return pick(r, ['0', '1714564800250', '"1714564800250"', '-1']);
    case 'x':
      return pick(r, ['1.5', '-0', '1e-7', '12345.678', '3']);
    case 'n':
      return pick(r, ['7', '-2147483648', '2147483647', '1.0']);
    case 'ok':
      return pick(r, ['true', 'false']);
    default:
      return jsonString(r);
  }
}

function jsonLine(r: Rand): string {
  const v = r();
  if (v < 0.05) return pick(r, ['', '   ', '\t', '\u00a0', '\ufeff']);
  if (v < 0.08) return pick(r, ['5', '"s"', '[1]', 'null', 'true', 'not json', '{', '{"id":1}x', '{"id":1,}']);
  const parts: string[] = [];
  for (const name of NAMES) {
    const w = r();
    if (w < 0.04) continue; // missing
    const value = w < 0.8 ? goodValue(r, name) : jsonValue(r);
    parts.push(`${JSON.stringify(name)}${pick(r, [':', ': ', ' : '])}${value}`);
  }
  if (r() < 0.2) parts.splice(Math.floor(r() * (parts.length + 1)), 0, `"extra":${jsonValue(r)}`);
  if (r() < 0.05) parts.push(`"id":${jsonValue(r)}`); // a repeated key: the last one counts
  for (let i = parts.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [parts[i], parts[j]] = [parts[j]!, parts[i]!];
  }
  return `${pick(r, ['', ' '])}{${parts.join(',')}}${pick(r, ['', ' ', '\t'])}`;
}

function mutate(r: Rand, bytes: Buffer): Buffer {
  const b = Buffer.from(bytes);
  const n = 1 + Math.floor(r() * 4);
  let out = b;
  for (let k = 0; k < n && out.length > 0; k++) {
    const at = Math.floor(r() * out.length);
    const what = r();
    if (what < 0.3) out[at] = Math.floor(r() * 256);
    else if (what < 0.5) out[at] = pick(r, [0x22, 0x2c, 0x3a, 0x7b, 0x7d, 0x5c, 0x0a, 0x0d, 0x30, 0x2d, 0x65]);
    else if (what < 0.7) out = Buffer.concat([out.subarray(0, at), Buffer.from(pick(r, [[0xff], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xc0, 0xaf]])), out.subarray(at)]);
    else if (what < 0.85) out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1 + Math.floor(r() * 3))]);
    else out = out.subarray(0, at);
  }
  return out;
}

/** Decodes all of `bytes` in steps of at most maxRows rows, as a reader would. */
function decodeAll(engine: Engine, bytes: Uint8Array, maxRows: number): DecodedLines[] {
  const d = engine.createJsonlDecoder(schema, "file 'fuzz.jsonl'");
  const steps: DecodedLines[] = [];
  let at = 0;
  let line = 0;
  while (at < bytes.length) {
    const out = d.decode(bytes.subarray(at), line, maxRows);
    steps.push(out);
    if (out.consumed === 0) throw new Error('no progress');
    at += out.consumed;
    line += out.lines;
  }
  return steps;
}

describe('JSON Lines decoders, native vs TS', () => {
  it('agree on 4000 seeded random and mutated inputs: batches, lines, bad lines and their messages', () => {
    const r = rng(20261203);
    let rows = 0;
    let bad = 0;
    for (let iter = 0; iter < 4000; iter++) {
      const lines: string[] = [];
      const count = 1 + Math.floor(r() * 12);
      for (let i = 0; i < count; i++) lines.push(jsonLine(r));
      let bytes = Buffer.from(lines.map((l) => l + (r() < 0.2 ? '\r' : '')).join('\n') + (r() < 0.7 ? '\n' : ''));
      if (r() < 0.4) bytes = mutate(r, bytes);
      const maxRows = r() < 0.3 ? 1 + Math.floor(r() * 3) : 1000;
      const a = decodeAll(native, bytes, maxRows);
      const b = decodeAll(ts, bytes, maxRows);
      if (JSON.stringify(summary(a)) !== JSON.stringify(summary(b))) {
        expect({ input: bytes.toString('latin1'), steps: summary(b) }).toEqual({ input: bytes.toString('latin1'), steps: summary(a) });
      }
      expect(b).toEqual(a);
      for (const s of a) {
        rows += s.batch.length;
        bad += s.bad.length;
      }
    }
    // The generator reaches both paths often.
    expect(rows).toBeGreaterThan(3000);
    expect(bad).toBeGreaterThan(3000);
  });
});

function summary(steps: readonly DecodedLines[]): unknown {
  return steps.map((s) => ({ rows: s.batch.toRecords !== undefined ? safeRows(s) : null, consumed: s.consumed, lines: s.lines, bad: s.bad }));
}

function safeRows(s: DecodedLines): unknown {
  try {
    return JSON.stringify(s.batch.toRecords(), (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
  } catch (e) {
    return String(e);
  }
}

describe('text encoders, native vs TS', () => {
  it('write identical JSONL and CSV bytes (and row ends) for 2000 seeded random batches, and read their JSONL back exactly', () => {
    const r = rng(17);
    for (let iter = 0; iter < 2000; iter++) {
      const n = Math.floor(r() * 6);
      const b = new BatchBuilder(schema, n);
      for (let i = 0; i < n; i++) {
        const big = BigInt.asIntN(64, BigInt(Math.floor(r() * 2 ** 32)) * BigInt(Math.floor(r() * 2 ** 32)) * (r() < 0.5 ? -1n : 1n));
        b.append(
          {
            id: r() < 0.5 ? big : Math.floor(r() * 1000) - 500,
            x: pick(r, [0, -0, 1.5, 1e21, 1e-7, 123.456, -2.5e-300, Number.MAX_VALUE, r() * 1e6, NaN, Infinity]),
            s: pick(r, STRINGS),
            at: r() < 0.5 ? big : 1714564800250,
            ok: r() < 0.5,
            n: Math.floor(r() * 2 ** 32) - 2 ** 31,
            note: r() < 0.3 ? null : pick(r, STRINGS),
            big: r() < 0.3 ? null : big,
          },
          'fuzz',
          i,
        );
      }
      const batch = b.finish();
      for (const format of ['jsonl', 'csv'] as const) {
        const a = Buffer.from(native.encodeText(batch, format));
        const t = Buffer.from(ts.encodeText(batch, format));
        if (!a.equals(t)) expect(t.toString()).toBe(a.toString());
        // With row ends (rolling sinks): the same bytes, and the same ends on both engines.
        const ra = native.encodeTextRows(batch, format);
        const rt = ts.encodeTextRows(batch, format);
        expect(Buffer.from(ra.bytes).equals(a)).toBe(true);
        expect(Array.from(rt.rowEnds)).toEqual(Array.from(ra.rowEnds));
      }
      // JSONL read back: the same columns (skipped: batches with a non-finite f64, written as
      // null, or -0, written as 0 as String(-0) does).
      const x = batch.columns[1]!;
      if (x.type === 'f64' && x.values.every((v) => Number.isFinite(v) && !Object.is(v, -0))) {
        const text = native.encodeText(batch, 'jsonl');
        for (const engine of [native, ts]) {
          const back = engine.createJsonlDecoder(schema, 'round trip').decode(text, 0, 1000);
          expect(back.bad).toEqual([]);
          expect(back.batch.columns).toEqual(batch.columns);
        }
      }
    }
  });
});

describe('CSV decoders, native vs TS', () => {
  const CSV_SPEC: SchemaSpec = { id: 'i64', x: 'f64?', s: 'utf8', at: 'timestamp', ok: 'bool', n: 'i32?' };
  const csvSchema = Schema.from(CSV_SPEC);
  const CELLS = [
    '1', '-0', '+5', '007', '9007199254740993', '-9223372036854775808', '9223372036854775808', '99999999999999999999999',
    '1.5', '.5', '1.', '1e400', '-1e-400', 'NaN', '-Infinity', 'true', 'FALSE', 'TrUe', 'yes', '', '""', '"a,b"', '"say ""hi"""',
    '"multi\nline"', '"multi\r\nline"', 'é', '𝄞', 'a"b', '"ab"c', '"ab"𝄞', '2024-05-01T12:00:00.250Z', '2024-05-01T14:00:00+02:00',
    '1970-01-02', '2024-05-01 12:00:00', '2024-02-30T00:00:00Z', '0001-01-01T00:00Z', '2147483647', '2147483648', ' 1', 'x',
  ];

  const GOOD: Record<string, readonly string[]> = {
    id: ['1', '-42', '9007199254740993', '+7', '-9223372036854775808', '123456789012345678', '0042'],
    // Plain decimals take the native decoder's fast path; the rest its general one.
    x: ['1.5', '', '-0', '1e-7', 'NaN', '3', '123.45', '-0.001', '0.30000000000000004', '9007199254740993.5', '12345678901234567890', '1.'],
    s: ['a', '""', '"a,b"', '"q ""x"""', 'é𝄞', '"l1\nl2"'],
    at: ['0', '1714564800250', '2024-05-01T12:00:00.250Z', '1970-01-02'],
    ok: ['true', 'false', 'TRUE'],
    n: ['7', '', '-2147483648'],
  };
  const goodCell = (r: Rand, name: string): string => pick(r, GOOD[name] ?? ['x']);

  function csvText(r: Rand, header: boolean, delim: string): string {
    const names = csvSchema.names();
    const order = [...names];
    if (r() < 0.5) order.reverse();
    if (r() < 0.2) order.push('extra');
    const lines: string[] = [];
    if (header) lines.push(r() < 0.05 ? order.slice(1).join(delim) : order.join(delim));
    const count = 1 + Math.floor(r() * 8);
    for (let i = 0; i < count; i++) {
      if (r() < 0.05) {
        lines.push('');
        continue;
      }
      const width = header ? order.length : names.length;
      const cells: string[] = [];
      const n = r() < 0.05 ? width + (r() < 0.5 ? 1 : -1) : width;
      for (let c = 0; c < n; c++) cells.push(r() < 0.85 ? goodCell(r, order[c] ?? 'x') : pick(r, CELLS));
      lines.push(cells.join(delim));
    }
    const end = pick(r, ['\n', '\r\n']);
    return lines.join(end) + (r() < 0.7 ? end : '');
  }

  function decodeCsv(engine: Engine, bytes: Uint8Array, header: boolean, delimiter: string, maxRows: number): unknown[] {
    const d = engine.createCsvDecoder(csvSchema, "file 'fuzz.csv'", { delimiter, header });
    const steps: unknown[] = [];
    let at = 0;
    let line = 0;
    // Fed as a reader would: a growing prefix, then the end of the file.
    let upTo = Math.min(bytes.length, 1 + (bytes.length >>> 1));
    for (let guard = 0; guard < 10_000; guard++) {
      const eof = upTo === bytes.length;
      let out: DecodedLines;
      try {
        out = d.decode(bytes.subarray(at, upTo), line, maxRows, eof);
      } catch (e) {
        steps.push({ error: (e as Error).message, kind: (e as { kind?: string }).kind });
        return steps;
      }
      steps.push({ ...out, header: d.header() });
      at += out.consumed;
      line += out.lines;
      if (at >= bytes.length) return steps;
      if (out.consumed === 0 && out.batch.length === 0 && out.bad.length === 0) upTo = bytes.length;
    }
    throw new Error('no progress');
  }

  it('agree on 3000 seeded random and mutated inputs (headers, delimiters, quotes, chunk ends inside records)', () => {
    const r = rng(4180);
    let rows = 0;
    let bad = 0;
    for (let iter = 0; iter < 3000; iter++) {
      const header = r() < 0.7;
      const delimiter = pick(r, [',', ',', ';', '\t', '§']);
      let bytes = Buffer.from(csvText(r, header, delimiter));
      if (r() < 0.35) bytes = mutate(r, bytes);
      const maxRows = r() < 0.3 ? 1 + Math.floor(r() * 3) : 1000;
      const a = decodeCsv(native, bytes, header, delimiter, maxRows);
      const b = decodeCsv(ts, bytes, header, delimiter, maxRows);
      if (JSON.stringify(a, big) !== JSON.stringify(b, big)) {
        expect({ input: bytes.toString('latin1'), header, delimiter, steps: JSON.parse(JSON.stringify(b, big)) as unknown }).toEqual({
          input: bytes.toString('latin1'),
          header,
          delimiter,
          steps: JSON.parse(JSON.stringify(a, big)) as unknown,
        });
      }
      expect(b).toEqual(a);
      for (const s of a as { batch?: { length: number }; bad?: unknown[] }[]) {
        rows += s.batch?.length ?? 0;
        bad += s.bad?.length ?? 0;
      }
    }
    expect(rows).toBeGreaterThan(1000);
    expect(bad).toBeGreaterThan(1000);
  });
});

function big(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return `${v}n`;
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number | bigint>, (x) => (typeof x === 'bigint' ? `${x}n` : Object.is(x, -0) ? '-0' : x));
  return v;
}
