//! Count windows per key (Flink's `countWindow(size[, slide])`): every `slide` records of a
//! key, one result over that key's last `size` records (fewer while the key has seen fewer).
//! Time plays no part; a window fires inside `push`, at the record that completes it.
//!
//! Records are aggregated into slices of `gcd(size, slide)` consecutive records of a key; a
//! window merges its `size / slice` most recent slices, oldest first. A slice is complete
//! before any window reads it, so the column-at-a-time update of a whole batch followed by
//! the firings in row order gives the per-record result. Records of a key after its last
//! firing are not emitted at the end of input (as in Flink, where a count trigger never fires
//! on a partial window); `unfired_rows` counts them for the job result.

use super::acc::{Accs, LATE};
use super::kernel::{Pushed, WindowKernel};
use super::key_table::{KeyData, KeyRef, KeyTable};
use super::WindowAggSpec;
use crate::batch::{bit_get, BatchRef, ColumnRef, RecordBatch, SchemaRef, ValuesRef};
use crate::error::{Error, Result};
use crate::keys::encode_key;
use crate::memory::{MemoryPoolRef, Reservation};

const NONE: u32 = u32::MAX;

pub(crate) struct CountAggregator {
    spec: WindowAggSpec,
    output: SchemaRef,
    slide: u64,
    slice: u64,
    /// Slices per window (`size / slice`).
    per_window: usize,
    keys: KeyTable,
    /// Records per key so far.
    count: Vec<u64>,
    /// Completed slices per key: `per_window` slots, slice `j` in slot `j % per_window`.
    ring: Vec<u32>,
    accs: Accs,
    /// Merges of the fired windows (sliding count windows).
    scratch: Accs,
    /// Groups (slices) in use: the current slice or a ring slot of some key.
    live: usize,
    seq_base: i64,
    gids: Vec<u32>,
    /// Windows fired by the last batch: key id, then `(offset, len)` into `fired_groups`.
    fired: Vec<(u32, u32, u32)>,
    fired_groups: Vec<u32>,
    reservation: Reservation,
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

impl CountAggregator {
    pub fn new(spec: WindowAggSpec, output: SchemaRef, size: u64, slide: u64, pool: MemoryPoolRef) -> Result<CountAggregator> {
        let key_types = spec.key_fields.iter().map(|&k| (k, spec.input.fields[k].data_type)).collect();
        let slice = gcd(size, slide);
        let accs = Accs::new(&spec.aggs, &spec.input, false)?;
        let scratch = Accs::new(&spec.aggs, &spec.input, true)?;
        Ok(CountAggregator {
            spec,
            output,
            slide,
            slice,
            per_window: (size / slice) as usize,
            keys: KeyTable::new(key_types),
            count: vec![],
            ring: vec![],
            accs,
            scratch,
            live: 0,
            seq_base: 0,
            gids: vec![],
            fired: vec![],
            fired_groups: vec![],
            reservation: Reservation::new(pool, "count window aggregation"),
        })
    }

    fn account(&mut self) -> Result<()> {
        let bytes = self.keys.bytes() + self.count.capacity() * 8 + self.ring.capacity() * 4 + self.accs.bytes() + self.scratch.bytes();
        self.reservation.resize(bytes as u64)
    }

    fn assign(&mut self, n: usize, mut key_of: impl FnMut(&mut Vec<u8>, usize) -> KeyRef) {
        let mut scratch = match &mut self.keys.data {
            KeyData::Bytes { scratch, .. } => std::mem::take(scratch),
            KeyData::Int { .. } => Vec::new(),
        };
        let w = self.per_window;
        for i in 0..n {
            let key = key_of(&mut scratch, i);
            let kid = match self.keys.find(&key, &scratch) {
                (_, Some(kid)) => kid as usize,
                (h, None) => {
                    let kid = self.keys.insert(h, &key, &scratch) as usize;
                    self.count.push(0);
                    if w > 1 {
                        self.ring.resize(self.ring.len() + w, NONE);
                    }
                    kid
                }
            };
            // The key's current slice is its table entry's `head`.
            let mut g = self.keys.entries[kid].head;
            if g == NONE {
                g = self.accs.rows.len() as u32;
                self.accs.rows.push(0);
                self.keys.entries[kid].head = g;
                self.live += 1;
            }
            self.accs.rows[g as usize] += 1;
            self.gids[i] = g;
            let c = self.count[kid] + 1;
            self.count[kid] = c;
            if !c.is_multiple_of(self.slice) {
                continue;
            }
            // The slice is complete.
            self.keys.entries[kid].head = NONE;
            let j = (c / self.slice - 1) as usize;
            if w > 1 {
                let slot = &mut self.ring[kid * w + j % w];
                if *slot != NONE {
                    self.live -= 1;
                }
                *slot = g;
            }
            if c.is_multiple_of(self.slide) {
                let from = self.fired_groups.len() as u32;
                if w == 1 {
                    self.fired_groups.push(g);
                } else {
                    let k = (j + 1).min(w);
                    for s in j + 1 - k..=j {
                        self.fired_groups.push(self.ring[kid * w + s % w]);
                    }
                }
                self.fired.push((kid as u32, from, self.fired_groups.len() as u32 - from));
            }
            if w == 1 {
                // Read by its firing only (or never, when slide > size and it ends between firings).
                self.live -= 1;
            }
        }
        if let KeyData::Bytes { scratch: s, .. } = &mut self.keys.data {
            *s = scratch;
        }
        self.accs.grow(self.accs.rows.len());
    }

    fn emit(&mut self) -> Result<RecordBatch> {
        let mut columns = self.keys.emit(self.fired.iter().map(|f| f.0));
        let slots: Vec<u32> = if self.per_window == 1 {
            self.fired_groups.clone()
        } else {
            // Merge each window's slices, oldest first, into a scratch slot per window.
            self.scratch.clear();
            self.scratch.grow(self.fired.len());
            let mut pairs = Vec::with_capacity(self.fired_groups.len());
            for (row, &(_, from, len)) in self.fired.iter().enumerate() {
                for &g in &self.fired_groups[from as usize..(from + len) as usize] {
                    pairs.push((row as u32, g));
                }
            }
            self.scratch.merge_pairs(&self.accs, &pairs);
            (0..self.fired.len() as u32).collect()
        };
        let accs = if self.per_window == 1 { &self.accs } else { &self.scratch };
        columns.extend(accs.emit(&self.spec.aggs, &slots)?);
        Ok(RecordBatch { schema: self.output.clone(), columns, len: self.fired.len(), event_time: None })
    }

    /// Drops the slots of slices no window will read again, once they are most of all.
    fn maybe_compact(&mut self) {
        let total = self.accs.rows.len();
        let dead = total - self.live;
        if self.live == 0 {
            if total > 0 {
                self.accs.clear();
            }
            return;
        }
        if dead <= self.live || dead < 1024 {
            return;
        }
        let mut remap = vec![NONE; total];
        for &g in self.keys.entries.iter().map(|e| &e.head).chain(self.ring.iter()) {
            if g != NONE {
                remap[g as usize] = 0;
            }
        }
        let mut keep = Vec::with_capacity(self.live);
        for (g, r) in remap.iter_mut().enumerate() {
            if *r == 0 {
                *r = keep.len() as u32;
                keep.push(g);
            }
        }
        for g in self.keys.entries.iter_mut().map(|e| &mut e.head).chain(self.ring.iter_mut()) {
            if *g != NONE {
                *g = remap[*g as usize];
            }
        }
        self.accs.compact(&keep);
    }
}

impl WindowKernel for CountAggregator {
    fn uses_event_time(&self) -> bool {
        false
    }

    fn set_lateness(&mut self, ms: i64) -> Result<()> {
        if ms == 0 {
            return Ok(());
        }
        Err(Error::config("count windows never end, so allowed lateness does not apply; remove it"))
    }

    /// Adds a batch and returns the windows it completed (in the order of the records that
    /// completed them), or None.
    fn push(&mut self, batch: &BatchRef<'_>, _ts: &[i64]) -> Result<Pushed> {
        let n = batch.len;
        self.gids.clear();
        self.gids.resize(n, LATE);
        self.fired.clear();
        self.fired_groups.clear();
        match &self.keys.data {
            KeyData::Int { col, .. } => {
                let c = batch.columns[*col];
                match c.values {
                    ValuesRef::I32(v) => self.assign(n, |_, i| {
                        let ok = c.validity.is_none_or(|b| bit_get(b, i));
                        KeyRef::Int(if ok { v[i] as i64 } else { 0 }, ok)
                    }),
                    ValuesRef::I64(v) | ValuesRef::Timestamp(v) => self.assign(n, |_, i| {
                        let ok = c.validity.is_none_or(|b| bit_get(b, i));
                        KeyRef::Int(if ok { v[i] } else { 0 }, ok)
                    }),
                    _ => unreachable!("the int key path is chosen for integer columns only"),
                }
            }
            KeyData::Bytes { cols, .. } => {
                let key_cols: Vec<ColumnRef<'_>> = cols.iter().map(|&(c, _)| batch.columns[c]).collect();
                self.assign(n, |scratch, i| {
                    scratch.clear();
                    encode_key(&key_cols, i, scratch);
                    KeyRef::Bytes
                })
            }
        }
        self.accs.update(batch, &self.gids[..n], self.seq_base);
        self.seq_base += n as i64;
        let out = if self.fired.is_empty() { None } else { Some(self.emit()?) };
        self.maybe_compact();
        self.account()?;
        Ok(Pushed { late: 0, fired: out })
    }

    /// Records of every key since its last firing (never emitted if no more records come).
    fn unfired_rows(&self) -> u64 {
        self.count.iter().map(|&c| c % self.slide).sum()
    }

    fn group_count(&self) -> usize {
        self.live
    }

    fn memory_held(&self) -> u64 {
        self.reservation.held()
    }
}
