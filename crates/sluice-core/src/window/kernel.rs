//! The operations of one kind of window: sliced (tumbling and sliding), session and count.
//! `WindowAggregator` holds one kernel behind a `Box<dyn WindowKernel>` and does the work every
//! kind shares (schema checks, allowed-lateness refiring); every call here covers a whole batch
//! or watermark, so the dynamic dispatch is never per row.

use super::acc::LATE;
use crate::batch::{BatchRef, RecordBatch};
use crate::error::{Error, Result};

/// What one push did.
pub(crate) struct Pushed {
    /// Late rows dropped.
    pub late: u64,
    /// Rows fired by the records themselves (count windows), not by a watermark.
    pub fired: Option<RecordBatch>,
}

pub(crate) trait WindowKernel {
    /// Whether rows must carry event timestamps (count windows ignore time).
    fn uses_event_time(&self) -> bool {
        true
    }

    /// Allowed lateness in ms (0 or more, checked by the caller); an error for kinds without it.
    fn set_lateness(&mut self, ms: i64) -> Result<()>;

    /// Adds a batch. `ts` are its event times (empty when `uses_event_time` is false).
    fn push(&mut self, batch: &BatchRef<'_>, ts: &[i64]) -> Result<Pushed>;

    /// Allowed lateness: the rows (ascending) that may reach a window that already fired; the
    /// caller pushes each alone and then calls `refire_last_row`. `ts` has one entry per row.
    fn refire_candidates(&self, _batch: &BatchRef<'_>, _ts: &[i64]) -> Vec<usize> {
        vec![]
    }

    /// After a one-row push: the rows of the fired windows that row reached, fired again.
    fn refire_last_row(&mut self) -> Result<Option<RecordBatch>> {
        Ok(None)
    }

    /// The rows of the last push that were late (dropped).
    fn late_rows(&self) -> Vec<u32> {
        vec![]
    }

    /// Advances the watermark (never backwards); the rows of every window it completes.
    fn advance_watermark(&mut self, _watermark: i64) -> Result<Option<RecordBatch>> {
        Ok(None)
    }

    /// Fires everything in state whatever the watermark and starts over (pre-aggregation).
    fn flush(&mut self) -> Result<Option<RecordBatch>> {
        Err(Error::config("flush is for tumbling and sliding windows: sessions and count windows cannot be pre-aggregated per batch"))
    }

    /// Late rows dropped so far.
    fn late_dropped(&self) -> u64 {
        0
    }

    fn watermark(&self) -> i64 {
        i64::MIN
    }

    /// The earliest window start in state (None when there is none); `Some(i64::MIN)` for
    /// kinds that do not track it.
    fn earliest_start(&self) -> Option<i64> {
        Some(i64::MIN)
    }

    /// Records that will never be emitted unless more come (count windows).
    fn unfired_rows(&self) -> u64 {
        0
    }

    /// Groups held: (slice, key) pairs, open sessions, or count-window slices.
    fn group_count(&self) -> usize;

    /// Bytes reserved in the memory pool.
    fn memory_held(&self) -> u64;
}

/// The rows whose group id is `LATE`.
pub(crate) fn late_rows_of(gids: &[u32]) -> Vec<u32> {
    gids.iter().enumerate().filter(|(_, &g)| g == LATE).map(|(i, _)| i as u32).collect()
}
