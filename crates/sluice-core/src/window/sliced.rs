//! Tumbling and sliding windows over slices: one group per (slice, key), numbered in creation
//! order; a firing window merges the slices it spans (tumbling: one slice, emitted as is).

use super::acc::{pick, Accs, LATE};
use super::kernel::{late_rows_of, Pushed, WindowKernel};
use super::{build_output, WindowAggSpec};
use crate::batch::{bit_get, BatchRef, Column, ColumnRef, DataType, RecordBatch, SchemaRef, ValuesRef};
use crate::error::Result;
use crate::hash::{fmix32, murmur3_32, murmur3_u64};
use crate::keys::{bytes_eq, decode_keys, encode_key, int_key_column};
use crate::memory::{MemoryPoolRef, Reservation};

const EMPTY_SLOT: u64 = u64::MAX;
const HASH_SEED: u32 = 0x5151_ce00;
const NO_ROW: u32 = u32::MAX;

/// Group keys: a fast path for one integer-like key column, canonical bytes otherwise.
enum Keys {
    /// One entry per group, so a probe touches one cache line: key, slice start, validity.
    Int { entries: Vec<IntEntry>, col: usize, dtype: DataType },
    Bytes { arena: Vec<u8>, spans: Vec<(usize, u32)>, cols: Vec<(usize, DataType)>, scratch: Vec<u8> },
}

#[derive(Clone, Copy)]
struct IntEntry {
    key: i64,
    start: i64,
    valid: bool,
}

impl Keys {
    /// Whether groups `a` and `b` have the same key.
    #[inline]
    fn same(&self, a: usize, b: usize) -> bool {
        match self {
            Keys::Int { entries, .. } => entries[a].key == entries[b].key && entries[a].valid == entries[b].valid,
            Keys::Bytes { arena, spans, .. } => {
                let (sa, la) = spans[a];
                let (sb, lb) = spans[b];
                la == lb && bytes_eq(&arena[sa..sa + la as usize], &arena[sb..sb + lb as usize])
            }
        }
    }

    /// Hash of group `g`'s key alone (not its slice).
    fn key_hash(&self, g: usize) -> u32 {
        match self {
            Keys::Int { entries, .. } => murmur3_u64(entries[g].key as u64, HASH_SEED) ^ (!entries[g].valid as u32),
            Keys::Bytes { arena, spans, .. } => {
                let (s, l) = spans[g];
                murmur3_32(&arena[s..s + l as usize], HASH_SEED)
            }
        }
    }

    /// The key columns of groups `groups`, in that order.
    fn emit(&self, groups: &[u32]) -> Vec<Column> {
        match self {
            Keys::Int { entries, dtype, .. } => {
                vec![int_key_column(*dtype, groups.iter().map(|&g| (entries[g as usize].key, entries[g as usize].valid)))]
            }
            Keys::Bytes { arena, spans, cols, .. } => {
                let keys: Vec<&[u8]> = groups
                    .iter()
                    .map(|&g| {
                        let (s, l) = spans[g as usize];
                        &arena[s..s + l as usize]
                    })
                    .collect();
                decode_keys(&keys, cols.iter().map(|c| c.1))
            }
        }
    }
}

/// Sliding windows: the keys of the open groups, numbered (when a group is created), so that a
/// firing window merges its slices through an array indexed by key id rather than a hash table.
struct KeyIds {
    /// Open addressing: (hash << 32 | key id).
    index: Vec<u64>,
    hash: Vec<u32>,
    /// Bytes keys: a live group with the key, or NONE once no group has it (never matched again).
    rep: Vec<u32>,
    /// Int keys, inline (no group is touched to compare).
    ikey: Vec<(i64, bool)>,
    refs: Vec<u32>,
    live: usize,
}

const NONE: u32 = u32::MAX;

#[inline(always)]
fn int_key_hash(k: i64, ok: bool) -> u32 {
    murmur3_u64(k as u64, HASH_SEED) ^ (!ok as u32)
}

impl KeyIds {
    fn new() -> KeyIds {
        KeyIds { index: vec![EMPTY_SLOT; 1024], hash: vec![], rep: vec![], ikey: vec![], refs: vec![], live: 0 }
    }

    fn len(&self) -> usize {
        self.hash.len()
    }

    fn bytes(&self) -> usize {
        self.index.capacity() * 8
            + (self.hash.capacity() + self.rep.capacity() + self.refs.capacity()) * 4
            + self.ikey.capacity() * 16
    }

    fn clear(&mut self) {
        self.index.fill(EMPTY_SLOT);
        self.hash.clear();
        self.rep.clear();
        self.ikey.clear();
        self.refs.clear();
        self.live = 0;
    }

    fn push(&mut self, slot: usize, h: u32, rep: u32, ikey: (i64, bool)) -> u32 {
        let kid = self.hash.len() as u32;
        self.index[slot] = ((h as u64) << 32) | kid as u64;
        self.hash.push(h);
        self.rep.push(rep);
        self.ikey.push(ikey);
        self.refs.push(0);
        if self.hash.len() * 2 > self.index.len() {
            grow_index(&mut self.index);
        }
        kid
    }

    /// Counts one more group with key `kid`.
    #[inline(always)]
    fn add_ref(&mut self, kid: u32) {
        let r = &mut self.refs[kid as usize];
        if *r == 0 {
            self.live += 1;
        }
        *r += 1;
    }

    /// The id of an integer key, added (without groups) when new.
    #[inline(always)]
    fn find_int(&mut self, k: i64, ok: bool) -> u32 {
        let h = int_key_hash(k, ok);
        let mask = self.index.len() - 1;
        let mut slot = h as usize & mask;
        loop {
            let e = self.index[slot];
            if e == EMPTY_SLOT {
                return self.push(slot, h, NONE, (k, ok));
            }
            let kid = e as u32;
            if (e >> 32) as u32 == h && self.ikey[kid as usize] == (k, ok) {
                return kid;
            }
            slot = (slot + 1) & mask;
        }
    }

    /// The id of group `g`'s key, counting `g`.
    fn intern(&mut self, keys: &Keys, g: usize) -> u32 {
        if let Keys::Int { entries, .. } = keys {
            let kid = self.find_int(entries[g].key, entries[g].valid);
            self.add_ref(kid);
            return kid;
        }
        let h = keys.key_hash(g);
        let mask = self.index.len() - 1;
        let mut slot = h as usize & mask;
        loop {
            let e = self.index[slot];
            if e == EMPTY_SLOT {
                let kid = self.push(slot, h, g as u32, (0, false));
                self.add_ref(kid);
                return kid;
            }
            let kid = e as u32;
            let rep = self.rep[kid as usize];
            if (e >> 32) as u32 == h && rep != NONE && keys.same(rep as usize, g) {
                self.add_ref(kid);
                return kid;
            }
            slot = (slot + 1) & mask;
        }
    }

    /// After the groups were renumbered (`gkid`: key id per group): recounts, and rebuilds the
    /// table once keys without groups outnumber the others.
    fn recount(&mut self, keys: &Keys, gkid: &mut [u32]) {
        self.refs.fill(0);
        let int = matches!(keys, Keys::Int { .. });
        if !int {
            self.rep.fill(NONE);
        }
        for (g, &k) in gkid.iter().enumerate() {
            self.refs[k as usize] += 1;
            if !int {
                self.rep[k as usize] = g as u32;
            }
        }
        self.live = self.refs.iter().filter(|&&r| r > 0).count();
        let dead = self.len() - self.live;
        if dead > self.live && dead >= 1024 {
            self.clear();
            for (g, k) in gkid.iter_mut().enumerate() {
                *k = self.intern(keys, g);
            }
        }
    }
}

/// Merges the slices of sliding windows into one row per (window, key).
struct Scratch {
    accs: Accs,
    /// Per row: a group with its key, and the first arrival of the key in the window.
    rep: Vec<u32>,
    seq: Vec<i64>,
    /// Key id -> row of the current window.
    row_of: Vec<u32>,
    touched: Vec<u32>,
    ids: KeyIds,
    /// Buffers reused from one firing to the next.
    cand: Vec<u32>,
    pairs: Vec<(u32, u32)>,
    order: Vec<u32>,
    rows: Vec<u32>,
    reps: Vec<u32>,
}

pub(crate) struct SlicedAggregator {
    spec: WindowAggSpec,
    output: SchemaRef,
    size: i64,
    slide: i64,
    offset: i64,
    /// Slice length: gcd(size, slide).
    slice: i64,
    keys: Keys,
    /// Per group: slice start, arrival sequence number of its first row, key id (sliding).
    pane: Vec<i64>,
    seq: Vec<i64>,
    gkid: Vec<u32>,
    /// Per group: its hash in `index` (to rebuild it).
    ghash: Vec<u32>,
    /// Open addressing: (hash << 32 | group id), EMPTY_SLOT when free.
    index: Vec<u64>,
    accs: Accs,
    scratch: Option<Scratch>,
    /// The open slices by start, each with its groups in creation order (a firing reads only
    /// its windows' slices instead of filtering and sorting every group).
    slices: Vec<(i64, Vec<u32>)>,
    /// Windows starting at or before this have fired (or were complete before any record).
    fired_to: Option<i64>,
    /// Allowed lateness (ms): a fired window's slices are kept until the watermark passes its
    /// end - 1 + lateness, and a record that still reaches it fires it again.
    lateness: i64,
    watermark: i64,
    late_dropped: u64,
    seq_base: i64,
    gids: Vec<u32>,
    /// Rows of the last pushed batch (the prefix of `gids` that is valid).
    last_len: usize,
    reservation: Reservation,
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

impl SlicedAggregator {
    pub fn new(spec: WindowAggSpec, output: SchemaRef, size: i64, slide: i64, offset: i64, pool: MemoryPoolRef) -> Result<SlicedAggregator> {
        let key_types: Vec<(usize, DataType)> = spec.key_fields.iter().map(|&k| (k, spec.input.fields[k].data_type)).collect();
        let keys = match key_types.as_slice() {
            [(col, t @ (DataType::I32 | DataType::I64 | DataType::Timestamp))] => {
                Keys::Int { entries: Vec::new(), col: *col, dtype: *t }
            }
            _ => Keys::Bytes { arena: Vec::new(), spans: Vec::new(), cols: key_types, scratch: Vec::new() },
        };
        let accs = Accs::new(&spec.aggs, &spec.input, false)?;
        let scratch = if slide == size {
            None
        } else {
            Some(Scratch {
                accs: Accs::new(&spec.aggs, &spec.input, true)?,
                rep: vec![],
                seq: vec![],
                row_of: vec![],
                touched: vec![],
                ids: KeyIds::new(),
                cand: vec![],
                pairs: vec![],
                order: vec![],
                rows: vec![],
                reps: vec![],
            })
        };
        // Offsets are normalised into [0, slide) (the same window starts).
        let offset = offset.rem_euclid(slide);
        Ok(SlicedAggregator {
            spec,
            output,
            size,
            slide,
            offset,
            slice: gcd(size, slide),
            keys,
            pane: Vec::new(),
            seq: Vec::new(),
            gkid: Vec::new(),
            ghash: Vec::new(),
            index: vec![EMPTY_SLOT; 1024],
            accs,
            scratch,
            slices: Vec::new(),
            fired_to: None,
            lateness: 0,
            watermark: i64::MIN,
            late_dropped: 0,
            seq_base: 0,
            gids: Vec::new(),
            last_len: 0,
            reservation: Reservation::new(pool, "window aggregation"),
        })
    }

    /// The start of the slice holding `ts`.
    #[inline(always)]
    fn slice_of(&self, ts: i64) -> i64 {
        ts.wrapping_sub(ts.wrapping_sub(self.offset).rem_euclid(self.slice))
    }

    /// The last window start at or before `t`.
    #[inline(always)]
    fn last_start(&self, t: i64) -> i64 {
        t.wrapping_sub(t.wrapping_sub(self.offset).rem_euclid(self.slide))
    }

    /// Whether every window holding the slice at `start` is complete at watermark `wm`.
    #[inline(always)]
    fn slice_late(&self, start: i64, wm: i64) -> bool {
        self.last_start(start).saturating_add(self.size - 1) <= wm
    }

    fn drop_watermark(&self) -> i64 {
        super::drop_watermark(self.watermark, self.lateness)
    }

    /// The first window start holding the slice at `a`.
    fn first_start(&self, a: i64) -> i64 {
        let x = a.saturating_add(self.slice - self.size);
        let f = self.last_start(x);
        if f < x {
            f + self.slide
        } else {
            f
        }
    }

    /// The group holding the key of group `g` in the slice starting at `start`.
    fn find_group(&self, g: usize, start: i64) -> Option<u32> {
        let mask = self.index.len() - 1;
        let (h, same): (u32, Box<dyn Fn(usize) -> bool + '_>) = match &self.keys {
            Keys::Int { entries, .. } => {
                let (k, ok) = (entries[g].key, entries[g].valid);
                let h = murmur3_u64((k as u64) ^ (start as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15), HASH_SEED) ^ (!ok as u32);
                (h, Box::new(move |x: usize| entries[x].key == k && entries[x].start == start && entries[x].valid == ok))
            }
            Keys::Bytes { arena, spans, .. } => {
                let (s, l) = spans[g];
                let key = &arena[s..s + l as usize];
                let h = fmix32(murmur3_32(key, HASH_SEED) ^ murmur3_u64(start as u64, HASH_SEED));
                let pane = &self.pane;
                (
                    h,
                    Box::new(move |x: usize| {
                        let (xs, xl) = spans[x];
                        pane[x] == start && bytes_eq(&arena[xs..xs + xl as usize], key)
                    }),
                )
            }
        };
        let mut slot = h as usize & mask;
        loop {
            let e = self.index[slot];
            if e == EMPTY_SLOT {
                return None;
            }
            if (e >> 32) as u32 == h && same(e as u32 as usize) {
                return Some(e as u32);
            }
            slot = (slot + 1) & mask;
        }
    }

    /// One row: the window starting at `ws` for the key of group `g`, merged over its slices.
    fn emit_one(&mut self, g: usize, ws: i64) -> Result<RecordBatch> {
        let starts = vec![ws];
        let ends = vec![ws.saturating_add(self.size)];
        if self.scratch.is_none() {
            // Tumbling: the window is the group's slice.
            return build_output(&self.output, self.keys.emit(&[g as u32]), starts, ends, &self.accs, &self.spec.aggs, &[g as u32]);
        }
        // Slices in order, so float sums add as when the window fired on time.
        let pairs: Vec<(u32, u32)> =
            (0..self.size / self.slice).filter_map(|i| self.find_group(g, ws + i * self.slice)).map(|x| (0, x)).collect();
        let sc = self.scratch.as_mut().unwrap();
        sc.accs.clear();
        sc.accs.grow(1);
        sc.accs.merge_pairs(&self.accs, &pairs);
        build_output(&self.output, self.keys.emit(&[g as u32]), starts, ends, &sc.accs, &self.spec.aggs, &[0])
    }

    fn account(&mut self) -> Result<()> {
        let keys = match &self.keys {
            Keys::Int { entries, .. } => entries.capacity() * std::mem::size_of::<IntEntry>(),
            Keys::Bytes { arena, spans, .. } => arena.capacity() + spans.capacity() * 16,
        };
        let scratch = self.scratch.as_ref().map_or(0, |s| {
            s.accs.bytes() + s.rep.capacity() * 4 + s.seq.capacity() * 8 + s.row_of.capacity() * 4 + s.touched.capacity() * 4 + s.ids.bytes()
        });
        let bytes = keys
            + self.pane.capacity() * 8
            + self.seq.capacity() * 8
            + (self.gkid.capacity() + self.ghash.capacity()) * 4
            + self.index.capacity() * 8
            + self.slices.iter().map(|(_, gs)| gs.capacity() * 4 + 32).sum::<usize>()
            + self.accs.bytes()
            + scratch;
        self.reservation.resize(bytes as u64)
    }

    #[inline(always)]
    fn assign_int<T: Copy>(&mut self, ts: &[i64], v: &[T], validity: Option<&[u8]>, to: impl Fn(T) -> i64) {
        let wm = self.drop_watermark();
        let (mut cur_start, mut cur_end, mut cur_late) = (i64::MAX, i64::MIN, false);
        // The index of `cur_start`'s slice in `slices`, once a group was opened in it.
        let mut cur_slice = usize::MAX;
        let (size, slide, slice, offset) = (self.size, self.slide, self.slice, self.offset);
        let seq_base = self.seq_base;
        let Keys::Int { entries, .. } = &mut self.keys else { unreachable!() };
        for i in 0..self.gids.len() {
            let t = ts[i];
            if t < cur_start || t >= cur_end {
                cur_start = t.wrapping_sub(t.wrapping_sub(offset).rem_euclid(slice));
                cur_end = cur_start.saturating_add(slice);
                cur_slice = usize::MAX;
                let last = cur_start.wrapping_sub(cur_start.wrapping_sub(offset).rem_euclid(slide));
                cur_late = last.saturating_add(size - 1) <= wm;
            }
            if cur_late {
                self.late_dropped += 1;
                continue;
            }
            let ok = validity.is_none_or(|b| bit_get(b, i));
            let k = if ok { to(v[i]) } else { 0 };
            let h = murmur3_u64((k as u64) ^ (cur_start as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15), HASH_SEED) ^ (!ok as u32);
            let mask = self.index.len() - 1;
            let mut slot = h as usize & mask;
            let g = loop {
                let e = self.index[slot];
                if e == EMPTY_SLOT {
                    let g = self.pane.len() as u32;
                    self.index[slot] = ((h as u64) << 32) | g as u64;
                    self.pane.push(cur_start);
                    self.seq.push(seq_base + i as i64);
                    self.ghash.push(h);
                    self.accs.rows.push(0);
                    entries.push(IntEntry { key: k, start: cur_start, valid: ok });
                    if cur_slice == usize::MAX {
                        cur_slice = slice_index(&mut self.slices, cur_start);
                    }
                    self.slices[cur_slice].1.push(g);
                    if self.pane.len() * 2 > self.index.len() {
                        grow_index(&mut self.index);
                    }
                    break g;
                }
                let g = e as u32;
                if (e >> 32) as u32 == h {
                    let en = &entries[g as usize];
                    if en.key == k && en.start == cur_start && en.valid == ok {
                        break g;
                    }
                }
                slot = (slot + 1) & mask;
            };
            self.accs.rows[g as usize] += 1;
            self.gids[i] = g;
        }
    }

    fn assign_bytes(&mut self, ts: &[i64], batch: &BatchRef<'_>) {
        let wm = self.drop_watermark();
        let seq_base = self.seq_base;
        let n = self.gids.len();
        let key_cols: Vec<ColumnRef<'_>> = match &self.keys {
            Keys::Bytes { cols, .. } => cols.iter().map(|&(c, _)| batch.columns[c]).collect(),
            Keys::Int { .. } => unreachable!(),
        };
        for (i, &t) in ts[..n].iter().enumerate() {
            let start = self.slice_of(t);
            if self.slice_late(start, wm) {
                self.late_dropped += 1;
                continue;
            }
            let Keys::Bytes { arena, spans, scratch, .. } = &mut self.keys else { unreachable!() };
            scratch.clear();
            encode_key(&key_cols, i, scratch);
            let h = fmix32(murmur3_32(scratch, HASH_SEED) ^ murmur3_u64(start as u64, HASH_SEED));
            let mask = self.index.len() - 1;
            let mut slot = h as usize & mask;
            let g = loop {
                let e = self.index[slot];
                if e == EMPTY_SLOT {
                    let g = self.pane.len() as u32;
                    self.index[slot] = ((h as u64) << 32) | g as u64;
                    self.pane.push(start);
                    self.seq.push(seq_base + i as i64);
                    self.ghash.push(h);
                    self.accs.rows.push(0);
                    spans.push((arena.len(), scratch.len() as u32));
                    arena.extend_from_slice(scratch);
                    let at = slice_index(&mut self.slices, start);
                    self.slices[at].1.push(g);
                    if self.pane.len() * 2 > self.index.len() {
                        grow_index(&mut self.index);
                    }
                    break g;
                }
                let g = e as u32;
                if (e >> 32) as u32 == h && self.pane[g as usize] == start {
                    let (s, l) = spans[g as usize];
                    if bytes_eq(&arena[s..s + l as usize], scratch) {
                        break g;
                    }
                }
                slot = (slot + 1) & mask;
            };
            self.accs.rows[g as usize] += 1;
            self.gids[i] = g;
        }
    }

    /// The last window start whose window is complete at watermark `wm`, if any.
    fn complete_to(&self, wm: i64) -> Option<i64> {
        if wm == i64::MAX {
            return Some(i64::MAX);
        }
        let x = wm as i128 - self.size as i128 + 1;
        let s = x - (x - self.offset as i128).rem_euclid(self.slide as i128);
        (s >= i64::MIN as i128).then_some(s as i64)
    }

    /// Window starts to fire at watermark `wm`, ascending, and the new `fired_to` (the last
    /// window start complete at `wm`, or the current `fired_to` when later).
    fn due_windows(&self, wm: i64) -> (Vec<i64>, Option<i64>) {
        let (size, slide, slice, off) = (self.size as i128, self.slide as i128, self.slice as i128, self.offset as i128);
        let floor_start = |x: i128| x - (x - off).rem_euclid(slide);
        // Every window whose last timestamp is at or before wm is complete; at the end of input
        // (i64::MAX) every window is.
        let new_fired: i128 = if wm == i64::MAX { i128::MAX } else { floor_start(wm as i128 - size + 1) };
        let mut out = Vec::new();
        let mut next: i128 = self.fired_to.map_or(i128::MIN, |f| f as i128 + slide);
        for &(a, _) in &self.slices {
            let a = a as i128;
            // The first window holding the slice: the lowest start >= a + slice - size.
            let x = a + slice - size;
            let f = floor_start(x);
            let first = (if f < x { f + slide } else { f }).max(next);
            if first > new_fired {
                break;
            }
            let last = floor_start(a).min(new_fired);
            let mut ws = first;
            while ws <= last {
                out.push(ws as i64);
                ws += slide;
            }
            next = next.max(last + slide);
        }
        let fired_to = if new_fired >= i64::MAX as i128 {
            Some(i64::MAX)
        } else if new_fired < i64::MIN as i128 {
            self.fired_to
        } else {
            Some(self.fired_to.map_or(new_fired as i64, |f| f.max(new_fired as i64)))
        };
        (out, fired_to)
    }

    /// Tumbling: each fired window is one slice; its groups in creation order.
    fn emit_tumbling(&self, windows: &[i64]) -> Result<RecordBatch> {
        let (first, last) = (windows[0], *windows.last().unwrap());
        // Slices of fired windows kept for allowed lateness come before `first`.
        let groups: Vec<u32> = self.slices.iter().filter(|(a, _)| (first..=last).contains(a)).flat_map(|(_, gs)| gs.iter().copied()).collect();
        let starts: Vec<i64> = groups.iter().map(|&g| self.pane[g as usize]).collect();
        let ends = starts.iter().map(|&s| s.saturating_add(self.size)).collect();
        build_output(&self.output, self.keys.emit(&groups), starts, ends, &self.accs, &self.spec.aggs, &groups)
    }

    /// Sliding: merge each fired window's slices per key into scratch rows, ordered by the
    /// first arrival of the key in the window.
    fn emit_sliding(&mut self, windows: &[i64]) -> Result<RecordBatch> {
        let size = self.size;
        let end_of_last = windows.last().unwrap().saturating_add(size);
        // Groups of dropped slices may linger (compaction is lazy): their slices start before
        // every window that can still fire.
        let first = windows[0];
        let mut sc = self.scratch.take().unwrap();
        let mut cand = std::mem::take(&mut sc.cand);
        cand.clear();
        for (_, gs) in self.slices.iter().filter(|(a, _)| (first..end_of_last).contains(a)) {
            cand.extend_from_slice(gs);
        }
        sc.accs.clear();
        sc.rep.clear();
        sc.seq.clear();
        let mut order = std::mem::take(&mut sc.order);
        order.clear();
        let mut starts: Vec<i64> = Vec::new();
        // (row, group) merges, in window, slice, then group order.
        let mut pairs = std::mem::take(&mut sc.pairs);
        pairs.clear();
        let mut rows = std::mem::take(&mut sc.rows);
        let mut lo = 0usize;
        for &ws in windows {
            let we = ws.saturating_add(size);
            while lo < cand.len() && self.pane[cand[lo] as usize] < ws {
                lo += 1;
            }
            let mut hi = lo;
            while hi < cand.len() && self.pane[cand[hi] as usize] < we {
                hi += 1;
            }
            let range = &cand[lo..hi];
            if range.is_empty() {
                continue;
            }
            let first_row = sc.rep.len();
            // At most one row per group of the window: size the scratch slots once.
            if sc.accs.rows.len() < first_row + range.len() {
                sc.accs.grow(first_row + range.len());
            }
            if sc.row_of.len() < sc.ids.len() {
                sc.row_of.resize(sc.ids.len(), NO_ROW);
            }
            for &g in range {
                let g = g as usize;
                let kid = self.gkid[g];
                let mut row = sc.row_of[kid as usize];
                if row == NO_ROW {
                    row = sc.rep.len() as u32;
                    sc.row_of[kid as usize] = row;
                    sc.touched.push(kid);
                    sc.rep.push(g as u32);
                    sc.seq.push(self.seq[g]);
                }
                if self.seq[g] < sc.seq[row as usize] {
                    sc.seq[row as usize] = self.seq[g];
                }
                pairs.push((row, g as u32));
            }
            for &k in &sc.touched {
                sc.row_of[k as usize] = NO_ROW;
            }
            sc.touched.clear();
            rows.clear();
            rows.extend(first_row as u32..sc.rep.len() as u32);
            // The rows are one ascending run per slice (a key's row is made in the first slice it
            // has a group in, with that group's arrival number, and a slice's groups are in
            // arrival order): a run-merging sort takes them in O(n log slices) where a pattern-
            // defeating quicksort, unless they are all in order (one source at p=1), sorts from
            // scratch. Arrival numbers are unique, so stable or not gives the same order.
            rows.sort_by_key(|&r| sc.seq[r as usize]);
            order.extend_from_slice(&rows);
            starts.resize(order.len(), ws);
        }
        sc.accs.merge_pairs(&self.accs, &pairs);
        let mut reps = std::mem::take(&mut sc.reps);
        reps.clear();
        reps.extend(order.iter().map(|&r| sc.rep[r as usize]));
        let ends = starts.iter().map(|&s| s.saturating_add(size)).collect();
        let out = build_output(&self.output, self.keys.emit(&reps), starts, ends, &sc.accs, &self.spec.aggs, &order);
        (sc.cand, sc.pairs, sc.order, sc.rows, sc.reps) = (cand, pairs, order, rows, reps);
        self.scratch = Some(sc);
        out
    }

    /// Drops the groups of slices whose every window has fired (windows starting at or
    /// before `fired_to`) and rebuilds the index.
    fn retain_open(&mut self, fired_to: i64) {
        let keep: Vec<usize> = (0..self.pane.len()).filter(|&g| self.last_start(self.pane[g]) > fired_to).collect();
        if keep.is_empty() {
            // The common case (one window open at a time): keep every allocation for the next
            // window instead of growing the table again from scratch.
            match &mut self.keys {
                Keys::Int { entries, .. } => entries.clear(),
                Keys::Bytes { arena, spans, .. } => {
                    arena.clear();
                    spans.clear();
                }
            }
            self.pane.clear();
            self.seq.clear();
            self.gkid.clear();
            self.ghash.clear();
            if let Some(sc) = &mut self.scratch {
                sc.ids.clear();
            }
            self.accs.clear();
            self.index.fill(EMPTY_SLOT);
            self.slices.clear();
            return;
        }
        if keep.len() == self.pane.len() {
            return;
        }
        match &mut self.keys {
            Keys::Int { entries, .. } => pick(entries, &keep),
            Keys::Bytes { arena, spans, .. } => {
                let mut na = Vec::new();
                let mut ns = Vec::with_capacity(keep.len());
                for &g in &keep {
                    let (s, l) = spans[g];
                    ns.push((na.len(), l));
                    na.extend_from_slice(&arena[s..s + l as usize]);
                }
                *arena = na;
                *spans = ns;
            }
        }
        pick(&mut self.pane, &keep);
        pick(&mut self.seq, &keep);
        pick(&mut self.gkid, &keep);
        self.accs.compact(&keep);
        if let Some(sc) = &mut self.scratch {
            sc.ids.recount(&self.keys, &mut self.gkid);
        }
        pick(&mut self.ghash, &keep);
        // Rehash the survivors.
        // Keep the table's size: the groups usually grow back to it before the next firing.
        let cap = (keep.len() * 2).next_power_of_two().max(self.index.len());
        if self.index.len() == cap {
            self.index.fill(EMPTY_SLOT);
        } else {
            self.index = vec![EMPTY_SLOT; cap];
        }
        let mask = cap - 1;
        for (g, &h) in self.ghash.iter().enumerate() {
            let mut slot = h as usize & mask;
            while self.index[slot] != EMPTY_SLOT {
                slot = (slot + 1) & mask;
            }
            self.index[slot] = ((h as u64) << 32) | g as u64;
        }
        // The survivors are renumbered in order: their slices list them again.
        for (_, gs) in &mut self.slices {
            gs.clear();
        }
        for (g, &a) in self.pane.iter().enumerate() {
            let at = slice_index(&mut self.slices, a);
            self.slices[at].1.push(g as u32);
        }
    }
}

impl WindowKernel for SlicedAggregator {
    fn set_lateness(&mut self, ms: i64) -> Result<()> {
        self.lateness = ms;
        Ok(())
    }

    fn push(&mut self, batch: &BatchRef<'_>, ts: &[i64]) -> Result<Pushed> {
        let n = batch.len;
        self.gids.clear();
        self.gids.resize(n, LATE);
        self.last_len = n;
        let before = self.late_dropped;
        let groups_before = self.pane.len();
        match &self.keys {
            Keys::Int { col, .. } => {
                let col = *col;
                match batch.columns[col].values {
                    ValuesRef::I32(v) => self.assign_int(ts, v, batch.columns[col].validity, |x| x as i64),
                    ValuesRef::I64(v) | ValuesRef::Timestamp(v) => self.assign_int(ts, v, batch.columns[col].validity, |x| x),
                    _ => unreachable!("the int key path is chosen for integer columns only"),
                }
            }
            Keys::Bytes { .. } => self.assign_bytes(ts, batch),
        }
        let groups = self.pane.len();
        if groups != groups_before {
            self.accs.grow(groups);
            if let Some(sc) = &mut self.scratch {
                for g in groups_before..groups {
                    let k = sc.ids.intern(&self.keys, g);
                    self.gkid.push(k);
                }
            }
            self.account()?;
        }
        self.accs.update(batch, &self.gids[..n], self.seq_base);
        self.seq_base += n as i64;
        Ok(Pushed { late: self.late_dropped - before, fired: None })
    }

    /// Rows (ascending) that reach a window that already fired but is within the allowed
    /// lateness: each fires that window again, so they are pushed one at a time.
    fn refire_candidates(&self, _batch: &BatchRef<'_>, ts: &[i64]) -> Vec<usize> {
        let (wm, drop) = (self.watermark, self.drop_watermark());
        if self.lateness == 0 || wm == i64::MIN {
            return vec![];
        }
        (0..ts.len())
            .filter(|&i| {
                let a = self.slice_of(ts[i]);
                self.first_start(a).saturating_add(self.size - 1) <= wm && !self.slice_late(a, drop)
            })
            .collect()
    }

    /// After a one-row push: the rows of every fired window (within lateness) that the row
    /// reached, latest start first (Flink's assignment order), or None.
    fn refire_last_row(&mut self) -> Result<Option<RecordBatch>> {
        let g = self.gids[0];
        if self.last_len != 1 || g == LATE {
            return Ok(None);
        }
        let (wm, drop) = (self.watermark, self.drop_watermark());
        let a = self.pane[g as usize];
        let mut ws = self.last_start(a);
        let first = self.first_start(a);
        let mut parts = Vec::new();
        while ws >= first {
            let end_1 = ws.saturating_add(self.size - 1);
            if end_1 <= wm && end_1 > drop {
                parts.push(self.emit_one(g as usize, ws)?);
            }
            ws -= self.slide;
        }
        Ok(match parts.len() {
            0 => None,
            1 => parts.pop(),
            _ => Some(RecordBatch::concat(self.output.clone(), &parts)),
        })
    }

    fn late_rows(&self) -> Vec<u32> {
        late_rows_of(&self.gids[..self.last_len])
    }

    /// Advances the watermark (never backwards) and returns the rows of every window it
    /// completes, or None when none fires. `i64::MAX` (end of input) fires everything.
    fn advance_watermark(&mut self, watermark: i64) -> Result<Option<RecordBatch>> {
        if watermark <= self.watermark {
            return Ok(None);
        }
        self.watermark = watermark;
        let (windows, fired_to) = self.due_windows(watermark);
        let batch = if windows.is_empty() {
            None
        } else if self.scratch.is_none() {
            Some(self.emit_tumbling(&windows)?)
        } else {
            Some(self.emit_sliding(&windows)?)
        };
        // Forget fired windows only once their rows exist (an emit error leaves state as it was).
        self.fired_to = fired_to;
        // Slices stay while a window holding them is within its allowed lateness.
        let clean_to = if self.lateness == 0 { fired_to } else { self.complete_to(self.drop_watermark()).min(fired_to) };
        if let Some(f) = clean_to {
            let dead = self.slices.iter().take_while(|(a, _)| self.last_start(*a) <= f).count();
            if dead > 0 {
                self.slices.drain(..dead);
                // Compact once the dropped groups are half of all, so a firing costs the groups
                // it drops, not every group held: sliding windows drop one slice at a time, and
                // tumbling ones a window at a time while later windows are open (a source ahead
                // of another in a parallel job holds many). The dropped groups' keys carry their
                // window start, so no new row finds them. Dropping everything is the cheap case.
                let live = if self.scratch.is_none() {
                    // Tumbling: a group is in one slice, its window's.
                    self.slices.iter().map(|(_, gs)| gs.len()).sum()
                } else {
                    // A slice outlives the fired windows when it starts after the last one's
                    // start + slide (`f` is a window start).
                    let live_from = f.saturating_add(self.slide);
                    self.pane.iter().filter(|&&a| a >= live_from).count()
                };
                if live * 2 <= self.pane.len() {
                    self.retain_open(f);
                    self.account()?;
                }
            }
        }
        Ok(batch)
    }

    /// Fires every window in state whatever the watermark, then starts over from no watermark
    /// with the allocations kept: a pre-aggregation that emits each batch's partial results.
    fn flush(&mut self) -> Result<Option<RecordBatch>> {
        let out = self.advance_watermark(i64::MAX)?;
        self.watermark = i64::MIN;
        self.fired_to = None;
        Ok(out)
    }

    fn late_dropped(&self) -> u64 {
        self.late_dropped
    }

    fn watermark(&self) -> i64 {
        self.watermark
    }

    fn group_count(&self) -> usize {
        self.pane.len()
    }

    fn memory_held(&self) -> u64 {
        self.reservation.held()
    }
}

/// The position of the slice starting at `start` in `slices` (ascending), added when missing.
fn slice_index(slices: &mut Vec<(i64, Vec<u32>)>, start: i64) -> usize {
    // New slices are mostly the latest.
    if let Some((last, _)) = slices.last() {
        if *last == start {
            return slices.len() - 1;
        }
    }
    match slices.binary_search_by_key(&start, |(a, _)| *a) {
        Ok(i) => i,
        Err(i) => {
            slices.insert(i, (start, Vec::new()));
            i
        }
    }
}

fn grow_index(index: &mut Vec<u64>) {
    let cap = index.len() * 2;
    let mask = cap - 1;
    let mut next = vec![EMPTY_SLOT; cap];
    for &e in index.iter() {
        if e != EMPTY_SLOT {
            let mut slot = (e >> 32) as usize & mask;
            while next[slot] != EMPTY_SLOT {
                slot = (slot + 1) & mask;
            }
            next[slot] = e;
        }
    }
    *index = next;
}

