//! Sliding and session windows and first/last/countDistinct against straightforward references:
//! Flink's assignWindows loop for sliding windows, sort-and-merge per key for sessions. Rows
//! must match exactly and in order (window end, start, first arrival of the key).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use sluice_core::batch::{bit_get, Column, ColumnData, DataType, Field, RecordBatch, Schema, Utf8Builder};
use sluice_core::hash::murmur3_u64;
use sluice_core::window::{AggKind, AggSpec, WindowAggSpec, WindowAggregator, Windows};

fn rnd(i: u64, s: u32) -> u32 {
    murmur3_u64(i, s)
}

#[derive(Clone)]
struct Ev {
    key: i64,
    name: Option<String>,
    price: f64,
    qty: Option<i32>,
    ts: i64,
    gap: i64,
}

/// Random events out of order by at most `bound` ms; even timestamps and odd gaps when `even`.
fn events(n: usize, keys: u32, step: i64, bound: i64, seed: u32, even: bool) -> Vec<Ev> {
    (0..n as u64)
        .map(|i| {
            let r = |k: u32| rnd(i, seed.wrapping_mul(31).wrapping_add(k));
            let mut ts = 1_000_000 + i as i64 * step - (r(1) as i64 % (bound + 1));
            if even {
                ts -= ts.rem_euclid(2);
            }
            Ev {
                key: (r(2) % keys) as i64,
                name: if r(3) % 7 == 0 { None } else { Some(format!("n{}", r(4) % 5)) },
                price: (r(5) % 4000) as f64 / 4.0,
                qty: if r(6) % 5 == 0 { None } else { Some((r(7) % 200) as i32 - 50) },
                ts,
                gap: 2 * (10 + (r(8) % 40) as i64) + 1,
            }
        })
        .collect()
}

fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("key", DataType::I64),
        Field::new("name", DataType::Utf8),
        Field::new("price", DataType::F64),
        Field::new("qty", DataType::I32),
        Field::new("gap", DataType::I64),
    ]))
}

fn batch(e: &[Ev]) -> RecordBatch {
    let n = e.len();
    let mut names = Utf8Builder::with_capacity(n, 0);
    let mut nv = vec![0u8; n.div_ceil(8)];
    let mut qv = vec![0u8; n.div_ceil(8)];
    for (i, x) in e.iter().enumerate() {
        names.push(x.name.as_deref().unwrap_or("").as_bytes());
        if x.name.is_some() {
            nv[i / 8] |= 1 << (i % 8);
        }
        if x.qty.is_some() {
            qv[i / 8] |= 1 << (i % 8);
        }
    }
    RecordBatch {
        schema: schema(),
        columns: vec![
            Column::new(ColumnData::I64(e.iter().map(|x| x.key).collect())),
            Column { data: names.finish(), validity: Some(nv) },
            Column::new(ColumnData::F64(e.iter().map(|x| x.price).collect())),
            Column { data: ColumnData::I32(e.iter().map(|x| x.qty.unwrap_or(0)).collect()), validity: Some(qv) },
            Column::new(ColumnData::I64(e.iter().map(|x| x.gap).collect())),
        ],
        len: n,
        event_time: Some(e.iter().map(|x| x.ts).collect()),
    }
}

fn aggs() -> Vec<AggSpec> {
    let a = |name: &str, kind, field| AggSpec { name: name.into(), kind, field };
    vec![
        a("n", AggKind::Count, None),
        a("total", AggKind::Sum, Some(2)),
        a("hi", AggKind::Max, Some(2)),
        a("lowQty", AggKind::Min, Some(3)),
        a("firstName", AggKind::First, Some(1)),
        a("lastName", AggKind::Last, Some(1)),
        a("lastQty", AggKind::Last, Some(3)),
        a("names", AggKind::CountDistinct, Some(1)),
        a("prices", AggKind::CountDistinct, Some(2)),
    ]
}

/// One output row as strings, column by column.
fn rows_of(b: &RecordBatch) -> Vec<Vec<String>> {
    (0..b.len)
        .map(|r| {
            b.columns
                .iter()
                .map(|c| {
                    if !c.validity.as_ref().is_none_or(|v| bit_get(v, r)) {
                        return "null".to_string();
                    }
                    match &c.data {
                        ColumnData::I64(v) | ColumnData::Timestamp(v) => v[r].to_string(),
                        ColumnData::I32(v) => v[r].to_string(),
                        ColumnData::F64(v) => format!("{:?}", v[r]),
                        ColumnData::Bool(v) => bit_get(v, r).to_string(),
                        ColumnData::Utf8 { offsets, data } => {
                            String::from_utf8(data[offsets[r] as usize..offsets[r + 1] as usize].to_vec()).unwrap()
                        }
                    }
                })
                .collect()
        })
        .collect()
}

/// Runs the operator over batches of `rows`, with the watermark `max ts - bound - 1` after each.
fn run(e: &[Ev], key_fields: Vec<usize>, windows: Windows, rows: usize, bound: i64) -> (Vec<Vec<String>>, u64) {
    let mut op = WindowAggregator::new(WindowAggSpec { input: schema(), key_fields, windows, aggs: aggs() }).unwrap();
    let mut out = Vec::new();
    let mut max_ts = i64::MIN;
    for chunk in e.chunks(rows) {
        op.push(&batch(chunk).as_ref()).unwrap();
        max_ts = max_ts.max(chunk.iter().map(|x| x.ts).max().unwrap());
        if let Some(b) = op.advance_watermark(max_ts - bound - 1).unwrap() {
            out.extend(rows_of(&b));
        }
    }
    if let Some(b) = op.advance_watermark(i64::MAX).unwrap() {
        out.extend(rows_of(&b));
    }
    (out, op.late_dropped())
}

/// The expected row of a window: key columns, bounds, then `aggs()` over records in arrival order.
fn expected(key: &[String], start: i64, end: i64, evs: &[&Ev]) -> Vec<String> {
    let mut r: Vec<String> = key.to_vec();
    r.push(start.to_string());
    r.push(end.to_string());
    let names: Vec<&String> = evs.iter().filter_map(|e| e.name.as_ref()).collect();
    let qty: Vec<i32> = evs.iter().filter_map(|e| e.qty).collect();
    let opt = |o: Option<String>| o.unwrap_or_else(|| "null".into());
    r.push(evs.len().to_string());
    r.push(format!("{:?}", evs.iter().map(|e| e.price).sum::<f64>()));
    r.push(format!("{:?}", evs.iter().map(|e| e.price).fold(f64::NEG_INFINITY, f64::max)));
    r.push(opt(qty.iter().min().map(|q| q.to_string())));
    r.push(opt(names.first().map(|s| s.to_string())));
    r.push(opt(names.last().map(|s| s.to_string())));
    r.push(opt(qty.last().map(|q| q.to_string())));
    r.push(names.iter().collect::<BTreeSet<_>>().len().to_string());
    r.push(evs.iter().map(|e| e.price.to_bits()).collect::<BTreeSet<_>>().len().to_string());
    r
}

fn key_strings(e: &Ev, composite: bool) -> Vec<String> {
    if composite {
        vec![e.name.clone().unwrap_or_else(|| "null".into()), e.key.to_string()]
    } else {
        vec![e.key.to_string()]
    }
}

/// Windows keyed by (end, start, first arrival) -> (key, records).
type Groups<'a> = BTreeMap<(i64, i64, usize), (Vec<String>, Vec<&'a Ev>)>;
/// (window start, key) -> (first arrival, records).
type ByWindow<'a> = HashMap<(i64, Vec<String>), (usize, Vec<&'a Ev>)>;
/// A session being built: start, end, (arrival, record) members.
type Building<'a> = Option<(i64, i64, Vec<(usize, &'a Ev)>)>;

fn finish(groups: Groups<'_>) -> Vec<Vec<String>> {
    groups.into_iter().map(|((end, start, _), (key, evs))| expected(&key, start, end, &evs)).collect()
}

/// Flink's SlidingEventTimeWindows.assignWindows per record.
fn sliding_reference(e: &[Ev], composite: bool, size: i64, slide: i64, offset: i64) -> Vec<Vec<String>> {
    let mut by: ByWindow<'_> = HashMap::new();
    for (i, x) in e.iter().enumerate() {
        let last = x.ts - (x.ts - offset).rem_euclid(slide);
        let mut start = last;
        while start > x.ts - size {
            by.entry((start, key_strings(x, composite))).or_insert((i, vec![])).1.push(x);
            start -= slide;
        }
    }
    finish(by.into_iter().map(|((start, key), (first, evs))| ((start + size, start, first), (key, evs))).collect())
}

/// Per key: windows [ts, ts + gap) sorted by start, merged while they touch or overlap.
fn session_reference<'a>(e: &'a [Ev], composite: bool, gap: Option<i64>) -> Vec<Vec<String>> {
    let mut by: HashMap<Vec<String>, Vec<(usize, &'a Ev)>> = HashMap::new();
    for (i, x) in e.iter().enumerate() {
        by.entry(key_strings(x, composite)).or_default().push((i, x));
    }
    let mut groups: Groups<'a> = Groups::new();
    for (key, mut list) in by {
        list.sort_by_key(|&(i, x)| (x.ts, i));
        let mut cur: Building<'a> = None;
        let mut flush = |cur: Building<'a>| {
            if let Some((s, end, mut m)) = cur {
                m.sort_by_key(|&(i, _)| i);
                groups.insert((end, s, m[0].0), (key.clone(), m.into_iter().map(|(_, x)| x).collect()));
            }
        };
        for (i, x) in list {
            let end = x.ts + gap.unwrap_or(x.gap);
            match &mut cur {
                Some((_, e, m)) if x.ts <= *e => {
                    *e = (*e).max(end);
                    m.push((i, x));
                }
                _ => {
                    flush(cur.take());
                    cur = Some((x.ts, end, vec![(i, x)]));
                }
            }
        }
        flush(cur);
    }
    finish(groups)
}

#[test]
fn sliding_windows_match_flinks_assignment() {
    for (c, &(size, slide, offset)) in [(1000, 250, 0), (1000, 300, 70), (700, 700, -200), (90, 40, 13), (5000, 1500, -1400)].iter().enumerate() {
        for composite in [false, true] {
            let bound = 150;
            let e = events(6000, 40, 3, bound, c as u32 + 1, false);
            let keys = if composite { vec![1, 0] } else { vec![0] };
            let (got, late) = run(&e, keys, Windows::sliding(size, slide, offset).unwrap(), 333 + c * 100, bound);
            assert_eq!(late, 0, "out-of-orderness within the bound is never late");
            let want = sliding_reference(&e, composite, size, slide, offset);
            assert_eq!(got.len(), want.len(), "size {size} slide {slide} offset {offset}");
            assert_eq!(got, want, "size {size} slide {slide} offset {offset}");
        }
    }
}

#[test]
fn sliding_windows_with_many_short_lived_keys() {
    for composite in [false, true] {
        let e = events(20_000, 5000, 1, 30, 9, false);
        let keys = if composite { vec![1, 0] } else { vec![0] };
        let (got, _) = run(&e, keys, Windows::sliding(100, 40, 7).unwrap(), 512, 30);
        assert_eq!(got, sliding_reference(&e, composite, 100, 40, 7));
    }
}

#[test]
fn session_windows_match_sort_and_merge() {
    // Even timestamps and odd gaps: no record exactly touches a session that already fired.
    for (seed, gap, keys, step, bound, rows) in [(1, 101, 30, 4, 300, 100), (2, 41, 5000, 2, 40, 512), (3, 301, 8, 2, 600, 1)] {
        for composite in [false, true] {
            let e = events(if rows == 1 { 3000 } else { 20_000 }, keys, step, bound, seed, true);
            let k = if composite { vec![1, 0] } else { vec![0] };
            let (got, late) = run(&e, k.clone(), Windows::session(gap).unwrap(), rows, bound + 2);
            assert_eq!(late, 0);
            let want = session_reference(&e, composite, Some(gap));
            assert!(want.iter().any(|r| r[k.len() + 2] != "1"), "sessions merge");
            assert_eq!(got, want, "seed {seed}");
            // The same with the gap from a column.
            let (got, late) = run(&e, k, Windows::DynamicSession { gap_field: 4 }, rows, bound + 2);
            assert_eq!(late, 0);
            assert_eq!(got, session_reference(&e, composite, None), "seed {seed}, dynamic gap");
        }
    }
}

fn ev(key: i64, ts: i64, price: f64) -> Ev {
    Ev { key, name: Some(format!("p{price}")), price, qty: Some(1), ts, gap: 10 }
}

#[test]
fn sliding_late_records_and_skipped_windows() {
    let mut op = WindowAggregator::new(WindowAggSpec {
        input: schema(),
        key_fields: vec![0],
        windows: Windows::sliding(10, 5, 0).unwrap(),
        aggs: aggs(),
    })
    .unwrap();
    let mut out = vec![];
    for (ts, wm) in [(3, 2), (17, 16), (12, 16), (4, 16)] {
        op.push(&batch(&[ev(1, ts, ts as f64)]).as_ref()).unwrap();
        if let Some(b) = op.advance_watermark(wm).unwrap() {
            out.extend(rows_of(&b));
        }
    }
    out.extend(rows_of(&op.advance_watermark(i64::MAX).unwrap().unwrap()));
    assert_eq!(op.late_dropped(), 1);
    let bounds: Vec<(String, String, String)> = out.iter().map(|r| (r[1].clone(), r[2].clone(), r[3].clone())).collect();
    let s = |a: i64, b: i64, n: i64| (a.to_string(), b.to_string(), n.to_string());
    // [5, 15) was complete before 12 arrived: never fires.
    assert_eq!(bounds, vec![s(-5, 5, 1), s(0, 10, 1), s(10, 20, 2), s(15, 25, 1)]);
}

#[test]
fn session_bridging_and_late_records() {
    let mut op = WindowAggregator::new(WindowAggSpec {
        input: schema(),
        key_fields: vec![0],
        windows: Windows::session(10).unwrap(),
        aggs: aggs(),
    })
    .unwrap();
    let mut out = vec![];
    for (e, wm) in [(ev(1, 100, 1.0), 79), (ev(1, 120, 2.0), 99), (ev(2, 115, 9.0), 99), (ev(1, 110, 3.0), 99), (ev(2, 140, 8.0), 119), (ev(1, 95, 4.0), 119), (ev(1, 50, 5.0), 119)] {
        op.push(&batch(&[e]).as_ref()).unwrap();
        if let Some(b) = op.advance_watermark(wm).unwrap() {
            out.extend(rows_of(&b));
        }
    }
    out.extend(rows_of(&op.advance_watermark(i64::MAX).unwrap().unwrap()));
    assert_eq!(op.late_dropped(), 1);
    let got: Vec<Vec<&str>> = out.iter().map(|r| r[..8].iter().map(|s| s.as_str()).collect()).collect();
    assert_eq!(
        got,
        vec![
            vec!["2", "115", "125", "1", "9.0", "9.0", "1", "p9"],
            vec!["1", "95", "130", "4", "10.0", "4.0", "1", "p1"],
            vec!["2", "140", "150", "1", "8.0", "8.0", "1", "p8"],
        ]
    );
}

#[test]
fn dynamic_gaps_must_be_positive() {
    let mut op = WindowAggregator::new(WindowAggSpec {
        input: schema(),
        key_fields: vec![0],
        windows: Windows::DynamicSession { gap_field: 4 },
        aggs: aggs(),
    })
    .unwrap();
    let mut e = ev(1, 5, 1.0);
    e.gap = 0;
    let err = op.push(&batch(&[ev(1, 4, 1.0), e]).as_ref()).unwrap_err();
    assert!(err.message.contains("session gap of row 1 of the batch is 0 ms; a session gap must be above 0 ms"), "{}", err.message);
    assert_eq!(op.group_count(), 0, "nothing was added");
}

#[test]
fn bad_assigners_are_rejected_with_advice() {
    let msg = |r: sluice_core::Result<Windows>| r.unwrap_err().message;
    assert!(msg(Windows::sliding(0, 1, 0)).contains("a sliding window needs a size above 0 ms"));
    assert!(msg(Windows::sliding(10, 0, 0)).contains("needs a slide above 0 ms"));
    assert!(msg(Windows::sliding(10, 20, 0)).contains("use a slide of at most the size"));
    assert!(msg(Windows::sliding(10, 5, 5)).contains("offset must be smaller than its slide (5 ms)"));
    assert!(msg(Windows::sliding(10, 5, -5)).contains("offset must be smaller"));
    assert!(msg(Windows::session(0)).contains("a session window needs a gap above 0 ms, got 0"));
    assert!(msg(Windows::session(-3)).contains("got -3"));
    assert!(msg(Windows::tumbling(10, -10)).contains("offset must be smaller than the window size"));
    // An assigner built around the checks is checked again.
    let spec = WindowAggSpec { input: schema(), key_fields: vec![0], windows: Windows::Sliding { size: 10, slide: 20, offset: 0 }, aggs: aggs() };
    assert!(WindowAggregator::new(spec).err().unwrap().message.contains("slide"));
    let spec = WindowAggSpec { input: schema(), key_fields: vec![0], windows: Windows::DynamicSession { gap_field: 1 }, aggs: aggs() };
    assert!(WindowAggregator::new(spec).err().unwrap().message.contains("must be i64"));
}

#[test]
fn long_strings_keep_first_and_last_exact() {
    // Megabytes of replaced `last` values: the string arena is compacted on the way.
    let s = Arc::new(Schema::new(vec![Field::new("k", DataType::I32), Field::new("s", DataType::Utf8)]));
    let aggs = vec![
        AggSpec { name: "first".into(), kind: AggKind::First, field: Some(1) },
        AggSpec { name: "last".into(), kind: AggKind::Last, field: Some(1) },
        AggSpec { name: "distinct".into(), kind: AggKind::CountDistinct, field: Some(1) },
    ];
    for windows in [Windows::tumbling(1_000_000, 0).unwrap(), Windows::sliding(1_000_000, 500_000, 0).unwrap(), Windows::session(1000).unwrap()] {
        let mut op = WindowAggregator::new(WindowAggSpec { input: s.clone(), key_fields: vec![0], windows, aggs: aggs.clone() }).unwrap();
        let text = |i: usize| format!("{i:04}").repeat(500);
        let rows = 10;
        for b in 0..800 {
            let mut u = Utf8Builder::with_capacity(rows, 0);
            for i in 0..rows {
                u.push(text(b * rows + i).as_bytes());
            }
            let batch = RecordBatch {
                schema: s.clone(),
                columns: vec![Column::new(ColumnData::I32(vec![(b % 2) as i32; rows])), Column::new(u.finish())],
                len: rows,
                event_time: Some((0..rows).map(|i| (b * rows + i) as i64).collect()),
            };
            op.push(&batch.as_ref()).unwrap();
        }
        let out = rows_of(&op.advance_watermark(i64::MAX).unwrap().unwrap());
        // Key 0 has batches 0, 2, ..., 798; key 1 batches 1, 3, ..., 799.
        let first_row = &out[0];
        assert_eq!(first_row[0], "0");
        assert_eq!(first_row[3], text(0));
        assert_eq!(first_row[4], text(798 * rows + 9));
        assert_eq!(first_row[5], "4000");
        let key1 = out.iter().find(|r| r[0] == "1").unwrap();
        assert_eq!(key1[3], text(rows));
        assert_eq!(key1[4], text(799 * rows + 9));
    }
}

/// Count windows: per key, at its `slide`-th, `2 slide`-th ... record, its last `size` records.
fn count_reference(e: &[Ev], composite: bool, size: usize, slide: usize) -> (Vec<Vec<String>>, u64) {
    let mut by: HashMap<Vec<String>, Vec<&Ev>> = HashMap::new();
    let mut out = Vec::new();
    for x in e {
        let key = key_strings(x, composite);
        let list = by.entry(key.clone()).or_default();
        list.push(x);
        let c = list.len();
        if c.is_multiple_of(slide) {
            let mut row = expected(&key, 0, 0, &list[c - c.min(size)..]);
            row.drain(key.len()..key.len() + 2); // no window bounds
            out.push(row);
        }
    }
    let unfired = by.values().map(|l| (l.len() % slide) as u64).sum();
    (out, unfired)
}

#[test]
fn count_windows_match_the_last_records_per_key() {
    for (seed, keys) in [(1u32, 7u32), (2, 300), (3, 3000)] {
        let e = events(20_000, keys, 1, 50, seed, false);
        for (size, slide) in [(5usize, 5usize), (1, 1), (4, 2), (6, 4), (3, 7), (10, 1)] {
            for (composite, key_fields) in [(false, vec![0]), (true, vec![1, 0])] {
                for rows in [1usize, 97, 4096] {
                    let mut op = WindowAggregator::new(WindowAggSpec {
                        input: schema(),
                        key_fields: key_fields.clone(),
                        windows: Windows::count(size as i64, slide as i64).unwrap(),
                        aggs: aggs(),
                    })
                    .unwrap();
                    let mut got = Vec::new();
                    for chunk in e.chunks(rows) {
                        let mut b = batch(chunk);
                        b.event_time = None; // count windows need no time
                        op.push(&b.as_ref()).unwrap();
                        if let Some(out) = op.take_pushed_output() {
                            got.extend(rows_of(&out));
                        }
                        assert!(op.advance_watermark(i64::MAX).unwrap().is_none());
                    }
                    let (want, unfired) = count_reference(&e, composite, size, slide);
                    assert_eq!(got.len(), want.len(), "size {size} slide {slide} composite {composite} rows {rows}");
                    assert!(got == want, "size {size} slide {slide} composite {composite} rows {rows}");
                    assert_eq!(op.unfired_rows(), unfired);
                }
            }
        }
    }
    assert!(Windows::count(0, 1).is_err());
    assert!(Windows::count(3, 0).is_err());
}

/// A window in the lateness reference: start, key, end, first arrival, (arrival, record).
type RefWindow<'a> = (i64, Vec<String>, i64, usize, Vec<(usize, &'a Ev)>);

/// Flink's WindowOperator with allowed lateness, record by record: a record is added to each of
/// its windows not yet past end - 1 + lateness, and fires each such window that is already
/// complete (latest start first); the watermark fires windows as they complete (by end, start,
/// first arrival) and drops them once their lateness has passed.
struct LatenessReference<'a> {
    composite: bool,
    lateness: i64,
    wm: i64,
    /// Sliding: (start, key) -> (end, first arrival, records); sessions: the same per session.
    windows: Vec<RefWindow<'a>>,
    out: Vec<Vec<String>>,
    late: Vec<usize>,
}

impl<'a> LatenessReference<'a> {
    fn row(&self, w: &RefWindow<'a>) -> Vec<String> {
        let mut m = w.4.clone();
        m.sort_by_key(|&(i, _)| i);
        expected(&w.1, w.0, w.2, &m.into_iter().map(|(_, x)| x).collect::<Vec<_>>())
    }

    fn add(&mut self, i: usize, x: &'a Ev, assigner: Windows) {
        let key = key_strings(x, self.composite);
        let (wm, l) = (self.wm, self.lateness);
        let assigner = match assigner {
            Windows::Tumbling { size, offset } => Windows::Sliding { size, slide: size, offset },
            a => a,
        };
        match assigner {
            Windows::Sliding { size, slide, offset } => {
                let mut start = x.ts - (x.ts - offset).rem_euclid(slide);
                let mut placed = false;
                while start > x.ts - size {
                    let end = start + size;
                    if end - 1 + l > wm {
                        placed = true;
                        let at = match self.windows.iter().position(|w| w.0 == start && w.1 == key) {
                            Some(p) => p,
                            None => {
                                self.windows.push((start, key.clone(), end, i, vec![]));
                                self.windows.len() - 1
                            }
                        };
                        self.windows[at].4.push((i, x));
                        if end - 1 <= wm {
                            let r = self.row(&self.windows[at]);
                            self.out.push(r);
                        }
                    }
                    start -= slide;
                }
                if !placed {
                    self.late.push(i);
                }
            }
            _ => {
                let gap = if let Windows::Session { gap } = assigner { gap } else { x.gap };
                let (mut s, mut e, mut first, mut m) = (x.ts, x.ts + gap, i, vec![(i, x)]);
                let (touch, keep): (Vec<_>, Vec<_>) =
                    std::mem::take(&mut self.windows).into_iter().partition(|w| w.1 == key && w.0 <= x.ts + gap && w.2 >= x.ts);
                self.windows = keep;
                for w in &touch {
                    s = s.min(w.0);
                    e = e.max(w.2);
                    first = first.min(w.3);
                    m.extend(w.4.iter().copied());
                }
                if e - 1 + l <= wm {
                    self.windows.extend(touch);
                    self.late.push(i);
                    return;
                }
                let w = (s, key, e, first, m);
                if e - 1 <= wm {
                    self.out.push(self.row(&w));
                }
                self.windows.push(w);
            }
        }
    }

    fn advance(&mut self, wm: i64) {
        if wm <= self.wm {
            return;
        }
        let mut due: Vec<_> = self.windows.iter().filter(|w| w.2 - 1 > self.wm && w.2 - 1 <= wm).collect();
        due.sort_by_key(|w| (w.2, w.0, w.3));
        let rows: Vec<_> = due.into_iter().map(|w| self.row(w)).collect();
        self.out.extend(rows);
        let l = self.lateness;
        self.windows.retain(|w| wm == i64::MAX || w.2 - 1 + l > wm);
        self.wm = wm;
    }
}

#[test]
fn allowed_lateness_refires_windows_like_flinks_operator() {
    // Out of order by up to 400 ms, watermark 100 ms behind the highest timestamp: many records
    // arrive after their window fired, some within the allowed lateness, some beyond it.
    let windows = [
        Windows::tumbling(200, 0).unwrap(),
        Windows::sliding(300, 100, 0).unwrap(),
        Windows::sliding(250, 100, 30).unwrap(),
        Windows::session(41).unwrap(),
        Windows::DynamicSession { gap_field: 4 },
    ];
    let mut too_late = 0;
    for (c, &assigner) in windows.iter().enumerate() {
        for composite in [false, true] {
            for rows in [1, 97, 500] {
                for lateness in [0, 150] {
                    let e = events(3000, 12, 2, 400, c as u32 * 7 + rows as u32, true);
                    let keys = if composite { vec![1, 0] } else { vec![0] };
                    let mut op = WindowAggregator::new(WindowAggSpec { input: schema(), key_fields: keys, windows: assigner, aggs: aggs() }).unwrap();
                    op.set_allowed_lateness(lateness).unwrap();
                    let mut r = LatenessReference { composite, lateness, wm: i64::MIN, windows: vec![], out: vec![], late: vec![] };
                    let (mut got, mut late) = (vec![], vec![]);
                    let mut max_ts = i64::MIN;
                    for (ci, chunk) in e.chunks(rows).enumerate() {
                        op.push(&batch(chunk).as_ref()).unwrap();
                        late.extend(op.late_rows().iter().map(|&x| ci * rows + x as usize));
                        if let Some(b) = op.take_pushed_output() {
                            got.extend(rows_of(&b));
                        }
                        for (j, x) in chunk.iter().enumerate() {
                            r.add(ci * rows + j, x, assigner);
                        }
                        max_ts = max_ts.max(chunk.iter().map(|x| x.ts).max().unwrap());
                        if let Some(b) = op.advance_watermark(max_ts - 101).unwrap() {
                            got.extend(rows_of(&b));
                        }
                        r.advance(max_ts - 101);
                    }
                    if let Some(b) = op.advance_watermark(i64::MAX).unwrap() {
                        got.extend(rows_of(&b));
                    }
                    r.advance(i64::MAX);
                    let what = format!("{assigner:?} composite {composite} rows {rows} lateness {lateness}");
                    too_late += r.late.len();
                    assert_eq!(late, r.late, "{what}: late rows");
                    assert_eq!(op.late_dropped() as usize, r.late.len(), "{what}");
                    assert_eq!(got.len(), r.out.len(), "{what}: rows");
                    assert_eq!(got, r.out, "{what}");
                    if lateness > 0 && rows == 1 {
                        let fired: BTreeSet<&[String]> = r.out.iter().map(|x| &x[..x.len() - 9]).collect();
                        assert!(r.out.len() > fired.len() + 10, "{what}: windows fire again");
                    }
                }
            }
        }
    }
    assert!(too_late > 1000, "some records are too late: {too_late}");
}
