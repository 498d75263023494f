/** Bits of KafkaRecordSet.flags, per record: the same on both engines (crates/sluice-core/src/kafka/record_batch.rs). */
export const VALUE_NULL = 1;
export const VALUE_EMPTY = 2;
export const KEY_NOT_UTF8 = 4;
export const HEADER_NOT_UTF8 = 8;
export const VALUE_HAS_LF = 16;
export const KEY_NULL = 32;
export const VALUE_NOT_UTF8 = 64;
