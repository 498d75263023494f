//! Session windows: per key, a list of open sessions sorted by start (pairwise apart: a
//! session ends before the next one starts). A record's window `[ts, ts + gap)` merges every
//! session it touches or overlaps; the earliest of them (by start) absorbs the others. Fired
//! and merged-away sessions are compacted away once they outnumber the open ones.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::acc::{pick, Accs, LATE};
use super::kernel::{late_rows_of, Pushed, WindowKernel};
use super::key_table::{KeyData, KeyRef, KeyTable, EMPTY_SLOT};
use super::{build_output, WindowAggSpec};
use crate::batch::{bit_get, BatchRef, ColumnRef, DataType, RecordBatch, SchemaRef, ValuesRef};
use crate::error::{Error, Result};
use crate::keys::encode_key;
use crate::memory::{MemoryPoolRef, Reservation};

const NONE: u32 = u32::MAX;
/// `fwd` of an open session; otherwise the session it was merged into, or FIRED.
const ALIVE: u32 = u32::MAX;
const FIRED: u32 = u32::MAX - 1;

pub(crate) enum Gap {
    Fixed(i64),
    /// An i64 column of the input.
    Field(usize),
}

/// One session: [start, end), first arrival, key id, next session of the key, and `fwd`.
#[derive(Clone, Copy)]
struct Session {
    start: i64,
    end: i64,
    seq: i64,
    kid: u32,
    next: u32,
    fwd: u32,
    /// Fired with its current contents and kept for allowed lateness.
    done: bool,
    /// Has an entry in `heap` (so reopening a fired session never queues it twice).
    queued: bool,
}

pub(crate) struct SessionAggregator {
    spec: WindowAggSpec,
    output: SchemaRef,
    gap: Gap,
    keys: KeyTable,
    sessions: Vec<Session>,
    accs: Accs,
    /// (end, session) per open session, possibly with an older (smaller) end: checked when popped.
    heap: BinaryHeap<Reverse<(i64, u32)>>,
    /// Allowed lateness: (end, session) per fired session kept until the watermark passes
    /// end - 1 + lateness; stale when the session changed since.
    lateness: i64,
    cleanup: BinaryHeap<Reverse<(i64, u32)>>,
    live: usize,
    watermark: i64,
    late_dropped: u64,
    seq_base: i64,
    gids: Vec<u32>,
    /// Rows of the last pushed batch (the prefix of `gids` that is valid).
    last_len: usize,
    reservation: Reservation,
}

impl SessionAggregator {
    pub fn new(spec: WindowAggSpec, output: SchemaRef, gap: Gap, pool: MemoryPoolRef) -> Result<SessionAggregator> {
        let key_types: Vec<(usize, DataType)> = spec.key_fields.iter().map(|&k| (k, spec.input.fields[k].data_type)).collect();
        let accs = Accs::new(&spec.aggs, &spec.input, false)?;
        Ok(SessionAggregator {
            spec,
            output,
            gap,
            keys: KeyTable::new(key_types),
            sessions: vec![],
            accs,
            heap: BinaryHeap::new(),
            lateness: 0,
            cleanup: BinaryHeap::new(),
            live: 0,
            watermark: i64::MIN,
            late_dropped: 0,
            seq_base: 0,
            gids: vec![],
            last_len: 0,
            reservation: Reservation::new(pool, "session window aggregation"),
        })
    }

    fn account(&mut self) -> Result<()> {
        let bytes = self.keys.bytes()
            + self.sessions.capacity() * std::mem::size_of::<Session>()
            + self.heap.capacity() * 16
            + self.accs.bytes();
        self.reservation.resize(bytes as u64)
    }

    fn drop_watermark(&self) -> i64 {
        super::drop_watermark(self.watermark, self.lateness)
    }

    /// Assigns every row to a session; returns whether any sessions merged.
    fn assign(&mut self, ts: &[i64], gaps: Option<&[i64]>, mut key_of: impl FnMut(&mut Vec<u8>, usize) -> KeyRef) -> bool {
        let (fire_wm, wm) = (self.watermark, self.drop_watermark());
        let fixed = match self.gap {
            Gap::Fixed(g) => g,
            Gap::Field(_) => 0,
        };
        let mut merged = false;
        let mut scratch = match &mut self.keys.data {
            KeyData::Bytes { scratch, .. } => std::mem::take(scratch),
            KeyData::Int { .. } => Vec::new(),
        };
        for i in 0..self.gids.len() {
            let t = ts[i];
            let gap = gaps.map_or(fixed, |g| g[i]);
            let w_end = t.saturating_add(gap);
            let key = key_of(&mut scratch, i);
            let (h, found) = self.keys.find(&key, &scratch);
            let g = match found {
                None => {
                    if w_end.saturating_sub(1) <= wm {
                        self.late_dropped += 1;
                        continue;
                    }
                    let kid = self.keys.insert(h, &key, &scratch);
                    self.keys.live += 1;
                    self.new_session(kid, NONE, NONE, t, w_end, self.seq_base + i as i64)
                }
                Some(kid) => {
                    let head = self.keys.entries[kid as usize].head;
                    // Skip the sessions that end before the window starts.
                    let mut prev = NONE;
                    let mut cur = head;
                    while cur != NONE && self.sessions[cur as usize].end < t {
                        prev = cur;
                        cur = self.sessions[cur as usize].next;
                    }
                    if cur != NONE && self.sessions[cur as usize].start <= w_end {
                        // Touches or overlaps `cur`: extend it, absorbing the later sessions the
                        // merged window now reaches.
                        let c = cur as usize;
                        let mut s = self.sessions[c];
                        s.start = s.start.min(t);
                        s.end = s.end.max(w_end);
                        while s.next != NONE && self.sessions[s.next as usize].start <= s.end {
                            let x = s.next as usize;
                            let xs = self.sessions[x];
                            s.end = s.end.max(xs.end);
                            s.seq = s.seq.min(xs.seq);
                            s.next = xs.next;
                            self.accs.merge_slot(c, x);
                            self.sessions[x].fwd = cur;
                            self.live -= 1;
                            merged = true;
                        }
                        if s.done && s.end.saturating_sub(1) > fire_wm {
                            // A fired session grew past the watermark: it fires again on time.
                            s.done = false;
                            if !s.queued {
                                s.queued = true;
                                self.heap.push(Reverse((s.end, cur)));
                            }
                        }
                        self.sessions[c] = s;
                        cur
                    } else {
                        if w_end.saturating_sub(1) <= wm {
                            self.late_dropped += 1;
                            continue;
                        }
                        if head == NONE {
                            self.keys.live += 1;
                        }
                        self.new_session(kid, prev, cur, t, w_end, self.seq_base + i as i64)
                    }
                }
            };
            self.accs.rows[g as usize] += 1;
            self.gids[i] = g;
        }
        if let KeyData::Bytes { scratch: s, .. } = &mut self.keys.data {
            *s = scratch;
        }
        merged
    }

    /// A new session for key `kid` between sessions `prev` and `next` of its list.
    fn new_session(&mut self, kid: u32, prev: u32, next: u32, start: i64, end: i64, seq: i64) -> u32 {
        let g = self.sessions.len() as u32;
        self.sessions.push(Session { start, end, seq, kid, next, fwd: ALIVE, done: false, queued: true });
        // Sized now: a later row of the batch may merge this session into another.
        self.accs.grow(g as usize + 1);
        if prev == NONE {
            self.keys.entries[kid as usize].head = g;
        } else {
            self.sessions[prev as usize].next = g;
        }
        self.heap.push(Reverse((end, g)));
        self.live += 1;
        g
    }

    /// Removes the fired sessions whose allowed lateness has passed.
    fn clean_up(&mut self) -> Result<()> {
        let wm = self.drop_watermark();
        while let Some(&Reverse((e, g))) = self.cleanup.peek() {
            if e.saturating_sub(1) > wm {
                break;
            }
            self.cleanup.pop();
            let s = &self.sessions[g as usize];
            if s.fwd == ALIVE && s.done && s.end == e {
                self.remove(g);
            }
        }
        self.maybe_compact();
        self.account()
    }

    /// Unlinks session `g` from its key's list.
    fn remove(&mut self, g: u32) {
        let gi = g as usize;
        self.sessions[gi].fwd = FIRED;
        self.live -= 1;
        let kid = self.sessions[gi].kid as usize;
        let next = self.sessions[gi].next;
        let mut prev = NONE;
        let mut cur = self.keys.entries[kid].head;
        while cur != g {
            prev = cur;
            cur = self.sessions[cur as usize].next;
        }
        if prev == NONE {
            self.keys.entries[kid].head = next;
            if next == NONE {
                self.keys.live -= 1;
            }
        } else {
            self.sessions[prev as usize].next = next;
        }
    }

    /// Drops fired and merged-away sessions once they outnumber the open ones, and keys
    /// without sessions likewise.
    fn maybe_compact(&mut self) {
        let total = self.sessions.len();
        let dead = total - self.live;
        if self.live == 0 && total > 0 {
            self.sessions.clear();
            self.accs.clear();
            self.heap.clear();
            self.cleanup.clear();
        } else if dead > self.live && dead >= 1024 {
            let keep: Vec<usize> = (0..total).filter(|&g| self.sessions[g].fwd == ALIVE).collect();
            let mut remap = vec![NONE; total];
            for (new, &g) in keep.iter().enumerate() {
                remap[g] = new as u32;
            }
            let re = |x: u32| if x == NONE { NONE } else { remap[x as usize] };
            pick(&mut self.sessions, &keep);
            for s in self.sessions.iter_mut() {
                s.next = re(s.next);
            }
            for e in self.keys.entries.iter_mut() {
                e.head = re(e.head);
            }
            self.accs.compact(&keep);
            for s in self.sessions.iter_mut() {
                s.queued = !s.done;
            }
            self.heap = self.sessions.iter().enumerate().filter(|(_, s)| !s.done).map(|(g, s)| Reverse((s.end, g as u32))).collect();
            self.cleanup = self.sessions.iter().enumerate().filter(|(_, s)| s.done).map(|(g, s)| Reverse((s.end, g as u32))).collect();
        }
        let keys_dead = self.keys.len() - self.keys.live;
        if self.keys.live == 0 && self.keys.len() > 0 {
            if let KeyData::Bytes { arena, spans, .. } = &mut self.keys.data {
                arena.clear();
                spans.clear();
            }
            self.keys.entries.clear();
            self.keys.index.fill(EMPTY_SLOT);
        } else if keys_dead > self.keys.live && keys_dead >= 1024 {
            let remap = self.keys.compact();
            for s in self.sessions.iter_mut() {
                // Dead sessions may name dropped keys; they are never read again.
                let r = remap[s.kid as usize];
                s.kid = if r == NONE { 0 } else { r };
            }
        }
    }
}

impl WindowKernel for SessionAggregator {
    fn set_lateness(&mut self, ms: i64) -> Result<()> {
        self.lateness = ms;
        Ok(())
    }

    fn push(&mut self, batch: &BatchRef<'_>, ts: &[i64]) -> Result<Pushed> {
        let n = batch.len;
        // Check every gap before touching any state.
        let gaps: Option<&[i64]> = match self.gap {
            Gap::Fixed(_) => None,
            Gap::Field(f) => {
                let c = batch.columns[f];
                let ValuesRef::I64(v) = c.values else {
                    return Err(Error::data("the session gap column must hold i64 values"));
                };
                for (i, &g) in v[..n].iter().enumerate() {
                    if !c.is_valid(i) || g <= 0 {
                        let shown = if c.is_valid(i) { format!("{g} ms") } else { "null".to_string() };
                        return Err(Error::data(format!(
                            "the session gap of row {i} of the batch is {shown}; a session gap must be above 0 ms"
                        )));
                    }
                }
                Some(&v[..n])
            }
        };
        self.gids.clear();
        self.gids.resize(n, LATE);
        self.last_len = n;
        let before = self.late_dropped;
        let merged = match &self.keys.data {
            KeyData::Int { col, .. } => {
                let col = *col;
                let c = batch.columns[col];
                match c.values {
                    ValuesRef::I32(v) => self.assign(ts, gaps, |_, i| {
                        let ok = c.validity.is_none_or(|b| bit_get(b, i));
                        KeyRef::Int(if ok { v[i] as i64 } else { 0 }, ok)
                    }),
                    ValuesRef::I64(v) | ValuesRef::Timestamp(v) => self.assign(ts, gaps, |_, i| {
                        let ok = c.validity.is_none_or(|b| bit_get(b, i));
                        KeyRef::Int(if ok { v[i] } else { 0 }, ok)
                    }),
                    _ => unreachable!("the int key path is chosen for integer columns only"),
                }
            }
            KeyData::Bytes { cols, .. } => {
                let key_cols: Vec<ColumnRef<'_>> = cols.iter().map(|&(c, _)| batch.columns[c]).collect();
                self.assign(ts, gaps, |scratch, i| {
                    scratch.clear();
                    encode_key(&key_cols, i, scratch);
                    KeyRef::Bytes
                })
            }
        };
        if merged {
            // Rows assigned to a session that a later row merged away go to its survivor.
            for g in self.gids.iter_mut() {
                if *g != LATE {
                    while self.sessions[*g as usize].fwd != ALIVE {
                        *g = self.sessions[*g as usize].fwd;
                    }
                }
            }
        }
        self.accs.update(batch, &self.gids[..n], self.seq_base);
        self.seq_base += n as i64;
        self.maybe_compact();
        self.account()?;
        Ok(Pushed { late: self.late_dropped - before, fired: None })
    }

    /// Rows (ascending) whose own window is complete: within the allowed lateness they may
    /// reach a fired session, which fires again, so they are pushed one at a time.
    fn refire_candidates(&self, batch: &BatchRef<'_>, ts: &[i64]) -> Vec<usize> {
        let wm = self.watermark;
        if self.lateness == 0 || wm == i64::MIN {
            return vec![];
        }
        let gaps: Option<&[i64]> = match self.gap {
            Gap::Fixed(_) => None,
            Gap::Field(f) => match batch.columns[f].values {
                ValuesRef::I64(v) => Some(v),
                _ => None,
            },
        };
        let fixed = if let Gap::Fixed(g) = self.gap { g } else { 1 };
        (0..batch.len).filter(|&i| ts[i].saturating_add(gaps.map_or(fixed, |g| g[i].max(1))).saturating_sub(1) <= wm).collect()
    }

    /// After a one-row push: the session the row landed in, when it is complete (it fires
    /// again with the row), or None.
    fn refire_last_row(&mut self) -> Result<Option<RecordBatch>> {
        let g = self.gids[0];
        if self.last_len != 1 || g == LATE {
            return Ok(None);
        }
        let s = self.sessions[g as usize];
        if s.end.saturating_sub(1) > self.watermark {
            return Ok(None);
        }
        let out = build_output(&self.output, self.keys.emit([s.kid].into_iter()), vec![s.start], vec![s.end], &self.accs, &self.spec.aggs, &[g])?;
        self.sessions[g as usize].done = true;
        self.cleanup.push(Reverse((s.end, g)));
        Ok(Some(out))
    }

    fn late_rows(&self) -> Vec<u32> {
        late_rows_of(&self.gids[..self.last_len])
    }

    /// Advances the watermark (never backwards) and returns the sessions it completes, by
    /// end, then start, then first arrival.
    fn advance_watermark(&mut self, watermark: i64) -> Result<Option<RecordBatch>> {
        if watermark <= self.watermark {
            return Ok(None);
        }
        self.watermark = watermark;
        let mut due: Vec<u32> = Vec::new();
        while let Some(&Reverse((e, g))) = self.heap.peek() {
            if e.saturating_sub(1) > watermark {
                break;
            }
            self.heap.pop();
            let sess = &mut self.sessions[g as usize];
            sess.queued = false;
            if sess.fwd != ALIVE || sess.done {
                continue;
            }
            if sess.end != e {
                sess.queued = true;
                self.heap.push(Reverse((sess.end, g)));
                continue;
            }
            due.push(g);
        }
        if due.is_empty() {
            self.clean_up()?;
            return Ok(None);
        }
        let ss = &self.sessions;
        due.sort_unstable_by_key(|&g| (ss[g as usize].end, ss[g as usize].start, ss[g as usize].seq));
        let starts = due.iter().map(|&g| ss[g as usize].start).collect();
        let ends = due.iter().map(|&g| ss[g as usize].end).collect();
        let out = build_output(
            &self.output,
            self.keys.emit(due.iter().map(|&g| ss[g as usize].kid)),
            starts,
            ends,
            &self.accs,
            &self.spec.aggs,
            &due,
        );
        let out = match out {
            Ok(b) => b,
            Err(e) => {
                // Leave the sessions as they were (their heap entries back).
                for &g in &due {
                    self.sessions[g as usize].queued = true;
                    self.heap.push(Reverse((self.sessions[g as usize].end, g)));
                }
                return Err(e);
            }
        };
        for &g in &due {
            if self.lateness == 0 {
                self.remove(g);
            } else {
                self.sessions[g as usize].done = true;
                self.cleanup.push(Reverse((self.sessions[g as usize].end, g)));
            }
        }
        self.clean_up()?;
        Ok(Some(out))
    }

    fn late_dropped(&self) -> u64 {
        self.late_dropped
    }

    fn watermark(&self) -> i64 {
        self.watermark
    }

    /// The earliest start of a session in state (open, or fired and kept for allowed
    /// lateness), or None. Checkpoints keep the input from there on. O(sessions): called per
    /// checkpoint, not per batch.
    fn earliest_start(&self) -> Option<i64> {
        self.sessions.iter().filter(|s| s.fwd == ALIVE).map(|s| s.start).min()
    }

    fn group_count(&self) -> usize {
        self.live
    }

    fn memory_held(&self) -> u64 {
        self.reservation.held()
    }
}
