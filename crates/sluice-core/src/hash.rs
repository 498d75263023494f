//! Stable hashing: murmur3 x86_32 over canonical bytes.
//!
//! The same function exists in TypeScript (`ts/engine/ts/hash.ts`); both must return the same
//! value for the same bytes on every platform and release, because key groups (state
//! placement) and the Nexmark generator's random draws are derived from it.

const C1: u32 = 0xcc9e_2d51;
const C2: u32 = 0x1b87_3593;

#[inline(always)]
fn mix_k(k: u32) -> u32 {
    k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2)
}

#[inline(always)]
fn mix_h(h: u32, k: u32) -> u32 {
    (h ^ mix_k(k)).rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64)
}

#[inline(always)]
pub fn fmix32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// murmur3 x86_32 of `data` with `seed`.
pub fn murmur3_32(data: &[u8], seed: u32) -> u32 {
    let mut h = seed;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        h = mix_h(h, u32::from_le_bytes([c[0], c[1], c[2], c[3]]));
    }
    let tail = chunks.remainder();
    let mut k: u32 = 0;
    if tail.len() >= 3 {
        k ^= (tail[2] as u32) << 16;
    }
    if tail.len() >= 2 {
        k ^= (tail[1] as u32) << 8;
    }
    if !tail.is_empty() {
        k ^= tail[0] as u32;
        h ^= mix_k(k);
    }
    fmix32(h ^ data.len() as u32)
}

/// murmur3 x86_32 of the 8 little-endian bytes of `v`, without going through a byte slice.
#[inline(always)]
pub fn murmur3_u64(v: u64, seed: u32) -> u32 {
    let h = mix_h(seed, v as u32);
    let h = mix_h(h, (v >> 32) as u32);
    fmix32(h ^ 8)
}

/// murmur3 x86_32 of the 4 little-endian bytes of `v`.
#[inline(always)]
pub fn murmur3_u32(v: u32, seed: u32) -> u32 {
    fmix32(mix_h(seed, v) ^ 4)
}

/// Flink's key-group assignment on a stable hash: `hash % maxParallelism`.
#[inline]
pub fn key_group(hash: u32, max_parallelism: u32) -> u32 {
    hash % max_parallelism
}

/// The subtask that owns a key group: `keyGroup * parallelism / maxParallelism`.
#[inline]
pub fn subtask_for_key_group(key_group: u32, parallelism: u32, max_parallelism: u32) -> u32 {
    ((key_group as u64 * parallelism as u64) / max_parallelism as u64) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur3_reference_vectors() {
        // Published murmur3 x86_32 test vectors.
        assert_eq!(murmur3_32(b"", 0), 0);
        assert_eq!(murmur3_32(b"", 1), 0x514e_28b7);
        assert_eq!(murmur3_32(b"", 0xffff_ffff), 0x81f1_6f39);
        assert_eq!(murmur3_32(&[0, 0, 0, 0], 0), 0x2362_f9de);
        assert_eq!(murmur3_32(b"aaaa", 0x9747_b28c), 0x5a97_808a);
        assert_eq!(murmur3_32(b"abc", 0), 0xb3dd_93fa);
        assert_eq!(murmur3_32(b"Hello, world!", 0x9747_b28c), 0x2488_4cba);
        assert_eq!(murmur3_32(b"The quick brown fox jumps over the lazy dog", 0x9747_b28c), 0x2fa8_26cd);
    }

    #[test]
    fn specialised_forms_match_bytes() {
        for v in [0u64, 1, 42, u64::MAX, 1 << 53, 0xdead_beef_cafe_babe] {
            assert_eq!(murmur3_u64(v, 7), murmur3_32(&v.to_le_bytes(), 7));
            assert_eq!(murmur3_u32(v as u32, 7), murmur3_32(&(v as u32).to_le_bytes(), 7));
        }
    }

    #[test]
    fn key_groups_cover_subtasks_contiguously() {
        assert_eq!(subtask_for_key_group(0, 4, 128), 0);
        assert_eq!(subtask_for_key_group(31, 4, 128), 0);
        assert_eq!(subtask_for_key_group(32, 4, 128), 1);
        assert_eq!(subtask_for_key_group(127, 4, 128), 3);
    }
}
