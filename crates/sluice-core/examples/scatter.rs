//! Times the exchange scatter alone (for profiling; not a test): 5-column bid-like batches of
//! 8192 rows (auction, bidder, price: i64; channel: short utf8; dateTime: timestamp, also the
//! event time) hash-partitioned by auction to 2 targets in 256 KiB segments, each full segment
//! given back at once: `cargo run --release -p sluice-core --example scatter -- [rows] [runs] [q7]`.
//! With `q7`, whole bids as Nexmark q7 exchanges them, keyed by price: seven columns, of which
//! three text (channel; url and extra, about 63 and 67 bytes).
use sluice_core::batch::{BatchRef, ColumnRef, DataType, Field, Schema, ValuesRef};
use sluice_core::segment::{scatter_to_segments, SegmentIo, SegmentLayout, SegmentRoute};
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let rows: usize = args.next().map_or(20_000_000, |r| r.parse().expect("rows: a number"));
    let runs: usize = args.next().map_or(5, |r| r.parse().expect("runs: a number"));
    let q7 = args.next().is_some_and(|a| a == "q7");
    let types: Vec<DataType> = if q7 {
        vec![DataType::I64, DataType::I64, DataType::I64, DataType::Utf8, DataType::Utf8, DataType::Timestamp, DataType::Utf8]
    } else {
        vec![DataType::I64, DataType::I64, DataType::I64, DataType::Utf8, DataType::Timestamp]
    };
    let schema = Schema::new(types.iter().enumerate().map(|(i, t)| Field::new(format!("c{i}"), *t)).collect());
    const B: usize = 8192;
    let names = ["Google", "Facebook", "Baidu", "Apple", "channel-1234"];
    let auction: Vec<i64> = (0..B as u64).map(|i| 1000 + ((i * 2654435761) % 10_007) as i64).collect();
    let bidder: Vec<i64> = (0..B as i64).map(|i| i * 7).collect();
    let price: Vec<i64> = (0..B as i64).map(|i| i * 13 % 100_000).collect();
    let mut offsets = vec![0i32];
    let mut data = Vec::new();
    for i in 0..B {
        data.extend_from_slice(names[i % 5].as_bytes());
        offsets.push(data.len() as i32);
    }
    let text = |len: usize| {
        let mut offsets = vec![0i32];
        let mut data = Vec::new();
        for i in 0..B {
            data.extend((0..len - 4 + i % 9).map(|j| b'a' + ((i + j) % 26) as u8));
            offsets.push(data.len() as i32);
        }
        (offsets, data)
    };
    let (url, extra) = (text(63), text(67));
    let ts: Vec<i64> = (0..B as i64).map(|i| 1_700_000_000_000 + i).collect();
    let layout = SegmentLayout::new(&types, 256 * 1024).expect("layout");
    let segments = 16;
    let mut pool = vec![0u8; segments * layout.segment_bytes];
    for _ in 0..runs {
        let t0 = Instant::now();
        let mut cur = [-1i32; 2];
        let mut free: Vec<i32> = (0..segments as i32).collect();
        let mut done = 0;
        while done < rows {
            let mut columns = vec![
                ColumnRef { values: ValuesRef::I64(&auction), validity: None },
                ColumnRef { values: ValuesRef::I64(&bidder), validity: None },
                ColumnRef { values: ValuesRef::I64(&price), validity: None },
                ColumnRef { values: ValuesRef::Utf8 { offsets: &offsets, data: &data }, validity: None },
                ColumnRef { values: ValuesRef::Timestamp(&ts), validity: None },
            ];
            if q7 {
                columns.insert(4, ColumnRef { values: ValuesRef::Utf8 { offsets: &url.0, data: &url.1 }, validity: None });
                columns.push(ColumnRef { values: ValuesRef::Utf8 { offsets: &extra.0, data: &extra.1 }, validity: None });
            }
            let batch = BatchRef { schema: &schema, columns, len: B, event_time: Some(&ts) };
            let mut row = 0;
            while row < B {
                let mut spares = [0i32; 4];
                while spares[0] < 3 {
                    spares[0] += 1;
                    spares[spares[0] as usize] = free.pop().expect("a free segment");
                }
                let mut full = [0i32; 11];
                let io = SegmentIo { cur: &mut cur, spares: &mut spares, full: &mut full };
                row = scatter_to_segments(&batch, SegmentRoute::Hash { key_fields: if q7 { &[2] } else { &[0] }, max_parallelism: 128 }, &mut pool, &layout, io, row).expect("scatter");
                for f in 0..full[0] as usize {
                    free.push(full[2 + 2 * f]);
                }
                free.extend_from_slice(&spares[1..=spares[0] as usize]);
            }
            done += B;
        }
        let s = t0.elapsed().as_secs_f64();
        println!("{:.2} ns/row", s * 1e9 / done as f64);
    }
}
