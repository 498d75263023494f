//! CSV (RFC 4180) -> a columnar batch of the declared schema, as the TypeScript engine reads
//! it (`ts/engine/ts/text/csv.ts`): the same record boundaries, values, blank records and
//! messages. A record may span lines (quoted line breaks), so a call parses whole records
//! and stops where the bytes end inside one (unless they are the end of the file).
//!
//! The grammar is parsed here rather than with the csv crate: the reader must report the
//! cases csv-core accepts silently (a quote inside an unquoted field, text after a closing
//! quote), with the field and line, as the TypeScript engine does.

use std::sync::Arc;

use super::{is_valid_utf8_at, quote_js, valid_utf8_ahead, BadLine, Columns, Decoded, TextField, Value};
use crate::batch::{DataType, Field, Schema, SchemaRef};
use crate::error::{Error, Result};

const QUOTE: u8 = b'"';
const LF: u8 = b'\n';
const CR: u8 = b'\r';

pub struct CsvDecoder {
    fields: Vec<TextField>,
    schema: SchemaRef,
    where_: String,
    delim: Vec<u8>,
    header: bool,
    /// Schema field k is column `column_of[k]` of the file; None until the header is read.
    column_of: Option<Vec<usize>>,
    width: usize,
    /// Byte ranges of the last record's fields (quoted: inside the quotes) and whether quoted.
    spans: Vec<(usize, usize, bool)>,
    /// File column c holds schema field `field_of[c]` (usize::MAX: not read); the inverse of
    /// `column_of`, for the fast path. Empty until the header is read.
    field_of: Vec<usize>,
}

enum Step {
    Record(usize),
    More,
    Bad(usize, String),
}

impl CsvDecoder {
    pub fn new(fields: Vec<TextField>, where_: String, delimiter: &str, header: bool) -> CsvDecoder {
        let schema = Arc::new(Schema::new(fields.iter().map(|f| Field::new(f.name.clone(), f.data_type)).collect()));
        let n = fields.len();
        let mut d = CsvDecoder { fields, schema, where_, delim: delimiter.as_bytes().to_vec(), header, column_of: None, width: n, spans: Vec::new(), field_of: Vec::new() };
        if !header {
            d.set_columns((0..n).collect(), n);
        }
        d
    }

    fn set_columns(&mut self, column_of: Vec<usize>, width: usize) {
        self.field_of = vec![usize::MAX; width];
        for (k, &c) in column_of.iter().enumerate() {
            self.field_of[c] = k;
        }
        self.column_of = Some(column_of);
        self.width = width;
    }

    /// The column map a header gave (for checkpoints), or None before it is read.
    pub fn header(&self) -> Option<(Vec<usize>, usize)> {
        if !self.header {
            return None;
        }
        self.column_of.clone().map(|c| (c, self.width))
    }

    /// Continues after a header read earlier (a restore).
    pub fn set_header(&mut self, column_of: Vec<usize>, width: usize) {
        self.set_columns(column_of, width);
    }

    /// Decodes whole records of `bytes` until `max_rows` rows are read or the bytes end inside
    /// a record (the end of the file when `eof`). `first_line` is the number of lines before
    /// `bytes`. Errors are those of the header, which fail the file.
    pub fn decode(&mut self, t: &[u8], first_line: u64, max_rows: usize, eof: bool) -> Result<Decoded> {
        let mut cols = Columns::new(&self.fields, max_rows.min(t.len() / 16 + 1));
        let mut bad = Vec::new();
        let mut pos = 0;
        let mut line = first_line + 1;
        // t[..valid_to] is known to be UTF-8 (checked a block at a time, as in the JSONL decoder).
        let mut valid_to = 0;
        while pos < t.len() && cols.len() < max_rows {
            if let Some(end) = self.plain_record(t, pos, &mut valid_to, &mut cols) {
                pos = end;
                line += 1;
                continue;
            }
            let step = self.parse(t, pos, eof);
            let end = match &step {
                Step::More => break,
                Step::Record(end) | Step::Bad(end, _) => *end,
            };
            let (start, at) = (pos, line);
            // Only a quoted field (or a bad record) can hold a line feed before the record's end.
            let plain = matches!(step, Step::Record(_)) && !self.spans.iter().any(|s| s.2);
            line += if plain { u64::from(t[end - 1] == LF) } else { memchr::memchr_iter(LF, &t[start..end]).count() as u64 };
            pos = end;
            let rec = &t[start..end];
            let raw = || String::from_utf8_lossy(without_line_end(rec)).into_owned();
            if end > valid_to {
                valid_to = start + valid_utf8_ahead(&t[start..]);
            }
            let checked = if end <= valid_to { Ok(()) } else { is_valid_utf8_at(rec) };
            if let Err(k) = checked {
                let message = format!(
                    "{}, line {at}: invalid UTF-8 at byte {} of the record; the file must be UTF-8 text (convert it, e.g. with iconv -t UTF-8)",
                    self.where_,
                    k + 1
                );
                if self.column_of.is_none() {
                    return Err(Error::data(message));
                }
                bad.push(BadLine { line: at, message, raw: raw() });
                continue;
            }
            if let Step::Bad(_, problem) = step {
                if self.column_of.is_none() {
                    return Err(Error::data(format!("{}, line {at}: malformed header row: {problem}", self.where_)));
                }
                bad.push(BadLine { line: at, message: format!("{}, line {at}: malformed CSV: {problem}", self.where_), raw: raw() });
                continue;
            }
            if self.spans.len() == 1 && self.spans[0].0 == self.spans[0].1 && !self.spans[0].2 {
                continue; // a blank record
            }
            if self.column_of.is_none() {
                self.read_header(t)?;
                continue;
            }
            if self.spans.len() != self.width {
                let what = if self.header { "as many as the header has" } else { "one per schema field" };
                let message =
                    format!("{}, line {at}: malformed CSV: expected {} fields ({what}), got {}", self.where_, self.width, self.spans.len());
                bad.push(BadLine { line: at, message, raw: raw() });
                continue;
            }
            match self.values(t, &mut cols) {
                Ok(()) => cols.commit_row(),
                Err((k, detail)) => {
                    cols.rollback_row();
                    let message = format!("{}, line {at}, field '{}': {detail}", self.where_, self.fields[k].name);
                    bad.push(BadLine { line: at, message, raw: raw() });
                }
            }
        }
        let mut lines = line - first_line - 1;
        // A last record without a line break has been read: a restore must not read it again.
        if eof && pos == t.len() && pos > 0 && t[pos - 1] != LF {
            lines += 1;
        }
        Ok(Decoded { batch: cols.finish(self.schema.clone()), consumed: pos, lines, bad })
    }

    fn read_header(&mut self, t: &[u8]) -> Result<()> {
        let names: Vec<String> = (0..self.spans.len()).map(|i| field_text(t, self.spans[i]).into_owned()).collect();
        let mut column_of = Vec::with_capacity(self.fields.len());
        for f in &self.fields {
            let Some(at) = names.iter().position(|h| *h == f.name) else {
                let have: Vec<String> = names.iter().map(|h| format!("'{h}'")).collect();
                return Err(Error::data(format!(
                    "{}: the CSV header has no column '{}', which the schema declares; the header has {}. Rename the column or the field, or read the file with {{ header: false }} to match columns by position",
                    self.where_,
                    f.name,
                    have.join(", ")
                )));
            };
            if names[at + 1..].contains(&f.name) {
                return Err(Error::data(format!(
                    "{}: the CSV header names column '{}' twice; which one to read is ambiguous",
                    self.where_, f.name
                )));
            }
            column_of.push(at);
        }
        self.set_columns(column_of, names.len());
        Ok(())
    }

    /// Writes the record's fields into their columns; on an error the caller rolls the row back.
    fn values(&self, t: &[u8], cols: &mut Columns) -> std::result::Result<(), (usize, String)> {
        let column_of = self.column_of.as_deref().unwrap_or_default();
        for (k, f) in self.fields.iter().enumerate() {
            let span = self.spans[column_of[k]];
            if span.0 == span.1 && !span.2 {
                if !f.nullable {
                    let hint = if f.data_type == DataType::Utf8 {
                        "; declare it as 'utf8?' to allow nulls, or write \"\" for an empty string".to_string()
                    } else {
                        format!("; declare it as '{}?' to allow nulls", f.data_type.name())
                    };
                    return Err((k, format!("is empty (null) but the field is not nullable{hint}")));
                }
                cols.put_null(k);
                continue;
            }
            let text = field_text(t, span);
            cols.put(k, value(f.data_type, text).map_err(|d| (k, d))?);
        }
        Ok(())
    }

    /// The usual record, read in one pass straight into the columns: one line, no quote, the
    /// right number of fields, every value readable. Anything else returns None with nothing
    /// written, and the general path (`parse`, `values`) reads or reports the record as always;
    /// the values read here are those it would read.
    #[inline]
    fn plain_record(&self, t: &[u8], pos: usize, valid_to: &mut usize, cols: &mut Columns) -> Option<usize> {
        let [d] = self.delim[..] else { return None };
        if self.field_of.is_empty() {
            return None; // the header is still to be read
        }
        let nl = pos + memchr::memchr(LF, &t[pos..])?;
        let line_end = strip_cr(t, pos, nl);
        if line_end == pos {
            return None; // a blank record
        }
        if nl >= *valid_to {
            *valid_to = pos + valid_utf8_ahead(&t[pos..]);
            if nl >= *valid_to {
                return None;
            }
        }
        let mut p = pos;
        let mut c = 0;
        let ok = loop {
            let i = next_mark(t, p, line_end, d);
            if i < line_end && t[i] == QUOTE {
                break false;
            }
            let Some(&k) = self.field_of.get(c) else { break false };
            if k != usize::MAX && !self.plain_value(k, &t[p..i], cols) {
                break false;
            }
            c += 1;
            if i >= line_end {
                break c == self.field_of.len();
            }
            p = i + 1;
        };
        if ok {
            cols.commit_row();
            Some(nl + 1)
        } else {
            cols.rollback_row();
            None
        }
    }

    /// Field `k`'s value from its unquoted bytes; false (the general path will report it) if it
    /// is not one.
    #[inline]
    fn plain_value(&self, k: usize, b: &[u8], cols: &mut Columns) -> bool {
        let f = &self.fields[k];
        if b.is_empty() {
            if f.nullable {
                cols.put_null(k);
            }
            return f.nullable;
        }
        match f.data_type {
            DataType::I64 | DataType::Timestamp => {
                if let Some(x) = plain_i64(b) {
                    cols.put_i64(k, x);
                    return true;
                }
            }
            DataType::F64 => {
                if let Some(x) = plain_f64(b) {
                    cols.put_f64(k, x);
                    return true;
                }
            }
            DataType::Bool => match b {
                b"true" => {
                    cols.put_bool(k, true);
                    return true;
                }
                b"false" => {
                    cols.put_bool(k, false);
                    return true;
                }
                _ => {}
            },
            DataType::I32 | DataType::Utf8 => {}
        }
        // SAFETY: `plain_record` checked the line is UTF-8, and a field ends at the (one-byte,
        // so ASCII) delimiter or the line's end: character boundaries.
        let s = unsafe { std::str::from_utf8_unchecked(b) };
        if f.data_type == DataType::Utf8 {
            cols.put_str(k, s);
            return true;
        }
        match value(f.data_type, std::borrow::Cow::Borrowed(s)) {
            Ok(v) => {
                cols.put(k, v);
                true
            }
            Err(_) => false,
        }
    }

    fn delim_at(&self, t: &[u8], i: usize) -> bool {
        t[i] == self.delim[0] && t[i..].starts_with(&self.delim)
    }

    /// One record starting at `start` (see the TypeScript `CsvParser.parse`, which this mirrors).
    fn parse(&mut self, t: &[u8], start: usize, eof: bool) -> Step {
        self.spans.clear();
        let n = t.len();
        let mut p = start;
        loop {
            if p < n && t[p] == QUOTE {
                let mut seg = p + 1;
                let end_quote = loop {
                    let Some(q) = memchr::memchr(QUOTE, &t[seg..]).map(|q| seg + q) else {
                        if !eof {
                            return Step::More;
                        }
                        return Step::Bad(n, "a quoted field is not closed before the end of the file (an opening quote runs to the next quote, across lines)".into());
                    };
                    if q + 1 >= n && !eof {
                        return Step::More; // a doubled quote may continue in the next chunk
                    }
                    if q + 1 < n && t[q + 1] == QUOTE {
                        seg = q + 2;
                        continue;
                    }
                    break q;
                };
                self.spans.push((p + 1, end_quote, true));
                p = end_quote + 1;
                if p >= n {
                    if !eof {
                        return Step::More;
                    }
                    return Step::Record(n);
                }
                if self.delim_at(t, p) {
                    p += self.delim.len();
                    continue;
                }
                match t[p] {
                    LF => return Step::Record(p + 1),
                    CR => {
                        if p + 1 >= n && !eof {
                            return Step::More;
                        }
                        if p + 1 >= n {
                            return Step::Record(n);
                        }
                        if t[p + 1] == LF {
                            return Step::Record(p + 2);
                        }
                    }
                    _ => {}
                }
                let problem = format!(
                    "unexpected {} after the closing quote of field {}; a quoted field must end at a delimiter or the end of the line (write a quote inside quotes as \"\")",
                    describe_char(t, p),
                    self.spans.len()
                );
                return bad(t, p, eof, problem);
            }
            let i = if let [d] = self.delim[..] {
                // One-byte delimiter (the usual case): a vectorised search for the three bytes.
                memchr::memchr3(LF, QUOTE, d, &t[p..]).map_or(n, |k| p + k)
            } else {
                let mut i = p;
                while i < n && t[i] != LF && t[i] != QUOTE && !self.delim_at(t, i) {
                    i += 1;
                }
                i
            };
            if i >= n {
                if !eof {
                    return Step::More;
                }
                self.spans.push((p, strip_cr(t, p, n), false));
                return Step::Record(n);
            }
            if t[i] == QUOTE {
                let problem = format!(
                    "a quote inside unquoted field {}; quote the whole field and double the quotes inside it (\"a\"\"b\")",
                    self.spans.len() + 1
                );
                return bad(t, i, eof, problem);
            }
            if t[i] == LF {
                self.spans.push((p, strip_cr(t, p, i), false));
                return Step::Record(i + 1);
            }
            self.spans.push((p, i, false));
            p = i + self.delim.len();
        }
    }
}

/// A malformed record: skip to the end of the line where the problem is.
fn bad(t: &[u8], at: usize, eof: bool, problem: String) -> Step {
    match memchr::memchr(LF, &t[at..]) {
        Some(nl) => Step::Bad(at + nl + 1, problem),
        None if !eof => Step::More,
        None => Step::Bad(t.len(), problem),
    }
}

fn strip_cr(t: &[u8], from: usize, to: usize) -> usize {
    if to > from && t[to - 1] == CR {
        to - 1
    } else {
        to
    }
}

fn without_line_end(rec: &[u8]) -> &[u8] {
    rec.strip_suffix(b"\r\n").or_else(|| rec.strip_suffix(b"\n")).unwrap_or(rec)
}

/// The text of a field of a record already checked to be UTF-8; doubled quotes undone.
fn field_text(t: &[u8], (from, to, quoted): (usize, usize, bool)) -> std::borrow::Cow<'_, str> {
    // SAFETY: `decode` checks each record's bytes are UTF-8 before reading its fields, and a
    // field's ends are at a quote, a delimiter, a line break (ASCII, or the delimiter's whole
    // UTF-8 sequence) or the record's ends: character boundaries, so the slice is UTF-8 too.
    let s = unsafe { std::str::from_utf8_unchecked(&t[from..to]) };
    if quoted && s.contains('"') {
        std::borrow::Cow::Owned(s.replace("\"\"", "\""))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// The character at byte `i` as the TypeScript engine names it (one UTF-16 unit of it).
fn describe_char(t: &[u8], i: usize) -> String {
    if t[i] == CR {
        return "a carriage return".into();
    }
    let len = match t[i] {
        0..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    };
    let s = std::str::from_utf8(&t[i..(i + len).min(t.len())]).unwrap_or("\u{fffd}");
    let c = s.chars().next().unwrap_or('\u{fffd}');
    if c.len_utf16() == 2 {
        let mut pair = [0u16; 2];
        c.encode_utf16(&mut pair);
        return format!("character \"\\u{:04x}\"", pair[0]);
    }
    format!("character {}", quote_js(&c.to_string()))
}

fn quote(s: &str) -> String {
    if s.is_empty() {
        "an empty string (\"\")".into()
    } else {
        quote_js(s)
    }
}

/// `^[+-]?[0-9]+$`
fn is_integer(s: &str) -> bool {
    let d = s.strip_prefix(['+', '-']).unwrap_or(s);
    !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())
}

/// An integer's text as JavaScript's BigInt prints it: no plus sign, no leading zeros.
fn bigint_text(s: &str) -> String {
    let neg = s.starts_with('-');
    let d = s.strip_prefix(['+', '-']).unwrap_or(s).trim_start_matches('0');
    if d.is_empty() {
        "0".into()
    } else if neg {
        format!("-{d}")
    } else {
        d.into()
    }
}

/// The first delimiter `d` or quote in `t[from..end]` (`end` if none), eight bytes at a time:
/// fields are short, so this beats a vectorised search's set-up per field.
#[inline]
fn next_mark(t: &[u8], mut from: usize, end: usize, d: u8) -> usize {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let (dd, qq) = (u64::from(d) * 0x0101_0101_0101_0101, u64::from(QUOTE) * 0x0101_0101_0101_0101);
    // The high bit of each byte of `v` that is zero (exactly: no borrow crosses bytes).
    let zero = |v: u64| !(((v & LOW7) + LOW7) | v | LOW7);
    while from + 8 <= end {
        let w = u64::from_le_bytes(t[from..from + 8].try_into().expect("eight bytes"));
        let m = zero(w ^ dd) | zero(w ^ qq);
        if m != 0 {
            return from + (m.trailing_zeros() / 8) as usize;
        }
        from += 8;
    }
    while from < end && t[from] != d && t[from] != QUOTE {
        from += 1;
    }
    from
}

/// `-?[0-9]{1,18}` (which cannot overflow); None for any other text (`exact_i64` reads it then).
#[inline]
fn plain_i64(b: &[u8]) -> Option<i64> {
    let (neg, d) = match b {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, b),
    };
    if d.is_empty() || d.len() > 18 {
        return None;
    }
    let mut x = 0i64;
    for &c in d {
        let v = c.wrapping_sub(b'0');
        if v > 9 {
            return None;
        }
        x = x * 10 + i64::from(v);
    }
    Some(if neg { -x } else { x })
}

/// Exact powers of ten as f64.
const POW10: [f64; 23] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

/// `-?[0-9]+(\.[0-9]+)?` with at most 19 digits whose value without the point is at most 2^53,
/// as `str::parse` reads it; None for any other text. Both the digits and the power of ten
/// are exact f64s then, so one division is the correctly rounded result (Clinger's fast path).
#[inline]
fn plain_f64(b: &[u8]) -> Option<f64> {
    let (neg, d) = match b {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, b),
    };
    // At most 19 digits (and a point): the digits cannot overflow a u64.
    if d.is_empty() || d.len() > 20 || (d.len() == 20 && !d.contains(&b'.')) {
        return None;
    }
    let (mut w, mut i, mut point) = (0u64, 0usize, None);
    while i < d.len() {
        let c = d[i];
        if c == b'.' && point.is_none() && i > 0 {
            point = Some(i);
        } else {
            let v = c.wrapping_sub(b'0');
            if v > 9 {
                return None;
            }
            w = w * 10 + u64::from(v);
        }
        i += 1;
    }
    let frac = match point {
        Some(at) if at + 1 == d.len() => return None,
        Some(at) => d.len() - at - 1,
        None => 0,
    };
    if w > 1 << 53 {
        return None;
    }
    let x = w as f64 / POW10[frac];
    Some(if neg { -x } else { x })
}

/// An integer text exactly, or the builder's message when it does not fit in 64 bits.
fn exact_i64(s: &str) -> std::result::Result<i64, String> {
    let d = s.strip_prefix('+').unwrap_or(s);
    // Up to 18 digits cannot overflow: summed without the per-digit checks of `parse`.
    if let Some(x) = plain_i64(d.as_bytes()) {
        return Ok(x);
    }
    d.parse::<i64>().map_err(|_| format!("bigint {} does not fit in 64 bits", bigint_text(s)))
}

/// `^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$`
fn is_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if int_digits == 0 && i == frac_start {
            return false;
        }
    } else if int_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return false;
        }
    }
    i == b.len()
}

fn value(t: DataType, s: std::borrow::Cow<'_, str>) -> std::result::Result<Value<'_>, String> {
    match t {
        DataType::I32 => {
            if !is_integer(&s) {
                return Err(format!("expected an i32 (a decimal integer), got {}", quote(&s)));
            }
            match bigint_text(&s).parse::<i64>() {
                Ok(v) if (-2147483648..=2147483647).contains(&v) => Ok(Value::I32(v as i32)),
                _ => Err(format!("{s} does not fit in an i32 (±2^31)")),
            }
        }
        DataType::I64 => {
            if !is_integer(&s) {
                return Err(format!("expected an i64 (a decimal integer), got {}", quote(&s)));
            }
            exact_i64(&s).map(Value::I64)
        }
        DataType::Timestamp => {
            if is_integer(&s) {
                return exact_i64(&s).map(Value::I64);
            }
            match parse_iso_timestamp(&s) {
                Some(ms) => Ok(Value::I64(ms)),
                None => Err(format!(
                    "expected a timestamp: integer ms since the epoch or ISO-8601 text such as 2024-05-01T12:00:00.250Z, got {}",
                    quote(&s)
                )),
            }
        }
        DataType::F64 => {
            if is_float(&s) {
                let x: f64 = s.parse().unwrap_or(f64::NAN);
                if !x.is_finite() {
                    return Err("a number beyond ±1.7976931348623157e+308 does not fit in an f64 (it would be Infinity)".into());
                }
                return Ok(Value::F64(x));
            }
            match &*s {
                "NaN" => Ok(Value::F64(f64::NAN)),
                "Infinity" | "+Infinity" => Ok(Value::F64(f64::INFINITY)),
                "-Infinity" => Ok(Value::F64(f64::NEG_INFINITY)),
                _ => Err(format!("expected an f64 number, got {}", quote(&s))),
            }
        }
        DataType::Bool => {
            if s.eq_ignore_ascii_case("true") {
                Ok(Value::Bool(true))
            } else if s.eq_ignore_ascii_case("false") {
                Ok(Value::Bool(false))
            } else {
                Err(format!("expected a boolean (true or false), got {}", quote(&s)))
            }
        }
        DataType::Utf8 => Ok(Value::Str(s)),
    }
}

fn digits(s: &[u8]) -> Option<i64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0i64, |a, &d| a * 10 + i64::from(d - b'0')))
}

/// ISO-8601 text -> ms since the epoch (see `parseIsoTimestamp` in csv-values.ts): a date, or a
/// date-time with optional seconds, fraction (digits below the ms dropped) and zone (none: UTC).
pub fn parse_iso_timestamp(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (year, month, day) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    let (mut hour, mut minute, mut second, mut ms, mut offset_min) = (0, 0, 0, 0, 0);
    let mut i = 10;
    if i < b.len() {
        if !matches!(b[i], b'T' | b't' | b' ') || b.len() < i + 6 || b[i + 3] != b':' {
            return None;
        }
        hour = digits(&b[i + 1..i + 3])?;
        minute = digits(&b[i + 4..i + 6])?;
        i += 6;
        if i < b.len() && b[i] == b':' {
            second = digits(b.get(i + 1..i + 3)?)?;
            i += 3;
            if i < b.len() && (b[i] == b'.' || b[i] == b',') {
                let from = i + 1;
                let mut j = from;
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
                if j == from || j - from > 9 {
                    return None;
                }
                let frac = &b[from..j];
                ms = (0..3).fold(0, |a, k| a * 10 + frac.get(k).map_or(0, |d| i64::from(d - b'0')));
                i = j;
            }
        }
        if i < b.len() {
            match b[i] {
                b'Z' | b'z' if i + 1 == b.len() => {}
                b'+' | b'-' => {
                    let z = &b[i + 1..];
                    let (oh, om) = match z.len() {
                        2 => (digits(z)?, 0),
                        4 => (digits(&z[0..2])?, digits(&z[2..4])?),
                        5 if z[2] == b':' => (digits(&z[0..2])?, digits(&z[3..5])?),
                        _ => return None,
                    };
                    if oh > 23 || om > 59 {
                        return None;
                    }
                    offset_min = if b[i] == b'-' { -(oh * 60 + om) } else { oh * 60 + om };
                }
                _ => return None,
            }
        }
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(1..=12).contains(&month) || day < 1 || day > days_in || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    // Days from 1970-01-01 in the proleptic Gregorian calendar (Howard Hinnant's days_from_civil).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    Some(((days * 24 + hour) * 60 + minute - offset_min) * 60_000 + second * 1000 + ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::ColumnData;
    use crate::text::js_number;

    #[test]
    fn iso_timestamps_as_the_typescript_engine_reads_them() {
        assert_eq!(parse_iso_timestamp("2024-05-01T12:00:00.250Z"), Some(1714564800250));
        assert_eq!(parse_iso_timestamp("2024-05-01T14:00:00+02:00"), Some(1714564800000));
        assert_eq!(parse_iso_timestamp("1970-01-02"), Some(86400000));
        assert_eq!(parse_iso_timestamp("2024-05-01 12:00:00"), Some(1714564800000));
        assert_eq!(parse_iso_timestamp("2024-02-30T00:00:00Z"), None);
        assert_eq!(parse_iso_timestamp("0001-01-01T00:00Z"), Some(-62135596800000));
        assert!(is_float("1.") && is_float(".5") && is_float("+1e5") && !is_float(".") && !is_float("1e"));
        assert_eq!(js_number(1.5), "1.5");
    }

    #[test]
    fn records_quotes_and_bad_records() {
        let f = |n: &str, t, nl| TextField { name: n.into(), data_type: t, nullable: nl };
        let mut d = CsvDecoder::new(vec![f("id", DataType::I64, false), f("name", DataType::Utf8, true)], "file 'c'".into(), ",", true);
        let input = b"name,id\r\n\"a,\"\"b\"\"\nc\",1\r\n\n,2\nx,y\n\"q\"z,3\nlast,4";
        let out = d.decode(input, 0, 100, true).unwrap();
        assert_eq!(out.batch.len, 3);
        assert_eq!(out.batch.columns[0].data, ColumnData::I64(vec![1, 2, 4]));
        assert_eq!(out.lines, 8);
        let msgs: Vec<&str> = out.bad.iter().map(|b| b.message.as_str()).collect();
        assert_eq!(msgs[0], "file 'c', line 6, field 'id': expected an i64 (a decimal integer), got \"y\"");
        assert!(msgs[1].starts_with("file 'c', line 7: malformed CSV: unexpected character \"z\" after the closing quote of field 1"));
    }

    #[test]
    fn a_record_with_a_bad_field_leaves_nothing_in_the_columns_and_line_numbers_count_quoted_line_feeds() {
        let f = |n: &str, t, nl| TextField { name: n.into(), data_type: t, nullable: nl };
        let fields = vec![f("s", DataType::Utf8, true), f("name", DataType::Utf8, false), f("id", DataType::I64, false)];
        let mut d = CsvDecoder::new(fields, "file 'c'".into(), ",", false);
        // Line 2 writes a null (making a validity bitmap) and a name before its id fails; line 3
        // holds a quoted line feed, so the bad record after it is on line 5; ids of 18 and 19 digits.
        let input = b"a,x,1\n,y,oops\nb,\"two\nlines\",-999999999999999999\nc,z,nope\nd,w,9223372036854775807\n";
        let out = d.decode(input, 0, 100, true).unwrap();
        assert_eq!(out.bad.iter().map(|b| b.line).collect::<Vec<_>>(), [2, 5]);
        assert_eq!(out.lines, 6);
        assert_eq!(out.batch.columns[2].data, ColumnData::I64(vec![1, -999999999999999999, i64::MAX]));
        assert_eq!(out.batch.columns[1].data, ColumnData::Utf8 { offsets: vec![0, 1, 10, 11], data: b"xtwo\nlinesw".to_vec() });
        assert_eq!(out.batch.columns[0].validity, None);
    }

    /// The fast path's readers give what the general path gives, or leave the text to it.
    #[test]
    fn plain_numbers_read_as_the_general_path_reads_them() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let general_f64 = |s: &str| match value(DataType::F64, s.into()) {
            Ok(Value::F64(v)) => Some(v),
            _ => None,
        };
        let general_i64 = |s: &str| match value(DataType::I64, s.into()) {
            Ok(Value::I64(v)) => Some(v),
            _ => None,
        };
        let mut fast = 0;
        for i in 0..200_000 {
            // Decimal texts of every length and point position, signs, and odd forms.
            let digits = 1 + (next() % 21) as usize;
            let mut t: String = (0..digits).map(|_| char::from(b'0' + (next() % 10) as u8)).collect();
            if next() % 3 > 0 {
                let at = (next() as usize) % (digits + 1);
                t.insert(at, '.');
            }
            if next() % 4 == 0 {
                t.insert(0, '-');
            }
            if i % 50 == 0 {
                t.push_str(["e5", "x", "..", "+", ""][(next() % 5) as usize]);
            }
            if let Some(v) = plain_f64(t.as_bytes()) {
                fast += 1;
                let g = general_f64(&t).unwrap_or_else(|| panic!("{t}: read by the fast path only"));
                assert_eq!(v.to_bits(), g.to_bits(), "{t}");
            }
            if let Some(v) = plain_i64(t.as_bytes()) {
                assert_eq!(Some(v), general_i64(&t), "{t}");
            }
        }
        assert!(fast > 50_000, "{fast}");
        for t in ["0.1", "-0", "-0.0", "9007199254740992", "9007199254740993", "0.30000000000000004", "123456789.123456789", "1.", ".5", "+1"] {
            if let Some(v) = plain_f64(t.as_bytes()) {
                assert_eq!(Some(v.to_bits()), general_f64(t).map(f64::to_bits), "{t}");
            }
        }
        assert_eq!(plain_f64(b"-0").map(f64::to_bits), Some((-0.0f64).to_bits()));
        assert_eq!(plain_i64(b"-999999999999999999"), Some(-999_999_999_999_999_999));
        assert_eq!(plain_i64(b"9223372036854775807"), None); // 19 digits: the general path
    }

    #[test]
    fn the_mark_search_finds_the_first_delimiter_or_quote() {
        let t = b"abcdefghijklmnop;q\"rs;tuvwxyz";
        for from in 0..t.len() {
            for end in from..=t.len() {
                let want = (from..end).find(|&i| t[i] == b';' || t[i] == QUOTE).unwrap_or(end);
                assert_eq!(next_mark(t, from, end, b';'), want, "{from}..{end}");
            }
        }
        // Bytes with the high bit set, and the delimiter's neighbours, are not marks.
        assert_eq!(next_mark("é€;x".as_bytes(), 0, 7, b';'), 5);
        assert_eq!(next_mark(b"\x3a\x3c\xbb\x22", 0, 4, b';'), 3);
    }
}
