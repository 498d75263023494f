//! A calc's output written straight into memory its caller gives (JavaScript buffers), for
//! calcs whose computed columns are all fixed-width: each kernel's chunk goes to its place in
//! that memory, not into a column of Rust's that is then copied out (the copy was 11% of the
//! calc kernel's time, and creating the typed arrays natively more).
//!
//! The caller gives one buffer (`IntoLayout`, which `ts/engine/native/calc-into.ts` computes
//! too), each part 8-aligned: a head, one part per computed column's values (n slots of its
//! width), the kept rows' event time (n i64 slots; only for a filter over a batch with event
//! time) and their indices (n u32 slots; only for a filter whose caller passes input columns
//! through). One buffer is one typed array to cross the boundary and one to lend (three to five
//! were 0.3-0.5 us of a call's 2.2). The head:
//!
//! ```text
//! rows kept (u32) | flags (u32) | largest event time kept (f64) | has-nulls byte per column
//! validity bitmap of each computed column, n bits each (8-aligned; read only where has-nulls)
//! ```

use super::vector::{Vals, Vector};
use super::{Calc, CHUNK};
use crate::batch::{bitmap_len, BatchRef, DataType};
use crate::error::{Error, Result};

/// Flags: rows were dropped and their selection was written; their event time was written.
pub const WROTE_SELECTION: u32 = 1;
pub const WROTE_EVENT_TIME: u32 = 2;

const HEADER: usize = 16;

fn align8(n: usize) -> usize {
    (n + 7) & !7
}

/// Bytes per value of a type `process_into` writes, or None (bool and utf8 are not written so).
pub fn fixed_width(t: DataType) -> Option<usize> {
    match t {
        DataType::I32 => Some(4),
        DataType::I64 | DataType::Timestamp | DataType::F64 => Some(8),
        DataType::Bool | DataType::Utf8 => None,
    }
}

/// Byte offset of computed column `j`'s validity bitmap in the head buffer of `k` columns and
/// `n` rows; `head_bytes(k, n)` is the head's size.
pub fn validity_at(k: usize, n: usize, j: usize) -> usize {
    align8(HEADER + k) + j * align8(bitmap_len(n))
}

pub fn head_bytes(k: usize, n: usize) -> usize {
    validity_at(k, n, k)
}

/// Where each part of the one output buffer of a batch lies (see the module docs).
pub struct IntoLayout {
    head: std::ops::Range<usize>,
    values: Vec<std::ops::Range<usize>>,
    event_time: Option<std::ops::Range<usize>>,
    selection: Option<std::ops::Range<usize>>,
    /// The buffer's size.
    pub bytes: usize,
}

impl IntoLayout {
    /// The output buffer of `n` rows whose computed columns are `widths` bytes a value; with the
    /// event time and the selection parts where asked for.
    pub fn new(widths: &[usize], n: usize, event_time: bool, selection: bool) -> IntoLayout {
        let (mut at, mut end) = (0, 0);
        let mut part = |bytes: usize| {
            let r = at..at + bytes;
            (at, end) = (align8(r.end), r.end);
            r
        };
        let head = part(head_bytes(widths.len(), n));
        let values = widths.iter().map(|w| part(w * n)).collect();
        let event_time = event_time.then(|| part(8 * n));
        let selection = selection.then(|| part(4 * n));
        IntoLayout { head, values, event_time, selection, bytes: end }
    }

    /// `out` cut into its parts; an error if it is smaller than the layout.
    pub fn split<'a>(&self, out: &'a mut [u8]) -> Result<IntoBuffers<'a>> {
        if out.len() < self.bytes {
            return Err(too_small("buffer", self.bytes, out.len()));
        }
        // The parts ascend and do not overlap: each is cut from what the last one left.
        let mut rest = out;
        let mut from = 0;
        let mut take = |r: &std::ops::Range<usize>| {
            let (_, tail) = std::mem::take(&mut rest).split_at_mut(r.start - from);
            let (part, tail) = tail.split_at_mut(r.len());
            rest = tail;
            from = r.end;
            part
        };
        let head = take(&self.head);
        let values = self.values.iter().map(&mut take).collect();
        let event_time = self.event_time.as_ref().map(&mut take);
        let selection = self.selection.as_ref().map(&mut take);
        Ok(IntoBuffers { head, values, event_time, selection })
    }
}

impl Calc {
    /// The layout of a batch of `n` rows' output (`process_into`): the event-time part when the
    /// calc filters a batch with event time, the selection part when it filters and `selection`
    /// (the caller passes input columns through).
    pub fn into_layout(&self, n: usize, event_time: bool, selection: bool) -> IntoLayout {
        let widths: Vec<usize> = self.computed.iter().map(|(_, t)| fixed_width(*t).unwrap_or(0)).collect();
        let filters = self.filter.is_some();
        IntoLayout::new(&widths, n, filters && event_time, filters && selection)
    }
}

/// Where `process_into` writes one batch's output.
pub struct IntoBuffers<'a> {
    pub head: &'a mut [u8],
    pub values: Vec<&'a mut [u8]>,
    pub event_time: Option<&'a mut [u8]>,
    pub selection: Option<&'a mut [u8]>,
}

fn put<T: Copy, const W: usize>(dst: &mut [u8], src: &[T], le: impl Fn(T) -> [u8; W]) {
    for (d, &s) in dst.chunks_exact_mut(W).zip(src) {
        d.copy_from_slice(&le(s));
    }
}

/// The bits of `valid` as bytes from byte `at / 8` on (`at` is a multiple of 8).
fn put_bits(bits: &mut [u8], at: usize, valid: impl ExactSizeIterator<Item = bool>) {
    let n = valid.len();
    let bytes = &mut bits[at / 8..at / 8 + bitmap_len(n)];
    bytes.fill(0);
    for (k, v) in valid.enumerate() {
        bytes[k >> 3] |= u8::from(v) << (k & 7);
    }
}

fn too_small(what: &str, need: usize, got: usize) -> Error {
    Error::config(format!("internal error: a calc output's {what} needs {need} bytes, got {got}"))
}

impl Calc {
    /// Whether `process_into` can write this calc's output: every computed column is fixed-width.
    pub fn writes_into(&self) -> bool {
        self.computed.iter().all(|(_, t)| fixed_width(*t).is_some())
    }

    /// As `process`, written into `out` (see the module docs); returns the rows kept. The event
    /// time and selection buffers are needed only when the calc has a filter (they are written
    /// when rows were dropped; without one of them that part is not written).
    pub fn process_into(&self, batch: &BatchRef<'_>, out: IntoBuffers<'_>) -> Result<usize> {
        let IntoBuffers { head, mut values, event_time, selection } = out;
        if !self.writes_into() {
            return Err(Error::config("internal error: a calc with a bool or utf8 computed column cannot write into buffers; call process"));
        }
        let (n, k) = (batch.len, self.computed.len());
        if values.len() != k {
            return Err(Error::config(format!("internal error: {} value buffers for a calc of {k} computed columns", values.len())));
        }
        if head.len() < head_bytes(k, n) {
            return Err(too_small("head", head_bytes(k, n), head.len()));
        }
        for ((v, (_, t)), j) in values.iter().zip(&self.computed).zip(0..) {
            let need = fixed_width(*t).unwrap_or(0) * n;
            if v.len() < need {
                return Err(too_small(&format!("column {j}"), need, v.len()));
            }
        }
        let ctx = super::kernel::Ctx::new(batch);
        let sel = self.select_in(&ctx, n);
        head[HEADER..HEADER + k].fill(0);
        for (c, chunk) in sel.chunks(CHUNK).enumerate() {
            let at = c * CHUNK;
            for (j, (kernel, t)) in self.computed.iter().enumerate() {
                let v: Vector = kernel(&ctx, chunk);
                let w = fixed_width(*t).expect("fixed-width (checked above)");
                let dst = &mut values[j][w * at..w * (at + chunk.len())];
                match &v.vals {
                    Vals::I32(x) => put(dst, x, i32::to_le_bytes),
                    Vals::I64(x) => put(dst, x, i64::to_le_bytes),
                    Vals::F64(x) => put(dst, x, f64::to_le_bytes),
                    Vals::Bool(_) | Vals::Str(_) => unreachable!("calc: a {t:?} column's kernel gave another type"),
                }
                let nulls = v.valid.as_ref().is_some_and(|v| v.contains(&false));
                let flagged = head[HEADER + j] != 0;
                if !nulls && !flagged {
                    continue;
                }
                head[HEADER + j] = 1;
                let o = validity_at(k, n, j);
                let bits = &mut head[o..o + bitmap_len(n)];
                if !flagged {
                    // The first null of this column: every earlier position was valid.
                    bits[..at / 8].fill(0xff);
                }
                match v.valid.as_deref() {
                    Some(ok) => put_bits(bits, at, ok.iter().copied()),
                    None => put_bits(bits, at, std::iter::repeat_n(true, chunk.len())),
                }
            }
        }
        if let Some(e) = ctx.take_error() {
            return Err(e);
        }
        let m = sel.len();
        let mut flags = 0;
        let mut max = f64::NAN;
        if m != n && self.filter.is_some() {
            if let (Some(dst), Some(et)) = (event_time, batch.event_time) {
                if dst.len() < 8 * m {
                    return Err(too_small("event time", 8 * m, dst.len()));
                }
                let (mut lo, mut hi) = (i64::MAX, i64::MIN);
                for (d, &r) in dst.chunks_exact_mut(8).zip(&sel) {
                    let t = et[r as usize];
                    (lo, hi) = (lo.min(t), hi.max(t));
                    d.copy_from_slice(&t.to_le_bytes());
                }
                // As batch_out gives it: the largest when every one is exact as a JavaScript number.
                const EXACT: i64 = 1 << 53;
                if m > 0 && lo >= -EXACT && hi < EXACT {
                    max = hi as f64;
                }
                flags |= WROTE_EVENT_TIME;
            }
            if let Some(dst) = selection {
                if dst.len() < 4 * m {
                    return Err(too_small("selection", 4 * m, dst.len()));
                }
                put(dst, &sel, u32::to_le_bytes);
                flags |= WROTE_SELECTION;
            }
        }
        head[0..4].copy_from_slice(&(m as u32).to_le_bytes());
        head[4..8].copy_from_slice(&flags.to_le_bytes());
        head[8..16].copy_from_slice(&max.to_le_bytes());
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{bit_get, ColumnData, ColumnRef, Field, Schema, ValuesRef};

    /// The parts of the one buffer start 8-aligned, in order, without overlapping, each of its
    /// size; the buffer ends where the last part does; a smaller buffer is refused.
    #[test]
    fn layout_parts() {
        for (widths, n, et, sel) in [(vec![8usize, 4, 8], 1001usize, true, true), (vec![4], 3, false, true), (vec![8, 8], 8192, true, false), (vec![], 0, false, false)] {
            let l = IntoLayout::new(&widths, n, et, sel);
            let mut parts = vec![(l.head.clone(), head_bytes(widths.len(), n))];
            parts.extend(l.values.iter().cloned().zip(widths.iter().map(|w| w * n)));
            parts.extend(l.event_time.clone().map(|r| (r, 8 * n)));
            parts.extend(l.selection.clone().map(|r| (r, 4 * n)));
            assert_eq!(parts.len(), 1 + widths.len() + usize::from(et) + usize::from(sel));
            let mut end = 0;
            for (r, size) in &parts {
                assert!(r.start % 8 == 0 && r.start >= end && r.len() == *size, "{r:?} after {end}");
                end = r.end;
            }
            assert_eq!(l.bytes, end);
            let mut buf = vec![0u8; l.bytes];
            let b = l.split(&mut buf).expect("a buffer of the layout's size");
            assert_eq!(b.values.len(), widths.len());
            assert_eq!((b.event_time.map(|p| p.len()), b.selection.map(|p| p.len())), (et.then_some(8 * n), sel.then_some(4 * n)));
            if l.bytes > 0 {
                assert!(l.split(&mut buf[..l.bytes - 1]).is_err());
            }
        }
    }

    /// Every column, its nulls, the kept rows' event time and their indices as `process` gives
    /// them, for batches of 0 to 3000 rows (several chunks), with a null first seen in a later
    /// chunk, and with no row kept.
    #[test]
    fn writes_what_process_gives() {
        let schema = Schema::new(vec![Field::new("a", DataType::I64), Field::new("x", DataType::F64), Field::new("i", DataType::I32)]);
        let a = r#"{"k":"field","i":0,"t":"i64","n":true}"#;
        let x = r#"{"k":"field","i":1,"t":"f64","n":false}"#;
        let i = r#"{"k":"field","i":2,"t":"i32","n":false}"#;
        // i64 literals are strings in a spec (exact), others numbers.
        let lit = |t: &str, v: &str| if t == "i64" { format!(r#"{{"k":"lit","t":"{t}","n":false,"v":"{v}"}}"#) } else { format!(r#"{{"k":"lit","t":"{t}","n":false,"v":{v}}}"#) };
        let call = |op: &str, t: &str, n: bool, l: &str, r: &str| format!(r#"{{"k":"call","op":"{op}","t":"{t}","n":{n},"args":[{l},{r}],"text":"({op})"}}"#);
        let filter = call("lt", "bool", true, &call("mod", "i64", true, a, &lit("i64", "10")), &lit("i64", "8"));
        let cols = format!(
            r#"[{{"name":"p","expr":{}}},{{"name":"q","expr":{}}},{{"name":"r","expr":{}}}]"#,
            call("mul", "f64", false, x, &lit("f64", "0.5")),
            call("add", "i64", true, a, &lit("i64", "7")),
            call("add", "i32", false, i, &lit("i32", "1"))
        );
        for (f, keep_all) in [(Some(filter.as_str()), false), (None, true)] {
            let spec = match f {
                Some(f) => format!(r#"{{"name":"Calc(test)","filter":{f},"columns":{cols}}}"#),
                None => format!(r#"{{"name":"Calc(test)","columns":{cols}}}"#),
            };
            let calc = Calc::new(&schema, &spec).expect("spec");
            assert!(calc.writes_into());
            for len in [0usize, 1, 9, 1024, 1500, 3000] {
                let av: Vec<i64> = (0..len as i64).map(|r| r * 7919 % 1009).collect();
                // Nulls only past the first chunk (every 13th row from 1100 on).
                let mut valid = vec![0xffu8; bitmap_len(len)];
                for r in (1100..len).step_by(13) {
                    valid[r / 8] &= !(1 << (r % 8));
                }
                let xv: Vec<f64> = (0..len).map(|r| r as f64 / 3.0).collect();
                let iv: Vec<i32> = (0..len as i32).collect();
                let et: Vec<i64> = (0..len as i64).map(|r| 1000 + r).collect();
                let batch = BatchRef {
                    schema: &schema,
                    columns: vec![
                        ColumnRef { values: ValuesRef::I64(&av), validity: Some(&valid) },
                        ColumnRef { values: ValuesRef::F64(&xv), validity: None },
                        ColumnRef { values: ValuesRef::I32(&iv), validity: None },
                    ],
                    len,
                    event_time: Some(&et),
                };
                let want = calc.process(&batch).expect("process");
                let k = want.computed.columns.len();
                let mut out = vec![0xa5u8; head_bytes(k, len)];
                let widths: Vec<usize> = want.computed.columns.iter().map(|c| fixed_width(c.data.data_type()).unwrap()).collect();
                let mut vals: Vec<Vec<u8>> = widths.iter().map(|w| vec![0xa5u8; w * len]).collect();
                let (mut ets, mut sels) = (vec![0xa5u8; 8 * len], vec![0xa5u8; 4 * len]);
                let bufs = IntoBuffers { head: &mut out, values: vals.iter_mut().map(|v| v.as_mut_slice()).collect(), event_time: Some(&mut ets), selection: Some(&mut sels) };
                let m = calc.process_into(&batch, bufs).expect("process_into");
                assert_eq!(m, want.computed.len, "rows, {len}");
                let flags = u32::from_le_bytes(out[4..8].try_into().unwrap());
                for (j, c) in want.computed.columns.iter().enumerate() {
                    let has_nulls = out[HEADER + j] != 0;
                    assert_eq!(has_nulls, c.validity.as_ref().is_some_and(|v| (0..m).any(|r| !bit_get(v, r))), "nulls of {j}, {len}");
                    for r in 0..m {
                        let ok = !has_nulls || bit_get(&out[validity_at(k, len, j)..], r);
                        assert_eq!(ok, c.validity.as_ref().is_none_or(|v| bit_get(v, r)), "validity of {j} row {r}, {len}");
                        if !ok {
                            continue;
                        }
                        let o = &vals[j];
                        match &c.data {
                            ColumnData::F64(v) => assert_eq!(f64::from_le_bytes(o[8 * r..8 * r + 8].try_into().unwrap()), v[r]),
                            ColumnData::I64(v) => assert_eq!(i64::from_le_bytes(o[8 * r..8 * r + 8].try_into().unwrap()), v[r]),
                            ColumnData::I32(v) => assert_eq!(i32::from_le_bytes(o[4 * r..4 * r + 4].try_into().unwrap()), v[r]),
                            other => panic!("{other:?}"),
                        }
                    }
                }
                match &want.selection {
                    None => assert_eq!(flags, 0, "{len}"),
                    Some(sel) => {
                        assert!(!keep_all);
                        assert_eq!(flags, WROTE_SELECTION | WROTE_EVENT_TIME, "{len}");
                        let kept_et = want.computed.event_time.as_ref().expect("event time of the kept rows");
                        for (r, &k) in sel.iter().enumerate() {
                            assert_eq!(u32::from_le_bytes(sels[4 * r..4 * r + 4].try_into().unwrap()), k);
                            assert_eq!(i64::from_le_bytes(ets[8 * r..8 * r + 8].try_into().unwrap()), kept_et[r]);
                        }
                        let max = f64::from_le_bytes(out[8..16].try_into().unwrap());
                        assert_eq!(max, kept_et.iter().max().map_or(f64::NAN, |&t| t as f64), "{len}");
                    }
                }
            }
        }
    }
}
