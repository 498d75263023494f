//! `NativeCalc`: the calc operator (projection, filter, computed columns), compiled once from
//! its spec, one call per batch.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use sluice_core::batch::Schema;
use sluice_core::calc::Calc;

use crate::batch::{batch_out, batch_ref, event_time_slice, parse_schema, BatchOut, FieldSpec};
use crate::error::to_napi;

#[napi]
pub struct NativeCalc {
    input: Schema,
    inner: Calc,
}

#[napi]
impl NativeCalc {
    /// `spec`: the JSON of a `CalcSpec` (ts/engine/calc-spec.ts) over `input`.
    #[napi(constructor)]
    pub fn new(input: Vec<FieldSpec>, spec: String) -> Result<Self> {
        let input = parse_schema(&input);
        let inner = Calc::new(&input, &spec).map_err(to_napi)?;
        Ok(NativeCalc { input, inner })
    }

    /// The kept rows of one batch, computed.
    #[napi]
    pub fn process<'env>(&self, env: &'env Env, buffers: Vec<Uint8Array>, length: u32, event_time: Option<Uint8Array>) -> Result<BatchOut<'env>> {
        let et = event_time_slice(&event_time)?;
        let batch = batch_ref(&self.input, &buffers, length as usize, et)?;
        let out = self.inner.process(&batch).map_err(to_napi)?;
        batch_out(env, out)
    }
}
