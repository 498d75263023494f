//! Times the JSON Lines or CSV decoder alone over a file (for profiling; not a test):
//! `cargo run --release -p sluice-core --example decode_text -- <jsonl|csv|bids> <file> [runs]`.
//! The schema is the `decode-jsonl` bench case's (bench/cases.ts); `bids`: JSON Lines of the
//! `kafka-source` case's bids (bench/kafka.ts).
use sluice_core::batch::DataType;
use sluice_core::text::csv::CsvDecoder;
use sluice_core::text::jsonl::JsonlDecoder;
use sluice_core::text::TextField;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: decode_text <jsonl|csv|bids> <file> [runs]";
    let format = args.next().expect(usage);
    let path = args.next().expect(usage);
    let runs: usize = args.next().map_or(5, |r| r.parse().expect("runs: a number"));
    let bytes = std::fs::read(&path).expect("readable file");
    let f = |name: &str, data_type, nullable| TextField { name: name.into(), data_type, nullable };
    let fields = vec![
        f("id", DataType::I64, false),
        f("price", DataType::F64, false),
        f("name", DataType::Utf8, false),
        f("at", DataType::Timestamp, false),
        f("ok", DataType::Bool, false),
        f("note", DataType::Utf8, true),
    ];
    let bids = vec![
        f("auction", DataType::I64, false),
        f("bidder", DataType::I64, false),
        f("price", DataType::I64, false),
        f("channel", DataType::Utf8, false),
        f("url", DataType::Utf8, false),
        f("dateTime", DataType::Timestamp, false),
        f("extra", DataType::Utf8, false),
    ];
    let jsonl = JsonlDecoder::new(if format == "bids" { bids } else { fields.clone() }, format!("file '{path}'"));
    for _ in 0..runs {
        let t0 = Instant::now();
        let mut csv = CsvDecoder::new(fields.clone(), format!("file '{path}'"), ",", true);
        let (mut pos, mut line, mut rows) = (0usize, 0u64, 0usize);
        while pos < bytes.len() {
            // The file reader's chunks: 1 MiB of whole lines, 8192 rows a batch.
            let mut end = (pos + (1 << 20)).min(bytes.len());
            if end < bytes.len() {
                end = pos + bytes[pos..end].iter().rposition(|&b| b == b'\n').expect("lines under 1 MiB") + 1;
            }
            let d = match format.as_str() {
                "jsonl" | "bids" => jsonl.decode(&bytes[pos..end], line, 8192),
                "csv" => csv.decode(&bytes[pos..end], line, 8192, end == bytes.len()).expect("a good header"),
                _ => panic!("{usage}"),
            };
            assert!(d.bad.is_empty(), "{:?}", d.bad.first());
            pos += d.consumed;
            line += d.lines;
            rows += d.batch.len;
        }
        let s = t0.elapsed().as_secs_f64();
        println!("{rows} rows in {s:.3} s: {:.1} ns/row", s * 1e9 / rows as f64);
    }
}
