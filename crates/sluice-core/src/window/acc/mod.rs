//! Accumulators of the built-in aggregates: one slot per group, updated column-at-a-time and
//! merged slot into slot (sliding windows combine slices, sessions merge).
//!
//! Each aggregate keeps only its own kind's state (`sum.rs`, `extreme.rs`, `first_last.rs`,
//! `distinct.rs`; count needs none); the row counts and non-null counts are shared here. The
//! kind is chosen once per aggregate per batch; the loops over the rows are each kind's own.

mod distinct;
mod extreme;
mod first_last;
mod sum;

use super::{agg_output_type, AggKind, AggSpec};
use crate::batch::{bit_get, bitmap_from, BatchRef, Column, ColumnData, ColumnRef, DataType, Schema};
use crate::error::Result;
use distinct::Distinct;
use extreme::{FloatMinMax, IntMinMax};
use first_last::FirstLast;
use sum::{FloatSum, IntSum};

/// The group id of a row that is dropped (late).
pub const LATE: u32 = u32::MAX;

/// The accumulators of every aggregate, indexed by slot (group id).
pub(crate) struct Accs {
    /// Rows per slot (count(), and non-null counts while a column has shown no null).
    pub rows: Vec<i64>,
    pub list: Vec<Acc>,
}

impl Accs {
    /// `tracks_nulls`: keep non-null counts from the start (scratch slots that merge others).
    pub fn new(specs: &[AggSpec], input: &Schema, tracks_nulls: bool) -> Result<Accs> {
        let list = specs
            .iter()
            .map(|a| {
                let out = agg_output_type(a, input)?;
                let input = a.field.map(|f| input.fields[f].data_type).unwrap_or(DataType::I64);
                Ok(Acc::new(a.kind, a.field, input, out, tracks_nulls))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Accs { rows: Vec::new(), list })
    }

    /// Adds empty slots up to `slots`.
    pub fn grow(&mut self, slots: usize) {
        self.rows.resize(slots, 0);
        for a in &mut self.list {
            a.grow(slots);
        }
    }

    /// `rows` already counts this batch (`gids`); the accumulators do not yet. Row `i` has
    /// arrival sequence number `seq_base + i`.
    pub fn update(&mut self, batch: &BatchRef<'_>, gids: &[u32], seq_base: i64) {
        for a in &mut self.list {
            a.update(batch, gids, &self.rows, seq_base);
        }
    }

    /// Merges slot `src` into slot `dst` (both of `self`); `src` is dead afterwards.
    pub fn merge_slot(&mut self, dst: usize, src: usize) {
        for a in &mut self.list {
            a.merge_slot(dst, src, &self.rows);
        }
        self.rows[dst] += self.rows[src];
    }

    /// Merges, pair by pair and in order, slot `src` of `other` into slot `dst` of `self`
    /// (column-at-a-time: one loop per aggregate).
    pub fn merge_pairs(&mut self, other: &Accs, pairs: &[(u32, u32)]) {
        for (a, o) in self.list.iter_mut().zip(&other.list) {
            a.merge_pairs(o, pairs, &other.rows);
        }
        for &(d, s) in pairs {
            self.rows[d as usize] += other.rows[s as usize];
        }
    }

    pub fn emit(&self, specs: &[AggSpec], slots: &[u32]) -> Result<Vec<Column>> {
        self.list.iter().zip(specs).map(|(a, s)| a.emit(s, slots, &self.rows)).collect()
    }

    /// Keeps slots `keep` (old slot per new slot, ascending), renumbered from 0.
    pub fn compact(&mut self, keep: &[usize]) {
        pick(&mut self.rows, keep);
        for a in &mut self.list {
            a.compact(keep);
        }
    }

    /// Drops every slot, keeping allocations.
    pub fn clear(&mut self) {
        self.rows.clear();
        for a in &mut self.list {
            a.clear();
        }
    }

    pub fn bytes(&self) -> usize {
        self.rows.capacity() * 8 + self.list.iter().map(Acc::bytes).sum::<usize>()
    }
}

/// Keeps elements `keep` (ascending indexes) of `v`, in place.
pub(crate) fn pick<T: Copy>(v: &mut Vec<T>, keep: &[usize]) {
    if !v.is_empty() {
        for (new, &old) in keep.iter().enumerate() {
            v[new] = v[old];
        }
        v.truncate(keep.len());
    }
}

/// One aggregate's accumulators, indexed by slot: its non-null counts and its kind's state.
pub(crate) struct Acc {
    field: Option<usize>,
    /// Whether `n` is kept: until the input column shows a null, every row of a group is a
    /// non-null input and the group's row count serves (one write per row saved).
    tracks_nulls: bool,
    /// Non-null inputs per slot (only while `tracks_nulls`).
    n: Vec<i64>,
    state: State,
}

/// The per-slot state of one aggregate kind. `n` / `nn` are the non-null input counts per slot.
trait AggState {
    fn grow(&mut self, slots: usize);
    /// Adds the rows of a batch (`gids`: slot per row, or LATE); `TRACK`: also counts the
    /// non-null inputs into `n` (`validity` is then the column's).
    fn update<const TRACK: bool>(&mut self, col: ColumnRef<'_>, validity: Option<&[u8]>, gids: &[u32], seq_base: i64, n: &mut [i64]);
    /// Merges slot `src` (not empty, dead afterwards) into slot `dst`.
    fn merge_slot(&mut self, dst: usize, src: usize);
    /// Merges, pair by pair and in order, slot `src` of `o` into slot `dst`; `nn` are `o`'s counts.
    fn merge_pairs(&mut self, o: &Self, pairs: &[(u32, u32)], nn: &[i64]);
    fn emit(&self, spec: &AggSpec, groups: &[u32], nn: &[i64]) -> Result<Column>;
    /// Keeps slots `keep` (old slot per new slot, ascending), renumbered from 0.
    fn compact(&mut self, keep: &[usize]);
    /// Drops every slot, keeping allocations.
    fn clear(&mut self);
    fn bytes(&self) -> usize;
}

/// count: nothing beyond the counts.
struct Count;

impl AggState for Count {
    fn grow(&mut self, _slots: usize) {}

    #[inline(always)]
    fn update<const TRACK: bool>(&mut self, _col: ColumnRef<'_>, validity: Option<&[u8]>, gids: &[u32], _seq_base: i64, n: &mut [i64]) {
        if TRACK {
            each_valid(gids, validity, |g, _| seen::<TRACK>(n, g))
        }
    }

    fn merge_slot(&mut self, _dst: usize, _src: usize) {}

    fn merge_pairs(&mut self, _o: &Count, _pairs: &[(u32, u32)], _nn: &[i64]) {}

    fn emit(&self, _spec: &AggSpec, groups: &[u32], nn: &[i64]) -> Result<Column> {
        Ok(Column::new(ColumnData::I64(groups.iter().map(|&g| nn[g as usize]).collect())))
    }

    fn compact(&mut self, _keep: &[usize]) {}

    fn clear(&mut self) {}

    fn bytes(&self) -> usize {
        0
    }
}

/// Every aggregate kind's state; the kind is matched once per aggregate per call.
enum State {
    Count(Count),
    /// sum or avg of integers.
    IntSum(IntSum),
    /// sum or avg of f64.
    FloatSum(FloatSum),
    IntMinMax(IntMinMax),
    FloatMinMax(FloatMinMax),
    FirstLast(FirstLast),
    CountDistinct(Box<Distinct>),
}

/// Runs `$body` with `$s` bound to the state of whatever kind `$state` holds.
macro_rules! with_state {
    ($state:expr, $s:ident => $body:expr) => {
        match $state {
            State::Count($s) => $body,
            State::IntSum($s) => $body,
            State::FloatSum($s) => $body,
            State::IntMinMax($s) => $body,
            State::FloatMinMax($s) => $body,
            State::FirstLast($s) => $body,
            State::CountDistinct($s) => $body,
        }
    };
}

impl State {
    fn new(kind: AggKind, input: DataType, out: DataType) -> State {
        let float = input == DataType::F64;
        match kind {
            AggKind::Count => State::Count(Count),
            AggKind::Sum | AggKind::Avg if float => State::FloatSum(FloatSum::new(kind == AggKind::Avg)),
            AggKind::Sum | AggKind::Avg => State::IntSum(IntSum::new(kind == AggKind::Avg)),
            AggKind::Min | AggKind::Max if float => State::FloatMinMax(FloatMinMax::new(kind == AggKind::Max)),
            AggKind::Min | AggKind::Max => State::IntMinMax(IntMinMax::new(kind == AggKind::Max, out)),
            AggKind::First | AggKind::Last => State::FirstLast(FirstLast::new(kind == AggKind::Last, out)),
            AggKind::CountDistinct => State::CountDistinct(Box::new(Distinct::new(input == DataType::Utf8))),
        }
    }

    /// Merges `o`'s slots into this state's (`o` is the same aggregate's state in other slots).
    fn merge_pairs(&mut self, o: &State, pairs: &[(u32, u32)], nn: &[i64]) {
        match (self, o) {
            (State::Count(a), State::Count(b)) => a.merge_pairs(b, pairs, nn),
            (State::IntSum(a), State::IntSum(b)) => a.merge_pairs(b, pairs, nn),
            (State::FloatSum(a), State::FloatSum(b)) => a.merge_pairs(b, pairs, nn),
            (State::IntMinMax(a), State::IntMinMax(b)) => a.merge_pairs(b, pairs, nn),
            (State::FloatMinMax(a), State::FloatMinMax(b)) => a.merge_pairs(b, pairs, nn),
            (State::FirstLast(a), State::FirstLast(b)) => a.merge_pairs(b, pairs, nn),
            (State::CountDistinct(a), State::CountDistinct(b)) => a.merge_pairs(b, pairs, nn),
            _ => unreachable!("Accs::merge_pairs pairs the accumulators of the same aggregate specs"),
        }
    }
}

impl Acc {
    fn new(kind: AggKind, field: Option<usize>, input: DataType, out: DataType, tracks_nulls: bool) -> Acc {
        Acc { field, tracks_nulls, n: vec![], state: State::new(kind, input, out) }
    }

    fn grow(&mut self, slots: usize) {
        if self.tracks_nulls {
            self.n.resize(slots, 0);
        }
        with_state!(&mut self.state, s => s.grow(slots))
    }

    fn bytes(&self) -> usize {
        self.n.capacity() * 8 + with_state!(&self.state, s => s.bytes())
    }

    /// Non-null inputs per slot: `n`, or the row counts while they serve.
    #[inline]
    fn counts<'a>(&'a self, rows: &'a [i64]) -> &'a [i64] {
        if self.field.is_some() && self.tracks_nulls {
            &self.n
        } else {
            rows
        }
    }

    fn update(&mut self, batch: &BatchRef<'_>, gids: &[u32], rows: &[i64], seq_base: i64) {
        let Some(f) = self.field else { return }; // count(): the row count
        let col = batch.columns[f];
        let has_nulls = col.validity.is_some_and(|b| (0..gids.len()).any(|i| !bit_get(b, i)));
        if has_nulls && !self.tracks_nulls {
            // First null: non-null counts so far are the row counts before this batch.
            self.n = rows.to_vec();
            for &g in gids {
                if g != LATE {
                    self.n[g as usize] -= 1;
                }
            }
            self.tracks_nulls = true;
        }
        let n = &mut self.n;
        if self.tracks_nulls {
            with_state!(&mut self.state, s => s.update::<true>(col, col.validity, gids, seq_base, n))
        } else {
            // No null in this batch: the value loops skip the validity bitmap.
            with_state!(&mut self.state, s => s.update::<false>(col, None, gids, seq_base, n))
        }
    }

    /// Merges slot `src` into `dst` within this accumulator (`rows` before the merge).
    fn merge_slot(&mut self, dst: usize, src: usize, rows: &[i64]) {
        let src_nn = self.counts(rows)[src];
        if self.field.is_some() && self.tracks_nulls {
            self.n[dst] += self.n[src];
        }
        if src_nn == 0 {
            return;
        }
        with_state!(&mut self.state, s => s.merge_slot(dst, src))
    }

    fn merge_pairs(&mut self, o: &Acc, pairs: &[(u32, u32)], orows: &[i64]) {
        let o_counts = o.counts(orows);
        if self.field.is_some() && self.tracks_nulls {
            for &(d, s) in pairs {
                self.n[d as usize] += o_counts[s as usize];
            }
        }
        self.state.merge_pairs(&o.state, pairs, o_counts);
    }

    fn compact(&mut self, keep: &[usize]) {
        pick(&mut self.n, keep);
        with_state!(&mut self.state, s => s.compact(keep))
    }

    fn clear(&mut self) {
        self.n.clear();
        with_state!(&mut self.state, s => s.clear())
    }

    fn emit(&self, spec: &AggSpec, groups: &[u32], rows: &[i64]) -> Result<Column> {
        let nn = self.counts(rows);
        with_state!(&self.state, s => s.emit(spec, groups, nn))
    }
}

/// The validity of an aggregate over `groups`: null where a slot had no non-null input.
fn nullable(groups: &[u32], nn: &[i64]) -> Option<Vec<u8>> {
    if groups.iter().all(|&g| nn[g as usize] > 0) {
        None
    } else {
        Some(bitmap_from(groups.iter().map(|&g| nn[g as usize] > 0)))
    }
}

/// Counts a non-null input of slot `g` (when the counts are kept).
#[inline(always)]
fn seen<const TRACK: bool>(n: &mut [i64], g: usize) {
    if TRACK {
        n[g] += 1
    }
}

#[inline(always)]
fn each_value<T: Copy>(gids: &[u32], v: &[T], validity: Option<&[u8]>, mut f: impl FnMut(usize, T)) {
    match validity {
        None => {
            for (&g, &x) in gids.iter().zip(v) {
                if g != LATE {
                    f(g as usize, x);
                }
            }
        }
        Some(bits) => {
            for (i, (&g, &x)) in gids.iter().zip(v).enumerate() {
                if g != LATE && bit_get(bits, i) {
                    f(g as usize, x);
                }
            }
        }
    }
}

#[inline(always)]
fn each_valid(gids: &[u32], validity: Option<&[u8]>, mut f: impl FnMut(usize, usize)) {
    for (i, &g) in gids.iter().enumerate() {
        if g != LATE && validity.is_none_or(|b| bit_get(b, i)) {
            f(g as usize, i);
        }
    }
}

