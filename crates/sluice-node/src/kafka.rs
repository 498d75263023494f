//! Kafka record sets across N-API: one call per fetched partition, the raw record-set bytes in,
//! columns out (`sluice_core::kafka::record_batch`).

// Under `cargo test` napi-derive does not register exports, so they look unused.
#![cfg_attr(test, allow(dead_code))]

use napi::bindgen_prelude::*;
use napi_derive::napi;
use sluice_core::kafka::record_batch::{take_records, AbortedTxn, ValueKind, Wanted};

use crate::error::{config_error, to_napi};

#[napi(object)]
pub struct KafkaRecordSetOut {
    pub next: BigInt,
    pub offsets: BigInt64Array,
    pub timestamps: BigInt64Array,
    pub flags: Uint8Array,
    pub values: Uint8Array,
    pub value_ends: Int32Array,
    pub original_index: Vec<u32>,
    pub originals: Vec<Uint8Array>,
    pub keys: Option<Uint8Array>,
    pub key_ends: Option<Int32Array>,
    pub headers: Option<Uint8Array>,
    pub header_ends: Option<Int32Array>,
}

fn exact(b: &BigInt, what: &str) -> Result<i64> {
    let (v, lossless) = b.get_i64();
    if !lossless {
        return Err(config_error(format!("kafkaTakeRecords: {what} is out of the int64 range")));
    }
    Ok(v)
}

/// The records of one partition's fetched record set (see `take_records`), as columns.
/// `kind`: 'json' | 'csv' | 'raw'.
#[napi(js_name = "kafkaTakeRecords")]
#[allow(clippy::too_many_arguments)]
pub fn kafka_take_records(
    records: Uint8Array,
    aborted_producers: BigInt64Array,
    aborted_first_offsets: BigInt64Array,
    from: BigInt,
    stop: Option<BigInt>,
    kind: String,
    keys: bool,
    headers: bool,
) -> Result<KafkaRecordSetOut> {
    let kind = match kind.as_str() {
        "json" => ValueKind::Json,
        "csv" => ValueKind::Csv,
        "raw" => ValueKind::Raw,
        k => return Err(config_error(format!("kafkaTakeRecords: value kind '{k}' is unknown; use json, csv or raw"))),
    };
    if aborted_producers.len() != aborted_first_offsets.len() {
        return Err(config_error("kafkaTakeRecords: one first offset per aborted producer id"));
    }
    let aborted: Vec<AbortedTxn> = aborted_producers.iter().zip(aborted_first_offsets.iter()).map(|(&producer_id, &first_offset)| AbortedTxn { producer_id, first_offset }).collect();
    let from = exact(&from, "from")?;
    let stop = stop.as_ref().map(|s| exact(s, "stop")).transpose()?;
    let set = take_records(&records, &aborted, from, stop, &Wanted { kind, keys, headers }).map_err(to_napi)?;
    let (original_index, originals) = set.originals.into_iter().map(|(i, v)| (i, Uint8Array::new(v))).unzip();
    Ok(KafkaRecordSetOut {
        next: BigInt::from(set.next),
        offsets: BigInt64Array::new(set.offsets),
        timestamps: BigInt64Array::new(set.timestamps),
        flags: Uint8Array::new(set.flags),
        values: Uint8Array::new(set.values),
        value_ends: Int32Array::new(set.value_ends),
        original_index,
        originals,
        keys: keys.then(|| Uint8Array::new(set.keys)),
        key_ends: keys.then(|| Int32Array::new(set.key_ends)),
        headers: headers.then(|| Uint8Array::new(set.headers)),
        header_ends: headers.then(|| Int32Array::new(set.header_ends)),
    })
}
