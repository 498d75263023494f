/**
 * Fetched Kafka records of one partition into one columnar batch: the values of all records of
 * a fetch go to the job's engine decoder in one call (JSON or CSV with the declared schema, the
 * same decoders the file sources use; natively in Rust), then the key and metadata columns are
 * added for the rows that decoded. Under read_committed, records of aborted transactions are
 * skipped here (the broker sends them along with the list of aborted transactions; filtering
 * is the client's job, as in Kafka's own consumer).
 */

import { isUtf8 } from 'node:buffer';
import type { I32Column, I64Column, Utf8Column } from '../../batch/column.js';
import { bitmapBytes } from '../../batch/column.js';
import { RecordBatch } from '../../batch/record-batch.js';
import type { Schema } from '../../batch/schema.js';
import type { CsvDecoder, DecodedLines, LineDecoder } from '../../engine/engine.js';
import { EngineError } from '../../engine/errors.js';
import type { ExtraColumns, MetadataField, ValueFormat } from './formats.js';

/** The parts of a fetched record batch (the client's RecordsBatch) used here. */
export interface FetchedBatch {
  readonly firstOffset: bigint;
  readonly attributes: number;
  readonly lastOffsetDelta: number;
  readonly firstTimestamp: bigint;
  readonly producerId: bigint;
  readonly records: readonly {
    readonly timestampDelta: bigint;
    readonly offsetDelta: number;
    readonly key: Buffer | null;
    readonly value: Buffer | null;
    readonly headers: readonly (readonly [Buffer | null, Buffer | null])[];
  }[];
}

const IS_TRANSACTIONAL = 1 << 4;
const IS_CONTROL = 1 << 5;

/** One record taken from a fetch, with its offset and timestamp resolved. */
export interface TakenRecord {
  readonly offset: bigint;
  readonly timestamp: bigint;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly (readonly [Buffer | null, Buffer | null])[];
}

/**
 * The records of a partition's fetch from `from` on and before `stop` (null: no stop), aborted
 * transactions skipped; `next` is the position after what was looked at (past control
 * markers and aborted records too, so a restore never reads them again).
 */
export function takeRecords(
  batches: readonly FetchedBatch[],
  aborted: readonly { readonly producerId: bigint; readonly firstOffset: bigint }[],
  from: bigint,
  stop: bigint | null,
): { records: TakenRecord[]; next: bigint } {
  const records: TakenRecord[] = [];
  let next = from;
  // Kafka's rule: an aborted transaction's records lie between its first offset and its abort marker.
  const pendingAborts = [...aborted].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0));
  const abortedProducers = new Set<bigint>();
  for (const b of batches) {
    const last = b.firstOffset + BigInt(b.lastOffsetDelta);
    if (last < from) continue;
    while (pendingAborts.length > 0 && pendingAborts[0]!.firstOffset <= last) abortedProducers.add(pendingAborts.shift()!.producerId);
    const transactional = (b.attributes & IS_TRANSACTIONAL) !== 0;
    if ((b.attributes & IS_CONTROL) !== 0) {
      // A control record's key: version (int16), type (int16: 0 abort, 1 commit).
      const key = b.records[0]?.key;
      if (key != null && key.length >= 4 && key.readInt16BE(2) === 0) abortedProducers.delete(b.producerId);
      if (stop !== null && b.firstOffset >= stop) break;
      next = last + 1n > next ? last + 1n : next;
      continue;
    }
    const skip = transactional && abortedProducers.has(b.producerId);
    for (const r of b.records) {
      const offset = b.firstOffset + BigInt(r.offsetDelta);
      if (offset < from) continue;
      if (stop !== null && offset >= stop) return { records, next };
      if (!skip) records.push({ offset, timestamp: b.firstTimestamp + r.timestampDelta, key: r.key, value: r.value, headers: r.headers });
      next = offset + 1n;
    }
    if (stop === null || last + 1n <= stop) next = last + 1n > next ? last + 1n : next;
  }
  return { records, next };
}

function utf8Column(values: readonly (Uint8Array | null)[]): Utf8Column {
  const n = values.length;
  const offsets = new Int32Array(n + 1);
  let bytes = 0;
  let validity: Uint8Array | null = null;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v == null) validity ??= new Uint8Array(bitmapBytes(n)).fill(0xff);
    else bytes += v.length;
  }
  const data = new Uint8Array(bytes);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v == null) validity![i >>> 3]! &= ~(1 << (i & 7));
    else {
      data.set(v, at);
      at += v.length;
    }
    offsets[i + 1] = at;
  }
  return { type: 'utf8', offsets, data, validity };
}

const text = new TextEncoder();

/** Headers (checked to be text) as JSON [[key, value], ...]: order and repeated keys kept. */
function headersJson(h: TakenRecord['headers']): string {
  if (h.length === 0) return '[]';
  const dec = (b: Buffer | null): string | null => (b === null ? null : b.toString('utf8'));
  return JSON.stringify(h.map(([k, v]) => [dec(k), dec(v)]));
}

/** A rejected record: where it is and why (the message names topic, partition, offset and field). */
export interface BadRecord {
  readonly offset: bigint;
  readonly message: string;
  readonly raw: string;
}

/** Decodes one partition's records into one batch of `schema` (value columns, then extras). */
export class PartitionDecoder {
  private readonly where: string;

  constructor(
    private readonly topic: string,
    private readonly partition: number,
    private readonly format: ValueFormat,
    private readonly schema: Schema,
    private readonly extras: ExtraColumns,
    private readonly decoder: LineDecoder | CsvDecoder | null,
  ) {
    this.where = `Kafka topic '${topic}', partition ${partition}`;
  }

  /** The batch of the records that decoded; the others are returned as bad records. */
  decode(all: readonly TakenRecord[]): { batch: RecordBatch; bad: BadRecord[] } {
    const bad: BadRecord[] = [];
    const records = this.checkKeysAndHeaders(all, bad);
    const n = records.length;
    // Which records gave a row, in order.
    let kept: number[] = [];
    let valueColumns: RecordBatch['columns'] = [];
    if (this.format.kind === 'raw') {
      const values: (Uint8Array | null)[] = [];
      for (let i = 0; i < n; i++) {
        const v = records[i]!.value;
        if (v !== null && !isUtf8(v)) {
          bad.push({ offset: records[i]!.offset, message: `${this.where}, offset ${records[i]!.offset}: the value is not UTF-8 text; fix the producer or route such records elsewhere`, raw: v.toString('utf8') });
          continue;
        }
        kept.push(i);
        values.push(v);
      }
      valueColumns = [utf8Column(values)];
    } else {
      const r = this.decodeValues(records, bad);
      kept = r.kept;
      valueColumns = r.batch.columns;
    }
    const batch = new RecordBatch(this.schema, [...valueColumns, ...this.extraColumns(records, kept)], kept.length, null);
    bad.sort((a, b) => (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0));
    return { batch, bad };
  }

  /** Keys and headers are read as text when they are columns: a record whose are not is bad. */
  private checkKeysAndHeaders(records: readonly TakenRecord[], bad: BadRecord[]): readonly TakenRecord[] {
    const keys = this.extras.key !== null;
    const headers = this.extras.metadata.some((m) => m.field === 'headers');
    if (!keys && !headers) return records;
    return records.filter((r) => {
      let problem: string | null = null;
      if (keys && r.key !== null && !isUtf8(r.key)) problem = `, field '${this.extras.key}': the key is not UTF-8 text`;
      else if (headers && r.headers.some(([k, v]) => (k !== null && !isUtf8(k)) || (v !== null && !isUtf8(v)))) {
        problem = `, field '${this.extras.metadata.find((m) => m.field === 'headers')!.column}': a header is not UTF-8 text`;
      }
      if (problem === null) return true;
      bad.push({ offset: r.offset, message: `${this.where}, offset ${r.offset}${problem}`, raw: r.value?.toString('utf8') ?? '' });
      return false;
    });
  }

  /**
   * The values as lines, one record per line, decoded in one call. JSON values are single
   * lines already or become one (a line feed in valid JSON is whitespace, so it becomes a
   * space); a CSV value may hold quoted line breaks, so line numbers are mapped back.
   */
  private decodeValues(records: readonly TakenRecord[], bad: BadRecord[]): { batch: RecordBatch; kept: number[] } {
    const n = records.length;
    const json = this.format.kind === 'json';
    let size = 0;
    for (const r of records) size += (r.value?.length ?? 0) + 1;
    const buf = Buffer.allocUnsafe(size);
    /** Record index of each line given to the decoder (1-based line -> index); lines of CSV records that span several map to the first. */
    const lineRecord: number[] = [];
    const lineOf: number[] = [];
    let at = 0;
    for (let i = 0; i < n; i++) {
      const v = records[i]!.value;
      if (v === null || (json ? blank(v) : v.length === 0)) {
        const what = v === null ? 'has no value (null: a tombstone?)' : 'has an empty value';
        bad.push({ offset: records[i]!.offset, message: `${this.where}, offset ${records[i]!.offset}: the record ${what}; every record needs a ${json ? 'JSON object' : 'CSV record'}`, raw: v === null ? '' : v.toString('utf8') });
        continue;
      }
      const start = at;
      at += v.copy(buf, at);
      lineOf[i] = lineRecord.length + 1;
      lineRecord.push(i);
      for (let p = buf.indexOf(10, start); p >= 0 && p < at; p = buf.indexOf(10, p + 1)) {
        if (json) buf[p] = 32;
        else lineRecord.push(i);
      }
      buf[at++] = 10;
    }
    const bytes = buf.subarray(0, at);
    const given = lineRecord.length === 0 ? 0 : new Set(lineRecord).size;
    let out: DecodedLines;
    if (given === 0) out = { batch: RecordBatch.empty(this.valueSchema()), consumed: 0, lines: 0, bad: [] };
    else if (json) out = (this.decoder as LineDecoder).decode(bytes, 0, given);
    else out = (this.decoder as CsvDecoder).decode(bytes, 0, given, true);
    if (out.consumed !== bytes.length) {
      throw new EngineError('data', `${this.where}: the values of offsets ${records[0]!.offset}..${records[n - 1]!.offset} were not all read as ${json ? 'JSON' : 'CSV'} (a CSV quote left open across records?)`);
    }
    const badIdx = new Set<number>();
    for (const b of out.bad) {
      const i = lineRecord[b.line - 1]!;
      badIdx.add(i);
      const offset = records[i]!.offset;
      const prefix = `${this.where}, line ${b.line}`;
      const message = b.message.startsWith(prefix) ? `${this.where}, offset ${offset}${b.message.slice(prefix.length)}` : `${this.where}, offset ${offset}: ${b.message}`;
      bad.push({ offset, message, raw: records[i]!.value!.toString('utf8') });
    }
    const kept: number[] = [];
    for (let i = 0; i < n; i++) if (lineOf[i] !== undefined && !badIdx.has(i)) kept.push(i);
    if (kept.length !== out.batch.length) {
      throw new EngineError('data', `${this.where}: ${kept.length} values at offsets ${records[0]!.offset}..${records[n - 1]!.offset} should have decoded, but ${out.batch.length} rows came back; is a value more than one ${json ? 'JSON document' : 'CSV record'}?`);
    }
    return { batch: out.batch, kept };
  }

  private valueSchema(): Schema {
    return this.format.kind === 'raw' ? this.schema : (this.format as { schema: Schema }).schema;
  }

  private extraColumns(records: readonly TakenRecord[], kept: readonly number[]): RecordBatch['columns'] {
    const m = kept.length;
    const columns: RecordBatch['columns'][number][] = [];
    if (this.extras.key !== null) columns.push(utf8Column(kept.map((i) => records[i]!.key)));
    for (const { field } of this.extras.metadata) {
      switch (field) {
        case 'topic': {
          const t = text.encode(this.topic);
          columns.push(utf8Column(kept.map(() => t)));
          break;
        }
        case 'partition':
          columns.push({ type: 'i32', values: new Int32Array(m).fill(this.partition), validity: null } satisfies I32Column);
          break;
        case 'offset':
          columns.push({ type: 'i64', values: BigInt64Array.from(kept, (i) => records[i]!.offset), validity: null } satisfies I64Column);
          break;
        case 'timestamp':
          columns.push({ type: 'timestamp', values: BigInt64Array.from(kept, (i) => records[i]!.timestamp), validity: null } satisfies I64Column);
          break;
        case 'headers':
          columns.push(utf8Column(kept.map((i) => text.encode(headersJson(records[i]!.headers)))));
          break;
      }
    }
    return columns;
  }
}

/** Only JSON whitespace (or nothing): the decoders would skip such a line as blank. */
function blank(v: Buffer): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13) return false;
  }
  return true;
}
