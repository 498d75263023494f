//! The calc rules that are more than an operator, and the error messages: the twin of
//! `ts/engine/ts/calc-rt.ts`, with the same results and the same words.

use crate::error::Error;

pub fn row_error(data: bool, name: &str, text: &str, row: usize, what: &str) -> Error {
    let m = format!("{name}: {text} at row {row} of the batch: {what}");
    if data {
        Error::data(m)
    } else {
        Error::overflow(m)
    }
}

pub fn div_by_zero(name: &str, text: &str, row: usize) -> Error {
    row_error(true, name, text, row, "division by zero; guard the divisor (CASE WHEN d <> 0 THEN ... END) or divide as f64")
}

pub fn overflow(name: &str, text: &str, row: usize, ty: &str) -> Error {
    row_error(
        false,
        name,
        text,
        row,
        &format!("the result does not fit in {ty}; cast the operands to a wider type (i64, or f64 where rounding is acceptable)"),
    )
}

pub fn cast_range(name: &str, text: &str, row: usize, value: &str, ty: &str) -> Error {
    row_error(false, name, text, row, &format!("{value} does not fit in {ty}"))
}

pub fn cast_text(name: &str, text: &str, row: usize, s: &str, ty: &str) -> Error {
    row_error(true, name, text, row, &format!("'{s}' is not a valid {ty}"))
}

/// Strings by code point: UTF-8 byte order.
pub fn char_length(s: &str) -> i32 {
    s.chars().count() as i32
}

/// SQL SUBSTRING(s FROM start FOR len), 1-based, in code points (None: to the end).
pub fn substring(s: &str, start: i32, len: Option<i32>) -> Result<String, i32> {
    if let Some(l) = len {
        if l < 0 {
            return Err(l);
        }
    }
    let n = s.chars().count() as i64;
    let from = (start as i64).max(1);
    let to = match len {
        None => n + 1,
        Some(l) => (start as i64 + l as i64).min(n + 1),
    };
    if to <= from {
        return Ok(String::new());
    }
    Ok(s.chars().skip((from - 1) as usize).take((to - from) as usize).collect())
}

pub fn trim(s: &str) -> &str {
    s.trim_matches(' ')
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Char(char),
    One,
    Any,
}

/// A LIKE pattern: `%` any run of code points, `_` one, `escape` quotes the next character.
#[derive(Debug, Clone)]
pub struct Like {
    toks: Vec<Tok>,
}

impl Like {
    pub fn new(pattern: &str, escape: Option<char>) -> Like {
        let mut toks = Vec::new();
        let cps: Vec<char> = pattern.chars().collect();
        let mut i = 0;
        while i < cps.len() {
            let c = cps[i];
            if Some(c) == escape && i + 1 < cps.len() {
                i += 1;
                toks.push(Tok::Char(cps[i]));
            } else if c == '%' {
                toks.push(Tok::Any);
            } else if c == '_' {
                toks.push(Tok::One);
            } else {
                toks.push(Tok::Char(c));
            }
            i += 1;
        }
        Like { toks }
    }

    /// Wildcard matching with one backtracking point (the last `%`).
    pub fn matches(&self, s: &str) -> bool {
        let cs: Vec<char> = s.chars().collect();
        let (mut p, mut i) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        while i < cs.len() {
            match self.toks.get(p) {
                Some(Tok::Any) => {
                    star = Some((p, i));
                    p += 1;
                }
                Some(Tok::One) => {
                    p += 1;
                    i += 1;
                }
                Some(Tok::Char(c)) if *c == cs[i] => {
                    p += 1;
                    i += 1;
                }
                _ => match star {
                    Some((sp, si)) => {
                        p = sp + 1;
                        i = si + 1;
                        star = Some((sp, si + 1));
                    }
                    None => return false,
                },
            }
        }
        self.toks[p..].iter().all(|t| *t == Tok::Any)
    }
}

/// ROUND(x, d) for f64: half away from zero at `d` decimal places, in the same float steps as
/// the TS engine.
pub fn round_f64(x: f64, d: i32) -> f64 {
    if !x.is_finite() {
        return x;
    }
    let r = if d >= 0 {
        let p = 10f64.powi(d);
        (x.abs() * p + 0.5).floor() / p
    } else {
        let p = 10f64.powi(-d);
        (x.abs() / p + 0.5).floor() * p
    };
    if x < 0.0 {
        -r
    } else {
        r
    }
}

fn ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// Text -> integer (trimmed; decimal digits with an optional sign): Ok(value) when it fits
/// i64, Err(Some(normalised text)) when it does not, Err(None) when it is not an integer.
pub fn parse_int_text(s: &str) -> Result<i64, Option<String>> {
    let t = s.trim_matches(ws);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(None);
    }
    let stripped = digits.trim_start_matches('0');
    let stripped = if stripped.is_empty() { "0" } else { stripped };
    let text = if neg && stripped != "0" { format!("-{stripped}") } else { stripped.to_string() };
    if stripped.len() > 19 {
        return Err(Some(text));
    }
    text.parse::<i64>().map_err(|_| Some(text.clone()))
}

pub fn parse_f64_text(s: &str) -> Option<f64> {
    let t = s.trim_matches(ws);
    let l = t.to_ascii_lowercase();
    match l.as_str() {
        "nan" => return Some(f64::NAN),
        "infinity" | "+infinity" | "inf" | "+inf" => return Some(f64::INFINITY),
        "-infinity" | "-inf" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    // The grammar of ts/engine/ts/calc-rt.ts: sign, digits with an optional point, exponent.
    let b = t.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    let mut frac_digits = 0;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let fs = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        frac_digits = i - fs;
    }
    if int_digits == 0 && frac_digits == 0 {
        return None;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let es = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == es {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    t.parse::<f64>().ok()
}

pub fn parse_bool_text(s: &str) -> Option<bool> {
    let l = s.trim_matches(ws).to_ascii_lowercase();
    match l.as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// Date functions refuse timestamps beyond JavaScript's date range, as the TS engine does.
pub const TS_LIMIT: i64 = 8_640_000_000_000_000;

pub fn ts_range_error(name: &str, text: &str, row: usize) -> Error {
    row_error(true, name, text, row, "the timestamp is outside ±8.64e15 ms (the range of dates)")
}

struct Civil {
    y: i64,
    m: i64,
    d: i64,
    days: i64,
    ms_of_day: i64,
}

fn civil(ms: i64) -> Civil {
    let days = ms.div_euclid(86_400_000);
    let ms_of_day = ms.rem_euclid(86_400_000);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    Civil { y, m, d, days, ms_of_day }
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let yy = if m <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// EXTRACT(unit FROM ts), UTC; dayOfWeek 1 = Sunday ... 7 = Saturday; week: ISO 8601. The
/// caller has checked the range.
pub fn extract(unit: &str, ms: i64) -> i64 {
    let c = civil(ms);
    match unit {
        "year" => c.y,
        "quarter" => (c.m - 1) / 3 + 1,
        "month" => c.m,
        "day" => c.d,
        "dayOfWeek" => (c.days + 4).rem_euclid(7) + 1,
        "dayOfYear" => c.days - days_from_civil(c.y, 1, 1) + 1,
        "week" => {
            let dow = (c.days + 3).rem_euclid(7) + 1;
            let thursday = c.days - dow + 4;
            let ty = civil(thursday * 86_400_000).y;
            (thursday - days_from_civil(ty, 1, 1)).div_euclid(7) + 1
        }
        "hour" => c.ms_of_day / 3_600_000,
        "minute" => (c.ms_of_day / 60_000) % 60,
        "second" => (c.ms_of_day / 1000) % 60,
        "millisecond" => c.ms_of_day % 1000,
        _ => unreachable!("units are checked when the spec is read"),
    }
}

pub const EXTRACT_UNITS: [&str; 11] =
    ["year", "quarter", "month", "week", "day", "dayOfWeek", "dayOfYear", "hour", "minute", "second", "millisecond"];

/// A timestamp as SQL text, 'yyyy-MM-dd HH:mm:ss.SSS' (UTC); the caller has checked the range.
pub fn timestamp_text(ms: i64) -> String {
    let c = civil(ms);
    let y = if c.y < 0 { format!("-{:04}", -c.y) } else { format!("{:04}", c.y) };
    let t = c.ms_of_day;
    format!(
        "{y}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}",
        c.m,
        c.d,
        t / 3_600_000,
        (t / 60_000) % 60,
        (t / 1000) % 60,
        t % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_matches_code_points() {
        assert!(Like::new("a%c", None).matches("abbbc"));
        assert!(Like::new("a_c", None).matches("aéc"));
        assert!(!Like::new("a_c", None).matches("ac"));
        assert!(Like::new("%", None).matches(""));
        assert!(Like::new("100\\%", Some('\\')).matches("100%"));
        assert!(!Like::new("100\\%", Some('\\')).matches("1000"));
        assert!(Like::new("%a%b%", None).matches("xxaxxbxx"));
        assert!(!Like::new("%a%b", None).matches("xxaxxbxx"));
    }

    #[test]
    fn dates() {
        assert_eq!(timestamp_text(0), "1970-01-01 00:00:00.000");
        assert_eq!(timestamp_text(-1), "1969-12-31 23:59:59.999");
        assert_eq!(extract("dayOfWeek", 0), 5); // a Thursday
        assert_eq!(extract("week", 0), 1);
        // 2021-01-03 was a Sunday in ISO week 53 of 2020.
        assert_eq!(extract("week", 1_609_632_000_000), 53);
        assert_eq!(extract("dayOfYear", 1_609_632_000_000), 3);
    }

    #[test]
    fn text_numbers() {
        assert_eq!(parse_int_text(" -007 "), Ok(-7));
        assert_eq!(parse_int_text("99999999999999999999"), Err(Some("99999999999999999999".into())));
        assert_eq!(parse_int_text("1.5"), Err(None));
        assert_eq!(parse_f64_text("1."), Some(1.0));
        assert_eq!(parse_f64_text(".5e1"), Some(5.0));
        assert_eq!(parse_f64_text("1e"), None);
        assert_eq!(substring("hello", 0, Some(2)), Ok("h".into()));
        assert_eq!(substring("hello", 2, None), Ok("ello".into()));
    }
}
