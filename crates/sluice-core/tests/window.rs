//! The window operator against a straightforward reference (BTreeMap per window and key).

use std::collections::BTreeMap;
use std::sync::Arc;

use sluice_core::batch::{Column, ColumnData, DataType, Field, RecordBatch, Schema, Utf8Builder};
use sluice_core::hash::murmur3_u64;
use sluice_core::window::{AggKind, AggSpec, WindowAggSpec, WindowAggregator, Windows};

fn rnd(i: u64, s: u32) -> u32 {
    murmur3_u64(i, s)
}

struct Events {
    key: Vec<i64>,
    name: Vec<String>,
    price: Vec<f64>,
    qty: Vec<Option<i32>>,
    ts: Vec<i64>,
}

/// Random events, out of order by at most `bound` ms.
fn events(n: usize, keys: u32, bound: i64) -> Events {
    let mut e = Events { key: vec![], name: vec![], price: vec![], qty: vec![], ts: vec![] };
    for i in 0..n as u64 {
        let k = (rnd(i, 1) % keys) as i64;
        e.key.push(k);
        e.name.push(format!("k{}", k % 7));
        e.price.push((rnd(i, 2) % 10_000) as f64 / 100.0);
        e.qty.push(if rnd(i, 3).is_multiple_of(5) { None } else { Some((rnd(i, 4) % 100) as i32 - 20) });
        e.ts.push(1_000_000 + i as i64 * 3 - (rnd(i, 5) as i64 % (bound + 1)));
    }
    e
}

fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("key", DataType::I64),
        Field::new("name", DataType::Utf8),
        Field::new("price", DataType::F64),
        Field::new("qty", DataType::I32),
    ]))
}

fn batch(e: &Events, from: usize, to: usize) -> RecordBatch {
    let mut names = Utf8Builder::with_capacity(to - from, 0);
    let mut validity = vec![0u8; (to - from).div_ceil(8)];
    for i in from..to {
        names.push(e.name[i].as_bytes());
        if e.qty[i].is_some() {
            validity[(i - from) / 8] |= 1 << ((i - from) % 8);
        }
    }
    RecordBatch {
        schema: schema(),
        columns: vec![
            Column::new(ColumnData::I64(e.key[from..to].to_vec())),
            Column::new(names.finish()),
            Column::new(ColumnData::F64(e.price[from..to].to_vec())),
            Column { data: ColumnData::I32(e.qty[from..to].iter().map(|q| q.unwrap_or(0)).collect()), validity: Some(validity) },
        ],
        len: to - from,
        event_time: Some(e.ts[from..to].to_vec()),
    }
}

fn aggs() -> Vec<AggSpec> {
    vec![
        AggSpec { name: "n".into(), kind: AggKind::Count, field: None },
        AggSpec { name: "total".into(), kind: AggKind::Sum, field: Some(2) },
        AggSpec { name: "hi".into(), kind: AggKind::Max, field: Some(2) },
        AggSpec { name: "lowQty".into(), kind: AggKind::Min, field: Some(3) },
        AggSpec { name: "sumQty".into(), kind: AggKind::Sum, field: Some(3) },
        AggSpec { name: "avgQty".into(), kind: AggKind::Avg, field: Some(3) },
    ]
}

#[derive(Debug, PartialEq)]
struct Row {
    start: i64,
    n: i64,
    total: f64,
    hi: f64,
    low_qty: Option<i32>,
    sum_qty: Option<i64>,
    avg_qty: Option<f64>,
}

fn run(e: &Events, key_fields: Vec<usize>, size: i64, batch_rows: usize, bound: i64) -> (Vec<(String, Row)>, u64) {
    let spec = WindowAggSpec { input: schema(), key_fields, windows: Windows::tumbling(size, 0).unwrap(), aggs: aggs() };
    let mut op = WindowAggregator::new(spec).unwrap();
    let mut out = Vec::new();
    let mut max_ts = i64::MIN;
    let collect = |b: RecordBatch, out: &mut Vec<(String, Row)>| {
        let kcols = b.schema.len() - 8;
        for r in 0..b.len {
            let key = match &b.columns[0].data {
                ColumnData::I64(v) => v[r].to_string(),
                ColumnData::Utf8 { offsets, data } => String::from_utf8(data[offsets[r] as usize..offsets[r + 1] as usize].to_vec()).unwrap(),
                _ => unreachable!(),
            };
            let key = if kcols == 2 {
                let ColumnData::I64(v) = &b.columns[1].data else { unreachable!() };
                format!("{key}/{}", v[r])
            } else {
                key
            };
            let get_i = |c: usize| match &b.columns[c].data { ColumnData::I64(v) | ColumnData::Timestamp(v) => v[r], ColumnData::I32(v) => v[r] as i64, _ => unreachable!() };
            let get_f = |c: usize| match &b.columns[c].data { ColumnData::F64(v) => v[r], _ => unreachable!() };
            let valid = |c: usize| b.columns[c].validity.as_ref().is_none_or(|v| v[r / 8] & (1 << (r % 8)) != 0);
            let base = kcols;
            assert_eq!(get_i(base + 1) - get_i(base), size);
            assert_eq!(b.event_time.as_ref().unwrap()[r], get_i(base + 1) - 1);
            out.push((
                key,
                Row {
                    start: get_i(base),
                    n: get_i(base + 2),
                    total: get_f(base + 3),
                    hi: get_f(base + 4),
                    low_qty: valid(base + 5).then(|| get_i(base + 5) as i32),
                    sum_qty: valid(base + 6).then(|| get_i(base + 6)),
                    avg_qty: valid(base + 7).then(|| get_f(base + 7)),
                },
            ));
        }
    };
    for from in (0..e.key.len()).step_by(batch_rows) {
        let to = (from + batch_rows).min(e.key.len());
        let b = batch(e, from, to);
        op.push(&b.as_ref()).unwrap();
        max_ts = max_ts.max(*e.ts[from..to].iter().max().unwrap());
        if let Some(fired) = op.advance_watermark(max_ts - bound - 1).unwrap() {
            collect(fired, &mut out);
        }
    }
    if let Some(fired) = op.advance_watermark(i64::MAX).unwrap() {
        collect(fired, &mut out);
    }
    (out, op.late_dropped())
}

/// Independent computation: group by (window start, key) in a BTreeMap; rows in input order.
fn reference(e: &Events, key: impl Fn(usize) -> String, size: i64) -> BTreeMap<(i64, String), Row> {
    let mut m: BTreeMap<(i64, String), Row> = BTreeMap::new();
    for i in 0..e.key.len() {
        let start = e.ts[i] - e.ts[i].rem_euclid(size);
        let r = m.entry((start, key(i))).or_insert(Row { start, n: 0, total: 0.0, hi: f64::NEG_INFINITY, low_qty: None, sum_qty: None, avg_qty: None });
        r.n += 1;
        r.total += e.price[i];
        r.hi = r.hi.max(e.price[i]);
        if let Some(q) = e.qty[i] {
            r.low_qty = Some(r.low_qty.map_or(q, |l| l.min(q)));
            r.sum_qty = Some(r.sum_qty.unwrap_or(0) + q as i64);
        }
    }
    m
}

fn check(key_fields: Vec<usize>, key: impl Fn(&Events, usize) -> String) {
    for (n, keys, bound, size, rows) in [(20_000, 50, 40, 300, 1000), (5_000, 7, 0, 1000, 333), (30_000, 2000, 200, 5000, 4096)] {
        let e = events(n, keys, bound);
        let (got, late) = run(&e, key_fields.clone(), size, rows, bound);
        assert_eq!(late, 0, "out-of-orderness within the bound is never late");
        let mut want = reference(&e, |i| key(&e, i), size);
        // avg = sum / count of non-null, computed the same way as SQL AVG.
        let mut counts: BTreeMap<(i64, String), i64> = BTreeMap::new();
        for i in 0..e.key.len() {
            if e.qty[i].is_some() {
                *counts.entry((e.ts[i] - e.ts[i].rem_euclid(size), key(&e, i))).or_default() += 1;
            }
        }
        for (k, r) in want.iter_mut() {
            r.avg_qty = counts.get(k).map(|&c| r.sum_qty.unwrap() as f64 / c as f64);
        }
        assert_eq!(got.len(), want.len());
        // Output order: by window, then first arrival within the window.
        let starts: Vec<i64> = got.iter().map(|(_, r)| r.start).collect();
        assert!(starts.windows(2).all(|w| w[0] <= w[1]), "windows fire in order");
        for (k, r) in got {
            let w = want.remove(&(r.start, k.clone())).unwrap_or_else(|| panic!("unexpected group {k} {}", r.start));
            assert_eq!(r, w, "group {k} window {}", r.start);
        }
    }
}

#[test]
fn int_key_matches_reference() {
    check(vec![0], |e, i| e.key[i].to_string());
}

#[test]
fn utf8_key_matches_reference() {
    check(vec![1], |e, i| e.name[i].clone());
}

#[test]
fn composite_key_matches_reference() {
    check(vec![1, 0], |e, i| format!("{}/{}", e.name[i], e.key[i]));
}

#[test]
fn late_records_are_dropped_and_counted() {
    let e = Events { key: vec![1, 1, 1, 2], name: vec!["a".into(); 4], price: vec![1.0, 2.0, 3.0, 4.0], qty: vec![Some(1); 4], ts: vec![5, 15, 3, 25] };
    let spec = WindowAggSpec { input: schema(), key_fields: vec![0], windows: Windows::tumbling(10, 0).unwrap(), aggs: aggs() };
    let mut op = WindowAggregator::new(spec).unwrap();
    op.push(&batch(&e, 0, 2).as_ref()).unwrap();
    let fired = op.advance_watermark(10).unwrap().unwrap();
    assert_eq!(fired.len, 1);
    // ts 3 belongs to [0, 10), which fired at watermark 9 or later: late.
    assert_eq!(op.push(&batch(&e, 2, 4).as_ref()).unwrap(), 1);
    assert_eq!(op.late_dropped(), 1);
    // Watermarks never go back.
    assert!(op.advance_watermark(5).unwrap().is_none());
    let rest = op.advance_watermark(i64::MAX).unwrap().unwrap();
    assert_eq!(rest.len, 2);
}

#[test]
fn bad_configuration_is_rejected_with_advice() {
    assert!(Windows::tumbling(0, 0).unwrap_err().message.contains("size above 0"));
    let spec = WindowAggSpec {
        input: schema(),
        key_fields: vec![0],
        windows: Windows::tumbling(10, 0).unwrap(),
        aggs: vec![AggSpec { name: "x".into(), kind: AggKind::Sum, field: Some(1) }],
    };
    assert!(WindowAggregator::new(spec).err().unwrap().message.contains("numeric field"));
    let spec = WindowAggSpec {
        input: schema(),
        key_fields: vec![0],
        windows: Windows::tumbling(10, 0).unwrap(),
        aggs: vec![AggSpec { name: "key".into(), kind: AggKind::Count, field: None }],
    };
    assert!(WindowAggregator::new(spec).err().unwrap().message.contains("two fields named 'key'"));
}

#[test]
fn integer_sum_overflow_is_an_error_not_a_wrap() {
    let s = Arc::new(Schema::new(vec![Field::new("k", DataType::I32), Field::new("v", DataType::I64)]));
    let b = RecordBatch {
        schema: s.clone(),
        columns: vec![Column::new(ColumnData::I32(vec![1, 1])), Column::new(ColumnData::I64(vec![i64::MAX, 1]))],
        len: 2,
        event_time: Some(vec![0, 1]),
    };
    let spec = WindowAggSpec {
        input: s,
        key_fields: vec![0],
        windows: Windows::tumbling(10, 0).unwrap(),
        aggs: vec![AggSpec { name: "s".into(), kind: AggKind::Sum, field: Some(1) }],
    };
    let mut op = WindowAggregator::new(spec).unwrap();
    op.push(&b.as_ref()).unwrap();
    let err = op.advance_watermark(i64::MAX).unwrap_err();
    assert!(err.message.contains("does not fit in i64"), "{}", err.message);
}

/// A pre-aggregation: each batch pushed and flushed on its own. Partial rows of one (key,
/// window) add up to the whole window, nothing is late however far back a later batch reaches,
/// and every flush leaves the aggregator empty.
#[test]
fn flush_emits_each_batch_and_starts_over() {
    let e = events(20_000, 50, 2_000);
    let size = 300;
    let spec = WindowAggSpec { input: schema(), key_fields: vec![0], windows: Windows::tumbling(size, 0).unwrap(), aggs: aggs() };
    let mut op = WindowAggregator::new(spec).unwrap();
    let mut sums: BTreeMap<(i64, String), (i64, Option<i64>)> = BTreeMap::new();
    let mut partial_rows = 0;
    for from in (0..e.key.len()).step_by(997) {
        let to = (from + 997).min(e.key.len());
        op.push(&batch(&e, from, to).as_ref()).unwrap();
        let b = op.flush().unwrap().expect("a non-empty batch fires");
        assert_eq!(op.group_count(), 0, "a flush leaves nothing in state");
        partial_rows += b.len;
        let (ColumnData::I64(k), ColumnData::Timestamp(s), ColumnData::I64(n)) = (&b.columns[0].data, &b.columns[1].data, &b.columns[3].data) else { unreachable!() };
        let ColumnData::I64(q) = &b.columns[7].data else { unreachable!() };
        for r in 0..b.len {
            let valid = b.columns[7].validity.as_ref().is_none_or(|v| v[r / 8] & (1 << (r % 8)) != 0);
            let acc = sums.entry((s[r], k[r].to_string())).or_insert((0, None));
            acc.0 += n[r];
            if valid {
                acc.1 = Some(acc.1.unwrap_or(0) + q[r]);
            }
        }
    }
    assert_eq!(op.late_dropped(), 0);
    let want = reference(&e, |i| e.key[i].to_string(), size);
    assert!(partial_rows > want.len(), "batches overlap in windows, so some windows come in parts");
    assert_eq!(sums.len(), want.len());
    for ((start, key), r) in want {
        assert_eq!(sums[&(start, key.clone())], (r.n, r.sum_qty), "key {key} window {start}");
    }
    let session = WindowAggSpec { input: schema(), key_fields: vec![0], windows: Windows::session(100).unwrap(), aggs: aggs() };
    let err = WindowAggregator::new(session).unwrap().flush().unwrap_err().to_string();
    assert!(err.contains("tumbling and sliding"), "{err}");
}
