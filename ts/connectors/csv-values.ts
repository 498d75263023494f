/**
 * CSV text -> the JS value of a column type, before the batch builder checks it. Exact and
 * strict: integers are decimal text (beyond ±2^53 they become a BigInt, never a rounded
 * number), booleans are true/false (any case), timestamps are integer ms or ISO-8601 text.
 * A parser throws a plain Error with the detail; the caller adds file, line and field.
 */

import type { DataType } from '../batch/schema.js';

export type TextParser = (text: string) => unknown;

const INTEGER = /^[+-]?[0-9]+$/;
const FLOAT = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;
/** What the CSV sink writes for non-finite f64 values. */
const NON_FINITE: ReadonlyMap<string, number> = new Map([
  ['NaN', NaN],
  ['Infinity', Infinity],
  ['+Infinity', Infinity],
  ['-Infinity', -Infinity],
]);

export function textParser(type: DataType): TextParser {
  switch (type) {
    case 'i32':
      return (s) => {
        if (!INTEGER.test(s)) throw new Error(`expected an i32 (a decimal integer), got ${quote(s)}`);
        const v = Number(s);
        if (v < -2147483648 || v > 2147483647) throw new Error(`${s} does not fit in an i32 (±2^31)`);
        return v;
      };
    case 'i64':
      return (s) => {
        if (!INTEGER.test(s)) throw new Error(`expected an i64 (a decimal integer), got ${quote(s)}`);
        return exactInteger(s);
      };
    case 'timestamp':
      return (s) => {
        if (INTEGER.test(s)) return exactInteger(s);
        const ms = parseIsoTimestamp(s);
        if (ms === null) {
          throw new Error(`expected a timestamp: integer ms since the epoch or ISO-8601 text such as 2024-05-01T12:00:00.250Z, got ${quote(s)}`);
        }
        return ms;
      };
    case 'f64':
      return (s) => {
        if (FLOAT.test(s)) {
          const x = Number(s);
          // Text that overflows is refused: only the words NaN and Infinity mean those values.
          if (!Number.isFinite(x)) throw new Error('a number beyond ±1.7976931348623157e+308 does not fit in an f64 (it would be Infinity)');
          return x;
        }
        const v = NON_FINITE.get(s);
        if (v === undefined) throw new Error(`expected an f64 number, got ${quote(s)}`);
        return v;
      };
    case 'bool':
      return (s) => {
        const l = s.toLowerCase();
        if (l === 'true') return true;
        if (l === 'false') return false;
        throw new Error(`expected a boolean (true or false), got ${quote(s)}`);
      };
    case 'utf8':
      return (s) => s;
  }
}

/** Up to 15 digits always fit a double exactly; longer text goes through BigInt (the builder checks 64 bits). */
function exactInteger(s: string): number | bigint {
  const digits = s.charCodeAt(0) === 0x2b || s.charCodeAt(0) === 0x2d ? s.length - 1 : s.length;
  return digits <= 15 ? Number(s) : BigInt(s);
}

function quote(s: string): string {
  if (s === '') return 'an empty string ("")';
  return JSON.stringify(s.length > 40 ? s.slice(0, 40) + '…' : s);
}

const ISO =
  /^([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]{1,9}))?)?([Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)?)?$/;

/**
 * ISO-8601 text -> ms since the epoch, or null when it is not a valid date-time. A date, or a
 * date-time without an offset, is taken as UTC (never the machine's time zone, so a job
 * reads the same values everywhere). Digits below the millisecond are dropped.
 */
export function parseIsoTimestamp(s: string): number | null {
  const m = ISO.exec(s);
  if (m === null) return null;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = m[4] === undefined ? 0 : Number(m[4]);
  const minute = m[5] === undefined ? 0 : Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  const ms = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0'));
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || second > 59) return null;
  let offsetMin = 0;
  const zone = m[8];
  if (zone !== undefined && zone !== 'Z' && zone !== 'z') {
    const oh = Number(zone.slice(1, 3));
    const om = zone.length > 3 ? Number(zone.slice(-2)) : 0;
    if (oh > 23 || om > 59) return null;
    offsetMin = (zone[0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day); // not Date.UTC: it maps years 0-99 to 1900-1999
  d.setUTCHours(hour, minute, second, ms);
  return d.getTime() - offsetMin * 60_000;
}

function daysIn(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}
