//! Two arithmetic steps with a constant each over one operand, `(x op1 c1) op2 c2`: a scale and
//! an offset (`x * 0.908 + 1.5`, `a * 3 + 7`, `(f - 32) / 1.8`), the most common computed
//! column. Kernel by kernel each step is a pass writing a vector; here both run in one pass, so
//! the intermediate vector is never written (in the calc kernel's profile the stores of the
//! vectors its passes write were a third of the time).
//!
//! A comparison of a quotient or remainder by a constant with a constant (`MOD(auction, 123) =
//! 0`, the common filter) is one pass too (`int_const::div_then`): the quotients are not written.
//!
//! Results are those of the two steps one after the other: the same operations in the same
//! order, operands on the sides they were written, the same overflow checks
//! (`int_const::arith2`), the same null handling.

use std::sync::Arc;

use super::int_const::{self, in_range, Int};
use super::kernel::{self, plain_field, FromLit, Kernel, Site};
use super::spec::Expr;
use crate::batch::DataType;
use crate::error::Result;

/// One step: `op`, its constant, whether the constant is the left operand, the other operand,
/// and the step's text (for errors).
struct Step<'e, A> {
    op: &'e str,
    c: A,
    left: bool,
    x: &'e Expr,
    text: &'e str,
}

/// `e` as a step over type `A`: `+ - *` (and `/` for f64) with the constant on the right, or
/// `+ *` with it on the left (`- /` with a left constant are not steps).
fn step<A: FromLit>(e: &Expr, div: bool) -> Option<Step<'_, A>> {
    let Expr::Call { op, args, text, .. } = e else { return None };
    let [l, r] = args.as_slice() else { return None };
    let op = op.as_str();
    let right_ok = matches!(op, "add" | "sub" | "mul") || (div && op == "div");
    match (A::from_lit(l), A::from_lit(r)) {
        (_, Some(c)) if right_ok && !matches!(l, Expr::Lit { .. }) => Some(Step { op, c, left: false, x: l, text }),
        (Some(c), None) if matches!(op, "add" | "mul") && !matches!(r, Expr::Lit { .. }) => Some(Step { op, c, left: true, x: r, text }),
        _ => None,
    }
}

/// The fused kernel of `e` when it is two steps of one type over an operand, or a quotient
/// compared with a constant; None to compile it as usual.
pub(super) fn compile(e: &Expr, name: &Arc<str>) -> Result<Option<Kernel>> {
    match e.ty() {
        DataType::I32 => ints::<i32>(e, name),
        DataType::I64 => ints::<i64>(e, name),
        DataType::F64 => floats(e, name),
        DataType::Bool => match compared(e).map(Expr::ty) {
            Some(DataType::I32) => divided_compared::<i32>(e, name),
            Some(DataType::I64 | DataType::Timestamp) => divided_compared::<i64>(e, name),
            _ => Ok(None),
        },
        _ => Ok(None),
    }
}

/// The side of a comparison that is not a literal.
fn compared(e: &Expr) -> Option<&Expr> {
    let Expr::Call { op, args, .. } = e else { return None };
    let [l, r] = args.as_slice() else { return None };
    if !matches!(op.as_str(), "eq" | "ne" | "lt" | "le" | "gt" | "ge") {
        return None;
    }
    match (l, r) {
        (Expr::Lit { .. }, Expr::Lit { .. }) => None,
        (x, Expr::Lit { .. }) | (Expr::Lit { .. }, x) => Some(x),
        _ => None,
    }
}

/// `(x / c1) op c2` or `(x % c1) op c2` (either side of the comparison), one kernel.
fn divided_compared<A: Int>(e: &Expr, name: &Arc<str>) -> Result<Option<Kernel>> {
    let Expr::Call { op, args, .. } = e else { return Ok(None) };
    let [l, r] = args.as_slice() else { return Ok(None) };
    // With the constant on the left the comparison turns around: c < q is q > c.
    let (q, c2, op) = match (A::from_lit(l), A::from_lit(r)) {
        (_, Some(c)) => (l, c, op.as_str()),
        (Some(c), None) => (
            r,
            c,
            match op.as_str() {
                "lt" => "gt",
                "le" => "ge",
                "gt" => "lt",
                "ge" => "le",
                same => same,
            },
        ),
        _ => return Ok(None),
    };
    let Expr::Call { op: div, args: dargs, .. } = q else { return Ok(None) };
    let [x, d] = dargs.as_slice() else { return Ok(None) };
    let rem = match div.as_str() {
        "div" => false,
        "mod" => true,
        _ => return Ok(None),
    };
    let Some(c1) = A::from_lit(d).filter(|&c| int_const::divides(c, rem) && !matches!(x, Expr::Lit { .. }) && x.ty() == q.ty()) else { return Ok(None) };
    let k = kernel::compile(x, name)?;
    let field = plain_field::<A>(x);
    macro_rules! then {
        ($g:expr) => {
            if rem {
                int_const::div_then::<A, true, bool>(k, field, c1, $g)
            } else {
                int_const::div_then::<A, false, bool>(k, field, c1, $g)
            }
        };
    }
    Ok(Some(match op {
        "eq" => then!(move |v: A| v == c2),
        "ne" => then!(move |v: A| v != c2),
        "lt" => then!(move |v: A| v < c2),
        "le" => then!(move |v: A| v <= c2),
        "gt" => then!(move |v: A| v > c2),
        _ => then!(move |v: A| v >= c2),
    }))
}

/// The two steps of `e` (outer, inner), both of `e`'s type.
fn steps<A: FromLit>(e: &Expr, div: bool) -> Option<(Step<'_, A>, Step<'_, A>)> {
    let outer = step::<A>(e, div)?;
    let inner = step::<A>(outer.x, div)?;
    (inner.x.ty() == e.ty() && outer.x.ty() == e.ty()).then_some((outer, inner))
}

fn ints<A: Int>(e: &Expr, name: &Arc<str>) -> Result<Option<Kernel>> {
    let Some((outer, inner)) = steps::<A>(e, false) else { return Ok(None) };
    let x = kernel::compile(inner.x, name)?;
    let field = plain_field::<A>(inner.x);
    let site = |text: &str| Site { name: name.clone(), text: Arc::from(text) };
    let (r1, r2) = (in_range(inner.op, inner.c), in_range(outer.op, outer.c));
    let (s1, s2) = (site(inner.text), site(outer.text));
    let (c1, c2) = (inner.c, outer.c);
    // Each pair of steps is its own loop (the steps inline into it).
    macro_rules! int_step {
        ($op:expr, $c:expr, |$f:ident| $body:expr) => {
            match $op {
                "add" => {
                    let $f = move |v: A| v.wrapping_add($c);
                    $body
                }
                "sub" => {
                    let $f = move |v: A| v.wrapping_sub($c);
                    $body
                }
                _ => {
                    let $f = move |v: A| v.wrapping_mul($c);
                    $body
                }
            }
        };
    }
    Ok(Some(int_step!(inner.op, c1, |f1| int_step!(outer.op, c2, |f2| int_const::arith2(x, field, f1, r1, s1, f2, r2, s2)))))
}

fn floats(e: &Expr, name: &Arc<str>) -> Result<Option<Kernel>> {
    let Some((outer, inner)) = steps::<f64>(e, true) else { return Ok(None) };
    let x = kernel::compile(inner.x, name)?;
    let field = plain_field::<f64>(inner.x);
    let (c1, c2) = (inner.c, outer.c);
    macro_rules! float_step {
        ($s:expr, $c:expr, |$f:ident| $body:expr) => {
            match ($s.op, $s.left) {
                ("add", false) => {
                    let $f = move |v: f64| v + $c;
                    $body
                }
                ("add", true) => {
                    let $f = move |v: f64| $c + v;
                    $body
                }
                ("sub", _) => {
                    let $f = move |v: f64| v - $c;
                    $body
                }
                ("mul", false) => {
                    let $f = move |v: f64| v * $c;
                    $body
                }
                ("mul", true) => {
                    let $f = move |v: f64| $c * v;
                    $body
                }
                _ => {
                    let $f = move |v: f64| v / $c;
                    $body
                }
            }
        };
    }
    Ok(Some(float_step!(inner, c1, |f1| float_step!(outer, c2, |f2| kernel::pure_un::<f64, f64>(x, field, move |v| f2(f1(v)))))))
}

#[cfg(test)]
mod tests {
    use crate::batch::{BatchRef, ColumnData, ColumnRef, DataType, Field, Schema, ValuesRef};
    use crate::calc::Calc;

    /// A batch of the tests' columns: `a` (nulls where `valid` says), the constants' columns `b`
    /// and `d`, and `k` (for the filter leaving gaps).
    fn batch<'a>(schema: &'a Schema, [a, b, d]: [ValuesRef<'a>; 3], valid: &'a [u8], k: &'a [i32]) -> BatchRef<'a> {
        BatchRef {
            schema,
            columns: vec![
                ColumnRef { values: a, validity: Some(valid) },
                ColumnRef { values: b, validity: None },
                ColumnRef { values: d, validity: None },
                ColumnRef { values: ValuesRef::I32(k), validity: None },
            ],
            len: k.len(),
            event_time: None,
        }
    }

    /// A spec of one computed column `(x op1 c1) op2 c2` (each constant on the side given), with
    /// the constants as literals (fused) or as the columns `b` and `d` holding them (the kernels
    /// of two columns): both give the same values, nulls and first error, with and without a
    /// filter leaving gaps, for every pair of steps, at the edges of each type.
    #[test]
    fn two_steps_fused_as_two_kernels() {
        let mut next = crate::test_rng::xorshift(0x2545_f491_4f6c_dd1d);
        let n = 2100usize;
        let k: Vec<i32> = (0..n as i32).map(|i| i % 3).collect();
        // Every 7th row null.
        let valid: Vec<u8> = (0..n.div_ceil(8)).map(|byte| (0..8).filter(|bit| (byte * 8 + bit) % 7 != 3).fold(0u8, |m, bit| m | 1 << bit)).collect();
        let filters = [r#"{"k":"call","op":"lt","t":"bool","n":false,"args":[{"k":"field","i":3,"t":"i32","n":false},{"k":"lit","t":"i32","n":false,"v":2}],"text":"(k < 2)"}"#, "null"];
        let ops = ["add", "sub", "mul", "div"];
        for t in ["i32", "i64", "f64"] {
            let ty = match t {
                "i32" => DataType::I32,
                "i64" => DataType::I64,
                _ => DataType::F64,
            };
            let schema = Schema::new(vec![Field::new("a", ty), Field::new("b", ty), Field::new("d", ty), Field::new("k", DataType::I32)]);
            // Operands: small ones, and the type's edges among them on some rows (null rows too).
            let (edges, consts): (Vec<f64>, Vec<f64>) = match t {
                "i32" => (vec![i32::MIN as f64, i32::MAX as f64, -1.0, 0.0, 1.0], vec![0.0, 1.0, -1.0, 3.0, -7.0, 1000.0, i32::MAX as f64, i32::MIN as f64]),
                "i64" => (vec![-9.0e18, 9.0e18, -1.0, 0.0, 1.0], vec![0.0, 1.0, -1.0, 3.0, -7.0, 60000.0, 4.0e18]),
                _ => (vec![f64::NAN, f64::INFINITY, -0.0, 1e308, -1e-308], vec![0.0, -0.0, 0.908, 1.5, -3.0, f64::NAN, f64::INFINITY]),
            };
            let a: Vec<f64> = (0..n).map(|i| if i % 5 == 1 { edges[i % edges.len()] } else { (next() % 20011) as f64 - 10005.0 }).collect();
            let i64s = |v: &[f64]| -> Vec<i64> { v.iter().map(|&x| if x >= 9.0e18 { i64::MAX } else if x <= -9.0e18 { i64::MIN } else { x as i64 }).collect() };
            let i32s = |v: &[f64]| -> Vec<i32> { v.iter().map(|&x| x as i32).collect() };
            let lit = |c: f64| match t {
                "i32" => format!(r#"{{"k":"lit","t":"i32","n":false,"v":{}}}"#, c as i32),
                "i64" => format!(r#"{{"k":"lit","t":"i64","n":false,"v":"{}"}}"#, i64s(&[c])[0]),
                // As the planner writes the constants JSON has no numbers for.
                _ if c.is_nan() => r#"{"k":"lit","t":"f64","n":false,"v":"NaN"}"#.to_string(),
                _ if c.is_infinite() => r#"{"k":"lit","t":"f64","n":false,"v":"Infinity"}"#.to_string(),
                _ => format!(r#"{{"k":"lit","t":"f64","n":false,"v":{c:?}}}"#),
            };
            let field = |i: usize, nullable: bool| format!(r#"{{"k":"field","i":{i},"t":"{t}","n":{nullable}}}"#);
            let call = |op: &str, l: &str, r: &str, text: &str| format!(r#"{{"k":"call","op":"{op}","t":"{t}","n":true,"args":[{l},{r}],"text":"{text}"}}"#);
            for &op1 in &ops {
                for &op2 in &ops {
                    if t != "f64" && (op1 == "div" || op2 == "div") {
                        continue;
                    }
                    for left1 in [false, true] {
                        for left2 in [false, true] {
                            for _ in 0..3 {
                                let (c1, c2) = (consts[next() as usize % consts.len()], consts[next() as usize % consts.len()]);
                                let side = |left: bool, x: &str, c: &str| if left { (c.to_string(), x.to_string()) } else { (x.to_string(), c.to_string()) };
                                let build = |c1s: &str, c2s: &str| {
                                    let (l1, r1) = side(left1, &field(0, true), c1s);
                                    let inner = call(op1, &l1, &r1, "(a op1 c1)");
                                    let (l2, r2) = side(left2, &inner, c2s);
                                    call(op2, &l2, &r2, "((a op1 c1) op2 c2)")
                                };
                                let fused = build(&lit(c1), &lit(c2));
                                let kernels = build(&field(1, false), &field(2, false));
                                for filter in filters {
                                    let calc = |e: &str| Calc::new(&schema, &format!(r#"{{"name":"Calc(test)","filter":{filter},"columns":[{{"name":"m","expr":{e}}}]}}"#)).expect("spec");
                                    let run = |calc: &Calc| {
                                        let (av, bv, dv) = (a.clone(), vec![c1; n], vec![c2; n]);
                                        let (a64, b64, d64) = (i64s(&av), i64s(&bv), i64s(&dv));
                                        let (a32, b32, d32) = (i32s(&av), i32s(&bv), i32s(&dv));
                                        let cols = match t {
                                            "i32" => [ValuesRef::I32(&a32), ValuesRef::I32(&b32), ValuesRef::I32(&d32)],
                                            "i64" => [ValuesRef::I64(&a64), ValuesRef::I64(&b64), ValuesRef::I64(&d64)],
                                            _ => [ValuesRef::F64(&av), ValuesRef::F64(&bv), ValuesRef::F64(&dv)],
                                        };
                                        let batch = batch(&schema, cols, &valid, &k);
                                        calc.process(&batch)
                                            .map(|o| {
                                                let c = o.computed.columns.into_iter().next().expect("one column");
                                                // f64 by bits (NaN payloads, -0).
                                                let bits = match &c.data {
                                                    ColumnData::F64(v) => v.iter().map(|x| x.to_bits() as i64).collect(),
                                                    ColumnData::I64(v) => v.clone(),
                                                    ColumnData::I32(v) => v.iter().map(|&x| x as i64).collect(),
                                                    other => panic!("{other:?}"),
                                                };
                                                (bits, c.validity)
                                            })
                                            .map_err(|e| e.to_string())
                                    };
                                    let (got, want) = (run(&calc(&fused)), run(&calc(&kernels)));
                                    assert_eq!(got, want, "{t}: (a {op1} {c1}) {op2} {c2}, constants left {left1} {left2}, filter {filter}");
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `(a / c1) op c2` and `(a % c1) op c2`, the constant on either side of the comparison, as a
    /// computed column and as the filter: the same as with the constants in columns `b` and `d`
    /// (the kernels of two columns), with nulls, operands beyond 2^51 and 2^53 in some batches
    /// (the other forms of the division), and a filter leaving gaps.
    #[test]
    fn a_quotient_compared_as_by_two_kernels() {
        let n = 1500usize;
        let valid: Vec<u8> = (0..n.div_ceil(8)).map(|byte| (0..8).filter(|bit| (byte * 8 + bit) % 7 != 3).fold(0u8, |m, bit| m | 1 << bit)).collect();
        let k: Vec<i32> = (0..n as i32).map(|i| i % 3).collect();
        let small: Vec<i64> = (0..n as i64).map(|i| (i * 7919) % 20011 - 10005).collect();
        let wide_ops = |edge: i64| -> Vec<i64> { small.iter().enumerate().map(|(i, &v)| if i % 97 == 5 { edge - i as i64 } else { v }).collect() };
        let batches = [small.clone(), wide_ops(1 << 52), wide_ops(i64::MAX), wide_ops(i64::MIN + 10_000)];
        for t in ["i64", "i32"] {
            let ty = if t == "i64" { DataType::I64 } else { DataType::I32 };
            let schema = Schema::new(vec![Field::new("a", ty), Field::new("b", ty), Field::new("d", ty), Field::new("k", DataType::I32)]);
            let lit = |c: i64| if t == "i64" { format!(r#"{{"k":"lit","t":"i64","n":false,"v":"{c}"}}"#) } else { format!(r#"{{"k":"lit","t":"i32","n":false,"v":{c}}}"#) };
            let field = |i: usize, nullable: bool| format!(r#"{{"k":"field","i":{i},"t":"{t}","n":{nullable}}}"#);
            for div in ["div", "mod"] {
                for c1 in [1i64, 2, 10, 123, -7, 1000] {
                    for c2 in [0i64, 1, 5, -3] {
                        for cmp in ["eq", "ne", "lt", "le", "gt", "ge"] {
                            for left in [false, true] {
                                let build = |c1s: &str, c2s: &str| {
                                    let q = format!(r#"{{"k":"call","op":"{div}","t":"{t}","n":true,"args":[{},{c1s}],"text":"(a {div} c1)"}}"#, field(0, true));
                                    let (l, r) = if left { (c2s.to_string(), q) } else { (q, c2s.to_string()) };
                                    format!(r#"{{"k":"call","op":"{cmp}","t":"bool","n":true,"args":[{l},{r}],"text":"(q {cmp} c2)"}}"#)
                                };
                                let (fused, kernels) = (build(&lit(c1), &lit(c2)), build(&field(1, false), &field(2, false)));
                                let gaps = r#"{"k":"call","op":"lt","t":"bool","n":false,"args":[{"k":"field","i":3,"t":"i32","n":false},{"k":"lit","t":"i32","n":false,"v":2}],"text":"(k < 2)"}"#;
                                // As a column (with and without a filter leaving gaps), and as the filter.
                                let specs = |e: &str| {
                                    [
                                        format!(r#"{{"name":"Calc(test)","filter":{gaps},"columns":[{{"name":"m","expr":{e}}}]}}"#),
                                        format!(r#"{{"name":"Calc(test)","columns":[{{"name":"m","expr":{e}}}]}}"#),
                                        format!(r#"{{"name":"Calc(test)","filter":{e},"columns":[{{"name":"k1","expr":{{"k":"call","op":"add","t":"i32","n":false,"args":[{{"k":"field","i":3,"t":"i32","n":false}},{{"k":"lit","t":"i32","n":false,"v":1}}],"text":"(k + 1)"}}}}]}}"#),
                                    ]
                                };
                                for (f, c) in specs(&fused).iter().zip(specs(&kernels)) {
                                    for a in &batches {
                                        let (b, d) = (vec![c1; n], vec![c2; n]);
                                        let (a32, b32, d32): (Vec<i32>, Vec<i32>, Vec<i32>) = (a.iter().map(|&v| v as i32).collect(), vec![c1 as i32; n], vec![c2 as i32; n]);
                                        let run = |spec: &str| {
                                            let calc = Calc::new(&schema, spec).expect("spec");
                                            let cols = if t == "i64" { [ValuesRef::I64(a), ValuesRef::I64(&b), ValuesRef::I64(&d)] } else { [ValuesRef::I32(&a32), ValuesRef::I32(&b32), ValuesRef::I32(&d32)] };
                                            let batch = batch(&schema, cols, &valid, &k);
                                            calc.process(&batch).map(|o| (o.computed.columns, o.selection)).map_err(|e| e.to_string())
                                        };
                                        assert_eq!(run(f), run(&c), "{t}: (a {div} {c1}) {cmp} {c2}, constant left {left}: {f}");
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
