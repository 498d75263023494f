//! Times the Nexmark generator alone (for profiling; not a test): events of a kind (bids by
//! default) with the given columns in 8192-row batches, as the bench's table-q2 case reads them:
//! `cargo run --release -p sluice-core --example nexmark_gen -- [events] [columns] [runs] [kind]`.
use sluice_core::nexmark::{EventKind, NexmarkConfig, NexmarkGenerator};
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let events: u64 = args.next().map_or(10_000_000, |r| r.parse().expect("events: a number"));
    let cols: Vec<String> = args.next().unwrap_or_else(|| "auction,price,dateTime".into()).split(',').map(String::from).collect();
    let runs: usize = args.next().map_or(5, |r| r.parse().expect("runs: a number"));
    let kind = EventKind::parse(&args.next().unwrap_or_else(|| "bid".into())).expect("kind: person, auction or bid");
    for _ in 0..runs {
        let cfg = NexmarkConfig { event_count: events, ..NexmarkConfig::default() };
        let mut g = NexmarkGenerator::new(cfg, kind, Some(&cols)).expect("a generator");
        let t0 = Instant::now();
        let mut rows = 0;
        while let Some(b) = g.next_batch(8192).unwrap() {
            rows += b.len;
        }
        let s = t0.elapsed().as_secs_f64();
        println!("{rows} rows, {:.3} s, {:.1} M events/s", s, events as f64 / s / 1e6);
    }
}
