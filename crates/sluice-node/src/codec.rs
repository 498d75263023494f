//! The wire format across N-API: `encodeBatch` / `decodeBatch` (FlatBuffers, schema/sluice.fbs),
//! byte-compatible with the TypeScript codec (`ts/engine/ts/codec.ts`).
//!
//! Batches come in as the usual byte views of their buffers (see `batch.rs`) and go out as a
//! `BatchOut`. Fields carry their nullability, which Rust's `Field` does not hold.

// Under `cargo test` napi-derive does not register exports, so they look unused.
#![cfg_attr(test, allow(dead_code))]

use napi::bindgen_prelude::*;
use napi_derive::napi;
use sluice_core::batch::{DataType, Field, Schema};
use sluice_core::codec;

use crate::batch::{batch_out, batch_ref, event_time_slice, BatchOut, TypedBytes};
use crate::error::{config_error, to_napi};
use crate::kinds::FieldType;

/// A field as the codec sees it: `FieldSpec` plus nullability (absent means nullable, the
/// schema default). A type of its own so that `FieldSpec`, which other bindings build, keeps
/// its shape.
#[napi(object)]
pub struct CodecFieldSpec {
    pub name: String,
    #[napi(js_name = "type")]
    pub data_type: FieldType,
    pub nullable: Option<bool>,
}

#[napi(object)]
pub struct DecodedBatch<'env> {
    pub fields: Vec<CodecFieldSpec>,
    pub batch: BatchOut<'env>,
}

/// Encodes a batch (fields, every buffer as bytes, row count, optional event time) as a
/// FlatBuffers `RecordBatch`.
#[napi(js_name = "encodeBatch")]
pub fn encode_batch(
    fields: Vec<CodecFieldSpec>,
    #[napi(ts_arg_type = "Array<Uint8Array | Int32Array | BigInt64Array | Float64Array>")] buffers: Vec<TypedBytes<'_>>,
    length: u32,
    #[napi(ts_arg_type = "BigInt64Array | undefined | null")] event_time: Option<TypedBytes<'_>>,
) -> Result<Uint8Array> {
    let schema = Schema::new(fields.iter().map(|f| Field::new(f.name.clone(), DataType::from(f.data_type))).collect());
    let nullable: Vec<bool> = fields.iter().map(|f| f.nullable.unwrap_or(true)).collect();
    let et = event_time_slice(&event_time)?;
    // Validates the buffers against the schema and length, so `encode` cannot index out of bounds.
    let batch = batch_ref(&schema, &buffers, length as usize, et)?;
    let hint = codec::encoded_size_hint(&batch);
    if hint > codec::MAX_ENCODED_SIZE {
        return Err(config_error(format!(
            "cannot encode record batch: {length} rows need up to {hint} bytes but FlatBuffers allows {}; split it into smaller batches",
            codec::MAX_ENCODED_SIZE
        )));
    }
    Ok(Uint8Array::new(codec::encode(&batch, &nullable)))
}

/// Decodes a FlatBuffers `RecordBatch` into its fields (with nullability) and buffers.
#[napi(js_name = "decodeBatch")]
pub fn decode_batch(env: &Env, bytes: Uint8Array) -> Result<DecodedBatch<'_>> {
    let (batch, nullable) = codec::decode(&bytes).map_err(to_napi)?;
    let fields = batch
        .schema
        .fields
        .iter()
        .zip(nullable)
        .map(|(f, n)| CodecFieldSpec { name: f.name.clone(), data_type: f.data_type.into(), nullable: Some(n) })
        .collect();
    Ok(DecodedBatch { fields, batch: batch_out(env, batch)? })
}
