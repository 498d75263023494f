//! Keyed event-time window aggregation over whole batches: tumbling, sliding and session
//! windows, with the built-in aggregates count, sum, min, max, avg, first, last and
//! countDistinct.
//!
//! Column-at-a-time: `push` first maps every row of a batch to a group id (one hash-table
//! probe per row), then runs one tight loop per aggregate over the group ids.
//!
//! # Assigners (Flink semantics)
//! - **Tumbling** `[start, start + size)` with `start = ts - (ts - offset) mod size`.
//! - **Sliding** windows `[start, start + size)` starting every `slide` (`start ≡ offset mod
//!   slide`); a record belongs to every window containing it (as Flink's
//!   `SlidingEventTimeWindows.assignWindows`, also when the slide does not divide the size).
//!   A slide larger than the size is rejected (records between windows would be lost).
//! - **Session** windows `[first ts, last ts + gap)` (dynamic gap: `max(ts + gap(record))`)
//!   per key; a record's window `[ts, ts + gap)` merges with every open session of its key
//!   that it touches or overlaps (`start <= other.end && end >= other.start`, Flink's
//!   `TimeWindow.intersects`), so a record can bridge two sessions into one.
//!
//! A window fires when the watermark reaches `end - 1`. A record is late, dropped and counted,
//! when every window it belongs to has fired (sliding: its last window; sessions: its window
//! after merging with the open sessions of its key, as in Flink's `WindowOperator`, so a record
//! whose own window is complete still counts when it joins an open session). A sliding window
//! whose end passed the watermark before any of its records arrived never fires (Flink skips
//! late windows), even if later records of its other windows arrive.
//!
//! # Slices (`sliced.rs`): cost scales with the data, not with size / slide
//! Tumbling and sliding windows aggregate each record once, into its *slice* `[s, s + g)`
//! (`g = gcd(size, slide)`, `s ≡ offset mod g`): one group per (slice, key), numbered in
//! creation order. A window is the union of its `size / g` slices; when it fires, the slice
//! groups of each key are merged into one scratch row (key ids assigned when a group is created
//! make this an array lookup): counts and sums add, min/max compare, first/last keep the value
//! with the smaller/larger arrival sequence number, and countDistinct takes the union of the
//! per-slice distinct-value sets (exact; the union is built per fired row). A slice's groups are
//! dropped once the last window containing it has fired (compacted when they are half of all
//! groups). Tumbling windows are the case `slide = size`: one slice per window, emitted as is.
//!
//! # Sessions (`session.rs`)
//! Per key, a list of open sessions sorted by start. Merging adds the accumulators of the later
//! sessions (by start) into the earliest one, which survives; rows of the same batch already
//! assigned to a merged-away session are redirected to the survivor before the aggregates run.
//! Sessions fire from a min-heap on their end.
//!
//! # Output order (identical in both engines)
//! The rows fired by one watermark come in the order of their window's end, then its start,
//! then the first arrival of the group: the arrival sequence number of the earliest-arriving
//! record of that key in that window (every pushed row gets the next sequence number). For
//! tumbling windows that is the order in which the groups were created. Windows with an
//! earlier end never fire later, so the whole output is in this order.
//!
//! # first / last / countDistinct
//! `first` is the value of the earliest-arriving record of the window whose field is not
//! null, `last` that of the latest-arriving one (null when there is none); any field type.
//! Slices and merged sessions keep the arrival sequence number of their value, so combining
//! picks correctly. `countDistinct` counts distinct non-null canonical values (integers, f64
//! bits with -0 = 0 and one NaN, bool, utf8 bytes), exactly.
//!
//! # Float sums
//! f64 sums add values in arrival order within a slice or session; sliding windows add the
//! slice sums in slice order; merged sessions add the merged sessions' sums (in start order)
//! before the rows of the batch that caused the merge. Both engines do the same additions in
//! the same order, so results are bit-identical for identical input batches.

mod acc;
mod count;
mod kernel;
mod key_table;
mod session;
mod sliced;

use std::sync::Arc;

use crate::batch::{BatchRef, Column, ColumnData, DataType, Field, RecordBatch, Schema, SchemaRef};
use crate::error::{Error, Result};
use crate::memory::{MemoryPool, MemoryPoolRef};
use kernel::WindowKernel;

pub use acc::LATE;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggKind {
    Count,
    Sum,
    Min,
    Max,
    Avg,
    First,
    Last,
    CountDistinct,
}

impl AggKind {
    pub fn parse(s: &str) -> Result<AggKind> {
        Ok(match s {
            "count" => AggKind::Count,
            "sum" => AggKind::Sum,
            "min" => AggKind::Min,
            "max" => AggKind::Max,
            "avg" => AggKind::Avg,
            "first" => AggKind::First,
            "last" => AggKind::Last,
            "countDistinct" => AggKind::CountDistinct,
            other => {
                return Err(Error::config(format!(
                    "unknown aggregate '{other}'; use count, sum, min, max, avg, first, last or countDistinct"
                )))
            }
        })
    }
}

/// One named aggregate. `field: None` is only valid for `Count` (count of rows); with a field,
/// `Count` counts its non-null values and the others ignore nulls (null when none;
/// countDistinct is 0 then).
#[derive(Clone, Debug)]
pub struct AggSpec {
    pub name: String,
    pub kind: AggKind,
    pub field: Option<usize>,
}

/// The window assigner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Windows {
    Tumbling { size: i64, offset: i64 },
    Sliding { size: i64, slide: i64, offset: i64 },
    Session { gap: i64 },
    /// The gap of each row comes from an i64 column of the input (computed by the caller).
    DynamicSession { gap_field: usize },
    /// Count windows per key: every `slide` records, the key's last `size` records.
    Count { size: i64, slide: i64 },
}

impl Windows {
    pub fn tumbling(size: i64, offset: i64) -> Result<Windows> {
        if size <= 0 {
            return Err(Error::config(format!(
                "a tumbling window needs a size above 0 ms, got {size}; pass the window length in ms"
            )));
        }
        if offset.unsigned_abs() >= size as u64 {
            return Err(Error::config(format!(
                "a window offset must be smaller than the window size ({size} ms), got {offset}"
            )));
        }
        Ok(Windows::Tumbling { size, offset })
    }

    pub fn sliding(size: i64, slide: i64, offset: i64) -> Result<Windows> {
        if size <= 0 {
            return Err(Error::config(format!(
                "a sliding window needs a size above 0 ms, got {size}; pass the window length in ms"
            )));
        }
        if slide <= 0 {
            return Err(Error::config(format!(
                "a sliding window needs a slide above 0 ms, got {slide}; pass how often a window starts, in ms"
            )));
        }
        if slide > size {
            return Err(Error::config(format!(
                "a sliding window's slide ({slide} ms) is larger than its size ({size} ms), so records between windows would be lost; use a slide of at most the size"
            )));
        }
        if offset.unsigned_abs() >= slide as u64 {
            return Err(Error::config(format!(
                "a sliding window's offset must be smaller than its slide ({slide} ms), got {offset}"
            )));
        }
        Ok(Windows::Sliding { size, slide, offset })
    }

    pub fn session(gap: i64) -> Result<Windows> {
        if gap <= 0 {
            return Err(Error::config(format!(
                "a session window needs a gap above 0 ms, got {gap}; pass the inactivity gap that ends a session, in ms"
            )));
        }
        Ok(Windows::Session { gap })
    }

    pub fn count(size: i64, slide: i64) -> Result<Windows> {
        if size <= 0 {
            return Err(Error::config(format!("a count window needs a size of at least 1 record, got {size}")));
        }
        if slide <= 0 {
            return Err(Error::config(format!(
                "a count window needs a slide of at least 1 record, got {slide}; pass how many records of a key start the next window"
            )));
        }
        Ok(Windows::Count { size, slide })
    }
}

#[derive(Clone, Debug)]
pub struct WindowAggSpec {
    pub input: SchemaRef,
    pub key_fields: Vec<usize>,
    pub windows: Windows,
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
        // Count windows have no time bounds (Flink's GlobalWindow).
        if !matches!(self.windows, Windows::Count { .. }) {
            fields.push(Field::new("windowStart", DataType::Timestamp));
            fields.push(Field::new("windowEnd", DataType::Timestamp));
        }
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

pub fn agg_output_type(a: &AggSpec, input: &Schema) -> Result<DataType> {
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
        AggKind::Count | AggKind::CountDistinct => DataType::I64,
        AggKind::First | AggKind::Last => input_type,
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

/// Allowed lateness: records are dropped (late) once every window they belong to is past this
/// watermark; at the end of input (`i64::MAX`) everything is.
pub(crate) fn drop_watermark(watermark: i64, lateness: i64) -> i64 {
    if watermark == i64::MAX {
        i64::MAX
    } else {
        watermark.saturating_sub(lateness)
    }
}

/// Keyed event-time window aggregation: tumbling and sliding windows (slices), sessions, or
/// count windows.
pub struct WindowAggregator {
    kernel: Box<dyn WindowKernel>,
    input: SchemaRef,
    output: SchemaRef,
    /// Rows produced by the last push (count windows; time windows fired again by records
    /// within their allowed lateness), until taken.
    pushed_out: Option<RecordBatch>,
    lateness: i64,
    /// The late rows of the last push when it was split into parts (allowed lateness).
    split_late: Option<Vec<u32>>,
}

impl WindowAggregator {
    pub fn new(spec: WindowAggSpec) -> Result<WindowAggregator> {
        WindowAggregator::with_pool(spec, MemoryPool::unbounded())
    }

    pub fn with_pool(spec: WindowAggSpec, pool: MemoryPoolRef) -> Result<WindowAggregator> {
        let output = Arc::new(spec.output_schema()?);
        let input = spec.input.clone();
        let out = output.clone();
        // No key fields: one group per window (windowAll); the empty key bytes are that group.
        // Re-check the assigner (the fields are public).
        let kernel: Box<dyn WindowKernel> = match spec.windows {
            Windows::Tumbling { size, offset } => {
                Windows::tumbling(size, offset)?;
                Box::new(sliced::SlicedAggregator::new(spec, out, size, size, offset, pool)?)
            }
            Windows::Sliding { size, slide, offset } => {
                Windows::sliding(size, slide, offset)?;
                Box::new(sliced::SlicedAggregator::new(spec, out, size, slide, offset, pool)?)
            }
            Windows::Session { gap } => {
                Windows::session(gap)?;
                Box::new(session::SessionAggregator::new(spec, out, session::Gap::Fixed(gap), pool)?)
            }
            Windows::DynamicSession { gap_field } => {
                let f = spec.input.fields.get(gap_field).ok_or_else(|| {
                    Error::config(format!("session gap field index {gap_field} out of range"))
                })?;
                if f.data_type != DataType::I64 {
                    return Err(Error::config(format!(
                        "the session gap field '{}' must be i64 (ms), got {}",
                        f.name, f.data_type
                    )));
                }
                Box::new(session::SessionAggregator::new(spec, out, session::Gap::Field(gap_field), pool)?)
            }
            Windows::Count { size, slide } => {
                Windows::count(size, slide)?;
                Box::new(count::CountAggregator::new(spec, out, size as u64, slide as u64, pool)?)
            }
        };
        Ok(WindowAggregator { kernel, input, output, pushed_out: None, lateness: 0, split_late: None })
    }

    pub fn output_schema(&self) -> SchemaRef {
        self.output.clone()
    }
    pub fn input_schema(&self) -> SchemaRef {
        self.input.clone()
    }
    pub fn late_dropped(&self) -> u64 {
        self.kernel.late_dropped()
    }
    pub fn watermark(&self) -> i64 {
        self.kernel.watermark()
    }
    /// Session windows: the earliest start of a session in state (None when there is none).
    /// Other windows do not track it: Some(i64::MIN).
    pub fn earliest_start(&self) -> Option<i64> {
        self.kernel.earliest_start()
    }
    /// Groups held: (slice, key) pairs, or open sessions.
    pub fn group_count(&self) -> usize {
        self.kernel.group_count()
    }
    pub fn memory_held(&self) -> u64 {
        self.kernel.memory_held()
    }

    /// Allowed lateness (Flink's `allowedLateness`): a time window's state is kept until the
    /// watermark passes its end - 1 + `ms`, and every record that reaches it after it fired
    /// fires it again (the updated row comes from `take_pushed_output`); records whose windows
    /// are all past that are late. Set before the first push.
    pub fn set_allowed_lateness(&mut self, ms: i64) -> Result<()> {
        if ms < 0 {
            return Err(Error::config(format!("allowed lateness must be 0 ms or more, got {ms}")));
        }
        self.kernel.set_lateness(ms)?;
        self.lateness = ms;
        Ok(())
    }

    /// Adds a batch. Returns the number of late rows dropped from it.
    pub fn push(&mut self, batch: &BatchRef<'_>) -> Result<u64> {
        if batch.schema.fields != self.input.fields {
            return Err(Error::data("the batch's schema differs from the window operator's input schema"));
        }
        self.split_late = None;
        if self.pushed_out.is_some() {
            return Err(Error::data("the rows fired by the previous batch were not taken (take_pushed_output) before this push"));
        }
        let ts: &[i64] = if self.kernel.uses_event_time() {
            batch.event_time.ok_or_else(|| {
                Error::data("the window operator got rows without event timestamps; assign them with assignTimestampsAndWatermarks")
            })?
        } else {
            &[]
        };
        // Only time windows take allowed lateness (count windows refuse it).
        let candidates = if self.lateness == 0 { vec![] } else { self.kernel.refire_candidates(batch, &ts[..batch.len]) };
        if candidates.is_empty() {
            let pushed = self.kernel.push(batch, ts)?;
            self.pushed_out = pushed.fired;
            return Ok(pushed.late);
        }
        self.push_refiring(batch, &candidates)
    }

    /// Allowed lateness: the rows that reach a fired window go one at a time, each firing
    /// its windows again with the contents up to that row (as Flink's per-record trigger);
    /// the rows between them go in bulk. Slow, but only for late rows.
    fn push_refiring(&mut self, batch: &BatchRef<'_>, candidates: &[usize]) -> Result<u64> {
        let mut late = Vec::new();
        let mut dropped = 0;
        let mut fired = Vec::new();
        let mut at = 0;
        let mut parts: Vec<(usize, usize)> = Vec::new();
        for &c in candidates {
            if at < c {
                parts.push((at, c));
            }
            parts.push((c, c + 1));
            at = c + 1;
        }
        if at < batch.len {
            parts.push((at, batch.len));
        }
        for (start, end) in parts {
            let part = batch.slice_owned(start, end);
            let pref = part.as_ref();
            let pushed = self.kernel.push(&pref, part.event_time.as_deref().unwrap())?;
            dropped += pushed.late;
            fired.extend(pushed.fired);
            late.extend(self.kernel.late_rows().into_iter().map(|r| r + start as u32));
            if end - start == 1 && candidates.binary_search(&start).is_ok() {
                fired.extend(self.kernel.refire_last_row()?);
            }
        }
        self.split_late = Some(late);
        if !fired.is_empty() {
            self.pushed_out = Some(RecordBatch::concat(self.output_schema(), &fired));
        }
        Ok(dropped)
    }

    /// Rows fired by the pushes since the last call (count windows fire on records), or None.
    pub fn take_pushed_output(&mut self) -> Option<RecordBatch> {
        self.pushed_out.take()
    }

    /// Count windows: records after the last firing of their key (not emitted at the end of
    /// input, as in Flink). 0 for time windows.
    pub fn unfired_rows(&self) -> u64 {
        self.kernel.unfired_rows()
    }

    /// The rows of the last pushed batch that were late (dropped), for a side output.
    pub fn late_rows(&self) -> Vec<u32> {
        if let Some(l) = &self.split_late {
            return l.clone();
        }
        self.kernel.late_rows()
    }

    /// Advances the watermark (never backwards) and returns the rows of every window it
    /// completes, or None when none fires. `i64::MAX` (end of input) fires everything.
    pub fn advance_watermark(&mut self, watermark: i64) -> Result<Option<RecordBatch>> {
        self.kernel.advance_watermark(watermark)
    }

    /// Tumbling and sliding windows: fires every window in state whatever the watermark and
    /// forgets it, back to no watermark (a pre-aggregation of one batch at a time).
    pub fn flush(&mut self) -> Result<Option<RecordBatch>> {
        self.kernel.flush()
    }
}

/// The output batch: key columns, window bounds, aggregates of `accs` slots `rows` (in
/// order); event time is each window's last timestamp.
pub(crate) fn build_output(
    output: &SchemaRef,
    mut columns: Vec<Column>,
    starts: Vec<i64>,
    ends: Vec<i64>,
    accs: &acc::Accs,
    specs: &[AggSpec],
    rows: &[u32],
) -> Result<RecordBatch> {
    let n = rows.len();
    let event_time = ends.iter().map(|&e| e.saturating_sub(1)).collect();
    columns.push(Column::new(ColumnData::Timestamp(starts)));
    columns.push(Column::new(ColumnData::Timestamp(ends)));
    columns.extend(accs.emit(specs, rows)?);
    Ok(RecordBatch { schema: output.clone(), columns, len: n, event_time: Some(event_time) })
}
