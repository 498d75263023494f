// The column scans behind event time and compiled functions: which i64 values a number holds
// exactly (±2^53), and the largest one, compared with BigInt arithmetic on random columns.
import { describe, expect, it } from 'vitest';
import { firstInexact, i32View, knownExactMax, maxExactI64, noteExactMax } from '../../ts/batch/i64.js';
import { rng } from '../engines.js';

const LIMIT = 2n ** 53n;
const exact = (x: bigint): boolean => x >= -LIMIT && x < LIMIT;

describe('i64 column scans', () => {
  it('find the first value beyond ±2^53 and the largest value, as BigInt comparisons do', () => {
    const r = rng(53);
    const edges = [0n, -1n, 1n, LIMIT - 1n, LIMIT, -LIMIT, -LIMIT - 1n, 2n ** 32n - 1n, 2n ** 32n, -(2n ** 32n), 2n ** 63n - 1n, -(2n ** 63n)];
    for (let iter = 0; iter < 500; iter++) {
      const n = 1 + Math.floor(r() * 700);
      const values = new BigInt64Array(n + 3); // longer than n: the scans stop at n
      const base = BigInt(Math.floor(r() * 2 ** 40)) * (r() < 0.5 ? -1n : 1n);
      // Rising by small steps (event times), small steps either way, or wide jumps and edges.
      const mode = iter % 3;
      for (let i = 0; i < values.length; i++) {
        const v = r();
        values[i] =
          mode === 0 ? base + BigInt(i * 3) : mode === 1 ? base + BigInt(Math.floor((r() - 0.5) * 64)) : v < 0.05 ? edges[Math.floor(r() * edges.length)]! : base + BigInt(Math.floor((r() - 0.5) * 2 ** 34));
      }
      const v32 = i32View(values);
      const cut = Array.from(values.subarray(0, n));
      expect(firstInexact(v32, n)).toBe(cut.findIndex((x) => !exact(x)));
      expect(maxExactI64(v32, n)).toBe(cut.every(exact) ? Number(cut.reduce((a, b) => (b > a ? b : a))) : NaN);
    }
    expect(maxExactI64(new Int32Array(0), 0)).toBe(-Infinity);
  });

  it('remember the largest value of the arrays noted last, for their length only', () => {
    const arrays = Array.from({ length: 20 }, (_, k) => BigInt64Array.of(BigInt(k), BigInt(k) * 10n));
    arrays.forEach((a, k) => noteExactMax(a, 2, k * 10));
    // The latest are known at the length noted, and not at another; the earliest were let go.
    expect(knownExactMax(arrays[19]!, 2)).toBe(190);
    expect(knownExactMax(arrays[12]!, 2)).toBe(120);
    expect(knownExactMax(arrays[19]!, 1)).toBeUndefined();
    expect(knownExactMax(arrays[0]!, 2)).toBeUndefined();
    expect(knownExactMax(new BigInt64Array(2), 2)).toBeUndefined();
  });
});
