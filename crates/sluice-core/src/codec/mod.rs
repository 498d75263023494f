//! The wire format: a record batch as a FlatBuffers `sluice.fb.RecordBatch` (schema/sluice.fbs,
//! file identifier `SLB1`).
//!
//! Rust's [`Field`] has no nullability flag, so it travels next to the batch: [`encode`] takes one
//! flag per field and [`decode`] returns them.
//!
//! # Layout
//!
//! This encoder and the TypeScript one (`ts/engine/ts/codec.ts`) build the same objects in the
//! same order with the same alignment, so for the same batch they produce identical bytes. Keep
//! the two in step:
//!
//! 1. the event-time vector, if the batch has one;
//! 2. per column, in schema order: the validity vector (only if the column has one and the batch
//!    has rows), the value vectors (`i32_values` | `i64_values` | `f64_values` | `bool_values` |
//!    `offsets` then `data`), then the `Column` table, its fields added in schema order;
//! 3. per field, in schema order: the name string, then the `Field` table (name, type, nullable;
//!    the type and nullable slots are left out at their defaults `I32` and `true`);
//! 4. the `fields` vector, then the `columns` vector;
//! 5. the `RecordBatch` table (fields, columns, length (left out when 0), event_time), finished
//!    with the file identifier.
//!
//! Buffers are written exactly as long as `len` rows need (values, `bitmap_len(len)` bitmap
//! bytes, `len + 1` offsets, utf8 data up to the last offset); anything past that is not sent.
//!
//! # Decoding
//!
//! [`decode`] checks the identifier, runs the FlatBuffers verifier, requires each column to carry
//! exactly the vectors its type needs, and validates the result with [`BatchRef::validate`]:
//! malformed input is an [`Error`] of kind `Data`, never a panic. Vectors longer than `length`
//! needs are accepted and cut to size. An empty validity vector means "no nulls". Utf8 values
//! must be valid UTF-8, and a table's inline size must lie in the buffer (two checks the
//! verifier leaves out); the TypeScript decoder checks the same things.

#[allow(clippy::all, clippy::pedantic, unused_imports, dead_code, deprecated, non_camel_case_types)]
#[rustfmt::skip]
mod sluice_generated;

pub use sluice_generated::sluice::fb;

use std::collections::HashSet;
use std::sync::Arc;

use flatbuffers::{FlatBufferBuilder, Vector};

use crate::batch::{
    bitmap_len, BatchRef, Column, ColumnData, DataType, Field, RecordBatch, Schema, ValuesRef,
};
use crate::error::{Error, Result};

/// The FlatBuffers file identifier of an encoded batch.
pub const FILE_IDENTIFIER: &str = "SLB1";

/// Largest buffer FlatBuffers can address (2 GiB).
pub const MAX_ENCODED_SIZE: usize = flatbuffers::FLATBUFFERS_MAX_BUFFER_SIZE;

fn to_fb_type(t: DataType) -> fb::DataType {
    match t {
        DataType::I32 => fb::DataType::I32,
        DataType::I64 => fb::DataType::I64,
        DataType::F64 => fb::DataType::F64,
        DataType::Bool => fb::DataType::Bool,
        DataType::Utf8 => fb::DataType::Utf8,
        DataType::Timestamp => fb::DataType::Timestamp,
    }
}

fn from_fb_type(t: fb::DataType) -> Option<DataType> {
    Some(match t {
        fb::DataType::I32 => DataType::I32,
        fb::DataType::I64 => DataType::I64,
        fb::DataType::F64 => DataType::F64,
        fb::DataType::Bool => DataType::Bool,
        fb::DataType::Utf8 => DataType::Utf8,
        fb::DataType::Timestamp => DataType::Timestamp,
        _ => return None,
    })
}

/// An upper bound of the encoded size of `batch` (used to size the builder so it never grows,
/// and by callers to refuse batches larger than [`MAX_ENCODED_SIZE`] before encoding).
pub fn encoded_size_hint(batch: &BatchRef) -> usize {
    let n = batch.len;
    let bits = bitmap_len(n);
    // Root offset + identifier + RecordBatch table and vtable + the two offset vectors, with
    // padding; then per field a string and a table, per column up to three vectors and a table.
    let mut size = 128 + 8 * (batch.columns.len() + batch.schema.len());
    if batch.event_time.is_some() {
        size += 16 + 8 * n;
    }
    for f in &batch.schema.fields {
        size += 64 + f.name.len();
    }
    for c in &batch.columns {
        size += 160;
        if c.validity.is_some() {
            size += bits;
        }
        size += match c.values {
            ValuesRef::I32(_) => 4 * n,
            ValuesRef::I64(_) | ValuesRef::Timestamp(_) | ValuesRef::F64(_) => 8 * n,
            ValuesRef::Bool(_) => bits,
            ValuesRef::Utf8 { offsets, .. } => 4 * (n + 1) + offsets.get(n).map_or(0, |&o| o.max(0) as usize),
        };
    }
    size
}

/// Encodes a batch; `nullable[i]` is the nullability of field `i` (missing entries count as
/// nullable, the schema default).
///
/// The batch must be valid ([`BatchRef::validate`]; batches from [`RecordBatch::as_ref`] and
/// from the N-API layer are): a buffer shorter than `len` rows need panics, as does a batch
/// whose encoding would exceed [`MAX_ENCODED_SIZE`] (see [`encoded_size_hint`]).
pub fn encode(batch: &BatchRef, nullable: &[bool]) -> Vec<u8> {
    let n = batch.len;
    let bits = bitmap_len(n);
    let mut fbb = FlatBufferBuilder::with_capacity(encoded_size_hint(batch).min(MAX_ENCODED_SIZE));

    let event_time = batch.event_time.map(|t| fbb.create_vector(&t[..n]));

    let mut columns = Vec::with_capacity(batch.columns.len());
    for c in &batch.columns {
        let validity = match c.validity {
            Some(v) if bits > 0 => Some(fbb.create_vector(&v[..bits])),
            _ => None,
        };
        let (mut i32_values, mut i64_values, mut f64_values) = (None, None, None);
        let (mut bool_values, mut offsets_v, mut data_v) = (None, None, None);
        match c.values {
            ValuesRef::I32(v) => i32_values = Some(fbb.create_vector(&v[..n])),
            ValuesRef::I64(v) | ValuesRef::Timestamp(v) => i64_values = Some(fbb.create_vector(&v[..n])),
            ValuesRef::F64(v) => f64_values = Some(fbb.create_vector(&v[..n])),
            ValuesRef::Bool(v) => bool_values = Some(fbb.create_vector(&v[..bits])),
            ValuesRef::Utf8 { offsets, data } => {
                let offsets = &offsets[..=n];
                offsets_v = Some(fbb.create_vector(offsets));
                data_v = Some(fbb.create_vector(&data[..offsets[n] as usize]));
            }
        }
        let mut cb = fb::ColumnBuilder::new(&mut fbb);
        if let Some(x) = validity {
            cb.add_validity(x);
        }
        if let Some(x) = i32_values {
            cb.add_i32_values(x);
        }
        if let Some(x) = i64_values {
            cb.add_i64_values(x);
        }
        if let Some(x) = f64_values {
            cb.add_f64_values(x);
        }
        if let Some(x) = bool_values {
            cb.add_bool_values(x);
        }
        if let Some(x) = offsets_v {
            cb.add_offsets(x);
        }
        if let Some(x) = data_v {
            cb.add_data(x);
        }
        columns.push(cb.finish());
    }

    let mut fields = Vec::with_capacity(batch.schema.len());
    for (i, f) in batch.schema.fields.iter().enumerate() {
        let name = fbb.create_string(&f.name);
        let mut fbld = fb::FieldBuilder::new(&mut fbb);
        fbld.add_name(name);
        fbld.add_type_(to_fb_type(f.data_type));
        fbld.add_nullable(nullable.get(i).copied().unwrap_or(true));
        fields.push(fbld.finish());
    }

    let fields = fbb.create_vector(&fields);
    let columns = fbb.create_vector(&columns);
    let mut rb = fb::RecordBatchBuilder::new(&mut fbb);
    rb.add_fields(fields);
    rb.add_columns(columns);
    rb.add_length(n as u32);
    if let Some(et) = event_time {
        rb.add_event_time(et);
    }
    let root = rb.finish();
    fb::finish_record_batch_buffer(&mut fbb, root);

    // The finished buffer is the tail of the builder's; move it to the front (no reallocation).
    let (mut buf, head) = fbb.collapse();
    buf.drain(..head);
    buf
}

fn malformed(detail: impl std::fmt::Display) -> Error {
    Error::data(format!("malformed record batch: {detail}"))
}

/// Decodes an encoded batch into an owned batch and the nullability of each field.
pub fn decode(bytes: &[u8]) -> Result<(RecordBatch, Vec<bool>)> {
    if bytes.len() < 8 {
        return Err(Error::data(format!(
            "not a Sluice record batch: {} bytes is too short (a FlatBuffer with a file identifier has at least 8)",
            bytes.len()
        )));
    }
    if !fb::record_batch_buffer_has_identifier(bytes) {
        return Err(Error::data(format!(
            "not a Sluice record batch: file identifier is {:?}, expected \"{FILE_IDENTIFIER}\"",
            String::from_utf8_lossy(&bytes[4..8])
        )));
    }
    let rb = fb::root_as_record_batch(bytes).map_err(|e| malformed(e.to_string().trim_end()))?;
    inline_in_bounds(&rb._tab, "record batch")?;

    let fb_fields = rb.fields();
    let fb_columns = rb.columns();
    if fb_fields.len() != fb_columns.len() {
        return Err(malformed(format!(
            "{} fields but {} columns",
            fb_fields.len(),
            fb_columns.len()
        )));
    }
    let n = rb.length() as usize;
    let bits = bitmap_len(n);

    let mut fields = Vec::with_capacity(fb_fields.len());
    let mut nullable = Vec::with_capacity(fb_fields.len());
    let mut names = HashSet::with_capacity(fb_fields.len());
    for (i, f) in fb_fields.iter().enumerate() {
        inline_in_bounds(&f._tab, &format!("field {i}"))?;
        let name = f.name();
        let t = from_fb_type(f.type_()).ok_or_else(|| {
            malformed(format!("field '{name}' has unknown type code {}", f.type_().0))
        })?;
        if !names.insert(name) {
            return Err(malformed(format!("duplicate field name '{name}'")));
        }
        fields.push(Field::new(name, t));
        nullable.push(f.nullable());
    }

    let mut columns = Vec::with_capacity(fields.len());
    for (f, c) in fields.iter().zip(fb_columns.iter()) {
        inline_in_bounds(&c._tab, &format!("column '{}'", f.name))?;
        columns.push(decode_column(f, &c)?);
    }

    let event_time = rb.event_time().map(|v| v.iter().collect::<Vec<i64>>());
    let mut batch = RecordBatch { schema: Arc::new(Schema::new(fields)), columns, len: n, event_time };
    batch.as_ref().validate().map_err(|e| malformed(e.message))?;

    // Cut buffers longer than `n` rows need to size (a no-op for what `encode` writes).
    for c in &mut batch.columns {
        if let Some(v) = &mut c.validity {
            v.truncate(bits);
        }
        match &mut c.data {
            ColumnData::I32(v) => v.truncate(n),
            ColumnData::I64(v) | ColumnData::Timestamp(v) => v.truncate(n),
            ColumnData::F64(v) => v.truncate(n),
            ColumnData::Bool(v) => v.truncate(bits),
            ColumnData::Utf8 { offsets, data } => {
                offsets.truncate(n + 1);
                let end = offsets.last().map_or(0, |&o| o as usize);
                data.truncate(end);
            }
        }
    }
    if let Some(t) = &mut batch.event_time {
        t.truncate(n);
    }
    check_utf8(&batch)?;
    Ok((batch, nullable))
}

/// Every utf8 value is valid UTF-8 (never replaced later): the used data is UTF-8 and each
/// value starts on a character boundary. The same check as the TypeScript decoder's.
fn check_utf8(batch: &RecordBatch) -> Result<()> {
    for (f, c) in batch.schema.fields.iter().zip(&batch.columns) {
        let ColumnData::Utf8 { offsets, data } = &c.data else { continue };
        let first = offsets.first().map_or(0, |&o| o as usize);
        let text = std::str::from_utf8(&data[first..])
            .map_err(|_| malformed(format!("column '{}': utf8 data is not valid UTF-8", f.name)))?;
        if let Some(i) = offsets.iter().position(|&o| !text.is_char_boundary(o as usize - first)) {
            return Err(malformed(format!(
                "column '{}': value {i} does not start on a UTF-8 character boundary",
                f.name
            )));
        }
    }
    Ok(())
}

/// The verifier checks every field a table has, but not the table's inline size (the second
/// entry of its vtable); a table whose inline part runs past the buffer is malformed here too,
/// as in the TypeScript decoder.
fn inline_in_bounds(t: &flatbuffers::Table<'_>, what: &str) -> Result<()> {
    let (pos, len) = (t.loc(), t.buf().len());
    let end = pos + t.vtable().object_inline_num_bytes();
    if end > len {
        return Err(malformed(format!("{what}: range [{pos}, {end}) is out of bounds of {len} bytes")));
    }
    Ok(())
}

const VECTOR_NAMES: [&str; 6] = ["i32_values", "i64_values", "f64_values", "bool_values", "offsets", "data"];

fn decode_column(f: &Field, c: &fb::Column<'_>) -> Result<Column> {
    // Which value vectors are present, in the order of VECTOR_NAMES.
    let present = [
        c.i32_values().is_some(),
        c.i64_values().is_some(),
        c.f64_values().is_some(),
        c.bool_values().is_some(),
        c.offsets().is_some(),
        c.data().is_some(),
    ];
    let needed: &[usize] = match f.data_type {
        DataType::I32 => &[0],
        DataType::I64 | DataType::Timestamp => &[1],
        DataType::F64 => &[2],
        DataType::Bool => &[3],
        DataType::Utf8 => &[4, 5],
    };
    if let Some(&k) = needed.iter().find(|&&k| !present[k]) {
        return Err(malformed(format!(
            "column '{}' ({}) has no {} vector",
            f.name, f.data_type, VECTOR_NAMES[k]
        )));
    }
    for (k, &p) in present.iter().enumerate() {
        if p && !needed.contains(&k) {
            return Err(malformed(format!(
                "column '{}' ({}) has an unexpected {} vector",
                f.name, f.data_type, VECTOR_NAMES[k]
            )));
        }
    }
    // Presence was checked above; an absent vector reads as empty.
    let data = match f.data_type {
        DataType::I32 => ColumnData::I32(collect(c.i32_values())),
        DataType::I64 => ColumnData::I64(collect(c.i64_values())),
        DataType::Timestamp => ColumnData::Timestamp(collect(c.i64_values())),
        DataType::F64 => ColumnData::F64(collect(c.f64_values())),
        DataType::Bool => ColumnData::Bool(bytes(c.bool_values())),
        DataType::Utf8 => ColumnData::Utf8 { offsets: collect(c.offsets()), data: bytes(c.data()) },
    };
    let validity = c.validity().filter(|v| !v.is_empty()).map(|v| v.bytes().to_vec());
    Ok(Column { data, validity })
}

fn collect<'a, T>(v: Option<Vector<'a, T>>) -> Vec<T>
where
    T: flatbuffers::Follow<'a, Inner = T> + 'a,
{
    v.map_or_else(Vec::new, |v| v.iter().collect())
}

fn bytes(v: Option<Vector<'_, u8>>) -> Vec<u8> {
    v.map_or_else(Vec::new, |v| v.bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{bit_set, Utf8Builder};

    fn bitmap(bits: &[bool]) -> Vec<u8> {
        let mut m = vec![0u8; bitmap_len(bits.len())];
        for (i, &b) in bits.iter().enumerate() {
            bit_set(&mut m, i, b);
        }
        m
    }

    /// Every type, with and without nulls, 9 rows (bitmaps cross a byte boundary).
    fn sample(with_event_time: bool) -> (RecordBatch, Vec<bool>) {
        let n = 9;
        let valid: Vec<bool> = (0..n).map(|i| i % 3 != 1).collect();
        let mut utf8 = Utf8Builder::with_capacity(n, 64);
        for s in ["", "a", "héllo", "日本語", "😀", "", "x", "quite a long string indeed", "z"] {
            utf8.push(s.as_bytes());
        }
        let cols = vec![
            ("i32", ColumnData::I32(vec![0, 1, -1, i32::MAX, i32::MIN, 42, 7, 8, 9])),
            ("i64", ColumnData::I64(vec![0, 1, -1, i64::MAX, i64::MIN, (1 << 53) + 1, -(1 << 53) - 1, 5, 6])),
            ("f64", ColumnData::F64(vec![0.0, -0.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1.5, f64::MAX, f64::MIN_POSITIVE, -1e-300])),
            ("bool", ColumnData::Bool(bitmap(&[true, false, true, true, false, false, true, false, true]))),
            ("utf8", utf8.finish()),
            ("ts", ColumnData::Timestamp(vec![0, 1_700_000_000_000, -1, i64::MAX, i64::MIN, 1, 2, 3, 4])),
        ];
        let mut fields = Vec::new();
        let mut columns = Vec::new();
        let mut nullable = Vec::new();
        for (name, data) in cols {
            for with_nulls in [false, true] {
                let name = format!("{name}{}", if with_nulls { "?" } else { "" });
                fields.push(Field::new(name, data.data_type()));
                columns.push(Column { data: data.clone(), validity: with_nulls.then(|| bitmap(&valid)) });
                nullable.push(with_nulls);
            }
        }
        let event_time = with_event_time.then(|| (0..n as i64).map(|i| 1_700_000_000_000 + i * 1000 - 5000).collect());
        (RecordBatch { schema: Arc::new(Schema::new(fields)), columns, len: n, event_time }, nullable)
    }

    /// Equality that tells NaN and -0.0 apart and ignores values under nulls.
    fn assert_same(a: &RecordBatch, b: &RecordBatch) {
        assert_eq!(a.schema, b.schema);
        assert_eq!(a.len, b.len);
        assert_eq!(a.event_time, b.event_time);
        for (ca, cb) in a.columns.iter().zip(&b.columns) {
            assert_eq!(ca.validity, cb.validity);
            match (&ca.data, &cb.data) {
                (ColumnData::F64(x), ColumnData::F64(y)) => {
                    let bx: Vec<u64> = x.iter().map(|v| v.to_bits()).collect();
                    let by: Vec<u64> = y.iter().map(|v| v.to_bits()).collect();
                    assert_eq!(bx, by);
                }
                (x, y) => assert_eq!(x, y),
            }
        }
    }

    #[test]
    fn rejects_utf8_values_that_are_not_utf8() {
        let batch = |offsets: Vec<i32>, data: Vec<u8>| {
            let len = offsets.len() - 1;
            let columns = vec![Column { data: ColumnData::Utf8 { offsets, data }, validity: None }];
            RecordBatch { schema: Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8)])), columns, len, event_time: None }
        };
        let bad = encode(&batch(vec![0, 1, 2], vec![b'a', 0xff]).as_ref(), &[false]);
        assert_eq!(decode(&bad).unwrap_err().message, "malformed record batch: column 's': utf8 data is not valid UTF-8");
        // 'é' cut in two: valid bytes, but the second value starts inside a character.
        let cut = encode(&batch(vec![0, 1, 2], "é".as_bytes().to_vec()).as_ref(), &[false]);
        assert_eq!(decode(&cut).unwrap_err().message, "malformed record batch: column 's': value 1 does not start on a UTF-8 character boundary");
        let whole = encode(&batch(vec![0, 2], "é".as_bytes().to_vec()).as_ref(), &[false]);
        assert!(decode(&whole).is_ok());
    }

    #[test]
    fn round_trips_every_type() {
        for et in [false, true] {
            let (batch, nullable) = sample(et);
            let bytes = encode(&batch.as_ref(), &nullable);
            assert_eq!(&bytes[4..8], b"SLB1");
            assert!(bytes.len() <= encoded_size_hint(&batch.as_ref()));
            let (back, nb) = decode(&bytes).unwrap();
            assert_same(&batch, &back);
            assert_eq!(nb, nullable);
            // Re-encoding the decoded batch gives the same bytes.
            assert_eq!(encode(&back.as_ref(), &nb), bytes);
        }
    }

    #[test]
    fn round_trips_empty_batches() {
        let (full, nullable) = sample(false);
        let empty = RecordBatch::empty(full.schema.clone());
        let bytes = encode(&empty.as_ref(), &nullable);
        let (back, nb) = decode(&bytes).unwrap();
        assert_same(&empty, &back);
        assert_eq!(nb, nullable);

        // Zero rows with event time, and zero fields.
        let mut with_et = RecordBatch::empty(full.schema.clone());
        with_et.event_time = Some(vec![]);
        assert_same(&with_et, &decode(&encode(&with_et.as_ref(), &nullable)).unwrap().0);
        let none = RecordBatch::empty(Arc::new(Schema::default()));
        let (back, nb) = decode(&encode(&none.as_ref(), &[])).unwrap();
        assert_same(&none, &back);
        assert!(nb.is_empty());
    }

    #[test]
    fn cuts_long_buffers_to_length() {
        let (mut batch, nullable) = sample(true);
        // A view of the first 4 rows of 9-row buffers.
        batch.len = 4;
        let bytes = encode(&batch.as_ref(), &nullable);
        let (back, _) = decode(&bytes).unwrap();
        assert_same(&batch.as_ref().to_owned_batch(), &back);
        assert!(matches!(&back.columns[0].data, ColumnData::I32(v) if v.len() == 4));
    }

    #[test]
    fn missing_nullable_flags_default_to_nullable() {
        let (batch, _) = sample(false);
        let (_, nb) = decode(&encode(&batch.as_ref(), &[false])).unwrap();
        assert!(!nb[0]);
        assert!(nb[1..].iter().all(|&x| x));
    }

    #[test]
    fn rejects_short_and_foreign_buffers() {
        for len in 0..8 {
            let e = decode(&vec![0u8; len]).unwrap_err();
            assert!(e.message.contains("too short"), "{}", e.message);
        }
        let (batch, nullable) = sample(true);
        let mut bytes = encode(&batch.as_ref(), &nullable);
        bytes[4..8].copy_from_slice(b"XXXX");
        let e = decode(&bytes).unwrap_err();
        assert!(e.message.contains("file identifier is \"XXXX\", expected \"SLB1\""), "{}", e.message);
    }

    #[test]
    fn rejects_every_truncation_without_panicking() {
        let (batch, nullable) = sample(true);
        let bytes = encode(&batch.as_ref(), &nullable);
        for len in 0..bytes.len() {
            let r = decode(&bytes[..len]);
            assert!(r.is_err(), "truncated to {len} bytes decoded");
            assert_eq!(r.unwrap_err().kind, crate::ErrorKind::Data);
        }
    }

    #[test]
    fn survives_corruption_without_panicking() {
        let (batch, nullable) = sample(true);
        let bytes = encode(&batch.as_ref(), &nullable);
        let mut next = crate::test_rng::xorshift(0x9e37_79b9_7f4a_7c15);
        let (mut ok, mut err) = (0, 0);
        for _ in 0..20_000 {
            let mut b = bytes.clone();
            for _ in 0..1 + next() % 4 {
                let i = (next() % b.len() as u64) as usize;
                b[i] = next() as u8;
            }
            match decode(&b) {
                // Whatever decodes is a valid batch.
                Ok((batch, _)) => {
                    batch.as_ref().validate().unwrap();
                    ok += 1;
                }
                Err(e) => {
                    assert_eq!(e.kind, crate::ErrorKind::Data);
                    err += 1;
                }
            }
        }
        assert!(ok > 0 && err > 0, "ok {ok}, err {err}");
    }

    /// Builds a buffer by hand with the generated API, for shapes `encode` never writes.
    fn hand_built(
        fields: &[(&str, fb::DataType)],
        column: impl Fn(&mut FlatBufferBuilder<'static>, usize) -> flatbuffers::WIPOffset<fb::Column<'static>>,
        length: u32,
    ) -> Vec<u8> {
        let mut fbb = FlatBufferBuilder::new();
        let cols: Vec<_> = (0..fields.len()).map(|i| column(&mut fbb, i)).collect();
        let fs: Vec<_> = fields
            .iter()
            .map(|(name, t)| {
                let name = fbb.create_string(name);
                fb::Field::create(&mut fbb, &fb::FieldArgs { name: Some(name), type_: *t, nullable: true })
            })
            .collect();
        let fields = Some(fbb.create_vector(&fs));
        let columns = Some(fbb.create_vector(&cols));
        let root = fb::RecordBatch::create(&mut fbb, &fb::RecordBatchArgs { fields, columns, length, event_time: None });
        fb::finish_record_batch_buffer(&mut fbb, root);
        fbb.finished_data().to_vec()
    }

    fn i32_column(fbb: &mut FlatBufferBuilder<'static>, values: &[i32]) -> flatbuffers::WIPOffset<fb::Column<'static>> {
        let v = fbb.create_vector(values);
        fb::Column::create(fbb, &fb::ColumnArgs { i32_values: Some(v), ..Default::default() })
    }

    #[test]
    fn rejects_inconsistent_batches() {
        let msg = |b: Vec<u8>| decode(&b).unwrap_err().message;

        let m = msg(hand_built(&[("a", fb::DataType(9))], |fbb, _| i32_column(fbb, &[1]), 1));
        assert!(m.contains("field 'a' has unknown type code 9"), "{m}");

        let m = msg(hand_built(&[("a", fb::DataType::I64)], |fbb, _| i32_column(fbb, &[1]), 1));
        assert!(m.contains("column 'a' (i64) has no i64_values vector"), "{m}");

        let m = msg(hand_built(
            &[("a", fb::DataType::I32)],
            |fbb, _| {
                let v = fbb.create_vector(&[1i32]);
                let d = fbb.create_vector(&[1u8]);
                fb::Column::create(fbb, &fb::ColumnArgs { i32_values: Some(v), data: Some(d), ..Default::default() })
            },
            1,
        ));
        assert!(m.contains("unexpected data vector"), "{m}");

        let m = msg(hand_built(&[("a", fb::DataType::I32)], |fbb, _| i32_column(fbb, &[1, 2]), 3));
        assert!(m.contains("column 'a': values has 2 entries, 3 needed for 3 rows"), "{m}");

        let m = msg(hand_built(&[("a", fb::DataType::I32), ("a", fb::DataType::I32)], |fbb, _| i32_column(fbb, &[1]), 1));
        assert!(m.contains("duplicate field name 'a'"), "{m}");

        let m = msg(hand_built(
            &[("s", fb::DataType::Utf8)],
            |fbb, _| {
                let o = fbb.create_vector(&[0i32, 3, 1]);
                let d = fbb.create_vector(b"abc".as_slice());
                fb::Column::create(fbb, &fb::ColumnArgs { offsets: Some(o), data: Some(d), ..Default::default() })
            },
            2,
        ));
        assert!(m.contains("utf8 offsets decrease"), "{m}");

        let m = msg(hand_built(
            &[("s", fb::DataType::Utf8)],
            |fbb, _| {
                let o = fbb.create_vector(&[0i32, 9]);
                let d = fbb.create_vector(b"abc".as_slice());
                fb::Column::create(fbb, &fb::ColumnArgs { offsets: Some(o), data: Some(d), ..Default::default() })
            },
            1,
        ));
        assert!(m.contains("utf8 data has 3 entries, 9 needed"), "{m}");

        // More fields than columns.
        let mut fbb = FlatBufferBuilder::new();
        let name = fbb.create_string("a");
        let f = fb::Field::create(&mut fbb, &fb::FieldArgs { name: Some(name), type_: fb::DataType::I32, nullable: true });
        let fields = Some(fbb.create_vector(&[f]));
        let columns = Some(fbb.create_vector::<flatbuffers::WIPOffset<fb::Column>>(&[]));
        let root = fb::RecordBatch::create(&mut fbb, &fb::RecordBatchArgs { fields, columns, length: 0, event_time: None });
        fb::finish_record_batch_buffer(&mut fbb, root);
        let m = msg(fbb.finished_data().to_vec());
        assert!(m.contains("1 fields but 0 columns"), "{m}");
    }

    #[test]
    fn verifier_errors_are_data_errors() {
        let (batch, nullable) = sample(false);
        let mut bytes = encode(&batch.as_ref(), &nullable);
        // Point the root table far out of the buffer.
        bytes[0..4].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
        let e = decode(&bytes).unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::Data);
        assert!(e.message.starts_with("malformed record batch: "), "{}", e.message);
    }
}
