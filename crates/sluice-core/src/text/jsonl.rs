//! JSON Lines -> a columnar batch of the declared schema, a chunk of whole lines per call.
//!
//! A line is first read on a fast path (sonic-rs's deserializer writing each declared field
//! straight into its column); what that path is not sure to read exactly as the next one would
//! goes to the exact path:
//! serde_json checks each line and hands each declared field's value over as its source text
//! (`RawValue`), which is then read by the field's type: integers exactly (all 64 bits, never
//! through a double), floats that overflow refused rather than read as Infinity. Blank lines
//! are skipped, CRLF accepted; a bad line becomes a `BadLine` with the same message the
//! TypeScript engine gives (`ts/engine/ts/text/jsonl.ts`).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::csv::parse_iso_timestamp;
use super::{invalid_utf8, is_js_blank, valid_utf8_ahead, js_number, quote_js, BadLine, Columns, Decoded, TextField, Value};
use crate::batch::{DataType, Field, Schema, SchemaRef};

pub struct JsonlDecoder {
    fields: Vec<TextField>,
    schema: SchemaRef,
    where_: String,
}

/// What a timestamp field takes, for its error messages (the CSV decoder's words).
const ISO_EXPECTED: &str = "expected a timestamp: integer ms since the epoch or ISO-8601 text such as 2024-05-01T12:00:00.250Z";

/// 2^53 - 1: the largest integer a JavaScript number holds exactly.
const MAX_SAFE: f64 = 9007199254740991.0;

impl JsonlDecoder {
    /// `where_` names the input in messages, e.g. `file 'in.jsonl'`.
    pub fn new(fields: Vec<TextField>, where_: String) -> JsonlDecoder {
        let schema = Arc::new(Schema::new(fields.iter().map(|f| Field::new(f.name.clone(), f.data_type)).collect()));
        JsonlDecoder { fields, schema, where_ }
    }

    /// Decodes whole lines of `bytes` (the last may lack its line feed: the caller passes it
    /// only at the end of the file) until `max_rows` rows are read; `first_line` is the number
    /// of lines before `bytes` in the file.
    pub fn decode(&self, bytes: &[u8], first_line: u64, max_rows: usize) -> Decoded {
        let n = self.fields.len();
        let mut cols = Columns::new(&self.fields, max_rows.min(bytes.len() / 16 + 1));
        let mut slots: Vec<Option<&RawValue>> = vec![None; n];
        let mut row: Vec<Value<'_>> = Vec::with_capacity(n);
        let mut seen = vec![false; n];
        let mut bad = Vec::new();
        let mut pos = 0;
        let mut line = first_line;
        // One search over the chunk (per-line searches pay their setup each time).
        let mut ends = memchr::memchr_iter(b'\n', bytes);
        // bytes[..valid_to] is known to be UTF-8: checked a block of lines at a time, which costs
        // less than one check per line; a line past it (an invalid byte ahead) is checked alone.
        let mut valid_to = 0;
        while pos < bytes.len() && cols.len() < max_rows {
            let (end, next) = match ends.next() {
                Some(i) => (i, i + 1),
                None => (bytes.len(), bytes.len()),
            };
            line += 1;
            let start = pos;
            let mut raw = &bytes[pos..end];
            pos = next;
            if raw.last() == Some(&b'\r') {
                raw = &raw[..raw.len() - 1];
            }
            if end > valid_to {
                valid_to = start + valid_utf8_ahead(&bytes[start..]);
            }
            let checked = if end <= valid_to {
                // SAFETY: bytes[start..valid_to] was checked to be UTF-8 by valid_utf8_ahead and
                // `raw` lies within it; it starts at a line start, so at a character boundary.
                Ok(unsafe { std::str::from_utf8_unchecked(raw) })
            } else {
                std::str::from_utf8(raw)
            };
            let text = match checked {
                Ok(t) => t,
                Err(e) => {
                    let raw = String::from_utf8_lossy(raw).into_owned();
                    bad.push(BadLine { line, message: invalid_utf8(&self.where_, line, e.valid_up_to()), raw });
                    continue;
                }
            };
            if text.as_bytes().first() != Some(&b'{') && is_js_blank(text) {
                continue;
            }
            if self.fast_line(text, &mut cols, &mut seen) {
                cols.commit_row();
                continue;
            }
            cols.rollback_row();
            slots.iter_mut().for_each(|s| *s = None);
            row.clear();
            match self.line(text, line, &mut slots, &mut row) {
                Ok(()) => {
                    row.drain(..).enumerate().for_each(|(k, v)| cols.put(k, v));
                    cols.commit_row();
                }
                Err(message) => bad.push(BadLine { line, message, raw: text.to_string() }),
            }
        }
        Decoded { batch: cols.finish(self.schema.clone()), consumed: pos, lines: line - first_line, bad }
    }

    /// The common case in one pass: each declared field read straight into its column. Anything
    /// this path is not sure to read exactly as `line` would (a number that is not a plain
    /// i64/u64 where an integer is due, a float that may overflow, an error, a null or missing
    /// value where none is allowed, a repeated key) gives up, the caller rolls back what was
    /// written of the row, and `line` reads the line again, giving the value or the message.
    fn fast_line(&self, text: &str, cols: &mut Columns, seen: &mut [bool]) -> bool {
        if text.as_bytes().first() != Some(&b'{') {
            return false;
        }
        seen.fill(false);
        let mut de = sonic_rs::Deserializer::from_str(text);
        if (FastRow { fields: &self.fields, cols: &mut *cols, seen: &mut *seen }).deserialize(&mut de).and_then(|_| de.end()).is_err() {
            return false;
        }
        for (k, f) in self.fields.iter().enumerate() {
            if !seen[k] {
                if !f.nullable {
                    return false;
                }
                cols.put_null(k);
            }
        }
        true
    }

    fn line<'a>(&self, text: &'a str, line: u64, slots: &mut [Option<&'a RawValue>], row: &mut Vec<Value<'a>>) -> Result<(), String> {
        let first = text.bytes().find(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'));
        let mut de = serde_json::Deserializer::from_str(text);
        let parsed = if first == Some(b'{') {
            RowSeed { fields: &self.fields, slots }.deserialize(&mut de).and_then(|_| de.end())
        } else {
            <IgnoredAny as serde::Deserialize>::deserialize(&mut de).and_then(|_| de.end())
        };
        if parsed.is_err() {
            return Err(format!(
                "{}, line {line}: malformed JSON (a line must hold one complete JSON object, nothing after it)",
                self.where_
            ));
        }
        if first != Some(b'{') {
            let what = match first {
                Some(b'[') => "an array",
                Some(b'"') => "a string",
                Some(b't' | b'f') => "a boolean",
                Some(b'n') => "null",
                _ => "a number",
            };
            return Err(format!("{}, line {line}: expected a JSON object, got {what}", self.where_));
        }
        for (k, f) in self.fields.iter().enumerate() {
            match value(f, slots[k]) {
                Ok(v) => row.push(v),
                Err(detail) => return Err(format!("{}, line {line}, field '{}': {detail}", self.where_, f.name)),
            }
        }
        Ok(())
    }
}

/// Reads one object, keeping the source text of each declared field's value (the last one
/// when a key repeats, as JSON.parse does) and skipping the others.
struct RowSeed<'s, 'a> {
    fields: &'s [TextField],
    slots: &'s mut [Option<&'a RawValue>],
}

impl<'de, 's> DeserializeSeed<'de> for RowSeed<'s, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, 's> Visitor<'de> for RowSeed<'s, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<(), M::Error> {
        let mut next = 0;
        while let Some(k) = map.next_key_seed(KeySeed { fields: self.fields, next })? {
            next = k.map_or(0, |k| k + 1);
            match k {
                Some(k) => self.slots[k] = Some(map.next_value::<&'de RawValue>()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// The fast path's object: declared fields written into their columns by `FieldSeed`, others
/// skipped.
struct FastRow<'s> {
    fields: &'s [TextField],
    cols: &'s mut Columns,
    seen: &'s mut [bool],
}

impl<'de> DeserializeSeed<'de> for FastRow<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FastRow<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<(), M::Error> {
        let mut next = 0;
        while let Some(k) = map.next_key_seed(KeySeed { fields: self.fields, next })? {
            next = k.map_or(0, |k| k + 1);
            match k {
                // A repeated key: JSON.parse keeps the last value, which `line` does.
                Some(k) if self.seen[k] => return give_up(),
                Some(k) => {
                    self.seen[k] = true;
                    let f = &self.fields[k];
                    map.next_value_seed(FieldSeed { k, data_type: f.data_type, nullable: f.nullable, cols: &mut *self.cols })?;
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// One value written straight into column `k`; an error means "read this line the exact way".
struct FieldSeed<'c> {
    k: usize,
    data_type: DataType,
    nullable: bool,
    cols: &'c mut Columns,
}

fn give_up<T, E: serde::de::Error>() -> Result<T, E> {
    Err(E::custom("not the fast path"))
}

impl<'de> DeserializeSeed<'de> for FieldSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FieldSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a value")
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        if !self.nullable {
            return give_up();
        }
        self.cols.put_null(self.k);
        Ok(())
    }
    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<(), E> {
        if self.data_type != DataType::Bool {
            return give_up();
        }
        self.cols.put_bool(self.k, v);
        Ok(())
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<(), E> {
        match self.data_type {
            DataType::I32 => match i32::try_from(v) {
                Ok(x) => self.cols.put_i32(self.k, x),
                Err(_) => return give_up(),
            },
            DataType::I64 | DataType::Timestamp => self.cols.put_i64(self.k, v),
            // Zero may have been -0, which is a float -0.0 on the exact path.
            DataType::F64 if v != 0 => self.cols.put_f64(self.k, v as f64),
            _ => return give_up(),
        }
        Ok(())
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<(), E> {
        match i64::try_from(v) {
            Ok(v) => self.visit_i64(v),
            Err(_) if self.data_type == DataType::F64 => {
                self.cols.put_f64(self.k, v as f64);
                Ok(())
            }
            Err(_) => give_up(),
        }
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<(), E> {
        // A zero's sign is left to the exact path (the fast parser reads "-0.0" as +0.0).
        if self.data_type == DataType::F64 && v.is_finite() && v != 0.0 {
            self.cols.put_f64(self.k, v);
            return Ok(());
        }
        give_up()
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<(), E> {
        match self.data_type {
            DataType::Utf8 => self.cols.put_str(self.k, v),
            DataType::I64 | DataType::Timestamp => {
                let digits = v.strip_prefix('-').unwrap_or(v);
                if !digits.is_empty() && digits.len() <= 19 && digits.bytes().all(|b| b.is_ascii_digit()) {
                    match v.parse::<i64>() {
                        Ok(x) => self.cols.put_i64(self.k, x),
                        Err(_) => return give_up(),
                    }
                } else {
                    match parse_iso_timestamp(v) {
                        Some(ms) if self.data_type == DataType::Timestamp => self.cols.put_i64(self.k, ms),
                        _ => return give_up(),
                    }
                }
            }
            _ => return give_up(),
        }
        Ok(())
    }
}

/// A key -> the index of the declared field it names, if any. Keys usually come in schema
/// order, so the field after the previous key is tried first.
struct KeySeed<'s> {
    fields: &'s [TextField],
    next: usize,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<usize>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Option<usize>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E>(self, v: &str) -> Result<Option<usize>, E> {
        if self.fields.get(self.next).is_some_and(|f| f.name == v) {
            return Ok(Some(self.next));
        }
        Ok(self.fields.iter().position(|f| f.name == v))
    }
}

/// How error messages describe a JSON value (JavaScript's words for what JSON.parse gives).
fn describe(raw: &str) -> String {
    match raw.as_bytes()[0] {
        b'{' => "an object".into(),
        b'[' => "an array".into(),
        b't' => "boolean true".into(),
        b'f' => "boolean false".into(),
        b'n' => "null".into(),
        b'"' => match string(raw) {
            Ok(s) => format!("string {}", quote_js(&s)),
            Err(e) => e,
        },
        _ => format!("number {}", js_number(raw.parse::<f64>().unwrap_or(f64::NAN))),
    }
}

const SURROGATE: &str = "a string with an unpaired UTF-16 surrogate escape (such as \\ud800), which is not Unicode text";

/// A JSON string token's value (borrowed when it has no escapes).
fn string(raw: &str) -> Result<Cow<'_, str>, String> {
    let inner = &raw[1..raw.len() - 1];
    if !inner.contains('\\') {
        return Ok(Cow::Borrowed(inner));
    }
    // The only escape serde_json accepted in scanning but refuses here is an unpaired surrogate.
    serde_json::from_str::<String>(raw).map(Cow::Owned).map_err(|_| SURROGATE.to_string())
}

fn value<'a>(f: &TextField, raw: Option<&'a RawValue>) -> Result<Value<'a>, String> {
    let raw = match raw {
        Some(r) if r.get() != "null" => r.get(),
        _ => {
            if f.nullable {
                return Ok(Value::Null);
            }
            let what = if raw.is_none() { "missing" } else { "null" };
            return Err(format!(
                "is {what} but the field is not nullable; declare it as '{}?' to allow nulls",
                f.data_type.name()
            ));
        }
    };
    let first = raw.as_bytes()[0];
    // A string with an unpaired surrogate cannot be stored or quoted: the same error for every type.
    if first == b'"' {
        string(raw)?;
    }
    let number = first == b'-' || first.is_ascii_digit();
    match f.data_type {
        DataType::I32 => {
            if number {
                let x: f64 = raw.parse().unwrap_or(f64::NAN);
                if x.fract() == 0.0 && (-2147483648.0..=2147483647.0).contains(&x) {
                    return Ok(Value::I32(x as i32));
                }
            }
            Err(format!("expected an i32 (integer in ±2^31), got {}", describe(raw)))
        }
        DataType::I64 | DataType::Timestamp => {
            let what = if f.data_type == DataType::I64 { "an i64" } else { "a timestamp in ms" };
            if number {
                if !raw.bytes().any(|b| matches!(b, b'.' | b'e' | b'E')) {
                    // An integer token: exact, whatever its size.
                    return raw.parse::<i64>().map(Value::I64).map_err(|_| format!("bigint {raw} does not fit in 64 bits"));
                }
                let x: f64 = raw.parse().unwrap_or(f64::NAN);
                if x.fract() == 0.0 && x.abs() <= MAX_SAFE {
                    return Ok(Value::I64(x as i64));
                }
                let why = if x.is_finite() && x.fract() == 0.0 {
                    " beyond ±2^53, where a JavaScript number (and JSON.parse) may already have rounded it; give it as a bigint or a decimal string"
                } else {
                    ""
                };
                return Err(format!("expected {what} (an integer), got number {}{why}", js_number(x)));
            }
            if first == b'"' {
                let s = string(raw)?;
                let digits = s.strip_prefix('-').unwrap_or(&s);
                if !digits.is_empty() && digits.len() <= 19 && digits.bytes().all(|b| b.is_ascii_digit()) {
                    return s.parse::<i64>().map(Value::I64).map_err(|_| format!("string {} does not fit in 64 bits", quote_js(&s)));
                }
                if f.data_type == DataType::Timestamp {
                    return parse_iso_timestamp(&s).map(Value::I64).ok_or_else(|| format!("{ISO_EXPECTED}, got {}", describe(raw)));
                }
            }
            if f.data_type == DataType::Timestamp {
                return Err(format!("{ISO_EXPECTED}, got {}", describe(raw)));
            }
            Err(format!("expected {what}, got {}", describe(raw)))
        }
        DataType::F64 => {
            if number {
                let x: f64 = raw.parse().unwrap_or(f64::NAN);
                if x.is_finite() {
                    return Ok(Value::F64(x));
                }
                return Err("a number beyond ±1.7976931348623157e+308 does not fit in an f64 (it would be Infinity)".into());
            }
            Err(format!("expected an f64 number, got {}", describe(raw)))
        }
        DataType::Bool => match raw {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(format!("expected a boolean, got {}", describe(raw))),
        },
        DataType::Utf8 => {
            if first == b'"' {
                return string(raw).map(Value::Str);
            }
            Err(format!("expected a string, got {}", describe(raw)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::ColumnData;

    fn decoder() -> JsonlDecoder {
        let f = |name: &str, data_type, nullable| TextField { name: name.into(), data_type, nullable };
        JsonlDecoder::new(
            vec![f("id", DataType::I64, false), f("x", DataType::F64, false), f("s", DataType::Utf8, true)],
            "file 't'".into(),
        )
    }

    #[test]
    fn invalid_utf8_is_found_wherever_it_lies_in_a_chunk_of_many_blocks() {
        // 3000 lines of ~40 bytes (several 64 KiB validation blocks); invalid bytes in lines 5,
        // 1700 (inside a character: a lone continuation byte after a valid é) and the last.
        let mut input = Vec::new();
        for i in 1..=3000u32 {
            match i {
                5 => input.extend_from_slice(b"{\"id\":5,\"x\":1,\"s\":\"\xff\"}\n"),
                1700 => {
                    input.extend_from_slice("{\"id\":1700,\"x\":1,\"s\":\"é".as_bytes());
                    input.extend_from_slice(b"\xa9\"}\n");
                }
                3000 => input.extend_from_slice(b"{\"id\":3000,\"x\":1,\"s\":\"\xc3\"}"),
                _ => input.extend_from_slice(format!("{{\"id\":{i},\"x\":1.5,\"s\":\"é line {i}\"}}\n").as_bytes()),
            }
        }
        let d = decoder().decode(&input, 0, 10_000);
        assert_eq!(d.batch.len, 2997);
        assert_eq!(d.consumed, input.len());
        let lines: Vec<u64> = d.bad.iter().map(|b| b.line).collect();
        assert_eq!(lines, [5, 1700, 3000]);
        assert!(d.bad.iter().all(|b| b.message.contains("invalid UTF-8")));
        let ColumnData::I64(ids) = &d.batch.columns[0].data else { panic!() };
        assert_eq!(ids.iter().sum::<i64>(), (1..=3000).sum::<i64>() - 5 - 1700 - 3000);
    }

    #[test]
    fn exact_integers_nulls_escapes_and_bad_lines() {
        let input = b"{\"id\": 9007199254740993, \"x\": 1.5, \"s\": \"a\\nb\"}\r\n\n{\"id\":\"-9223372036854775808\",\"x\":2}\n{\"id\":1,\"x\":1e400}\n{\"id\":1,\"x\":1,\n\xff\n";
        let d = decoder().decode(input, 10, 100);
        assert_eq!(d.batch.len, 2);
        assert_eq!(d.lines, 6);
        assert_eq!(d.consumed, input.len());
        assert_eq!(d.batch.columns[0].data, ColumnData::I64(vec![9007199254740993, i64::MIN]));
        assert_eq!(d.batch.columns[2].validity, Some(vec![1]));
        let msgs: Vec<&str> = d.bad.iter().map(|b| b.message.as_str()).collect();
        assert_eq!(
            msgs,
            [
                "file 't', line 14, field 'x': a number beyond ±1.7976931348623157e+308 does not fit in an f64 (it would be Infinity)",
                "file 't', line 15: malformed JSON (a line must hold one complete JSON object, nothing after it)",
                "file 't', line 16: invalid UTF-8 at byte 1 of the line; the file must be UTF-8 text (convert it, e.g. with iconv -t UTF-8)",
            ]
        );
    }

    #[test]
    fn negative_zero_keeps_its_sign_as_json_parse_does() {
        let d = decoder().decode(b"{\"id\":1,\"x\":-0.0}\n{\"id\":2,\"x\":-0}\n{\"id\":3,\"x\":0.0}\n{\"id\":4,\"x\":-0e3}\n", 0, 100);
        let ColumnData::F64(x) = &d.batch.columns[1].data else { panic!("an f64 column") };
        assert_eq!(x.iter().map(|v| v.is_sign_negative()).collect::<Vec<_>>(), [true, true, false, true]);
    }

    #[test]
    fn a_row_the_fast_path_gives_up_on_leaves_nothing_of_it_in_the_columns() {
        // Each bad or unusual line writes some columns on the fast path before it gives up: a null
        // (creating the validity bitmap), a string, an id; a repeated key is read the exact way
        // (the last value wins).
        let input = b"{\"id\":1,\"x\":1.5,\"s\":\"a\"}\n{\"s\":null,\"id\":\"abc\",\"x\":1}\n{\"id\":5,\"s\":\"zz\",\"x\":1e400}\n{\"id\":7,\"x\":2,\"s\":\"b\",\"id\":8}\n{\"x\":3,\"id\":9}\n";
        let d = decoder().decode(input, 0, 100);
        assert_eq!(d.bad.iter().map(|b| b.line).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(d.batch.len, 3);
        assert_eq!(d.batch.columns[0].data, ColumnData::I64(vec![1, 8, 9]));
        assert_eq!(d.batch.columns[1].data, ColumnData::F64(vec![1.5, 2.0, 3.0]));
        assert_eq!(d.batch.columns[2].data, ColumnData::Utf8 { offsets: vec![0, 1, 2, 2], data: b"ab".to_vec() });
        assert_eq!(d.batch.columns[2].validity, Some(vec![0b011]));
        assert_eq!(d.batch.columns[0].validity, None);
        // Without the last row's null, no validity bitmap at all (the rolled-back null made one).
        let d = decoder().decode(&input[..input.len() - 16], 0, 100);
        assert_eq!(d.batch.len, 2);
        assert_eq!(d.batch.columns[2].validity, None);
    }

    #[test]
    fn stops_after_max_rows_at_a_line_end() {
        let input = b"{\"id\":1,\"x\":1}\n{\"id\":2,\"x\":1}\n{\"id\":3,\"x\":1}\n";
        let d = decoder().decode(input, 0, 2);
        assert_eq!((d.batch.len, d.lines, d.consumed), (2, 2, 30));
    }
}
