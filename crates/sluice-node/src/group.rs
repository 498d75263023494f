//! `NativeGroupAggregator`: the updating (non-windowed) aggregation, one call per batch.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use sluice_core::batch::Schema;
use sluice_core::group::GroupAggregator;
use sluice_core::window::{AggKind, AggSpec};

use crate::batch::{batch_out, batch_ref, event_time_slice, parse_schema, BatchOut, FieldSpec, TypedBytes};
use crate::error::to_napi;
use crate::window::AggregateSpec;

#[napi]
pub struct NativeGroupAggregator {
    input: Schema,
    inner: GroupAggregator,
}

#[napi]
impl NativeGroupAggregator {
    /// `input` may end with the `$rowkind` i32 column (an updating input); `state_ttl_ms` > 0:
    /// idle state retention (groups not written for that long expire).
    #[napi(constructor)]
    pub fn new(input: Vec<FieldSpec>, key_fields: Vec<u32>, aggregates: Vec<AggregateSpec>, state_ttl_ms: Option<i64>) -> Result<Self> {
        let input = parse_schema(&input);
        let aggs = aggregates.iter().map(|a| AggSpec { name: a.name.clone(), kind: AggKind::from(a.kind), field: a.field.map(|f| f as usize) }).collect();
        let inner = GroupAggregator::new(input.clone(), key_fields.iter().map(|&k| k as usize).collect(), aggs)
            .and_then(|g| g.with_ttl(state_ttl_ms.unwrap_or(0)))
            .map_err(to_napi)?;
        Ok(NativeGroupAggregator { input, inner })
    }

    /// Applies one batch at processing time `now` (epoch ms); returns its changes (keys, aggregates, `$rowkind`), or null.
    #[napi]
    pub fn push<'env>(&mut self, env: &'env Env, #[napi(ts_arg_type = "Array<Uint8Array | Int32Array | BigInt64Array | Float64Array>")] buffers: Vec<TypedBytes<'_>>, length: u32, #[napi(ts_arg_type = "BigInt64Array | undefined | null")] event_time: Option<TypedBytes<'_>>, now: i64) -> Result<Option<BatchOut<'env>>> {
        let et = event_time_slice(&event_time)?;
        let batch = batch_ref(&self.input, &buffers, length as usize, et)?;
        self.inner.push(&batch, now).map_err(to_napi)?.map(|b| batch_out(env, b)).transpose()
    }

    /// The state as rows (see sluice_core::group).
    #[napi]
    pub fn snapshot<'env>(&self, env: &'env Env) -> Result<BatchOut<'env>> {
        batch_out(env, self.inner.snapshot())
    }

    /// Adds the groups of a snapshot.
    #[napi]
    pub fn restore(&mut self, #[napi(ts_arg_type = "Array<Uint8Array | Int32Array | BigInt64Array | Float64Array>")] buffers: Vec<TypedBytes<'_>>, length: u32) -> Result<()> {
        let schema = self.inner.state_schema().clone();
        let batch = batch_ref(&schema, &buffers, length as usize, None)?;
        self.inner.restore(&batch).map_err(to_napi)
    }

    #[napi(getter)]
    pub fn groups(&self) -> u32 {
        self.inner.groups() as u32
    }
}
