/**
 * Fetched Kafka records of one partition (a KafkaRecordSet, read from the fetch's bytes by the
 * engine: engine.takeKafkaRecords, which also skips control records and, under read_committed,
 * aborted transactions) into columnar batches: the values of a chunk of records go to the job's
 * engine decoder in one call (JSON or CSV with the declared schema, the same decoders the file
 * sources use; natively in Rust), then the key and metadata columns are added for the rows
 * that decoded.
 */

import type { I32Column, I64Column, Utf8Column } from '../../batch/column.js';
import { bitmapBytes } from '../../batch/column.js';
import { RecordBatch } from '../../batch/record-batch.js';
import type { Schema } from '../../batch/schema.js';
import type { CsvDecoder, DecodedLines, KafkaRecordSet, KafkaWanted, LineDecoder } from '../../engine/engine.js';
import { EngineError } from '../../engine/errors.js';
import { HEADER_NOT_UTF8, KEY_NOT_UTF8, KEY_NULL, VALUE_EMPTY, VALUE_HAS_LF, VALUE_NOT_UTF8, VALUE_NULL } from '../../engine/kafka-flags.js';
import type { ExtraColumns, ValueFormat } from './formats.js';


const text = new TextEncoder();

/** Rows `idx` (or all of from..to) of a text column stored as data + ends, nulls where `nullBit` is set. */
function utf8Slice(data: Uint8Array, ends: Int32Array, flags: Uint8Array, nullBit: number, from: number, to: number, idx: Int32Array | null, trim: number): Utf8Column {
  const m = idx === null ? to - from : idx.length;
  const offsets = new Int32Array(m + 1);
  let validity: Uint8Array | null = null;
  const row = (k: number): number => (idx === null ? from + k : from + idx[k]!);
  if (idx === null && trim === 0) {
    const base = ends[from]!;
    for (let k = 0; k <= m; k++) offsets[k] = ends[from + k]! - base;
    for (let k = 0; k < m; k++) if ((flags[from + k]! & nullBit) !== 0) (validity ??= new Uint8Array(bitmapBytes(m)).fill(0xff))[k >>> 3]! &= ~(1 << (k & 7));
    return { type: 'utf8', offsets, data: data.slice(base, ends[to]!), validity };
  }
  let bytes = 0;
  for (let k = 0; k < m; k++) {
    const i = row(k);
    if ((flags[i]! & nullBit) === 0) bytes += ends[i + 1]! - ends[i]! - trim;
  }
  const out = new Uint8Array(bytes);
  let at = 0;
  for (let k = 0; k < m; k++) {
    const i = row(k);
    if ((flags[i]! & nullBit) !== 0) (validity ??= new Uint8Array(bitmapBytes(m)).fill(0xff))[k >>> 3]! &= ~(1 << (k & 7));
    else {
      out.set(data.subarray(ends[i]!, ends[i + 1]! - trim), at);
      at += ends[i + 1]! - ends[i]! - trim;
    }
    offsets[k + 1] = at;
  }
  return { type: 'utf8', offsets, data: out, validity };
}

/** Record i's value as it was, as text (for messages and dead letters). */
function rawValue(set: KafkaRecordSet, i: number): string {
  if ((set.flags[i]! & VALUE_NULL) !== 0) return '';
  const o = set.originals.get(i);
  const bytes = o ?? set.values.subarray(set.valueEnds[i]!, set.valueEnds[i + 1]! - 1);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

/** A rejected record: where it is and why (the message names topic, partition, offset and field). */
export interface BadRecord {
  readonly offset: bigint;
  readonly message: string;
  readonly raw: string;
}

/** Decodes one partition's records into batches of `schema` (value columns, then extras). */
export class PartitionDecoder {
  private readonly where: string;
  readonly wanted: KafkaWanted;

  constructor(
    private readonly topic: string,
    private readonly partition: number,
    private readonly format: ValueFormat,
    private readonly schema: Schema,
    private readonly extras: ExtraColumns,
    private readonly decoder: LineDecoder | CsvDecoder | null,
  ) {
    this.where = `Kafka topic '${topic}', partition ${partition}`;
    this.wanted = { kind: format.kind, keys: extras.key !== null, headers: extras.metadata.some((m) => m.field === 'headers') };
  }

  /** The batch of records from..to of `set` that decoded; the others are returned as bad records. */
  decode(set: KafkaRecordSet, from: number, to: number): { batch: RecordBatch; bad: BadRecord[] } {
    const bad: BadRecord[] = [];
    const n = to - from;
    const json = this.format.kind === 'json';
    // Records (chunk-relative) that give no row: keys and headers are checked first, then values.
    let excluded: Uint8Array | null = null;
    const reject = (k: number, message: string): void => {
      (excluded ??= new Uint8Array(n))[k] = 1;
      bad.push({ offset: set.offsets[from + k]!, message, raw: rawValue(set, from + k) });
    };
    const { keys, headers } = this.wanted;
    for (let k = 0; k < n; k++) {
      const f = set.flags[from + k]!;
      if (f === 0) continue;
      const at = (): string => `${this.where}, offset ${set.offsets[from + k]!}`;
      if (keys && (f & KEY_NOT_UTF8) !== 0) reject(k, `${at()}, field '${this.extras.key}': the key is not UTF-8 text`);
      else if (headers && (f & HEADER_NOT_UTF8) !== 0) reject(k, `${at()}, field '${this.extras.metadata.find((m) => m.field === 'headers')!.column}': a header is not UTF-8 text`);
      else if (this.format.kind === 'raw') {
        if ((f & VALUE_NOT_UTF8) !== 0) reject(k, `${at()}: the value is not UTF-8 text; fix the producer or route such records elsewhere`);
      } else if ((f & (VALUE_NULL | VALUE_EMPTY)) !== 0) {
        const what = (f & VALUE_NULL) !== 0 ? 'has no value (null: a tombstone?)' : 'has an empty value';
        reject(k, `${at()}: the record ${what}; every record needs a ${json ? 'JSON object' : 'CSV record'}`);
      }
    }
    let kept: Int32Array | null; // null: every record of the chunk
    let valueColumns: RecordBatch['columns'];
    if (this.format.kind === 'raw') {
      kept = excluded === null ? null : keptOf(excluded, null);
      valueColumns = [utf8Slice(set.values, set.valueEnds, set.flags, VALUE_NULL, from, to, kept, 1)];
    } else {
      const r = this.decodeValues(set, from, to, excluded, bad);
      kept = r.kept;
      valueColumns = r.batch.columns;
    }
    const m = kept === null ? n : kept.length;
    const batch = new RecordBatch(this.schema, [...valueColumns, ...this.extraColumns(set, from, to, kept, m)], m, null);
    bad.sort((a, b) => (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0));
    return { batch, bad };
  }

  /**
   * The values as lines, one record per line, decoded in one call. JSON values are single
   * lines already (their line feeds were made spaces); a CSV value may hold quoted line
   * breaks, so line numbers are mapped back to records.
   */
  private decodeValues(set: KafkaRecordSet, from: number, to: number, excluded: Uint8Array | null, bad: BadRecord[]): { batch: RecordBatch; kept: Int32Array | null } {
    const n = to - from;
    const json = this.format.kind === 'json';
    const ends = set.valueEnds;
    // Chunk-relative index of each record given to the decoder.
    const given = excluded === null ? null : keptOf(excluded, null);
    let bytes: Uint8Array;
    if (given === null) bytes = set.values.subarray(ends[from]!, ends[to]!);
    else {
      let size = 0;
      for (const k of given) size += ends[from + k + 1]! - ends[from + k]!;
      bytes = new Uint8Array(size);
      let at = 0;
      for (const k of given) {
        bytes.set(set.values.subarray(ends[from + k]!, ends[from + k + 1]!), at);
        at += ends[from + k + 1]! - ends[from + k]!;
      }
    }
    const count = given === null ? n : given.length;
    // 1-based line -> chunk-relative record, needed only for CSV values with line breaks.
    let lineRecord: number[] | null = null;
    if (!json) {
      for (let g = 0; g < count && lineRecord === null; g++) if ((set.flags[from + (given === null ? g : given[g]!)]! & VALUE_HAS_LF) !== 0) lineRecord = [];
      if (lineRecord !== null) {
        for (let g = 0; g < count; g++) {
          const k = given === null ? g : given[g]!;
          lineRecord.push(k);
          const v = set.values.subarray(ends[from + k]!, ends[from + k + 1]! - 1);
          for (let p = v.indexOf(10); p >= 0; p = v.indexOf(10, p + 1)) lineRecord.push(k);
        }
      }
    }
    let out: DecodedLines;
    if (count === 0) out = { batch: RecordBatch.empty(this.valueSchema()), consumed: 0, lines: 0, bad: [] };
    else if (json) out = (this.decoder as LineDecoder).decode(bytes, 0, count);
    else out = (this.decoder as CsvDecoder).decode(bytes, 0, count, true);
    const first = set.offsets[from]!;
    const last = set.offsets[to - 1]!;
    if (out.consumed !== bytes.length) {
      throw new EngineError('data', `${this.where}: the values of offsets ${first}..${last} were not all read as ${json ? 'JSON' : 'CSV'} (a CSV quote left open across records?)`);
    }
    if (out.bad.length === 0 && given === null) {
      if (out.batch.length !== n) throw this.rowCountError(n, out.batch.length, first, last);
      return { batch: out.batch, kept: null };
    }
    const badRecord = new Uint8Array(n);
    for (const b of out.bad) {
      const k = lineRecord !== null ? lineRecord[b.line - 1]! : given === null ? b.line - 1 : given[b.line - 1]!;
      badRecord[k] = 1;
      const offset = set.offsets[from + k]!;
      const prefix = `${this.where}, line ${b.line}`;
      const message = b.message.startsWith(prefix) ? `${this.where}, offset ${offset}${b.message.slice(prefix.length)}` : `${this.where}, offset ${offset}: ${b.message}`;
      bad.push({ offset, message, raw: rawValue(set, from + k) });
    }
    const kept = keptOf(excluded ?? new Uint8Array(n), badRecord);
    if (kept.length !== out.batch.length) throw this.rowCountError(kept.length, out.batch.length, first, last);
    return { batch: out.batch, kept };
  }

  private rowCountError(expected: number, got: number, first: bigint, last: bigint): EngineError {
    const json = this.format.kind === 'json';
    return new EngineError('data', `${this.where}: ${expected} values at offsets ${first}..${last} should have decoded, but ${got} rows came back; is a value more than one ${json ? 'JSON document' : 'CSV record'}?`);
  }

  private valueSchema(): Schema {
    return this.format.kind === 'raw' ? this.schema : (this.format as { schema: Schema }).schema;
  }

  private extraColumns(set: KafkaRecordSet, from: number, to: number, kept: Int32Array | null, m: number): RecordBatch['columns'] {
    const columns: RecordBatch['columns'][number][] = [];
    const gather = (src: BigInt64Array): BigInt64Array => {
      if (kept === null) return src.slice(from, to);
      const out = new BigInt64Array(m);
      for (let k = 0; k < m; k++) out[k] = src[from + kept[k]!]!;
      return out;
    };
    if (this.extras.key !== null) columns.push(utf8Slice(set.keys!, set.keyEnds!, set.flags, KEY_NULL, from, to, kept, 0));
    for (const { field } of this.extras.metadata) {
      switch (field) {
        case 'topic': {
          const t = text.encode(this.topic);
          const data = new Uint8Array(t.length * m);
          const offsets = new Int32Array(m + 1);
          for (let k = 0; k < m; k++) {
            data.set(t, k * t.length);
            offsets[k + 1] = (k + 1) * t.length;
          }
          columns.push({ type: 'utf8', offsets, data, validity: null } satisfies Utf8Column);
          break;
        }
        case 'partition':
          columns.push({ type: 'i32', values: new Int32Array(m).fill(this.partition), validity: null } satisfies I32Column);
          break;
        case 'offset':
          columns.push({ type: 'i64', values: gather(set.offsets), validity: null } satisfies I64Column);
          break;
        case 'timestamp':
          columns.push({ type: 'timestamp', values: gather(set.timestamps), validity: null } satisfies I64Column);
          break;
        case 'headers':
          columns.push(utf8Slice(set.headers!, set.headerEnds!, set.flags, 0, from, to, kept, 0));
          break;
      }
    }
    return columns;
  }
}

/** Chunk-relative indices of the records neither excluded nor bad. */
function keptOf(excluded: Uint8Array, bad: Uint8Array | null): Int32Array {
  let m = 0;
  for (let k = 0; k < excluded.length; k++) if (excluded[k] === 0 && (bad === null || bad[k] === 0)) m++;
  const out = new Int32Array(m);
  let j = 0;
  for (let k = 0; k < excluded.length; k++) if (excluded[k] === 0 && (bad === null || bad[k] === 0)) out[j++] = k;
  return out;
}
