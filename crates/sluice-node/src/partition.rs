//! Partitioning of a whole batch into per-subtask batches, one call per batch. The parts are
//! written straight into new JavaScript typed arrays (sized first, then filled in one pass per
//! column), so a row is copied once, not gathered into Rust memory and copied again.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use sluice_core::batch::{bitmap_len, BatchRef, ValuesRef};
use sluice_core::partition::{
    hash_routing, part_sizes, scatter, target_routing, ColumnMut, PartMut, Routing, ValuesMut,
};

use crate::batch::{batch_ref, event_time_slice, parse_schema, BatchOut, FieldSpec, TypedBytes};
use crate::error::to_napi;

/// Splits a batch (fields, buffers, row count, event time) by key group into `parallelism`
/// batches, rows in their original order.
#[napi(js_name = "hashPartition")]
#[allow(clippy::too_many_arguments)]
pub fn hash_partition_batch<'env>(
    env: &'env Env,
    fields: Vec<FieldSpec>,
    #[napi(ts_arg_type = "Array<Uint8Array | Int32Array | BigInt64Array | Float64Array>")] buffers: Vec<TypedBytes<'_>>,
    length: u32,
    #[napi(ts_arg_type = "BigInt64Array | undefined | null")] event_time: Option<TypedBytes<'_>>,
    key_fields: Vec<u32>,
    parallelism: u32,
    max_parallelism: u32,
) -> Result<Vec<BatchOut<'env>>> {
    let schema = parse_schema(&fields);
    let et = event_time_slice(&event_time)?;
    let batch = batch_ref(&schema, &buffers, length as usize, et)?;
    let keys: Vec<usize> = key_fields.iter().map(|&k| k as usize).collect();
    let routing = hash_routing(&batch, &keys, parallelism, max_parallelism).map_err(to_napi)?;
    parts_out(env, &batch, &routing)
}

/// Splits a batch into `n` batches by a target per row (computed by the runtime), rows in order.
#[napi(js_name = "partitionByTargets")]
pub fn partition_by_targets<'env>(
    env: &'env Env,
    fields: Vec<FieldSpec>,
    #[napi(ts_arg_type = "Array<Uint8Array | Int32Array | BigInt64Array | Float64Array>")] buffers: Vec<TypedBytes<'_>>,
    length: u32,
    #[napi(ts_arg_type = "BigInt64Array | undefined | null")] event_time: Option<TypedBytes<'_>>,
    targets: Uint32Array,
    n: u32,
) -> Result<Vec<BatchOut<'env>>> {
    let schema = parse_schema(&fields);
    let et = event_time_slice(&event_time)?;
    let batch = batch_ref(&schema, &buffers, length as usize, et)?;
    let routing = target_routing(&batch, &targets, n).map_err(to_napi)?;
    parts_out(env, &batch, &routing)
}

/// A new JavaScript typed array of `len` elements and its memory, to be filled during this call.
macro_rules! js_array {
    ($env:expr, $slice:ident, $t:ty, $len:expr) => {{
        let len: usize = $len;
        let mut data = std::ptr::null_mut();
        let mut value = std::ptr::null_mut();
        // SAFETY: `$env` is this call's live environment; napi_create_arraybuffer writes both
        // out-pointers.
        check_status!(
            unsafe {
                napi::sys::napi_create_arraybuffer(
                    $env.raw(),
                    len * std::mem::size_of::<$t>(),
                    &mut data,
                    &mut value,
                )
            },
            "could not allocate a partition buffer of {} bytes",
            len * std::mem::size_of::<$t>()
        )?;
        // SAFETY: `value` is the ArrayBuffer just created.
        let ab = unsafe { ArrayBuffer::from_napi_value($env.raw(), value)? };
        let mut s = $slice::from_arraybuffer(&ab, 0, len)?;
        // SAFETY: the typed array's backing store stays alive while its handle does (this
        // call's handle scope, then JavaScript's); no JavaScript runs until this call returns,
        // so the slice is the only access to it while it is filled.
        let m: &mut [$t] = unsafe {
            let m = s.as_mut();
            std::slice::from_raw_parts_mut(m.as_mut_ptr(), m.len())
        };
        (s, m)
    }};
}

/// The parts of a routed batch as JavaScript batches (the `BatchOut` buffer order).
fn parts_out<'env>(
    env: &'env Env,
    batch: &BatchRef<'_>,
    routing: &Routing<'_>,
) -> Result<Vec<BatchOut<'env>>> {
    let sizes = part_sizes(batch, routing);
    let mut outs = Vec::with_capacity(routing.rows.len());
    let mut parts = Vec::with_capacity(routing.rows.len());
    for (&rows, cols) in routing.rows.iter().zip(&sizes) {
        let mut out = BatchOut {
            length: rows as u32,
            u8: vec![],
            i32: vec![],
            i64: vec![],
            f64: vec![],
            event_time: None,
            event_time_column: None,
            event_time_max: None,
        };
        let mut columns = Vec::with_capacity(cols.len());
        for (c, size) in batch.columns.iter().zip(cols) {
            let (v, validity) = js_array!(
                env,
                Uint8ArraySlice,
                u8,
                if size.nulls { bitmap_len(rows) } else { 0 }
            );
            // Bitmaps get bits set only.
            validity.fill(0);
            out.u8.push(v);
            let values = match c.values {
                ValuesRef::I32(_) => {
                    let (a, m) = js_array!(env, Int32ArraySlice, i32, rows);
                    out.i32.push(a);
                    ValuesMut::I32(m)
                }
                ValuesRef::I64(_) | ValuesRef::Timestamp(_) => {
                    let (a, m) = js_array!(env, BigInt64ArraySlice, i64, rows);
                    out.i64.push(a);
                    ValuesMut::I64(m)
                }
                ValuesRef::F64(_) => {
                    let (a, m) = js_array!(env, Float64ArraySlice, f64, rows);
                    out.f64.push(a);
                    ValuesMut::F64(m)
                }
                ValuesRef::Bool(_) => {
                    let (a, m) = js_array!(env, Uint8ArraySlice, u8, bitmap_len(rows));
                    m.fill(0);
                    out.u8.push(a);
                    ValuesMut::Bool(m)
                }
                ValuesRef::Utf8 { .. } => {
                    let (o, offsets) = js_array!(env, Int32ArraySlice, i32, rows + 1);
                    let (d, data) = js_array!(env, Uint8ArraySlice, u8, size.utf8_bytes);
                    out.i32.push(o);
                    out.u8.push(d);
                    ValuesMut::Utf8 { offsets, data }
                }
            };
            columns.push(ColumnMut { values, validity });
        }
        let event_time = match batch.event_time {
            Some(_) => {
                let (a, m) = js_array!(env, BigInt64ArraySlice, i64, rows);
                out.event_time = Some(a);
                Some(m)
            }
            None => None,
        };
        parts.push(PartMut {
            columns,
            event_time,
        });
        outs.push(out);
    }
    scatter(batch, &routing.targets, &mut parts);
    Ok(outs)
}
