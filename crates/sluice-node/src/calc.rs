//! `NativeCalc`: the calc operator (projection, filter, computed columns), compiled once from
//! its spec, one call per batch.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use sluice_core::batch::Schema;
use sluice_core::calc::Calc;

use crate::batch::{batch_out_ref, batch_ref, event_time_slice, parse_schema, BatchOut, CopyOut, FieldSpec, TypedBytes};
use crate::error::{config_error, to_napi};

#[napi(object)]
pub struct CalcOut<'env> {
    pub computed: BatchOut<'env>,
    pub selection: Option<Uint32ArraySlice<'env>>,
}

#[napi]
pub struct NativeCalc {
    input: Schema,
    inner: Calc,
    /// Whether the caller takes input columns through, for which it needs the kept rows.
    selection: bool,
}

#[napi]
impl NativeCalc {
    /// `spec`: the JSON of a `CalcSpec` (ts/engine/calc-spec.ts) over `input`; `selection`:
    /// whether `process` returns the kept rows' indices when rows were dropped (the caller
    /// passes input columns through). Without them no copy of the selection is made.
    #[napi(constructor)]
    pub fn new(input: Vec<FieldSpec>, spec: String, selection: bool) -> Result<Self> {
        let input = parse_schema(&input);
        let inner = Calc::new(&input, &spec).map_err(to_napi)?;
        Ok(NativeCalc { input, inner, selection })
    }

    /// One batch: the computed columns of the kept rows (with their event time when some were
    /// dropped), and the kept rows' indices when some were dropped and the calc was made with
    /// `selection` (the caller takes the pass-through columns from its own batch).
    #[napi]
    pub fn process<'env>(&self, env: &'env Env, #[napi(ts_arg_type = "Array<Uint8Array | Int32Array | BigInt64Array | Float64Array>")] buffers: Vec<TypedBytes<'_>>, length: u32, #[napi(ts_arg_type = "BigInt64Array | undefined | null")] event_time: Option<TypedBytes<'_>>) -> Result<CalcOut<'env>> {
        let et = event_time_slice(&event_time)?;
        let batch = batch_ref(&self.input, &buffers, length as usize, et)?;
        let out = self.inner.process(&batch).map_err(to_napi)?;
        let computed = batch_out_ref(env, &out.computed)?;
        // Copied, like the columns (see batch_out), and its buffer recycled with them.
        let selection = out.selection.as_deref().filter(|_| self.selection).map(|s| Uint32ArraySlice::copy_out(env, s)).transpose()?;
        self.inner.recycle(out.computed.columns);
        Ok(CalcOut { computed, selection })
    }

    /// Whether `processInto` can take this calc's batches (its computed columns are all fixed-width).
    #[napi(getter)]
    pub fn writes_into(&self) -> bool {
        self.inner.writes_into()
    }

    /// As `process`, the output written into one buffer of JavaScript's (`out`, laid out as
    /// `sluice_core::calc::into::IntoLayout` and `ts/engine/native/calc-into.ts` compute it):
    /// no Rust column copied out, no typed array made here. Returns the rows kept.
    #[napi]
    pub fn process_into(
        &self,
        #[napi(ts_arg_type = "Array<Uint8Array | Int32Array | BigInt64Array | Float64Array>")] buffers: Vec<TypedBytes<'_>>,
        length: u32,
        #[napi(ts_arg_type = "BigInt64Array | undefined | null")] event_time: Option<TypedBytes<'_>>,
        #[napi(ts_arg_type = "Uint8Array")] mut out: TypedBytes<'_>,
    ) -> Result<u32> {
        let et = event_time_slice(&event_time)?;
        let batch = batch_ref(&self.input, &buffers, length as usize, et)?;
        let overlap = |a: &[u8], b: &[u8]| !a.is_empty() && !b.is_empty() && (a.as_ptr() as usize) < b.as_ptr() as usize + b.len() && (b.as_ptr() as usize) < a.as_ptr() as usize + a.len();
        if buffers.iter().map(|b| &**b).chain(event_time.as_deref()).any(|b| overlap(&out, b)) {
            return Err(config_error("internal error: a calc's output buffer overlaps its input"));
        }
        let layout = self.inner.into_layout(length as usize, et.is_some(), self.selection);
        // SAFETY: `out` is a buffer the caller allocated for this call's output alone: it overlaps
        // no buffer of the batch or its event time (checked above), and no other thread has it.
        let parts = layout.split(unsafe { out.as_mut_slice() }).map_err(to_napi)?;
        let m = self.inner.process_into(&batch, parts).map_err(to_napi)?;
        Ok(m as u32)
    }

    /// One batch of a calc that computes no column: the kept rows' indices, or
    /// null when every row was kept. The caller takes the columns and the event time from its
    /// own batch, and one typed array crosses instead of a batch object (about 4 us less of a
    /// q2 filter's 22-28 us per 8192-row call).
    #[napi]
    pub fn select<'env>(&self, env: &'env Env, #[napi(ts_arg_type = "Array<Uint8Array | Int32Array | BigInt64Array | Float64Array>")] buffers: Vec<TypedBytes<'_>>, length: u32) -> Result<Option<Uint32ArraySlice<'env>>> {
        let batch = batch_ref(&self.input, &buffers, length as usize, None)?;
        let sel = self.inner.select(&batch).map_err(to_napi)?;
        sel.as_deref().map(|s| Uint32ArraySlice::copy_out(env, s)).transpose()
    }
}
