//! Times the calc operator alone (for profiling; not a test) over the `calc-kernel` bench case's
//! batches (bench/cases.ts): `WHERE MOD(a, 10) < 8`, `x * 0.908 + 1.5`, `a * 3 + 7`, 8192 rows a
//! batch: `cargo run --release -p sluice-core --example calc_kernel -- [rows] [runs]`.
use sluice_core::batch::{BatchRef, ColumnRef, DataType, Field, Schema, ValuesRef};
use sluice_core::calc::Calc;
use std::time::Instant;

const SPEC: &str = r#"{"name":"Calc(bench)","filter":{"k":"call","op":"lt","t":"bool","n":false,"args":[{"k":"call","op":"mod","t":"i64","n":false,"args":[{"k":"field","i":0,"t":"i64","n":false},{"k":"lit","t":"i64","n":false,"v":"10"}],"text":"(a % 10)"},{"k":"lit","t":"i64","n":false,"v":"8"}],"text":"((a % 10) < 8)"},"columns":[{"name":"p","expr":{"k":"call","op":"add","t":"f64","n":false,"args":[{"k":"call","op":"mul","t":"f64","n":false,"args":[{"k":"field","i":1,"t":"f64","n":false},{"k":"lit","t":"f64","n":false,"v":0.908}],"text":"(x * 0.908)"},{"k":"lit","t":"f64","n":false,"v":1.5}],"text":"((x * 0.908) + 1.5)"}},{"name":"q","expr":{"k":"call","op":"add","t":"i64","n":false,"args":[{"k":"call","op":"mul","t":"i64","n":false,"args":[{"k":"field","i":0,"t":"i64","n":false},{"k":"lit","t":"i64","n":false,"v":"3"}],"text":"(a * 3)"},{"k":"lit","t":"i64","n":false,"v":"7"}],"text":"((a * 3) + 7)"}}]}"#;

fn main() {
    let mut args = std::env::args().skip(1);
    let rows: usize = args.next().map_or(20_000_000, |r| r.parse().expect("rows: a number"));
    let runs: usize = args.next().map_or(5, |r| r.parse().expect("runs: a number"));
    let schema = Schema::new(vec![Field::new("a", DataType::I64), Field::new("x", DataType::F64)]);
    let a: Vec<i64> = (0..rows as u64).map(|i| ((i * 2654435761) % 1_000_003) as i64).collect();
    let x: Vec<f64> = (0..rows).map(|i| (i % 1000) as f64 / 7.0).collect();
    let calc = Calc::new(&schema, SPEC).expect("the bench spec");
    for _ in 0..runs {
        let t0 = Instant::now();
        let mut kept = 0;
        for at in (0..rows).step_by(8192) {
            let to = (at + 8192).min(rows);
            let columns = vec![
                ColumnRef { values: ValuesRef::I64(&a[at..to]), validity: None },
                ColumnRef { values: ValuesRef::F64(&x[at..to]), validity: None },
            ];
            let batch = BatchRef { schema: &schema, columns, len: to - at, event_time: None };
            let out = calc.process(&batch).expect("no error");
            kept += out.computed.len;
            // As the Node binding does once it has copied the columns out.
            calc.recycle(out.computed.columns);
        }
        let s = t0.elapsed().as_secs_f64();
        println!("{kept} rows kept, {:.1} M rows/s", rows as f64 / s / 1e6);
    }
}
