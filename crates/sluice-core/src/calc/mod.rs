//! The calc operator: projection, filter and computed columns fused, over whole batches. A
//! spec (`spec.rs`, written by the planner in `ts/table`) is compiled once into kernels
//! (`kernel.rs`); a batch is one pass per kernel over its columns: the filter first, giving a
//! selection vector, then each computed column over the kept rows only. The TS engine's
//! generated code (`ts/engine/ts/calc.ts`) gives the same rows, nulls and errors.

pub mod kernel;
pub mod rules;
pub mod spec;
pub mod vector;

use std::sync::Arc;

use crate::batch::{bit_get, BatchRef, Column, ColumnData, DataType, Field, RecordBatch, Schema, SchemaRef, ValuesRef};
use crate::error::Result;
use kernel::{compile, Ctx, Kernel};
use spec::{CalcSpec, Expr};

enum Out {
    /// An input field unchanged.
    Pass(usize),
    Compute(Kernel, DataType),
}

pub struct Calc {
    output: SchemaRef,
    filter: Option<Kernel>,
    columns: Vec<Out>,
}

impl Calc {
    pub fn new(input: &Schema, spec_json: &str) -> Result<Calc> {
        let spec = CalcSpec::from_json(spec_json, input)?;
        let name: Arc<str> = Arc::from(spec.name.as_str());
        let filter = spec.filter.as_ref().map(|f| compile(f, &name)).transpose()?;
        let mut fields = Vec::with_capacity(spec.columns.len());
        let mut columns = Vec::with_capacity(spec.columns.len());
        for (n, e) in &spec.columns {
            fields.push(Field::new(n.clone(), e.ty()));
            columns.push(match e {
                Expr::Field { i, .. } => Out::Pass(*i),
                _ => Out::Compute(compile(e, &name)?, e.ty()),
            });
        }
        Ok(Calc { output: Arc::new(Schema::new(fields)), filter, columns })
    }

    pub fn output_schema(&self) -> &SchemaRef {
        &self.output
    }

    /// The kept rows of `batch`, computed; the first error by row when one fails.
    pub fn process(&self, batch: &BatchRef<'_>) -> Result<RecordBatch> {
        let ctx = Ctx::new(batch);
        let all: Vec<u32> = (0..batch.len as u32).collect();
        let sel = match &self.filter {
            None => all,
            Some(f) => {
                let v = f(&ctx, &all);
                let keep = match &v.vals {
                    vector::Vals::Bool(b) => b,
                    _ => unreachable!("a filter is bool"),
                };
                (0..batch.len).filter(|&k| keep[k] && v.is_valid(k)).map(|k| k as u32).collect()
            }
        };
        let full = sel.len() == batch.len;
        let mut columns = Vec::with_capacity(self.columns.len());
        for c in &self.columns {
            columns.push(match c {
                Out::Pass(i) => gather(&batch.columns[*i], &sel, full, batch.len),
                Out::Compute(k, t) => k(&ctx, &sel).into_column(*t),
            });
        }
        if let Some(e) = ctx.take_error() {
            return Err(e);
        }
        let event_time = batch.event_time.map(|et| sel.iter().map(|&r| et[r as usize]).collect());
        Ok(RecordBatch { schema: self.output.clone(), columns, len: sel.len(), event_time })
    }
}

fn gather(col: &crate::batch::ColumnRef<'_>, sel: &[u32], full: bool, len: usize) -> Column {
    if full {
        return col.to_owned_column(len);
    }
    let validity = col.validity.map(|v| {
        let mut out = vec![0u8; crate::batch::bitmap_len(sel.len())];
        for (k, &r) in sel.iter().enumerate() {
            if bit_get(v, r as usize) {
                crate::batch::bit_set(&mut out, k, true);
            }
        }
        out
    });
    let g = |v: &[i64]| sel.iter().map(|&r| v[r as usize]).collect::<Vec<_>>();
    let data = match col.values {
        ValuesRef::I32(v) => ColumnData::I32(sel.iter().map(|&r| v[r as usize]).collect()),
        ValuesRef::I64(v) => ColumnData::I64(g(v)),
        ValuesRef::Timestamp(v) => ColumnData::Timestamp(g(v)),
        ValuesRef::F64(v) => ColumnData::F64(sel.iter().map(|&r| v[r as usize]).collect()),
        ValuesRef::Bool(v) => {
            let mut out = vec![0u8; crate::batch::bitmap_len(sel.len())];
            for (k, &r) in sel.iter().enumerate() {
                if bit_get(v, r as usize) {
                    crate::batch::bit_set(&mut out, k, true);
                }
            }
            ColumnData::Bool(out)
        }
        ValuesRef::Utf8 { offsets, data } => {
            let mut o = Vec::with_capacity(sel.len() + 1);
            let mut d = Vec::new();
            o.push(0);
            for &r in sel {
                d.extend_from_slice(&data[offsets[r as usize] as usize..offsets[r as usize + 1] as usize]);
                o.push(d.len() as i32);
            }
            ColumnData::Utf8 { offsets: o, data: d }
        }
    };
    Column { data, validity }
}
