//! Kafka: what the engine needs of Kafka's formats (the network stays in the TypeScript source).

pub mod record_batch;
