//! Loops compiled for the widest vector instructions the CPU has, picked at run time.
//!
//! The build targets baseline x86-64 (SSE2) so one binary runs everywhere; its loops vectorise
//! at 128 bits and without 64-bit lane multiplies or i64 <-> f64 conversions. `wide(l)` runs the
//! loop `l` in a copy compiled with AVX-512 (F, DQ, VL, BW) or AVX2 where the CPU has them.
//! The instructions change, the results do not: Rust never contracts `a * b + c` into a fused
//! multiply-add, and every lane operation is the IEEE or two's-complement one the scalar code uses.
//!
//! A loop is a value of a `Loop` type, not a closure: its `run` is `#[inline(always)]`, so each
//! copy gets the loop itself (a closure called from three copies is not inlined into them, and
//! its loop would stay baseline). The element functions the loops take are small closures,
//! which are.

/// A loop over slices that `wide` runs.
pub trait Loop {
    type Out;
    fn run(self) -> Self::Out;
}

/// Runs `l`, compiled for the widest instruction set this CPU has.
#[inline(always)]
pub fn wide<L: Loop>(l: L) -> L::Out {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,avx512dq,avx512vl,avx512bw,avx2,bmi1,bmi2,popcnt")]
        unsafe fn avx512<L: Loop>(l: L) -> L::Out {
            l.run()
        }
        #[target_feature(enable = "avx2,bmi1,bmi2,popcnt")]
        unsafe fn avx2<L: Loop>(l: L) -> L::Out {
            l.run()
        }
        use std::arch::is_x86_feature_detected as has;
        let base = has!("avx2") && has!("bmi1") && has!("bmi2") && has!("popcnt");
        if base && has!("avx512f") && has!("avx512dq") && has!("avx512vl") && has!("avx512bw") {
            // SAFETY: the CPU was just found to have every feature `avx512` is compiled for.
            return unsafe { avx512(l) };
        }
        if base {
            // SAFETY: the CPU was just found to have every feature `avx2` is compiled for.
            return unsafe { avx2(l) };
        }
    }
    l.run()
}

/// `f` of each of `xs` into a new vector, the default where not `ok`.
pub struct Map<'a, A, F> {
    pub xs: &'a [A],
    pub ok: Option<&'a [bool]>,
    pub f: F,
}

impl<A: Copy, R: Default, F: Fn(A) -> R> Loop for Map<'_, A, F> {
    type Out = Vec<R>;
    #[inline(always)]
    fn run(self) -> Vec<R> {
        let f = self.f;
        match self.ok {
            None => self.xs.iter().map(|&x| f(x)).collect(),
            Some(ok) => self.xs.iter().zip(ok).map(|(&x, &ok)| if ok { f(x) } else { R::default() }).collect(),
        }
    }
}

/// `f(xs[k], ys[k])` into a new vector, the default where not `ok`.
pub struct ZipMap<'a, A, B, F> {
    pub xs: &'a [A],
    pub ys: &'a [B],
    pub ok: Option<&'a [bool]>,
    pub f: F,
}

impl<A: Copy, B: Copy, R: Default, F: Fn(A, B) -> R> Loop for ZipMap<'_, A, B, F> {
    type Out = Vec<R>;
    #[inline(always)]
    fn run(self) -> Vec<R> {
        let f = self.f;
        match self.ok {
            None => self.xs.iter().zip(self.ys).map(|(&x, &y)| f(x, y)).collect(),
            Some(ok) => self.xs.iter().zip(self.ys).zip(ok).map(|((&x, &y), &ok)| if ok { f(x, y) } else { R::default() }).collect(),
        }
    }
}

/// `Map` and `Any` in one pass: `f` of each of `xs` into a new vector (the default where not
/// `ok`), and whether `p` holds for any of them where `ok`. A check and the computation it
/// guards then read the values once.
pub struct MapAny<'a, A, F, P> {
    pub xs: &'a [A],
    pub ok: Option<&'a [bool]>,
    pub f: F,
    pub p: P,
}

impl<A: Copy, R: Default, F: Fn(A) -> R, P: Fn(A) -> bool> Loop for MapAny<'_, A, F, P> {
    type Out = (Vec<R>, bool);
    #[inline(always)]
    fn run(self) -> (Vec<R>, bool) {
        let (f, p) = (self.f, self.p);
        let mut any = false;
        let out = match self.ok {
            None => self
                .xs
                .iter()
                .map(|&x| {
                    any |= p(x);
                    f(x)
                })
                .collect(),
            Some(ok) => self
                .xs
                .iter()
                .zip(ok)
                .map(|(&x, &ok)| {
                    any |= ok & p(x);
                    if ok {
                        f(x)
                    } else {
                        R::default()
                    }
                })
                .collect(),
        };
        (out, any)
    }
}

/// Whether `p` holds for any of `xs` where `ok` (all when None); every element is looked at,
/// without an early exit, so the loop vectorises.
pub struct Any<'a, A, P> {
    pub xs: &'a [A],
    pub ok: Option<&'a [bool]>,
    pub p: P,
}

impl<A: Copy, P: Fn(A) -> bool> Loop for Any<'_, A, P> {
    type Out = bool;
    #[inline(always)]
    fn run(self) -> bool {
        let p = self.p;
        match self.ok {
            None => self.xs.iter().fold(false, |b, &x| b | p(x)),
            Some(ok) => self.xs.iter().zip(ok).fold(false, |b, (&x, &ok)| b | (ok & p(x))),
        }
    }
}

/// `xs[i]` for each index of `idx`, into a new vector.
pub struct Gather<'a, A> {
    pub xs: &'a [A],
    pub idx: &'a [u32],
}

impl<A: Copy> Loop for Gather<'_, A> {
    type Out = Vec<A>;
    #[inline(always)]
    fn run(self) -> Vec<A> {
        let (xs, idx) = (self.xs, self.idx);
        // One bounds check for all (a max that vectorises), none per row: a checked index per
        // row keeps the loop scalar.
        if idx.is_empty() {
            return Vec::new();
        }
        let max = idx.iter().fold(0u32, |m, &i| m.max(i));
        assert!((max as usize) < xs.len(), "index {max} out of {} values", xs.len());
        // SAFETY: every index is at most `max`, just checked to be within `xs`.
        idx.iter().map(|&i| unsafe { *xs.get_unchecked(i as usize) }).collect()
    }
}

/// The rows of `rows` whose `keep` (and `ok`, when given) is true, written in order from
/// `out[0]`; returns how many. `out` is at least as long as `rows`. With AVX-512 sixteen rows at
/// a time (a compress in a register, then one store: the compress straight to memory is
/// microcoded on some CPUs); with AVX2 eight at a time (`compress_avx2`); else branch-free, a
/// row written and then counted.
pub fn compress(rows: &[u32], keep: &[bool], ok: Option<&[bool]>, out: &mut [u32]) -> usize {
    assert!(keep.len() == rows.len() && ok.is_none_or(|o| o.len() == rows.len()) && out.len() >= rows.len(), "compress: slices of different lengths");
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        if has!("avx512f") && has!("avx512bw") && has!("avx512vl") {
            // SAFETY: the CPU has the features `compress_avx512` is compiled for; the lengths
            // were checked above.
            return unsafe { compress_avx512(rows, keep, ok, out) };
        }
        if has!("avx2") && has!("popcnt") {
            // SAFETY: as above, for `compress_avx2`.
            return unsafe { compress_avx2(rows, keep, ok, out) };
        }
    }
    compress_tail(rows, keep, ok, out, 0, 0)
}

/// For each 8-bit mask, the lane indices of its set bits, lowest first, one per byte (the
/// rest 0): the permutation that moves the kept lanes of 8 to the front.
#[cfg(target_arch = "x86_64")]
const LEFT_PACK: [u64; 256] = {
    let mut t = [0u64; 256];
    let mut m = 0;
    while m < 256 {
        let (mut lane, mut k, mut packed) = (0, 0, 0u64);
        while lane < 8 {
            if m & (1 << lane) != 0 {
                packed |= (lane as u64) << (8 * k);
                k += 1;
            }
            lane += 1;
        }
        t[m] = packed;
        m += 1;
    }
    t
};

/// `compress` eight rows at a time without AVX-512: the keep flags' mask picks a permutation
/// (`LEFT_PACK`) that moves the kept rows to the front of a register, which is stored whole;
/// the next store starts after the kept ones. The scalar loop costs about a cycle a row whatever
/// the filter keeps; this a few cycles per eight.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
unsafe fn compress_avx2(rows: &[u32], keep: &[bool], ok: Option<&[bool]>, out: &mut [u32]) -> usize {
    use std::arch::x86_64::*;
    let n = rows.len();
    let (mut i, mut at) = (0, 0);
    let zero = _mm_setzero_si128();
    while i + 8 <= n {
        // SAFETY (all loads and the store): i + 8 <= n, and every slice holds n elements (out
        // at least n; at <= i, so at + 8 <= n). A bool is one byte, 0 or 1.
        unsafe {
            let k = _mm_loadl_epi64(keep.as_ptr().add(i).cast());
            let mut m = _mm_movemask_epi8(_mm_cmpgt_epi8(k, zero)) & 0xff;
            if let Some(ok) = ok {
                let o = _mm_loadl_epi64(ok.as_ptr().add(i).cast());
                m &= _mm_movemask_epi8(_mm_cmpgt_epi8(o, zero));
            }
            let idx = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(LEFT_PACK[m as usize] as i64));
            let r = _mm256_loadu_si256(rows.as_ptr().add(i).cast());
            _mm256_storeu_si256(out.as_mut_ptr().add(at).cast(), _mm256_permutevar8x32_epi32(r, idx));
            at += (m as u32).count_ones() as usize;
        }
        i += 8;
    }
    compress_tail(rows, keep, ok, out, i, at)
}

/// `compress` from row `i`, `at` rows already written.
#[inline(always)]
fn compress_tail(rows: &[u32], keep: &[bool], ok: Option<&[bool]>, out: &mut [u32], i: usize, mut at: usize) -> usize {
    match ok {
        None => rows[i..].iter().zip(&keep[i..]).for_each(|(&r, &k)| {
            out[at] = r;
            at += k as usize;
        }),
        Some(ok) => rows[i..].iter().zip(&keep[i..]).zip(&ok[i..]).for_each(|((&r, &k), &ok)| {
            out[at] = r;
            at += (k && ok) as usize;
        }),
    }
    at
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
unsafe fn compress_avx512(rows: &[u32], keep: &[bool], ok: Option<&[bool]>, out: &mut [u32]) -> usize {
    use std::arch::x86_64::*;
    let n = rows.len();
    let (mut i, mut at) = (0, 0);
    while i + 16 <= n {
        // SAFETY (all loads and the store): i + 16 <= n, and every slice holds n elements (out
        // at least n; at <= i, so at + 16 <= n). A bool is one byte, 0 or 1.
        unsafe {
            let k = _mm_loadu_si128(keep.as_ptr().add(i).cast());
            let mut m = _mm_test_epi8_mask(k, k);
            if let Some(ok) = ok {
                let o = _mm_loadu_si128(ok.as_ptr().add(i).cast());
                m &= _mm_test_epi8_mask(o, o);
            }
            let r = _mm512_loadu_si512(rows.as_ptr().add(i).cast());
            _mm512_storeu_si512(out.as_mut_ptr().add(at).cast(), _mm512_maskz_compress_epi32(m, r));
            at += m.count_ones() as usize;
        }
        i += 16;
    }
    compress_tail(rows, keep, ok, out, i, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `compress` (AVX-512 or AVX2 where the CPU has them) keeps exactly the rows a plain filter
    /// keeps, in order, for every length around the 8- and 16-row steps, with or without
    /// validity, for filters that keep most, half, few or none of the rows.
    #[test]
    fn compress_keeps_the_rows_a_filter_keeps() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut bit = move |one_in: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            !x.is_multiple_of(one_in)
        };
        for n in (0..70).chain([1023, 1024, 1025]) {
            for (one_in, few) in [1, 2, 3, 50].into_iter().flat_map(|o| [(o, false), (o, true)]) {
                let rows: Vec<u32> = (0..n as u32).map(|r| r * 3 + 1).collect();
                let keep: Vec<bool> = (0..n).map(|_| bit(one_in) != few).collect();
                let ok: Vec<bool> = (0..n).map(|_| bit(5)).collect();
                for valid in [None, Some(&ok[..])] {
                    let want: Vec<u32> = (0..n).filter(|&i| keep[i] && valid.is_none_or(|v| v[i])).map(|i| rows[i]).collect();
                    let mut out = vec![0u32; n];
                    let m = compress(&rows, &keep, valid, &mut out);
                    assert_eq!(&out[..m], &want[..], "n {n}, 1 in {one_in} {}, validity {}", if few { "kept" } else { "dropped" }, valid.is_some());
                }
            }
        }
    }
}
