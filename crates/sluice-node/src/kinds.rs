//! The kinds that cross N-API as string enums (napi checks the string against the variants and
//! the generated `binding.d.cts` types it), each with its one conversion into the core's type.

use napi_derive::napi;
use sluice_core::batch::DataType;
use sluice_core::nexmark::EventKind;
use sluice_core::window::AggKind;

#[napi(string_enum = "lowercase")]
#[derive(Clone, Copy)]
pub enum FieldType {
    I32,
    I64,
    F64,
    Bool,
    Utf8,
    Timestamp,
}

impl From<FieldType> for DataType {
    fn from(t: FieldType) -> DataType {
        match t {
            FieldType::I32 => DataType::I32,
            FieldType::I64 => DataType::I64,
            FieldType::F64 => DataType::F64,
            FieldType::Bool => DataType::Bool,
            FieldType::Utf8 => DataType::Utf8,
            FieldType::Timestamp => DataType::Timestamp,
        }
    }
}

impl From<DataType> for FieldType {
    fn from(t: DataType) -> FieldType {
        match t {
            DataType::I32 => FieldType::I32,
            DataType::I64 => FieldType::I64,
            DataType::F64 => FieldType::F64,
            DataType::Bool => FieldType::Bool,
            DataType::Utf8 => FieldType::Utf8,
            DataType::Timestamp => FieldType::Timestamp,
        }
    }
}

#[napi(string_enum = "camelCase")]
#[derive(Clone, Copy)]
pub enum AggregateKind {
    Count,
    Sum,
    Min,
    Max,
    Avg,
    First,
    Last,
    CountDistinct,
}

impl From<AggregateKind> for AggKind {
    fn from(k: AggregateKind) -> AggKind {
        match k {
            AggregateKind::Count => AggKind::Count,
            AggregateKind::Sum => AggKind::Sum,
            AggregateKind::Min => AggKind::Min,
            AggregateKind::Max => AggKind::Max,
            AggregateKind::Avg => AggKind::Avg,
            AggregateKind::First => AggKind::First,
            AggregateKind::Last => AggKind::Last,
            AggregateKind::CountDistinct => AggKind::CountDistinct,
        }
    }
}

/// The window assigner of a `WindowDescriptor`.
#[napi(string_enum = "lowercase")]
#[derive(Clone, Copy)]
pub enum WindowKind {
    Tumbling,
    Sliding,
    Session,
    Count,
}

impl WindowKind {
    pub fn name(self) -> &'static str {
        match self {
            WindowKind::Tumbling => "tumbling",
            WindowKind::Sliding => "sliding",
            WindowKind::Session => "session",
            WindowKind::Count => "count",
        }
    }
}

/// The Nexmark event kind a generator produces.
#[napi(string_enum = "lowercase")]
#[derive(Clone, Copy)]
pub enum NexmarkKind {
    Person,
    Auction,
    Bid,
}

impl From<NexmarkKind> for EventKind {
    fn from(k: NexmarkKind) -> EventKind {
        match k {
            NexmarkKind::Person => EventKind::Person,
            NexmarkKind::Auction => EventKind::Auction,
            NexmarkKind::Bid => EventKind::Bid,
        }
    }
}
