//! Sluice core: the engine. Knows nothing of Node; `sluice-node` binds it.

pub mod batch;
pub mod calc;
pub mod codec;
pub mod error;
pub mod group;
pub mod hash;
pub mod kafka;
pub mod keys;
pub mod memory;
pub mod nexmark;
pub mod partition;
pub mod segment;
pub mod text;
pub mod wide;
pub mod window;

#[cfg(test)]
mod test_rng;

pub use error::{Error, ErrorKind, Result};
