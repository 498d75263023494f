//! Batches -> JSON Lines or CSV text, as the TypeScript engine writes them
//! (`ts/batch/text-format.ts`): i64 exact, f64 as JavaScript's `String(x)` (JSON has no
//! NaN/Infinity: null), strings as `JSON.stringify`; CSV per RFC 4180 with null as an empty
//! field and `""` for an empty string.

use super::{js_number, push_json_string};
use crate::batch::{bit_get, BatchRef, ValuesRef};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextFormat {
    Jsonl,
    Csv,
}

/// Every row of `batch`, each ended by a line feed.
pub fn encode(batch: &BatchRef<'_>, format: TextFormat) -> Vec<u8> {
    encode_rows(batch, format, None)
}

/// As `encode`, also giving where each row ends in the bytes (a rolling sink splits parts at
/// row ends; a CSV row may hold line feeds, so they cannot be found afterwards).
pub fn encode_with_row_ends(batch: &BatchRef<'_>, format: TextFormat) -> (Vec<u8>, Vec<usize>) {
    let mut ends = Vec::with_capacity(batch.len);
    let bytes = encode_rows(batch, format, Some(&mut ends));
    (bytes, ends)
}

fn encode_rows(batch: &BatchRef<'_>, format: TextFormat, mut ends: Option<&mut Vec<usize>>) -> Vec<u8> {
    let mut out = Vec::with_capacity(batch.len * 16 * batch.columns.len().max(1));
    let keys: Vec<Vec<u8>> = batch
        .schema
        .fields
        .iter()
        .map(|f| {
            let mut k = Vec::new();
            push_json_string(&mut k, &f.name);
            k.push(b':');
            k
        })
        .collect();
    let mut num = itoa_buf();
    for i in 0..batch.len {
        if format == TextFormat::Jsonl {
            out.push(b'{');
        }
        for (k, c) in batch.columns.iter().enumerate() {
            if k > 0 {
                out.push(b',');
            }
            if format == TextFormat::Jsonl {
                out.extend_from_slice(&keys[k]);
            }
            if !c.is_valid(i) {
                if format == TextFormat::Jsonl {
                    out.extend_from_slice(b"null");
                }
                continue;
            }
            match c.values {
                ValuesRef::I32(v) => out.extend_from_slice(fmt_int(&mut num, v[i] as i64)),
                ValuesRef::I64(v) | ValuesRef::Timestamp(v) => out.extend_from_slice(fmt_int(&mut num, v[i])),
                ValuesRef::F64(v) => {
                    let x = v[i];
                    if !x.is_finite() && format == TextFormat::Jsonl {
                        out.extend_from_slice(b"null");
                    } else {
                        out.extend_from_slice(js_number(x).as_bytes());
                    }
                }
                ValuesRef::Bool(v) => out.extend_from_slice(if bit_get(v, i) { b"true" } else { b"false" }),
                ValuesRef::Utf8 { offsets, data } => {
                    let bytes = &data[offsets[i] as usize..offsets[i + 1] as usize];
                    // Columns hold UTF-8 (checked where they are built); lossy only guards the impossible.
                    let s = String::from_utf8_lossy(bytes);
                    if format == TextFormat::Jsonl {
                        push_json_string(&mut out, &s);
                    } else {
                        push_csv(&mut out, &s);
                    }
                }
            }
        }
        out.extend_from_slice(if format == TextFormat::Jsonl { b"}\n" } else { b"\n" });
        if let Some(e) = ends.as_deref_mut() {
            e.push(out.len());
        }
    }
    out
}

fn itoa_buf() -> [u8; 24] {
    [0; 24]
}

/// Decimal text of `x` (exact: never through a double).
fn fmt_int(buf: &mut [u8; 24], x: i64) -> &[u8] {
    let mut n = x.unsigned_abs();
    let mut p = buf.len();
    loop {
        p -= 1;
        buf[p] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if x < 0 {
        p -= 1;
        buf[p] = b'-';
    }
    &buf[p..]
}

/// RFC 4180 quoting; the empty string as `""` so that it differs from null (an empty field).
fn push_csv(out: &mut Vec<u8>, s: &str) {
    if s.is_empty() {
        out.extend_from_slice(b"\"\"");
    } else if s.bytes().any(|b| matches!(b, b'"' | b',' | b'\r' | b'\n')) {
        out.push(b'"');
        for b in s.bytes() {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_exactly() {
        let mut b = itoa_buf();
        assert_eq!(fmt_int(&mut b, i64::MIN), b"-9223372036854775808");
        assert_eq!(fmt_int(&mut b, 0), b"0");
        let mut out = Vec::new();
        push_csv(&mut out, "a\"b");
        assert_eq!(out, b"\"a\"\"b\"");
    }
}
