//! countDistinct: exact per-slot sets of canonical values.

use super::{each_valid, seen, AggState};
use crate::batch::{bit_get, Column, ColumnData, ColumnRef, ValuesRef};
use crate::error::Result;
use crate::hash::{fmix32, murmur3_32, murmur3_u64};
use crate::keys::canonical_f64_bits;
use crate::window::AggSpec;

const NONE: u32 = u32::MAX;
const DISTINCT_SEED: u32 = 0x0d15_71c7;

/// Exact distinct-value sets of every slot in one open-addressing table of (slot, value)
/// entries; each slot's entries are also chained, so sets can be merged and renumbered.
/// Values are canonical: i32/i64/timestamp as integers, f64 as canonical bits (one NaN, one
/// zero), bool as 0/1, utf8 as bytes.
pub(super) struct Distinct {
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
    pub(super) fn new(utf8: bool) -> Distinct {
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

    /// Adds the non-null values of `col` to the sets of their rows' slots.
    fn insert_column(&mut self, col: ColumnRef<'_>, gids: &[u32]) {
        let validity = col.validity;
        match col.values {
            ValuesRef::I32(v) => each_valid(gids, validity, |g, i| self.insert_fixed(g as u32, v[i] as i64 as u64)),
            ValuesRef::I64(v) | ValuesRef::Timestamp(v) => each_valid(gids, validity, |g, i| self.insert_fixed(g as u32, v[i] as u64)),
            ValuesRef::F64(v) => each_valid(gids, validity, |g, i| self.insert_fixed(g as u32, canonical_f64_bits(v[i]))),
            ValuesRef::Bool(b) => each_valid(gids, validity, |g, i| self.insert_fixed(g as u32, bit_get(b, i) as u64)),
            ValuesRef::Utf8 { offsets, data } => {
                each_valid(gids, validity, |g, i| self.insert_bytes(g as u32, ColumnRef::utf8_bytes(offsets, data, i)))
            }
        }
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
    pub(super) fn merge_within(&mut self, dst: u32, src: u32) {
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
    pub(super) fn union_from(&mut self, dst: u32, o: &Distinct, src: u32) {
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
}

impl AggState for Distinct {
    fn grow(&mut self, slots: usize) {
        self.head.resize(slots, NONE);
        self.count.resize(slots, 0);
    }

    #[inline(always)]
    fn update<const TRACK: bool>(&mut self, col: ColumnRef<'_>, validity: Option<&[u8]>, gids: &[u32], _seq_base: i64, n: &mut [i64]) {
        self.insert_column(col, gids);
        if TRACK {
            each_valid(gids, validity, |g, _| seen::<TRACK>(n, g))
        }
    }

    fn merge_slot(&mut self, dst: usize, src: usize) {
        self.merge_within(dst as u32, src as u32)
    }

    fn merge_pairs(&mut self, o: &Distinct, pairs: &[(u32, u32)], nn: &[i64]) {
        for &(d, s) in pairs {
            if nn[s as usize] > 0 {
                self.union_from(d, o, s);
            }
        }
    }

    /// The number of distinct values of each of `groups`.
    fn emit(&self, _spec: &AggSpec, groups: &[u32], _nn: &[i64]) -> Result<Column> {
        Ok(Column::new(ColumnData::I64(groups.iter().map(|&g| self.count[g as usize]).collect())))
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

    fn bytes(&self) -> usize {
        self.index.capacity() * 4
            + (self.e_gid.capacity() + self.e_vh.capacity() + self.e_len.capacity() + self.e_next.capacity()) * 4
            + self.e_val.capacity() * 8
            + (self.head.capacity() * 4 + self.count.capacity() * 8)
            + self.arena.capacity()
    }
}
