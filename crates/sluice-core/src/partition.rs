//! Hash partitioning by key groups, as in Flink: `keyGroup = murmur3(canonical key bytes) %
//! maxParallelism`, `subtask = keyGroup * parallelism / maxParallelism`. One call splits a whole
//! batch into one batch per target subtask, rows in their original order (so the order of
//! records per key is kept across an exchange).
//!
//! Rows are hashed by their canonical key bytes (`keys::hash_keys`), as window state groups them.

use std::borrow::Cow;

use crate::batch::{bit_get, bit_set, bitmap_len, BatchRef, Column, ColumnData, ColumnRef, RecordBatch, ValuesRef};
use crate::error::{Error, Result};
use crate::hash::subtask_for_key_group;
use crate::keys::hash_keys;

/// Checks a parallelism against a max parallelism (Flink's rules).
pub fn check_parallelism(parallelism: u32, max_parallelism: u32) -> Result<()> {
    if max_parallelism == 0 || max_parallelism > 32768 {
        return Err(Error::config(format!("maxParallelism must be between 1 and 32768, got {max_parallelism}")));
    }
    if parallelism == 0 || parallelism > max_parallelism {
        return Err(Error::config(format!(
            "parallelism must be between 1 and maxParallelism ({max_parallelism}), got {parallelism}"
        )));
    }
    Ok(())
}

/// The key group of every row.
pub fn key_groups(batch: &BatchRef<'_>, key_fields: &[usize], max_parallelism: u32) -> Result<Vec<u32>> {
    let mut out = key_hashes(batch, key_fields)?;
    out.iter_mut().for_each(|h| *h %= max_parallelism);
    Ok(out)
}

/// The murmur3 hash of every row's canonical key bytes.
fn key_hashes(batch: &BatchRef<'_>, key_fields: &[usize]) -> Result<Vec<u32>> {
    if key_fields.is_empty() {
        return Err(Error::config("hash partitioning needs at least one key field"));
    }
    if let Some(&k) = key_fields.iter().find(|&&k| k >= batch.columns.len()) {
        return Err(Error::config(format!("key field index {k} is out of range for a batch of {} columns", batch.columns.len())));
    }
    let cols: Vec<ColumnRef<'_>> = key_fields.iter().map(|&k| batch.columns[k]).collect();
    Ok(hash_keys(&cols, batch.len))
}

/// Where the rows of one batch go: the target of every row (computed here, or the caller's) and
/// the rows per target.
pub struct Routing<'a> {
    pub targets: Cow<'a, [u32]>,
    pub rows: Vec<usize>,
}

/// Routes every row by key group: `subtask = keyGroup * parallelism / maxParallelism`.
pub fn hash_routing(batch: &BatchRef<'_>, key_fields: &[usize], parallelism: u32, max_parallelism: u32) -> Result<Routing<'static>> {
    check_parallelism(parallelism, max_parallelism)?;
    // The subtask of every key group, looked up instead of divided per row.
    let table: Vec<u32> = (0..max_parallelism).map(|kg| subtask_for_key_group(kg, parallelism, max_parallelism)).collect();
    let mut targets = key_hashes(batch, key_fields)?;
    if max_parallelism.is_power_of_two() {
        let mask = max_parallelism - 1;
        targets.iter_mut().for_each(|h| *h = table[(*h & mask) as usize]);
    } else {
        targets.iter_mut().for_each(|h| *h = table[(*h % max_parallelism) as usize]);
    }
    let mut rows = vec![0usize; parallelism as usize];
    for &t in &targets {
        rows[t as usize] += 1;
    }
    Ok(Routing { targets: Cow::Owned(targets), rows })
}

/// Routes row i to `targets[i]` (the partitioners whose targets are computed elsewhere: custom,
/// range, shuffle), checking every target.
pub fn target_routing<'a>(batch: &BatchRef<'_>, targets: &'a [u32], n: u32) -> Result<Routing<'a>> {
    if targets.len() != batch.len {
        return Err(Error::config(format!("{} targets for a batch of {} rows", targets.len(), batch.len)));
    }
    let mut rows = vec![0usize; n as usize];
    for (i, &t) in targets.iter().enumerate() {
        if t >= n {
            return Err(Error::config(format!("row {i} is sent to partition {t}, but there are only {n} (0 to {})", n.saturating_sub(1))));
        }
        rows[t as usize] += 1;
    }
    Ok(Routing { targets: Cow::Borrowed(targets), rows })
}

/// The size of one column of one part: whether it holds a null (it then needs a validity
/// bitmap) and, for utf8, its data bytes.
#[derive(Clone, Copy, Default)]
pub struct ColumnSize {
    pub nulls: bool,
    pub utf8_bytes: usize,
}

/// Per part, per column: what its buffers must hold (see `scatter`).
pub fn part_sizes(batch: &BatchRef<'_>, routing: &Routing<'_>) -> Vec<Vec<ColumnSize>> {
    let mut sizes = vec![vec![ColumnSize::default(); batch.columns.len()]; routing.rows.len()];
    for (j, c) in batch.columns.iter().enumerate() {
        if let Some(v) = c.validity {
            for (i, &t) in routing.targets.iter().enumerate() {
                if !bit_get(v, i) {
                    sizes[t as usize][j].nulls = true;
                }
            }
        }
        if let ValuesRef::Utf8 { offsets, .. } = c.values {
            for (i, &t) in routing.targets.iter().enumerate() {
                sizes[t as usize][j].utf8_bytes += (offsets[i + 1] - offsets[i]) as usize;
            }
        }
    }
    sizes
}

/// The buffers of one column of a part, to be filled by `scatter`.
pub enum ValuesMut<'a> {
    I32(&'a mut [i32]),
    /// i64 and timestamp values.
    I64(&'a mut [i64]),
    F64(&'a mut [f64]),
    /// A bitmap, zeroed.
    Bool(&'a mut [u8]),
    Utf8 { offsets: &'a mut [i32], data: &'a mut [u8] },
}

/// One column of a part: its values and its validity bitmap (zeroed; empty when the part's
/// column has no null).
pub struct ColumnMut<'a> {
    pub values: ValuesMut<'a>,
    pub validity: &'a mut [u8],
}

/// One part's buffers, sized by `Routing::rows` and `part_sizes`.
pub struct PartMut<'a> {
    pub columns: Vec<ColumnMut<'a>>,
    pub event_time: Option<&'a mut [i64]>,
}

/// Writes every row of `batch` into the part its route names, rows in their original order, so
/// the caller can allocate the parts' buffers where they are needed (JavaScript memory) and
/// nothing is gathered and copied again.
pub fn scatter(batch: &BatchRef<'_>, targets: &[u32], parts: &mut [PartMut<'_>]) {
    for (j, c) in batch.columns.iter().enumerate() {
        if let Some(v) = c.validity {
            let mut dst: Vec<&mut [u8]> = parts.iter_mut().map(|p| &mut *p.columns[j].validity).collect();
            scatter_bits(v, targets, &mut dst);
        }
        match c.values {
            ValuesRef::I32(v) => scatter_fixed(v, targets, &mut columns_of(parts, j, |x| if let ValuesMut::I32(s) = x { Some(s) } else { None })),
            ValuesRef::I64(v) | ValuesRef::Timestamp(v) => scatter_fixed(v, targets, &mut columns_of(parts, j, |x| if let ValuesMut::I64(s) = x { Some(s) } else { None })),
            ValuesRef::F64(v) => scatter_fixed(v, targets, &mut columns_of(parts, j, |x| if let ValuesMut::F64(s) = x { Some(s) } else { None })),
            ValuesRef::Bool(v) => scatter_bits(v, targets, &mut columns_of(parts, j, |x| if let ValuesMut::Bool(s) = x { Some(s) } else { None })),
            ValuesRef::Utf8 { offsets, data } => {
                let mut dst: Vec<(&mut [i32], &mut [u8])> = parts
                    .iter_mut()
                    .map(|p| match &mut p.columns[j].values {
                        ValuesMut::Utf8 { offsets, data } => (&mut **offsets, &mut **data),
                        _ => panic!("scatter: column {j} of a part is not utf8"),
                    })
                    .collect();
                scatter_utf8(offsets, data, targets, &mut dst);
            }
        }
    }
    if let Some(et) = batch.event_time {
        let mut dst: Vec<&mut [i64]> = parts.iter_mut().map(|p| &mut **p.event_time.as_mut().expect("scatter: a part without event time")).collect();
        scatter_fixed(et, targets, &mut dst);
    }
}

fn columns_of<'p, T: 'p>(parts: &'p mut [PartMut<'_>], j: usize, pick: impl Fn(&'p mut ValuesMut<'_>) -> Option<&'p mut [T]>) -> Vec<&'p mut [T]> {
    parts.iter_mut().map(|p| pick(&mut p.columns[j].values).unwrap_or_else(|| panic!("scatter: column {j} of a part has another type"))).collect()
}

fn scatter_fixed<T: Copy>(src: &[T], targets: &[u32], dst: &mut [&mut [T]]) {
    let mut at = vec![0usize; dst.len()];
    for (&v, &t) in src.iter().zip(targets) {
        let k = &mut at[t as usize];
        dst[t as usize][*k] = v;
        *k += 1;
    }
}

/// Utf8 values: each part's offsets (from 0) and data bytes, rows in order.
fn scatter_utf8(offsets: &[i32], data: &[u8], targets: &[u32], dst: &mut [(&mut [i32], &mut [u8])]) {
    let mut at = vec![(0usize, 0usize); dst.len()];
    for (i, &t) in targets.iter().enumerate() {
        let (row, pos) = &mut at[t as usize];
        let (o, d) = &mut dst[t as usize];
        let s = ColumnRef::utf8_bytes(offsets, data, i);
        d[*pos..*pos + s.len()].copy_from_slice(s);
        *pos += s.len();
        *row += 1;
        o[*row] = *pos as i32;
    }
}

/// Bitmaps: set bits only (the destinations are zeroed); an empty destination takes nothing.
fn scatter_bits(src: &[u8], targets: &[u32], dst: &mut [&mut [u8]]) {
    let mut at = vec![0usize; dst.len()];
    for (i, &t) in targets.iter().enumerate() {
        let k = at[t as usize];
        at[t as usize] += 1;
        let d = &mut dst[t as usize];
        if bit_get(src, i) && !d.is_empty() {
            bit_set(d, k, true);
        }
    }
}

/// Splits `batch` into `parallelism` batches by key group (empty targets get empty batches).
pub fn hash_partition(batch: &BatchRef<'_>, key_fields: &[usize], parallelism: u32, max_parallelism: u32) -> Result<Vec<RecordBatch>> {
    let routing = hash_routing(batch, key_fields, parallelism, max_parallelism)?;
    Ok(split(batch, &routing))
}

/// Splits `batch` into `n` batches: row i goes to batch `targets[i]`, rows kept in order
/// (the partitioners whose targets are computed elsewhere: custom, range, shuffle).
pub fn split_by_targets(batch: &BatchRef<'_>, targets: &[u32], n: u32) -> Result<Vec<RecordBatch>> {
    let routing = target_routing(batch, targets, n)?;
    Ok(split(batch, &routing))
}

/// The parts of a routed batch as owned batches (Rust callers; the N-API layer scatters into
/// JavaScript buffers instead).
fn split(batch: &BatchRef<'_>, routing: &Routing<'_>) -> Vec<RecordBatch> {
    let sizes = part_sizes(batch, routing);
    let mut owned: Vec<(Vec<Column>, Option<Vec<i64>>)> = routing
        .rows
        .iter()
        .zip(&sizes)
        .map(|(&rows, cols)| {
            let columns = batch
                .columns
                .iter()
                .zip(cols)
                .map(|(c, s)| {
                    let data = match c.values {
                        ValuesRef::I32(_) => ColumnData::I32(vec![0; rows]),
                        ValuesRef::I64(_) => ColumnData::I64(vec![0; rows]),
                        ValuesRef::Timestamp(_) => ColumnData::Timestamp(vec![0; rows]),
                        ValuesRef::F64(_) => ColumnData::F64(vec![0.0; rows]),
                        ValuesRef::Bool(_) => ColumnData::Bool(vec![0; bitmap_len(rows)]),
                        ValuesRef::Utf8 { .. } => ColumnData::Utf8 { offsets: vec![0; rows + 1], data: vec![0; s.utf8_bytes] },
                    };
                    Column { data, validity: s.nulls.then(|| vec![0; bitmap_len(rows)]) }
                })
                .collect();
            (columns, batch.event_time.map(|_| vec![0; rows]))
        })
        .collect();
    let mut parts: Vec<PartMut<'_>> = owned
        .iter_mut()
        .map(|(columns, et)| PartMut {
            columns: columns
                .iter_mut()
                .map(|c| {
                    let values = match &mut c.data {
                        ColumnData::I32(v) => ValuesMut::I32(v),
                        ColumnData::I64(v) | ColumnData::Timestamp(v) => ValuesMut::I64(v),
                        ColumnData::F64(v) => ValuesMut::F64(v),
                        ColumnData::Bool(v) => ValuesMut::Bool(v),
                        ColumnData::Utf8 { offsets, data } => ValuesMut::Utf8 { offsets, data },
                    };
                    // A part's column without nulls has no bitmap: an empty one takes no bits.
                    ColumnMut { values, validity: c.validity.as_deref_mut().unwrap_or(&mut []) }
                })
                .collect(),
            event_time: et.as_deref_mut(),
        })
        .collect();
    scatter(batch, &routing.targets, &mut parts);
    drop(parts);
    owned
        .into_iter()
        .zip(&routing.rows)
        .map(|((columns, event_time), &len)| RecordBatch { schema: std::sync::Arc::new(batch.schema.clone()), columns, len, event_time })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{DataType, Field, Schema, Utf8Builder};
    use std::sync::Arc;

    #[test]
    fn key_groups_are_pinned() {
        // The same values test/hash.test.ts pins for both engines.
        let schema = Schema::new(vec![Field::new("k", DataType::I64)]);
        let vals = vec![0, 1, 42, 1000, -1, 1 << 62];
        let col = Column::new(ColumnData::I64(vals.clone()));
        let b = RecordBatch { schema: Arc::new(schema), columns: vec![col], len: vals.len(), event_time: None };
        assert_eq!(key_groups(&b.as_ref(), &[0], 128).unwrap(), vec![105, 72, 86, 18, 71, 38]);
    }

    #[test]
    fn partitions_keep_row_order_and_route_each_key_to_one_subtask() {
        let schema = Arc::new(Schema::new(vec![Field::new("k", DataType::Utf8), Field::new("v", DataType::I32)]));
        let mut names = Utf8Builder::with_capacity(1000, 0);
        let keys: Vec<String> = (0..1000).map(|i| format!("key{}", i % 37)).collect();
        for k in &keys {
            names.push(k.as_bytes());
        }
        let b = RecordBatch {
            schema,
            columns: vec![Column::new(names.finish()), Column::new(ColumnData::I32((0..1000).collect()))],
            len: 1000,
            event_time: Some((0..1000).collect()),
        };
        let parts = hash_partition(&b.as_ref(), &[0], 4, 128).unwrap();
        assert_eq!(parts.iter().map(|p| p.len).sum::<usize>(), 1000);
        let mut owner = std::collections::HashMap::new();
        for (t, p) in parts.iter().enumerate() {
            let ColumnData::I32(v) = &p.columns[1].data else { panic!() };
            assert!(v.windows(2).all(|w| w[0] < w[1]), "row order kept");
            assert_eq!(p.event_time.as_ref().unwrap().iter().map(|&x| x as i32).collect::<Vec<_>>(), *v);
            for &row in v {
                let prev = owner.insert(keys[row as usize].clone(), t);
                assert!(prev.is_none() || prev == Some(t), "a key goes to one subtask");
            }
        }
        assert!(parts.iter().all(|p| p.len > 0), "37 keys spread over 4 subtasks");
        assert!(hash_partition(&b.as_ref(), &[0], 0, 128).is_err());
        assert!(hash_partition(&b.as_ref(), &[0], 129, 128).unwrap_err().message.contains("between 1 and maxParallelism (128)"));
    }

    #[test]
    fn split_by_targets_keeps_row_order_and_rejects_targets_out_of_range() {
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::I64)]));
        let b = RecordBatch { schema, columns: vec![Column::new(ColumnData::I64((0..10).collect()))], len: 10, event_time: None };
        let parts = split_by_targets(&b.as_ref(), &[2, 0, 2, 1, 0, 0, 2, 1, 1, 0], 3).unwrap();
        let rows = |p: &RecordBatch| match &p.columns[0].data {
            ColumnData::I64(v) => v.clone(),
            _ => panic!(),
        };
        assert_eq!(parts.iter().map(rows).collect::<Vec<_>>(), vec![vec![1, 4, 5, 9], vec![3, 7, 8], vec![0, 2, 6]]);
        let err = split_by_targets(&b.as_ref(), &[0, 0, 0, 3, 0, 0, 0, 0, 0, 0], 3).unwrap_err();
        assert!(err.message.contains("row 3 is sent to partition 3, but there are only 3"), "{}", err.message);
        assert!(split_by_targets(&b.as_ref(), &[0; 9], 3).is_err());
    }

    #[test]
    fn parts_keep_utf8_bool_f64_and_nulls_row_by_row() {
        // Row i: s = "v{i}" repeated i % 4 times, null when i % 5 == 0; b = i % 3 == 0;
        // f = i / 2, null when i % 7 == 0. Targets spread over 3 parts, part 2 gets no null.
        let n = 200usize;
        let target = |i: usize| if i.is_multiple_of(5) || i.is_multiple_of(7) { (i % 2) as u32 } else { (i % 3) as u32 };
        let valid_s = |i: usize| !i.is_multiple_of(5);
        let valid_f = |i: usize| !i.is_multiple_of(7);
        let text = |i: usize| format!("v{i}").repeat(i % 4);
        let mut sb = Utf8Builder::with_capacity(n, 0);
        let (mut vs, mut vf, mut bools) = (vec![0u8; bitmap_len(n)], vec![0u8; bitmap_len(n)], vec![0u8; bitmap_len(n)]);
        for i in 0..n {
            sb.push(if valid_s(i) { text(i).into_bytes() } else { vec![] }.as_slice());
            bit_set(&mut vs, i, valid_s(i));
            bit_set(&mut vf, i, valid_f(i));
            bit_set(&mut bools, i, i % 3 == 0);
        }
        let schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8), Field::new("b", DataType::Bool), Field::new("f", DataType::F64)]));
        let b = RecordBatch {
            schema,
            columns: vec![
                Column { data: sb.finish(), validity: Some(vs) },
                Column::new(ColumnData::Bool(bools)),
                Column { data: ColumnData::F64((0..n).map(|i| i as f64 / 2.0).collect()), validity: Some(vf) },
            ],
            len: n,
            event_time: None,
        };
        let targets: Vec<u32> = (0..n).map(target).collect();
        let parts = split_by_targets(&b.as_ref(), &targets, 3).unwrap();
        for (t, p) in parts.iter().enumerate() {
            let rows: Vec<usize> = (0..n).filter(|&i| target(i) == t as u32).collect();
            assert_eq!(p.len, rows.len());
            let pr = p.as_ref();
            let (s, bo, f) = (pr.columns[0], pr.columns[1], pr.columns[2]);
            assert_eq!(s.validity.is_some(), t != 2, "a validity bitmap only where the part has a null");
            for (j, &i) in rows.iter().enumerate() {
                assert_eq!(s.is_valid(j), valid_s(i), "part {t} row {j}");
                let ValuesRef::Utf8 { offsets, data } = s.values else { panic!() };
                if valid_s(i) {
                    assert_eq!(ColumnRef::utf8_bytes(offsets, data, j), text(i).as_bytes());
                }
                let ValuesRef::Bool(bits) = bo.values else { panic!() };
                assert_eq!(bit_get(bits, j), i % 3 == 0);
                assert_eq!(f.is_valid(j), valid_f(i));
                let ValuesRef::F64(fv) = f.values else { panic!() };
                if valid_f(i) {
                    assert_eq!(fv[j], i as f64 / 2.0);
                }
            }
        }
    }
}
