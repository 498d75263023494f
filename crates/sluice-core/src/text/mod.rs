//! Text formats: JSON Lines (and CSV output) straight to and from columnar batches, with the
//! declared schema. The TypeScript engine implements the same rules (`ts/engine/ts/text/`)
//! and both give the same batches, bytes and error messages for the same input, so the
//! messages here are written in JavaScript's terms (numbers as `String(x)`, strings as
//! `JSON.stringify`).

pub mod csv;
pub mod encode;
pub mod jsonl;

use crate::batch::{bit_set, bitmap_len, Column, ColumnData, DataType, RecordBatch, SchemaRef};

/// A declared field: the core's `Field` plus nullability, which decoding enforces.
#[derive(Clone, Debug)]
pub struct TextField {
    pub name: String,
    pub data_type: DataType,
    pub nullable: bool,
}

/// A line (or record) that could not be decoded: where, why, and its text for a dead letter.
#[derive(Clone, Debug, PartialEq)]
pub struct BadLine {
    /// 1-based line number in the file.
    pub line: u64,
    /// The whole message, naming the file, the line and the field when there is one.
    pub message: String,
    /// The line without its line end (invalid UTF-8 replaced by U+FFFD: only for the dead letter).
    pub raw: String,
}

/// What one `decode` call read.
#[derive(Debug)]
pub struct Decoded {
    pub batch: RecordBatch,
    /// Bytes of the input consumed (whole lines only).
    pub consumed: usize,
    /// Lines consumed (line feeds, plus one for a last line without one).
    pub lines: u64,
    pub bad: Vec<BadLine>,
}

/// One decoded value, before it is appended (a row is appended only when all its fields are good).
#[derive(Debug)]
pub(crate) enum Value<'a> {
    Null,
    I32(i32),
    I64(i64),
    F64(f64),
    Bool(bool),
    Str(std::borrow::Cow<'a, str>),
}

/// Columns under construction; validity bitmaps are made only when a null appears.
pub(crate) struct Columns {
    cols: Vec<(ColumnData, Option<Vec<u8>>)>,
    len: usize,
    /// Columns whose validity bitmap the row being written created (a rollback removes them).
    new_validity: Vec<usize>,
}

impl Columns {
    pub(crate) fn new(fields: &[TextField], capacity: usize) -> Columns {
        let cols = fields
            .iter()
            .map(|f| {
                let data = match f.data_type {
                    DataType::I32 => ColumnData::I32(Vec::with_capacity(capacity)),
                    DataType::I64 => ColumnData::I64(Vec::with_capacity(capacity)),
                    DataType::Timestamp => ColumnData::Timestamp(Vec::with_capacity(capacity)),
                    DataType::F64 => ColumnData::F64(Vec::with_capacity(capacity)),
                    DataType::Bool => ColumnData::Bool(Vec::with_capacity(bitmap_len(capacity))),
                    DataType::Utf8 => {
                        let mut offsets = Vec::with_capacity(capacity + 1);
                        offsets.push(0);
                        ColumnData::Utf8 { offsets, data: Vec::with_capacity(capacity * 16) }
                    }
                };
                (data, None)
            })
            .collect();
        Columns { cols, len: 0, new_validity: Vec::new() }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    // Per-value appends: a decoder writes a row's fields into their columns (in any order, each
    // field once), then `commit_row`, or `rollback_row` to drop what it wrote of it.

    /// Marks row `self.len` of column `k` valid (its bitmap exists only once a null appeared).
    #[inline]
    fn valid(&mut self, k: usize) {
        let i = self.len;
        if let Some(bits) = &mut self.cols[k].1 {
            bits.resize(bitmap_len(i + 1), 0);
            bit_set(bits, i, true);
        }
    }

    #[inline]
    pub(crate) fn put_null(&mut self, k: usize) {
        let i = self.len;
        let (data, validity) = &mut self.cols[k];
        if validity.is_none() {
            self.new_validity.push(k);
        }
        let bits = validity.get_or_insert_with(|| {
            let mut bits = vec![0u8; bitmap_len(i + 1)];
            (0..i).for_each(|j| bit_set(&mut bits, j, true));
            bits
        });
        bits.resize(bitmap_len(i + 1), 0);
        match data {
            ColumnData::I32(d) => d.push(0),
            ColumnData::I64(d) | ColumnData::Timestamp(d) => d.push(0),
            ColumnData::F64(d) => d.push(0.0),
            ColumnData::Bool(d) => d.resize(bitmap_len(i + 1), 0),
            ColumnData::Utf8 { offsets, data } => offsets.push(data.len() as i32),
        }
    }

    /// Column `k` must be i32.
    #[inline]
    pub(crate) fn put_i32(&mut self, k: usize, x: i32) {
        self.valid(k);
        if let ColumnData::I32(d) = &mut self.cols[k].0 {
            d.push(x);
        }
    }

    /// Column `k` must be i64 or a timestamp.
    #[inline]
    pub(crate) fn put_i64(&mut self, k: usize, x: i64) {
        self.valid(k);
        if let ColumnData::I64(d) | ColumnData::Timestamp(d) = &mut self.cols[k].0 {
            d.push(x);
        }
    }

    /// Column `k` must be f64.
    #[inline]
    pub(crate) fn put_f64(&mut self, k: usize, x: f64) {
        self.valid(k);
        if let ColumnData::F64(d) = &mut self.cols[k].0 {
            d.push(x);
        }
    }

    /// Column `k` must be bool.
    #[inline]
    pub(crate) fn put_bool(&mut self, k: usize, x: bool) {
        self.valid(k);
        let i = self.len;
        if let ColumnData::Bool(d) = &mut self.cols[k].0 {
            d.resize(bitmap_len(i + 1), 0);
            if x {
                bit_set(d, i, true);
            }
        }
    }

    /// Column `k` must be utf8.
    #[inline]
    pub(crate) fn put_str(&mut self, k: usize, s: &str) {
        self.valid(k);
        if let ColumnData::Utf8 { offsets, data } = &mut self.cols[k].0 {
            data.extend_from_slice(s.as_bytes());
            offsets.push(data.len() as i32);
        }
    }

    /// Column `k` takes `v`, which has its type (or is null).
    #[inline]
    pub(crate) fn put(&mut self, k: usize, v: Value<'_>) {
        match v {
            Value::Null => self.put_null(k),
            Value::I32(x) => self.put_i32(k, x),
            Value::I64(x) => self.put_i64(k, x),
            Value::F64(x) => self.put_f64(k, x),
            Value::Bool(x) => self.put_bool(k, x),
            Value::Str(s) => self.put_str(k, &s),
        }
    }

    /// The row every column has been written for becomes part of the batch.
    #[inline]
    pub(crate) fn commit_row(&mut self) {
        self.len += 1;
        self.new_validity.clear();
    }

    /// Drops whatever was written of row `self.len` (any subset of its columns).
    pub(crate) fn rollback_row(&mut self) {
        let i = self.len;
        for k in self.new_validity.drain(..) {
            self.cols[k].1 = None;
        }
        for (data, validity) in &mut self.cols {
            if let Some(bits) = validity {
                cut_bits(bits, i);
            }
            match data {
                ColumnData::I32(d) => d.truncate(i),
                ColumnData::I64(d) | ColumnData::Timestamp(d) => d.truncate(i),
                ColumnData::F64(d) => d.truncate(i),
                ColumnData::Bool(d) => cut_bits(d, i),
                ColumnData::Utf8 { offsets, data } => {
                    offsets.truncate(i + 1);
                    data.truncate(offsets[i] as usize);
                }
            }
        }
    }

    pub(crate) fn finish(self, schema: SchemaRef) -> RecordBatch {
        let len = self.len;
        let columns = self.cols.into_iter().map(|(data, validity)| Column { data, validity }).collect();
        RecordBatch { schema, columns, len, event_time: None }
    }
}

/// Keeps the first `n` bits of a bitmap, as many bytes as they need, the rest of the last byte clear.
fn cut_bits(bits: &mut Vec<u8>, n: usize) {
    bits.truncate(bitmap_len(n));
    if n & 7 != 0 {
        if let Some(last) = bits.last_mut() {
            *last &= (1u8 << (n & 7)) - 1;
        }
    }
}

/// `String(x)` in JavaScript: the shortest text that reads back as `x`, in JavaScript's layout.
pub fn js_number(x: f64) -> String {
    let mut b = ryu_js::Buffer::new();
    b.format(x).to_string()
}

/// Appends `s` as `JSON.stringify(s)` writes it (the same escapes, lowercase hex).
pub fn push_json_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut from = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[from..i]);
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
        } else {
            out.extend_from_slice(esc);
        }
        from = i + 1;
    }
    out.extend_from_slice(&bytes[from..]);
    out.push(b'"');
}

/// A string as error messages quote it: its first 40 UTF-16 units, then `…`, as JSON (the
/// TypeScript engine's `JSON.stringify(s.slice(0, 40) + '…')`, a split pair included).
pub fn quote_js(s: &str) -> String {
    let mut units = 0;
    let mut end = s.len();
    let mut lone_high: Option<u16> = None;
    let mut cut = false;
    for (i, c) in s.char_indices() {
        let n = c.len_utf16();
        if units + n > 40 {
            end = i;
            cut = true;
            if units == 39 && n == 2 {
                let mut pair = [0u16; 2];
                c.encode_utf16(&mut pair);
                lone_high = Some(pair[0]);
            }
            break;
        }
        units += n;
    }
    if !cut {
        let mut out = Vec::new();
        push_json_string(&mut out, s);
        return String::from_utf8(out).unwrap_or_default();
    }
    let mut out = Vec::new();
    push_json_string(&mut out, &s[..end]);
    out.pop(); // the closing quote
    if let Some(h) = lone_high {
        out.extend_from_slice(format!("\\u{h:04x}").as_bytes());
    }
    out.extend_from_slice("…\"".as_bytes());
    String::from_utf8(out).unwrap_or_default()
}

/// What `String.prototype.trim` removes: a line of only these is blank.
pub(crate) fn is_js_blank(s: &str) -> bool {
    s.chars().all(|c| {
        matches!(
            c,
            '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
                ..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}' | '\u{feff}'
        )
    })
}

/// Ok, or the index of the first byte of the first invalid UTF-8 sequence.
pub(crate) fn is_valid_utf8_at(b: &[u8]) -> std::result::Result<(), usize> {
    if simdutf8::basic::from_utf8(b).is_ok() {
        return Ok(());
    }
    // Only invalid input pays for a second, position-finding pass.
    std::str::from_utf8(b).map(|_| ()).map_err(|e| e.valid_up_to())
}

/// How many bytes from the start of `bytes` (a record's start) are valid UTF-8: a block of about
/// 64 KiB, up to a line end, or as far as the first invalid byte.
pub(crate) fn valid_utf8_ahead(bytes: &[u8]) -> usize {
    const BLOCK: usize = 64 * 1024;
    let end = if bytes.len() <= BLOCK { bytes.len() } else { memchr::memchr(b'\n', &bytes[BLOCK..]).map_or(bytes.len(), |i| BLOCK + i) };
    match is_valid_utf8_at(&bytes[..end]) {
        Ok(()) => end,
        Err(at) => at,
    }
}

/// The message for a line that is not UTF-8, at byte `at` (0-based) of the line.
pub(crate) fn invalid_utf8(where_: &str, line: u64, at: usize) -> String {
    format!(
        "{where_}, line {line}: invalid UTF-8 at byte {} of the line; the file must be UTF-8 text (convert it, e.g. with iconv -t UTF-8)",
        at + 1
    )
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_strings_as_javascript_writes_them() {
        assert_eq!(js_number(1.0), "1");
        assert_eq!(js_number(-0.0), "0");
        assert_eq!(js_number(1e21), "1e+21");
        assert_eq!(js_number(1.5e-7), "1.5e-7");
        assert_eq!(js_number(f64::INFINITY), "Infinity");
        assert_eq!(quote_js("a\"b\n\u{1}"), "\"a\\\"b\\n\\u0001\"");
        let long = format!("{}𝄞x", "a".repeat(39));
        assert_eq!(quote_js(&long), format!("\"{}\\ud834…\"", "a".repeat(39)));
        assert!(is_js_blank(" \u{feff}\t"));
        assert!(!is_js_blank(" x"));
    }
}
