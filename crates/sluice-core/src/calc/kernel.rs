//! A calc expression compiled into a tree of kernels, once per operator. Each kernel runs over
//! a whole selection of rows with one loop specialised for its operand types, so a batch costs
//! one dispatch per node, not one per row. Lazy operators (AND, OR, IF, COALESCE) run their
//! later operands over the sub-selection of rows that need them.

use std::borrow::Cow;
use std::cell::RefCell;
use std::cmp::Ordering;
use std::sync::Arc;

use super::int_const::{self, Int};
use super::rules::{self, Like};
use super::spec::{Expr, Lit};
use super::vector::{and_valid, merge, take_str, valid_or_none, Prim, StrVec, Vals, Vector};
use crate::batch::{bit_get, BatchRef, DataType, ValuesRef};
use crate::error::{Error, Result};
use crate::wide::{wide, Any, Gather, Map, ZipMap};

/// One batch being computed: its columns and the first error by row.
pub struct Ctx<'a> {
    pub batch: &'a BatchRef<'a>,
    err: RefCell<Option<(usize, Error)>>,
}

impl<'a> Ctx<'a> {
    pub fn new(batch: &'a BatchRef<'a>) -> Ctx<'a> {
        Ctx { batch, err: RefCell::new(None) }
    }

    /// Records an error at `row` unless one at an earlier row (or earlier at this row) is known.
    #[cold]
    pub fn fail(&self, row: u32, e: impl FnOnce() -> Error) {
        let mut cur = self.err.borrow_mut();
        if cur.as_ref().is_none_or(|(r, _)| (row as usize) < *r) {
            *cur = Some((row as usize, e()));
        }
    }

    pub fn take_error(&self) -> Option<Error> {
        self.err.borrow_mut().take().map(|(_, e)| e)
    }
}

pub type Kernel = Box<dyn Fn(&Ctx<'_>, &[u32]) -> Vector + Send + Sync>;

/// Names the operator and the expression in errors.
#[derive(Clone)]
pub(super) struct Site {
    pub(super) name: Arc<str>,
    pub(super) text: Arc<str>,
}

fn cfg(what: String) -> Error {
    Error::config(format!("calc spec: {what}"))
}

pub fn compile(e: &Expr, name: &Arc<str>) -> Result<Kernel> {
    match e {
        Expr::Field { i, .. } => Ok(field(*i)),
        Expr::Lit { t, v } => Ok(literal(*t, v.clone())),
        Expr::Call { op, t, args, text, s, esc, .. } => {
            if let Some(k) = super::chain::compile(e, name)? {
                return Ok(k);
            }
            let site = Site { name: name.clone(), text: Arc::from(text.as_str()) };
            let ks = args.iter().map(|a| compile(a, name)).collect::<Result<Vec<_>>>()?;
            let at = args.first().map(Expr::ty);
            call(op, *t, at, args, ks, site, s.as_deref(), *esc)
        }
    }
}

fn field(i: usize) -> Kernel {
    Box::new(move |ctx, sel| {
        let col = &ctx.batch.columns[i];
        let valid = selected_validity(col.validity, sel);
        let vals = match col.values {
            ValuesRef::I32(v) => Vals::I32(values_at(v, sel).into_owned()),
            ValuesRef::I64(v) | ValuesRef::Timestamp(v) => Vals::I64(values_at(v, sel).into_owned()),
            ValuesRef::F64(v) => Vals::F64(values_at(v, sel).into_owned()),
            ValuesRef::Bool(v) => Vals::Bool(sel.iter().map(|&r| bit_get(v, r as usize)).collect()),
            ValuesRef::Utf8 { offsets, data } => {
                let mut s = StrVec::with_capacity(sel.len(), 0);
                for &r in sel {
                    s.push(&data[offsets[r as usize] as usize..offsets[r as usize + 1] as usize]);
                }
                Vals::Str(s)
            }
        };
        Vector { vals, valid }
    })
}

/// A column's values at the rows of `sel`: the column itself where the rows are a run (a
/// selection ascends, so first and last tell), else gathered.
fn values_at<'v, A: Copy>(vs: &'v [A], sel: &[u32]) -> Cow<'v, [A]> {
    match (sel.first(), sel.last()) {
        (Some(&f), Some(&l)) if f as usize + sel.len() == l as usize + 1 => Cow::Borrowed(&vs[f as usize..=l as usize]),
        _ if sel.is_empty() => Cow::Borrowed(&[]),
        _ => Cow::Owned(wide(Gather { xs: vs, idx: sel })),
    }
}

/// Field `i`'s values at the rows of `sel` (`values_at`) and their validity.
fn field_values<'c, A: FromLit>(ctx: &'c Ctx<'_>, sel: &[u32], i: usize) -> (Cow<'c, [A]>, Option<Vec<bool>>) {
    let col = &ctx.batch.columns[i];
    let vs = A::values(&col.values).expect("calc: a field of the type its spec gives");
    (values_at(vs, sel), selected_validity(col.validity, sel))
}

/// A column's validity at the rows of `sel`; None when none of them is null.
fn selected_validity(validity: Option<&[u8]>, sel: &[u32]) -> Option<Vec<bool>> {
    validity.map(|v| sel.iter().map(|&r| bit_get(v, r as usize)).collect()).and_then(valid_or_none)
}

fn literal(t: DataType, v: Lit) -> Kernel {
    Box::new(move |_ctx, sel| {
        let n = sel.len();
        let null = v == Lit::Null;
        let vals = match (&v, t) {
            (Lit::I32(x), _) => Vals::I32(vec![*x; n]),
            (Lit::I64(x), _) => Vals::I64(vec![*x; n]),
            (Lit::F64(x), _) => Vals::F64(vec![*x; n]),
            (Lit::Bool(x), _) => Vals::Bool(vec![*x; n]),
            (Lit::Str(s), _) => {
                let mut out = StrVec::with_capacity(n, n * s.len());
                for _ in 0..n {
                    out.push(s.as_bytes());
                }
                Vals::Str(out)
            }
            (Lit::Null, DataType::I32) => Vals::I32(vec![0; n]),
            (Lit::Null, DataType::I64 | DataType::Timestamp) => Vals::I64(vec![0; n]),
            (Lit::Null, DataType::F64) => Vals::F64(vec![0.0; n]),
            (Lit::Null, DataType::Bool) => Vals::Bool(vec![false; n]),
            (Lit::Null, DataType::Utf8) => Vals::Str(StrVec { offsets: vec![0; n + 1], data: vec![] }),
        };
        Vector { vals, valid: if null { Some(vec![false; n]) } else { None } }
    })
}

/// A strict unary kernel over plain values: `f(value, row)`; null in, null out.
fn un<A: Prim, R: Prim>(a: Kernel, f: impl Fn(A, u32, &Ctx<'_>) -> R + Send + Sync + 'static) -> Kernel {
    Box::new(move |ctx, sel| {
        let x = a(ctx, sel);
        let xs = A::take(x.vals);
        let out: Vec<R> = match &x.valid {
            None => xs.iter().zip(sel).map(|(&v, &r)| f(v, r, ctx)).collect(),
            Some(ok) => xs.iter().zip(sel).zip(ok).map(|((&v, &r), &ok)| if ok { f(v, r, ctx) } else { R::default() }).collect(),
        };
        Vector { vals: R::wrap(out), valid: x.valid }
    })
}

/// `un` for a result of the operand's type: computed in the operand's vector, without a new one.
fn un_same<A: Prim>(a: Kernel, f: impl Fn(A, u32, &Ctx<'_>) -> A + Send + Sync + 'static) -> Kernel {
    Box::new(move |ctx, sel| {
        let x = a(ctx, sel);
        let mut xs = A::take(x.vals);
        match &x.valid {
            None => xs.iter_mut().zip(sel).for_each(|(v, &r)| *v = f(*v, r, ctx)),
            Some(ok) => xs.iter_mut().zip(sel).zip(ok).for_each(|((v, &r), &ok)| *v = if ok { f(*v, r, ctx) } else { A::default() }),
        }
        Vector { vals: A::wrap(xs), valid: x.valid }
    })
}

/// `bin` for a result of the operands' type: computed in the left operand's vector.
fn bin_same<A: Prim>(a: Kernel, b: Kernel, f: impl Fn(A, A, u32, &Ctx<'_>) -> A + Send + Sync + 'static) -> Kernel {
    Box::new(move |ctx, sel| {
        let x = a(ctx, sel);
        let y = b(ctx, sel);
        let valid = and_valid(x.valid, &y.valid);
        let mut xs = A::take(x.vals);
        let ys = A::take(y.vals);
        match &valid {
            None => xs.iter_mut().zip(&ys).zip(sel).for_each(|((u, &v), &r)| *u = f(*u, v, r, ctx)),
            Some(ok) => (0..sel.len()).for_each(|k| xs[k] = if ok[k] { f(xs[k], ys[k], sel[k], ctx) } else { A::default() }),
        }
        Vector { vals: A::wrap(xs), valid }
    })
}

/// `binop` for a result of the operands' type (arithmetic), in place.
fn binop_same<A: FromLit>(a: Kernel, b: Kernel, args: &[Expr], f: impl Fn(A, A, u32, &Ctx<'_>) -> A + Send + Sync + 'static) -> Kernel {
    if args.iter().any(|e| plain_field::<A>(e).is_some()) && args.iter().any(|e| A::from_lit(e).is_some()) {
        // A field and a constant: the field read in place (`binop`) beats a copy computed in place.
        return binop::<A, A>(a, b, args, f);
    }
    if let Some(c) = A::from_lit(&args[1]) {
        return un_same::<A>(a, move |x, r, ctx| f(x, c, r, ctx));
    }
    if let Some(c) = A::from_lit(&args[0]) {
        return un_same::<A>(b, move |y, r, ctx| f(c, y, r, ctx));
    }
    bin_same::<A>(a, b, f)
}

/// A strict binary kernel over plain values of one type.
fn bin<A: Prim, R: Prim>(a: Kernel, b: Kernel, f: impl Fn(A, A, u32, &Ctx<'_>) -> R + Send + Sync + 'static) -> Kernel {
    Box::new(move |ctx, sel| {
        let x = a(ctx, sel);
        let y = b(ctx, sel);
        let valid = and_valid(x.valid, &y.valid);
        let xs = A::take(x.vals);
        let ys = A::take(y.vals);
        let out: Vec<R> = match &valid {
            None => xs.iter().zip(&ys).zip(sel).map(|((&u, &v), &r)| f(u, v, r, ctx)).collect(),
            Some(ok) => (0..sel.len()).map(|k| if ok[k] { f(xs[k], ys[k], sel[k], ctx) } else { R::default() }).collect(),
        };
        Vector { vals: R::wrap(out), valid }
    })
}

/// A literal operand's value, so a binary kernel with a constant side runs as a unary loop; and
/// a column's values as a slice of this type, so that loop can read a field in place.
pub(super) trait FromLit: Prim {
    fn from_lit(e: &Expr) -> Option<Self>;
    /// The values of a column of this type (None: not a plain slice of it, as bool bitmaps).
    fn values<'a>(v: &ValuesRef<'a>) -> Option<&'a [Self]>;
}
impl FromLit for i32 {
    fn from_lit(e: &Expr) -> Option<i32> {
        match e {
            Expr::Lit { v: Lit::I32(x), .. } => Some(*x),
            _ => None,
        }
    }
    fn values<'a>(v: &ValuesRef<'a>) -> Option<&'a [i32]> {
        match v {
            ValuesRef::I32(x) => Some(x),
            _ => None,
        }
    }
}
impl FromLit for i64 {
    fn from_lit(e: &Expr) -> Option<i64> {
        match e {
            Expr::Lit { v: Lit::I64(x), .. } => Some(*x),
            _ => None,
        }
    }
    fn values<'a>(v: &ValuesRef<'a>) -> Option<&'a [i64]> {
        match v {
            ValuesRef::I64(x) | ValuesRef::Timestamp(x) => Some(x),
            _ => None,
        }
    }
}
impl FromLit for f64 {
    fn from_lit(e: &Expr) -> Option<f64> {
        match e {
            Expr::Lit { v: Lit::F64(x), .. } => Some(*x),
            _ => None,
        }
    }
    fn values<'a>(v: &ValuesRef<'a>) -> Option<&'a [f64]> {
        match v {
            ValuesRef::F64(x) => Some(x),
            _ => None,
        }
    }
}
impl FromLit for bool {
    fn from_lit(e: &Expr) -> Option<bool> {
        match e {
            Expr::Lit { v: Lit::Bool(x), .. } => Some(*x),
            _ => None,
        }
    }
    fn values<'a>(_: &ValuesRef<'a>) -> Option<&'a [bool]> {
        None
    }
}

/// The column index of `e` when it is a field whose column is a plain slice of `A`, for `un_field`.
pub(super) fn plain_field<A: FromLit>(e: &Expr) -> Option<usize> {
    let Expr::Field { i, t, .. } = *e else { return None };
    let empty = match t {
        DataType::I32 => ValuesRef::I32(&[]),
        DataType::I64 => ValuesRef::I64(&[]),
        DataType::Timestamp => ValuesRef::Timestamp(&[]),
        DataType::F64 => ValuesRef::F64(&[]),
        DataType::Bool | DataType::Utf8 => return None,
    };
    A::values(&empty).map(|_| i)
}

/// `un` over field `i` read in place: the column's values (`field_values`: a run of rows as the
/// column's own slice) go through `f` in the loop that reads them.
fn un_field<A: FromLit, R: Prim>(i: usize, f: impl Fn(A, u32, &Ctx<'_>) -> R + Send + Sync + 'static) -> Kernel {
    Box::new(move |ctx, sel| {
        let (xs, valid) = field_values::<A>(ctx, sel, i);
        let out: Vec<R> = match &valid {
            None => xs.iter().zip(sel).map(|(&v, &r)| f(v, r, ctx)).collect(),
            Some(ok) => xs.iter().zip(sel).zip(ok).map(|((&v, &r), &ok)| if ok { f(v, r, ctx) } else { R::default() }).collect(),
        };
        Vector { vals: R::wrap(out), valid }
    })
}

/// A strict binary operator: over two vectors, or, when a side is a literal, one vector and a
/// constant (a field operand then read in place).
fn binop<A: FromLit, R: Prim>(a: Kernel, b: Kernel, args: &[Expr], f: impl Fn(A, A, u32, &Ctx<'_>) -> R + Send + Sync + 'static) -> Kernel {
    if let Some(c) = A::from_lit(&args[1]) {
        let g = move |x, r, ctx: &Ctx<'_>| f(x, c, r, ctx);
        return match plain_field::<A>(&args[0]) {
            Some(i) => un_field::<A, R>(i, g),
            None => un::<A, R>(a, g),
        };
    }
    if let Some(c) = A::from_lit(&args[0]) {
        let g = move |y, r, ctx: &Ctx<'_>| f(c, y, r, ctx);
        return match plain_field::<A>(&args[1]) {
            Some(i) => un_field::<A, R>(i, g),
            None => un::<A, R>(b, g),
        };
    }
    bin::<A, R>(a, b, f)
}

/// A strict binary operator that cannot fail (comparisons, f64 arithmetic): its loops are the
/// `wide` ones, which vectorise for the CPU at hand. A constant side makes it unary, with a
/// field operand read in place.
fn pure<A: FromLit, R: Prim>(a: Kernel, b: Kernel, args: &[Expr], f: impl Fn(A, A) -> R + Copy + Send + Sync + 'static) -> Kernel {
    if let Some(c) = A::from_lit(&args[1]) {
        return pure_un(a, plain_field::<A>(&args[0]), move |x| f(x, c));
    }
    if let Some(c) = A::from_lit(&args[0]) {
        return pure_un(b, plain_field::<A>(&args[1]), move |y| f(c, y));
    }
    Box::new(move |ctx, sel| {
        let x = a(ctx, sel);
        let y = b(ctx, sel);
        let valid = and_valid(x.valid, &y.valid);
        let (xs, ys) = (A::take(x.vals), A::take(y.vals));
        let out = wide(ZipMap { xs: &xs, ys: &ys, ok: valid.as_deref(), f });
        Vector { vals: R::wrap(out), valid }
    })
}

/// `pure` with one operand: field `field` read in place where given, else `a`'s vector.
pub(super) fn pure_un<A: FromLit, R: Prim>(a: Kernel, field: Option<usize>, g: impl Fn(A) -> R + Copy + Send + Sync + 'static) -> Kernel {
    Box::new(move |ctx, sel| {
        let (xs, valid) = operand::<A>(ctx, sel, field, &a);
        let out = wide(Map { xs: &xs, ok: valid.as_deref(), f: g });
        Vector { vals: R::wrap(out), valid }
    })
}

/// The values of a unary kernel's operand at the rows of `sel`, and their validity: field
/// `field`'s (`field_values`), or `k`'s vector.
pub(super) fn operand<'c, A: FromLit>(ctx: &'c Ctx<'_>, sel: &[u32], field: Option<usize>, k: &Kernel) -> (Cow<'c, [A]>, Option<Vec<bool>>) {
    match field {
        Some(i) => field_values(ctx, sel, i),
        None => {
            let x = k(ctx, sel);
            (Cow::Owned(A::take(x.vals)), x.valid)
        }
    }
}

/// A strict kernel from strings to strings (`f` appends the result).
fn str_map(a: Kernel, f: impl Fn(&str, u32, &Ctx<'_>, &mut StrVec) + Send + Sync + 'static) -> Kernel {
    Box::new(move |ctx, sel| {
        let x = a(ctx, sel);
        let s = take_str(x.vals);
        let mut out = StrVec::with_capacity(sel.len(), s.data.len());
        for k in 0..sel.len() {
            if x.valid.as_ref().is_none_or(|v| v[k]) {
                f(&s.str(k), sel[k], ctx, &mut out);
            } else {
                out.push(&[]);
            }
        }
        Vector { vals: Vals::Str(out), valid: x.valid }
    })
}

/// A strict kernel from strings to plain values.
fn str_to<R: Prim>(a: Kernel, f: impl Fn(&str, u32, &Ctx<'_>) -> R + Send + Sync + 'static) -> Kernel {
    Box::new(move |ctx, sel| {
        let x = a(ctx, sel);
        let s = take_str(x.vals);
        let out: Vec<R> = (0..sel.len()).map(|k| if x.valid.as_ref().is_none_or(|v| v[k]) { f(&s.str(k), sel[k], ctx) } else { R::default() }).collect();
        Vector { vals: R::wrap(out), valid: x.valid }
    })
}

/// A strict kernel from plain values to strings.
fn to_str<A: Prim>(a: Kernel, f: impl Fn(A, u32, &Ctx<'_>) -> String + Send + Sync + 'static) -> Kernel {
    Box::new(move |ctx, sel| {
        let x = a(ctx, sel);
        let xs = A::take(x.vals);
        let mut out = StrVec::with_capacity(sel.len(), sel.len() * 8);
        for k in 0..sel.len() {
            if x.valid.as_ref().is_none_or(|v| v[k]) {
                out.push(f(xs[k], sel[k], ctx).as_bytes());
            } else {
                out.push(&[]);
            }
        }
        Vector { vals: Vals::Str(out), valid: x.valid }
    })
}

/// Integer `op` with a constant operand through the vectorising kernels of `int_const`; the
/// operands back (Err) when they do not apply.
#[allow(clippy::type_complexity)]
fn int_const<A: Int>(op: &str, a: Kernel, b: Kernel, args: &[Expr], site: Site) -> std::result::Result<Kernel, (Kernel, Kernel, Site)> {
    let right = A::from_lit(&args[1]);
    let (fa, fb) = (plain_field::<A>(&args[0]), plain_field::<A>(&args[1]));
    match (op, right, A::from_lit(&args[0])) {
        ("add" | "sub" | "mul", Some(c), _) => Ok(int_const::arith(op, a, fa, c, site)),
        ("add" | "mul", None, Some(c)) => Ok(int_const::arith(op, b, fb, c, site)),
        ("div", Some(c), _) if int_const::divides(c, false) => Ok(int_const::div::<A, false>(a, fa, c)),
        ("mod", Some(c), _) if int_const::divides(c, true) => Ok(int_const::div::<A, true>(a, fa, c)),
        _ => Err((a, b, site)),
    }
}

macro_rules! int_arith {
    ($t:ty, $ty_name:expr, $op:ident, $a:expr, $b:expr, $args:expr, $site:expr) => {{
        let site = $site;
        binop_same::<$t>($a, $b, $args, move |x, y, r, ctx| match x.$op(y) {
            Some(v) => v,
            None => {
                ctx.fail(r, || rules::overflow(&site.name, &site.text, r as usize, $ty_name));
                0
            }
        })
    }};
}

macro_rules! int_div {
    ($t:ty, $ty_name:expr, $a:expr, $b:expr, $args:expr, $site:expr, $rem:expr) => {{
        let site = $site;
        binop_same::<$t>($a, $b, $args, move |x, y, r, ctx| {
            if y == 0 {
                ctx.fail(r, || rules::div_by_zero(&site.name, &site.text, r as usize));
                return 0;
            }
            if $rem {
                return x.wrapping_rem(y);
            }
            match x.checked_div(y) {
                Some(v) => v,
                None => {
                    ctx.fail(r, || rules::overflow(&site.name, &site.text, r as usize, $ty_name));
                    0
                }
            }
        })
    }};
}

/// Integer `op`: the constant-operand kernels of `int_const` where they apply, else the checked ones.
macro_rules! int_ops {
    ($t:ty, $ty_name:expr, $op:expr, $a:expr, $b:expr, $args:expr, $site:expr) => {
        match int_const::<$t>($op, $a, $b, $args, $site) {
            Ok(k) => k,
            Err((a, b, site)) => match $op {
                "add" => int_arith!($t, $ty_name, checked_add, a, b, $args, site),
                "sub" => int_arith!($t, $ty_name, checked_sub, a, b, $args, site),
                "mul" => int_arith!($t, $ty_name, checked_mul, a, b, $args, site),
                "div" => int_div!($t, $ty_name, a, b, $args, site, false),
                _ => int_div!($t, $ty_name, a, b, $args, site, true),
            },
        }
    };
}

macro_rules! compare {
    ($t:ty, $op:expr, $a:expr, $b:expr, $args:expr) => {{
        let op: &str = $op;
        match op {
            "eq" => pure::<$t, bool>($a, $b, $args, |x, y| x == y),
            "ne" => pure::<$t, bool>($a, $b, $args, |x, y| x != y),
            "lt" => pure::<$t, bool>($a, $b, $args, |x, y| x < y),
            "le" => pure::<$t, bool>($a, $b, $args, |x, y| x <= y),
            "gt" => pure::<$t, bool>($a, $b, $args, |x, y| x > y),
            _ => pure::<$t, bool>($a, $b, $args, |x, y| x >= y),
        }
    }};
}

fn str_compare(op: &str, a: Kernel, b: Kernel) -> Kernel {
    let pred: fn(Ordering) -> bool = match op {
        "eq" => |o| o == Ordering::Equal,
        "ne" => |o| o != Ordering::Equal,
        "lt" => |o| o == Ordering::Less,
        "le" => |o| o != Ordering::Greater,
        "gt" => |o| o == Ordering::Greater,
        _ => |o| o != Ordering::Less,
    };
    Box::new(move |ctx, sel| {
        let x = a(ctx, sel);
        let y = b(ctx, sel);
        let valid = and_valid(x.valid, &y.valid);
        let (xs, ys) = (take_str(x.vals), take_str(y.vals));
        // UTF-8 byte order is code point order.
        let out = (0..sel.len()).map(|k| valid.as_ref().is_none_or(|v| v[k]) && pred(xs.bytes(k).cmp(ys.bytes(k)))).collect();
        Vector { vals: Vals::Bool(out), valid }
    })
}

fn bools(v: &Vector) -> &[bool] {
    match &v.vals {
        Vals::Bool(b) => b,
        _ => unreachable!("calc: a bool operand was planned"),
    }
}

/// AND / OR with SQL's three-valued logic; the right side runs only where the left does not decide.
fn and_or(is_and: bool, a: Kernel, b: Kernel) -> Kernel {
    Box::new(move |ctx, sel| {
        let l = a(ctx, sel);
        let lv = bools(&l);
        let decides = !is_and; // false decides an AND, true an OR
        let mut sub = Vec::new();
        let mut pos = Vec::new();
        for k in 0..sel.len() {
            if !(l.is_valid(k) && lv[k] == decides) {
                sub.push(sel[k]);
                pos.push(k);
            }
        }
        let mut out = vec![decides; sel.len()];
        let mut valid = vec![true; sel.len()];
        if !sub.is_empty() {
            let r = b(ctx, &sub);
            let rv = bools(&r);
            for (j, &k) in pos.iter().enumerate() {
                if r.is_valid(j) && rv[j] == decides {
                    out[k] = decides;
                } else if !l.is_valid(k) || !r.is_valid(j) {
                    valid[k] = false;
                    out[k] = false;
                } else {
                    out[k] = is_and;
                }
            }
        }
        Vector { vals: Vals::Bool(out), valid: valid_or_none(valid) }
    })
}

fn if_then_else(t: DataType, c: Kernel, th: Kernel, el: Kernel) -> Kernel {
    Box::new(move |ctx, sel| {
        let cond = c(ctx, sel);
        let cv = bools(&cond);
        let (mut ts, mut es) = (Vec::new(), Vec::new());
        let mut src = Vec::with_capacity(sel.len());
        for k in 0..sel.len() {
            if cond.is_valid(k) && cv[k] {
                src.push(Some((0, ts.len())));
                ts.push(sel[k]);
            } else {
                src.push(Some((1, es.len())));
                es.push(sel[k]);
            }
        }
        let parts = [th(ctx, &ts), el(ctx, &es)];
        merge(t, &src, &parts)
    })
}

fn coalesce(t: DataType, ks: Vec<Kernel>) -> Kernel {
    Box::new(move |ctx, sel| {
        let mut src: Vec<Option<(usize, usize)>> = vec![None; sel.len()];
        let mut rest: Vec<usize> = (0..sel.len()).collect();
        let mut parts = Vec::with_capacity(ks.len());
        for (p, k) in ks.iter().enumerate() {
            if rest.is_empty() {
                break;
            }
            let rows: Vec<u32> = rest.iter().map(|&k| sel[k]).collect();
            let v = k(ctx, &rows);
            let mut next = Vec::new();
            for (j, &pos) in rest.iter().enumerate() {
                if v.is_valid(j) {
                    src[pos] = Some((p, j));
                } else {
                    next.push(pos);
                }
            }
            parts.push(v);
            rest = next;
        }
        merge(t, &src, &parts)
    })
}

fn in_list(ks: Vec<Kernel>) -> Kernel {
    Box::new(move |ctx, sel| {
        let vs: Vec<Vector> = ks.iter().map(|k| k(ctx, sel)).collect();
        let (x, cands) = vs.split_first().expect("IN has a value");
        let mut out = vec![false; sel.len()];
        let mut valid = vec![true; sel.len()];
        for k in 0..sel.len() {
            if !x.is_valid(k) {
                valid[k] = false;
                continue;
            }
            let mut any_null = false;
            for c in cands {
                if !c.is_valid(k) {
                    any_null = true;
                } else if x.vals.eq_at(k, &c.vals, k) {
                    out[k] = true;
                    break;
                }
            }
            if !out[k] && any_null {
                valid[k] = false;
            }
        }
        Vector { vals: Vals::Bool(out), valid: valid_or_none(valid) }
    })
}

/// 2^63 as f64 (exact).
const I64_EDGE: f64 = 9_223_372_036_854_775_808.0;

fn ts_checked(site: &Site, ms: i64, r: u32, ctx: &Ctx<'_>) -> bool {
    if (-rules::TS_LIMIT..=rules::TS_LIMIT).contains(&ms) {
        return true;
    }
    ctx.fail(r, || rules::ts_range_error(&site.name, &site.text, r as usize));
    false
}

/// i64 -> f64 (`CAST`, and an i64 operand of f64 arithmetic such as `0.908 * price`), in a loop
/// for the widest vectors: where every value is below 2^51 by `Int::to_f64_short`, which
/// vectorises on AVX2 (whose `as` stays scalar), else by `as`.
fn i64_to_f64(a: Kernel) -> Kernel {
    Box::new(move |ctx, sel| {
        let x = a(ctx, sel);
        let xs = i64::take(x.vals);
        let ok = x.valid.as_deref();
        let out = if wide(Any { xs: &xs, ok, p: |v: i64| !v.short() }) {
            wide(Map { xs: &xs, ok, f: |v: i64| v as f64 })
        } else {
            wide(Map { xs: &xs, ok, f: |v: i64| v.to_f64_short() })
        };
        Vector { vals: f64::wrap(out), valid: x.valid }
    })
}

fn cast(from: DataType, to: DataType, a: Kernel, site: Site) -> Result<Kernel> {
    use DataType::*;
    let is64 = |t: DataType| matches!(t, I64 | Timestamp);
    if from == to || (is64(from) && is64(to)) {
        return Ok(a);
    }
    let s = site;
    Ok(match (from, to) {
        (I32, t) if is64(t) => un::<i32, i64>(a, |x, _, _| x as i64),
        (I32, F64) => un::<i32, f64>(a, |x, _, _| x as f64),
        (I32, Bool) => un::<i32, bool>(a, |x, _, _| x != 0),
        (f, I32) if is64(f) => un::<i64, i32>(a, move |x, r, ctx| {
            i32::try_from(x).unwrap_or_else(|_| {
                ctx.fail(r, || rules::cast_range(&s.name, &s.text, r as usize, &x.to_string(), "i32"));
                0
            })
        }),
        (f, F64) if is64(f) => i64_to_f64(a),
        (f, Bool) if is64(f) => un::<i64, bool>(a, |x, _, _| x != 0),
        (F64, I32) => un::<f64, i32>(a, move |x, r, ctx| {
            let t = x.trunc();
            if (-2147483648.0..=2147483647.0).contains(&t) {
                t as i32
            } else {
                ctx.fail(r, || rules::cast_range(&s.name, &s.text, r as usize, &crate::text::js_number(x), "i32"));
                0
            }
        }),
        (F64, t) if is64(t) => un::<f64, i64>(a, move |x, r, ctx| {
            // ±2^63: i64's range (2^63 itself is out).
            if (-I64_EDGE..I64_EDGE).contains(&x) {
                x.trunc() as i64
            } else {
                ctx.fail(r, || rules::cast_range(&s.name, &s.text, r as usize, &crate::text::js_number(x), t.name()));
                0
            }
        }),
        (F64, Bool) => un::<f64, bool>(a, |x, _, _| x != 0.0),
        (Bool, I32) => un::<bool, i32>(a, |x, _, _| x as i32),
        (Bool, t) if is64(t) => un::<bool, i64>(a, |x, _, _| x as i64),
        (Bool, F64) => un::<bool, f64>(a, |x, _, _| if x { 1.0 } else { 0.0 }),
        (Utf8, I32) => str_to::<i32>(a, move |x, r, ctx| match rules::parse_int_text(x) {
            Ok(v) if i32::try_from(v).is_ok() => v as i32,
            Ok(v) => {
                ctx.fail(r, || rules::cast_range(&s.name, &s.text, r as usize, &v.to_string(), "i32"));
                0
            }
            Err(Some(t)) => {
                ctx.fail(r, || rules::cast_range(&s.name, &s.text, r as usize, &t, "i32"));
                0
            }
            Err(None) => {
                ctx.fail(r, || rules::cast_text(&s.name, &s.text, r as usize, x, "i32"));
                0
            }
        }),
        (Utf8, t) if is64(t) => str_to::<i64>(a, move |x, r, ctx| match rules::parse_int_text(x) {
            Ok(v) => v,
            Err(Some(txt)) => {
                ctx.fail(r, || rules::cast_range(&s.name, &s.text, r as usize, &txt, t.name()));
                0
            }
            Err(None) => {
                ctx.fail(r, || rules::cast_text(&s.name, &s.text, r as usize, x, t.name()));
                0
            }
        }),
        (Utf8, F64) => str_to::<f64>(a, move |x, r, ctx| {
            rules::parse_f64_text(x).unwrap_or_else(|| {
                ctx.fail(r, || rules::cast_text(&s.name, &s.text, r as usize, x, "f64"));
                0.0
            })
        }),
        (Utf8, Bool) => str_to::<bool>(a, move |x, r, ctx| {
            rules::parse_bool_text(x).unwrap_or_else(|| {
                ctx.fail(r, || rules::cast_text(&s.name, &s.text, r as usize, x, "bool"));
                false
            })
        }),
        (I32, Utf8) => to_str::<i32>(a, |x, _, _| x.to_string()),
        (I64, Utf8) => to_str::<i64>(a, |x, _, _| x.to_string()),
        (Timestamp, Utf8) => to_str::<i64>(a, move |x, r, ctx| if ts_checked(&s, x, r, ctx) { rules::timestamp_text(x) } else { String::new() }),
        (F64, Utf8) => to_str::<f64>(a, |x, _, _| crate::text::js_number(x)),
        (Bool, Utf8) => to_str::<bool>(a, |x, _, _| if x { "TRUE".into() } else { "FALSE".into() }),
        (f, t) => return Err(cfg(format!("{}: no cast from {f} to {t}", s.text))),
    })
}

#[allow(clippy::too_many_arguments)]
fn call(op: &str, t: DataType, at: Option<DataType>, args: &[Expr], mut ks: Vec<Kernel>, site: Site, s: Option<&str>, esc: Option<char>) -> Result<Kernel> {
    use DataType::*;
    let arity = |n: usize| -> Result<()> {
        if ks.len() == n {
            Ok(())
        } else {
            Err(cfg(format!("{}: '{op}' takes {n} operands, got {}", site.text, ks.len())))
        }
    };
    let is_int64 = |t: DataType| matches!(t, I64 | Timestamp);
    match op {
        "add" | "sub" | "mul" | "div" | "mod" => {
            arity(2)?;
            let b = ks.pop().unwrap();
            let a = ks.pop().unwrap();
            Ok(match (op, t) {
                ("add", F64) => pure::<f64, f64>(a, b, args, |x, y| x + y),
                ("sub", F64) => pure::<f64, f64>(a, b, args, |x, y| x - y),
                ("mul", F64) => pure::<f64, f64>(a, b, args, |x, y| x * y),
                ("div", F64) => pure::<f64, f64>(a, b, args, |x, y| x / y),
                ("mod", F64) => pure::<f64, f64>(a, b, args, |x, y| x % y),
                (op, I32) => int_ops!(i32, "i32", op, a, b, args, site),
                (op, t) if is_int64(t) => int_ops!(i64, "i64", op, a, b, args, site),
                _ => return Err(cfg(format!("{}: '{op}' over {t}", site.text))),
            })
        }
        "neg" | "abs" => {
            arity(1)?;
            let a = ks.pop().unwrap();
            let neg = op == "neg";
            Ok(match t {
                F64 => un_same::<f64>(a, move |x, _, _| if neg { -x } else { x.abs() }),
                I32 => un_same::<i32>(a, move |x, r, ctx| {
                    (if neg { x.checked_neg() } else { x.checked_abs() }).unwrap_or_else(|| {
                        ctx.fail(r, || rules::overflow(&site.name, &site.text, r as usize, "i32"));
                        0
                    })
                }),
                t if is_int64(t) => un_same::<i64>(a, move |x, r, ctx| {
                    (if neg { x.checked_neg() } else { x.checked_abs() }).unwrap_or_else(|| {
                        ctx.fail(r, || rules::overflow(&site.name, &site.text, r as usize, "i64"));
                        0
                    })
                }),
                _ => return Err(cfg(format!("{}: '{op}' over {t}", site.text))),
            })
        }
        "floor" | "ceil" | "round" => {
            let a = ks.swap_remove(0);
            if t != F64 {
                return Ok(a);
            }
            Ok(match op {
                "floor" => un_same::<f64>(a, |x, _, _| x.floor()),
                "ceil" => un_same::<f64>(a, |x, _, _| x.ceil()),
                _ => {
                    let d = match args.get(1) {
                        None => 0,
                        Some(Expr::Lit { v: Lit::I32(d), .. }) => *d,
                        Some(_) => return Err(cfg(format!("{}: ROUND's digits must be an i32 literal", site.text))),
                    };
                    un_same::<f64>(a, move |x, _, _| rules::round_f64(x, d))
                }
            })
        }
        "eq" | "ne" | "lt" | "le" | "gt" | "ge" => {
            arity(2)?;
            let b = ks.pop().unwrap();
            let a = ks.pop().unwrap();
            Ok(match at.unwrap() {
                I32 => compare!(i32, op, a, b, args),
                I64 | Timestamp => compare!(i64, op, a, b, args),
                F64 => compare!(f64, op, a, b, args),
                Bool => compare!(bool, op, a, b, args),
                Utf8 => str_compare(op, a, b),
            })
        }
        "not" => {
            arity(1)?;
            Ok(un_same::<bool>(ks.pop().unwrap(), |x, _, _| !x))
        }
        "isNull" | "isNotNull" => {
            arity(1)?;
            let a = ks.pop().unwrap();
            let want_null = op == "isNull";
            Ok(Box::new(move |ctx, sel| {
                let x = a(ctx, sel);
                let out = (0..sel.len()).map(|k| x.is_valid(k) != want_null).collect();
                Vector { vals: Vals::Bool(out), valid: None }
            }))
        }
        "and" | "or" => {
            arity(2)?;
            let b = ks.pop().unwrap();
            let a = ks.pop().unwrap();
            Ok(and_or(op == "and", a, b))
        }
        "if" => {
            arity(3)?;
            let el = ks.pop().unwrap();
            let th = ks.pop().unwrap();
            let c = ks.pop().unwrap();
            Ok(if_then_else(t, c, th, el))
        }
        "coalesce" => Ok(coalesce(t, ks)),
        "in" => Ok(in_list(ks)),
        "like" => {
            arity(1)?;
            let like = Like::new(s.ok_or_else(|| cfg(format!("{}: LIKE needs a pattern", site.text)))?, esc);
            Ok(str_to::<bool>(ks.pop().unwrap(), move |x, _, _| like.matches(x)))
        }
        "upper" => Ok(str_map(ks.pop().unwrap(), |x, _, _, out| out.push(x.to_uppercase().as_bytes()))),
        "lower" => Ok(str_map(ks.pop().unwrap(), |x, _, _, out| out.push(x.to_lowercase().as_bytes()))),
        "trim" => Ok(str_map(ks.pop().unwrap(), |x, _, _, out| out.push(rules::trim(x).as_bytes()))),
        "charLength" => Ok(str_to::<i32>(ks.pop().unwrap(), |x, _, _| rules::char_length(x))),
        "concat" => Ok(Box::new(move |ctx, sel| {
            let vs: Vec<Vector> = ks.iter().map(|k| k(ctx, sel)).collect();
            let mut valid = None;
            for v in &vs {
                valid = and_valid(valid, &v.valid);
            }
            let strs: Vec<StrVec> = vs.into_iter().map(|v| take_str(v.vals)).collect();
            let mut out = StrVec::with_capacity(sel.len(), strs.iter().map(|s| s.data.len()).sum());
            for k in 0..sel.len() {
                if valid.as_ref().is_none_or(|v: &Vec<bool>| v[k]) {
                    for s in &strs {
                        out.data.extend_from_slice(s.bytes(k));
                    }
                }
                out.offsets.push(out.data.len() as u32);
            }
            Vector { vals: Vals::Str(out), valid }
        })),
        "substring" => {
            if ks.len() != 2 && ks.len() != 3 {
                return Err(cfg(format!("{}: SUBSTRING takes 2 or 3 operands", site.text)));
            }
            Ok(Box::new(move |ctx, sel| {
                let vs: Vec<Vector> = ks.iter().map(|k| k(ctx, sel)).collect();
                let mut valid = None;
                for v in &vs {
                    valid = and_valid(valid, &v.valid);
                }
                let mut it = vs.into_iter();
                let s = take_str(it.next().unwrap().vals);
                let from = i32::take(it.next().unwrap().vals);
                let len = it.next().map(|v| i32::take(v.vals));
                let mut out = StrVec::with_capacity(sel.len(), s.data.len());
                for k in 0..sel.len() {
                    if valid.as_ref().is_none_or(|v: &Vec<bool>| v[k]) {
                        match rules::substring(&s.str(k), from[k], len.as_ref().map(|l| l[k])) {
                            Ok(r) => out.push(r.as_bytes()),
                            Err(l) => {
                                let r = sel[k];
                                ctx.fail(r, || rules::row_error(true, &site.name, &site.text, r as usize, &format!("the length {l} is negative")));
                                out.push(&[]);
                            }
                        }
                    } else {
                        out.push(&[]);
                    }
                }
                Vector { vals: Vals::Str(out), valid }
            }))
        }
        "extract" => {
            arity(1)?;
            let unit = s.filter(|u| rules::EXTRACT_UNITS.contains(u)).ok_or_else(|| cfg(format!("{}: EXTRACT needs a unit", site.text)))?.to_string();
            Ok(un_same::<i64>(ks.pop().unwrap(), move |x, r, ctx| if ts_checked(&site, x, r, ctx) { rules::extract(&unit, x) } else { 0 }))
        }
        "cast" => {
            arity(1)?;
            cast(at.unwrap(), t, ks.pop().unwrap(), site)
        }
        _ => Err(cfg(format!("{}: unknown operator '{op}'", site.text))),
    }
}
