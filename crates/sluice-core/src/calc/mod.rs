//! The calc operator: projection, filter and computed columns fused, over whole batches. A
//! spec (`spec.rs`, written by the planner in `ts/table`) is compiled once into kernels
//! (`kernel.rs`); a batch is one pass per kernel over each chunk of its rows: the filter first,
//! giving a selection vector, then each computed column over the kept rows only, written into
//! the output buffers of the batch before (`Calc::recycle`). The TS engine's
//! generated code (`ts/engine/ts/calc.ts`) gives the same rows, nulls and errors.

mod chain;
mod int_const;
pub mod into;
pub mod kernel;
pub mod rules;
pub mod spec;
pub mod vector;

use std::sync::{Arc, Mutex};

use crate::batch::{BatchRef, Column, DataType, Field, RecordBatch, Schema, SchemaRef};
use crate::error::Result;
use kernel::{compile, Ctx, Kernel};
use spec::{CalcSpec, Expr};

/// What one batch gave: the computed columns (in spec order, pass-through columns left out),
/// and the kept rows unless every row was kept.
pub struct CalcOutput {
    /// Computed columns only, with the kept rows' event time when rows were dropped.
    pub computed: RecordBatch,
    /// Indices of the kept rows; None when all were kept.
    pub selection: Option<Vec<u32>>,
}

/// Rows per kernel run (see `Calc::process`).
const CHUNK: usize = 1024;

pub struct Calc {
    /// The schema of the computed columns.
    computed_schema: SchemaRef,
    filter: Option<Kernel>,
    computed: Vec<(Kernel, DataType)>,
    /// The computed columns of a batch the caller is done with: their buffers hold the next.
    spare: Mutex<Vec<Column>>,
}

impl Calc {
    pub fn new(input: &Schema, spec_json: &str) -> Result<Calc> {
        let spec = CalcSpec::from_json(spec_json, input)?;
        let name: Arc<str> = Arc::from(spec.name.as_str());
        let filter = spec.filter.as_ref().map(|f| compile(f, &name)).transpose()?;
        let mut fields = Vec::new();
        let mut computed = Vec::new();
        for (n, e) in &spec.columns {
            // An input field unchanged is taken by the caller: it holds the batch already.
            if let Expr::Field { .. } = e {
                continue;
            }
            fields.push(Field::new(n.clone(), e.ty()));
            computed.push((compile(e, &name)?, e.ty()));
        }
        Ok(Calc { computed_schema: Arc::new(Schema::new(fields)), filter, computed, spare: Mutex::new(Vec::new()) })
    }

    pub fn computed_schema(&self) -> &SchemaRef {
        &self.computed_schema
    }

    /// Gives back the computed columns of an output the caller has copied: the next batch
    /// writes into their buffers instead of allocating (and faulting in) new ones.
    pub fn recycle(&self, columns: Vec<Column>) {
        *self.spare.lock().unwrap_or_else(|p| p.into_inner()) = columns;
    }

    /// The kept rows of `batch`, computed; the first error by row when one fails.
    ///
    /// The kernels run over chunks of `CHUNK` rows, so their intermediate vectors stay in the L1
    /// cache and are small allocations the allocator recycles (whole-batch vectors of 64 KiB
    /// cost a page fault per 4 KiB each time the allocator gave them back to the system).
    /// Rows are evaluated in the same order as whole, so the first error by row is the same.
    pub fn process(&self, batch: &BatchRef<'_>) -> Result<CalcOutput> {
        let ctx = Ctx::new(batch);
        let n = batch.len;
        let sel = self.select_in(&ctx, n);
        self.compute(batch, &ctx, sel)
    }

    /// The kept rows of `batch` (None: all), for a calc that computes no column (a filter over
    /// columns passed through): the caller takes the columns and the event time itself. The
    /// filter's first error by row when it fails, as `process` gives.
    pub fn select(&self, batch: &BatchRef<'_>) -> Result<Option<Vec<u32>>> {
        let ctx = Ctx::new(batch);
        let sel = self.select_in(&ctx, batch.len);
        if let Some(e) = ctx.take_error() {
            return Err(e);
        }
        Ok(if sel.len() == batch.len { None } else { Some(sel) })
    }

    fn select_in(&self, ctx: &Ctx<'_>, n: usize) -> Vec<u32> {
        match &self.filter {
            None => (0..n as u32).collect(),
            Some(f) => {
                let mut sel = Vec::with_capacity(n);
                let mut rows = Vec::with_capacity(CHUNK.min(n));
                for from in (0..n).step_by(CHUNK) {
                    rows.clear();
                    rows.extend(from as u32..(from + CHUNK).min(n) as u32);
                    let v = f(ctx, &rows);
                    let keep = match &v.vals {
                        vector::Vals::Bool(b) => b,
                        _ => unreachable!("a filter is bool"),
                    };
                    // Without a branch per row (a filter keeping rows at random would mispredict).
                    let m = sel.len();
                    sel.resize(m + rows.len(), 0);
                    let kept = crate::wide::compress(&rows, keep, v.valid.as_deref(), &mut sel[m..]);
                    sel.truncate(m + kept);
                }
                sel
            }
        }
    }

    fn compute(&self, batch: &BatchRef<'_>, ctx: &Ctx<'_>, sel: Vec<u32>) -> Result<CalcOutput> {
        let n = batch.len;
        let full = sel.len() == n;
        let mut spare = std::mem::take(&mut *self.spare.lock().unwrap_or_else(|p| p.into_inner()));
        if spare.len() != self.computed.len() {
            spare.clear();
        }
        let mut spare = spare.into_iter();
        let mut columns: Vec<Column> = self.computed.iter().map(|(_, t)| vector::empty_column(*t, spare.next(), sel.len())).collect();
        for (c, chunk) in sel.chunks(CHUNK).enumerate() {
            for ((k, _), col) in self.computed.iter().zip(columns.iter_mut()) {
                k(ctx, chunk).append_to(col, c * CHUNK);
            }
        }
        if let Some(e) = ctx.take_error() {
            return Err(e);
        }
        let event_time = if full { None } else { batch.event_time.map(|et| sel.iter().map(|&r| et[r as usize]).collect()) };
        let computed = RecordBatch { schema: self.computed_schema.clone(), columns, len: sel.len(), event_time };
        Ok(CalcOutput { computed, selection: if full { None } else { Some(sel) } })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{ColumnData, ColumnRef, DataType, Field, ValuesRef};

    /// `a % <literal>` (the unary kernel a constant operand gets) gives what `a % b` with `b` a
    /// column gives, and `%`'s sign (the dividend's), at every edge of i64.
    #[test]
    fn remainder_by_a_constant_as_by_a_column() {
        let schema = Schema::new(vec![Field::new("a", DataType::I64), Field::new("b", DataType::I64)]);
        let field = |i: usize| format!(r#"{{"k":"field","i":{i},"t":"i64","n":false}}"#);
        let spec = |divisor: &str| {
            format!(r#"{{"name":"Calc(test)","columns":[{{"name":"m","expr":{{"k":"call","op":"mod","t":"i64","n":false,"args":[{},{divisor}],"text":"(a % b)"}}}}]}}"#, field(0))
        };
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut a: Vec<i64> = vec![0, 1, -1, i64::MAX, i64::MIN, i64::MIN + 1, 122, 123, -123, 124, -124];
        a.extend((0..3000).map(|k| if k % 2 == 0 { next() as i64 } else { (next() % 100_000) as i64 - 50_000 }));
        for d in [1i64, -1, 2, -2, 3, 7, 123, -123, 1000, 1 << 32, (1 << 32) + 1, i64::MAX, i64::MIN, i64::MIN + 1, 0x1234_5678_9abc] {
            let by_lit = Calc::new(&schema, &spec(&format!(r#"{{"k":"lit","t":"i64","n":false,"v":"{d}"}}"#))).expect("spec");
            let by_col = Calc::new(&schema, &spec(&field(1))).expect("spec");
            let b = vec![d; a.len()];
            let batch = BatchRef {
                schema: &schema,
                columns: vec![ColumnRef { values: ValuesRef::I64(&a), validity: None }, ColumnRef { values: ValuesRef::I64(&b), validity: None }],
                len: a.len(),
                event_time: None,
            };
            let got = by_lit.process(&batch).expect("no error").computed.columns.remove(0).data;
            let want = by_col.process(&batch).expect("no error").computed.columns.remove(0).data;
            assert_eq!(got, want, "divisor {d}");
            let ColumnData::I64(v) = got else { panic!("i64") };
            assert!(v.iter().zip(&a).all(|(&r, &x)| r == x.wrapping_rem(d)), "divisor {d}");
        }
    }

    /// `/` and `%` by a constant give the integer result in each of their three forms: every
    /// operand and the constant below 2^51 (the short conversions), below 2^53 (f64 with `as`),
    /// and beyond (the integer divide), a batch at each edge between them.
    #[test]
    fn division_by_a_constant_in_every_form() {
        let schema = Schema::new(vec![Field::new("a", DataType::I64)]);
        let spec = |op: &str, d: i64| {
            format!(
                r#"{{"name":"Calc(test)","columns":[{{"name":"m","expr":{{"k":"call","op":"{op}","t":"i64","n":false,"args":[{{"k":"field","i":0,"t":"i64","n":false}},{{"k":"lit","t":"i64","n":false,"v":"{d}"}}],"text":"(a {op} d)"}}}}]}}"#
            )
        };
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let s51 = (1i64 << 51) - 1;
        let short: Vec<i64> = [0, 1, -1, 122, 123, -123, -124, s51, -s51, s51 - 122, -s51 + 122].into_iter().chain((0..2000).map(|_| (next() % (2 * s51 as u64)) as i64 - s51)).collect();
        let batches: Vec<Vec<i64>> = [1i64 << 51, -(1 << 51), (1 << 53) - 1, -(1 << 53) + 1, 1 << 53, i64::MIN, i64::MAX]
            .into_iter()
            .map(|edge| short.iter().copied().chain([edge]).collect())
            .chain([short.clone()])
            .collect();
        for d in [1i64, -1, 2, -2, 3, 7, 10, 123, -123, 60_000, s51, -s51, 1 << 51, (1 << 52) + 1, (1 << 53) - 1, 1 << 53, i64::MAX, i64::MIN] {
            for op in ["mod", "div"] {
                let calc = Calc::new(&schema, &spec(op, d)).expect("spec");
                for a in &batches {
                    let batch = BatchRef { schema: &schema, columns: vec![ColumnRef { values: ValuesRef::I64(a), validity: None }], len: a.len(), event_time: None };
                    if op == "div" && d == -1 && a.contains(&i64::MIN) {
                        continue;
                    }
                    let got = calc.process(&batch).expect("no error").computed.columns.remove(0).data;
                    let ColumnData::I64(v) = got else { panic!("i64") };
                    for (&r, &x) in v.iter().zip(a) {
                        let want = if op == "mod" { x.wrapping_rem(d) } else { x.wrapping_div(d) };
                        assert_eq!(r, want, "{x} {op} {d} (a batch ending in {})", a.last().unwrap());
                    }
                }
            }
        }
    }

    /// i64 -> f64 gives `as f64` in both forms (every value below 2^51, or not), nulls kept.
    #[test]
    fn i64_to_f64_as_rust_converts() {
        let schema = Schema::new(vec![Field::new("a", DataType::I64)]);
        let spec = r#"{"name":"Calc(test)","columns":[{"name":"f","expr":{"k":"call","op":"cast","t":"f64","n":true,"args":[{"k":"field","i":0,"t":"i64","n":true}],"text":"CAST(a AS DOUBLE)"}}]}"#;
        let calc = Calc::new(&schema, spec).expect("spec");
        let s51 = (1i64 << 51) - 1;
        let short: Vec<i64> = (0..1000i64).map(|i| (i * 2_654_435_761 * 40_503) % s51 - s51 / 2).chain([0, 1, -1, s51, -s51]).collect();
        for edge in [None, Some(1i64 << 51), Some(-(1 << 51)), Some((1 << 53) + 1), Some(i64::MIN), Some(i64::MAX)] {
            let a: Vec<i64> = short.iter().copied().chain(edge).collect();
            // Every third row null, holding a value that is not short (it must not matter).
            let a: Vec<i64> = a.iter().enumerate().map(|(i, &v)| if i % 3 == 1 { i64::MAX - i as i64 } else { v }).collect();
            let validity: Vec<u8> = (0..a.len().div_ceil(8)).map(|b| (0..8).filter(|k| (b * 8 + k) % 3 != 1).fold(0u8, |m, k| m | 1 << k)).collect();
            let batch = BatchRef { schema: &schema, columns: vec![ColumnRef { values: ValuesRef::I64(&a), validity: Some(&validity) }], len: a.len(), event_time: None };
            let out = calc.process(&batch).expect("no error").computed.columns.remove(0);
            let ColumnData::F64(v) = &out.data else { panic!("f64") };
            for (i, (&f, &x)) in v.iter().zip(&a).enumerate() {
                let valid = out.validity.as_ref().is_none_or(|m| crate::batch::bit_get(m, i));
                assert_eq!(valid, i % 3 != 1, "row {i}'s validity");
                if valid {
                    assert_eq!(f.to_bits(), (x as f64).to_bits(), "{x} (a batch ending in {edge:?})");
                }
            }
        }
    }

    /// A field with a literal (the field read in place, `un_field`) gives what the same operator
    /// over two columns gives: over a selection with gaps, with nulls, the literal on either
    /// side; a row the filter dropped is never computed, and a kept row fails as it would.
    #[test]
    fn a_field_read_in_place_as_a_column() {
        let schema = Schema::new(vec![
            Field::new("a", DataType::I64),
            Field::new("x", DataType::F64),
            Field::new("k", DataType::I32),
            Field::new("b", DataType::I64),
            Field::new("y", DataType::F64),
            Field::new("z", DataType::I64),
        ]);
        let f = |i: usize, t: &str| format!(r#"{{"k":"field","i":{i},"t":"{t}","n":true}}"#);
        let lit = |t: &str, v: &str| format!(r#"{{"k":"lit","t":"{t}","n":false,"v":{v}}}"#);
        let call = |op: &str, t: &str, l: &str, r: &str| format!(r#"{{"k":"call","op":"{op}","t":"{t}","n":true,"args":[{l},{r}],"text":"({op})"}}"#);
        let (a, x, b, y, five) = (f(0, "i64"), f(1, "f64"), f(3, "i64"), f(4, "f64"), lit("i64", "\"5\""));
        let pairs = [
            (call("add", "i64", &a, &five), call("add", "i64", &a, &b)),
            (call("sub", "i64", &five, &a), call("sub", "i64", &b, &a)),
            (call("mul", "f64", &lit("f64", "2.5"), &x), call("mul", "f64", &y, &x)),
            (call("lt", "bool", &a, &five), call("lt", "bool", &a, &b)),
            (call("mod", "i64", &a, &five), call("mod", "i64", &a, &b)),
            (call("mul", "i64", &f(5, "i64"), &five), call("mul", "i64", &f(5, "i64"), &b)),
        ];
        let columns: Vec<String> = pairs.iter().enumerate().flat_map(|(j, (l, c))| [format!(r#"{{"name":"l{j}","expr":{l}}}"#), format!(r#"{{"name":"c{j}","expr":{c}}}"#)]).collect();
        let filter = call("lt", "bool", &f(2, "i32"), &lit("i32", "2"));
        let spec = |cols: &[String]| Calc::new(&schema, &format!(r#"{{"name":"Calc(test)","filter":{filter},"columns":[{}]}}"#, cols.join(","))).expect("spec");
        let n: usize = 1000;
        let x: Vec<f64> = (0..n).map(|i| i as f64 / 3.0 - 100.0).collect();
        // The filter keeps rows with k < 2: two in three, so the selection has gaps.
        let k: Vec<i32> = (0..n as i32).map(|i| i % 3).collect();
        // Every 7th a and every 11th x null; z has no nulls.
        let bits = |every: usize| (0..n.div_ceil(8)).map(|byte| (0..8).filter(|bit| (byte * 8 + bit) % every != 0).fold(0u8, |m, bit| m | 1 << bit)).collect::<Vec<u8>>();
        let (va, vx) = (bits(7), bits(11));
        let (b, y, z) = (vec![5i64; n], vec![2.5f64; n], (0..n as i64).map(|i| i * 13).collect::<Vec<_>>());
        let run = |calc: &Calc, a: &[i64]| {
            let batch = BatchRef {
                schema: &schema,
                columns: vec![
                    ColumnRef { values: ValuesRef::I64(a), validity: Some(&va) },
                    ColumnRef { values: ValuesRef::F64(&x), validity: Some(&vx) },
                    ColumnRef { values: ValuesRef::I32(&k), validity: None },
                    ColumnRef { values: ValuesRef::I64(&b), validity: None },
                    ColumnRef { values: ValuesRef::F64(&y), validity: None },
                    ColumnRef { values: ValuesRef::I64(&z), validity: None },
                ],
                len: n,
                event_time: None,
            };
            calc.process(&batch).map(|o| o.computed.columns).map_err(|e| e.to_string())
        };
        let mut a: Vec<i64> = (0..n as i64).map(|i| i * 37 - 5000).collect();
        // Row 2 (k = 2) is dropped by the filter: a + 5 would overflow there.
        a[2] = i64::MAX;
        let out = run(&spec(&columns), &a).expect("a dropped row is not computed");
        // A null row holds 0.
        assert_eq!(out[0].data, ColumnData::I64((0..n as i64).filter(|i| i % 3 != 2).map(|i| if i % 7 == 0 { 0 } else { i * 37 - 5000 + 5 }).collect()));
        for j in 0..pairs.len() {
            assert_eq!(out[2 * j], out[2 * j + 1], "pair {j}");
        }
        assert!(out[0].validity.is_some() && out[4].validity.is_some(), "nulls kept");
        // Row 4 (k = 1, not null) is kept: the in-place kernel fails there as the other does.
        a[4] = i64::MAX;
        let errs: Vec<String> = columns[..2].iter().map(|c| run(&spec(std::slice::from_ref(c)), &a).expect_err("an overflow")).collect();
        assert_eq!(errs[0], errs[1]);
        assert!(errs[0].contains("at row 4 "), "{}", errs[0]);
    }

    /// Integer `+ - * / %` with a constant (the vectorising kernels of `int_const`) give what the
    /// same operators give with a column holding that constant (the checked kernels): values,
    /// nulls, and the error and its row, at the edges of i32 and i64, over a selection with
    /// gaps and over every row (several chunks), with operands inside 2^53 (division through
    /// f64; near its edge too, with null rows holding the extremes) and beyond it (the integer
    /// divide).
    #[test]
    fn integer_constants_as_columns() {
        for (t, edges, consts) in [
            ("i64", vec![i64::MIN, i64::MIN + 1, -(1 << 53), -(1 << 53) + 1, -7, -1, 0, 1, 7, (1 << 53) - 1, 1 << 53, i64::MAX - 1, i64::MAX], vec![0i64, 1, -1, 2, -3, 5, 123, 60_000, (1 << 40) + 3, i64::MAX, i64::MIN]),
            ("i32", vec![i32::MIN as i64, i32::MIN as i64 + 1, -7, -1, 0, 1, 7, i32::MAX as i64 - 1, i32::MAX as i64], vec![0i64, 1, -1, 2, -3, 5, 123, i32::MAX as i64, i32::MIN as i64]),
        ] {
            let ty = if t == "i64" { DataType::I64 } else { DataType::I32 };
            let schema = Schema::new(vec![Field::new("a", ty), Field::new("b", ty), Field::new("k", DataType::I32)]);
            let n = 2500usize;
            let k: Vec<i32> = (0..n as i32).map(|i| i % 3).collect();
            let va: Vec<u8> = (0..n.div_ceil(8)).map(|byte| (0..8).filter(|bit| (byte * 8 + bit) % 7 != 3).fold(0u8, |m, bit| m | 1 << bit)).collect();
            // Small operands (every one within 2^53) and the edges among them, one set each.
            let small: Vec<i64> = (0..n as i64).map(|i| (i * 7919) % 20011 - 10005).collect();
            // Null rows (i % 7 == 3) hold the extremes: they must not fail.
            let (lo, hi) = (edges[0], edges[edges.len() - 1]);
            let edged: Vec<i64> = small
                .iter()
                .enumerate()
                .map(|(i, &v)| if i % 7 == 3 { [lo, hi][i % 2] } else if i % 5 == 1 { edges[i % edges.len()] } else { v })
                .collect();
            // Every valid row within 2^53, some near it; null rows at the extremes.
            let near: Vec<i64> = small
                .iter()
                .enumerate()
                .map(|(i, &v)| if i % 7 == 3 { [lo, hi][i % 2] } else if t == "i64" && i % 5 == 2 { [(1 << 53) - 1, -(1 << 53) + 1, (1 << 53) - 2, -(1 << 52) - 3][i % 4] } else { v })
                .collect();
            for a in [small, edged, near] {
                for &c in &consts {
                    for op in ["add", "sub", "mul", "div", "mod"] {
                        for lit_left in [false, true] {
                            let f = |i: usize| format!(r#"{{"k":"field","i":{i},"t":"{t}","n":true}}"#);
                            let lit = format!(r#"{{"k":"lit","t":"{t}","n":false,"v":{}}}"#, if t == "i64" { format!("\"{c}\"") } else { c.to_string() });
                            let (l, r) = if lit_left { (lit.clone(), f(0)) } else { (f(0), lit.clone()) };
                            let (lc, rc) = if lit_left { (f(1), f(0)) } else { (f(0), f(1)) };
                            let call = |l: &str, r: &str| format!(r#"{{"k":"call","op":"{op}","t":"{t}","n":true,"args":[{l},{r}],"text":"({op})"}}"#);
                            // With a filter (a selection with gaps) and without (runs of rows, read in place).
                            for filter in [r#"{"k":"call","op":"lt","t":"bool","n":false,"args":[{"k":"field","i":2,"t":"i32","n":false},{"k":"lit","t":"i32","n":false,"v":2}],"text":"(k < 2)"}"#, "null"] {
                            let calc = |e: String| {
                                Calc::new(&schema, &format!(r#"{{"name":"Calc(test)","filter":{filter},"columns":[{{"name":"m","expr":{e}}}]}}"#)).expect("spec")
                            };
                            let (with_lit, with_col) = (calc(call(&l, &r)), calc(call(&lc, &rc)));
                            let (a32, b32): (Vec<i32>, Vec<i32>) = (a.iter().map(|&v| v as i32).collect(), vec![c as i32; n]);
                            let b64 = vec![c; n];
                            let run = |calc: &Calc| {
                                let (ca, cb) = if t == "i64" { (ValuesRef::I64(&a), ValuesRef::I64(&b64)) } else { (ValuesRef::I32(&a32), ValuesRef::I32(&b32)) };
                                let batch = BatchRef {
                                    schema: &schema,
                                    columns: vec![ColumnRef { values: ca, validity: Some(&va) }, ColumnRef { values: cb, validity: None }, ColumnRef { values: ValuesRef::I32(&k), validity: None }],
                                    len: n,
                                    event_time: None,
                                };
                                calc.process(&batch).map(|o| o.computed.columns).map_err(|e| e.to_string())
                            };
                            assert_eq!(run(&with_lit), run(&with_col), "{t}: {op} by {c} (constant on the {}, filter {filter})", if lit_left { "left" } else { "right" });
                            }
                        }
                    }
                }
            }
        }
    }
}
