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

pub struct Calc {
    /// The schema of the computed columns.
    computed_schema: SchemaRef,
    filter: Option<Kernel>,
    computed: Vec<(Kernel, DataType)>,
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
        Ok(Calc { computed_schema: Arc::new(Schema::new(fields)), filter, computed })
    }

    pub fn computed_schema(&self) -> &SchemaRef {
        &self.computed_schema
    }

    /// The kept rows of `batch`, computed; the first error by row when one fails.
    pub fn process(&self, batch: &BatchRef<'_>) -> Result<CalcOutput> {
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
        let columns: Vec<Column> = self.computed.iter().map(|(k, t)| k(&ctx, &sel).into_column(*t)).collect();
        if let Some(e) = ctx.take_error() {
            return Err(e);
        }
        let event_time = if full { None } else { batch.event_time.map(|et| sel.iter().map(|&r| et[r as usize]).collect()) };
        let computed = RecordBatch { schema: self.computed_schema.clone(), columns, len: sel.len(), event_time };
        Ok(CalcOutput { computed, selection: if full { None } else { Some(sel) } })
    }
}
