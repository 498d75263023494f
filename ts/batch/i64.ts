/**
 * Exact 64-bit integers without BigInt arithmetic on the hot path.
 *
 * i64 and timestamp columns are stored in `BigInt64Array`s (the same bytes Rust sees as
 * `&[i64]`). Reading a `BigInt64Array` element allocates a BigInt, so hot loops read through an
 * `Int32Array` view of the same buffer: element i is (lo = v32[2i], hi = v32[2i + 1]),
 * little-endian on every platform Node supports.
 */

const TWO32 = 4294967296;
/** |hi| below this means |value| <= 2^53: exactly representable as a number. */
const HI_EXACT = 2097152; // 2^21

export function i32View(values: BigInt64Array): Int32Array {
  return new Int32Array(values.buffer, values.byteOffset, values.length * 2);
}

/**
 * 8-byte values (i64, timestamp or f64) as doubles, to be moved, never computed with: V8 moves a
 * double from one Float64Array to another with its bits unchanged, NaN payloads included, so an
 * i64 whose bits are a NaN stays that i64 (test/parallel/segments.test.ts holds such values and
 * fails if a copy ever makes a NaN quiet or canonical). One load and store a value, not two words.
 */
export function f64View(values: BigInt64Array | Float64Array): Float64Array {
  return values instanceof Float64Array ? values : new Float64Array(values.buffer, values.byteOffset, values.length);
}

/** True when element i of an i64 view is exactly representable as a number. */
export function i64IsExact(v32: Int32Array, i: number): boolean {
  const hi = v32[2 * i + 1]!;
  return hi >= -HI_EXACT && hi < HI_EXACT;
}

/**
 * The first of the first `n` elements of an i64 view beyond ±2^53, or -1. A value is exact
 * when its high word + 2^21 is below 2^22: the words are OR-reduced with no branch per value
 * (columns are checked whole per batch, and a hit is rare), then searched only on a hit.
 */
export function firstInexact(v32: Int32Array, n: number): number {
  let out = 0;
  for (let i = 0; i < n; i++) out |= (v32[2 * i + 1]! + HI_EXACT) >>> 22;
  if (out === 0) return -1;
  for (let i = 0; i < n; i++) if (!i64IsExact(v32, i)) return i;
  return -1;
}

/**
 * The largest of the first `n` elements of an i64 view as a number (-Infinity when `n` is 0),
 * or NaN when one is beyond ±2^53 (find it with firstInexact): one pass, no branch per value.
 */
export function maxExactI64(v32: Int32Array, n: number): number {
  let out = 0;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const h = v32[2 * i + 1]!;
    out |= (h + HI_EXACT) >>> 22;
    const x = h * TWO32 + (v32[2 * i]! >>> 0);
    max = x > max ? x : max;
  }
  return out === 0 ? max : NaN;
}

/**
 * The arrays noted last, in a ring: a batch's maximum is asked for right after the batch is
 * made (by the next operator or the watermark step), so a few entries find it. With a WeakMap,
 * `noteExactMax` took 15 ms of a 40 M-event q2 job's profile (~3 us per batch); the ring does
 * not show in it. It holds at most `NOTED` arrays alive; a miss only rescans.
 */
const NOTED = 8;
const notedArrays: (BigInt64Array | null)[] = new Array<BigInt64Array | null>(NOTED).fill(null);
const notedN = new Float64Array(NOTED);
const notedMax = new Float64Array(NOTED);
let notedNext = 0;

/** Records that the first `n` values of `values` are within ±2^53 and the largest is `max` (known where the array was made). */
export function noteExactMax(values: BigInt64Array, n: number, max: number): void {
  const k = notedNext;
  notedNext = (k + 1) % NOTED;
  notedArrays[k] = values;
  notedN[k] = n;
  notedMax[k] = max;
}

/** The largest of the first `n` values if noted (noteExactMax) recently, else undefined. */
export function knownExactMax(values: BigInt64Array, n: number): number | undefined {
  for (let k = 0; k < NOTED; k++) if (notedArrays[k] === values && notedN[k] === n) return notedMax[k];
  return undefined;
}

/** Element i as a number; the caller has checked exactness or knows the range (timestamps). */
export function getI64(v32: Int32Array, i: number): number {
  return v32[2 * i + 1]! * TWO32 + (v32[2 * i]! >>> 0);
}

/** Writes a number that is a safe integer (the caller has checked). */
export function setI64(v32: Int32Array, i: number, x: number): void {
  const hi = Math.floor(x / TWO32);
  v32[2 * i] = x - hi * TWO32; // ToInt32 wraps the unsigned low word
  v32[2 * i + 1] = hi;
}

export const I64_MIN = -(2n ** 63n);
export const I64_MAX = 2n ** 63n - 1n;

/** Error for an i64 value a number cannot hold exactly. */
export function inexactI64Error(where: string, value: bigint): Error {
  return new RangeError(
    `${where}: the i64 value ${value} is outside ±2^53 and cannot be a JavaScript number without rounding; ` +
      'keep it in declarative operators (keyBy on fields, built-in aggregates), which are exact for all 64 bits',
  );
}
