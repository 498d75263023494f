/**
 * JSON Lines -> a batch of the declared schema, the TypeScript engine's way: JSON.parse per
 * line, then each declared field checked and appended to its column. Mirrors
 * crates/sluice-core/src/text/jsonl.rs rule for rule and message for message.
 *
 * Exact integers: JSON.parse reads every number as a double, so an integer beyond ±2^53 in an
 * i64 or timestamp field has been rounded. Such a line is read again with lossless-json, which
 * keeps each number's source text, and the integer is taken from that text. Only those rare
 * lines pay for the second parse; lossless-json is a maintained library for exactly this
 * (a hand-written scanner would be one more JSON grammar to keep right).
 */

import { Buffer } from 'node:buffer';
import { isLosslessNumber, parse as parseLossless } from 'lossless-json';
import { columnBuilder } from '../../../batch/builder.js';
import { RecordBatch } from '../../../batch/record-batch.js';
import type { Field, Schema } from '../../../batch/schema.js';
import { parseIsoTimestamp } from '../../../batch/timestamp-text.js';
import type { BadLine, DecodedLines, LineDecoder } from '../../engine.js';
import { invalidUtf8At, invalidUtf8Message } from './utf8.js';

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;
const DECIMAL_I64 = /^-?[0-9]{1,19}$/;
const INTEGER_TOKEN = /^-?[0-9]+$/;
/** A lone surrogate (in u mode, pairs are one code point and do not match). */
const LONE_SURROGATE = /[\ud800-\udfff]/u;
const SURROGATE = 'a string with an unpaired UTF-16 surrogate escape (such as \\ud800), which is not Unicode text';
const MALFORMED = 'malformed JSON (a line must hold one complete JSON object, nothing after it)';
/** What a timestamp field takes, for its error messages (the CSV decoder's words). */
const ISO_EXPECTED = 'expected a timestamp: integer ms since the epoch or ISO-8601 text such as 2024-05-01T12:00:00.250Z';
const OVERFLOW = 'a number beyond ±1.7976931348623157e+308 does not fit in an f64 (it would be Infinity)';

/** A field's value is refused: the detail of the message. */
class Refused {
  constructor(readonly detail: string) {}
}

export function quoteJs(s: string): string {
  return JSON.stringify(s.length > 40 ? s.slice(0, 40) + '…' : s);
}

function describe(v: unknown): string {
  if (typeof v === 'string') return `string ${quoteJs(v)}`;
  if (typeof v === 'number') return `number ${String(v)}`;
  if (typeof v === 'boolean') return `boolean ${v}`;
  if (v === null) return 'null';
  return Array.isArray(v) ? 'an array' : 'an object';
}

function kindOf(v: unknown): string {
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return 'a string';
  if (typeof v === 'boolean') return 'a boolean';
  if (v === null) return 'null';
  return 'a number';
}

export class TsJsonlDecoder implements LineDecoder {
  private readonly fields: readonly Field[];
  private readonly names: readonly string[];

  constructor(
    private readonly schema: Schema,
    private readonly where: string,
  ) {
    this.fields = schema.fields;
    this.names = schema.names();
  }

  decode(bytes: Uint8Array, firstLine: number, maxRows: number): DecodedLines {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const n = this.fields.length;
    const cols = this.fields.map((f) => columnBuilder(f, Math.min(maxRows, (buf.length >>> 4) + 1)));
    const row: unknown[] = new Array(n);
    const bad: BadLine[] = [];
    let rows = 0;
    let pos = 0;
    let line = firstLine;
    while (pos < buf.length && rows < maxRows) {
      const nl = buf.indexOf(10, pos);
      let end = nl < 0 ? buf.length : nl;
      const start = pos;
      pos = nl < 0 ? buf.length : nl + 1;
      line++;
      if (end > start && buf[end - 1] === 13) end--;
      const text = buf.toString('utf8', start, end);
      if (text.includes('\ufffd')) {
        const at = invalidUtf8At(buf, start, end);
        if (at >= 0) {
          bad.push({ line, message: invalidUtf8Message(this.where, line, at - start), raw: text });
          continue;
        }
      }
      if (text.trim() === '') continue;
      const problem = this.line(text, line, row);
      if (problem !== null) {
        bad.push({ line, message: problem, raw: text });
        continue;
      }
      for (let k = 0; k < n; k++) cols[k]!.append(row[k], this.where, line);
      rows++;
    }
    const batch = new RecordBatch(
      this.schema,
      cols.map((c) => c.finish()),
      rows,
      null,
    );
    return { batch, consumed: pos, lines: line - firstLine, bad };
  }

  /** Fills `row` from one line; returns the error message, or null. */
  private line(text: string, line: number, row: unknown[]): string | null {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      return `${this.where}, line ${line}: ${MALFORMED}`;
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return `${this.where}, line ${line}: expected a JSON object, got ${kindOf(v)}`;
    const obj = v as Record<string, unknown>;
    let exact: Record<string, unknown> | null = null;
    for (let k = 0; k < this.fields.length; k++) {
      const f = this.fields[k]!;
      const name = this.names[k]!;
      const has = Object.hasOwn(obj, name);
      let x = has ? obj[name] : undefined;
      if (typeof x === 'number' && (f.type === 'i64' || f.type === 'timestamp') && Number.isInteger(x) && !Number.isSafeInteger(x)) {
        // Rounded by JSON.parse: take the integer from its source text.
        exact ??= parseLossless(text, null, { onDuplicateKey: ({ newValue }) => newValue }) as Record<string, unknown>;
        const t = exact[name];
        if (isLosslessNumber(t) && INTEGER_TOKEN.test(t.value)) x = BigInt(t.value);
      }
      const r = value(f, x, has);
      if (r instanceof Refused) return `${this.where}, line ${line}, field '${name}': ${r.detail}`;
      row[k] = r;
    }
    return null;
  }
}

/** The value to append for field `f`, or why it is refused. */
function value(f: Field, v: unknown, has: boolean): unknown {
  if (v === null || v === undefined) {
    if (f.nullable) return null;
    return new Refused(`is ${has ? 'null' : 'missing'} but the field is not nullable; declare it as '${f.type}?' to allow nulls`);
  }
  if (typeof v === 'string' && LONE_SURROGATE.test(v)) return new Refused(SURROGATE);
  switch (f.type) {
    case 'i32':
      if (typeof v === 'number' && Number.isInteger(v) && v >= -2147483648 && v <= 2147483647) return v;
      return new Refused(`expected an i32 (integer in ±2^31), got ${describe(v)}`);
    case 'i64':
    case 'timestamp': {
      const what = f.type === 'i64' ? 'an i64' : 'a timestamp in ms';
      if (typeof v === 'bigint') return v >= I64_MIN && v <= I64_MAX ? v : new Refused(`bigint ${v} does not fit in 64 bits`);
      if (typeof v === 'number') {
        if (Number.isSafeInteger(v)) return v;
        const why = Number.isInteger(v)
          ? ' beyond ±2^53, where a JavaScript number (and JSON.parse) may already have rounded it; give it as a bigint or a decimal string'
          : '';
        return new Refused(`expected ${what} (an integer), got number ${String(v)}${why}`);
      }
      if (typeof v === 'string' && DECIMAL_I64.test(v)) {
        const b = BigInt(v);
        return b >= I64_MIN && b <= I64_MAX ? b : new Refused(`string ${quoteJs(v)} does not fit in 64 bits`);
      }
      if (f.type === 'timestamp') {
        const ms = typeof v === 'string' ? parseIsoTimestamp(v) : null;
        return ms ?? new Refused(`${ISO_EXPECTED}, got ${describe(v)}`);
      }
      return new Refused(`expected ${what}, got ${describe(v)}`);
    }
    case 'f64':
      if (typeof v === 'number') return Number.isFinite(v) ? v : new Refused(OVERFLOW);
      return new Refused(`expected an f64 number, got ${describe(v)}`);
    case 'bool':
      if (typeof v === 'boolean') return v;
      return new Refused(`expected a boolean, got ${describe(v)}`);
    case 'utf8':
      if (typeof v === 'string') return v;
      return new Refused(`expected a string, got ${describe(v)}`);
  }
}
