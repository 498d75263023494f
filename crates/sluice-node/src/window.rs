//! `NativeWindowAggregator`: the keyed window operator (tumbling, sliding, session, count),
//! one call per batch.

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use sluice_core::window::{AggKind, AggSpec, WindowAggSpec, WindowAggregator, Windows};

use crate::batch::{batch_out, batch_ref, event_time_slice, parse_schema, BatchOut, FieldSpec, TypedBytes};
use crate::error::{config_error, to_napi};
use crate::kinds::{AggregateKind, WindowKind};

#[napi(object)]
pub struct AggregateSpec {
    pub name: String,
    pub kind: AggregateKind,
    /// Input field index; absent for count().
    pub field: Option<u32>,
}

/// The window assigner: tumbling (sizeMs, offsetMs), sliding (sizeMs, slideMs, offsetMs),
/// session (gapMs, or dynamicGapField: an i64 input column of gaps) or count (size, slide).
#[napi(object)]
pub struct WindowDescriptor {
    pub kind: WindowKind,
    pub size_ms: Option<i64>,
    pub slide_ms: Option<i64>,
    pub offset_ms: Option<i64>,
    pub gap_ms: Option<i64>,
    pub dynamic_gap_field: Option<u32>,
    /// Count windows: records per window and records between firings.
    pub size: Option<i64>,
    pub slide: Option<i64>,
}

#[napi(object)]
pub struct WindowAggregatorSpec {
    pub input: Vec<FieldSpec>,
    pub key_fields: Vec<u32>,
    pub window: WindowDescriptor,
    pub aggregates: Vec<AggregateSpec>,
    /// Time windows: how long (ms) a fired window is kept and fired again by late records.
    pub allowed_lateness_ms: Option<i64>,
    /// The managed memory pool (openMemoryPool) whose budget bounds the operator's state.
    pub memory_pool: Option<String>,
}

fn windows_of(w: &WindowDescriptor) -> Result<Windows> {
    let need = |v: Option<i64>, what: &str| v.ok_or_else(|| config_error(format!("a {} window descriptor needs {what}", w.kind.name())));
    match w.kind {
        WindowKind::Tumbling => Windows::tumbling(need(w.size_ms, "sizeMs")?, w.offset_ms.unwrap_or(0)).map_err(to_napi),
        WindowKind::Sliding => {
            Windows::sliding(need(w.size_ms, "sizeMs")?, need(w.slide_ms, "slideMs")?, w.offset_ms.unwrap_or(0)).map_err(to_napi)
        }
        WindowKind::Session => match (w.gap_ms, w.dynamic_gap_field) {
            (Some(gap), None) => Windows::session(gap).map_err(to_napi),
            (None, Some(f)) => Ok(Windows::DynamicSession { gap_field: f as usize }),
            _ => Err(config_error("a session window descriptor needs either gapMs or dynamicGapField")),
        },
        WindowKind::Count => Windows::count(need(w.size, "size")?, need(w.slide, "slide")?).map_err(to_napi),
    }
}

#[napi]
pub struct NativeWindowAggregator {
    inner: WindowAggregator,
}

/// Watermarks cross as numbers; ±Infinity are the start and end of time.
pub fn watermark_to_i64(wm: f64) -> i64 {
    if wm == f64::INFINITY {
        i64::MAX
    } else if wm == f64::NEG_INFINITY {
        i64::MIN
    } else {
        wm.floor() as i64
    }
}

#[napi]
impl NativeWindowAggregator {
    #[napi(constructor)]
    pub fn new(spec: WindowAggregatorSpec) -> Result<Self> {
        let input = Arc::new(parse_schema(&spec.input));
        let aggs = spec
            .aggregates
            .iter()
            .map(|a| AggSpec { name: a.name.clone(), kind: AggKind::from(a.kind), field: a.field.map(|f| f as usize) })
            .collect();
        let windows = windows_of(&spec.window)?;
        let pool = crate::memory::pool_for(spec.memory_pool.as_deref())?;
        let mut inner = WindowAggregator::with_pool(
            WindowAggSpec { input, key_fields: spec.key_fields.iter().map(|&k| k as usize).collect(), windows, aggs },
            pool,
        )
        .map_err(to_napi)?;
        inner.set_allowed_lateness(spec.allowed_lateness_ms.unwrap_or(0)).map_err(to_napi)?;
        Ok(NativeWindowAggregator { inner })
    }

    /// Adds one batch; returns the number of late rows it dropped.
    #[napi]
    pub fn push(&mut self, #[napi(ts_arg_type = "Array<Uint8Array | Int32Array | BigInt64Array | Float64Array>")] buffers: Vec<TypedBytes<'_>>, length: u32, #[napi(ts_arg_type = "BigInt64Array | undefined | null")] event_time: Option<TypedBytes<'_>>) -> Result<u32> {
        let schema = self.inner_schema();
        let et = event_time_slice(&event_time)?;
        let batch = batch_ref(&schema, &buffers, length as usize, et)?;
        let late = self.inner.push(&batch).map_err(to_napi)?;
        Ok(late as u32)
    }

    /// Advances the watermark; returns the fired rows, or null.
    #[napi]
    pub fn advance_watermark<'env>(&mut self, env: &'env Env, watermark: f64) -> Result<Option<BatchOut<'env>>> {
        self.inner.advance_watermark(watermark_to_i64(watermark)).map_err(to_napi)?.map(|b| batch_out(env, b)).transpose()
    }

    /// Tumbling and sliding windows: fires everything in state and starts over (pre-aggregation).
    #[napi]
    pub fn flush<'env>(&mut self, env: &'env Env) -> Result<Option<BatchOut<'env>>> {
        self.inner.flush().map_err(to_napi)?.map(|b| batch_out(env, b)).transpose()
    }

    /// The rows fired by the last push (count windows; time windows fired again by records
    /// within their allowed lateness), or null.
    #[napi]
    pub fn take_pushed_output<'env>(&mut self, env: &'env Env) -> Result<Option<BatchOut<'env>>> {
        self.inner.take_pushed_output().map(|b| batch_out(env, b)).transpose()
    }

    /// Count windows: records after their key's last firing.
    #[napi(getter)]
    pub fn unfired_rows(&self) -> f64 {
        self.inner.unfired_rows() as f64
    }

    /// Indices of the rows of the last pushed batch that were late.
    #[napi]
    pub fn late_rows(&self) -> Uint32Array {
        Uint32Array::new(self.inner.late_rows())
    }

    #[napi(getter)]
    pub fn late_dropped(&self) -> f64 {
        self.inner.late_dropped() as f64
    }

    #[napi(getter)]
    pub fn memory_bytes(&self) -> f64 {
        self.inner.memory_held() as f64
    }

    /// Session windows: the earliest start of a session in state, +Infinity when none;
    /// -Infinity for other windows (not tracked).
    #[napi]
    pub fn earliest_start(&self) -> f64 {
        match self.inner.earliest_start() {
            None => f64::INFINITY,
            Some(i64::MIN) => f64::NEG_INFINITY,
            // Event times are checked to lie within ±2^53 ms, so the conversion is exact.
            Some(t) => t as f64,
        }
    }

    #[napi(getter)]
    pub fn group_count(&self) -> u32 {
        self.inner.group_count() as u32
    }
}

impl NativeWindowAggregator {
    fn inner_schema(&self) -> Arc<sluice_core::batch::Schema> {
        self.inner.input_schema()
    }
}
