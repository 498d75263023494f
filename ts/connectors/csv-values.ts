/**
 * CSV text -> the JS value of a column type, before the batch builder checks it. Exact and
 * strict: integers are decimal text (beyond ±2^53 they become a BigInt, never a rounded
 * number), booleans are true/false (any case), timestamps are integer ms or ISO-8601 text.
 * A parser throws a plain Error with the detail; the caller adds file, line and field.
 */

import type { DataType } from '../batch/schema.js';
import { parseIsoTimestamp } from '../batch/timestamp-text.js';

export { parseIsoTimestamp };

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
