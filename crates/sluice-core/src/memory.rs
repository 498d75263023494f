//! Managed memory: a budget that operators reserve from in fixed-size segments.
//!
//! Every operator's growth (hash tables, key arenas, accumulators) is reserved here first, so
//! a job cannot grow past its budget: a reservation that does not fit is an error the
//! operator reports (with what to change), never an abort. Segment-granular accounting mirrors
//! Flink's 32 KiB memory segments.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::{Error, Result};

pub const SEGMENT_SIZE: u64 = 32 * 1024;

#[derive(Debug)]
pub struct MemoryPool {
    budget: u64,
    used: AtomicU64,
    peak: AtomicU64,
}

pub type MemoryPoolRef = Arc<MemoryPool>;

impl MemoryPool {
    pub fn new(budget_bytes: u64) -> MemoryPoolRef {
        Arc::new(MemoryPool { budget: budget_bytes, used: AtomicU64::new(0), peak: AtomicU64::new(0) })
    }

    pub fn unbounded() -> MemoryPoolRef {
        MemoryPool::new(u64::MAX)
    }

    pub fn budget(&self) -> u64 {
        self.budget
    }
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }
    pub fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }

    fn try_take(&self, bytes: u64) -> bool {
        let mut cur = self.used.load(Ordering::Relaxed);
        loop {
            let next = match cur.checked_add(bytes) {
                Some(n) if n <= self.budget => n,
                _ => return false,
            };
            match self.used.compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => {
                    self.peak.fetch_max(next, Ordering::Relaxed);
                    return true;
                }
                Err(actual) => cur = actual,
            }
        }
    }

    fn give_back(&self, bytes: u64) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
    }
}

/// What one consumer holds of a pool, in whole segments; released on drop.
#[derive(Debug)]
pub struct Reservation {
    pool: MemoryPoolRef,
    consumer: String,
    held: u64,
}

impl Reservation {
    pub fn new(pool: MemoryPoolRef, consumer: impl Into<String>) -> Reservation {
        Reservation { pool, consumer: consumer.into(), held: 0 }
    }

    pub fn held(&self) -> u64 {
        self.held
    }

    /// Grows or shrinks what is held to cover `bytes` (rounded up to whole segments).
    pub fn resize(&mut self, bytes: u64) -> Result<()> {
        let want = bytes.div_ceil(SEGMENT_SIZE) * SEGMENT_SIZE;
        if want > self.held {
            let more = want - self.held;
            if !self.pool.try_take(more) {
                return Err(Error::memory(format!(
                    "{} needs {} KiB more managed memory but the budget of {} MiB has {} KiB free; \
                     raise the job's managed memory budget or reduce the key space",
                    self.consumer,
                    more / 1024,
                    self.pool.budget() / (1024 * 1024),
                    (self.pool.budget().saturating_sub(self.pool.used())) / 1024
                )));
            }
        } else if want < self.held {
            self.pool.give_back(self.held - want);
        }
        self.held = want;
        Ok(())
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.pool.give_back(self.held);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_round_to_segments_and_release_on_drop() {
        let pool = MemoryPool::new(4 * SEGMENT_SIZE);
        let mut a = Reservation::new(pool.clone(), "a");
        a.resize(1).unwrap();
        assert_eq!(pool.used(), SEGMENT_SIZE);
        a.resize(3 * SEGMENT_SIZE).unwrap();
        let mut b = Reservation::new(pool.clone(), "b");
        let err = b.resize(2 * SEGMENT_SIZE).unwrap_err();
        assert!(err.message.contains("b needs 64 KiB more"), "{}", err.message);
        b.resize(SEGMENT_SIZE).unwrap();
        assert_eq!(pool.used(), 4 * SEGMENT_SIZE);
        drop(a);
        assert_eq!(pool.used(), SEGMENT_SIZE);
        assert_eq!(pool.peak(), 4 * SEGMENT_SIZE);
    }
}
