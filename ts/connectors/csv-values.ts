/**
 * CSV value rules: the engines' CSV decoders read each field by its type
 * (ts/engine/ts/text/csv.ts, crates/sluice-core/src/text/csv.rs): integers are decimal text
 * (exact over all 64 bits), booleans true/false in any case, f64 as decimal text or the words
 * NaN/Infinity (text that overflows is an error), timestamps integer ms or ISO-8601 text,
 * read by `parseIsoTimestamp` (ts/batch/timestamp-text.ts), re-exported here.
 */

export { parseIsoTimestamp } from '../batch/timestamp-text.js';
