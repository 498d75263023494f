//! The tests' pseudo-random numbers: xorshift64, reproducible from its seed.

/// The numbers that follow `seed` (xorshift64: 13, 7, 17); the seed must not be 0.
pub(crate) fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}
