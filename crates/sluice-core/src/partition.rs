//! Hash partitioning by key groups, as in Flink: `keyGroup = murmur3(canonical key bytes) %
//! maxParallelism`, `subtask = keyGroup * parallelism / maxParallelism`. One call splits a whole
//! batch into one batch per target subtask, rows in their original order (so the order of
//! records per key is kept across an exchange).
//!
//! The canonical key bytes are those of `window::encode_key`; a single non-null integer key
//! (tag byte 1, then 8 little-endian bytes) is hashed without building the bytes.

use crate::batch::{bit_get, bit_set, bitmap_len, BatchRef, Column, ColumnData, ColumnRef, RecordBatch, ValuesRef};
use crate::error::{Error, Result};
use crate::hash::{fmix32, murmur3_32, subtask_for_key_group};
use crate::window::encode_key;

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

#[inline(always)]
fn mix_k(k: u32) -> u32 {
    k.wrapping_mul(0xcc9e_2d51).rotate_left(15).wrapping_mul(0x1b87_3593)
}

#[inline(always)]
fn mix_h(h: u32, k: u32) -> u32 {
    (h ^ mix_k(k)).rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64)
}

/// murmur3_32 (seed 0) of the 9 canonical bytes of a non-null i64 key: [1, v as 8 LE bytes].
#[inline(always)]
pub fn hash_i64_key(v: i64) -> u32 {
    let v = v as u64;
    let k1 = 1 | ((v as u32) << 8);
    let k2 = (v >> 24) as u32;
    let tail = (v >> 56) as u32;
    let h = mix_h(mix_h(0, k1), k2);
    fmix32((h ^ mix_k(tail)) ^ 9)
}

/// The key group of every row.
pub fn key_groups(batch: &BatchRef<'_>, key_fields: &[usize], max_parallelism: u32) -> Result<Vec<u32>> {
    if key_fields.is_empty() {
        return Err(Error::config("hash partitioning needs at least one key field"));
    }
    if let Some(&k) = key_fields.iter().find(|&&k| k >= batch.columns.len()) {
        return Err(Error::config(format!("key field index {k} is out of range for a batch of {} columns", batch.columns.len())));
    }
    let n = batch.len;
    let mut out = Vec::with_capacity(n);
    let cols: Vec<ColumnRef<'_>> = key_fields.iter().map(|&k| batch.columns[k]).collect();
    match (cols.as_slice(), cols[0].validity) {
        ([c], None) if matches!(c.values, ValuesRef::I64(_) | ValuesRef::Timestamp(_)) => {
            let (ValuesRef::I64(v) | ValuesRef::Timestamp(v)) = c.values else { unreachable!() };
            out.extend(v[..n].iter().map(|&x| hash_i64_key(x) % max_parallelism));
        }
        _ => {
            let mut scratch = Vec::with_capacity(64);
            for i in 0..n {
                scratch.clear();
                encode_key(&cols, i, &mut scratch);
                out.push(murmur3_32(&scratch, 0) % max_parallelism);
            }
        }
    }
    Ok(out)
}

/// Splits `batch` into `parallelism` batches by key group (empty targets get empty batches).
pub fn hash_partition(batch: &BatchRef<'_>, key_fields: &[usize], parallelism: u32, max_parallelism: u32) -> Result<Vec<RecordBatch>> {
    check_parallelism(parallelism, max_parallelism)?;
    let groups = key_groups(batch, key_fields, max_parallelism)?;
    if parallelism == 1 {
        return Ok(vec![take(batch, &(0..batch.len as u32).collect::<Vec<_>>())]);
    }
    let targets: Vec<u32> = groups.iter().map(|&kg| subtask_for_key_group(kg, parallelism, max_parallelism)).collect();
    split_by_targets(batch, &targets, parallelism)
}

/// Splits `batch` into `n` batches: row i goes to batch `targets[i]`, rows kept in order
/// (the partitioners whose targets are computed elsewhere: custom, range, shuffle).
pub fn split_by_targets(batch: &BatchRef<'_>, targets: &[u32], n: u32) -> Result<Vec<RecordBatch>> {
    if targets.len() != batch.len {
        return Err(Error::config(format!("{} targets for a batch of {} rows", targets.len(), batch.len)));
    }
    if let Some((i, &t)) = targets.iter().enumerate().find(|(_, &t)| t >= n) {
        return Err(Error::config(format!("row {i} is sent to partition {t}, but there are only {n} (0 to {})", n - 1)));
    }
    let n = n as usize;
    let mut rows: Vec<Vec<u32>> = vec![Vec::with_capacity(batch.len / n + 16); n];
    for (i, &t) in targets.iter().enumerate() {
        rows[t as usize].push(i as u32);
    }
    Ok(rows.iter().map(|idx| take(batch, idx)).collect())
}

/// The rows `idx` of a batch, in that order.
pub fn take(batch: &BatchRef<'_>, idx: &[u32]) -> RecordBatch {
    let columns = batch.columns.iter().map(|c| take_column(c, idx)).collect();
    RecordBatch {
        schema: std::sync::Arc::new(batch.schema.clone()),
        columns,
        len: idx.len(),
        event_time: batch.event_time.map(|t| idx.iter().map(|&i| t[i as usize]).collect()),
    }
}

fn take_column(c: &ColumnRef<'_>, idx: &[u32]) -> Column {
    let validity = c.validity.and_then(|v| {
        let mut out = vec![0u8; bitmap_len(idx.len())];
        let mut any_null = false;
        for (j, &i) in idx.iter().enumerate() {
            if bit_get(v, i as usize) {
                bit_set(&mut out, j, true);
            } else {
                any_null = true;
            }
        }
        any_null.then_some(out)
    });
    let data = match c.values {
        ValuesRef::I32(v) => ColumnData::I32(idx.iter().map(|&i| v[i as usize]).collect()),
        ValuesRef::I64(v) => ColumnData::I64(idx.iter().map(|&i| v[i as usize]).collect()),
        ValuesRef::Timestamp(v) => ColumnData::Timestamp(idx.iter().map(|&i| v[i as usize]).collect()),
        ValuesRef::F64(v) => ColumnData::F64(idx.iter().map(|&i| v[i as usize]).collect()),
        ValuesRef::Bool(v) => {
            let mut out = vec![0u8; bitmap_len(idx.len())];
            for (j, &i) in idx.iter().enumerate() {
                if bit_get(v, i as usize) {
                    bit_set(&mut out, j, true);
                }
            }
            ColumnData::Bool(out)
        }
        ValuesRef::Utf8 { offsets, data } => {
            let mut b = crate::batch::Utf8Builder::with_capacity(idx.len(), 0);
            for &i in idx {
                b.push(ColumnRef::utf8_bytes(offsets, data, i as usize));
            }
            b.finish()
        }
    };
    Column { data, validity }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{DataType, Field, Schema, Utf8Builder};
    use std::sync::Arc;

    #[test]
    fn the_i64_fast_path_hashes_the_canonical_bytes() {
        for v in [0i64, 1, -1, 42, 1000, i64::MIN, i64::MAX, 1 << 62, 0x0102_0304_0506_0708] {
            let mut bytes = vec![1u8];
            bytes.extend_from_slice(&v.to_le_bytes());
            assert_eq!(hash_i64_key(v), murmur3_32(&bytes, 0), "{v}");
        }
    }

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
}
