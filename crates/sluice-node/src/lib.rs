//! Thin napi-rs bindings over `sluice-core`: one `#[napi]` class per native operator, and
//! batches that cross as typed arrays (one call per batch, never per record).

#![deny(clippy::all)]
// napi registers exported functions only in the cdylib build; under `cfg(test)` they look unused.
#![cfg_attr(test, allow(dead_code))]

mod batch;
mod calc;
mod codec;
mod error;
mod group;
mod hash;
mod kafka;
mod kinds;
mod memory;
mod nexmark;
mod partition;
mod segment;
mod text;
mod window;
