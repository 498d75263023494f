//! Stable key hashing, exposed so tests can pin both engines to the same values.

use napi::bindgen_prelude::*;
use napi_derive::napi;

#[napi(js_name = "murmur3")]
pub fn murmur3_32(data: Uint8Array, seed: u32) -> u32 {
    sluice_core::hash::murmur3_32(&data, seed)
}
