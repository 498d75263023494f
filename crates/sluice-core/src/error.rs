//! One error type for the core. Messages say what happened and what to do.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad configuration: caught when a pipeline is built.
    Config,
    /// Bad data: a batch or value that does not fit its schema.
    Data,
    /// Out of managed memory.
    Memory,
    /// A value that cannot be represented exactly (overflow).
    Overflow,
}

impl ErrorKind {
    /// The kind's name as both engines report it (`EngineError.kind` in TypeScript).
    pub fn name(&self) -> &'static str {
        match self {
            ErrorKind::Config => "config",
            ErrorKind::Data => "data",
            ErrorKind::Memory => "memory",
            ErrorKind::Overflow => "overflow",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn config(message: impl Into<String>) -> Error {
        Error { kind: ErrorKind::Config, message: message.into() }
    }
    pub fn data(message: impl Into<String>) -> Error {
        Error { kind: ErrorKind::Data, message: message.into() }
    }
    pub fn memory(message: impl Into<String>) -> Error {
        Error { kind: ErrorKind::Memory, message: message.into() }
    }
    pub fn overflow(message: impl Into<String>) -> Error {
        Error { kind: ErrorKind::Overflow, message: message.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
