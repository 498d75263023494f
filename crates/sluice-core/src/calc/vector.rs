//! Intermediate columns of the calc kernels: values dense over a selection of rows (position k
//! is row `sel[k]` of the batch), validity as one bool per position (None: no nulls).

use std::borrow::Cow;

use crate::batch::{bitmap_len, bit_set, Column, ColumnData, DataType};

#[derive(Debug, Clone, Default)]
pub struct StrVec {
    pub offsets: Vec<u32>,
    pub data: Vec<u8>,
}

impl StrVec {
    pub fn with_capacity(n: usize, bytes: usize) -> StrVec {
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0);
        StrVec { offsets, data: Vec::with_capacity(bytes) }
    }

    #[inline]
    pub fn push(&mut self, b: &[u8]) {
        self.data.extend_from_slice(b);
        self.offsets.push(self.data.len() as u32);
    }

    #[inline]
    pub fn bytes(&self, k: usize) -> &[u8] {
        &self.data[self.offsets[k] as usize..self.offsets[k + 1] as usize]
    }

    #[inline]
    pub fn str(&self, k: usize) -> Cow<'_, str> {
        String::from_utf8_lossy(self.bytes(k))
    }

    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, Clone)]
pub enum Vals {
    I32(Vec<i32>),
    I64(Vec<i64>),
    F64(Vec<f64>),
    Bool(Vec<bool>),
    Str(StrVec),
}

#[derive(Debug, Clone)]
pub struct Vector {
    pub vals: Vals,
    pub valid: Option<Vec<bool>>,
}

impl Vector {
    #[inline]
    pub fn is_valid(&self, k: usize) -> bool {
        self.valid.as_ref().is_none_or(|v| v[k])
    }
}

/// The values a kernel loop reads and writes as plain vectors.
pub trait Prim: Copy + Default + PartialEq + PartialOrd + Send + Sync + 'static {
    fn take(v: Vals) -> Vec<Self>;
    fn wrap(v: Vec<Self>) -> Vals;
}

macro_rules! prim {
    ($t:ty, $var:ident) => {
        impl Prim for $t {
            fn take(v: Vals) -> Vec<$t> {
                match v {
                    Vals::$var(x) => x,
                    other => unreachable!("calc: a {} vector where {} was planned", kind(&other), stringify!($t)),
                }
            }
            fn wrap(v: Vec<$t>) -> Vals {
                Vals::$var(v)
            }
        }
    };
}
prim!(i32, I32);
prim!(i64, I64);
prim!(f64, F64);
prim!(bool, Bool);

fn kind(v: &Vals) -> &'static str {
    match v {
        Vals::I32(_) => "i32",
        Vals::I64(_) => "i64",
        Vals::F64(_) => "f64",
        Vals::Bool(_) => "bool",
        Vals::Str(_) => "utf8",
    }
}

pub fn take_str(v: Vals) -> StrVec {
    match v {
        Vals::Str(s) => s,
        other => unreachable!("calc: a {} vector where utf8 was planned", kind(&other)),
    }
}

/// Validity of a strict operator: valid where every operand is.
pub fn and_valid(a: Option<Vec<bool>>, b: &Option<Vec<bool>>) -> Option<Vec<bool>> {
    match (a, b) {
        (None, None) => None,
        (Some(a), None) => Some(a),
        (None, Some(b)) => Some(b.clone()),
        (Some(mut a), Some(b)) => {
            for (x, y) in a.iter_mut().zip(b) {
                *x &= *y;
            }
            Some(a)
        }
    }
}

/// Some(validity) only when some position is null.
pub fn valid_or_none(v: Vec<bool>) -> Option<Vec<bool>> {
    if v.iter().all(|&b| b) {
        None
    } else {
        Some(v)
    }
}

impl Vals {
    /// Positions `k` and `j` of two vectors of one type hold equal values.
    pub fn eq_at(&self, k: usize, other: &Vals, j: usize) -> bool {
        match (self, other) {
            (Vals::I32(a), Vals::I32(b)) => a[k] == b[j],
            (Vals::I64(a), Vals::I64(b)) => a[k] == b[j],
            (Vals::F64(a), Vals::F64(b)) => a[k] == b[j],
            (Vals::Bool(a), Vals::Bool(b)) => a[k] == b[j],
            (Vals::Str(a), Vals::Str(b)) => a.bytes(k) == b.bytes(j),
            _ => unreachable!("calc: IN over values of different types"),
        }
    }
}

/// One vector of type `t` from parts: position k takes `src[k] = (part, position)`, or null.
pub fn merge(t: DataType, src: &[Option<(usize, usize)>], parts: &[Vector]) -> Vector {
    let valid: Vec<bool> = src.iter().map(|s| s.is_some_and(|(p, j)| parts[p].is_valid(j))).collect();
    macro_rules! pick {
        ($var:ident) => {
            Vals::$var(
                src.iter()
                    .map(|s| match s {
                        Some((p, j)) => match &parts[*p].vals {
                            Vals::$var(v) => v[*j],
                            _ => unreachable!(),
                        },
                        None => Default::default(),
                    })
                    .collect(),
            )
        };
    }
    let vals = match t {
        DataType::I32 => pick!(I32),
        DataType::I64 | DataType::Timestamp => pick!(I64),
        DataType::F64 => pick!(F64),
        DataType::Bool => pick!(Bool),
        DataType::Utf8 => {
            let mut out = StrVec::with_capacity(src.len(), 0);
            for s in src {
                match s {
                    Some((p, j)) => match &parts[*p].vals {
                        Vals::Str(v) => out.push(v.bytes(*j)),
                        _ => unreachable!(),
                    },
                    None => out.push(&[]),
                }
            }
            Vals::Str(out)
        }
    };
    Vector { vals, valid: valid_or_none(valid) }
}

fn bitmap(bits: &[bool]) -> Vec<u8> {
    let mut out = vec![0u8; bitmap_len(bits.len())];
    for (i, &b) in bits.iter().enumerate() {
        if b {
            bit_set(&mut out, i, true);
        }
    }
    out
}

impl Vector {
    /// Positions held.
    pub fn len(&self) -> usize {
        match &self.vals {
            Vals::I32(v) => v.len(),
            Vals::I64(v) => v.len(),
            Vals::F64(v) => v.len(),
            Vals::Bool(v) => v.len(),
            Vals::Str(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes this vector into `col` from position `at` on (`col` holds `at` positions): an
    /// output column built chunk by chunk in buffers a previous batch left (see `Calc::recycle`).
    pub fn append_to(self, col: &mut Column, at: usize) {
        let end = at + self.len();
        let nulls = self.valid.as_ref().is_some_and(|v| v.contains(&false));
        if nulls && col.validity.is_none() {
            let mut bits = Vec::with_capacity(bitmap_len(end));
            put_bits(&mut bits, 0, std::iter::repeat_n(true, at), at);
            col.validity = Some(bits);
        }
        if let Some(bits) = &mut col.validity {
            match &self.valid {
                Some(ok) => put_bits(bits, at, ok.iter().copied(), end),
                None => put_bits(bits, at, std::iter::repeat_n(true, end - at), end),
            }
        }
        match (&mut col.data, self.vals) {
            (ColumnData::I32(d), Vals::I32(v)) => d.extend_from_slice(&v),
            (ColumnData::I64(d) | ColumnData::Timestamp(d), Vals::I64(v)) => d.extend_from_slice(&v),
            (ColumnData::F64(d), Vals::F64(v)) => d.extend_from_slice(&v),
            (ColumnData::Bool(d), Vals::Bool(v)) => put_bits(d, at, v.into_iter(), end),
            (ColumnData::Utf8 { offsets, data }, Vals::Str(s)) => {
                let base = data.len() as i32;
                offsets.extend(s.offsets[1..].iter().map(|&o| o as i32 + base));
                data.extend_from_slice(&s.data);
            }
            (_, v) => unreachable!("calc: a {} vector for another column type", kind(&v)),
        }
    }

    /// The output column of type `t`.
    pub fn into_column(self, t: DataType) -> Column {
        let validity = self.valid.as_deref().map(bitmap);
        let data = match (self.vals, t) {
            (Vals::I32(v), _) => ColumnData::I32(v),
            (Vals::I64(v), DataType::Timestamp) => ColumnData::Timestamp(v),
            (Vals::I64(v), _) => ColumnData::I64(v),
            (Vals::F64(v), _) => ColumnData::F64(v),
            (Vals::Bool(v), _) => ColumnData::Bool(bitmap(&v)),
            (Vals::Str(s), _) => ColumnData::Utf8 { offsets: s.offsets.iter().map(|&o| o as i32).collect(), data: s.data },
        };
        Column { data, validity }
    }
}

/// Sets the bits of positions `at..` that are true (`bits` grows to hold `end` positions).
fn put_bits(bits: &mut Vec<u8>, at: usize, vals: impl Iterator<Item = bool>, end: usize) {
    bits.resize(bitmap_len(end), 0);
    for (k, b) in vals.enumerate() {
        if b {
            bit_set(bits, at + k, true);
        }
    }
}

/// An output column of type `t` with no positions, or `col` (of that type) emptied for reuse.
pub fn empty_column(t: DataType, col: Option<Column>, cap: usize) -> Column {
    let mut col = col.unwrap_or_else(|| {
        Column::new(match t {
            DataType::I32 => ColumnData::I32(Vec::new()),
            DataType::I64 => ColumnData::I64(Vec::new()),
            DataType::Timestamp => ColumnData::Timestamp(Vec::new()),
            DataType::F64 => ColumnData::F64(Vec::new()),
            DataType::Bool => ColumnData::Bool(Vec::new()),
            DataType::Utf8 => ColumnData::Utf8 { offsets: Vec::new(), data: Vec::new() },
        })
    });
    col.validity = None;
    match &mut col.data {
        ColumnData::I32(v) => {
            v.clear();
            v.reserve(cap);
        }
        ColumnData::I64(v) | ColumnData::Timestamp(v) => {
            v.clear();
            v.reserve(cap);
        }
        ColumnData::F64(v) => {
            v.clear();
            v.reserve(cap);
        }
        ColumnData::Bool(v) => v.clear(),
        ColumnData::Utf8 { offsets, data } => {
            offsets.clear();
            offsets.reserve(cap + 1);
            offsets.push(0);
            data.clear();
        }
    }
    col
}
