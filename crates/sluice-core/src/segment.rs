//! Exchange segments: the partitioner writes each row straight into its target's current
//! segment (a fixed-size block of the run's shared segment pool) in the layout the consumer
//! reads in place. The layout is a pure function of the schema and the segment size, computed
//! word for word as `ts/batch/segment.ts` does (see there for the picture); the scatter is the
//! same algorithm as `ts/engine/ts/segments.ts`.

use crate::batch::{BatchRef, DataType, ValuesRef};
use crate::error::{Error, Result};

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

/// Where rows go: computed targets (hash or given), or all to target 0.
pub enum SegmentTargets<'a> {
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

fn init(mem: &mut [u8], base: usize, layout: &SegmentLayout, types: &[DataType], has_event_time: bool) {
    wr_u32(mem, base, 0);
    wr_u32(mem, base + 4, u32::from(has_event_time));
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

/// Writes rows `from`.. of `batch` into the segments of `pool`; returns the row to go on from.
pub fn scatter_to_segments(
    batch: &BatchRef<'_>,
    targets: SegmentTargets<'_>,
    pool: &mut [u8],
    layout: &SegmentLayout,
    io: SegmentIo<'_>,
    from: usize,
) -> Result<usize> {
    let types: Vec<DataType> = batch.columns.iter().map(|c| c.data_type()).collect();
    if layout.columns.len() != types.len() {
        return Err(Error::config(format!("a segment layout of {} columns for a batch of {}", layout.columns.len(), types.len())));
    }
    let seg = layout.segment_bytes;
    let segments = pool.len() / seg;
    let cap = layout.capacity;
    let n = io.cur.len();
    let SegmentIo { cur, spares, full } = io;
    let has_et = batch.event_time.is_some();
    // Rows per target's current segment, and each utf8 column's text bytes used in it.
    let utf8: Vec<usize> = (0..types.len()).filter(|&k| types[k] == DataType::Utf8).collect();
    let mut rows = vec![0usize; n];
    let mut used = vec![0usize; n * utf8.len()];
    let load = |pool: &[u8], t: usize, s: i32, rows: &mut [usize], used: &mut [usize]| {
        let base = s as usize * seg;
        rows[t] = rd_u32(pool, base) as usize;
        for (j, &k) in utf8.iter().enumerate() {
            used[t * utf8.len() + j] = rd_u32(pool, base + layout.columns[k].values + 4 * rows[t]) as usize;
        }
    };
    for (t, &s) in cur.iter().enumerate() {
        if s >= 0 {
            if s as usize >= segments {
                return Err(Error::config(format!("segment {s} is not in a pool of {segments}")));
            }
            load(pool, t, s, &mut rows, &mut used);
        }
    }
    let u = utf8.len();
    let utf8_offsets: Vec<&[i32]> = utf8
        .iter()
        .map(|&k| match batch.columns[k].values {
            ValuesRef::Utf8 { offsets, .. } => offsets,
            _ => &[],
        })
        .collect();
    let utf8_bytes: Vec<usize> = utf8.iter().map(|&k| layout.columns[k].data_bytes).collect();
    // Pass 1: each row's segment and position (rolling over to spares), up to where spares last.
    let mut place: Vec<(u32, u32)> = Vec::with_capacity(batch.len - from.min(batch.len));
    let mut end = batch.len;
    let mut take = |t: usize, cur: &mut [i32], pool: &mut [u8], rows: &mut [usize], used: &mut [usize]| -> Result<bool> {
        let left = spares[0];
        if left <= 0 {
            return Ok(false);
        }
        let s = spares[left as usize];
        if s < 0 || s as usize >= segments {
            return Err(Error::config(format!("segment {s} is not in a pool of {segments}")));
        }
        spares[0] = left - 1;
        cur[t] = s;
        init(pool, s as usize * seg, layout, &types, has_et);
        rows[t] = 0;
        used[t * utf8.len()..(t + 1) * utf8.len()].fill(0);
        Ok(true)
    };
    for r in from..batch.len {
        let t = match targets {
            SegmentTargets::Each(ts) => {
                let t = ts[r] as usize;
                if t >= n {
                    return Err(Error::config(format!("row {r} is sent to partition {t}, but there are only {n} (0 to {})", n - 1)));
                }
                t
            }
            SegmentTargets::Single => 0,
        };
        if cur[t] < 0 && !take(t, cur, pool, &mut rows, &mut used)? {
            end = r;
            break;
        }
        let mut fits = rows[t] < cap;
        if fits {
            for j in 0..u {
                let o = utf8_offsets[j];
                if used[t * u + j] + (o[r + 1] - o[r]) as usize > utf8_bytes[j] {
                    fits = false;
                    break;
                }
            }
        }
        if !fits {
            if rows[t] == 0 {
                let bytes: usize = utf8_offsets.iter().map(|o| (o[r + 1] - o[r]) as usize).sum();
                return Err(Error::data(format!(
                    "row {r} of the batch ({bytes} bytes of text) does not fit an exchange segment of {seg} bytes ({} bytes per text column); raise the exchange segment size",
                    UTF8_BYTES_PER_ROW * cap
                )));
            }
            let f = full[0] as usize;
            full[1 + 2 * f] = t as i32;
            full[2 + 2 * f] = cur[t];
            full[0] += 1;
            wr_u32(pool, cur[t] as usize * seg, rows[t] as u32);
            cur[t] = -1;
            if !take(t, cur, pool, &mut rows, &mut used)? {
                end = r;
                break;
            }
        }
        for (j, o) in utf8_offsets.iter().enumerate() {
            used[t * u + j] += (o[r + 1] - o[r]) as usize;
        }
        place.push((cur[t] as u32, rows[t] as u32));
        rows[t] += 1;
    }
    for (t, &s) in cur.iter().enumerate() {
        if s >= 0 {
            wr_u32(pool, s as usize * seg, rows[t] as u32);
        }
    }
    // Pass 2: column by column, each row to its place.
    let rows_range = from..end;
    for (k, c) in batch.columns.iter().enumerate() {
        let reg = layout.columns[k];
        if let Some(v) = c.validity {
            for (r, &(s, p)) in rows_range.clone().zip(&place) {
                let base = s as usize * seg;
                let (s, p) = (s as usize, p as usize);
                let valid = crate::batch::bit_get(v, r);
                let flag = base + 8 + k;
                if !valid && pool[flag] == 0 {
                    // The first null of this column in the segment: the rows before it were valid.
                    pool[flag] = 1;
                    for i in 0..p {
                        pool[base + reg.validity + i / 8] |= 1 << (i % 8);
                    }
                }
                if valid && pool[flag] != 0 {
                    pool[base + reg.validity + p / 8] |= 1 << (p % 8);
                }
                let _ = s;
            }
        }
        macro_rules! fixed {
            ($vals:expr, $w:expr) => {
                for (r, &(s, p)) in rows_range.clone().zip(&place) {
                    let at = s as usize * seg + reg.values + $w * p as usize;
                    pool[at..at + $w].copy_from_slice(&$vals[r].to_le_bytes());
                }
            };
        }
        match c.values {
            ValuesRef::I32(v) => fixed!(v, 4),
            ValuesRef::I64(v) | ValuesRef::Timestamp(v) => fixed!(v, 8),
            ValuesRef::F64(v) => fixed!(v, 8),
            ValuesRef::Bool(v) => {
                for (r, &(s, p)) in rows_range.clone().zip(&place) {
                    if crate::batch::bit_get(v, r) {
                        pool[s as usize * seg + reg.values + p as usize / 8] |= 1 << (p % 8);
                    }
                }
            }
            ValuesRef::Utf8 { offsets, data } => {
                for (r, &(s, p)) in rows_range.clone().zip(&place) {
                    let base = s as usize * seg;
                    let o = base + reg.values + 4 * p as usize;
                    let at = rd_u32(pool, o) as usize;
                    let (a, b) = (offsets[r] as usize, offsets[r + 1] as usize);
                    pool[base + reg.data + at..base + reg.data + at + (b - a)].copy_from_slice(&data[a..b]);
                    wr_u32(pool, o + 4, (at + b - a) as u32);
                }
            }
        }
    }
    if let Some(et) = batch.event_time {
        for (r, &(s, p)) in rows_range.zip(&place) {
            let at = s as usize * seg + layout.event_time + 8 * p as usize;
            pool[at..at + 8].copy_from_slice(&et[r].to_le_bytes());
        }
    }
    Ok(end)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let offsets: Vec<i32> = (0..=n as i32).map(|i| i * 6).collect();
        let data = vec![b'x'; n * 6];
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
        let t0 = std::time::Instant::now();
        for _ in 0..reps {
            let mut cur = [-1i32, -1];
            let mut spares = [8i32, 0, 1, 2, 3, 4, 5, 6, 7];
            let mut full = [0i32; 40];
            let io = SegmentIo { cur: &mut cur, spares: &mut spares, full: &mut full };
            assert_eq!(scatter_to_segments(&batch, SegmentTargets::Each(&routing.targets), &mut pool, &layout, io, 0).unwrap(), n);
        }
        let ts = t0.elapsed().as_nanos() as f64 / (reps * n) as f64;
        println!("hash {th:.1} ns/row, scatter {ts:.1} ns/row ({hashed})");
    }
}
