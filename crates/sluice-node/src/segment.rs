//! The partitioner writing into exchange segments (`sluice_core::segment`): one call per batch
//! (or per run out of spare segments). The pool is a view of the run's SharedArrayBuffer; the
//! writer's segment lists are small Int32Arrays it reads and updates in place.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::cell::RefCell;
use std::rc::Rc;

use sluice_core::batch::DataType;
use sluice_core::segment::{scatter_to_segments as scatter, SegmentIo, SegmentLayout, SegmentRoute};

use crate::batch::{batch_ref, event_time_slice, parse_schema, FieldSpec};
use crate::error::to_napi;

/// Writes rows `from`.. of a batch into segments: by key group when `key_fields` is given, by
/// `targets` when only that is given, else all to target 0. Returns the row to go on from.
#[napi(js_name = "scatterToSegments")]
#[allow(clippy::too_many_arguments)]
pub fn scatter_to_segments(
    fields: Vec<FieldSpec>,
    buffers: Vec<Uint8Array>,
    length: u32,
    event_time: Option<Uint8Array>,
    key_fields: Option<Vec<u32>>,
    max_parallelism: u32,
    targets: Option<Uint32Array>,
    mut pool: Uint8Array,
    segment_bytes: u32,
    mut cur: Int32Array,
    mut spares: Int32Array,
    mut full: Int32Array,
    from: u32,
) -> Result<u32> {
    let schema = parse_schema(&fields);
    let et = event_time_slice(&event_time)?;
    let batch = batch_ref(&schema, &buffers, length as usize, et)?;
    let types: Vec<_> = schema.fields.iter().map(|f| f.data_type).collect();
    let layout = layout_of(types, segment_bytes as usize)?;
    let keys: Vec<usize> = key_fields.iter().flatten().map(|&k| k as usize).collect();
    let route = match (&key_fields, &targets) {
        // The partitioner hashes the keys itself (the targets array is not needed natively).
        (Some(_), _) => SegmentRoute::Hash { key_fields: &keys, max_parallelism },
        (None, Some(ts)) => SegmentRoute::Each(ts),
        (None, None) => SegmentRoute::Single,
    };
    // SAFETY: the pool is a view of shared memory that other threads read and write too, but
    // only in segments they hold: this writer holds the segments in `cur` and `spares`, the only
    // ones written here (the core checks every index against the pool's size); no JavaScript
    // runs on this thread during the call.
    let pool: &mut [u8] = unsafe {
        let m = pool.as_mut();
        std::slice::from_raw_parts_mut(m.as_mut_ptr(), m.len())
    };
    // SAFETY: the writer's own small arrays, touched by nothing else during the call.
    let io = unsafe { SegmentIo { cur: cur.as_mut(), spares: spares.as_mut(), full: full.as_mut() } };
    let end = scatter(&batch, route, pool, &layout, io, from as usize).map_err(to_napi)?;
    Ok(end as u32)
}

/// A layout with the column types and segment size it was computed for.
type CachedLayout = (Vec<DataType>, usize, Rc<SegmentLayout>);

thread_local! {
    /// The layout last computed on this thread: a writer asks for the same one batch after batch.
    static LAST_LAYOUT: RefCell<Option<CachedLayout>> = const { RefCell::new(None) };
}

fn layout_of(types: Vec<DataType>, segment_bytes: usize) -> Result<Rc<SegmentLayout>> {
    LAST_LAYOUT.with(|last| {
        let mut last = last.borrow_mut();
        if let Some((t, b, l)) = last.as_ref() {
            if *t == types && *b == segment_bytes {
                return Ok(l.clone());
            }
        }
        let l = Rc::new(SegmentLayout::new(&types, segment_bytes).map_err(to_napi)?);
        *last = Some((types, segment_bytes, l.clone()));
        Ok(l)
    })
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
