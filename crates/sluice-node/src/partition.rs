//! Hash partitioning of a whole batch into per-subtask batches, one call per batch.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use sluice_core::partition::{hash_partition, split_by_targets};

use crate::batch::{batch_out, batch_ref, event_time_slice, parse_schema, to_napi, BatchOut, FieldSpec};

/// Splits a batch (fields, buffers, row count, event time) by key group into `parallelism`
/// batches, rows in their original order.
#[napi(js_name = "hashPartition")]
#[allow(clippy::too_many_arguments)]
pub fn hash_partition_batch<'env>(
    env: &'env Env,
    fields: Vec<FieldSpec>,
    buffers: Vec<Uint8Array>,
    length: u32,
    event_time: Option<Uint8Array>,
    key_fields: Vec<u32>,
    parallelism: u32,
    max_parallelism: u32,
) -> Result<Vec<BatchOut<'env>>> {
    let schema = parse_schema(&fields)?;
    let et = event_time_slice(&event_time)?;
    let batch = batch_ref(&schema, &buffers, length as usize, et)?;
    let keys: Vec<usize> = key_fields.iter().map(|&k| k as usize).collect();
    let parts = hash_partition(&batch, &keys, parallelism, max_parallelism).map_err(to_napi)?;
    parts.into_iter().map(|p| batch_out(env, p)).collect()
}

/// Splits a batch into `n` batches by a target per row (computed by the runtime), rows in order.
#[napi(js_name = "partitionByTargets")]
pub fn partition_by_targets<'env>(
    env: &'env Env,
    fields: Vec<FieldSpec>,
    buffers: Vec<Uint8Array>,
    length: u32,
    event_time: Option<Uint8Array>,
    targets: Uint32Array,
    n: u32,
) -> Result<Vec<BatchOut<'env>>> {
    let schema = parse_schema(&fields)?;
    let et = event_time_slice(&event_time)?;
    let batch = batch_ref(&schema, &buffers, length as usize, et)?;
    let parts = split_by_targets(&batch, &targets, n).map_err(to_napi)?;
    parts.into_iter().map(|p| batch_out(env, p)).collect()
}
