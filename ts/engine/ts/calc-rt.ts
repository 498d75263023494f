/**
 * What the calc operator's generated code calls (engine/ts/calc.ts): the rules that are more
 * than an operator, written once. Each has a twin in crates/sluice-core/src/calc/rules.rs with
 * the same results and the same error messages.
 */

import { Buffer } from 'node:buffer';
import { EngineError } from '../errors.js';

/** Thrown by the fast (number) form of the generated code when an i64 does not fit ±2^53: the batch is run again with BigInts. */
export const BAIL = Symbol('calc: rerun with BigInt');

export const I64_MIN = -(2n ** 63n);
export const I64_MAX = 2n ** 63n - 1n;

export function rowError(kind: 'data' | 'overflow', name: string, text: string, row: number, what: string): EngineError {
  return new EngineError(kind, `${name}: ${text} at row ${row} of the batch: ${what}`);
}

export function divByZero(name: string, text: string, row: number): EngineError {
  return rowError('data', name, text, row, 'division by zero; guard the divisor (CASE WHEN d <> 0 THEN ... END) or divide as f64');
}

export function overflow(name: string, text: string, row: number, type: string): EngineError {
  return rowError('overflow', name, text, row, `the result does not fit in ${type}; cast the operands to a wider type (i64, or f64 where rounding is acceptable)`);
}

export function castRange(name: string, text: string, row: number, value: string, type: string): EngineError {
  return rowError('overflow', name, text, row, `${value} does not fit in ${type}`);
}

export function castText(name: string, text: string, row: number, s: string, type: string): EngineError {
  return rowError('data', name, text, row, `'${s}' is not a valid ${type}`);
}

/** UTF-8 bytes [s, e) of `data` as a string (ASCII without a decoder call). */
export function utf8(data: Uint8Array, s: number, e: number): string {
  if (e - s <= 24) {
    let ascii = true;
    for (let k = s; k < e; k++) if (data[k]! >= 0x80) ascii = false;
    if (ascii) return String.fromCharCode.apply(null, data.subarray(s, e) as unknown as number[]);
  }
  return Buffer.from(data.buffer, data.byteOffset + s, e - s).toString('utf8');
}

/** Strings by code point (UTF-8 byte order), as Rust compares `str`. */
export function cmpStr(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      // A surrogate (an astral code point) sorts above every BMP code unit.
      const xs = x >= 0xd800 && x <= 0xdfff;
      const ys = y >= 0xd800 && y <= 0xdfff;
      if (xs !== ys) return xs ? 1 : -1;
      return x < y ? -1 : 1;
    }
  }
  return a.length - b.length;
}

export function charLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdbff) n++;
  }
  return n;
}

/** SQL SUBSTRING(s FROM start FOR len), 1-based, in code points; len < 0 is an error (null len: to the end). */
export function substring(s: string, start: number, len: number | null, name: string, text: string, row: number): string {
  if (len !== null && len < 0) throw rowError('data', name, text, row, `the length ${len} is negative`);
  const cps = Array.from(s);
  const from = Math.max(start, 1);
  const to = len === null ? cps.length + 1 : Math.min(start + len, cps.length + 1);
  return to <= from ? '' : cps.slice(from - 1, to - 1).join('');
}

/** SQL TRIM: spaces at both ends. */
export function trim(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && s.charCodeAt(a) === 32) a++;
  while (b > a && s.charCodeAt(b - 1) === 32) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** A LIKE pattern as a regular expression over code points. */
export function likeRegExp(pattern: string, escape: string): RegExp {
  let re = '^';
  const cps = Array.from(pattern);
  for (let i = 0; i < cps.length; i++) {
    const c = cps[i]!;
    if (escape !== '' && c === escape && i + 1 < cps.length) re += escapeRe(cps[++i]!);
    else if (c === '%') re += '[^]*';
    else if (c === '_') re += '[^]';
    else re += escapeRe(c);
  }
  return new RegExp(re + '$', 'u');
}

function escapeRe(c: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(c) ? '\\' + c : c;
}

/** ROUND(x, d) for f64: half away from zero at `d` decimal places (the same float steps as Rust's `round_f64`). */
export function roundF64(x: number, d: number): number {
  if (!Number.isFinite(x)) return x;
  let r: number;
  if (d >= 0) {
    const p = Math.pow(10, d);
    r = Math.floor(Math.abs(x) * p + 0.5) / p;
  } else {
    const p = Math.pow(10, -d);
    r = Math.floor(Math.abs(x) / p + 0.5) * p;
  }
  return x < 0 ? -r : r;
}

const WS = /^[ \t\n\r]+|[ \t\n\r]+$/g;
const INT = /^[+-]?[0-9]+$/;
const F64 = /^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;

/** Text -> i64 as a BigInt (trimmed; decimal digits with an optional sign), or null. */
export function parseIntText(s: string): bigint | null {
  const t = s.replace(WS, '');
  return INT.test(t) ? BigInt(t) : null;
}

export function parseF64Text(s: string): number | null {
  const t = s.replace(WS, '');
  const l = t.toLowerCase();
  if (l === 'nan') return NaN;
  if (l === 'infinity' || l === '+infinity' || l === 'inf' || l === '+inf') return Infinity;
  if (l === '-infinity' || l === '-inf') return -Infinity;
  return F64.test(t) ? Number(t) : null;
}

export function parseBoolText(s: string): boolean | null {
  const l = s.replace(WS, '').toLowerCase();
  return l === 'true' ? true : l === 'false' ? false : null;
}

/** Timestamps beyond JavaScript's date range (±8.64e15 ms) are refused by date functions on both engines. */
export const TS_LIMIT = 8.64e15;

function civil(ms: number): { y: number; m: number; d: number; days: number; msOfDay: number } {
  const days = Math.floor(ms / 86400000);
  const msOfDay = ms - days * 86400000;
  // Howard Hinnant's civil_from_days.
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return { y, m, d, days, msOfDay };
}

function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function tsRange(ms: number, name: string, text: string, row: number): void {
  if (!(ms >= -TS_LIMIT && ms <= TS_LIMIT)) throw rowError('data', name, text, row, 'the timestamp is outside ±8.64e15 ms (the range of dates)');
}

/** EXTRACT(unit FROM ts), UTC; dayOfWeek 1 = Sunday ... 7 = Saturday, week: ISO 8601. */
export function extract(unit: string, ms: number, name: string, text: string, row: number): number {
  tsRange(ms, name, text, row);
  const c = civil(ms);
  switch (unit) {
    case 'year':
      return c.y;
    case 'quarter':
      return Math.floor((c.m - 1) / 3) + 1;
    case 'month':
      return c.m;
    case 'day':
      return c.d;
    case 'dayOfWeek':
      return (((c.days + 4) % 7) + 7) % 7 + 1;
    case 'dayOfYear':
      return c.days - daysFromCivil(c.y, 1, 1) + 1;
    case 'week': {
      const dow = ((((c.days + 3) % 7) + 7) % 7) + 1; // ISO: Monday 1 ... Sunday 7
      const thursday = c.days - dow + 4;
      const ty = civil(thursday * 86400000).y;
      return Math.floor((thursday - daysFromCivil(ty, 1, 1)) / 7) + 1;
    }
    case 'hour':
      return Math.floor(c.msOfDay / 3600000);
    case 'minute':
      return Math.floor(c.msOfDay / 60000) % 60;
    case 'second':
      return Math.floor(c.msOfDay / 1000) % 60;
    case 'millisecond':
      return c.msOfDay % 1000;
  }
  throw new EngineError('config', `unknown EXTRACT unit '${unit}'`);
}

const pad = (x: number, w: number): string => String(x).padStart(w, '0');

/** A timestamp as SQL text: 'yyyy-MM-dd HH:mm:ss.SSS' (UTC). */
export function timestampText(ms: number, name: string, text: string, row: number): string {
  tsRange(ms, name, text, row);
  const c = civil(ms);
  const y = c.y < 0 ? '-' + pad(-c.y, 4) : pad(c.y, 4);
  const t = c.msOfDay;
  return `${y}-${pad(c.m, 2)}-${pad(c.d, 2)} ${pad(Math.floor(t / 3600000), 2)}:${pad(Math.floor(t / 60000) % 60, 2)}:${pad(Math.floor(t / 1000) % 60, 2)}.${pad(t % 1000, 3)}`;
}

/** Strings -> a utf8 column's offsets and bytes. */
export function encodeStrings(strs: readonly string[], n: number): { offsets: Int32Array; data: Uint8Array } {
  const offsets = new Int32Array(n + 1);
  let total = 0;
  for (let i = 0; i < n; i++) {
    total += Buffer.byteLength(strs[i]!, 'utf8');
    offsets[i + 1] = total;
  }
  const data = Buffer.allocUnsafe(total);
  let at = 0;
  for (let i = 0; i < n; i++) at += data.write(strs[i]!, at, 'utf8');
  return { offsets, data: new Uint8Array(data.buffer, data.byteOffset, total) };
}
