//! Integer arithmetic with a constant operand (`a * 3`, `a + 7`, `MOD(a, 10)`, `a / 60000`),
//! the common form of computed columns and filters, in loops that vectorise.
//!
//! The general kernels (`kernel.rs`) check every row with `checked_*` and record an error in the
//! loop, which keeps the loop scalar, and divide with the hardware's integer divide, which no
//! vector unit has. Here:
//! - `+`, `-` and `*` by a constant overflow exactly where the operand is outside a range fixed by
//!   the constant, so the loop computes wrapping and a second loop only compares; the first
//!   valid row out of range is then reported, as the checked kernel would (a batch with an error
//!   fails, so the wrapped values are never seen).
//! - `/` and `%` by a constant are computed through f64 where every operand converts exactly
//!   (|x| < 2^53; every i32): `q = trunc(x / c)` is then exact (the quotient's rounding error is
//!   below half its unit in the last place, itself below 1/|c|, the least distance from a
//!   non-integer x / c to an integer), and `x - q * c` is exact in f64 too. Rows that do not
//!   convert exactly send their chunk through the integer divide.

use super::kernel::{operand, Ctx, FromLit, Kernel, Site};
use super::rules;
use super::vector::{Prim, Vector};
use crate::wide::{wide, Any, Loop, Map, MapAny};

/// The calc's integer types, as the constant-operand kernels need them.
pub(super) trait Int: FromLit + Ord {
    const MIN: Self;
    const MAX: Self;
    const ZERO: Self;
    const NEG_ONE: Self;
    const NAME: &'static str;
    fn wrapping_add(self, o: Self) -> Self;
    fn wrapping_sub(self, o: Self) -> Self;
    fn wrapping_mul(self, o: Self) -> Self;
    fn wrapping_div(self, o: Self) -> Self;
    fn wrapping_rem(self, o: Self) -> Self;
    fn checked_div(self, o: Self) -> Option<Self>;
    /// Whether `as f64` is exact (|x| < 2^53).
    fn exact_in_f64(self) -> bool;
    fn to_f64(self) -> f64;
    /// An f64 back, truncated.
    ///
    /// # Safety
    /// `f` is finite and within the type's range (`as` would check, and that check keeps a
    /// loop of conversions scalar).
    unsafe fn from_f64(f: f64) -> Self;
    /// Whether the short conversions below apply: |x| < 2^51 (every i32).
    fn short(self) -> bool;
    /// `as f64` for a `short` value. For i64 by the bits of 1.5 * 2^52 + x: an integer add and
    /// an f64 subtract per lane, where AVX2 has no i64 -> f64 conversion (only AVX-512DQ has),
    /// so `as` kept the loop scalar on such CPUs.
    fn to_f64_short(self) -> f64;
    /// An integral f64 with |f| < 2^51 back, the inverse of `to_f64_short`, by the bits of
    /// 1.5 * 2^52 + f. Any other f gives some value (no undefined behaviour): a loop may
    /// convert before it knows whether its operands were short, and discard the results.
    fn from_f64_short(f: f64) -> Self;
}

/// 1.5 * 2^52: added to an integer of magnitude below 2^51, the sum's bits are those of
/// 0x4338_0000_0000_0000 plus the integer.
const SHORT_BIAS: f64 = 6_755_399_441_055_744.0;

macro_rules! int {
    ($t:ty, $name:expr, $exact:expr, [$($wrapping:ident),*], {$($short:tt)*}) => {
        impl Int for $t {
            const MIN: $t = <$t>::MIN;
            const MAX: $t = <$t>::MAX;
            const ZERO: $t = 0;
            const NEG_ONE: $t = -1;
            const NAME: &'static str = $name;
            $(
                #[inline(always)]
                fn $wrapping(self, o: $t) -> $t {
                    <$t>::$wrapping(self, o)
                }
            )*
            #[inline(always)]
            fn checked_div(self, o: $t) -> Option<$t> {
                <$t>::checked_div(self, o)
            }
            #[inline(always)]
            fn exact_in_f64(self) -> bool {
                $exact(self)
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            unsafe fn from_f64(f: f64) -> $t {
                // SAFETY: the caller's promise (see the trait).
                unsafe { f.to_int_unchecked() }
            }
            $($short)*
        }
    };
}
int!(i32, "i32", |_: i32| true, [wrapping_add, wrapping_sub, wrapping_mul, wrapping_div, wrapping_rem], {
    #[inline(always)]
    fn short(self) -> bool {
        true
    }
    #[inline(always)]
    fn to_f64_short(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn from_f64_short(f: f64) -> i32 {
        (f + SHORT_BIAS).to_bits().wrapping_sub(SHORT_BIAS.to_bits()) as i32
    }
});
// |x| < 2^53, as one unsigned compare.
int!(i64, "i64", |x: i64| (x as u64).wrapping_add((1 << 53) - 1) < (1 << 54) - 1, [wrapping_add, wrapping_sub, wrapping_mul, wrapping_div, wrapping_rem], {
    #[inline(always)]
    fn short(self) -> bool {
        (self as u64).wrapping_add((1 << 51) - 1) < (1 << 52) - 1
    }
    #[inline(always)]
    fn to_f64_short(self) -> f64 {
        f64::from_bits(SHORT_BIAS.to_bits().wrapping_add(self as u64)) - SHORT_BIAS
    }
    #[inline(always)]
    fn from_f64_short(f: f64) -> i64 {
        (f + SHORT_BIAS).to_bits().wrapping_sub(SHORT_BIAS.to_bits()) as i64
    }
});

/// The x for which `x op c` does not overflow, as [lo, hi].
pub(super) fn in_range<A: Int>(op: &str, c: A) -> (A, A) {
    match op {
        "add" if c >= A::ZERO => (A::MIN, A::MAX.wrapping_sub(c)),
        "add" => (A::MIN.wrapping_sub(c), A::MAX),
        "sub" if c >= A::ZERO => (A::MIN.wrapping_add(c), A::MAX),
        "sub" => (A::MIN, A::MAX.wrapping_add(c)),
        _ if c == A::ZERO => (A::MIN, A::MAX),
        // `/` truncates towards zero: towards the range's inside at both ends.
        _ if c > A::ZERO => (A::MIN.wrapping_div(c), A::MAX.wrapping_div(c)),
        // c < 0 reverses the order; MIN / -1 itself overflows, and every x >= -MAX is fine.
        _ => (A::MAX.wrapping_div(c), A::MIN.checked_div(c).unwrap_or(A::MAX)),
    }
}

/// The kernel of `x op c` for `op` add, sub or mul and a constant `c` (the right operand; either
/// for add and mul), over `x`'s kernel.
pub(super) fn arith<A: Int>(op: &str, x: Kernel, field: Option<usize>, c: A, site: Site) -> Kernel {
    let range = in_range(op, c);
    match op {
        "add" => checked_by_range(x, field, range, move |v: A| v.wrapping_add(c), site),
        "sub" => checked_by_range(x, field, range, move |v: A| v.wrapping_sub(c), site),
        _ => checked_by_range(x, field, range, move |v: A| v.wrapping_mul(c), site),
    }
}

/// The kernel of `(x op1 c1) op2 c2` (`chain.rs`): `f1` and `f2` are the two steps, `r1` and
/// `r2` the ranges (`in_range`) in which they do not overflow. One pass computes both steps and
/// checks both ranges (the second on the first step's result); the first row by row that
/// overflows fails with the step that overflowed there (the inner first), as the two kernels of
/// `arith` one after the other report it.
#[allow(clippy::too_many_arguments)]
pub(super) fn arith2<A: Int>(
    x: Kernel,
    field: Option<usize>,
    f1: impl Fn(A) -> A + Copy + Send + Sync + 'static,
    (lo1, hi1): (A, A),
    site1: Site,
    f2: impl Fn(A) -> A + Copy + Send + Sync + 'static,
    (lo2, hi2): (A, A),
    site2: Site,
) -> Kernel {
    Box::new(move |ctx, sel| {
        let (xs, valid) = operand::<A>(ctx, sel, field, &x);
        let ok = valid.as_deref();
        let outside1 = move |x: A| (x < lo1) | (x > hi1);
        let outside = move |x: A| outside1(x) | {
            let y = f1(x);
            (y < lo2) | (y > hi2)
        };
        let (out, overflows) = wide(MapAny { xs: &xs, ok, f: move |x: A| f2(f1(x)), p: outside });
        if overflows {
            let k = (0..xs.len()).find(|&k| ok.is_none_or(|ok| ok[k]) && outside(xs[k])).expect("a row out of range");
            fail_overflow::<A>(ctx, sel[k], if outside1(xs[k]) { &site1 } else { &site2 });
        }
        Vector { vals: A::wrap(out), valid }
    })
}

/// `x op c` checked by `range`: `arith2` with a second step that cannot overflow.
fn checked_by_range<A: Int>(x: Kernel, field: Option<usize>, range: (A, A), g: impl Fn(A) -> A + Copy + Send + Sync + 'static, site: Site) -> Kernel {
    arith2(x, field, g, range, site.clone(), |v| v, (A::MIN, A::MAX), site)
}

#[cold]
pub(super) fn fail_overflow<A: Int>(ctx: &Ctx<'_>, r: u32, site: &Site) {
    ctx.fail(r, || rules::overflow(&site.name, &site.text, r as usize, A::NAME));
}

/// Whether `x / c` (`rem`: `x % c`) by this constant can run here: c != 0 (division by zero is
/// an error per row, left to the checked kernel), c exact in f64, and for `/` c != -1 (MIN / -1
/// overflows).
pub(super) fn divides<A: Int>(c: A, rem: bool) -> bool {
    c != A::ZERO && c.exact_in_f64() && (rem || c != A::NEG_ONE)
}

/// The kernel of `x / c` (`REM`: `x % c`, the sign of x as Rust's and SQL's) for a constant `c`
/// that `divides` allows, over `x`'s kernel.
pub(super) fn div<A: Int, const REM: bool>(x: Kernel, field: Option<usize>, c: A) -> Kernel {
    div_then::<A, REM, A>(x, field, c, |q| q)
}

/// `div`, then `g` of each quotient (remainder) in the same loop: a comparison with a constant
/// (`MOD(auction, 123) = 0`, `chain.rs`), whose quotients are never written.
pub(super) fn div_then<A: Int, const REM: bool, R: Prim>(x: Kernel, field: Option<usize>, c: A, g: impl Fn(A) -> R + Copy + Send + Sync + 'static) -> Kernel {
    // Once per compiled expression: the f64 path below is sound only for these constants.
    assert!(divides(c, REM), "calc: a division by {c:?} cannot run through f64", c = c.to_f64());
    let cf = c.to_f64();
    Box::new(move |ctx, sel| {
        let (xs, valid) = operand::<A>(ctx, sel, field, &x);
        let ok = valid.as_deref();
        let through_f64 = move |x: A| {
            let f = x.to_f64();
            if REM {
                let q = (f / cf).trunc();
                // SAFETY: x and c are exact in f64 (|x| < 2^53: the `Any` below routes every
                // other batch to `by_int`; c: `divides`), so q is x / c truncated, exactly, and
                // f - q * c is x % c, exactly: |x % c| < |c|, within A's range.
                unsafe { A::from_f64(f - q * cf) }
            } else {
                // SAFETY: as above, f / c truncated is x / c exactly, and |x / c| <= |x| fits A
                // (`divides` excludes c = -1, whose MIN / -1 would not). The conversion truncates.
                unsafe { A::from_f64(f / cf) }
            }
        };
        // As `through_f64`, with the conversions that vectorise on AVX2 too. Where x and c are
        // short, as above q is x / c truncated and f - q * c is x % c, both exactly and
        // integral, and |x % c| < |c|, |x / c| <= |x| are below 2^51 too; where x is not, the
        // result is some value, which the check computed in the same pass discards.
        let through_f64_short = move |x: A| {
            let f = x.to_f64_short();
            let q = (f / cf).trunc();
            A::from_f64_short(if REM { f - q * cf } else { q })
        };
        let by_int = move |x: A| if REM { x.wrapping_rem(c) } else { x.wrapping_div(c) };
        // Null rows hold any value: the loops below share `ok`, so a null row is neither checked
        // nor computed (its value would not be exact).
        if c.short() {
            let (out, long) = wide(MapAny { xs: &xs, ok, f: move |x| g(through_f64_short(x)), p: |x: A| !x.short() });
            if !long {
                return Vector { vals: R::wrap(out), valid };
            }
        }
        let out = if wide(Any { xs: &xs, ok, p: |x: A| !x.exact_in_f64() }) {
            Map { xs: &xs, ok, f: move |x| g(by_int(x)) }.run()
        } else {
            wide(Map { xs: &xs, ok, f: move |x| g(through_f64(x)) })
        };
        Vector { vals: R::wrap(out), valid }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The range agrees with `checked_*` at every edge and on random operands, for constants
    /// at the edges too.
    fn ranges_agree<A: Int + std::fmt::Debug>(edges: &[A], small: impl Fn(i32) -> A, random: impl Fn(u64) -> A, checked: [fn(A, A) -> Option<A>; 3]) {
        let mut next = crate::test_rng::xorshift(0x9e37_79b9_7f4a_7c15);
        let mut xs: Vec<A> = edges.to_vec();
        for e in edges {
            for d in [1, 2, 3] {
                let d: A = small(d);
                xs.push(e.wrapping_add(d));
                xs.push(e.wrapping_sub(d));
            }
        }
        let cs: Vec<A> = xs.iter().copied().chain((0..200).map(|_| random(next()))).collect();
        xs.extend((0..200).map(|_| random(next())));
        for &c in &cs {
            for op in ["add", "sub", "mul"] {
                let (lo, hi) = in_range(op, c);
                for &x in xs.iter().chain(&[lo, hi, lo.wrapping_sub(small(1)), hi.wrapping_add(small(1))]) {
                    let fits = checked[["add", "sub", "mul"].iter().position(|o| *o == op).unwrap()](x, c).is_some();
                    assert_eq!(fits, lo <= x && x <= hi, "{x:?} {op} {c:?}: range {lo:?}..={hi:?}");
                }
            }
        }
    }

    #[test]
    fn overflow_ranges_are_exact() {
        let e64 = [i64::MIN, i64::MIN / 2, i64::MIN / 3, -(1 << 53), -3, -2, -1, 0, 1, 2, 3, 1 << 53, i64::MAX / 3, i64::MAX / 2, i64::MAX];
        ranges_agree::<i64>(&e64, |d| d as i64, |s| s as i64 >> (s % 61), [i64::checked_add, i64::checked_sub, i64::checked_mul]);
        let e32 = [i32::MIN, i32::MIN / 2, i32::MIN / 3, -3, -2, -1, 0, 1, 2, 3, i32::MAX / 3, i32::MAX / 2, i32::MAX];
        ranges_agree::<i32>(&e32, |d| d, |s| (s >> 32) as i32 >> (s % 29), [i32::checked_add, i32::checked_sub, i32::checked_mul]);
    }

    #[test]
    fn division_through_f64_is_exact() {
        let xs: Vec<i64> = [-(1i64 << 53) + 1, (1 << 53) - 1, (1 << 53) - 2, -7, -1, 0, 1, 7, 999_999_999_999, 4_503_599_627_370_497]
            .into_iter()
            .chain((0..20_000i64).map(|i| (i * 2_654_435_761 * 40_503) % (1 << 53)))
            .collect();
        for c in [1i64, -1, 2, -2, 3, 7, 10, -10, 123, 1000, 60_000, 86_400_000, (1 << 31) - 1, (1 << 52) + 1, (1 << 53) - 1] {
            let cf = c as f64;
            for &x in &xs {
                assert!(x.exact_in_f64());
                let f = x as f64;
                let q = (f / cf).trunc();
                assert_eq!(q as i64, x / c, "{x} / {c}");
                assert_eq!((f - q * cf) as i64, x % c, "{x} % {c}");
            }
        }
        assert!(!(1i64 << 53).exact_in_f64() && !(-(1i64 << 53)).exact_in_f64() && !i64::MIN.exact_in_f64());
    }
}
