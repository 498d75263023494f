//! Exchange segments: the partitioner writes each row straight into its target's current
//! segment (a fixed-size block of the run's shared segment pool) in the layout the consumer
//! reads in place. The layout is a pure function of the schema and the segment size, computed
//! word for word as `ts/batch/segment.ts` does (see there for the picture); the scatter puts
//! the same rows into the same segments as `ts/engine/ts/segments.ts`, which places them one
//! row at a time.

use crate::batch::{bit_get, BatchRef, ColumnRef, DataType, ValuesRef};
use crate::error::{Error, Result};
use crate::hash::subtask_for_key_group;
use crate::keys::hash_i64_key;
use crate::partition::{check_parallelism, key_groups};

/// Bytes reserved per row and utf8 column for its text.
pub const UTF8_BYTES_PER_ROW: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ColumnRegion {
    pub validity: usize,
    pub values: usize,
    /// utf8: offset and capacity of the text (0 and 0 otherwise).
    pub data: usize,
    pub data_bytes: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentLayout {
    pub segment_bytes: usize,
    pub capacity: usize,
    pub header_bytes: usize,
    pub event_time: usize,
    pub columns: Vec<ColumnRegion>,
}

fn align8(n: usize) -> usize {
    (n + 7) & !7
}
fn bitmap(n: usize) -> usize {
    n.div_ceil(8)
}

fn regions(types: &[DataType], segment_bytes: usize, c: usize) -> (SegmentLayout, usize) {
    let header_bytes = align8(8 + types.len());
    let mut at = header_bytes;
    let mut take = |bytes: usize| {
        let o = at;
        at += align8(bytes);
        o
    };
    let event_time = take(8 * c);
    let mut values = vec![0usize; types.len()];
    for (k, t) in types.iter().enumerate() {
        if matches!(t, DataType::I64 | DataType::Timestamp | DataType::F64) {
            values[k] = take(8 * c);
        }
    }
    for (k, t) in types.iter().enumerate() {
        match t {
            DataType::I32 => values[k] = take(4 * c),
            DataType::Utf8 => values[k] = take(4 * (c + 1)),
            _ => {}
        }
    }
    for (k, t) in types.iter().enumerate() {
        if *t == DataType::Bool {
            values[k] = take(bitmap(c));
        }
    }
    let validity: Vec<usize> = types.iter().map(|_| take(bitmap(c))).collect();
    let columns = types
        .iter()
        .enumerate()
        .map(|(k, t)| {
            if *t == DataType::Utf8 {
                let data_bytes = UTF8_BYTES_PER_ROW * c;
                ColumnRegion { validity: validity[k], values: values[k], data: take(data_bytes), data_bytes }
            } else {
                ColumnRegion { validity: validity[k], values: values[k], data: 0, data_bytes: 0 }
            }
        })
        .collect();
    (SegmentLayout { segment_bytes, capacity: c, header_bytes, event_time, columns }, at)
}

impl SegmentLayout {
    /// The layout of a schema (its column types) in segments of `segment_bytes`.
    pub fn new(types: &[DataType], segment_bytes: usize) -> Result<SegmentLayout> {
        let per_row = 8.0
            + types
                .iter()
                .map(|t| {
                    0.125
                        + match t {
                            DataType::I32 => 4.0,
                            DataType::Bool => 0.125,
                            DataType::Utf8 => 4.0 + UTF8_BYTES_PER_ROW as f64,
                            _ => 8.0,
                        }
                })
                .sum::<f64>();
        // The largest capacity that fits (the regions grow with it): a binary search below the guess.
        let (mut lo, mut hi) = (0usize, (segment_bytes as f64 / per_row).ceil() as usize);
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            if regions(types, segment_bytes, mid).1 <= segment_bytes {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        let c = lo;
        if c < 1 {
            return Err(Error::config(format!(
                "an exchange segment of {segment_bytes} bytes cannot hold one row of this schema; raise the segment size"
            )));
        }
        Ok(regions(types, segment_bytes, c).0)
    }
}

/// Where rows go: by key group of the key fields (Flink's `keyGroup * n / maxParallelism`, the
/// same assignment as `partition::hash_routing`), to given targets, or all to target 0.
pub enum SegmentRoute<'a> {
    Hash { key_fields: &'a [usize], max_parallelism: u32 },
    Each(&'a [u32]),
    Single,
}

/// A writer's segments (see `Engine.scatterToSegments`): `cur[t]` the one being filled for target
/// t (-1: none), `spares[0]` free ones following it (taken from the end), `full[0]` the
/// (target, segment) pairs that filled, following it.
pub struct SegmentIo<'a> {
    pub cur: &'a mut [i32],
    pub spares: &'a mut [i32],
    pub full: &'a mut [i32],
}

fn rd_u32(m: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([m[at], m[at + 1], m[at + 2], m[at + 3]])
}
fn wr_u32(m: &mut [u8], at: usize, v: u32) {
    m[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// The header's flags: the event time is present; it is column `flags >> 8`'s values (not written
/// again in the event-time region).
const ET_PRESENT: u32 = 1;
const ET_IS_COLUMN: u32 = 2;

/// Where a batch's event time comes from: none, its own array, or the same memory as an i64 or
/// timestamp column's values (a source's timestamp field), which the segment then keeps once.
#[derive(Clone, Copy, PartialEq, Eq)]
enum EventTime {
    None,
    Own,
    Column(usize),
}

impl EventTime {
    fn of(batch: &BatchRef<'_>) -> EventTime {
        let Some(et) = batch.event_time else { return EventTime::None };
        let same = batch.columns.iter().position(|c| matches!(c.values, ValuesRef::I64(v) | ValuesRef::Timestamp(v) if std::ptr::eq(v.as_ptr(), et.as_ptr())));
        same.map_or(EventTime::Own, EventTime::Column)
    }

    fn flags(self) -> u32 {
        match self {
            EventTime::None => 0,
            EventTime::Own => ET_PRESENT,
            EventTime::Column(k) => ET_PRESENT | ET_IS_COLUMN | ((k as u32) << 8),
        }
    }
}

fn init(mem: &mut [u8], base: usize, layout: &SegmentLayout, types: &[DataType], event_time: EventTime) {
    wr_u32(mem, base, 0);
    wr_u32(mem, base + 4, event_time.flags());
    mem[base + 8..base + 8 + types.len()].fill(0);
    let bits = bitmap(layout.capacity);
    for (r, t) in layout.columns.iter().zip(types) {
        mem[base + r.validity..base + r.validity + bits].fill(0);
        match t {
            DataType::Bool => mem[base + r.values..base + r.values + bits].fill(0),
            DataType::Utf8 => wr_u32(mem, base + r.values, 0),
            _ => {}
        }
    }
}

/// Rows of one call that went to one segment: target t's rows a..b of this call (counted in
/// row order) at positions `p0`.. of segment `seg`.
struct Run {
    t: usize,
    seg: usize,
    p0: usize,
    a: usize,
    b: usize,
}

/// Where a target needs a segment from the spares during a call: at row `row` (its `k`-th row
/// of the call), either because it has none (`roll` false) or its current one is full (`roll`
/// true); or (`too_big`) a row whose text does not fit even an empty segment.
#[derive(Clone, Copy)]
struct Need {
    row: usize,
    t: usize,
    k: usize,
    roll: bool,
    too_big: bool,
}

fn check_segment(s: i32, segments: usize) -> Result<usize> {
    if s < 0 || s as usize >= segments {
        return Err(Error::config(format!("segment {s} is not in a pool of {segments}")));
    }
    Ok(s as usize)
}

/// Writes rows `from`.. of `batch` into the segments of `pool`; returns the row to go on from
/// (where the spares ran out, or the batch's length).
///
/// Three steps, none of them a per-row state machine: every row's target (hashing the key in a
/// loop of its own); the rows grouped by target in row order (a counting sort); per target,
/// where its rows need a new segment (arithmetic without text columns, a walk over its rows'
/// text lengths with them), those needs served from the spares in row order (where they run
/// out, the call stops at that row for every target, as a row-by-row placement would), and
/// then per run of rows that went to one segment a copy column by column into contiguous
/// positions (a gather), so each region of a segment is written in order. The segments hold
/// the same rows as `ts/engine/ts/segments.ts` places one by one.
pub fn scatter_to_segments(batch: &BatchRef<'_>, route: SegmentRoute<'_>, pool: &mut [u8], layout: &SegmentLayout, io: SegmentIo<'_>, from: usize) -> Result<usize> {
    let types: Vec<DataType> = batch.columns.iter().map(|c| c.data_type()).collect();
    if layout.columns.len() != types.len() {
        return Err(Error::config(format!("a segment layout of {} columns for a batch of {}", layout.columns.len(), types.len())));
    }
    let n = io.cur.len();
    let from = from.min(batch.len);
    let rows = batch.len - from;
    let mut to = vec![0u32; rows];
    match route {
        SegmentRoute::Single => {}
        SegmentRoute::Each(ts) => {
            if ts.len() < batch.len {
                return Err(Error::config(format!("{} targets for a batch of {} rows", ts.len(), batch.len)));
            }
            to.copy_from_slice(&ts[from..batch.len]);
        }
        SegmentRoute::Hash { key_fields, max_parallelism } => {
            check_parallelism(n as u32, max_parallelism)?;
            // The subtask of every key group, looked up instead of divided per row (where the
            // power-of-two path below does not compute it).
            let table = || -> Vec<u32> { (0..max_parallelism).map(|kg| subtask_for_key_group(kg, n as u32, max_parallelism)).collect() };
            let single_i64 = match key_fields {
                [k] => match batch.columns.get(*k) {
                    Some(ColumnRef { values: ValuesRef::I64(v) | ValuesRef::Timestamp(v), validity: None }) => Some(*v),
                    _ => None,
                },
                _ => None,
            };
            let mask = max_parallelism - 1;
            match (single_i64, max_parallelism.is_power_of_two()) {
                // The common key (one non-null integer column): hashed here, no key bytes built;
                // the subtask computed (`kg * n / maxParallelism`, a shift) rather than looked up,
                // so the loop has no memory access but the keys and vectorises.
                (Some(v), true) => {
                    subtasks_of_i64_keys(&v[from..batch.len], &mut to, mask, n as u32, max_parallelism.trailing_zeros());
                }
                (Some(v), false) => {
                    let table = table();
                    for (d, &k) in to.iter_mut().zip(&v[from..batch.len]) {
                        *d = table[(hash_i64_key(k) % max_parallelism) as usize];
                    }
                }
                (None, _) => {
                    let groups = key_groups(batch, key_fields, max_parallelism)?;
                    let table = table();
                    for (d, &g) in to.iter_mut().zip(&groups[from..batch.len]) {
                        *d = table[g as usize];
                    }
                }
            }
        }
    }
    // The rows grouped by target, in row order (a counting sort): target t's k-th row of this
    // call is order[first[t] + k].
    // Checked first in a loop of its own (a maximum: it vectorises), so that counting needs no
    // test per row.
    if let Some(i) = (to.iter().copied().max().unwrap_or(0) as usize >= n).then(|| to.iter().position(|&t| t as usize >= n)).flatten() {
        let (r, t) = (from + i, to[i]);
        return Err(Error::config(format!("row {r} is sent to partition {t}, but there are only {n} (0 to {})", n.saturating_sub(1))));
    }
    let mut first = vec![0usize; n + 1];
    if n == 2 {
        // Targets 0 and 1: the second's rows are the sum (vectorised), not an increment through
        // memory per row.
        let second = to.iter().map(|&t| t as usize).sum::<usize>();
        first[1] = rows - second;
        first[2] = second;
    } else if n <= 8 {
        // A few targets: each one's rows counted by a compare over all of them (vectorised), not
        // an increment through memory per row, which waits on the last one of the same target
        // (a fifth of the scatter's time at four targets).
        for t in 0..n {
            let t32 = t as u32;
            first[t + 1] = to.iter().map(|&x| u32::from(x == t32)).sum::<u32>() as usize;
        }
    } else {
        for &t in &to {
            first[t as usize + 1] += 1;
        }
    }
    for t in 0..n {
        first[t + 1] += first[t];
    }
    let mut order = vec![0u32; rows];
    #[cfg(target_arch = "x86_64")]
    let grouped = n <= 8 && std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("popcnt");
    #[cfg(not(target_arch = "x86_64"))]
    let grouped = false;
    if grouped {
        // A few targets: each one's rows in a pass of their own, sixteen rows at a time (compare
        // the targets, compress the row numbers in a register), not a cursor per row.
        #[cfg(target_arch = "x86_64")]
        for t in 0..n {
            let region = &mut order[first[t]..first[t + 1]];
            // SAFETY: the CPU has AVX-512 F and POPCNT (just checked); `region` holds exactly
            // target t's rows (counted above), so every write is within it.
            let (mut i, mut at) = unsafe { rows_of_target_avx512(&to, t as u32, region, from) };
            while at < region.len() {
                if to[i] as usize == t {
                    region[at] = (from + i) as u32;
                    at += 1;
                }
                i += 1;
            }
        }
    } else if n == 2 {
        // Two targets (parallelism 2): both cursors in registers, chosen without a branch; the
        // general loop's cursor goes through memory, a store-to-load wait per row.
        let (mut a, mut b) = (0usize, first[1]);
        for (r, &t) in (from..).zip(&to) {
            let second = t as usize;
            order[if second == 0 { a } else { b }] = r as u32;
            a += 1 - second;
            b += second;
        }
    } else {
        let mut fill = first.clone();
        for (r, &t) in (from..).zip(&to) {
            order[fill[t as usize]] = r as u32;
            fill[t as usize] += 1;
        }
    }
    place(batch, &types, layout, pool, io, &first, &order, &to)
}

/// The row numbers (`from` + index into `to`) whose target is `t`, in order, into `out`, sixteen
/// at a time while sixteen more fit; returns how far it read `to` and how many it wrote.
///
/// # Safety
/// The CPU has AVX-512 F and POPCNT.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,popcnt")]
unsafe fn rows_of_target_avx512(to: &[u32], t: u32, out: &mut [u32], from: usize) -> (usize, usize) {
    use std::arch::x86_64::*;
    let want = _mm512_set1_epi32(t as i32);
    let step = _mm512_set1_epi32(16);
    let mut rows = _mm512_add_epi32(_mm512_set1_epi32(from as i32), _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    let (mut i, mut at) = (0, 0);
    while i + 16 <= to.len() && at + 16 <= out.len() {
        // SAFETY: i + 16 <= to.len() and at + 16 <= out.len(): both within their slices.
        unsafe {
            let k = _mm512_cmpeq_epi32_mask(_mm512_loadu_si512(to.as_ptr().add(i).cast()), want);
            _mm512_storeu_si512(out.as_mut_ptr().add(at).cast(), _mm512_maskz_compress_epi32(k, rows));
            at += k.count_ones() as usize;
        }
        rows = _mm512_add_epi32(rows, step);
        i += 16;
    }
    (i, at)
}

/// Each key's subtask (`kg * n / maxParallelism`, the key group `kg` from `hash_i64_key`), with
/// AVX2 where the CPU has it: eight keys at a time (the build targets baseline x86-64, whose
/// SSE2 has no 32-bit lane multiply, so the portable loop hashes one key at a time).
fn subtasks_of_i64_keys(keys: &[i64], to: &mut [u32], mask: u32, n: u32, shift: u32) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU was just found to have AVX2, the only requirement of
        // `avx2::subtasks_of_i64_keys`.
        let done = unsafe { avx2::subtasks_of_i64_keys(keys, to, mask, n, shift) };
        subtasks_of_i64_keys_scalar(&keys[done..], &mut to[done..], mask, n, shift);
        return;
    }
    subtasks_of_i64_keys_scalar(keys, to, mask, n, shift);
}

fn subtasks_of_i64_keys_scalar(keys: &[i64], to: &mut [u32], mask: u32, n: u32, shift: u32) {
    for (d, &k) in to.iter_mut().zip(keys) {
        *d = ((hash_i64_key(k) & mask) * n) >> shift;
    }
}

/// The subtasks of the first `keys.len() / 8 * 8` keys, eight at a time
/// (`keys::avx2::hash8`); returns how many it did.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use crate::keys::avx2::hash8;
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx2")]
    pub(super) fn subtasks_of_i64_keys(keys: &[i64], to: &mut [u32], mask: u32, n: u32, shift: u32) -> usize {
        let steps = keys.len().min(to.len()) / 8;
        let (vmask, vn) = (_mm256_set1_epi32(mask as i32), _mm256_set1_epi32(n as i32));
        let shift = _mm_cvtsi32_si128(shift as i32);
        for i in 0..steps {
            // SAFETY: keys[8i..8i + 8] and to[8i..8i + 8] are in bounds (i < steps); the loads
            // and the store are unaligned ones.
            let h = unsafe {
                let p = keys.as_ptr().add(8 * i) as *const __m256i;
                hash8(_mm256_loadu_si256(p), _mm256_loadu_si256(p.add(1)))
            };
            let sub = _mm256_srl_epi32(_mm256_mullo_epi32(_mm256_and_si256(h, vmask), vn), shift);
            // SAFETY: as above.
            unsafe { _mm256_storeu_si256(to.as_mut_ptr().add(8 * i) as *mut __m256i, sub) };
        }
        steps * 8
    }
}

/// Steps 3 and 4 of `scatter_to_segments`: the segments each target's rows (`order[first[t]..first[t + 1]]`; the batch's last `order.len()` rows in all) need, then the copies.
#[allow(clippy::too_many_arguments)]
fn place(batch: &BatchRef<'_>, types: &[DataType], layout: &SegmentLayout, pool: &mut [u8], io: SegmentIo<'_>, first: &[usize], order: &[u32], to: &[u32]) -> Result<usize> {
    let event_time = EventTime::of(batch);
    let n = io.cur.len();
    let seg = layout.segment_bytes;
    let segments = pool.len() / seg;
    let cap = layout.capacity;
    let utf8: Vec<usize> = (0..types.len()).filter(|&k| types[k] == DataType::Utf8).collect();
    let utf8_offsets: Vec<&[i32]> = utf8
        .iter()
        .map(|&k| match batch.columns[k].values {
            ValuesRef::Utf8 { offsets, .. } => offsets,
            _ => &[],
        })
        .collect();
    let utf8_bytes: Vec<usize> = utf8.iter().map(|&k| layout.columns[k].data_bytes).collect();
    // Per target: rows in its current segment (None: it has none).
    let mut held: Vec<Option<usize>> = vec![None; n];
    let mut needs: Vec<Need> = Vec::new();
    let mut used = vec![0usize; utf8.len()];
    // Every text of the rows placed here within the bytes reserved per row: a segment's text
    // region (that many bytes per row it holds) cannot fill before its rows do, so wherever a
    // target's current segment has room for its remaining rows at that size, the needs are at
    // fixed steps as without text, and the walk over the rows' lengths is not needed.
    let from = batch.len - order.len();
    let short = utf8_offsets.iter().all(|o| {
        let o = &o[from..];
        // Pairs by zip, not windows(2): this form vectorises.
        o[1..].iter().zip(o).map(|(b, a)| b - a).max().unwrap_or(0) as usize <= UTF8_BYTES_PER_ROW
    });
    for t in 0..n {
        let mine = &order[first[t]..first[t + 1]];
        if io.cur[t] >= 0 {
            let base = check_segment(io.cur[t], segments)? * seg;
            let r0 = rd_u32(pool, base) as usize;
            held[t] = Some(r0);
            for (j, &k) in utf8.iter().enumerate() {
                used[j] = rd_u32(pool, base + layout.columns[k].values + 4 * r0) as usize;
            }
        }
        if mine.is_empty() {
            continue;
        }
        let rows_limit = utf8.is_empty() || (short && held[t].is_none_or(|r0| (0..utf8.len()).all(|j| used[j] + UTF8_BYTES_PER_ROW * (cap - r0.min(cap)) <= utf8_bytes[j])));
        if rows_limit {
            // Only the row count limits a segment: the needs are at fixed steps.
            let mut k = match held[t] {
                Some(r0) => cap - r0.min(cap),
                None => 0,
            };
            let mut roll = held[t].is_some();
            while k < mine.len() {
                needs.push(Need { row: mine[k] as usize, t, k, roll, too_big: false });
                roll = true;
                k += cap;
            }
            continue;
        }
        // The walk over the rows' text lengths, its state in registers for up to four text
        // columns (q7's bids have three: its scatter 31.5 -> 21.5 ns a row in the `scatter`
        // example), in vectors for more.
        let held_t = held[t];
        match utf8.len() {
            1 => text_needs::<[usize; 1], [&[i32]; 1]>(&utf8_offsets, &utf8_bytes, &used, held_t, cap, t, mine, &mut needs),
            2 => text_needs::<[usize; 2], [&[i32]; 2]>(&utf8_offsets, &utf8_bytes, &used, held_t, cap, t, mine, &mut needs),
            3 => text_needs::<[usize; 3], [&[i32]; 3]>(&utf8_offsets, &utf8_bytes, &used, held_t, cap, t, mine, &mut needs),
            4 => text_needs::<[usize; 4], [&[i32]; 4]>(&utf8_offsets, &utf8_bytes, &used, held_t, cap, t, mine, &mut needs),
            _ => text_needs::<Vec<usize>, Vec<&[i32]>>(&utf8_offsets, &utf8_bytes, &used, held_t, cap, t, mine, &mut needs),
        }
    }
    // The needs in row order get the spares; where they run out (or a row is too big), the call ends.
    needs.sort_unstable_by_key(|x| x.row);
    let mut end = batch.len;
    // Per target: its segment now, where its open run began (its k) and at which position.
    let mut run_seg: Vec<Option<usize>> = (0..n).map(|t| if io.cur[t] >= 0 { Some(io.cur[t] as usize) } else { None }).collect();
    let mut run_a = vec![0usize; n];
    let mut run_p0: Vec<usize> = held.iter().map(|h| h.unwrap_or(0)).collect();
    let mut runs: Vec<Run> = Vec::with_capacity(n + needs.len());
    let mut stop_k: Vec<usize> = (0..n).map(|t| first[t + 1] - first[t]).collect();
    for need in &needs {
        let t = need.t;
        if need.too_big {
            let r = need.row;
            let bytes: usize = utf8_offsets.iter().map(|o| (o[r + 1] - o[r]) as usize).sum();
            return Err(Error::data(format!(
                "row {r} of the batch ({bytes} bytes of text) does not fit an exchange segment of {seg} bytes ({} bytes per text column); raise the exchange segment size",
                UTF8_BYTES_PER_ROW * cap
            )));
        }
        if need.roll {
            let s = run_seg[t].expect("a full segment");
            if need.k > run_a[t] {
                runs.push(Run { t, seg: s, p0: run_p0[t], a: run_a[t], b: need.k });
            }
            wr_u32(pool, s * seg, (run_p0[t] + need.k - run_a[t]) as u32);
            let f = io.full[0] as usize;
            io.full[1 + 2 * f] = t as i32;
            io.full[2 + 2 * f] = s as i32;
            io.full[0] += 1;
            io.cur[t] = -1;
            run_seg[t] = None;
        }
        let left = io.spares[0];
        if left <= 0 {
            end = need.row;
            break;
        }
        let s = check_segment(io.spares[left as usize], segments)?;
        io.spares[0] = left - 1;
        io.cur[t] = s as i32;
        init(pool, s * seg, layout, types, event_time);
        run_seg[t] = Some(s);
        run_a[t] = need.k;
        run_p0[t] = 0;
    }
    for t in 0..n {
        // Rows at or past the end stay for the next call.
        let mine = &order[first[t]..first[t + 1]];
        if end < batch.len {
            stop_k[t] = mine.partition_point(|&r| (r as usize) < end);
        }
        if let Some(s) = run_seg[t] {
            let b = stop_k[t].max(run_a[t]);
            if b > run_a[t] {
                runs.push(Run { t, seg: s, p0: run_p0[t], a: run_a[t], b });
            }
            wr_u32(pool, s * seg, (run_p0[t] + b - run_a[t]) as u32);
        }
    }
    let targets = Targets { to, from };
    for run in &runs {
        copy_run(batch, event_time, layout, pool, run, &order[first[run.t] + run.a..first[run.t] + run.b], targets);
    }
    Ok(end)
}

/// Where target `t`'s rows `mine` (its k-th row of the call is `mine[k]`) need a segment when
/// text limits how many fit: a walk over their lengths in each text column (`offsets`, whose
/// regions hold `rooms` bytes) from a current segment holding `held` rows and `used` bytes per
/// column (none: `held` is None). `L` and `O` are arrays for a few columns, so the per-column
/// state lives in registers and the loops over columns unroll, or vectors for any number.
#[allow(clippy::too_many_arguments)]
fn text_needs<'a, L, O>(offsets: &[&'a [i32]], rooms: &[usize], used: &[usize], held: Option<usize>, cap: usize, t: usize, mine: &[u32], needs: &mut Vec<Need>)
where
    L: for<'s> TryFrom<&'s [usize]> + AsRef<[usize]> + AsMut<[usize]>,
    O: for<'s> TryFrom<&'s [&'a [i32]]> + AsRef<[&'a [i32]]>,
{
    let (Ok(room), Ok(mut u), Ok(o)) = (L::try_from(rooms), L::try_from(used), O::try_from(offsets)) else {
        unreachable!("as many lengths as text columns")
    };
    let (room, u, o) = (room.as_ref(), u.as_mut(), o.as_ref());
    let m = o.len();
    // Rows in the current segment; a target without one starts full, so its first row needs one.
    let (mut has, mut c) = (held.is_some(), held.unwrap_or(cap));
    for (k, &r) in mine.iter().enumerate() {
        let r = r as usize;
        let len = |j: usize| (o[j][r + 1] - o[j][r]) as usize;
        let mut fits = c < cap;
        for (j, (&u, &room)) in u.iter().zip(room).enumerate() {
            fits &= u + len(j) <= room;
        }
        if !fits {
            let too_big = (0..m).any(|j| len(j) > room[j]);
            needs.push(Need { row: r, t, k, roll: has, too_big });
            if too_big {
                return;
            }
            (has, c) = (true, 0);
            u.fill(0);
        }
        c += 1;
        for (j, u) in u.iter_mut().enumerate() {
            *u += len(j);
        }
    }
}

/// Every row's target in a call: `to[r - from]` for row `r`.
#[derive(Clone, Copy)]
struct Targets<'a> {
    to: &'a [u32],
    from: usize,
}

/// Pass 2 for one run: every column's values of rows `idx` into positions `run.p0`.. of its
/// segment; `event_time` is where the batch's event time comes from (found once per call).
fn copy_run(batch: &BatchRef<'_>, event_time: EventTime, layout: &SegmentLayout, pool: &mut [u8], run: &Run, idx: &[u32], targets: Targets<'_>) {
    let base = run.seg * layout.segment_bytes;
    let (p0, m) = (run.p0, idx.len());
    let segment = &mut pool[base..base + layout.segment_bytes];
    for (k, c) in batch.columns.iter().enumerate() {
        let reg = layout.columns[k];
        match c.validity {
            Some(v) => copy_validity(segment, 8 + k, reg.validity, p0, v, idx),
            // All valid, but the segment already has a null in this column (from an earlier batch).
            None if segment[8 + k] != 0 => set_bits(&mut segment[reg.validity..], p0, p0 + m),
            None => {}
        }
        match c.values {
            ValuesRef::I32(v) => gather(&mut segment[reg.values + 4 * p0..reg.values + 4 * (p0 + m)], v, idx),
            ValuesRef::I64(v) | ValuesRef::Timestamp(v) => gather_run(&mut segment[reg.values + 8 * p0..reg.values + 8 * (p0 + m)], v, idx, targets, run.t),
            ValuesRef::F64(v) => gather_run(&mut segment[reg.values + 8 * p0..reg.values + 8 * (p0 + m)], v, idx, targets, run.t),
            ValuesRef::Bool(v) => {
                let bits = &mut segment[reg.values..reg.values + bitmap(layout.capacity)];
                for (i, &r) in idx.iter().enumerate() {
                    let p = p0 + i;
                    bits[p >> 3] |= u8::from(bit_get(v, r as usize)) << (p & 7);
                }
            }
            ValuesRef::Utf8 { offsets, data } => copy_utf8(segment, reg, p0, offsets, data, idx),
        }
    }
    if let Some(et) = batch.event_time {
        let flags = rd_u32(segment, 4);
        let column = (flags & ET_IS_COLUMN != 0).then_some((flags >> 8) as usize);
        if column.is_none_or(|k| event_time != EventTime::Column(k)) {
            if let Some(k) = column {
                // The segment's rows so far took their event time from column k; this batch's
                // is another array: those rows' values move to the event-time region first.
                let v = layout.columns[k].values;
                segment.copy_within(v..v + 8 * p0, layout.event_time);
                wr_u32(segment, 4, ET_PRESENT);
            }
            gather_run(&mut segment[layout.event_time + 8 * p0..layout.event_time + 8 * (p0 + m)], et, idx, targets, run.t);
        }
    }
}

/// Fixed-width values to consecutive little-endian slots.
trait Le: Copy {
    const W: usize;
    fn put(self, to: &mut [u8]);
}
macro_rules! le {
    ($($t:ty),*) => {$(
        impl Le for $t {
            const W: usize = std::mem::size_of::<$t>();
            #[inline(always)]
            fn put(self, to: &mut [u8]) {
                to.copy_from_slice(&self.to_le_bytes());
            }
        }
    )*};
}
le!(i32, i64, f64);

/// The 8-byte values of a run's rows `idx` into `dst`. The rows are every row of target `t`
/// from the first of them to the last (a run is a stretch of one target's rows, in row order),
/// so with AVX-512 they are taken eight rows at a time by comparing the rows' targets with `t`
/// and compressing the kept values in a register, instead of loading one value per row (the
/// `scatter` example, 5 columns to 2 targets: 5.36 ns a row against 5.90); else gathered.
fn gather_run<T: Le>(dst: &mut [u8], src: &[T], idx: &[u32], targets: Targets<'_>, t: usize) {
    #[cfg(target_arch = "x86_64")]
    if T::W == 8 && idx.len() >= 8 && std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512vl") && std::arch::is_x86_feature_detected!("popcnt") {
        let (lo, hi) = (idx[0] as usize, idx[idx.len() - 1] as usize + 1);
        assert!(lo >= targets.from && hi <= src.len() && hi - targets.from <= targets.to.len() && dst.len() == 8 * idx.len(), "a run within its batch");
        // SAFETY: the CPU has AVX-512 F and VL and POPCNT; the bounds were just checked, and T is an
        // 8-byte value (i64 or f64) whose bytes are copied as they are (little-endian here).
        let done = unsafe { compress_run_avx512(dst, src.as_ptr().cast::<u8>(), targets, t as u32, lo, hi, idx.len()) };
        gather(&mut dst[8 * done..], src, &idx[done..]);
        return;
    }
    gather(dst, src, idx)
}

/// `gather_run` for the first of a run's rows, eight source rows at a time while eight more
/// outputs fit `dst`; returns how many outputs it wrote (the rest are `idx[done..]`).
///
/// # Safety
/// The CPU has AVX-512 F and VL and POPCNT; `src` points at values of 8 bytes, `lo..hi` within them and
/// within the targets (`targets.to[lo - from..hi - from]`); `dst` holds `m` such values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,popcnt")]
unsafe fn compress_run_avx512(dst: &mut [u8], src: *const u8, targets: Targets<'_>, t: u32, lo: usize, hi: usize, m: usize) -> usize {
    use std::arch::x86_64::*;
    let want = _mm256_set1_epi32(t as i32);
    let (mut i, mut at) = (lo, 0);
    // The store writes eight values: only while eight more fit this run's part of `dst`.
    while i + 8 <= hi && at + 8 <= m {
        // SAFETY (loads and store): i + 8 <= hi, within `src` and the targets (the caller's
        // promise); at + 8 <= m, within `dst`.
        unsafe {
            let k = _mm256_cmpeq_epi32_mask(_mm256_loadu_si256(targets.to.as_ptr().add(i - targets.from).cast()), want);
            let v = _mm512_loadu_si512(src.add(8 * i).cast());
            _mm512_storeu_si512(dst.as_mut_ptr().add(8 * at).cast(), _mm512_maskz_compress_epi64(k, v));
            at += k.count_ones() as usize;
        }
        i += 8;
    }
    at
}

#[inline(always)]
fn gather<T: Le>(dst: &mut [u8], src: &[T], idx: &[u32]) {
    for (d, &r) in dst.chunks_exact_mut(T::W).zip(idx) {
        src[r as usize].put(d);
    }
}

/// A column's validity for rows `idx` at positions `p0`..: the segment's bitmap is read only once
/// its flag byte says the column has a null there; the first null sets the flag and marks every
/// earlier row of the segment valid.
fn copy_validity(segment: &mut [u8], flag: usize, at: usize, p0: usize, v: &[u8], idx: &[u32]) {
    if segment[flag] == 0 {
        let Some(first) = idx.iter().position(|&r| !bit_get(v, r as usize)) else { return };
        segment[flag] = 1;
        set_bits(&mut segment[at..], 0, p0 + first);
        for (i, &r) in idx.iter().enumerate().skip(first) {
            let p = p0 + i;
            segment[at + (p >> 3)] |= u8::from(bit_get(v, r as usize)) << (p & 7);
        }
        return;
    }
    for (i, &r) in idx.iter().enumerate() {
        let p = p0 + i;
        segment[at + (p >> 3)] |= u8::from(bit_get(v, r as usize)) << (p & 7);
    }
}

fn set_bits(bits: &mut [u8], from: usize, to: usize) {
    for p in from..to {
        bits[p >> 3] |= 1 << (p & 7);
    }
}

/// Text of rows `idx` appended after the segment's text so far, offsets after `offsets[p0]`;
/// with AVX2 where the CPU has it, so that each 32-byte piece is one load and one store (the
/// build targets baseline x86-64, whose widest are 16 bytes).
fn copy_utf8(segment: &mut [u8], reg: ColumnRegion, p0: usize, offsets: &[i32], data: &[u8], idx: &[u32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU was just found to have AVX2, the only requirement of `copy_utf8_avx2`.
        unsafe { copy_utf8_avx2(segment, reg, p0, offsets, data, idx) };
        return;
    }
    copy_utf8_any(segment, reg, p0, offsets, data, idx);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn copy_utf8_avx2(segment: &mut [u8], reg: ColumnRegion, p0: usize, offsets: &[i32], data: &[u8], idx: &[u32]) {
    copy_utf8_any(segment, reg, p0, offsets, data, idx);
}

#[inline(always)]
fn copy_utf8_any(segment: &mut [u8], reg: ColumnRegion, p0: usize, offsets: &[i32], data: &[u8], idx: &[u32]) {
    let mut at = rd_u32(segment, reg.values + 4 * p0) as usize;
    let (text, offs) = {
        let (head, text) = segment.split_at_mut(reg.data);
        (&mut text[..reg.data_bytes], &mut head[reg.values + 4 * (p0 + 1)..reg.values + 4 * (p0 + 1 + idx.len())])
    };
    for (o, &r) in offs.chunks_exact_mut(4).zip(idx) {
        let (a, b) = (offsets[r as usize] as usize, offsets[r as usize + 1] as usize);
        let l = b - a;
        // Text up to 128 bytes (names and keys, q7's `url` and `extra`) as one copy of a fixed
        // size where both sides have room, not a call to memcpy per row: the bytes past this
        // row's end are overwritten by the next row or never read. Two sizes, so that how many
        // pieces a row takes does not change with its length (pieces of 32 bytes, as many as
        // a row needed: a mispredicted branch per row where lengths straddle a multiple of 32,
        // as q7's urls do 64; the scatter of q7's bids 20.3 -> 18.7 ns a row).
        let whole = if l <= 16 { 16 } else { 128 };
        if l <= 128 && a + whole <= data.len() && at + whole <= text.len() {
            if whole == 16 {
                let chunk: [u8; 16] = data[a..a + 16].try_into().expect("16 bytes");
                text[at..at + 16].copy_from_slice(&chunk);
            } else {
                let chunk: [u8; 128] = data[a..a + 128].try_into().expect("128 bytes");
                text[at..at + 128].copy_from_slice(&chunk);
            }
        } else {
            text[at..at + l].copy_from_slice(&data[a..b]);
        }
        at += l;
        o.copy_from_slice(&(at as u32).to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The AVX2 lanes give every key the subtask of the scalar `hash_i64_key`, at any length
    /// (the keys past the last eight go through the scalar loop), for powers of two as the
    /// runtime's `kg * n / maxParallelism` uses them.
    #[test]
    fn subtasks_of_i64_keys_agree_with_the_scalar_hash() {
        let keys = crate::keys::lane_test_keys();
        for (n, max) in [(2u32, 128u32), (3, 128), (4, 32768), (7, 256)] {
            for len in [0, 1, 7, 8, 9, 15, 16, 17, keys.len()] {
                let mut to = vec![u32::MAX; len];
                subtasks_of_i64_keys(&keys[..len], &mut to, max - 1, n, max.trailing_zeros());
                for (i, &k) in keys[..len].iter().enumerate() {
                    assert_eq!(to[i], subtask_for_key_group(hash_i64_key(k) % max, n, max), "key {k} (row {i} of {len}), n {n}, max {max}");
                }
            }
        }
    }

    #[test]
    fn the_capacity_is_the_largest_that_fits() {
        for types in [vec![DataType::I64, DataType::Utf8, DataType::Bool], vec![DataType::I32], vec![DataType::Utf8, DataType::Utf8, DataType::F64]] {
            for bytes in [256, 4096, 256 * 1024] {
                let l = SegmentLayout::new(&types, bytes).unwrap();
                assert!(l.capacity > 0);
                assert!(regions(&types, bytes, l.capacity).1 <= bytes);
                assert!(regions(&types, bytes, l.capacity + 1).1 > bytes);
            }
        }
        assert!(SegmentLayout::new(&[DataType::Utf8], 64).is_err());
    }
}

#[cfg(test)]
mod timing {
    use super::*;
    use crate::batch::{ColumnRef, Field, Schema};
    use crate::partition::hash_routing;

    /// `cargo test --release -p sluice-core segment::timing -- --ignored --nocapture`: the kernel alone.
    #[test]
    #[ignore]
    fn scatter_ns_per_row() {
        let n = 8192usize;
        let a: Vec<i64> = (0..n as i64).map(|i| (i * 7919) % 10007).collect();
        let b: Vec<i64> = (0..n as i64).collect();
        let w: i32 = std::env::var("TEXT").map(|v| v.parse().unwrap()).unwrap_or(6);
        let offsets: Vec<i32> = (0..=n as i32).map(|i| i * w).collect();
        let data = vec![b'x'; n * w as usize];
        let schema = Schema::new(vec![Field::new("a", DataType::I64), Field::new("b", DataType::I64), Field::new("c", DataType::I64), Field::new("s", DataType::Utf8), Field::new("t", DataType::Timestamp)]);
        let cols = vec![
            ColumnRef { values: ValuesRef::I64(&a), validity: None },
            ColumnRef { values: ValuesRef::I64(&b), validity: None },
            ColumnRef { values: ValuesRef::I64(&b), validity: None },
            ColumnRef { values: ValuesRef::Utf8 { offsets: &offsets, data: &data }, validity: None },
            ColumnRef { values: ValuesRef::Timestamp(&b), validity: None },
        ];
        let batch = BatchRef { schema: &schema, columns: cols, len: n, event_time: Some(&b) };
        let types: Vec<DataType> = schema.fields.iter().map(|f| f.data_type).collect();
        let seg = 256 * 1024;
        let layout = SegmentLayout::new(&types, seg).unwrap();
        let mut pool = vec![0u8; 16 * seg];
        let reps = 500;
        let t0 = std::time::Instant::now();
        let mut hashed = 0;
        for _ in 0..reps {
            hashed += hash_routing(&batch, &[0], 2, 128).unwrap().targets.len();
        }
        let th = t0.elapsed().as_nanos() as f64 / (reps * n) as f64;
        let routing = hash_routing(&batch, &[0], 2, 128).unwrap();
        let run = |hash: bool, pool: &mut [u8]| {
            let t0 = std::time::Instant::now();
            for _ in 0..reps {
                let mut cur = [-1i32, -1];
                let mut spares = [8i32, 0, 1, 2, 3, 4, 5, 6, 7];
                let mut full = [0i32; 40];
                let io = SegmentIo { cur: &mut cur, spares: &mut spares, full: &mut full };
                let route = if hash { SegmentRoute::Hash { key_fields: &[0], max_parallelism: 128 } } else { SegmentRoute::Each(&routing.targets) };
                assert_eq!(scatter_to_segments(&batch, route, pool, &layout, io, 0).unwrap(), n);
            }
            t0.elapsed().as_nanos() as f64 / (reps * n) as f64
        };
        let ts = run(false, &mut pool);
        let tf = run(true, &mut pool);
        println!("hash {th:.1} ns/row, scatter by given targets {ts:.1} ns/row, hashing and scattering {tf:.1} ns/row ({hashed})");
    }
}

#[cfg(test)]
mod scatter_tests {
    use super::*;
    use crate::batch::{bit_set, bitmap_len, Column, ColumnData, Field, RecordBatch, Schema, Utf8Builder};
    use crate::partition::{hash_partition, split_by_targets};
    use std::sync::Arc;

    /// Every row of a batch as text (values or "null"), to compare what went through segments.
    fn rows_of(b: &BatchRef<'_>) -> Vec<String> {
        (0..b.len)
            .map(|i| {
                let mut s: Vec<String> = b
                    .columns
                    .iter()
                    .map(|c| {
                        if !c.is_valid(i) {
                            return "null".into();
                        }
                        match c.values {
                            ValuesRef::I32(v) => v[i].to_string(),
                            ValuesRef::I64(v) | ValuesRef::Timestamp(v) => v[i].to_string(),
                            ValuesRef::F64(v) => v[i].to_string(),
                            ValuesRef::Bool(v) => bit_get(v, i).to_string(),
                            ValuesRef::Utf8 { offsets, data } => String::from_utf8(ColumnRef::utf8_bytes(offsets, data, i).to_vec()).unwrap(),
                        }
                    })
                    .collect();
                s.push(b.event_time.map_or("-".into(), |e| e[i].to_string()));
                s.join("|")
            })
            .collect()
    }

    /// The rows of segment `s` read as the consumer does (batch/segment.ts).
    fn segment_rows(pool: &[u8], s: usize, layout: &SegmentLayout, types: &[DataType]) -> Vec<String> {
        let base = s * layout.segment_bytes;
        let m = &pool[base..base + layout.segment_bytes];
        let rows = rd_u32(m, 0) as usize;
        let has_et = rd_u32(m, 4) & 1 != 0;
        let i64_at = |at: usize| i64::from_le_bytes(m[at..at + 8].try_into().unwrap());
        (0..rows)
            .map(|p| {
                let mut out: Vec<String> = types
                    .iter()
                    .enumerate()
                    .map(|(k, t)| {
                        let r = layout.columns[k];
                        if m[8 + k] != 0 && !bit_get(&m[r.validity..], p) {
                            return "null".into();
                        }
                        match t {
                            DataType::I32 => i32::from_le_bytes(m[r.values + 4 * p..r.values + 4 * p + 4].try_into().unwrap()).to_string(),
                            DataType::I64 | DataType::Timestamp => i64_at(r.values + 8 * p).to_string(),
                            DataType::F64 => f64::from_bits(i64_at(r.values + 8 * p) as u64).to_string(),
                            DataType::Bool => bit_get(&m[r.values..], p).to_string(),
                            DataType::Utf8 => {
                                let (a, b) = (rd_u32(m, r.values + 4 * p) as usize, rd_u32(m, r.values + 4 * p + 4) as usize);
                                String::from_utf8(m[r.data + a..r.data + b].to_vec()).unwrap()
                            }
                        }
                    })
                    .collect();
                let et_at = if rd_u32(m, 4) & ET_IS_COLUMN != 0 { layout.columns[(rd_u32(m, 4) >> 8) as usize].values } else { layout.event_time };
                out.push(if has_et { i64_at(et_at + 8 * p).to_string() } else { "-".into() });
                out.join("|")
            })
            .collect()
    }

    /// Rows with every type, nulls in some columns (none in the first `clean` rows), text of
    /// 2 to 45 bytes and in every ninth row 90 more (copied in one, two to four, or more
    /// chunks), keys repeating.
    fn batch(n: usize, seed: usize, key_nulls: bool) -> RecordBatch {
        let nulls = |i: usize, m: usize| (i * 7 + seed).is_multiple_of(m);
        let mut text = Utf8Builder::with_capacity(n, 0);
        let (mut vk, mut vs, mut vf, mut bools) = (vec![0u8; bitmap_len(n)], vec![0u8; bitmap_len(n)], vec![0u8; bitmap_len(n)], vec![0u8; bitmap_len(n)]);
        for i in 0..n {
            let long = if (i + seed).is_multiple_of(9) { 90 } else { 0 };
            text.push(format!("t{}-{}", i + seed, "x".repeat((i * 13 + seed) % 38 + long)).as_bytes());
            bit_set(&mut vk, i, !(key_nulls && nulls(i, 11)));
            bit_set(&mut vs, i, !nulls(i, 5));
            bit_set(&mut vf, i, !(i > n / 2 && nulls(i, 3)));
            bit_set(&mut bools, i, (i + seed).is_multiple_of(3));
        }
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::I64),
            Field::new("s", DataType::Utf8),
            Field::new("f", DataType::F64),
            Field::new("b", DataType::Bool),
            Field::new("i", DataType::I32),
        ]));
        RecordBatch {
            schema,
            columns: vec![
                Column { data: ColumnData::I64((0..n).map(|i| ((i * 31 + seed) % 97) as i64 - 40).collect()), validity: key_nulls.then_some(vk) },
                Column { data: text.finish(), validity: Some(vs) },
                Column { data: ColumnData::F64((0..n).map(|i| i as f64 / 4.0).collect()), validity: Some(vf) },
                Column::new(ColumnData::Bool(bools)),
                Column::new(ColumnData::I32((0..n).map(|i| (i + seed) as i32).collect())),
            ],
            len: n,
            event_time: Some((0..n).map(|i| (i * 3 + seed) as i64).collect()),
        }
    }

    /// Scatters the batches one after the other (segments left open between them, a few spares
    /// at a time so calls resume), then reads every target's segments in the order they filled.
    fn through_segments<'r>(batches: &[RecordBatch], route: impl Fn(&RecordBatch) -> SegmentRoute<'r>, n: usize, layout: &SegmentLayout) -> Vec<Vec<String>> {
        through_segments_as(batches, |_, b| b.as_ref(), route, n, layout)
    }

    /// As `through_segments`, each batch passed as `view(i, batch)` makes it.
    fn through_segments_as<'b, 'r>(batches: &'b [RecordBatch], view: impl Fn(usize, &'b RecordBatch) -> BatchRef<'b>, route: impl Fn(&RecordBatch) -> SegmentRoute<'r>, n: usize, layout: &SegmentLayout) -> Vec<Vec<String>> {
        let types: Vec<DataType> = batches[0].schema.fields.iter().map(|f| f.data_type).collect();
        let mut pool = vec![0xa5u8; 64 * layout.segment_bytes];
        let mut free: Vec<i32> = (0..64).rev().collect();
        let mut cur = vec![-1i32; n];
        let mut got = vec![Vec::new(); n];
        for (i, b) in batches.iter().enumerate() {
            let r = view(i, b);
            let mut from = 0;
            while from < b.len {
                let mut spares = vec![0i32; 3];
                while spares[0] < 2 {
                    spares[0] += 1;
                    let at = spares[0] as usize;
                    spares[at] = free.pop().unwrap();
                }
                let mut full = vec![0i32; 1 + 2 * (2 + n)];
                let io = SegmentIo { cur: &mut cur, spares: &mut spares, full: &mut full };
                from = scatter_to_segments(&r, route(b), &mut pool, layout, io, from).unwrap();
                for f in 0..full[0] as usize {
                    let (t, s) = (full[1 + 2 * f] as usize, full[2 + 2 * f] as usize);
                    got[t].extend(segment_rows(&pool, s, layout, &types));
                    free.push(s as i32);
                }
                for &s in &spares[1..=spares[0] as usize] {
                    free.push(s);
                }
            }
        }
        for (t, &s) in cur.iter().enumerate() {
            if s >= 0 {
                got[t].extend(segment_rows(&pool, s as usize, layout, &types));
            }
        }
        got
    }

    fn expected(parts: Vec<Vec<RecordBatch>>, n: usize) -> Vec<Vec<String>> {
        (0..n).map(|t| parts.iter().flat_map(|p| rows_of(&p[t].as_ref())).collect()).collect()
    }

    #[test]
    fn hashing_into_segments_routes_as_the_key_groups_and_keeps_every_value() {
        let types = [DataType::I64, DataType::Utf8, DataType::F64, DataType::Bool, DataType::I32];
        // Small segments: a few dozen rows each, so rows roll over and calls stop for spares.
        let layout = SegmentLayout::new(&types, 4096).unwrap();
        for key_nulls in [false, true] {
            let batches = [batch(700, 1, key_nulls), batch(333, 2, key_nulls), batch(1, 3, key_nulls)];
            // Two targets, a few (counted by compares) and more than eight (counted per row).
            for n in [1usize, 2, 3, 9] {
                // One i64 key (hashed in the kernel unless it has nulls), and two keys (key bytes).
                for keys in [&[0usize][..], &[0, 1]] {
                    let got = through_segments(&batches, |_| SegmentRoute::Hash { key_fields: keys, max_parallelism: 128 }, n, &layout);
                    let parts = batches.iter().map(|b| hash_partition(&b.as_ref(), keys, n as u32, 128).unwrap()).collect();
                    assert_eq!(got, expected(parts, n), "n = {n}, keys {keys:?}, key nulls {key_nulls}");
                }
                // A max parallelism that is not a power of two.
                let got = through_segments(&batches, |_| SegmentRoute::Hash { key_fields: &[0], max_parallelism: 100 }, n, &layout);
                let parts = batches.iter().map(|b| hash_partition(&b.as_ref(), &[0], n as u32, 100).unwrap()).collect();
                assert_eq!(got, expected(parts, n));
            }
        }
    }

    /// An event time in the same memory as a column (a source's timestamp field) is kept once, as
    /// that column; a batch whose event time is its own array, into the same open segments, first
    /// moves the rows before it to the event-time region. Every row reads back its event time.
    #[test]
    fn an_event_time_that_is_a_column_is_kept_once() {
        let types = [DataType::I64, DataType::Utf8, DataType::F64, DataType::Bool, DataType::I32];
        let layout = SegmentLayout::new(&types, 4096).unwrap();
        let mut batches = [batch(700, 1, false), batch(333, 2, false), batch(50, 3, false), batch(20, 4, false)];
        for b in &mut batches {
            let ColumnData::I64(k) = &b.columns[0].data else { panic!("i64") };
            b.event_time = Some(k.clone());
        }
        // Batches 0 and 2 pass column 0's memory as their event time, 1 and 3 an equal copy.
        fn view(i: usize, b: &RecordBatch) -> BatchRef<'_> {
            let mut r = b.as_ref();
            if i.is_multiple_of(2) {
                let ValuesRef::I64(k) = r.columns[0].values else { panic!("i64") };
                r.event_time = Some(k);
            }
            r
        }
        for n in [1usize, 2, 3] {
            let got = through_segments_as(&batches, view, |_| SegmentRoute::Hash { key_fields: &[0], max_parallelism: 128 }, n, &layout);
            let parts = batches.iter().map(|b| hash_partition(&b.as_ref(), &[0], n as u32, 128).unwrap()).collect();
            assert_eq!(got, expected(parts, n), "n = {n}");
        }
        // The flags say so: a fresh segment of a batch whose event time is column 0.
        let mut pool = vec![0u8; layout.segment_bytes];
        let (mut cur, mut spares, mut full) = ([-1i32], [1i32, 0], [0i32; 5]);
        let io = SegmentIo { cur: &mut cur, spares: &mut spares, full: &mut full };
        scatter_to_segments(&view(0, &batches[2]), SegmentRoute::Single, &mut pool, &layout, io, 0).unwrap();
        assert_eq!(rd_u32(&pool, 4), ET_PRESENT | ET_IS_COLUMN);
    }

    #[test]
    fn given_targets_and_a_single_target_keep_row_order() {
        let types = [DataType::I64, DataType::Utf8, DataType::F64, DataType::Bool, DataType::I32];
        let layout = SegmentLayout::new(&types, 4096).unwrap();
        let batches = [batch(500, 5, true), batch(77, 6, false)];
        let targets: Vec<Vec<u32>> = batches.iter().map(|b| (0..b.len).map(|i| ((i * i) % 3) as u32).collect()).collect();
        let got = through_segments(&batches, |b| SegmentRoute::Each(&targets[if b.len == 500 { 0 } else { 1 }]), 3, &layout);
        let parts = batches.iter().zip(&targets).map(|(b, t)| split_by_targets(&b.as_ref(), t, 3).unwrap()).collect();
        assert_eq!(got, expected(parts, 3));
        let got = through_segments(&batches, |_| SegmentRoute::Single, 1, &layout);
        assert_eq!(got, vec![batches.iter().flat_map(|b| rows_of(&b.as_ref())).collect::<Vec<_>>()]);
        // A target out of range is refused with the row.
        let bad: Vec<u32> = (0..500).map(|i| if i == 42 { 3 } else { 0 }).collect();
        let mut pool = vec![0u8; 8 * 4096];
        let (mut cur, mut spares, mut full) = (vec![-1; 3], vec![2, 0, 1], vec![0; 12]);
        let io = SegmentIo { cur: &mut cur, spares: &mut spares, full: &mut full };
        let err = scatter_to_segments(&batches[0].as_ref(), SegmentRoute::Each(&bad), &mut pool, &layout, io, 0).unwrap_err();
        assert!(err.message.contains("row 42 is sent to partition 3, but there are only 3"), "{}", err.message);
    }
}
