/**
 * The TypeScript engine's reading of Kafka record batches (message format v2) into a
 * KafkaRecordSet: the same rules as the native engine's crates/sluice-core/src/kafka/record_batch.rs,
 * line for line, so both engines see the same records. Reading the batches here rather than
 * through the JavaScript client's parse avoids an object per record and reads what that parse
 * cannot: snappy in the xerial framing Kafka's Java producer writes, and zstd on Node 20 (fzstd).
 */

import { isUtf8 } from 'node:buffer';
import { gunzipSync } from 'node:zlib';
import { crc32c, lz4Decompress, snappyDecompress } from '@platformatic/wasm-utils';
import { decompress as zstdDecompress } from 'fzstd';
import { EngineError } from '../errors.js';
import { HEADER_NOT_UTF8, KEY_NOT_UTF8, KEY_NULL, VALUE_EMPTY, VALUE_HAS_LF, VALUE_NOT_UTF8, VALUE_NULL } from '../kafka-flags.js';
import type { KafkaAbortedTxn, KafkaRecordSet, KafkaWanted } from '../engine.js';


const TIMESTAMP_TYPE = 1 << 3;
const IS_TRANSACTIONAL = 1 << 4;
const IS_CONTROL = 1 << 5;
const HEADER = 61;

const truncated = (): EngineError => new EngineError('data', 'a Kafka record batch ends inside a record (corrupt data from the broker?); check the topic with kafka-dump-log');

/** A growable byte buffer. */
class Bytes {
  buf: Buffer;
  len = 0;
  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafe(Math.max(capacity, 64));
  }
  reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
  push(b: number): void {
    this.reserve(1);
    this.buf[this.len++] = b;
  }
  append(src: Uint8Array, from: number, to: number): void {
    this.reserve(to - from);
    this.buf.set(src.subarray(from, to), this.len);
    this.len += to - from;
  }
  ascii(s: string): void {
    this.reserve(s.length);
    for (let i = 0; i < s.length; i++) this.buf[this.len++] = s.charCodeAt(i);
  }
  done(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
}

class Ints {
  a: Int32Array;
  len = 0;
  constructor(capacity: number) {
    this.a = new Int32Array(Math.max(capacity, 16));
  }
  push(v: number): void {
    if (this.len === this.a.length) {
      const next = new Int32Array(this.a.length * 2);
      next.set(this.a);
      this.a = next;
    }
    this.a[this.len++] = v;
  }
  done(): Int32Array {
    return this.a.subarray(0, this.len);
  }
}

class Cursor {
  constructor(
    readonly b: Buffer,
    public at: number,
  ) {}
  /** A zigzag varint as a number (exact: more than 7 bytes go through BigInt). */
  varlong(): number {
    const b = this.b;
    let v = 0;
    let mul = 1;
    const start = this.at;
    for (let i = 0; i < 7; i++) {
      if (this.at >= b.length) throw truncated();
      const byte = b[this.at++]!;
      v += (byte & 0x7f) * mul;
      if ((byte & 0x80) === 0) return v % 2 === 0 ? v / 2 : -(v + 1) / 2;
      mul *= 128;
    }
    this.at = start;
    const big = this.varlongBig();
    if (big > BigInt(Number.MAX_SAFE_INTEGER) || big < -BigInt(Number.MAX_SAFE_INTEGER)) throw new EngineError('data', 'a Kafka record holds a timestamp delta beyond 2^53 (corrupt data?)');
    return Number(big);
  }
  private varlongBig(): bigint {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      if (this.at >= this.b.length) throw truncated();
      if (shift > 63n) throw new EngineError('data', 'a Kafka record holds a varint longer than 10 bytes (corrupt data?)');
      const byte = this.b[this.at++]!;
      v |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) break;
      shift += 7n;
    }
    return (v >> 1n) ^ -(v & 1n);
  }
  varint(): number {
    const v = this.varlong();
    if (v < -2147483648 || v > 2147483647) throw new EngineError('data', 'a Kafka record holds a varint out of the int32 range (corrupt data?)');
    return v;
  }
  /** A length-prefixed byte string: [start, end), or null. */
  bytes(): [number, number] | null {
    const n = this.varint();
    if (n < 0) return null;
    if (this.b.length - this.at < n) throw truncated();
    const start = this.at;
    this.at += n;
    return [start, this.at];
  }
}

function decompress(codec: number, data: Buffer): Buffer {
  const name = ['none', 'gzip', 'snappy', 'lz4', 'zstd'][codec];
  try {
    switch (codec) {
      case 1:
        return gunzipSync(data);
      case 2: {
        // Kafka's Java producer writes snappy in xerial's framing; other clients one raw block.
        if (data.length >= 16 && data.subarray(0, 8).equals(XERIAL)) {
          const parts: Buffer[] = [];
          for (let at = 16; at < data.length; ) {
            if (data.length - at < 4) throw new Error('a block length is cut off');
            const n = data.readInt32BE(at);
            at += 4;
            if (at + n > data.length) throw new Error('a block is cut off');
            parts.push(snappyDecompress(data.subarray(at, at + n)));
            at += n;
          }
          return Buffer.concat(parts);
        }
        return snappyDecompress(data);
      }
      case 3:
        return lz4Decompress(data);
      case 4: {
        const out = zstdDecompress(data);
        return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
      }
    }
  } catch (e) {
    throw new EngineError('data', `a Kafka record batch compressed with ${name} does not decompress: ${(e as Error).message}; check the producer`);
  }
  throw new EngineError('data', `a Kafka record batch uses compression codec ${codec}, which is unknown (0-4 are none, gzip, snappy, lz4, zstd)`);
}

const XERIAL = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);

/** JSON.stringify of a string given as UTF-8 bytes, written as bytes. */
function jsonString(out: Bytes, b: Buffer, from: number, to: number): void {
  out.push(34);
  for (let i = from; i < to; i++) {
    const c = b[i]!;
    if (c === 34) out.ascii('\\"');
    else if (c === 92) out.ascii('\\\\');
    else if (c === 10) out.ascii('\\n');
    else if (c === 13) out.ascii('\\r');
    else if (c === 9) out.ascii('\\t');
    else if (c === 8) out.ascii('\\b');
    else if (c === 12) out.ascii('\\f');
    else if (c < 0x20) out.ascii(`\\u00${c.toString(16).padStart(2, '0')}`);
    else out.push(c);
  }
  out.push(34);
}

function jsonBlank(b: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = b[i]!;
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13) return false;
  }
  return true;
}

/** See Engine.takeKafkaRecords. */
export function takeKafkaRecords(records: Uint8Array, aborted: readonly KafkaAbortedTxn[], from: bigint, stop: bigint | null, wanted: KafkaWanted): KafkaRecordSet {
  const bytes = Buffer.isBuffer(records) ? records : Buffer.from(records.buffer, records.byteOffset, records.byteLength);
  const offsets: bigint[] = [];
  const timestamps: bigint[] = [];
  const flags: number[] = [];
  const values = new Bytes(bytes.length);
  const valueEnds = new Ints(1024);
  valueEnds.push(0);
  const originals = new Map<number, Uint8Array>();
  const keys = wanted.keys ? new Bytes(1024) : null;
  const keyEnds = wanted.keys ? new Ints(1024) : null;
  keyEnds?.push(0);
  const headers = wanted.headers ? new Bytes(1024) : null;
  const headerEnds = wanted.headers ? new Ints(1024) : null;
  headerEnds?.push(0);
  let next = from;
  // Kafka's rule: an aborted transaction's records lie between its first offset and its abort marker.
  const pending = [...aborted].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0));
  let p = 0;
  const abortedProducers: bigint[] = [];
  const result = (): KafkaRecordSet => ({
    next,
    offsets: BigInt64Array.from(offsets),
    timestamps: BigInt64Array.from(timestamps),
    flags: Uint8Array.from(flags),
    values: values.done(),
    valueEnds: valueEnds.done(),
    originals,
    keys: keys?.done() ?? null,
    keyEnds: keyEnds?.done() ?? null,
    headers: headers?.done() ?? null,
    headerEnds: headerEnds?.done() ?? null,
  });
  let at = 0;
  while (bytes.length - at >= 12) {
    const length = bytes.readInt32BE(at + 8);
    if (length < 0 || bytes.length - at - 12 < length) break; // the trailing partial batch
    const batch = bytes.subarray(at, at + 12 + length);
    at += batch.length;
    if (batch.length < HEADER) throw new EngineError('data', `a Kafka record batch of ${batch.length} bytes is shorter than its header (corrupt data?)`);
    const magic = batch.readInt8(16);
    if (magic !== 2) throw new EngineError('data', `a Kafka record batch has format version (magic) ${magic}; Sluice reads version 2 (Kafka 0.11 and later), so upgrade the topic's data (Kafka 4 brokers store only version 2)`);
    const baseOffset = batch.readBigInt64BE(0);
    const attributes = batch.readInt16BE(21);
    const last = baseOffset + BigInt(batch.readInt32BE(23));
    const baseTimestamp = batch.readBigInt64BE(27);
    // LogAppendTime topics: every record's timestamp is the batch's (the broker's) max timestamp.
    const logAppendTime = (attributes & TIMESTAMP_TYPE) !== 0;
    const maxTimestamp = batch.readBigInt64BE(35);
    const producerId = batch.readBigInt64BE(43);
    const count = batch.readInt32BE(57);
    if (last < from) continue;
    // The CRC-32C of everything after it, checked as the Java consumer does (check.crcs).
    const stored = batch.readUInt32BE(17);
    const computed = crc32c(batch.subarray(21));
    if (stored !== computed) {
      throw new EngineError('data', `the record batch at offset ${baseOffset} fails its CRC-32C check (stored ${stored}, computed ${computed}): the data was corrupted on the broker or on the way; check the topic with kafka-dump-log`);
    }
    while (p < pending.length && pending[p]!.firstOffset <= last) abortedProducers.push(pending[p++]!.producerId);
    const codec = attributes & 7;
    const recs = codec === 0 ? batch.subarray(HEADER) : decompress(codec, batch.subarray(HEADER));
    if ((attributes & IS_CONTROL) !== 0) {
      // A control record's key: version (int16), type (int16: 0 abort, 1 commit).
      if (count > 0) {
        const c = new Cursor(recs, 0);
        c.varint();
        c.at += 1;
        c.varlong();
        c.varint();
        const k = c.bytes();
        if (k !== null && k[1] - k[0] >= 4 && recs.readInt16BE(k[0] + 2) === 0) {
          for (let i = abortedProducers.length - 1; i >= 0; i--) if (abortedProducers[i] === producerId) abortedProducers.splice(i, 1);
        }
      }
      if (stop !== null && baseOffset >= stop) break;
      if (last + 1n > next) next = last + 1n;
      continue;
    }
    const skip = (attributes & IS_TRANSACTIONAL) !== 0 && abortedProducers.includes(producerId);
    const c = new Cursor(recs, 0);
    for (let r = 0; r < count; r++) {
      const len = c.varint();
      if (len < 0) throw truncated();
      const end = c.at + len;
      if (end > recs.length) throw truncated();
      c.at += 1; // attributes (unused)
      const tsDelta = c.varlong();
      const offset = baseOffset + BigInt(c.varint());
      if (offset < from) {
        c.at = end;
        continue;
      }
      if (stop !== null && offset >= stop) return result();
      if (!skip) {
        let f = 0;
        const key = c.bytes();
        const value = c.bytes();
        if (value === null) f |= VALUE_NULL;
        else {
          const [vs, ve] = value;
          const start = values.len;
          values.append(recs, vs, ve);
          const lf = recs.subarray(vs, ve).indexOf(10) >= 0;
          if (wanted.kind === 'json') {
            if (jsonBlank(recs, vs, ve)) f |= VALUE_EMPTY;
            if (lf) {
              // A line feed in valid JSON is whitespace: one record stays one line.
              f |= VALUE_HAS_LF;
              for (let i = start; i < values.len; i++) if (values.buf[i] === 10) values.buf[i] = 32;
              originals.set(offsets.length, Uint8Array.prototype.slice.call(recs, vs, ve));
            }
          } else if (wanted.kind === 'csv') {
            if (ve === vs) f |= VALUE_EMPTY;
            if (lf) f |= VALUE_HAS_LF;
          } else if (!isUtf8(recs.subarray(vs, ve))) f |= VALUE_NOT_UTF8;
          values.push(10);
        }
        valueEnds.push(values.len);
        if (keys !== null) {
          if (key === null) f |= KEY_NULL;
          else {
            if (!isUtf8(recs.subarray(key[0], key[1]))) f |= KEY_NOT_UTF8;
            keys.append(recs, key[0], key[1]);
          }
          keyEnds!.push(keys.len);
        }
        if (headers !== null) {
          const n = c.varint();
          headers.push(91);
          for (let h = 0; h < n; h++) {
            const hk = c.bytes();
            const hv = c.bytes();
            if (h > 0) headers.push(44);
            headers.push(91);
            for (const [i, part] of [hk, hv].entries()) {
              if (i > 0) headers.push(44);
              if (part === null) headers.ascii('null');
              else {
                if (!isUtf8(recs.subarray(part[0], part[1]))) f |= HEADER_NOT_UTF8;
                jsonString(headers, recs, part[0], part[1]);
              }
            }
            headers.push(93);
          }
          headers.push(93);
          headerEnds!.push(headers.len);
        }
        if (c.at > end) throw truncated();
        offsets.push(offset);
        timestamps.push(logAppendTime ? maxTimestamp : baseTimestamp + BigInt(tsDelta));
        flags.push(f);
      }
      c.at = end;
      next = offset + 1n;
    }
    if (stop === null || last < stop) {
      if (last + 1n > next) next = last + 1n;
    }
  }
  return result();
}
