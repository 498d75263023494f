//! The partitioner writing into exchange segments (`sluice_core::segment`): one call per batch
//! (or per run out of spare segments). The pool is a view of the run's SharedArrayBuffer; the
//! writer's segment lists are small Int32Arrays it reads and updates in place.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use sluice_core::batch::{DataType, Schema};
use sluice_core::segment::{scatter_to_segments as scatter, SegmentIo, SegmentLayout, SegmentRoute};

use crate::batch::{batch_ref, event_time_slice, parse_schema, FieldSpec, TypedBytes};
use crate::error::to_napi;

/// The partitioner of one schema into exchange segments: the schema and its segment layout are
/// read once, and each call passes only the batch's buffers and the writer's segments.
#[napi]
pub struct SegmentScatter {
    schema: Schema,
    layout: SegmentLayout,
}

#[napi]
impl SegmentScatter {
    #[napi(constructor)]
    pub fn new(fields: Vec<FieldSpec>, segment_bytes: u32) -> Result<Self> {
        let schema = parse_schema(&fields);
        let types: Vec<DataType> = schema.fields.iter().map(|f| f.data_type).collect();
        let layout = SegmentLayout::new(&types, segment_bytes as usize).map_err(to_napi)?;
        Ok(SegmentScatter { schema, layout })
    }

    /// Writes rows `from`.. of a batch into segments: by key group when `key_fields` is given,
    /// by `targets` when only that is given, else all to target 0. Returns the row to go on from.
    #[napi]
    #[allow(clippy::too_many_arguments)]
    pub fn scatter(
        &self,
        #[napi(ts_arg_type = "Array<Uint8Array | Int32Array | BigInt64Array | Float64Array>")] buffers: Vec<TypedBytes<'_>>,
        length: u32,
        #[napi(ts_arg_type = "BigInt64Array | undefined | null")] event_time: Option<TypedBytes<'_>>,
        key_fields: Option<Vec<u32>>,
        max_parallelism: u32,
        targets: Option<Uint32ArraySlice<'_>>,
        mut pool: Uint8ArraySlice<'_>,
        mut cur: Int32ArraySlice<'_>,
        mut spares: Int32ArraySlice<'_>,
        mut full: Int32ArraySlice<'_>,
        from: u32,
    ) -> Result<u32> {
        let et = event_time_slice(&event_time)?;
        let batch = batch_ref(&self.schema, &buffers, length as usize, et)?;
        let keys: Vec<usize> = key_fields.iter().flatten().map(|&k| k as usize).collect();
        let route = match (&key_fields, &targets) {
            // The partitioner hashes the keys itself (the targets array is not needed natively).
            (Some(_), _) => SegmentRoute::Hash { key_fields: &keys, max_parallelism },
            (None, Some(ts)) => SegmentRoute::Each(ts),
            (None, None) => SegmentRoute::Single,
        };
        // SAFETY: the pool is a view of shared memory that other threads read and write too, but
        // only in segments they hold: this writer holds the segments in `cur` and `spares`, the
        // only ones written here (the core checks every index against the pool's size); no
        // JavaScript runs on this thread during the call. The writer's own small arrays are
        // touched by nothing else during the call.
        let (pool, io) = unsafe { (pool.as_mut(), SegmentIo { cur: cur.as_mut(), spares: spares.as_mut(), full: full.as_mut() }) };
        let end = scatter(&batch, route, pool, &self.layout, io, from as usize).map_err(to_napi)?;
        Ok(end as u32)
    }
}

/// The capacity and regions of a schema's segment layout (for the test that both engines agree).
#[napi(js_name = "segmentLayout")]
pub fn segment_layout(fields: Vec<FieldSpec>, segment_bytes: u32) -> Result<Vec<u32>> {
    let schema = parse_schema(&fields);
    let types: Vec<_> = schema.fields.iter().map(|f| f.data_type).collect();
    let l = SegmentLayout::new(&types, segment_bytes as usize).map_err(to_napi)?;
    let mut out = vec![l.capacity as u32, l.header_bytes as u32, l.event_time as u32];
    for c in &l.columns {
        out.extend([c.validity as u32, c.values as u32, c.data as u32, c.data_bytes as u32]);
    }
    Ok(out)
}
