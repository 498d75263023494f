//! min and max. Integer inputs (i32, i64, timestamp) compare as i64; f64 inputs propagate NaN,
//! as Java's Math.min/max: once NaN, always NaN.

use super::{each_value, nullable, seen, AggState};
use crate::batch::{Column, ColumnData, ColumnRef, DataType, ValuesRef};
use crate::error::Result;
use crate::window::AggSpec;

/// Integer min or max; an empty slot holds i64::MAX (min) or i64::MIN (max), so merging it
/// changes nothing.
pub(super) struct IntMinMax {
    max: bool,
    /// The output type (the input's): i32, i64 or timestamp.
    out: DataType,
    v: Vec<i64>,
}

impl IntMinMax {
    pub(super) fn new(max: bool, out: DataType) -> IntMinMax {
        IntMinMax { max, out, v: vec![] }
    }

    #[inline(always)]
    fn update_with<T: Copy, const TRACK: bool>(&mut self, gids: &[u32], v: &[T], validity: Option<&[u8]>, n: &mut [i64], to: impl Fn(T) -> i64 + Copy) {
        let s = &mut self.v;
        // One loop per direction: the comparison is not chosen per row.
        if self.max {
            each_value(gids, v, validity, |g, x| {
                let x = to(x);
                if x > s[g] {
                    s[g] = x;
                }
                seen::<TRACK>(n, g);
            })
        } else {
            each_value(gids, v, validity, |g, x| {
                let x = to(x);
                if x < s[g] {
                    s[g] = x;
                }
                seen::<TRACK>(n, g);
            })
        }
    }
}

impl AggState for IntMinMax {
    fn grow(&mut self, slots: usize) {
        self.v.resize(slots, if self.max { i64::MIN } else { i64::MAX });
    }

    #[inline(always)]
    fn update<const TRACK: bool>(&mut self, col: ColumnRef<'_>, validity: Option<&[u8]>, gids: &[u32], _seq_base: i64, n: &mut [i64]) {
        match col.values {
            ValuesRef::I32(v) => self.update_with::<_, TRACK>(gids, v, validity, n, |x| x as i64),
            ValuesRef::I64(v) | ValuesRef::Timestamp(v) => self.update_with::<_, TRACK>(gids, v, validity, n, |x| x),
            // Other inputs are rejected when the spec is built.
            _ => {}
        }
    }

    fn merge_slot(&mut self, dst: usize, src: usize) {
        let v = &mut self.v;
        v[dst] = if self.max { v[dst].max(v[src]) } else { v[dst].min(v[src]) };
    }

    fn merge_pairs(&mut self, o: &IntMinMax, pairs: &[(u32, u32)], _nn: &[i64]) {
        let (v, ov) = (&mut self.v, &o.v);
        if self.max {
            for &(d, s) in pairs {
                v[d as usize] = v[d as usize].max(ov[s as usize]);
            }
        } else {
            for &(d, s) in pairs {
                v[d as usize] = v[d as usize].min(ov[s as usize]);
            }
        }
    }

    fn emit(&self, _spec: &AggSpec, groups: &[u32], nn: &[i64]) -> Result<Column> {
        let validity = nullable(groups, nn);
        let vals = groups.iter().map(|&g| if nn[g as usize] > 0 { self.v[g as usize] } else { 0 });
        let data = match self.out {
            DataType::I32 => ColumnData::I32(vals.map(|x| x as i32).collect()),
            DataType::Timestamp => ColumnData::Timestamp(vals.collect()),
            _ => ColumnData::I64(vals.collect()),
        };
        Ok(Column { data, validity })
    }

    fn compact(&mut self, keep: &[usize]) {
        super::pick(&mut self.v, keep);
    }

    fn clear(&mut self) {
        self.v.clear();
    }

    fn bytes(&self) -> usize {
        self.v.capacity() * 8
    }
}

/// f64 min or max; an empty slot holds +inf (min) or -inf (max).
pub(super) struct FloatMinMax {
    max: bool,
    v: Vec<f64>,
}

impl FloatMinMax {
    pub(super) fn new(max: bool) -> FloatMinMax {
        FloatMinMax { max, v: vec![] }
    }

    /// Whether `x` replaces the value held `cur`.
    #[inline(always)]
    fn wins(max: bool, x: f64, cur: f64) -> bool {
        (if max { x > cur } else { x < cur }) || x.is_nan()
    }
}

impl AggState for FloatMinMax {
    fn grow(&mut self, slots: usize) {
        self.v.resize(slots, if self.max { f64::NEG_INFINITY } else { f64::INFINITY });
    }

    #[inline(always)]
    fn update<const TRACK: bool>(&mut self, col: ColumnRef<'_>, validity: Option<&[u8]>, gids: &[u32], _seq_base: i64, n: &mut [i64]) {
        let ValuesRef::F64(v) = col.values else { return };
        let s = &mut self.v;
        // One loop per direction: the comparison is not chosen per row.
        if self.max {
            each_value(gids, v, validity, |g, x| {
                if x > s[g] || x.is_nan() {
                    s[g] = x;
                }
                seen::<TRACK>(n, g);
            })
        } else {
            each_value(gids, v, validity, |g, x| {
                if x < s[g] || x.is_nan() {
                    s[g] = x;
                }
                seen::<TRACK>(n, g);
            })
        }
    }

    fn merge_slot(&mut self, dst: usize, src: usize) {
        let x = self.v[src];
        if Self::wins(self.max, x, self.v[dst]) {
            self.v[dst] = x;
        }
    }

    fn merge_pairs(&mut self, o: &FloatMinMax, pairs: &[(u32, u32)], nn: &[i64]) {
        let (f, of) = (&mut self.v, &o.v);
        // One loop per direction: the comparison is not chosen per pair.
        if self.max {
            for &(d, s) in pairs {
                let x = of[s as usize];
                if nn[s as usize] > 0 && (x > f[d as usize] || x.is_nan()) {
                    f[d as usize] = x;
                }
            }
        } else {
            for &(d, s) in pairs {
                let x = of[s as usize];
                if nn[s as usize] > 0 && (x < f[d as usize] || x.is_nan()) {
                    f[d as usize] = x;
                }
            }
        }
    }

    fn emit(&self, _spec: &AggSpec, groups: &[u32], nn: &[i64]) -> Result<Column> {
        let validity = nullable(groups, nn);
        let data = ColumnData::F64(groups.iter().map(|&g| if nn[g as usize] > 0 { self.v[g as usize] } else { 0.0 }).collect());
        Ok(Column { data, validity })
    }

    fn compact(&mut self, keep: &[usize]) {
        super::pick(&mut self.v, keep);
    }

    fn clear(&mut self) {
        self.v.clear();
    }

    fn bytes(&self) -> usize {
        self.v.capacity() * 8
    }
}
