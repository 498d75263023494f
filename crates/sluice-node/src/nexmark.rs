//! `NativeNexmarkGenerator`: the deterministic Nexmark generator, one call per batch.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use sluice_core::batch::RecordBatch;
use sluice_core::nexmark::{EventKind, NexmarkConfig, NexmarkGenerator};

use crate::batch::{batch_layout, batch_out, copy_into, BatchLayout, BatchOut, FieldSpec, TypedBytes};
use crate::error::{config_error, to_napi};
use crate::kinds::NexmarkKind;

#[napi(object)]
pub struct NexmarkConfigSpec {
    pub seed: u32,
    pub event_count: f64,
    pub rate_per_sec: f64,
    pub base_time_ms: f64,
    pub split_index: f64,
    pub split_count: f64,
}

fn whole(v: f64, what: &str) -> Result<u64> {
    if v.fract() != 0.0 || !(0.0..=9_007_199_254_740_991.0).contains(&v) {
        return Err(config_error(format!("Nexmark {what} must be a whole number >= 0, got {v}")));
    }
    Ok(v as u64)
}

/// A filter the generator applies as it builds rows (filter pushdown).
#[napi(object)]
pub struct PushedFilterSpec {
    /// The fields the filter reads, in the order its spec's field indices count them.
    pub fields: Vec<String>,
    /// The calc spec (a filter, no columns) as JSON.
    pub spec: String,
}

#[napi]
pub struct NativeNexmarkGenerator {
    inner: NexmarkGenerator,
    /// The batch `generate` made, until `write_into` copies it out.
    pending: Option<(RecordBatch, Option<u32>)>,
}

#[napi]
impl NativeNexmarkGenerator {
    #[napi(constructor)]
    /// `filter`: a pushed filter's fields and its calc spec (JSON), or null.
    pub fn new(config: NexmarkConfigSpec, kind: NexmarkKind, fields: Option<Vec<String>>, filter: Option<PushedFilterSpec>) -> Result<Self> {
        let config = NexmarkConfig {
            seed: config.seed,
            event_count: whole(config.event_count, "eventCount")?,
            rate_per_sec: whole(config.rate_per_sec, "ratePerSec")?,
            base_time_ms: whole(config.base_time_ms, "baseTimeMs")? as i64,
            split_index: whole(config.split_index, "splitIndex")?,
            split_count: whole(config.split_count, "splitCount")?,
        };
        let kind = EventKind::from(kind);
        let mut inner = NexmarkGenerator::new(config, kind, fields.as_deref()).map_err(to_napi)?;
        if let Some(f) = filter {
            inner = inner.with_filter(&f.fields, &f.spec).map_err(to_napi)?;
        }
        Ok(NativeNexmarkGenerator { inner, pending: None })
    }

    /// The next batch of up to `max_rows` events of this kind, or null when exhausted.
    #[napi]
    pub fn next_batch<'env>(&mut self, env: &'env Env, max_rows: u32) -> Result<Option<BatchOut<'env>>> {
        self.inner.next_batch(max_rows as usize).map_err(to_napi)?.map(|b| batch_out(env, b)).transpose()
    }

    /// The next batch, kept here: its layout, for the caller to allocate buffers (its own, to
    /// reuse) that `write_into` then fills; null when exhausted. Saves the fresh typed arrays of
    /// `next_batch`, whose memory is new to the process each batch.
    #[napi]
    pub fn generate(&mut self, max_rows: u32) -> Result<Option<BatchLayout>> {
        let Some(batch) = self.inner.next_batch(max_rows as usize).map_err(to_napi)? else {
            self.pending = None;
            return Ok(None);
        };
        let layout = batch_layout(&batch);
        self.pending = Some((batch, layout.event_time_column));
        Ok(Some(layout))
    }

    /// Copies the batch `generate` made into `buffers`, of the sizes its layout gave.
    #[napi]
    pub fn write_into(&mut self, #[napi(ts_arg_type = "Array<Uint8Array>")] mut buffers: Vec<TypedBytes<'_>>) -> Result<()> {
        let (batch, event_time_column) = self.pending.take().ok_or_else(|| config_error("internal error: write_into without a batch generated"))?;
        copy_into(&batch, event_time_column, &mut buffers)
    }

    /// With a filter: the highest event time the last batch scanned, dropped rows included
    /// (-Infinity: none). Exact: event times are within ±2^53 ms.
    #[napi]
    pub fn read_max_event_time(&self) -> f64 {
        self.inner.read_max_event_time().map_or(f64::NEG_INFINITY, |t| t as f64)
    }

    #[napi]
    pub fn position(&self) -> f64 {
        self.inner.position() as f64
    }

    #[napi]
    pub fn seek(&mut self, position: f64) -> Result<()> {
        self.inner.seek(whole(position, "position")?);
        Ok(())
    }

    #[napi(getter)]
    pub fn fields(&self) -> Vec<FieldSpec> {
        self.inner
            .output_schema()
            .fields
            .iter()
            .map(|f| FieldSpec { name: f.name.clone(), data_type: f.data_type.into() })
            .collect()
    }
}
