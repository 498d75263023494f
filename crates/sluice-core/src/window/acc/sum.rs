//! sum and avg: exact integer sums (i128) of i32/i64 inputs, f64 sums of f64 inputs (added in
//! arrival order, then slice or session order, the same additions as the TypeScript engine).
//! avg is the sum divided by the non-null count when emitted.

use super::{each_value, nullable, seen, AggState};
use crate::batch::{Column, ColumnData, ColumnRef, ValuesRef};
use crate::error::{Error, Result};
use crate::window::AggSpec;

/// Integer sums, exact: i128 cannot overflow from i64 inputs; the emitted sum must fit in i64.
pub(super) struct IntSum {
    avg: bool,
    v: Vec<i128>,
}

impl IntSum {
    pub(super) fn new(avg: bool) -> IntSum {
        IntSum { avg, v: vec![] }
    }
}

impl AggState for IntSum {
    fn grow(&mut self, slots: usize) {
        self.v.resize(slots, 0);
    }

    #[inline(always)]
    fn update<const TRACK: bool>(&mut self, col: ColumnRef<'_>, validity: Option<&[u8]>, gids: &[u32], _seq_base: i64, n: &mut [i64]) {
        let s = &mut self.v;
        match col.values {
            ValuesRef::I32(v) => each_value(gids, v, validity, |g, x| {
                s[g] += x as i64 as i128;
                seen::<TRACK>(n, g);
            }),
            ValuesRef::I64(v) | ValuesRef::Timestamp(v) => each_value(gids, v, validity, |g, x| {
                s[g] += x as i128;
                seen::<TRACK>(n, g);
            }),
            // Other inputs are rejected when the spec is built.
            _ => {}
        }
    }

    fn merge_slot(&mut self, dst: usize, src: usize) {
        self.v[dst] += self.v[src];
    }

    fn merge_pairs(&mut self, o: &IntSum, pairs: &[(u32, u32)], _nn: &[i64]) {
        let (v, ov) = (&mut self.v, &o.v);
        for &(d, s) in pairs {
            v[d as usize] += ov[s as usize];
        }
    }

    fn emit(&self, spec: &AggSpec, groups: &[u32], nn: &[i64]) -> Result<Column> {
        let validity = nullable(groups, nn);
        let nn = |g: u32| nn[g as usize];
        let data = if self.avg {
            ColumnData::F64(
                groups.iter().map(|&g| if nn(g) > 0 { self.v[g as usize] as f64 / nn(g) as f64 } else { 0.0 }).collect(),
            )
        } else {
            let mut out = Vec::with_capacity(groups.len());
            for &g in groups {
                let s = self.v[g as usize];
                out.push(i64::try_from(s).map_err(|_| {
                    Error::overflow(format!(
                        "sum '{}' = {s} does not fit in i64; aggregate a narrower value or use an f64 field",
                        spec.name
                    ))
                })?);
            }
            ColumnData::I64(out)
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
        self.v.capacity() * 16
    }
}

/// f64 sums.
pub(super) struct FloatSum {
    avg: bool,
    v: Vec<f64>,
}

impl FloatSum {
    pub(super) fn new(avg: bool) -> FloatSum {
        FloatSum { avg, v: vec![] }
    }
}

impl AggState for FloatSum {
    fn grow(&mut self, slots: usize) {
        self.v.resize(slots, 0.0);
    }

    #[inline(always)]
    fn update<const TRACK: bool>(&mut self, col: ColumnRef<'_>, validity: Option<&[u8]>, gids: &[u32], _seq_base: i64, n: &mut [i64]) {
        let s = &mut self.v;
        if let ValuesRef::F64(v) = col.values {
            each_value(gids, v, validity, |g, x| {
                s[g] += x;
                seen::<TRACK>(n, g);
            })
        }
    }

    fn merge_slot(&mut self, dst: usize, src: usize) {
        self.v[dst] += self.v[src];
    }

    fn merge_pairs(&mut self, o: &FloatSum, pairs: &[(u32, u32)], nn: &[i64]) {
        let (f, of) = (&mut self.v, &o.v);
        for &(d, s) in pairs {
            if nn[s as usize] > 0 {
                f[d as usize] += of[s as usize];
            }
        }
    }

    fn emit(&self, _spec: &AggSpec, groups: &[u32], nn: &[i64]) -> Result<Column> {
        let validity = nullable(groups, nn);
        let nn = |g: u32| nn[g as usize];
        let data = if self.avg {
            ColumnData::F64(groups.iter().map(|&g| if nn(g) > 0 { self.v[g as usize] / nn(g) as f64 } else { 0.0 }).collect())
        } else {
            ColumnData::F64(groups.iter().map(|&g| if nn(g) > 0 { self.v[g as usize] } else { 0.0 }).collect())
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
