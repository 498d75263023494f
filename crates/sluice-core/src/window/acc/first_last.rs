//! first and last: the value of the earliest / latest-arriving non-null input of a slot, of any
//! type, with that input's arrival sequence number so merged slices and sessions pick right.

use super::{each_valid, nullable, seen, AggState, LATE};
use crate::batch::{bit_get, bit_set, bitmap_len, Column, ColumnData, ColumnRef, DataType, Utf8Builder, ValuesRef};
use crate::error::Result;
use crate::window::AggSpec;

/// Arrival sequence of an empty `first` / `last` slot.
const NO_FIRST: i64 = i64::MAX;
const NO_LAST: i64 = -1;

pub(super) struct FirstLast {
    last: bool,
    /// Arrival sequence number of the value held.
    seq: Vec<i64>,
    values: Values,
    /// Rows picked in one batch (reused).
    picks: Vec<(u32, u32)>,
}

/// The values held, by input type.
enum Values {
    F64(Vec<f64>),
    /// i32, i64, timestamp, and bool as 0/1; emitted as `out`.
    Int { v: Vec<i64>, out: DataType },
    Utf8(Strings),
}

/// utf8 values: (offset, length) spans in one arena.
struct Strings {
    span: Vec<(usize, u32)>,
    arena: Vec<u8>,
    /// Bytes of `arena` no span refers to any more.
    garbage: usize,
}

impl Strings {
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

    /// Rebuilds the arena with the spans of slots `keep` (old slot per new slot).
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
}

impl FirstLast {
    /// `dtype`: the input type, which is also the output type.
    pub(super) fn new(last: bool, dtype: DataType) -> FirstLast {
        let values = match dtype {
            DataType::F64 => Values::F64(vec![]),
            DataType::Utf8 => Values::Utf8(Strings { span: vec![], arena: vec![], garbage: 0 }),
            out => Values::Int { v: vec![], out },
        };
        FirstLast { last, seq: vec![], values, picks: vec![] }
    }

    /// Whether a value with arrival sequence `s` replaces one with `cur`.
    #[inline(always)]
    fn wins(&self, s: i64, cur: i64) -> bool {
        if self.last {
            s > cur
        } else {
            s < cur
        }
    }

    /// first: the earliest non-null row of each slot not yet holding a value; last: the
    /// latest non-null row of each slot (rows of this batch come after every value held).
    fn update_pick(&mut self, col: ColumnRef<'_>, gids: &[u32], seq_base: i64) {
        let valid = |i: usize| col.validity.is_none_or(|b| bit_get(b, i));
        let seq = &mut self.seq;
        let picks = &mut self.picks;
        picks.clear();
        if !self.last {
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
        let picks = &self.picks;
        match (&mut self.values, col.values) {
            (Values::F64(f), ValuesRef::F64(v)) => picks.iter().for_each(|&(g, i)| f[g as usize] = v[i as usize]),
            (Values::Int { v: s, .. }, ValuesRef::I32(v)) => picks.iter().for_each(|&(g, i)| s[g as usize] = v[i as usize] as i64),
            (Values::Int { v: s, .. }, ValuesRef::I64(v) | ValuesRef::Timestamp(v)) => {
                picks.iter().for_each(|&(g, i)| s[g as usize] = v[i as usize])
            }
            (Values::Int { v: s, .. }, ValuesRef::Bool(b)) => picks.iter().for_each(|&(g, i)| s[g as usize] = bit_get(b, i as usize) as i64),
            (Values::Utf8(st), ValuesRef::Utf8 { offsets, data }) => {
                for &(g, i) in picks {
                    st.set_bytes(g as usize, ColumnRef::utf8_bytes(offsets, data, i as usize));
                }
                st.maybe_compact_arena();
            }
            // The values are chosen from the input type, which every pushed batch has.
            _ => {}
        }
    }

    /// Merges the value of slot `src` of `o` (not empty) into slot `dst`.
    fn merge_value_from(&mut self, dst: usize, o: &FirstLast, src: usize) {
        let s = o.seq[src];
        if !self.wins(s, self.seq[dst]) {
            return;
        }
        self.seq[dst] = s;
        match (&mut self.values, &o.values) {
            (Values::F64(f), Values::F64(of)) => f[dst] = of[src],
            (Values::Utf8(st), Values::Utf8(ost)) => st.set_bytes(dst, ost.bytes_of(src)),
            (Values::Int { v, .. }, Values::Int { v: ov, .. }) => v[dst] = ov[src],
            _ => unreachable!("first/last accumulators of one aggregate hold one input type"),
        }
    }
}

impl AggState for FirstLast {
    fn grow(&mut self, slots: usize) {
        self.seq.resize(slots, if self.last { NO_LAST } else { NO_FIRST });
        match &mut self.values {
            Values::F64(f) => f.resize(slots, 0.0),
            Values::Utf8(st) => st.span.resize(slots, (0, 0)),
            Values::Int { v, .. } => v.resize(slots, 0),
        }
    }

    #[inline(always)]
    fn update<const TRACK: bool>(&mut self, col: ColumnRef<'_>, validity: Option<&[u8]>, gids: &[u32], seq_base: i64, n: &mut [i64]) {
        self.update_pick(col, gids, seq_base);
        if TRACK {
            each_valid(gids, validity, |g, _| seen::<TRACK>(n, g))
        }
    }

    fn merge_slot(&mut self, dst: usize, src: usize) {
        let s = self.seq[src];
        if !self.wins(s, self.seq[dst]) {
            return;
        }
        self.seq[dst] = s;
        match &mut self.values {
            Values::F64(f) => f[dst] = f[src],
            Values::Utf8(st) => {
                // Same arena: take over the bytes (src is dead).
                st.garbage += st.span[dst].1 as usize;
                st.span[dst] = st.span[src];
            }
            Values::Int { v, .. } => v[dst] = v[src],
        }
    }

    fn merge_pairs(&mut self, o: &FirstLast, pairs: &[(u32, u32)], nn: &[i64]) {
        for &(d, s) in pairs {
            if nn[s as usize] > 0 {
                self.merge_value_from(d as usize, o, s as usize);
            }
        }
    }

    fn emit(&self, _spec: &AggSpec, groups: &[u32], nn: &[i64]) -> Result<Column> {
        let validity = nullable(groups, nn);
        let nn = |g: u32| nn[g as usize];
        let data = match &self.values {
            Values::F64(f) => ColumnData::F64(groups.iter().map(|&g| if nn(g) > 0 { f[g as usize] } else { 0.0 }).collect()),
            Values::Utf8(st) => {
                let mut b = Utf8Builder::with_capacity(groups.len(), 0);
                for &g in groups {
                    b.push(if nn(g) > 0 { st.bytes_of(g as usize) } else { b"" });
                }
                b.finish()
            }
            Values::Int { v, out } => {
                let ints = || groups.iter().map(|&g| if nn(g) > 0 { v[g as usize] } else { 0 });
                match out {
                    DataType::I32 => ColumnData::I32(ints().map(|x| x as i32).collect()),
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
                    _ => ColumnData::I64(ints().collect()),
                }
            }
        };
        Ok(Column { data, validity })
    }

    fn compact(&mut self, keep: &[usize]) {
        super::pick(&mut self.seq, keep);
        match &mut self.values {
            Values::F64(f) => super::pick(f, keep),
            Values::Int { v, .. } => super::pick(v, keep),
            Values::Utf8(st) => {
                if !st.span.is_empty() {
                    st.rebuild_arena(keep);
                }
            }
        }
    }

    fn clear(&mut self) {
        self.seq.clear();
        match &mut self.values {
            Values::F64(f) => f.clear(),
            Values::Int { v, .. } => v.clear(),
            Values::Utf8(st) => {
                st.span.clear();
                st.arena.clear();
                st.garbage = 0;
            }
        }
    }

    fn bytes(&self) -> usize {
        self.seq.capacity() * 8
            + match &self.values {
                Values::F64(f) => f.capacity() * 8,
                Values::Int { v, .. } => v.capacity() * 8,
                Values::Utf8(st) => st.span.capacity() * 16 + st.arena.capacity(),
            }
    }
}
