/**
 * The Engine interface: what the runtime calls, identically for both engines. The native
 * engine runs these operators in Rust (crates/sluice-core via crates/sluice-node); the TS
 * engine runs the same operators in TypeScript. A change here changes both engines and their
 * shared tests together.
 */

import type { Lease } from '../batch/lease.js';
import type { SegmentLayout } from '../batch/segment.js';
import type { RecordBatch } from '../batch/record-batch.js';
import type { Schema } from '../batch/schema.js';
import type { NexmarkConfig, NexmarkKind } from './nexmark-config.js';
import type { CalcSpec, PushedFilter } from './calc-spec.js';

export type EngineName = 'native' | 'ts';
export type AggKind = 'count' | 'sum' | 'min' | 'max' | 'avg' | 'first' | 'last' | 'countDistinct';

export interface AggregateSpec {
  readonly name: string;
  readonly kind: AggKind;
  /** Input field index; null for count() of rows. */
  readonly field: number | null;
}

/**
 * The window assigner, in ms. Tumbling and sliding windows start where `start ≡ offset (mod
 * slide)` (tumbling: slide = size); a session's gap is fixed or read per row from an i64
 * input column (`dynamicGapField`, computed by the runtime from the user's function).
 */
export type WindowDescriptor =
  | { readonly kind: 'tumbling'; readonly sizeMs: number; readonly offsetMs: number }
  | { readonly kind: 'sliding'; readonly sizeMs: number; readonly slideMs: number; readonly offsetMs: number }
  | { readonly kind: 'session'; readonly gapMs: number }
  | { readonly kind: 'session'; readonly dynamicGapField: number }
  /** Count windows per key: every `slide` records of a key, its last `size` records (no time). */
  | { readonly kind: 'count'; readonly size: number; readonly slide: number };

export interface WindowAggregatorSpec {
  readonly input: Schema;
  readonly keyFields: readonly number[];
  readonly window: WindowDescriptor;
  readonly aggregates: readonly AggregateSpec[];
  /**
   * Time windows (Flink's allowedLateness, ms, default 0): a fired window is kept until the
   * watermark passes end - 1 + lateness, and each record that still reaches it fires it again
   * (the updated rows come from takePushedOutput).
   */
  readonly allowedLatenessMs?: number;
  /** The managed memory pool (openMemoryPool) the operator reserves its state from (native engine). */
  readonly memoryPool?: string;
}

/**
 * Keyed window aggregation over whole batches (tumbling, sliding, session; count). Fired
 * rows come by window end, then start, then the first arrival of the key in the window; count
 * windows fire in push, in the order of the records that complete them.
 */
export interface WindowAggregator {
  readonly outputSchema: Schema;
  /** Adds a batch (with event time); returns the number of late rows it dropped. */
  push(batch: RecordBatch): number;
  /**
   * The rows fired by the last push (count windows; time windows fired again by records within
   * their allowed lateness); take them before the next push. Null when none.
   */
  takePushedOutput(): RecordBatch | null;
  /** Count windows: records after their key's last firing (never emitted, as in Flink). */
  readonly unfiredRows: number;
  /** Advances the watermark (ms; +Infinity at end of input); returns fired rows or null. */
  advanceWatermark(watermark: number): RecordBatch | null;
  /**
   * Tumbling and sliding windows: fires every window in state whatever the watermark and starts
   * over from no watermark (a pre-aggregation of one batch at a time: nothing it sees is late).
   */
  flush(): RecordBatch | null;
  readonly lateDropped: number;
  /** Indices of the rows of the last pushed batch that were late (for a side output). */
  lateRows(): Uint32Array;
  /**
   * Session windows: the earliest start of a session in state (open, or kept for allowed
   * lateness), +Infinity when none; other windows: -Infinity (not tracked). For checkpoints.
   */
  earliestStart(): number;
  /** Managed memory the operator holds, in bytes. */
  readonly memoryBytes: number;
}

/** A deterministic Nexmark event generator for one event kind. */
export interface NexmarkGenerator {
  readonly schema: Schema;
  /**
   * Up to maxRows events of this kind, with event time set; null when exhausted. With `lease`,
   * the columns may be written into buffers taken from it (the native generator's are): the
   * batch is then valid until the lease is released (a borrowed batch, see batch/lease.ts).
   */
  nextBatch(maxRows: number, lease?: Lease): RecordBatch | null;
  /**
   * With a filter: the highest event time among the rows the last `nextBatch` read, those the
   * filter dropped included (-Infinity: none); a batch whose rows were all dropped is empty.
   */
  readMaxEventTime(): number;
  position(): number;
  seek(position: number): void;
}

/** A line (or record) that could not be decoded: where, why, and its text for a dead letter. */
export interface BadLine {
  /** 1-based line number in the file. */
  readonly line: number;
  /** The whole message: file, line, field when there is one, what to do. */
  readonly message: string;
  /** The line without its line end (invalid UTF-8 shown as U+FFFD; the message says so). */
  readonly raw: string;
}

/** What one `LineDecoder.decode` call read. */
export interface DecodedLines {
  /** The good rows, in the declared schema. */
  readonly batch: RecordBatch;
  /** Bytes of the input consumed: whole lines only. */
  readonly consumed: number;
  /** Lines consumed (line feeds, and one for a last line without one). */
  readonly lines: number;
  readonly bad: readonly BadLine[];
}

/**
 * Decodes JSON Lines of one file into batches of a declared schema: one call per chunk of
 * whole lines, no object per record natively. Blank lines are skipped, CRLF accepted;
 * integers are read exactly (all 64 bits) on both engines.
 */
export interface LineDecoder {
  /**
   * Decodes `bytes` (whole lines; the last may lack its line feed only at the end of the file)
   * until `maxRows` good rows are read. `firstLine` is the number of lines before `bytes`.
   */
  decode(bytes: Uint8Array, firstLine: number, maxRows: number): DecodedLines;
}

export type TextFormat = 'jsonl' | 'csv';

/** Where a CSV file's declared fields are: schema field k is column columnOf[k] of `width`. */
export interface CsvHeader {
  readonly columnOf: readonly number[];
  readonly width: number;
}

/**
 * Decodes the CSV (RFC 4180) of one file into batches of a declared schema. A record may span
 * lines (quoted line breaks): a call reads whole records and stops where the bytes end inside
 * one, unless they are the end of the file. With a header, the first record maps columns by
 * name; a header that does not fit the schema throws an EngineError (kind data).
 */
export interface CsvDecoder {
  decode(bytes: Uint8Array, firstLine: number, maxRows: number, eof: boolean): DecodedLines;
  /** The column map the header gave, null before it is read (or without a header). */
  header(): CsvHeader | null;
  /** Continues after a header read earlier (a restore). */
  setHeader(columnOf: readonly number[], width: number): void;
}

/**
 * Projection, filter and computed columns fused (engine/calc-spec.ts): one call per batch, the
 * kept rows' columns out, event time carried along.
 */
export interface Calc {
  readonly outputSchema: Schema;
  /**
   * The kept rows, computed; throws an EngineError (kind data or overflow) naming the row of the
   * batch. With `lease`, the fixed-width columns it computes or takes at the kept rows, their
   * event time and the selection behind them are written into buffers taken from it: the output
   * is valid until the lease is released (a borrowed batch, see batch/lease.ts).
   */
  process(batch: RecordBatch, lease?: Lease): RecordBatch;
}

/**
 * Where each row of a batch goes among `io.cur.length` targets: by key group (`targets` is
 * scratch an engine may use: the TS engine computes the targets into it when `from` is 0 and
 * reads them from there after; the native one hashes in its partitioner's loop), by given
 * targets, or all to target 0.
 */
export type SegmentRoute =
  | { readonly kind: 'hash'; readonly keyFields: readonly number[]; readonly maxParallelism: number; readonly targets: Uint32Array }
  | { readonly kind: 'targets'; readonly targets: Uint32Array }
  | { readonly kind: 'single' };

/**
 * The segments of one writer: `cur[t]` the segment being filled for target t (-1: none);
 * `spares[0]` how many free segments follow it (taken from the end); `full[0]` how many
 * (target, segment) pairs follow it, in the order they filled.
 */
export interface SegmentIo {
  readonly cur: Int32Array;
  readonly spares: Int32Array;
  readonly full: Int32Array;
}

export interface Engine {
  readonly name: EngineName;
  /** Compiles a calc spec over `input` once (native: a kernel tree; TS: generated code). */
  createCalc(input: Schema, spec: CalcSpec): Calc;
  createWindowAggregator(spec: WindowAggregatorSpec): WindowAggregator;
  createGroupAggregator(spec: GroupAggregatorSpec): GroupAggregator;
  /** `fields`: the fields to build (projection); `filter`: only the rows it keeps are built (filter pushdown). */
  createNexmarkGenerator(config: NexmarkConfig, kind: NexmarkKind, fields?: readonly string[], filter?: PushedFilter): NexmarkGenerator;
  /** Encodes a batch as a FlatBuffers `RecordBatch` (schema/sluice.fbs). */
  encodeBatch(batch: RecordBatch): Uint8Array;
  decodeBatch(bytes: Uint8Array): RecordBatch;
  /** murmur3 x86_32, the stable key hash (key groups). */
  murmur3(bytes: Uint8Array, seed: number): number;
  /**
   * Splits a batch into `parallelism` batches by key group (Flink's rule on canonical key
   * bytes), rows kept in order; one call per batch.
   */
  hashPartition(batch: RecordBatch, keyFields: readonly number[], parallelism: number, maxParallelism: number): RecordBatch[];
  /**
   * A managed memory pool shared by every thread of the process, named by the run: the native
   * window operators reserve their state from it. The TS engine keeps none (the runtime counts
   * its operators' state in shared counters), so its use is null.
   */
  openMemoryPool(id: string, budgetBytes: number): void;
  memoryPoolUse(id: string): { readonly used: number; readonly peak: number } | null;
  closeMemoryPool(id: string): void;
  /** Splits a batch into `n` batches, row i into batch `targets[i]`, rows kept in order; one call per batch. */
  partitionByTargets(batch: RecordBatch, targets: Uint32Array, n: number): RecordBatch[];
  /**
   * Writes rows `from`.. of a batch into exchange segments (batch/segment.ts), each row into
   * the current segment of its target (`io.cur`, -1: none yet), taking a new one from
   * `io.spares` when that is full and listing the full one in `io.full`; stops where no spare is
   * left. Returns the row to go on from (the batch's length when all are written). One call per
   * batch (or per run out of spares); nothing allocated per row or per part.
   */
  scatterToSegments(batch: RecordBatch, route: SegmentRoute, pool: Uint8Array, layout: SegmentLayout, io: SegmentIo, from: number): number;
  /**
   * The records of one Kafka partition's fetched record set (the raw bytes of a Fetch
   * response's `records` field), read in one call into columns: batches decompressed, control
   * batches and (under read_committed) aborted transactions skipped by Kafka's rule, from
   * offset `from` on and before `stop`; a batch cut off at the end is left for the next fetch.
   */
  takeKafkaRecords(records: Uint8Array, aborted: readonly KafkaAbortedTxn[], from: bigint, stop: bigint | null, wanted: KafkaWanted): KafkaRecordSet;
  /** A JSON Lines decoder for one input; `where` names it in messages (`file '<path>'`). */
  createJsonlDecoder(schema: Schema, where: string): LineDecoder;
  /** A CSV decoder for one input (`delimiter`: one character; `header`: the first record names the columns). */
  createCsvDecoder(schema: Schema, where: string, format: { readonly delimiter: string; readonly header: boolean }): CsvDecoder;
  /**
   * Every row of a batch as JSON Lines or CSV rows (RFC 4180, no header), each ended by a line
   * feed, UTF-8; byte-identical on both engines. One call per batch.
   */
  encodeText(batch: RecordBatch, format: TextFormat): Uint8Array;
  /** As `encodeText`, with where each row ends in the bytes (a rolling sink splits parts at rows). */
  encodeTextRows(batch: RecordBatch, format: TextFormat): { readonly bytes: Uint8Array; readonly rowEnds: ArrayLike<number> };
}

/** An aborted transaction listed in a Fetch response. */
export interface KafkaAbortedTxn {
  readonly producerId: bigint;
  readonly firstOffset: bigint;
}

/** How a Kafka record set's values are laid out, and which of keys and headers are wanted. */
export interface KafkaWanted {
  readonly kind: 'json' | 'csv' | 'raw';
  readonly keys: boolean;
  readonly headers: boolean;
}

/**
 * A partition's fetched Kafka records, column by column (see
 * crates/sluice-core/src/kafka/record_batch.rs for the layout and the flag bits).
 */
export interface KafkaRecordSet {
  /** The offset after everything looked at (past control markers and aborted records). */
  readonly next: bigint;
  readonly offsets: BigInt64Array;
  readonly timestamps: BigInt64Array;
  readonly flags: Uint8Array;
  /** Each non-null value followed by a line feed (JSON: its line feeds made spaces). */
  readonly values: Uint8Array;
  /** Value i is values[valueEnds[i], valueEnds[i + 1] - 1) (a null takes no bytes). */
  readonly valueEnds: Int32Array;
  /** JSON values that held line feeds, as they were: record index -> bytes. */
  readonly originals: ReadonlyMap<number, Uint8Array>;
  readonly keys: Uint8Array | null;
  readonly keyEnds: Int32Array | null;
  /** Headers of each record as JSON text [[key, value], ...]. */
  readonly headers: Uint8Array | null;
  readonly headerEnds: Int32Array | null;
}

/**
 * An updating (non-windowed) aggregation, Flink's GroupAggFunction: keyed state per group,
 * consuming inserts and retractions (the input's `$rowkind`, batch/row-kind.ts; none means
 * every row is an insert) and emitting the changes (engine/group-agg-spec.ts).
 */
export interface GroupAggregatorSpec {
  /** The input; a last `$rowkind` column makes it updating. */
  readonly input: Schema;
  readonly keyFields: readonly number[];
  /** count, sum, min, max, avg, countDistinct (first/last have no retraction). */
  readonly aggregates: readonly AggregateSpec[];
  /**
   * Idle state retention in ms (Flink's table.exec.state.ttl; 0 or absent: never): a group not
   * written for this long, by the pushes' `now`, is gone (silently); the next row of its key
   * starts a new group (+I) and a retraction for a key without a group is dropped. The state
   * rows then end with `$access` (the last write's `now`), which a restore keeps.
   */
  readonly stateTtlMs?: number;
}

/**
 * The changes of a batch at once (Flink's mini-batch aggregation): per group the batch touched,
 * in the order it first touched them, +I for a new group, -U then +U for a changed result,
 * -D when its rows are all retracted, nothing when its result did not change.
 */
export interface GroupAggregator {
  /** The keys, the aggregates, `$rowkind`. */
  readonly outputSchema: Schema;
  /** Applies a batch at processing time `now` (epoch ms; it matters with a state TTL only); returns its changes, or null when none. */
  push(batch: RecordBatch, now?: number): RecordBatch | null;
  /** The state as rows of `groupStateSchema(spec)` (the same on both engines), for checkpoints. */
  snapshot(): RecordBatch;
  /** Adds the groups of a snapshot (of either engine; several, for a rescaled restore). */
  restore(state: RecordBatch): void;
  /** Groups in state. */
  readonly groups: number;
}
