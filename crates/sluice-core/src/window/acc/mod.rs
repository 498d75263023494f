//! Accumulators of the built-in aggregates: one slot per group, updated column-at-a-time and
//! merged slot into slot (sliding windows combine slices, sessions merge).

use super::{agg_output_type, AggKind, AggSpec};
use crate::batch::{bit_get, bit_set, bitmap_from, bitmap_len, BatchRef, Column, ColumnData, ColumnRef, DataType, Schema, Utf8Builder, ValuesRef};
use crate::error::{Error, Result};
use crate::hash::{fmix32, murmur3_32, murmur3_u64};
use crate::keys::canonical_f64_bits;

/// The group id of a row that is dropped (late).
pub const LATE: u32 = u32::MAX;
const NONE: u32 = u32::MAX;
/// Arrival sequence of an empty `first` / `last` slot.
const NO_FIRST: i64 = i64::MAX;
const NO_LAST: i64 = -1;
const DISTINCT_SEED: u32 = 0x0d15_71c7;

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

/// Per-aggregate accumulators, indexed by slot.
pub(crate) struct Acc {
    kind: AggKind,
    field: Option<usize>,
    input: DataType,
    out: DataType,
    /// Whether `n` is kept: until the input column shows a null, every row of a group is a
    /// non-null input and the group's row count serves (one write per row saved).
    tracks_nulls: bool,
    /// Non-null inputs per slot (only while `tracks_nulls`).
    n: Vec<i64>,
    /// Exact integer sums.
    isum: Vec<i128>,
    /// Float sums, float min/max, f64 first/last.
    f: Vec<f64>,
    /// Integer min/max; first/last of i32, i64, timestamp and bool (0/1).
    i: Vec<i64>,
    /// first/last: arrival sequence number of the value held.
    seq: Vec<i64>,
    /// first/last of utf8: (offset, length) in `arena`.
    span: Vec<(usize, u32)>,
    arena: Vec<u8>,
    /// Bytes of `arena` no span refers to any more.
    garbage: usize,
    /// Rows picked by first/last in one batch (reused).
    picks: Vec<(u32, u32)>,
    distinct: Option<Box<Distinct>>,
}

impl Acc {
    fn new(kind: AggKind, field: Option<usize>, input: DataType, out: DataType, tracks_nulls: bool) -> Acc {
        Acc {
            kind,
            field,
            input,
            out,
            tracks_nulls,
            n: vec![],
            isum: vec![],
            f: vec![],
            i: vec![],
            seq: vec![],
            span: vec![],
            arena: vec![],
            garbage: 0,
            picks: vec![],
            distinct: (kind == AggKind::CountDistinct).then(|| Box::new(Distinct::new(input == DataType::Utf8))),
        }
    }

    fn grow(&mut self, slots: usize) {
        if self.tracks_nulls {
            self.n.resize(slots, 0);
        }
        let float = self.input == DataType::F64;
        match self.kind {
            AggKind::Count => {}
            AggKind::Sum | AggKind::Avg if float => self.f.resize(slots, 0.0),
            AggKind::Sum | AggKind::Avg => self.isum.resize(slots, 0),
            AggKind::Min if float => self.f.resize(slots, f64::INFINITY),
            AggKind::Max if float => self.f.resize(slots, f64::NEG_INFINITY),
            AggKind::Min => self.i.resize(slots, i64::MAX),
            AggKind::Max => self.i.resize(slots, i64::MIN),
            AggKind::First | AggKind::Last => {
                self.seq.resize(slots, if self.kind == AggKind::First { NO_FIRST } else { NO_LAST });
                match self.input {
                    DataType::F64 => self.f.resize(slots, 0.0),
                    DataType::Utf8 => self.span.resize(slots, (0, 0)),
                    _ => self.i.resize(slots, 0),
                }
            }
            AggKind::CountDistinct => self.distinct.as_mut().unwrap().grow(slots),
        }
    }

    fn bytes(&self) -> usize {
        self.n.capacity() * 8
            + self.isum.capacity() * 16
            + self.f.capacity() * 8
            + self.i.capacity() * 8
            + self.seq.capacity() * 8
            + self.span.capacity() * 16
            + self.arena.capacity()
            + self.distinct.as_ref().map_or(0, |d| d.bytes())
    }

    /// Non-null inputs of slot `g`.
    #[inline]
    fn non_null(&self, g: usize, rows: &[i64]) -> i64 {
        if self.field.is_some() && self.tracks_nulls {
            self.n[g]
        } else {
            rows[g]
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
        match self.kind {
            AggKind::First | AggKind::Last => self.update_pick(col, gids, seq_base),
            AggKind::CountDistinct => self.update_distinct(col, gids),
            _ => {}
        }
        if self.tracks_nulls {
            self.update_with::<true>(col.values, col.validity, gids)
        } else {
            self.update_with::<false>(col.values, None, gids)
        }
    }

    #[inline(always)]
    fn update_with<const TRACK: bool>(&mut self, values: ValuesRef<'_>, validity: Option<&[u8]>, gids: &[u32]) {
        let n = &mut self.n;
        let mut seen = |g: usize| {
            if TRACK {
                n[g] += 1
            }
        };
        match (self.kind, values) {
            (AggKind::Count | AggKind::First | AggKind::Last | AggKind::CountDistinct, _) if TRACK => {
                each_valid(gids, validity, |g, _| seen(g))
            }
            (AggKind::Count | AggKind::First | AggKind::Last | AggKind::CountDistinct, _) => {}
            (AggKind::Sum | AggKind::Avg, ValuesRef::F64(v)) => {
                let s = &mut self.f;
                each_value(gids, v, validity, |g, x| {
                    s[g] += x;
                    seen(g);
                })
            }
            (AggKind::Min, ValuesRef::F64(v)) => {
                let s = &mut self.f;
                // NaN propagates, as in Java's Math.min: once NaN, always NaN.
                each_value(gids, v, validity, |g, x| {
                    if x < s[g] || x.is_nan() {
                        s[g] = x;
                    }
                    seen(g);
                })
            }
            (AggKind::Max, ValuesRef::F64(v)) => {
                let s = &mut self.f;
                each_value(gids, v, validity, |g, x| {
                    if x > s[g] || x.is_nan() {
                        s[g] = x;
                    }
                    seen(g);
                })
            }
            (kind, ValuesRef::I32(v)) => int_update(kind, gids, v, validity, &mut seen, &mut self.isum, &mut self.i, |x| x as i64),
            (kind, ValuesRef::I64(v) | ValuesRef::Timestamp(v)) => {
                int_update(kind, gids, v, validity, &mut seen, &mut self.isum, &mut self.i, |x| x)
            }
            // Non-numeric inputs are rejected when the spec is built.
            _ => {}
        }
    }

    /// first: the earliest non-null row of each slot not yet holding a value; last: the
    /// latest non-null row of each slot (rows of this batch come after every value held).
    fn update_pick(&mut self, col: ColumnRef<'_>, gids: &[u32], seq_base: i64) {
        let valid = |i: usize| col.validity.is_none_or(|b| bit_get(b, i));
        let seq = &mut self.seq;
        let picks = &mut self.picks;
        picks.clear();
        if self.kind == AggKind::First {
            for (i, &g) in gids.iter().enumerate() {
                if g != LATE && seq[g as usize] == NO_FIRST && valid(i) {
                    seq[g as usize] = seq_base + i as i64;
                    picks.push((g, i as u32));
                }
            }
        } else {
            for (i, &g) in gids.iter().enumerate().rev() {
                if g != LATE && seq[g as usize] < seq_base && valid(i) {
                    seq[g as usize] = seq_base + i as i64;
                    picks.push((g, i as u32));
                }
            }
        }
        let picks = std::mem::take(&mut self.picks);
        match col.values {
            ValuesRef::F64(v) => picks.iter().for_each(|&(g, i)| self.f[g as usize] = v[i as usize]),
            ValuesRef::I32(v) => picks.iter().for_each(|&(g, i)| self.i[g as usize] = v[i as usize] as i64),
            ValuesRef::I64(v) | ValuesRef::Timestamp(v) => picks.iter().for_each(|&(g, i)| self.i[g as usize] = v[i as usize]),
            ValuesRef::Bool(b) => picks.iter().for_each(|&(g, i)| self.i[g as usize] = bit_get(b, i as usize) as i64),
            ValuesRef::Utf8 { offsets, data } => {
                for &(g, i) in &picks {
                    self.set_bytes(g as usize, ColumnRef::utf8_bytes(offsets, data, i as usize));
                }
                self.maybe_compact_arena();
            }
        }
        self.picks = picks;
    }

    fn set_bytes(&mut self, g: usize, b: &[u8]) {
        self.garbage += self.span[g].1 as usize;
        self.span[g] = (self.arena.len(), b.len() as u32);
        self.arena.extend_from_slice(b);
    }

    fn bytes_of(&self, g: usize) -> &[u8] {
        let (s, l) = self.span[g];
        &self.arena[s..s + l as usize]
    }

    fn maybe_compact_arena(&mut self) {
        if self.arena.len() > (1 << 20) && self.garbage * 2 > self.arena.len() {
            let all: Vec<usize> = (0..self.span.len()).collect();
            self.rebuild_arena(&all);
        }
    }

    /// Rebuilds the utf8 arena with the spans of slots `keep` (old slot per new slot).
    fn rebuild_arena(&mut self, keep: &[usize]) {
        let mut arena = Vec::with_capacity(keep.iter().map(|&g| self.span[g].1 as usize).sum());
        let mut span = Vec::with_capacity(keep.len());
        for &g in keep {
            let b = self.bytes_of(g);
            span.push((arena.len(), b.len() as u32));
            arena.extend_from_slice(b);
        }
        self.arena = arena;
        self.span = span;
        self.garbage = 0;
    }

    fn update_distinct(&mut self, col: ColumnRef<'_>, gids: &[u32]) {
        let d = self.distinct.as_mut().unwrap();
        let validity = col.validity;
        match col.values {
            ValuesRef::I32(v) => each_valid(gids, validity, |g, i| d.insert_fixed(g as u32, v[i] as i64 as u64)),
            ValuesRef::I64(v) | ValuesRef::Timestamp(v) => each_valid(gids, validity, |g, i| d.insert_fixed(g as u32, v[i] as u64)),
            ValuesRef::F64(v) => each_valid(gids, validity, |g, i| d.insert_fixed(g as u32, canonical_f64_bits(v[i]))),
            ValuesRef::Bool(b) => each_valid(gids, validity, |g, i| d.insert_fixed(g as u32, bit_get(b, i) as u64)),
            ValuesRef::Utf8 { offsets, data } => {
                each_valid(gids, validity, |g, i| d.insert_bytes(g as u32, ColumnRef::utf8_bytes(offsets, data, i)))
            }
        }
    }

    /// Merges slot `src` into `dst` within this accumulator (`rows` before the merge).
    fn merge_slot(&mut self, dst: usize, src: usize, rows: &[i64]) {
        let src_nn = self.non_null(src, rows);
        if self.field.is_some() && self.tracks_nulls {
            self.n[dst] += self.n[src];
        }
        if src_nn == 0 {
            return;
        }
        let float = self.input == DataType::F64;
        match self.kind {
            AggKind::Count => {}
            AggKind::Sum | AggKind::Avg if float => self.f[dst] += self.f[src],
            AggKind::Sum | AggKind::Avg => self.isum[dst] += self.isum[src],
            AggKind::Min if float => {
                let x = self.f[src];
                if x < self.f[dst] || x.is_nan() {
                    self.f[dst] = x;
                }
            }
            AggKind::Max if float => {
                let x = self.f[src];
                if x > self.f[dst] || x.is_nan() {
                    self.f[dst] = x;
                }
            }
            AggKind::Min => self.i[dst] = self.i[dst].min(self.i[src]),
            AggKind::Max => self.i[dst] = self.i[dst].max(self.i[src]),
            AggKind::First | AggKind::Last => {
                let s = self.seq[src];
                let wins = if self.kind == AggKind::First { s < self.seq[dst] } else { s > self.seq[dst] };
                if wins {
                    self.seq[dst] = s;
                    match self.input {
                        DataType::F64 => self.f[dst] = self.f[src],
                        DataType::Utf8 => {
                            // Same arena: take over the bytes (src is dead).
                            self.garbage += self.span[dst].1 as usize;
                            self.span[dst] = self.span[src];
                        }
                        _ => self.i[dst] = self.i[src],
                    }
                }
            }
            AggKind::CountDistinct => self.distinct.as_mut().unwrap().merge_within(dst as u32, src as u32),
        }
    }

    /// Merges the value of slot `src` of `o` (not empty) into slot `dst`.
    fn merge_value_from(&mut self, dst: usize, o: &Acc, src: usize) {
        let float = self.input == DataType::F64;
        match self.kind {
            AggKind::Count => {}
            AggKind::Sum | AggKind::Avg if float => self.f[dst] += o.f[src],
            AggKind::Sum | AggKind::Avg => self.isum[dst] += o.isum[src],
            AggKind::Min if float => {
                let x = o.f[src];
                if x < self.f[dst] || x.is_nan() {
                    self.f[dst] = x;
                }
            }
            AggKind::Max if float => {
                let x = o.f[src];
                if x > self.f[dst] || x.is_nan() {
                    self.f[dst] = x;
                }
            }
            AggKind::Min => self.i[dst] = self.i[dst].min(o.i[src]),
            AggKind::Max => self.i[dst] = self.i[dst].max(o.i[src]),
            AggKind::First | AggKind::Last => {
                let s = o.seq[src];
                let wins = if self.kind == AggKind::First { s < self.seq[dst] } else { s > self.seq[dst] };
                if wins {
                    self.seq[dst] = s;
                    match self.input {
                        DataType::F64 => self.f[dst] = o.f[src],
                        DataType::Utf8 => self.set_bytes(dst, o.bytes_of(src)),
                        _ => self.i[dst] = o.i[src],
                    }
                }
            }
            AggKind::CountDistinct => {
                self.distinct.as_mut().unwrap().union_from(dst as u32, o.distinct.as_ref().unwrap(), src as u32)
            }
        }
    }

    fn merge_pairs(&mut self, o: &Acc, pairs: &[(u32, u32)], orows: &[i64]) {
        let o_counts: &[i64] = if o.field.is_some() && o.tracks_nulls { &o.n } else { orows };
        let nn = |s: u32| o_counts[s as usize];
        if self.field.is_some() && self.tracks_nulls {
            for &(d, s) in pairs {
                self.n[d as usize] += nn(s);
            }
        }
        let float = self.input == DataType::F64;
        match self.kind {
            AggKind::Count => {}
            AggKind::Sum | AggKind::Avg if float => {
                let (f, of) = (&mut self.f, &o.f);
                for &(d, s) in pairs {
                    if nn(s) > 0 {
                        f[d as usize] += of[s as usize];
                    }
                }
            }
            AggKind::Sum | AggKind::Avg => {
                let (v, ov) = (&mut self.isum, &o.isum);
                for &(d, s) in pairs {
                    v[d as usize] += ov[s as usize];
                }
            }
            AggKind::Min if float => {
                let (f, of) = (&mut self.f, &o.f);
                for &(d, s) in pairs {
                    let x = of[s as usize];
                    if nn(s) > 0 && (x < f[d as usize] || x.is_nan()) {
                        f[d as usize] = x;
                    }
                }
            }
            AggKind::Max if float => {
                let (f, of) = (&mut self.f, &o.f);
                for &(d, s) in pairs {
                    let x = of[s as usize];
                    if nn(s) > 0 && (x > f[d as usize] || x.is_nan()) {
                        f[d as usize] = x;
                    }
                }
            }
            AggKind::Min => {
                let (v, ov) = (&mut self.i, &o.i);
                for &(d, s) in pairs {
                    v[d as usize] = v[d as usize].min(ov[s as usize]);
                }
            }
            AggKind::Max => {
                let (v, ov) = (&mut self.i, &o.i);
                for &(d, s) in pairs {
                    v[d as usize] = v[d as usize].max(ov[s as usize]);
                }
            }
            AggKind::First | AggKind::Last | AggKind::CountDistinct => {
                for &(d, s) in pairs {
                    if nn(s) > 0 {
                        self.merge_value_from(d as usize, o, s as usize);
                    }
                }
            }
        }
    }

    fn compact(&mut self, keep: &[usize]) {
        pick(&mut self.n, keep);
        pick(&mut self.isum, keep);
        pick(&mut self.f, keep);
        pick(&mut self.i, keep);
        pick(&mut self.seq, keep);
        if !self.span.is_empty() {
            self.rebuild_arena(keep);
        }
        if let Some(d) = &mut self.distinct {
            d.compact(keep);
        }
    }

    fn clear(&mut self) {
        self.n.clear();
        self.isum.clear();
        self.f.clear();
        self.i.clear();
        self.seq.clear();
        self.span.clear();
        self.arena.clear();
        self.garbage = 0;
        if let Some(d) = &mut self.distinct {
            d.clear();
        }
    }

    fn emit(&self, spec: &AggSpec, groups: &[u32], rows: &[i64]) -> Result<Column> {
        let nn = |g: u32| self.non_null(g as usize, rows);
        match self.kind {
            AggKind::Count => return Ok(Column::new(ColumnData::I64(groups.iter().map(|&g| nn(g)).collect()))),
            AggKind::CountDistinct => {
                let d = self.distinct.as_ref().unwrap();
                return Ok(Column::new(ColumnData::I64(groups.iter().map(|&g| d.count[g as usize]).collect())));
            }
            _ => {}
        }
        let validity =
            if groups.iter().all(|&g| nn(g) > 0) { None } else { Some(bitmap_from(groups.iter().map(|&g| nn(g) > 0))) };
        let float = self.input == DataType::F64;
        let data = match (self.kind, float) {
            (AggKind::First | AggKind::Last, _) => {
                let ints = || groups.iter().map(|&g| if nn(g) > 0 { self.i[g as usize] } else { 0 });
                match self.out {
                    DataType::F64 => ColumnData::F64(groups.iter().map(|&g| if nn(g) > 0 { self.f[g as usize] } else { 0.0 }).collect()),
                    DataType::I32 => ColumnData::I32(ints().map(|x| x as i32).collect()),
                    DataType::I64 => ColumnData::I64(ints().collect()),
                    DataType::Timestamp => ColumnData::Timestamp(ints().collect()),
                    DataType::Bool => {
                        let mut bits = vec![0u8; bitmap_len(groups.len())];
                        for (r, x) in ints().enumerate() {
                            if x == 1 {
                                bit_set(&mut bits, r, true);
                            }
                        }
                        ColumnData::Bool(bits)
                    }
                    DataType::Utf8 => {
                        let mut b = Utf8Builder::with_capacity(groups.len(), 0);
                        for &g in groups {
                            b.push(if nn(g) > 0 { self.bytes_of(g as usize) } else { b"" });
                        }
                        b.finish()
                    }
                }
            }
            (AggKind::Sum, true) | (AggKind::Min | AggKind::Max, true) => {
                ColumnData::F64(groups.iter().map(|&g| if nn(g) > 0 { self.f[g as usize] } else { 0.0 }).collect())
            }
            (AggKind::Avg, true) => ColumnData::F64(
                groups.iter().map(|&g| if nn(g) > 0 { self.f[g as usize] / nn(g) as f64 } else { 0.0 }).collect(),
            ),
            (AggKind::Avg, false) => ColumnData::F64(
                groups
                    .iter()
                    .map(|&g| if nn(g) > 0 { self.isum[g as usize] as f64 / nn(g) as f64 } else { 0.0 })
                    .collect(),
            ),
            (AggKind::Sum, false) => {
                let mut out = Vec::with_capacity(groups.len());
                for &g in groups {
                    let s = self.isum[g as usize];
                    out.push(i64::try_from(s).map_err(|_| {
                        Error::overflow(format!(
                            "sum '{}' = {s} does not fit in i64; aggregate a narrower value or use an f64 field",
                            spec.name
                        ))
                    })?);
                }
                ColumnData::I64(out)
            }
            (AggKind::Min | AggKind::Max, false) => {
                let vals = groups.iter().map(|&g| if nn(g) > 0 { self.i[g as usize] } else { 0 });
                match self.out {
                    DataType::I32 => ColumnData::I32(vals.map(|x| x as i32).collect()),
                    DataType::Timestamp => ColumnData::Timestamp(vals.collect()),
                    _ => ColumnData::I64(vals.collect()),
                }
            }
            (AggKind::Count | AggKind::CountDistinct, _) => unreachable!(),
        };
        Ok(Column { data, validity })
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn int_update<T: Copy>(
    kind: AggKind,
    gids: &[u32],
    v: &[T],
    validity: Option<&[u8]>,
    seen: &mut impl FnMut(usize),
    isum: &mut [i128],
    im: &mut [i64],
    to: impl Fn(T) -> i64 + Copy,
) {
    match kind {
        AggKind::Sum | AggKind::Avg => each_value(gids, v, validity, |g, x| {
            isum[g] += to(x) as i128;
            seen(g);
        }),
        AggKind::Min => each_value(gids, v, validity, |g, x| {
            let x = to(x);
            if x < im[g] {
                im[g] = x;
            }
            seen(g);
        }),
        AggKind::Max => each_value(gids, v, validity, |g, x| {
            let x = to(x);
            if x > im[g] {
                im[g] = x;
            }
            seen(g);
        }),
        _ => each_valid(gids, validity, |g, _| seen(g)),
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

/// Exact distinct-value sets of every slot in one open-addressing table of (slot, value)
/// entries; each slot's entries are also chained, so sets can be merged and renumbered.
/// Values are canonical: i32/i64/timestamp as integers, f64 as canonical bits (one NaN, one
/// zero), bool as 0/1, utf8 as bytes.
pub(crate) struct Distinct {
    utf8: bool,
    index: Vec<u32>,
    e_gid: Vec<u32>,
    /// Hash of the value alone.
    e_vh: Vec<u32>,
    /// The value, or the utf8 bytes' offset in `arena`.
    e_val: Vec<u64>,
    /// utf8 byte lengths.
    e_len: Vec<u32>,
    e_next: Vec<u32>,
    head: Vec<u32>,
    count: Vec<i64>,
    arena: Vec<u8>,
}

impl Distinct {
    fn new(utf8: bool) -> Distinct {
        Distinct {
            utf8,
            index: vec![NONE; 64],
            e_gid: vec![],
            e_vh: vec![],
            e_val: vec![],
            e_len: vec![],
            e_next: vec![],
            head: vec![],
            count: vec![],
            arena: vec![],
        }
    }

    fn grow(&mut self, slots: usize) {
        self.head.resize(slots, NONE);
        self.count.resize(slots, 0);
    }

    fn bytes(&self) -> usize {
        self.index.capacity() * 4
            + (self.e_gid.capacity() + self.e_vh.capacity() + self.e_len.capacity() + self.e_next.capacity()) * 4
            + self.e_val.capacity() * 8
            + (self.head.capacity() * 4 + self.count.capacity() * 8)
            + self.arena.capacity()
    }

    #[inline(always)]
    fn slot_hash(vh: u32, g: u32) -> u32 {
        fmix32(vh ^ g.wrapping_mul(0x9E37_79B1))
    }

    #[inline(always)]
    fn entry_bytes(&self, e: usize) -> &[u8] {
        let s = self.e_val[e] as usize;
        &self.arena[s..s + self.e_len[e] as usize]
    }

    /// The index slot holding (g, value) or the empty slot where it would go.
    #[inline(always)]
    fn find(&self, g: u32, vh: u32, eq: impl Fn(usize) -> bool) -> (bool, usize) {
        let mask = self.index.len() - 1;
        let mut slot = Self::slot_hash(vh, g) as usize & mask;
        loop {
            let e = self.index[slot];
            if e == NONE {
                return (false, slot);
            }
            let e = e as usize;
            if self.e_gid[e] == g && self.e_vh[e] == vh && eq(e) {
                return (true, slot);
            }
            slot = (slot + 1) & mask;
        }
    }

    fn add(&mut self, slot: usize, g: u32, vh: u32, val: u64, len: u32) {
        let e = self.e_gid.len() as u32;
        self.index[slot] = e;
        self.e_gid.push(g);
        self.e_vh.push(vh);
        self.e_val.push(val);
        if self.utf8 {
            self.e_len.push(len);
        }
        self.e_next.push(self.head[g as usize]);
        self.head[g as usize] = e;
        self.count[g as usize] += 1;
        if self.e_gid.len() * 2 > self.index.len() {
            self.rehash(self.index.len() * 2);
        }
    }

    fn rehash(&mut self, cap: usize) {
        let mut index = vec![NONE; cap];
        let mask = cap - 1;
        for e in 0..self.e_gid.len() {
            let mut slot = Self::slot_hash(self.e_vh[e], self.e_gid[e]) as usize & mask;
            while index[slot] != NONE {
                slot = (slot + 1) & mask;
            }
            index[slot] = e as u32;
        }
        self.index = index;
    }

    #[inline(always)]
    fn insert_fixed(&mut self, g: u32, v: u64) {
        let vh = murmur3_u64(v, DISTINCT_SEED);
        let (found, slot) = self.find(g, vh, |e| self.e_val[e] == v);
        if !found {
            self.add(slot, g, vh, v, 0);
        }
    }

    fn insert_bytes_hashed(&mut self, g: u32, vh: u32, b: &[u8]) {
        let (found, slot) = self.find(g, vh, |e| self.e_len[e] as usize == b.len() && self.entry_bytes(e) == b);
        if !found {
            let off = self.arena.len() as u64;
            self.arena.extend_from_slice(b);
            self.add(slot, g, vh, off, b.len() as u32);
        }
    }

    #[inline(always)]
    fn insert_bytes(&mut self, g: u32, b: &[u8]) {
        self.insert_bytes_hashed(g, murmur3_32(b, DISTINCT_SEED), b);
    }

    /// Adds the values of `src` (dead afterwards) to `dst`.
    fn merge_within(&mut self, dst: u32, src: u32) {
        let mut vals = Vec::with_capacity(self.count[src as usize] as usize);
        let mut e = self.head[src as usize];
        while e != NONE {
            let i = e as usize;
            vals.push((self.e_vh[i], self.e_val[i], if self.utf8 { self.e_len[i] } else { 0 }));
            e = self.e_next[i];
        }
        for (vh, val, len) in vals {
            let (found, slot) = if self.utf8 {
                let (s, l) = (val as usize, len as usize);
                self.find(dst, vh, |e| self.e_len[e] as usize == l && self.entry_bytes(e) == &self.arena[s..s + l])
            } else {
                self.find(dst, vh, |e| self.e_val[e] == val)
            };
            if !found {
                self.add(slot, dst, vh, val, len);
            }
        }
    }

    /// Adds the values of `src` in `o` to `dst`.
    fn union_from(&mut self, dst: u32, o: &Distinct, src: u32) {
        let mut e = o.head[src as usize];
        while e != NONE {
            let i = e as usize;
            if self.utf8 {
                self.insert_bytes_hashed(dst, o.e_vh[i], o.entry_bytes(i));
            } else {
                let v = o.e_val[i];
                let vh = o.e_vh[i];
                let (found, slot) = self.find(dst, vh, |e| self.e_val[e] == v);
                if !found {
                    self.add(slot, dst, vh, v, 0);
                }
            }
            e = o.e_next[i];
        }
    }

    fn compact(&mut self, keep: &[usize]) {
        let old = std::mem::replace(self, Distinct::new(self.utf8));
        self.grow(keep.len());
        let live: usize = keep.iter().map(|&g| old.count[g] as usize).sum();
        self.e_gid.reserve(live);
        self.e_vh.reserve(live);
        self.e_val.reserve(live);
        self.e_next.reserve(live);
        for (new, &g) in keep.iter().enumerate() {
            let mut e = old.head[g];
            while e != NONE {
                let i = e as usize;
                let id = self.e_gid.len() as u32;
                self.e_gid.push(new as u32);
                self.e_vh.push(old.e_vh[i]);
                if self.utf8 {
                    let b = old.entry_bytes(i);
                    self.e_val.push(self.arena.len() as u64);
                    self.e_len.push(b.len() as u32);
                    self.arena.extend_from_slice(b);
                } else {
                    self.e_val.push(old.e_val[i]);
                }
                self.e_next.push(self.head[new]);
                self.head[new] = id;
                e = old.e_next[i];
            }
            self.count[new] = old.count[g];
        }
        let cap = (self.e_gid.len() * 2).next_power_of_two().max(64);
        self.rehash(cap);
    }

    fn clear(&mut self) {
        self.index.fill(NONE);
        self.e_gid.clear();
        self.e_vh.clear();
        self.e_val.clear();
        self.e_len.clear();
        self.e_next.clear();
        self.head.clear();
        self.count.clear();
        self.arena.clear();
    }
}
