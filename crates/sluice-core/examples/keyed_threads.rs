//! What the e2e keyed window job's data path costs when every subtask is a native thread (for
//! measuring; not a test, not the runtime): Nexmark bids (auction, price, dateTime) ->
//! keyBy(auction) -> 10 s tumbling max(price), count, with 4 s bounded out-of-orderness.
//! `cargo run --release -p sluice-core --example keyed_threads -- <mode> [events] [runs]`:
//! - `chain`: one thread, generator straight into the window (the runtime's parallelism 1);
//! - `p2` / `p4`: that many threads, each generating its split of the events, scattering them by
//!   key group into 256 KiB segments of one shared pool, handing full segments to their target
//!   thread over a channel and aggregating what it receives (the runtime's keyed exchange
//!   without JavaScript: no worker isolates, no per-batch calls);
//! - `p2x` / `p4x`: the same in two phases (plan/two-phase.ts): each batch pre-aggregated per
//!   key and window before the exchange, the partial rows merged after it;
//! - `pair`: two threads each running `chain` over all the events (what the machine gives two
//!   copies of the work that share nothing).
//!
//! It answers one question for issue 18: how far a native data plane on native threads would
//! get on this machine, against the engine's worker threads. `PHASES=1` prints where each
//! thread's time went; `SEG_KB` (256) and `PER` (24) set the segment size and the segments each
//! producer owns. Watermarks go every 4 batches, after the partly filled segments; there is no
//! watermark alignment, no checkpointing and no backpressure beyond the producers' segments.
use sluice_core::batch::{BatchRef, RecordBatch, ColumnRef, DataType, Field, Schema, ValuesRef};
use sluice_core::nexmark::{EventKind, NexmarkConfig, NexmarkGenerator};
use sluice_core::segment::{scatter_to_segments, SegmentIo, SegmentLayout, SegmentRoute};
use sluice_core::window::{AggKind, AggSpec, WindowAggSpec, WindowAggregator, Windows};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, LazyLock};
use std::time::Instant;

const BATCH: usize = 8192;
static SEGMENT: LazyLock<usize> = LazyLock::new(|| std::env::var("SEG_KB").map_or(256, |v| v.parse().expect("SEG_KB: a number")) * 1024);
/// Segments each producer owns (its credits to all targets, and its current ones).
static PER_PRODUCER: LazyLock<usize> = LazyLock::new(|| std::env::var("PER").map_or(24, |v| v.parse().expect("PER: a number")));
/// Batches between watermarks (each one flushes the partly filled segments first, so that the
/// watermark follows every row before it on its channel).
const WATERMARK_EVERY: usize = 4;
const OUT_OF_ORDERNESS: i64 = 4000;

fn schema() -> Schema {
    Schema::new(vec![Field::new("auction", DataType::I64), Field::new("price", DataType::I64), Field::new("dateTime", DataType::Timestamp)])
}

/// The job's window over bids; over partial rows (auction, windowStart, windowEnd, maxPrice,
/// bids) in two phases: the maximum of the maxima and the sum of the counts.
fn window(schema: &Schema, over_partials: bool) -> WindowAggregator {
    let aggs = if over_partials {
        vec![AggSpec { name: "maxPrice".into(), kind: AggKind::Max, field: Some(3) }, AggSpec { name: "bids".into(), kind: AggKind::Sum, field: Some(4) }]
    } else {
        vec![AggSpec { name: "maxPrice".into(), kind: AggKind::Max, field: Some(1) }, AggSpec { name: "bids".into(), kind: AggKind::Count, field: None }]
    };
    let spec = WindowAggSpec { input: Arc::new(schema.clone()), key_fields: vec![0], windows: Windows::tumbling(10_000, 0).expect("windows"), aggs };
    WindowAggregator::new(spec).expect("a window")
}

/// Window rows and a checksum of their values (every column is 8 bytes wide), so that every mode
/// is seen to give the same result.
fn tally(o: &RecordBatch) -> (u64, u64) {
    let mut sum = 0u64;
    for c in &o.columns {
        if let ValuesRef::I64(v) | ValuesRef::Timestamp(v) = c.as_ref().values {
            sum = v.iter().fold(sum, |s, x| s.wrapping_add(*x as u64));
        }
    }
    (o.len as u64, sum)
}

fn add(a: (u64, u64), b: (u64, u64)) -> (u64, u64) {
    (a.0 + b.0, a.1.wrapping_add(b.1))
}

fn generator(events: u64, split: u64, splits: u64) -> NexmarkGenerator {
    let cols: Vec<String> = ["auction", "price", "dateTime"].iter().map(|s| s.to_string()).collect();
    let cfg = NexmarkConfig { event_count: events, split_index: split, split_count: splits, ..NexmarkConfig::default() };
    NexmarkGenerator::new(cfg, EventKind::Bid, Some(&cols)).expect("a generator")
}

/// Parallelism 1: each batch straight into the window, the watermark after it.
fn chain(events: u64) -> (u64, (u64, u64)) {
    let s = schema();
    let mut w = window(&s, false);
    let mut g = generator(events, 0, 1);
    let (mut rows, mut out) = (0u64, (0u64, 0u64));
    let (mut t_gen, mut t_push, mut t_wm) = (0.0, 0.0, 0.0);
    loop {
        let t0 = Instant::now();
        let Some(b) = g.next_batch(BATCH).expect("a batch") else { break };
        let t1 = Instant::now();
        let ts = b.event_time.as_deref().expect("event time");
        let max = ts.iter().copied().max().unwrap_or(i64::MIN);
        w.push(&b.as_ref()).expect("push");
        let t2 = Instant::now();
        rows += b.len as u64;
        if let Some(o) = w.advance_watermark(max - OUT_OF_ORDERNESS).expect("watermark") {
            out = add(out, tally(&o));
        }
        t_gen += (t1 - t0).as_secs_f64();
        t_push += (t2 - t1).as_secs_f64();
        t_wm += t2.elapsed().as_secs_f64();
    }
    if let Some(o) = w.advance_watermark(i64::MAX).expect("end") {
        out = add(out, tally(&o));
    }
    if std::env::var_os("PHASES").is_some() {
        eprintln!("chain: generate {t_gen:.3} s, window push {t_push:.3}, fire {t_wm:.3}");
    }
    (rows, out)
}

/// The shared segment pool. Each segment is written by the producer that holds it (as current
/// or spare) and read by the thread it was handed to, never both at once.
struct Pool {
    ptr: *mut u8,
    len: usize,
}
// SAFETY: threads touch disjoint segments; a segment changes hands only through a channel
// (which orders the writes before the reads), as in the runtime's shared pool. The scatter is
// given the whole pool, as the addon gives it the whole shared buffer, and writes only the
// segments its producer holds.
unsafe impl Send for Pool {}
// SAFETY: as above.
unsafe impl Sync for Pool {}

impl Pool {
    /// The whole pool, for the scatter (which writes only the producer's own segments).
    #[allow(clippy::mut_from_ref)]
    fn all(&self) -> &mut [u8] {
        // SAFETY: see the type's comment; the allocation lives as long as the pool.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
    fn segment(&self, s: usize) -> &[u8] {
        // SAFETY: in bounds; the segment was handed over whole.
        unsafe { std::slice::from_raw_parts(self.ptr.add(s * *SEGMENT), *SEGMENT) }
    }
}

enum Msg {
    Segment { s: i32 },
    Watermark { from: usize, wm: i64 },
    End { from: usize },
    Free { s: i32 },
}

/// One thread of `p2`/`p4`: producer of split `me`, consumer of key groups routed to `me`.
struct Subtask<'a> {
    me: usize,
    p: usize,
    pool: &'a Pool,
    layout: &'a SegmentLayout,
    schema: &'a Schema,
    window: WindowAggregator,
    /// Two phases: the pre-aggregation of each batch before the exchange.
    pre: Option<WindowAggregator>,
    to: Vec<Sender<Msg>>,
    free: Vec<i32>,
    wms: Vec<i64>,
    wm: i64,
    ended: usize,
    rows: u64,
    out: (u64, u64),
    t_gen: f64,
    t_scatter: f64,
    t_push: f64,
    t_wm: f64,
    t_wait: f64,
    t_pre: f64,
}

fn i64s(seg: &[u8], at: usize, n: usize) -> &[i64] {
    // SAFETY: the region is 8-aligned within an 8-aligned pool (the layout aligns every region
    // to 8 bytes) and holds n values written by the producer.
    let (pre, vals, _) = unsafe { seg[at..at + 8 * n].align_to::<i64>() };
    assert!(pre.is_empty(), "an unaligned segment region");
    vals
}

impl Subtask<'_> {
    fn consume(&mut self, s: i32) {
        let seg = self.pool.segment(s as usize);
        let n = u32::from_le_bytes(seg[0..4].try_into().unwrap()) as usize;
        let flags = u32::from_le_bytes(seg[4..8].try_into().unwrap());
        let c = &self.layout.columns;
        // Every column of both schemas is 8 bytes wide, without nulls.
        let columns = self
            .schema
            .fields
            .iter()
            .enumerate()
            .map(|(k, f)| {
                let v = i64s(seg, c[k].values, n);
                ColumnRef { values: if f.data_type == DataType::Timestamp { ValuesRef::Timestamp(v) } else { ValuesRef::I64(v) }, validity: None }
            })
            .collect();
        let et = if flags & 2 != 0 { i64s(seg, c[(flags >> 8) as usize].values, n) } else { i64s(seg, self.layout.event_time, n) };
        let t0 = Instant::now();
        self.window.push(&BatchRef { schema: self.schema, columns, len: n, event_time: Some(et) }).expect("push");
        self.t_push += t0.elapsed().as_secs_f64();
        self.rows += n as u64;
    }

    fn give_back(&mut self, s: i32) {
        let owner = s as usize / *PER_PRODUCER;
        if owner == self.me {
            self.free.push(s);
        } else {
            // The owner may have finished (its input ended and all its segments are back but this).
            let _ = self.to[owner].send(Msg::Free { s });
        }
    }

    fn watermark(&mut self, from: usize, wm: i64) {
        self.wms[from] = wm;
        let min = self.wms.iter().copied().min().unwrap();
        if min > self.wm {
            self.wm = min;
            let t0 = Instant::now();
            if let Some(o) = self.window.advance_watermark(min).expect("watermark") {
                self.out = add(self.out, tally(&o));
            }
            self.t_wm += t0.elapsed().as_secs_f64();
        }
    }

    fn handle(&mut self, m: Msg) {
        match m {
            Msg::Segment { s, .. } => {
                self.consume(s);
                self.give_back(s);
            }
            Msg::Watermark { from, wm } => self.watermark(from, wm),
            Msg::End { from } => {
                self.ended += 1;
                self.watermark(from, i64::MAX);
            }
            Msg::Free { s } => self.free.push(s),
        }
    }

    /// A full (or flushed) segment to target t: consumed here when t is this thread.
    fn send(&mut self, t: usize, s: i32) {
        if t == self.me {
            self.consume(s);
            self.free.push(s);
        } else {
            self.to[t].send(Msg::Segment { s }).expect("send");
        }
    }

    /// A watermark (or the end of input, `i64::MAX`) to every target, after the data sent to it.
    fn broadcast(&mut self, wm: i64) {
        for t in 0..self.p {
            if t == self.me {
                if wm == i64::MAX {
                    self.ended += 1;
                }
                self.watermark(t, wm);
            } else if wm == i64::MAX {
                self.to[t].send(Msg::End { from: self.me }).expect("send");
            } else {
                self.to[t].send(Msg::Watermark { from: self.me, wm }).expect("send");
            }
        }
    }

    fn run(&mut self, events: u64, rx: &Receiver<Msg>) {
        let mut g = generator(events, self.me as u64, self.p as u64);
        let mut cur = vec![-1i32; self.p];
        let mut batches = 0;
        let mut max_ts = i64::MIN;
        loop {
            let t0 = Instant::now();
            let Some(b) = g.next_batch(BATCH).expect("a batch") else { break };
            self.t_gen += t0.elapsed().as_secs_f64();
            while let Ok(m) = rx.try_recv() {
                self.handle(m);
            }
            let et = b.event_time.as_deref().expect("event time");
            max_ts = max_ts.max(et.iter().copied().max().unwrap_or(i64::MIN));
            // Two phases: the batch's partial aggregates per key and window go out instead, each
            // at its window's last millisecond (as plan/two-phase.ts does).
            let t0 = Instant::now();
            let partial = match &mut self.pre {
                None => None,
                Some(pre) => {
                    pre.push(&b.as_ref()).expect("pre-aggregate");
                    let Some(p) = pre.flush().expect("flush") else { continue };
                    let ends = match p.columns[2].as_ref().values {
                        ValuesRef::Timestamp(v) => v.iter().map(|e| e - 1).collect::<Vec<i64>>(),
                        _ => unreachable!(),
                    };
                    Some((p, ends))
                }
            };
            self.t_pre += t0.elapsed().as_secs_f64();
            let batch = match &partial {
                Some((p, ends)) => BatchRef { schema: &p.schema, columns: p.columns.iter().map(|c| c.as_ref()).collect(), len: p.len, event_time: Some(ends) },
                None => {
                    // The event time is the dateTime column itself, as after the runtime's timestamp assigner.
                    let cols: Vec<ColumnRef> = b.columns.iter().map(|c| c.as_ref()).collect();
                    let time = match cols[2].values {
                        ValuesRef::Timestamp(v) => v,
                        _ => unreachable!(),
                    };
                    BatchRef { schema: &b.schema, columns: cols, len: b.len, event_time: Some(time) }
                }
            };
            let mut row = 0;
            while row < batch.len {
                let mut spares = [0i32; 8];
                while (spares[0] as usize) < self.p + 1 {
                    match self.free.pop() {
                        Some(s) => {
                            spares[0] += 1;
                            spares[spares[0] as usize] = s;
                        }
                        None => {
                            let t0 = Instant::now();
                            let m = rx.recv().expect("recv");
                            self.t_wait += t0.elapsed().as_secs_f64();
                            self.handle(m);
                        }
                    }
                }
                let mut full = [0i32; 1 + 2 * 16];
                let io = SegmentIo { cur: &mut cur, spares: &mut spares, full: &mut full };
                let t0 = Instant::now();
                row = scatter_to_segments(&batch, SegmentRoute::Hash { key_fields: &[0], max_parallelism: 128 }, self.pool.all(), self.layout, io, row).expect("scatter");
                self.t_scatter += t0.elapsed().as_secs_f64();
                self.free.extend_from_slice(&spares[1..=spares[0] as usize]);
                for f in 0..full[0] as usize {
                    self.send(full[1 + 2 * f] as usize, full[2 + 2 * f]);
                }
            }
            batches += 1;
            if batches % WATERMARK_EVERY == 0 {
                self.flush(&mut cur);
                self.broadcast(max_ts - OUT_OF_ORDERNESS);
            }
        }
        self.flush(&mut cur);
        self.broadcast(i64::MAX);
        while self.ended < self.p {
            let t0 = Instant::now();
            let m = rx.recv().expect("recv");
            self.t_wait += t0.elapsed().as_secs_f64();
            self.handle(m);
        }
    }

    /// Partly filled segments go out (their row count is in their header already).
    fn flush(&mut self, cur: &mut [i32]) {
        for (t, c) in cur.iter_mut().enumerate() {
            if *c >= 0 {
                let s = std::mem::replace(c, -1);
                self.send(t, s);
            }
        }
    }
}

fn parallel(events: u64, p: usize, two_phases: bool) -> (u64, (u64, u64)) {
    let bids = schema();
    let s = if two_phases { (*window(&bids, false).output_schema()).clone() } else { bids.clone() };
    let types: Vec<DataType> = s.fields.iter().map(|f| f.data_type).collect();
    let layout = SegmentLayout::new(&types, *SEGMENT).expect("layout");
    // u64 words: an 8-aligned pool.
    let mut words = vec![0u64; p * *PER_PRODUCER * *SEGMENT / 8];
    let pool = Pool { ptr: words.as_mut_ptr().cast(), len: words.len() * 8 };
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..p).map(|_| channel::<Msg>()).unzip();
    let totals = std::thread::scope(|scope| {
        let handles: Vec<_> = rxs
            .into_iter()
            .enumerate()
            .map(|(me, rx)| {
                let (pool, layout, s, bids, to) = (&pool, &layout, &s, &bids, txs.clone());
                scope.spawn(move || {
                    let free = ((me * *PER_PRODUCER) as i32..((me + 1) * *PER_PRODUCER) as i32).collect();
                    let mut t = Subtask { me, p, pool, layout, schema: s, window: window(s, two_phases), pre: two_phases.then(|| window(bids, false)), to, free, wms: vec![i64::MIN; p], wm: i64::MIN, ended: 0, rows: 0, out: (0, 0), t_gen: 0.0, t_scatter: 0.0, t_push: 0.0, t_wm: 0.0, t_wait: 0.0, t_pre: 0.0 };
                    t.run(events, &rx);
                    if std::env::var_os("PHASES").is_some() {
                        eprintln!("thread {me}: generate {:.3} s, pre-aggregate {:.3}, scatter {:.3}, window push {:.3}, fire {:.3}, wait {:.3}", t.t_gen, t.t_pre, t.t_scatter, t.t_push, t.t_wm, t.t_wait);
                    }
                    (t.rows, t.out)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a thread")).fold((0, (0, 0)), |a, b| (a.0 + b.0, add(a.1, b.1)))
    });
    drop(words);
    totals
}

/// This process's CPU time (user + system, every thread) in seconds, from /proc (Linux; 0 elsewhere).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    // The fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')').map_or(0, |i| i + 2)..];
    let f: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15 of the whole line, in clock ticks of 1/100 s.
    let ticks: f64 = f.get(11).and_then(|u| u.parse::<f64>().ok()).unwrap_or(0.0) + f.get(12).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "chain".into());
    let events: u64 = args.next().map_or(60_000_000, |r| r.parse().expect("events: a number"));
    let runs: usize = args.next().map_or(3, |r| r.parse().expect("runs: a number"));
    for _ in 0..runs {
        let (t0, c0) = (Instant::now(), cpu_seconds());
        let (rows, out) = match mode.as_str() {
            "chain" => chain(events),
            "pair" => std::thread::scope(|scope| {
                let a = scope.spawn(|| chain(events));
                let b = scope.spawn(|| chain(events));
                let (a, b) = (a.join().unwrap(), b.join().unwrap());
                (a.0 + b.0, add(a.1, b.1))
            }),
            m if m.starts_with('p') => {
                let two = m.ends_with('x');
                parallel(events, m[1..m.len() - two as usize].parse().expect("p<threads>[x]"), two)
            }
            other => panic!("unknown mode {other}; use chain, p2, p4 or pair"),
        };
        let (s, cpu) = (t0.elapsed().as_secs_f64(), cpu_seconds() - c0);
        let done = if mode == "pair" { 2 * events } else { events };
        println!("{mode}: {rows} rows in, {} window rows (checksum {:x}), {s:.3} s ({cpu:.2} s of CPU), {:.1} M events/s", out.0, out.1, done as f64 / s / 1e6);
    }
}
