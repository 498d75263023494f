//! Errors across N-API. A JavaScript error has a message and a status code but no room for the
//! core's `ErrorKind`, so the kind travels as a message prefix, `[sluice:<kind>] `, which the
//! TypeScript side (`ts/engine/errors.ts`) turns into an `EngineError` with that kind: the same
//! class and kind that the TypeScript engine raises for the same input.

use napi::{Error, Status};

/// A core error, with its kind.
pub fn to_napi(e: sluice_core::Error) -> Error {
    Error::new(Status::GenericFailure, format!("[sluice:{}] {}", e.kind.name(), e.message))
}

/// A bad argument found at the binding (a configuration error, as the core would report it).
pub fn config_error(message: impl Into<String>) -> Error {
    to_napi(sluice_core::Error::config(message))
}
