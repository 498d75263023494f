/**
 * CSV (RFC 4180) bytes -> a batch of the declared schema, the TypeScript engine's way. Mirrors
 * crates/sluice-core/src/text/csv.rs rule for rule and message for message: records are found
 * on the bytes (quotes, delimiters and line breaks are ASCII, or the delimiter's own UTF-8
 * bytes), each record is checked to be UTF-8, then its fields are read by the field types
 * (connectors' csv-values rules: exact integers, ISO-8601 timestamps, NaN/Infinity words).
 */

import { Buffer } from 'node:buffer';
import { columnBuilder } from '../../../batch/builder.js';
import { RecordBatch } from '../../../batch/record-batch.js';
import type { Field, Schema } from '../../../batch/schema.js';
import { EngineError } from '../../errors.js';
import type { BadLine, CsvDecoder, CsvHeader, DecodedLines } from '../../engine.js';
import { quoteJs } from './jsonl.js';
import { invalidUtf8At } from './utf8.js';
import { parseIsoTimestamp } from '../../../batch/timestamp-text.js';

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;
const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;
const INTEGER = /^[+-]?[0-9]+$/;
const FLOAT = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;
const NON_FINITE: ReadonlyMap<string, number> = new Map([
  ['NaN', NaN],
  ['Infinity', Infinity],
  ['+Infinity', Infinity],
  ['-Infinity', -Infinity],
]);
const OVERFLOW = 'a number beyond ±1.7976931348623157e+308 does not fit in an f64 (it would be Infinity)';

type Step = { kind: 'record'; end: number } | { kind: 'more' } | { kind: 'bad'; end: number; problem: string };
const MORE: Step = { kind: 'more' };

class Refused {
  constructor(readonly detail: string) {}
}

function quote(s: string): string {
  return s === '' ? 'an empty string ("")' : quoteJs(s);
}

export class TsCsvDecoder implements CsvDecoder {
  private readonly fields: readonly Field[];
  private readonly delim: Buffer;
  private columnOf: number[] | null;
  private width: number;
  /** The last record's fields: [from, to, quoted] per field, in bytes. */
  private spans: number[] = [];

  constructor(
    private readonly schema: Schema,
    private readonly where: string,
    private readonly format: { readonly delimiter: string; readonly header: boolean },
  ) {
    this.fields = schema.fields;
    this.delim = Buffer.from(format.delimiter, 'utf8');
    this.columnOf = format.header ? null : this.fields.map((_, k) => k);
    this.width = this.fields.length;
  }

  header(): CsvHeader | null {
    return this.format.header && this.columnOf !== null ? { columnOf: [...this.columnOf], width: this.width } : null;
  }

  setHeader(columnOf: readonly number[], width: number): void {
    this.columnOf = [...columnOf];
    this.width = width;
  }

  decode(bytes: Uint8Array, firstLine: number, maxRows: number, eof: boolean): DecodedLines {
    const t = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const cols = this.fields.map((f) => columnBuilder(f, Math.min(maxRows, (t.length >>> 4) + 1)));
    const row: unknown[] = new Array(this.fields.length);
    const bad: BadLine[] = [];
    let rows = 0;
    let pos = 0;
    let line = firstLine + 1;
    while (pos < t.length && rows < maxRows) {
      const step = this.parse(t, pos, eof);
      if (step.kind === 'more') break;
      const start = pos;
      const at = line;
      for (let i = t.indexOf(LF, start); i >= 0 && i < step.end; i = t.indexOf(LF, i + 1)) line++;
      pos = step.end;
      const raw = (): string => {
        let e = step.end;
        if (e > start && t[e - 1] === LF) e--;
        if (e > start && t[e - 1] === CR && t[step.end - 1] === LF) e--;
        return t.toString('utf8', start, e);
      };
      const badByte = invalidUtf8At(t, start, step.end);
      if (badByte >= 0) {
        const message = `${this.where}, line ${at}: invalid UTF-8 at byte ${badByte - start + 1} of the record; the file must be UTF-8 text (convert it, e.g. with iconv -t UTF-8)`;
        if (this.columnOf === null) throw new EngineError('data', message);
        bad.push({ line: at, message, raw: raw() });
        continue;
      }
      if (step.kind === 'bad') {
        if (this.columnOf === null) throw new EngineError('data', `${this.where}, line ${at}: malformed header row: ${step.problem}`);
        bad.push({ line: at, message: `${this.where}, line ${at}: malformed CSV: ${step.problem}`, raw: raw() });
        continue;
      }
      const s = this.spans;
      if (s.length === 3 && s[0] === s[1] && s[2] === 0) continue; // a blank record
      if (this.columnOf === null) {
        this.readHeader(t);
        continue;
      }
      const n = s.length / 3;
      if (n !== this.width) {
        const what = this.format.header ? 'as many as the header has' : 'one per schema field';
        bad.push({ line: at, message: `${this.where}, line ${at}: malformed CSV: expected ${this.width} fields (${what}), got ${n}`, raw: raw() });
        continue;
      }
      const problem = this.values(t, row);
      if (problem !== null) {
        bad.push({ line: at, message: `${this.where}, line ${at}, field '${this.fields[problem[0]]!.name}': ${problem[1]}`, raw: raw() });
        continue;
      }
      for (let k = 0; k < cols.length; k++) cols[k]!.append(row[k], this.where, at);
      rows++;
    }
    let lines = line - firstLine - 1;
    // A last record without a line break has been read: a restore must not read it again.
    if (eof && pos === t.length && pos > 0 && t[pos - 1] !== LF) lines++;
    return { batch: new RecordBatch(this.schema, cols.map((c) => c.finish()), rows, null), consumed: pos, lines, bad };
  }

  private fieldText(t: Buffer, i: number): string {
    const s = this.spans;
    const text = t.toString('utf8', s[3 * i]!, s[3 * i + 1]!);
    return s[3 * i + 2] === 1 && text.includes('"') ? text.replaceAll('""', '"') : text;
  }

  private readHeader(t: Buffer): void {
    const names: string[] = [];
    for (let i = 0; i < this.spans.length / 3; i++) names.push(this.fieldText(t, i));
    const columnOf: number[] = [];
    for (const f of this.fields) {
      const at = names.indexOf(f.name);
      if (at < 0) {
        throw new EngineError(
          'data',
          `${this.where}: the CSV header has no column '${f.name}', which the schema declares; the header has ${names.map((h) => `'${h}'`).join(', ')}. ` +
            'Rename the column or the field, or read the file with { header: false } to match columns by position',
        );
      }
      if (names.indexOf(f.name, at + 1) >= 0) throw new EngineError('data', `${this.where}: the CSV header names column '${f.name}' twice; which one to read is ambiguous`);
      columnOf.push(at);
    }
    this.width = names.length;
    this.columnOf = columnOf;
  }

  /** Fills `row`; returns [field, detail] of the first value refused, or null. */
  private values(t: Buffer, row: unknown[]): [number, string] | null {
    const s = this.spans;
    const columnOf = this.columnOf!;
    for (let k = 0; k < this.fields.length; k++) {
      const f = this.fields[k]!;
      const c = columnOf[k]!;
      if (s[3 * c] === s[3 * c + 1] && s[3 * c + 2] === 0) {
        if (!f.nullable) {
          const hint = f.type === 'utf8' ? `; declare it as 'utf8?' to allow nulls, or write "" for an empty string` : `; declare it as '${f.type}?' to allow nulls`;
          return [k, `is empty (null) but the field is not nullable${hint}`];
        }
        row[k] = null;
        continue;
      }
      const v = value(f, this.fieldText(t, c));
      if (v instanceof Refused) return [k, v.detail];
      row[k] = v;
    }
    return null;
  }

  private delimAt(t: Buffer, i: number): boolean {
    const d = this.delim;
    if (t[i] !== d[0]) return false;
    for (let k = 1; k < d.length; k++) if (t[i + k] !== d[k]) return false;
    return true;
  }

  /** One record starting at `start`. */
  private parse(t: Buffer, start: number, eof: boolean): Step {
    const s = this.spans;
    s.length = 0;
    const n = t.length;
    let p = start;
    for (;;) {
      if (p < n && t[p] === QUOTE) {
        let seg = p + 1;
        let endQuote: number;
        for (;;) {
          const q = t.indexOf(QUOTE, seg);
          if (q < 0) {
            if (!eof) return MORE;
            return { kind: 'bad', end: n, problem: 'a quoted field is not closed before the end of the file (an opening quote runs to the next quote, across lines)' };
          }
          if (q + 1 >= n && !eof) return MORE; // a doubled quote may continue in the next chunk
          if (q + 1 < n && t[q + 1] === QUOTE) {
            seg = q + 2;
            continue;
          }
          endQuote = q;
          break;
        }
        s.push(p + 1, endQuote, 1);
        p = endQuote + 1;
        if (p >= n) {
          if (!eof) return MORE;
          return { kind: 'record', end: n };
        }
        if (this.delimAt(t, p)) {
          p += this.delim.length;
          continue;
        }
        if (t[p] === LF) return { kind: 'record', end: p + 1 };
        if (t[p] === CR) {
          if (p + 1 >= n && !eof) return MORE;
          if (p + 1 >= n) return { kind: 'record', end: n };
          if (t[p + 1] === LF) return { kind: 'record', end: p + 2 };
        }
        return bad(
          t,
          p,
          eof,
          `unexpected ${describeChar(t, p)} after the closing quote of field ${s.length / 3}; a quoted field must end at a delimiter or the end of the line (write a quote inside quotes as "")`,
        );
      }
      let i = p;
      while (i < n && t[i] !== LF && t[i] !== QUOTE && !this.delimAt(t, i)) i++;
      if (i >= n) {
        if (!eof) return MORE;
        s.push(p, stripCr(t, p, n), 0);
        return { kind: 'record', end: n };
      }
      if (t[i] === QUOTE) return bad(t, i, eof, `a quote inside unquoted field ${s.length / 3 + 1}; quote the whole field and double the quotes inside it ("a""b")`);
      if (t[i] === LF) {
        s.push(p, stripCr(t, p, i), 0);
        return { kind: 'record', end: i + 1 };
      }
      s.push(p, i, 0);
      p = i + this.delim.length;
    }
  }
}

/** A malformed record: skip to the end of the line where the problem is. */
function bad(t: Buffer, at: number, eof: boolean, problem: string): Step {
  const nl = t.indexOf(LF, at);
  if (nl < 0 && !eof) return MORE;
  return { kind: 'bad', end: nl < 0 ? t.length : nl + 1, problem };
}

function stripCr(t: Buffer, from: number, to: number): number {
  return to > from && t[to - 1] === CR ? to - 1 : to;
}

/** The character at byte i, as one UTF-16 unit of it (the first of a pair). */
function describeChar(t: Buffer, i: number): string {
  if (t[i] === CR) return 'a carriage return';
  const b = t[i]!;
  const len = b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
  const c = t.toString('utf8', i, Math.min(t.length, i + len));
  return `character ${JSON.stringify(c[0]!)}`;
}

/** An integer's text exactly: a number up to 15 digits, else a BigInt checked for 64 bits. */
function exactInteger(s: string): number | bigint | Refused {
  const digits = s.charCodeAt(0) === 0x2b || s.charCodeAt(0) === 0x2d ? s.length - 1 : s.length;
  if (digits <= 15) return Number(s);
  const b = BigInt(s);
  return b >= I64_MIN && b <= I64_MAX ? b : new Refused(`bigint ${b} does not fit in 64 bits`);
}

function value(f: Field, s: string): unknown {
  switch (f.type) {
    case 'i32': {
      if (!INTEGER.test(s)) return new Refused(`expected an i32 (a decimal integer), got ${quote(s)}`);
      const v = Number(s);
      if (v < -2147483648 || v > 2147483647) return new Refused(`${s} does not fit in an i32 (±2^31)`);
      return v === 0 ? 0 : v;
    }
    case 'i64':
      if (!INTEGER.test(s)) return new Refused(`expected an i64 (a decimal integer), got ${quote(s)}`);
      return exactInteger(s);
    case 'timestamp': {
      if (INTEGER.test(s)) return exactInteger(s);
      const ms = parseIsoTimestamp(s);
      if (ms === null) return new Refused(`expected a timestamp: integer ms since the epoch or ISO-8601 text such as 2024-05-01T12:00:00.250Z, got ${quote(s)}`);
      return ms;
    }
    case 'f64': {
      if (FLOAT.test(s)) {
        const x = Number(s);
        return Number.isFinite(x) ? x : new Refused(OVERFLOW);
      }
      const v = NON_FINITE.get(s);
      return v === undefined ? new Refused(`expected an f64 number, got ${quote(s)}`) : v;
    }
    case 'bool': {
      const l = s.toLowerCase();
      if (l === 'true') return true;
      if (l === 'false') return false;
      return new Refused(`expected a boolean (true or false), got ${quote(s)}`);
    }
    case 'utf8':
      return s;
  }
}
