//! Thin napi-rs bindings over `sluice-core`: one `#[napi]` class per native operator, and
//! batches that cross as typed arrays (one call per batch, never per record).

#![deny(clippy::all)]

mod batch;
mod codec;
mod hash;
mod nexmark;
mod window;
