//! Batches across the N-API boundary, in both directions, without per-record calls.
//!
//! In: JavaScript passes every buffer of every column as its typed array (validity, values; or
//! validity, offsets, data for utf8) and the event-time column; Rust reads them in place as
//! bytes (`TypedBytes`). Out: each column is copied into a typed array that JavaScript owns
//! (`CopyOut`).

use napi::bindgen_prelude::*;
use napi_derive::napi;
use sluice_core::batch::{BatchRef, ColumnData, ColumnRef, DataType, Field, RecordBatch, Schema, ValuesRef};

use crate::error::{config_error, to_napi};
use crate::kinds::FieldType;

#[napi(object)]
pub struct FieldSpec {
    pub name: String,
    #[napi(js_name = "type")]
    pub data_type: FieldType,
}

pub fn parse_schema(fields: &[FieldSpec]) -> Schema {
    Schema::new(fields.iter().map(|f| Field::new(f.name.clone(), DataType::from(f.data_type))).collect())
}

/// Reinterprets bytes as a slice of `T`, refusing misaligned or ragged input.
fn cast<'a, T: Copy>(bytes: &'a [u8], what: &str) -> Result<&'a [T]> {
    // SAFETY: T is a plain integer or float type (i32, i64, f64) for which every bit pattern is
    // a valid value; align_to only yields the correctly aligned middle part, and we reject input
    // whose start is misaligned or whose length is not a whole number of elements.
    let (pre, mid, post) = unsafe { bytes.align_to::<T>() };
    if !pre.is_empty() || !post.is_empty() {
        return Err(config_error(format!(
            "{what}: buffer is not aligned to {} bytes or not a whole number of values",
            std::mem::size_of::<T>()
        )));
    }
    Ok(mid)
}

/// The bytes of a typed array of any element type, borrowed for the duration of a call.
///
/// napi-rs's `Uint8Array` argument creates (and on drop deletes) a reference to the array, and
/// reading a `BigInt64Array` as one took a `Uint8Array` view made in JavaScript per buffer per
/// call; together with the schema's strings that was most of a native call's fixed cost (9 us for
/// a 1-row exchange scatter, measured). This reads the data pointer and the byte length alone.
/// TypeScript passes a column's typed arrays as they are (`ts/engine/native/convert.ts`).
pub struct TypedBytes<'a> {
    data: std::ptr::NonNull<u8>,
    len: usize,
    _borrow: std::marker::PhantomData<&'a [u8]>,
}

impl FromNapiValue for TypedBytes<'_> {
    unsafe fn from_napi_value(env: napi::sys::napi_env, value: napi::sys::napi_value) -> Result<Self> {
        use napi::sys;
        let (mut kind, mut length, mut data, mut offset) = (0, 0usize, std::ptr::null_mut(), 0usize);
        // SAFETY: `value` is a live value of this call's scope; the out pointers are valid locals
        // (or NULL for the ArrayBuffer, which is not asked for). A non-typed-array fails the call.
        check_status!(
            unsafe { sys::napi_get_typedarray_info(env, value, &mut kind, &mut length, &mut data, std::ptr::null_mut(), &mut offset) },
            "expected a typed array"
        )?;
        let width = match kind {
            sys::TypedarrayType::int8_array | sys::TypedarrayType::uint8_array | sys::TypedarrayType::uint8_clamped_array => 1,
            sys::TypedarrayType::int16_array | sys::TypedarrayType::uint16_array => 2,
            sys::TypedarrayType::int32_array | sys::TypedarrayType::uint32_array | sys::TypedarrayType::float32_array => 4,
            _ => 8,
        };
        // `data` may be NULL or anything for an empty array: a dangling pointer is a valid empty slice's.
        let data = if length == 0 { std::ptr::NonNull::dangling() } else { std::ptr::NonNull::new(data.cast()).ok_or_else(|| config_error("a typed array without data"))? };
        Ok(TypedBytes { data, len: length * width, _borrow: std::marker::PhantomData })
    }
}

impl TypeName for TypedBytes<'_> {
    fn type_name() -> &'static str {
        "TypedArray"
    }
    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ValidateNapiValue for TypedBytes<'_> {}

impl std::ops::Deref for TypedBytes<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: `len` bytes from `data` are the typed array's, which JavaScript keeps alive and
        // does not run during the native call that borrowed them (`'a`).
        unsafe { std::slice::from_raw_parts(self.data.as_ptr(), self.len) }
    }
}

impl TypedBytes<'_> {
    /// The bytes, to write into.
    ///
    /// # Safety
    /// Nothing else reads or writes this typed array's memory while the slice is in use (no
    /// other argument of the call views it, and no other thread holds it).
    pub unsafe fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as for `deref`; exclusive by the caller's promise.
        unsafe { std::slice::from_raw_parts_mut(self.data.as_ptr(), self.len) }
    }
}

/// Borrows a batch from the buffers JavaScript passed (see module docs).
pub fn batch_ref<'a>(
    schema: &'a Schema,
    buffers: &'a [TypedBytes<'a>],
    len: usize,
    event_time: Option<&'a [i64]>,
) -> Result<BatchRef<'a>> {
    let need: usize = schema.fields.iter().map(|f| f.data_type.buffer_count()).sum();
    if buffers.len() != need {
        return Err(config_error(format!("expected {need} buffers for schema, got {}", buffers.len())));
    }
    let mut columns = Vec::with_capacity(schema.fields.len());
    let mut b = 0;
    for f in &schema.fields {
        let validity: &[u8] = &buffers[b];
        let validity = if validity.is_empty() { None } else { Some(validity) };
        let values = match f.data_type {
            DataType::I32 => ValuesRef::I32(cast(&buffers[b + 1], &f.name)?),
            DataType::I64 => ValuesRef::I64(cast(&buffers[b + 1], &f.name)?),
            DataType::Timestamp => ValuesRef::Timestamp(cast(&buffers[b + 1], &f.name)?),
            DataType::F64 => ValuesRef::F64(cast(&buffers[b + 1], &f.name)?),
            DataType::Bool => ValuesRef::Bool(&buffers[b + 1]),
            DataType::Utf8 => ValuesRef::Utf8 { offsets: cast(&buffers[b + 1], &f.name)?, data: &buffers[b + 2] },
        };
        b += f.data_type.buffer_count();
        columns.push(ColumnRef { values, validity });
    }
    let batch = BatchRef { schema, columns, len, event_time };
    batch.validate().map_err(to_napi)?;
    Ok(batch)
}

pub fn event_time_slice<'a>(et: &'a Option<TypedBytes<'a>>) -> Result<Option<&'a [i64]>> {
    match et {
        None => Ok(None),
        Some(b) => Ok(Some(cast(b, "event time")?)),
    }
}

/// A typed array of JavaScript's holding a copy of `data`.
///
/// napi-rs's `copy_from` allocates with `napi_create_arraybuffer`, which zero-fills the memory
/// before the copy overwrites it (7% of a calc batch's time, measured). A Node Buffer copy
/// (`napi_create_buffer_copy`) allocates without zero-filling; the typed array is then a view of
/// the whole of the Buffer's own ArrayBuffer (offset 0, so aligned for every element type).
pub trait CopyOut<'env>: Sized {
    type Elem: Copy;
    const KIND: TypedArrayType;
    fn copy_out(env: &'env Env, data: &[Self::Elem]) -> Result<Self>;
}

fn copied_typed_array(env: &Env, bytes: &[u8], kind: TypedArrayType, len: usize) -> Result<napi::sys::napi_value> {
    use napi::sys;
    let raw = env.raw();
    let mut buffer = std::ptr::null_mut();
    // SAFETY: `bytes` is a live slice for the duration of the call, which copies it; the result
    // pointer is a valid local, and the data pointer is not asked for (NULL is allowed).
    check_status!(
        unsafe { sys::napi_create_buffer_copy(raw, bytes.len(), bytes.as_ptr().cast(), std::ptr::null_mut(), &mut buffer) },
        "copying a batch buffer out"
    )?;
    let (mut n, mut ab, mut offset) = (0usize, std::ptr::null_mut(), 0usize);
    // SAFETY: `buffer` is the Buffer (a Uint8Array) just created; the out pointers are valid
    // locals or NULL (not asked for, which Node-API allows).
    check_status!(
        unsafe { sys::napi_get_typedarray_info(raw, buffer, std::ptr::null_mut(), &mut n, std::ptr::null_mut(), &mut ab, &mut offset) },
        "reading a Buffer's ArrayBuffer"
    )?;
    debug_assert_eq!(n, bytes.len(), "a Buffer of the bytes copied");
    let mut out = std::ptr::null_mut();
    // SAFETY: `ab` is the Buffer's ArrayBuffer of `bytes.len()` bytes from `offset`, which
    // holds `len` elements of `kind` (the caller's `bytes` are those elements).
    check_status!(unsafe { sys::napi_create_typedarray(raw, kind.into(), len, ab, offset, &mut out) }, "viewing a batch buffer")?;
    Ok(out)
}

macro_rules! copy_out {
    ($slice:ident, $t:ty, $kind:expr) => {
        impl<'env> CopyOut<'env> for $slice<'env> {
            type Elem = $t;
            const KIND: TypedArrayType = $kind;
            fn copy_out(env: &'env Env, data: &[$t]) -> Result<Self> {
                // SAFETY: a plain number type, read as its bytes.
                let bytes = unsafe { std::slice::from_raw_parts(data.as_ptr().cast::<u8>(), std::mem::size_of_val(data)) };
                let v = copied_typed_array(env, bytes, Self::KIND, data.len())?;
                // SAFETY: `v` is a typed array of this slice's kind, just created in `env`.
                unsafe { $slice::from_napi_value(env.raw(), v) }
            }
        }
    };
}
copy_out!(Uint8ArraySlice, u8, TypedArrayType::Uint8);
copy_out!(Uint32ArraySlice, u32, TypedArrayType::Uint32);
copy_out!(Int32ArraySlice, i32, TypedArrayType::Int32);
copy_out!(BigInt64ArraySlice, i64, TypedArrayType::BigInt64);
copy_out!(Float64ArraySlice, f64, TypedArrayType::Float64);

/// A batch handed to JavaScript: buffers grouped by element type, in schema order within each
/// group (validity bitmaps, bool bitmaps and utf8 data in `u8`, empty for "no validity";
/// i32 values and utf8 offsets in `i32`).
///
/// The buffers are copied into V8-owned ArrayBuffers (one memcpy per column, `CopyOut`). Handing Rust
/// `Vec`s over as external buffers would avoid the copy, but V8 does not count external memory
/// it was not told about, so garbage collection lags, freed batches are not recycled and memory
/// grows with throughput; the copy costs far less than those page faults.
#[napi(object)]
pub struct BatchOut<'env> {
    pub length: u32,
    pub u8: Vec<Uint8ArraySlice<'env>>,
    pub i32: Vec<Int32ArraySlice<'env>>,
    pub i64: Vec<BigInt64ArraySlice<'env>>,
    pub f64: Vec<Float64ArraySlice<'env>>,
    pub event_time: Option<BigInt64ArraySlice<'env>>,
    /// Event time equal to this column's values (a source's timestamp field): not sent twice,
    /// and the JavaScript side gets one array, so the runtime's event-time check scans it once.
    pub event_time_column: Option<u32>,
    /// The largest event time when every one is within ±2^53 ms (found while the batch is here,
    /// vectorised), so the runtime need not scan the batch for its check and its watermark.
    pub event_time_max: Option<f64>,
}

/// A batch kept in Rust until the caller gives buffers to copy it into (`copy_into`): its rows,
/// the byte size of each buffer in the order `ts/engine/native/convert.ts` passes a batch's
/// (per column its validity, 0 bytes when none, then its values, or offsets and data), then
/// the event time's when it is no column's; and the event time as `BatchOut` gives it.
#[napi(object)]
pub struct BatchLayout {
    pub length: u32,
    pub bytes: Vec<u32>,
    pub event_time_column: Option<u32>,
    pub event_time_max: Option<f64>,
}

/// Each buffer of `batch` in `BatchLayout` order, as bytes.
fn buffers_of(batch: &RecordBatch, event_time_column: Option<u32>) -> Vec<&[u8]> {
    fn bytes<T: Copy>(v: &[T]) -> &[u8] {
        // SAFETY: T is a plain integer or float type; its values' memory read as bytes.
        unsafe { std::slice::from_raw_parts(v.as_ptr().cast(), std::mem::size_of_val(v)) }
    }
    let mut out: Vec<&[u8]> = Vec::new();
    for c in &batch.columns {
        out.push(c.validity.as_deref().unwrap_or_default());
        match &c.data {
            ColumnData::I32(v) => out.push(bytes(v)),
            ColumnData::I64(v) | ColumnData::Timestamp(v) => out.push(bytes(v)),
            ColumnData::F64(v) => out.push(bytes(v)),
            ColumnData::Bool(v) => out.push(v),
            ColumnData::Utf8 { offsets, data } => {
                out.push(bytes(offsets));
                out.push(data);
            }
        }
    }
    if let (Some(t), None) = (&batch.event_time, event_time_column) {
        out.push(bytes(t));
    }
    out
}

pub fn batch_layout(batch: &RecordBatch) -> BatchLayout {
    let (event_time_column, event_time_max) = event_time_of(batch);
    BatchLayout { length: batch.len as u32, bytes: buffers_of(batch, event_time_column).iter().map(|b| b.len() as u32).collect(), event_time_column, event_time_max }
}

/// Copies `batch` into `into`, buffers of exactly the sizes its `layout` gave.
pub fn copy_into(batch: &RecordBatch, layout_event_time_column: Option<u32>, into: &mut [TypedBytes<'_>]) -> Result<()> {
    let from = buffers_of(batch, layout_event_time_column);
    if from.len() != into.len() || from.iter().zip(into.iter()).any(|(f, t)| f.len() != t.len()) {
        return Err(config_error("internal error: the buffers given for a batch do not have its layout's sizes"));
    }
    for (f, t) in from.iter().zip(into.iter_mut()) {
        // SAFETY: each buffer is one the caller allocated for this batch alone, and nothing else
        // runs while the call writes it.
        unsafe { t.as_mut_slice() }.copy_from_slice(f);
    }
    Ok(())
}

/// The column equal to the event time (sent once), and the largest event time when every one
/// is within ±2^53 ms (found while the batch is here, vectorised).
fn event_time_of(batch: &RecordBatch) -> (Option<u32>, Option<f64>) {
    let Some(t) = &batch.event_time else { return (None, None) };
    let (lo, hi) = t.iter().fold((i64::MAX, i64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
    const EXACT: i64 = 1 << 53;
    let max = (!t.is_empty() && lo >= -EXACT && hi < EXACT).then_some(hi as f64);
    let same = batch.columns.iter().position(|c| matches!(&c.data, ColumnData::I64(v) | ColumnData::Timestamp(v) if v == t && c.validity.is_none()));
    (same.map(|k| k as u32), max)
}

pub fn batch_out<'env>(env: &'env Env, batch: RecordBatch) -> Result<BatchOut<'env>> {
    batch_out_ref(env, &batch)
}

/// As `batch_out`, leaving the batch to the caller (whose buffers it may reuse).
pub fn batch_out_ref<'env>(env: &'env Env, batch: &RecordBatch) -> Result<BatchOut<'env>> {
    let mut out = BatchOut { length: batch.len as u32, u8: vec![], i32: vec![], i64: vec![], f64: vec![], event_time: None, event_time_column: None, event_time_max: None };
    for c in &batch.columns {
        out.u8.push(Uint8ArraySlice::copy_out(env, c.validity.as_deref().unwrap_or_default())?);
        match &c.data {
            ColumnData::I32(v) => out.i32.push(Int32ArraySlice::copy_out(env, v)?),
            ColumnData::I64(v) | ColumnData::Timestamp(v) => out.i64.push(BigInt64ArraySlice::copy_out(env, v)?),
            ColumnData::F64(v) => out.f64.push(Float64ArraySlice::copy_out(env, v)?),
            ColumnData::Bool(v) => out.u8.push(Uint8ArraySlice::copy_out(env, v)?),
            ColumnData::Utf8 { offsets, data } => {
                out.i32.push(Int32ArraySlice::copy_out(env, offsets)?);
                out.u8.push(Uint8ArraySlice::copy_out(env, data)?);
            }
        }
    }
    if let Some(t) = &batch.event_time {
        let (same, max) = event_time_of(batch);
        out.event_time_max = max;
        match same {
            Some(k) => out.event_time_column = Some(k),
            None => out.event_time = Some(BigInt64ArraySlice::copy_out(env, t)?),
        }
    }
    Ok(out)
}
