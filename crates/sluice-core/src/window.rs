//! Keyed tumbling event-time window aggregation over whole batches.
//!
//! Column-at-a-time: `push` first maps every row of a batch to a group id (one hash-table
//! probe per row on (window start, key)), then runs one tight loop per aggregate over the
//! group ids. Groups are numbered in first-arrival order; a fired window emits its groups in
//! that order, windows in ascending start order. The TypeScript engine follows the same order,
//! so both engines produce identical batches.
//!
//! Semantics follow Flink: windows are `[start, end)` with `start = ts - (ts - offset) mod
//! size`; a window fires when the watermark reaches `end - 1`; a record whose window has
//! already fired is late and is dropped and counted.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::batch::{
    bit_get, bit_set, bitmap_len, BatchRef, Column, ColumnData, ColumnRef, DataType, Field, RecordBatch, Schema,
    SchemaRef, ValuesRef,
};
use crate::error::{Error, Result};
use crate::hash::{fmix32, murmur3_32, murmur3_u64};
use crate::memory::{MemoryPool, MemoryPoolRef, Reservation};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggKind {
    Count,
    Sum,
    Min,
    Max,
    Avg,
}

impl AggKind {
    pub fn parse(s: &str) -> Result<AggKind> {
        Ok(match s {
            "count" => AggKind::Count,
            "sum" => AggKind::Sum,
            "min" => AggKind::Min,
            "max" => AggKind::Max,
            "avg" => AggKind::Avg,
            other => {
                return Err(Error::config(format!(
                    "unknown aggregate '{other}'; use count, sum, min, max or avg"
                )))
            }
        })
    }
}

/// One named aggregate. `field: None` is only valid for `Count` (count of rows); with a field,
/// `Count` counts its non-null values and the others ignore nulls (null when none).
#[derive(Clone, Debug)]
pub struct AggSpec {
    pub name: String,
    pub kind: AggKind,
    pub field: Option<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TumblingWindows {
    pub size: i64,
    pub offset: i64,
}

impl TumblingWindows {
    pub fn new(size: i64, offset: i64) -> Result<TumblingWindows> {
        if size <= 0 {
            return Err(Error::config(format!(
                "a tumbling window needs a size above 0 ms, got {size}; pass the window length in ms"
            )));
        }
        if offset.abs() >= size {
            return Err(Error::config(format!(
                "a window offset must be smaller than the window size ({size} ms), got {offset}"
            )));
        }
        Ok(TumblingWindows { size, offset })
    }

    #[inline(always)]
    pub fn start_of(&self, ts: i64) -> i64 {
        ts.wrapping_sub(ts.wrapping_sub(self.offset).rem_euclid(self.size))
    }

    /// The last timestamp that belongs to the window starting at `start` (Flink's maxTimestamp).
    #[inline(always)]
    pub fn max_timestamp(&self, start: i64) -> i64 {
        start.saturating_add(self.size - 1)
    }
}

#[derive(Clone, Debug)]
pub struct WindowAggSpec {
    pub input: SchemaRef,
    pub key_fields: Vec<usize>,
    pub windows: TumblingWindows,
    pub aggs: Vec<AggSpec>,
}

impl WindowAggSpec {
    /// Key fields under their own names, `windowStart`, `windowEnd`, then the aggregates.
    pub fn output_schema(&self) -> Result<Schema> {
        let mut fields: Vec<Field> = Vec::new();
        for &k in &self.key_fields {
            let f = self.input.fields.get(k).ok_or_else(|| Error::config(format!("key field index {k} out of range")))?;
            fields.push(f.clone());
        }
        fields.push(Field::new("windowStart", DataType::Timestamp));
        fields.push(Field::new("windowEnd", DataType::Timestamp));
        for a in &self.aggs {
            let t = agg_output_type(a, &self.input)?;
            fields.push(Field::new(a.name.clone(), t));
        }
        for (i, f) in fields.iter().enumerate() {
            if fields[..i].iter().any(|g| g.name == f.name) {
                return Err(Error::config(format!(
                    "the window result would have two fields named '{}'; rename the aggregate",
                    f.name
                )));
            }
        }
        Ok(Schema::new(fields))
    }
}

fn agg_output_type(a: &AggSpec, input: &Schema) -> Result<DataType> {
    let input_type = match a.field {
        None if a.kind == AggKind::Count => return Ok(DataType::I64),
        None => return Err(Error::config(format!("aggregate '{}' needs a field", a.name))),
        Some(f) => input
            .fields
            .get(f)
            .ok_or_else(|| Error::config(format!("aggregate '{}': field index {f} out of range", a.name)))?
            .data_type,
    };
    let numeric = matches!(input_type, DataType::I32 | DataType::I64 | DataType::F64 | DataType::Timestamp);
    Ok(match a.kind {
        AggKind::Count => DataType::I64,
        _ if !numeric => {
            return Err(Error::config(format!(
                "aggregate '{}' needs a numeric field (i32, i64, f64, timestamp), got {input_type}",
                a.name
            )))
        }
        AggKind::Sum if input_type == DataType::Timestamp => {
            return Err(Error::config(format!("aggregate '{}': a sum of timestamps is meaningless", a.name)))
        }
        AggKind::Sum => {
            if input_type == DataType::F64 {
                DataType::F64
            } else {
                DataType::I64
            }
        }
        AggKind::Min | AggKind::Max => input_type,
        AggKind::Avg => DataType::F64,
    })
}

const LATE: u32 = u32::MAX;
const EMPTY_SLOT: u64 = u64::MAX;
const HASH_SEED: u32 = 0x5151_ce00;

/// Group keys: a fast path for one integer-like key column, canonical bytes otherwise.
enum Keys {
    /// One entry per group, so a probe touches one cache line: key, window start, validity.
    Int { entries: Vec<IntEntry>, col: usize, dtype: DataType },
    Bytes { arena: Vec<u8>, spans: Vec<(usize, u32)>, cols: Vec<(usize, DataType)>, scratch: Vec<u8> },
}

#[derive(Clone, Copy)]
struct IntEntry {
    key: i64,
    start: i64,
    valid: bool,
}

/// Per-aggregate accumulators, indexed by group id.
struct Acc {
    kind: AggKind,
    field: Option<usize>,
    input: DataType,
    out: DataType,
    /// Whether `n` is kept: until the input column shows a null, every row of a group is a
    /// non-null input and the group's row count serves (one write per row saved).
    tracks_nulls: bool,
    /// Non-null inputs per group (only while `tracks_nulls`).
    n: Vec<i64>,
    /// Exact integer sums.
    isum: Vec<i128>,
    /// Float sums, or float min/max.
    f: Vec<f64>,
    /// Integer min/max.
    i: Vec<i64>,
}

impl Acc {
    fn grow(&mut self, groups: usize) {
        if self.tracks_nulls {
            self.n.resize(groups, 0);
        }
        let float = self.input == DataType::F64;
        match self.kind {
            AggKind::Count => {}
            AggKind::Sum | AggKind::Avg if float => self.f.resize(groups, 0.0),
            AggKind::Sum | AggKind::Avg => self.isum.resize(groups, 0),
            AggKind::Min if float => self.f.resize(groups, f64::INFINITY),
            AggKind::Max if float => self.f.resize(groups, f64::NEG_INFINITY),
            AggKind::Min => self.i.resize(groups, i64::MAX),
            AggKind::Max => self.i.resize(groups, i64::MIN),
        }
    }

    fn bytes(&self) -> usize {
        self.n.capacity() * 8 + self.isum.capacity() * 16 + self.f.capacity() * 8 + self.i.capacity() * 8
    }

    /// Non-null inputs of group `g`.
    #[inline]
    fn non_null(&self, g: usize, rows: &[i64]) -> i64 {
        if self.field.is_some() && self.tracks_nulls {
            self.n[g]
        } else {
            rows[g]
        }
    }

    /// `rows` already counts this batch (`gids`); the accumulators do not yet.
    fn update(&mut self, batch: &BatchRef<'_>, gids: &[u32], rows: &[i64]) {
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
            (AggKind::Count, _) => each_valid(gids, validity, |g, _| seen(g)),
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
        AggKind::Count => each_valid(gids, validity, |g, _| seen(g)),
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

/// Canonical key bytes of row `i`: per field a tag byte (0 null, 1 value) then the value
/// (i32 4 bytes LE, i64/timestamp 8 LE, f64 bits 8 LE with -0 and NaN canonicalised,
/// bool 1 byte, utf8 u32 LE length + bytes). The same bytes in both engines.
pub fn encode_key(cols: &[ColumnRef<'_>], i: usize, out: &mut Vec<u8>) {
    for c in cols {
        if !c.is_valid(i) {
            out.push(0);
            continue;
        }
        out.push(1);
        match c.values {
            ValuesRef::I32(v) => out.extend_from_slice(&v[i].to_le_bytes()),
            ValuesRef::I64(v) | ValuesRef::Timestamp(v) => out.extend_from_slice(&v[i].to_le_bytes()),
            ValuesRef::F64(v) => out.extend_from_slice(&canonical_f64_bits(v[i]).to_le_bytes()),
            ValuesRef::Bool(v) => out.push(bit_get(v, i) as u8),
            ValuesRef::Utf8 { offsets, data } => {
                let s = ColumnRef::utf8_bytes(offsets, data, i);
                out.extend_from_slice(&(s.len() as u32).to_le_bytes());
                out.extend_from_slice(s);
            }
        }
    }
}

#[inline]
pub fn canonical_f64_bits(x: f64) -> u64 {
    if x.is_nan() {
        0x7ff8_0000_0000_0000
    } else if x == 0.0 {
        0
    } else {
        x.to_bits()
    }
}

/// Keyed tumbling-window aggregation state and operator.
pub struct WindowAggregator {
    spec: WindowAggSpec,
    output: SchemaRef,
    keys: Keys,
    win_start: Vec<i64>,
    /// Rows per group (count(), and non-null counts while a column has shown no null).
    rows: Vec<i64>,
    /// Open addressing: (hash << 32 | group id), EMPTY_SLOT when free.
    index: Vec<u64>,
    accs: Vec<Acc>,
    open_windows: BTreeSet<i64>,
    watermark: i64,
    late_dropped: u64,
    gids: Vec<u32>,
    reservation: Reservation,
}

impl WindowAggregator {
    pub fn new(spec: WindowAggSpec) -> Result<WindowAggregator> {
        WindowAggregator::with_pool(spec, MemoryPool::unbounded())
    }

    pub fn with_pool(spec: WindowAggSpec, pool: MemoryPoolRef) -> Result<WindowAggregator> {
        let output = Arc::new(spec.output_schema()?);
        if spec.key_fields.is_empty() {
            return Err(Error::config("a keyed window needs at least one key field"));
        }
        let key_types: Vec<(usize, DataType)> =
            spec.key_fields.iter().map(|&k| (k, spec.input.fields[k].data_type)).collect();
        let keys = match key_types.as_slice() {
            [(col, t @ (DataType::I32 | DataType::I64 | DataType::Timestamp))] => {
                Keys::Int { entries: Vec::new(), col: *col, dtype: *t }
            }
            _ => Keys::Bytes { arena: Vec::new(), spans: Vec::new(), cols: key_types, scratch: Vec::new() },
        };
        let accs = spec
            .aggs
            .iter()
            .map(|a| {
                let out = agg_output_type(a, &spec.input)?;
                let input = a.field.map(|f| spec.input.fields[f].data_type).unwrap_or(DataType::I64);
                Ok(Acc { kind: a.kind, field: a.field, input, out, tracks_nulls: false, n: vec![], isum: vec![], f: vec![], i: vec![] })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(WindowAggregator {
            spec,
            output,
            keys,
            win_start: Vec::new(),
            rows: Vec::new(),
            index: vec![EMPTY_SLOT; 1024],
            accs,
            open_windows: BTreeSet::new(),
            watermark: i64::MIN,
            late_dropped: 0,
            gids: Vec::new(),
            reservation: Reservation::new(pool, "window aggregation"),
        })
    }

    pub fn output_schema(&self) -> SchemaRef {
        self.output.clone()
    }
    pub fn input_schema(&self) -> SchemaRef {
        self.spec.input.clone()
    }
    pub fn late_dropped(&self) -> u64 {
        self.late_dropped
    }
    pub fn watermark(&self) -> i64 {
        self.watermark
    }
    pub fn group_count(&self) -> usize {
        self.win_start.len()
    }
    pub fn memory_held(&self) -> u64 {
        self.reservation.held()
    }

    /// Adds a batch. Returns the number of late rows dropped from it.
    pub fn push(&mut self, batch: &BatchRef<'_>) -> Result<u64> {
        if batch.schema.fields != self.spec.input.fields {
            return Err(Error::data("the batch's schema differs from the window operator's input schema"));
        }
        let ts = batch.event_time.ok_or_else(|| {
            Error::data("the window operator got rows without event timestamps; assign them with assignTimestampsAndWatermarks")
        })?;
        let n = batch.len;
        self.gids.clear();
        self.gids.resize(n, LATE);
        let before = self.late_dropped;
        let groups_before = self.win_start.len();
        match &self.keys {
            Keys::Int { col, .. } => {
                let col = *col;
                match batch.columns[col].values {
                    ValuesRef::I32(v) => self.assign_int(ts, v, batch.columns[col].validity, |x| x as i64),
                    ValuesRef::I64(v) | ValuesRef::Timestamp(v) => {
                        self.assign_int(ts, v, batch.columns[col].validity, |x| x)
                    }
                    _ => unreachable!("the int key path is chosen for integer columns only"),
                }
            }
            Keys::Bytes { .. } => self.assign_bytes(ts, batch),
        }
        let groups = self.win_start.len();
        if groups != groups_before {
            for a in &mut self.accs {
                a.grow(groups);
            }
            self.account()?;
        }
        for a in &mut self.accs {
            a.update(batch, &self.gids[..n], &self.rows);
        }
        Ok(self.late_dropped - before)
    }

    fn account(&mut self) -> Result<()> {
        let keys = match &self.keys {
            Keys::Int { entries, .. } => entries.capacity() * std::mem::size_of::<IntEntry>(),
            Keys::Bytes { arena, spans, .. } => arena.capacity() + spans.capacity() * 16,
        };
        let bytes = keys
            + self.win_start.capacity() * 8
            + self.rows.capacity() * 8
            + self.index.capacity() * 8
            + self.accs.iter().map(Acc::bytes).sum::<usize>();
        self.reservation.resize(bytes as u64)
    }

    #[inline(always)]
    fn assign_int<T: Copy>(&mut self, ts: &[i64], v: &[T], validity: Option<&[u8]>, to: impl Fn(T) -> i64) {
        let w = self.spec.windows;
        let wm = self.watermark;
        let (mut cur_start, mut cur_end, mut cur_late) = (i64::MAX, i64::MIN, false);
        let mut last_opened = None;
        let Keys::Int { entries, .. } = &mut self.keys else { unreachable!() };
        for i in 0..self.gids.len() {
            let t = ts[i];
            if t < cur_start || t >= cur_end {
                cur_start = w.start_of(t);
                cur_end = cur_start.saturating_add(w.size);
                cur_late = w.max_timestamp(cur_start) <= wm;
            }
            if cur_late {
                self.late_dropped += 1;
                continue;
            }
            let ok = validity.is_none_or(|b| bit_get(b, i));
            let k = if ok { to(v[i]) } else { 0 };
            let h = murmur3_u64((k as u64) ^ (cur_start as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15), HASH_SEED)
                ^ (!ok as u32);
            let mask = self.index.len() - 1;
            let mut slot = h as usize & mask;
            let g = loop {
                let e = self.index[slot];
                if e == EMPTY_SLOT {
                    let g = self.win_start.len() as u32;
                    self.index[slot] = ((h as u64) << 32) | g as u64;
                    self.win_start.push(cur_start);
                    self.rows.push(0);
                    entries.push(IntEntry { key: k, start: cur_start, valid: ok });
                    if last_opened != Some(cur_start) {
                        self.open_windows.insert(cur_start);
                        last_opened = Some(cur_start);
                    }
                    if self.win_start.len() * 2 > self.index.len() {
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
            self.rows[g as usize] += 1;
            self.gids[i] = g;
        }
    }

    fn assign_bytes(&mut self, ts: &[i64], batch: &BatchRef<'_>) {
        let w = self.spec.windows;
        let wm = self.watermark;
        let Keys::Bytes { arena, spans, cols, scratch } = &mut self.keys else { unreachable!() };
        let key_cols: Vec<ColumnRef<'_>> = cols.iter().map(|&(c, _)| batch.columns[c]).collect();
        let n = self.gids.len();
        for (i, &t) in ts[..n].iter().enumerate() {
            let start = w.start_of(t);
            if w.max_timestamp(start) <= wm {
                self.late_dropped += 1;
                continue;
            }
            scratch.clear();
            encode_key(&key_cols, i, scratch);
            let h = fmix32(murmur3_32(scratch, HASH_SEED) ^ murmur3_u64(start as u64, HASH_SEED));
            let mask = self.index.len() - 1;
            let mut slot = h as usize & mask;
            let g = loop {
                let e = self.index[slot];
                if e == EMPTY_SLOT {
                    let g = self.win_start.len() as u32;
                    self.index[slot] = ((h as u64) << 32) | g as u64;
                    self.win_start.push(start);
                    self.rows.push(0);
                    spans.push((arena.len(), scratch.len() as u32));
                    arena.extend_from_slice(scratch);
                    self.open_windows.insert(start);
                    if self.win_start.len() * 2 > self.index.len() {
                        grow_index(&mut self.index);
                    }
                    break g;
                }
                let g = e as u32;
                if (e >> 32) as u32 == h && self.win_start[g as usize] == start {
                    let (s, l) = spans[g as usize];
                    if &arena[s..s + l as usize] == scratch.as_slice() {
                        break g;
                    }
                }
                slot = (slot + 1) & mask;
            };
            self.rows[g as usize] += 1;
            self.gids[i] = g;
        }
    }

    /// Advances the watermark (never backwards) and returns the rows of every window it
    /// completes, or None when none fires. `i64::MAX` (end of input) fires everything.
    pub fn advance_watermark(&mut self, watermark: i64) -> Result<Option<RecordBatch>> {
        if watermark <= self.watermark {
            return Ok(None);
        }
        self.watermark = watermark;
        let w = self.spec.windows;
        let fired: Vec<i64> = self.open_windows.iter().copied().take_while(|&s| w.max_timestamp(s) <= watermark).collect();
        if fired.is_empty() {
            return Ok(None);
        }
        let last_fired = *fired.last().unwrap();
        // Fired groups, by window start, then first arrival.
        let mut out_groups: Vec<u32> = (0..self.win_start.len() as u32).filter(|&g| self.win_start[g as usize] <= last_fired).collect();
        if fired.len() > 1 {
            out_groups.sort_by_key(|&g| self.win_start[g as usize]);
        }
        let batch = self.emit(&out_groups)?;
        for s in &fired {
            self.open_windows.remove(s);
        }
        self.retain_open(last_fired);
        self.account()?;
        Ok(Some(batch))
    }

    fn emit(&self, groups: &[u32]) -> Result<RecordBatch> {
        let n = groups.len();
        let mut columns: Vec<Column> = Vec::with_capacity(self.output.fields.len());
        match &self.keys {
            Keys::Int { entries, dtype, .. } => {
                let validity = if groups.iter().all(|&g| entries[g as usize].valid) {
                    None
                } else {
                    Some(bitmap_from(groups.iter().map(|&g| entries[g as usize].valid)))
                };
                let key = |g: &u32| entries[*g as usize].key;
                let data = match dtype {
                    DataType::I32 => ColumnData::I32(groups.iter().map(|g| key(g) as i32).collect()),
                    DataType::I64 => ColumnData::I64(groups.iter().map(key).collect()),
                    _ => ColumnData::Timestamp(groups.iter().map(key).collect()),
                };
                columns.push(Column { data, validity });
            }
            Keys::Bytes { arena, spans, cols, .. } => {
                let keys: Vec<&[u8]> =
                    groups.iter().map(|&g| { let (s, l) = spans[g as usize]; &arena[s..s + l as usize] }).collect();
                columns.extend(decode_keys(&keys, cols.iter().map(|c| c.1)));
            }
        }
        let starts: Vec<i64> = groups.iter().map(|&g| self.win_start[g as usize]).collect();
        let size = self.spec.windows.size;
        columns.push(Column::new(ColumnData::Timestamp(starts.clone())));
        columns.push(Column::new(ColumnData::Timestamp(starts.iter().map(|&s| s.saturating_add(size)).collect())));
        for (a, spec) in self.accs.iter().zip(&self.spec.aggs) {
            columns.push(emit_acc(a, spec, groups, &self.rows)?);
        }
        let event_time = starts.iter().map(|&s| self.spec.windows.max_timestamp(s)).collect();
        Ok(RecordBatch { schema: self.output.clone(), columns, len: n, event_time: Some(event_time) })
    }

    /// Drops the groups of windows starting at or before `last_fired` and rebuilds the index.
    fn retain_open(&mut self, last_fired: i64) {
        let keep: Vec<usize> = (0..self.win_start.len()).filter(|&g| self.win_start[g] > last_fired).collect();
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
            self.win_start.clear();
            self.rows.clear();
            for a in &mut self.accs {
                a.n.clear();
                a.isum.clear();
                a.f.clear();
                a.i.clear();
            }
            self.index.fill(EMPTY_SLOT);
            return;
        }
        fn pick<T: Copy>(v: &mut Vec<T>, keep: &[usize]) {
            if !v.is_empty() {
                *v = keep.iter().map(|&g| v[g]).collect();
            }
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
        pick(&mut self.win_start, &keep);
        pick(&mut self.rows, &keep);
        for a in &mut self.accs {
            pick(&mut a.n, &keep);
            pick(&mut a.isum, &keep);
            pick(&mut a.f, &keep);
            pick(&mut a.i, &keep);
        }
        // Rehash the survivors; their hashes are recomputed from the stored old index.
        let old = std::mem::take(&mut self.index);
        let mut remap = vec![u32::MAX; old.iter().filter(|&&e| e != EMPTY_SLOT).count().max(keep.len())];
        for (new, &g) in keep.iter().enumerate() {
            if g >= remap.len() {
                remap.resize(g + 1, u32::MAX);
            }
            remap[g] = new as u32;
        }
        let cap = (keep.len() * 2).next_power_of_two().max(old.len());
        self.index = vec![EMPTY_SLOT; cap];
        let mask = cap - 1;
        for e in old {
            if e == EMPTY_SLOT {
                continue;
            }
            let g = (e as u32) as usize;
            let Some(&new) = remap.get(g) else { continue };
            if new == u32::MAX {
                continue;
            }
            let h = (e >> 32) as u32;
            let mut slot = h as usize & mask;
            while self.index[slot] != EMPTY_SLOT {
                slot = (slot + 1) & mask;
            }
            self.index[slot] = ((h as u64) << 32) | new as u64;
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

fn bitmap_from(bits: impl ExactSizeIterator<Item = bool>) -> Vec<u8> {
    let mut out = vec![0u8; bitmap_len(bits.len())];
    for (i, b) in bits.enumerate() {
        if b {
            bit_set(&mut out, i, true);
        }
    }
    out
}

fn emit_acc(a: &Acc, spec: &AggSpec, groups: &[u32], rows: &[i64]) -> Result<Column> {
    let nn = |g: u32| a.non_null(g as usize, rows);
    if a.kind == AggKind::Count {
        return Ok(Column::new(ColumnData::I64(groups.iter().map(|&g| nn(g)).collect())));
    }
    let validity =
        if groups.iter().all(|&g| nn(g) > 0) { None } else { Some(bitmap_from(groups.iter().map(|&g| nn(g) > 0))) };
    let float = a.input == DataType::F64;
    let data = match (a.kind, float) {
        (AggKind::Sum, true) | (AggKind::Min | AggKind::Max, true) => {
            ColumnData::F64(groups.iter().map(|&g| if nn(g) > 0 { a.f[g as usize] } else { 0.0 }).collect())
        }
        (AggKind::Avg, true) => ColumnData::F64(
            groups.iter().map(|&g| if nn(g) > 0 { a.f[g as usize] / nn(g) as f64 } else { 0.0 }).collect(),
        ),
        (AggKind::Avg, false) => ColumnData::F64(
            groups.iter().map(|&g| if nn(g) > 0 { a.isum[g as usize] as f64 / nn(g) as f64 } else { 0.0 }).collect(),
        ),
        (AggKind::Sum, false) => {
            let mut out = Vec::with_capacity(groups.len());
            for &g in groups {
                let s = a.isum[g as usize];
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
            let vals = groups.iter().map(|&g| if nn(g) > 0 { a.i[g as usize] } else { 0 });
            match a.out {
                DataType::I32 => ColumnData::I32(vals.map(|x| x as i32).collect()),
                DataType::Timestamp => ColumnData::Timestamp(vals.collect()),
                _ => ColumnData::I64(vals.collect()),
            }
        }
        (AggKind::Count, _) => unreachable!(),
    };
    Ok(Column { data, validity })
}

/// Rebuilds key columns from canonical key bytes (see [`encode_key`]).
pub fn decode_keys(keys: &[&[u8]], types: impl Iterator<Item = DataType>) -> Vec<Column> {
    let types: Vec<DataType> = types.collect();
    let n = keys.len();
    let mut pos = vec![0usize; n];
    let mut out = Vec::with_capacity(types.len());
    for t in types {
        let mut valid = vec![true; n];
        let mut i64s = Vec::new();
        let mut i32s = Vec::new();
        let mut f64s = Vec::new();
        let mut bools = vec![0u8; if t == DataType::Bool { bitmap_len(n) } else { 0 }];
        let mut ub = crate::batch::Utf8Builder::with_capacity(n, 0);
        for (r, k) in keys.iter().enumerate() {
            let p = &mut pos[r];
            let tag = k[*p];
            *p += 1;
            let present = tag == 1;
            valid[r] = present;
            let take = |p: &mut usize, len: usize| {
                let s = &k[*p..*p + len];
                *p += len;
                s
            };
            match t {
                DataType::I32 => i32s.push(if present { i32::from_le_bytes(take(p, 4).try_into().unwrap()) } else { 0 }),
                DataType::I64 | DataType::Timestamp => {
                    i64s.push(if present { i64::from_le_bytes(take(p, 8).try_into().unwrap()) } else { 0 })
                }
                DataType::F64 => {
                    f64s.push(if present { f64::from_bits(u64::from_le_bytes(take(p, 8).try_into().unwrap())) } else { 0.0 })
                }
                DataType::Bool => {
                    if present && take(p, 1)[0] == 1 {
                        bit_set(&mut bools, r, true);
                    }
                }
                DataType::Utf8 => {
                    if present {
                        let len = u32::from_le_bytes(take(p, 4).try_into().unwrap()) as usize;
                        ub.push(take(p, len));
                    } else {
                        ub.push(b"");
                    }
                }
            }
        }
        let data = match t {
            DataType::I32 => ColumnData::I32(i32s),
            DataType::I64 => ColumnData::I64(i64s),
            DataType::Timestamp => ColumnData::Timestamp(i64s),
            DataType::F64 => ColumnData::F64(f64s),
            DataType::Bool => ColumnData::Bool(bools),
            DataType::Utf8 => ub.finish(),
        };
        let validity = if valid.iter().all(|&v| v) { None } else { Some(bitmap_from(valid.into_iter())) };
        out.push(Column { data, validity });
    }
    out
}
