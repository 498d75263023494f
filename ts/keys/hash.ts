/**
 * Stable hashing: murmur3 x86_32, bit for bit the same as `crates/sluice-core/src/hash.rs`.
 *
 * Key groups (state placement) and the Nexmark generator's random draws are derived from it, so
 * both languages must agree on every input. All math is 32-bit (`Math.imul`, shifts); results
 * are unsigned 32-bit numbers.
 */

const C1 = 0xcc9e2d51 | 0;
const C2 = 0x1b873593 | 0;

/** The key mix of one 32-bit block (signed int32 result). */
export function mixK(k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, C2);
}

/** Mixes block `k` into state `h` (signed int32 result). */
export function mixH(h: number, k: number): number {
  h ^= mixK(k);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/**
 * murmur3 (seed 0) of the 9 canonical bytes [1, v as 8 LE bytes] of a non-null i64 key given as
 * its lo/hi words: `mixH(mixH(0, [1, lo]), ...)`, the tail and `fmix32`, written out flat. Called
 * per row by the exchange's routing; as nested calls V8 left some of them out of line there
 * (7.6 ns a key against 5.8 flat).
 */
export function hashI64Words(lo: number, hi: number): number {
  let k = Math.imul(1 | (lo << 8), C1);
  k = Math.imul((k << 15) | (k >>> 17), C2);
  let h = (k << 13) | (k >>> 19);
  h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  k = Math.imul((lo >>> 24) | (hi << 8), C1);
  k = Math.imul((k << 15) | (k >>> 17), C2);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  k = Math.imul(hi >>> 24, C1);
  h ^= Math.imul((k << 15) | (k >>> 17), C2) ^ 9;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** murmur3's finaliser (unsigned result). */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** murmur3 x86_32 of `data` with `seed` (unsigned result). */
/** murmur3 x86_32 of `data[0..length)`; `length` lets hot loops hash a scratch buffer without a subarray. */
export function murmur3_32(data: Uint8Array, seed: number, length: number = data.length): number {
  let h = seed | 0;
  const n = length;
  const whole = n & ~3;
  let i = 0;
  for (; i < whole; i += 4) {
    h = mixH(h, data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24));
  }
  const rest = n - whole;
  if (rest > 0) {
    let k = 0;
    if (rest >= 3) k ^= data[i + 2]! << 16;
    if (rest >= 2) k ^= data[i + 1]! << 8;
    k ^= data[i]!;
    h ^= mixK(k);
  }
  return fmix32(h ^ n);
}

/** murmur3 x86_32 of the 8 little-endian bytes of the u64 `hi * 2^32 + lo`. */
export function murmur3U64(lo: number, hi: number, seed: number): number {
  return fmix32(mixH(mixH(seed | 0, lo | 0), hi | 0) ^ 8);
}

/** murmur3 x86_32 of the 4 little-endian bytes of the u32 `v`. */
export function murmur3U32(v: number, seed: number): number {
  return fmix32(mixH(seed | 0, v | 0) ^ 4);
}
