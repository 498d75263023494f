//! Text formats across N-API: JSON Lines and CSV decoders (one call per chunk of whole lines or
//! records, a batch out) and the JSONL/CSV encoder (one call per batch, bytes out). The work is in
//! `sluice_core::text`.

// Under `cargo test` napi-derive does not register exports, so they look unused.
#![cfg_attr(test, allow(dead_code))]

use napi::bindgen_prelude::*;
use napi_derive::napi;
use sluice_core::batch::{DataType, Field, Schema};
use sluice_core::text::{csv::CsvDecoder, encode, jsonl::JsonlDecoder, Decoded, TextField};

use crate::batch::{batch_out, batch_ref, BatchOut, TypedBytes};
use crate::codec::CodecFieldSpec;
use crate::error::to_napi;

#[napi(string_enum = "camelCase")]
#[derive(Clone, Copy)]
pub enum TextFormatKind {
    Jsonl,
    Csv,
}

#[napi(object)]
pub struct BadLineOut {
    pub line: f64,
    pub message: String,
    pub raw: String,
}

#[napi(object)]
pub struct TextDecodedOut<'env> {
    pub batch: BatchOut<'env>,
    pub consumed: u32,
    pub lines: f64,
    pub bad: Vec<BadLineOut>,
}

fn text_fields(fields: Vec<CodecFieldSpec>) -> Vec<TextField> {
    fields
        .into_iter()
        .map(|f| TextField { name: f.name, data_type: DataType::from(f.data_type), nullable: f.nullable.unwrap_or(true) })
        .collect()
}

fn decoded_out(env: &Env, d: Decoded) -> Result<TextDecodedOut<'_>> {
    Ok(TextDecodedOut {
        batch: batch_out(env, d.batch)?,
        consumed: d.consumed as u32,
        lines: d.lines as f64,
        bad: d.bad.into_iter().map(|b| BadLineOut { line: b.line as f64, message: b.message, raw: b.raw }).collect(),
    })
}

#[napi(object)]
pub struct CsvHeaderOut {
    pub column_of: Vec<u32>,
    pub width: u32,
}

#[napi]
pub struct NativeCsvDecoder {
    inner: CsvDecoder,
}

#[napi]
impl NativeCsvDecoder {
    /// `where_` (`where` in JavaScript) names the input in error messages (`file '<path>'`).
    #[napi(constructor)]
    pub fn new(fields: Vec<CodecFieldSpec>, where_: String, delimiter: String, header: bool) -> NativeCsvDecoder {
        NativeCsvDecoder { inner: CsvDecoder::new(text_fields(fields), where_, &delimiter, header) }
    }

    /// Whole records of `bytes` (see `CsvDecoder::decode`), read in place; header errors throw.
    #[napi]
    pub fn decode<'env>(&mut self, env: &'env Env, bytes: Uint8Array, first_line: f64, max_rows: u32, eof: bool) -> Result<TextDecodedOut<'env>> {
        let d = self.inner.decode(&bytes, first_line as u64, max_rows as usize, eof).map_err(to_napi)?;
        decoded_out(env, d)
    }

    #[napi]
    pub fn header(&self) -> Option<CsvHeaderOut> {
        self.inner.header().map(|(c, w)| CsvHeaderOut { column_of: c.into_iter().map(|x| x as u32).collect(), width: w as u32 })
    }

    #[napi]
    pub fn set_header(&mut self, column_of: Vec<u32>, width: u32) {
        self.inner.set_header(column_of.into_iter().map(|x| x as usize).collect(), width as usize);
    }
}

#[napi]
pub struct NativeJsonlDecoder {
    inner: JsonlDecoder,
}

#[napi]
impl NativeJsonlDecoder {
    /// `where_` (`where` in JavaScript) names the input in error messages (`file '<path>'`).
    #[napi(constructor)]
    pub fn new(fields: Vec<CodecFieldSpec>, where_: String) -> NativeJsonlDecoder {
        NativeJsonlDecoder { inner: JsonlDecoder::new(text_fields(fields), where_) }
    }

    /// Whole lines of `bytes` (see `JsonlDecoder::decode`), read in place.
    #[napi]
    pub fn decode<'env>(&self, env: &'env Env, bytes: Uint8Array, first_line: f64, max_rows: u32) -> Result<TextDecodedOut<'env>> {
        decoded_out(env, self.inner.decode(&bytes, first_line as u64, max_rows as usize))
    }
}

#[napi(object)]
pub struct EncodedRows {
    pub bytes: Uint8Array,
    /// Where each row ends in `bytes`.
    pub row_ends: Vec<u32>,
}

/// As `encodeText`, with where each row ends (for a sink that splits parts at rows).
#[napi(js_name = "encodeTextRows")]
pub fn encode_text_rows(fields: Vec<CodecFieldSpec>, #[napi(ts_arg_type = "Array<Uint8Array | Int32Array | BigInt64Array | Float64Array>")] buffers: Vec<TypedBytes<'_>>, length: u32, format: TextFormatKind) -> Result<EncodedRows> {
    let schema = Schema::new(fields.iter().map(|f| Field::new(f.name.clone(), DataType::from(f.data_type))).collect());
    let batch = batch_ref(&schema, &buffers, length as usize, None)?;
    let (bytes, ends) = encode::encode_with_row_ends(&batch, text_format(format));
    if bytes.len() > u32::MAX as usize {
        return Err(crate::error::config_error("a batch encodes to more than 4 GiB of text; use smaller batches"));
    }
    Ok(EncodedRows { bytes: Uint8Array::new(bytes), row_ends: ends.into_iter().map(|e| e as u32).collect() })
}

fn text_format(format: TextFormatKind) -> encode::TextFormat {
    match format {
        TextFormatKind::Jsonl => encode::TextFormat::Jsonl,
        TextFormatKind::Csv => encode::TextFormat::Csv,
    }
}

/// Every row of a batch as JSON Lines or CSV rows (no header), one call per batch.
#[napi(js_name = "encodeText")]
pub fn encode_text(fields: Vec<CodecFieldSpec>, #[napi(ts_arg_type = "Array<Uint8Array | Int32Array | BigInt64Array | Float64Array>")] buffers: Vec<TypedBytes<'_>>, length: u32, format: TextFormatKind) -> Result<Uint8Array> {
    let schema = Schema::new(fields.iter().map(|f| Field::new(f.name.clone(), DataType::from(f.data_type))).collect());
    let batch = batch_ref(&schema, &buffers, length as usize, None)?;
    Ok(Uint8Array::new(encode::encode(&batch, text_format(format))))
}
