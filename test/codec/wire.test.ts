/** Batches between threads: a FlatBuffers header plus transferred buffers, checked on arrival. */

import { describe, expect, it } from 'vitest';
import { MessageChannel } from 'node:worker_threads';
import { batchFromRecords } from '../../ts/batch/builder.js';
import { Schema } from '../../ts/batch/schema.js';
import { decodeBatchHeader, encodeBatchHeader } from '../../ts/batch/wire.js';
import type { RecordBatch } from '../../ts/batch/record-batch.js';

const schema = Schema.from({ id: 'i64', name: 'utf8?', price: 'f64', n: 'i32', ok: 'bool', at: 'timestamp' });
const records = [
  { id: 2n ** 60n, name: 'a', price: 1.5, n: 1, ok: true, at: 1000 },
  { id: -1, name: null, price: -0, n: -7, ok: false, at: 2000 },
  { id: 3, name: 'ünïcode', price: NaN, n: 0, ok: true, at: 3000 },
];

function send(batch: RecordBatch): Promise<{ header: Uint8Array; buffers: ArrayBuffer[] }> {
  const buffers: ArrayBuffer[] = [];
  const header = encodeBatchHeader(batch, (v) => {
    buffers.push(new Uint8Array(v.buffer, v.byteOffset, v.byteLength).slice().buffer);
    return buffers.length - 1;
  });
  const h = header.slice().buffer;
  const { port1, port2 } = new MessageChannel();
  return new Promise((resolve) => {
    port2.once('message', (m: { h: ArrayBuffer; bufs: ArrayBuffer[] }) => {
      port1.close();
      resolve({ header: new Uint8Array(m.h), buffers: m.bufs });
    });
    port1.postMessage({ h, bufs: buffers }, [h, ...buffers]);
    // Transferred: the sender's buffers are gone, nothing was copied into the message.
    expect(buffers.every((b) => b.byteLength === 0)).toBe(true);
  });
}

describe('batches on the wire', () => {
  it('arrive with every value, null and event time, through a real MessagePort', async () => {
    const batch = batchFromRecords(records, schema, 'test', 0).withEventTime(BigInt64Array.from([1000n, 2000n, 3000n]));
    const { header, buffers } = await send(batch);
    const back = decodeBatchHeader(header, buffers, schema, 'test');
    expect(back.length).toBe(3);
    // Byte for byte: the i64 beyond 2^53, -0, NaN, the null and the multi-byte string.
    const bytes = (b: RecordBatch) => b.buffers().map((v) => [...new Uint8Array(v.buffer, v.byteOffset, v.byteLength)]);
    expect(bytes(back)).toEqual(bytes(batch));
    expect(back.columns.map((c) => c.validity === null)).toEqual(batch.columns.map((c) => c.validity === null));
    expect([...back.eventTime!]).toEqual([1000n, 2000n, 3000n]);
  });

  it('a header whose schema is not the expected one is an error that says both', async () => {
    const batch = batchFromRecords(records, schema, 'test', 0);
    const { header, buffers } = await send(batch);
    const other = Schema.from({ id: 'i64', name: 'utf8?', price: 'f64', n: 'i64', ok: 'bool', at: 'timestamp' });
    expect(() => decodeBatchHeader(header, buffers, other, 'exchange')).toThrow(/exchange: a batch arrived with the schema .*n: i32.* but the plan expects .*n: i64/);
    expect(() => decodeBatchHeader(header, buffers.slice(0, 2), schema, 'exchange')).toThrow(/names buffer \d+, but 2 arrived/);
  });
});
