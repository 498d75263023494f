// Engine.takeKafkaRecords on both engines, on record batches the JavaScript client writes (no
// broker needed): the same record sets, and for a batch corrupted after it was written the
// same error (the CRC-32C check), byte for byte.
import { createRecordsBatch } from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { selectEngine } from '../../ts/engine/select.js';
import type { KafkaRecordSet } from '../../ts/engine/engine.js';
import { requireNative } from '../engines.js';

const wanted = { kind: 'json', keys: true, headers: true } as const;

function batch(compression: 'none' | 'gzip' | 'snappy' | 'lz4'): Buffer {
  const messages = Array.from({ length: 20 }, (_, i) => ({
    topic: 't',
    partition: 0,
    key: i % 3 === 0 ? undefined : Buffer.from(`k${i}`),
    value: Buffer.from(JSON.stringify({ id: i, name: 'n'.repeat(i) })),
    timestamp: 1_700_000_000_000n + BigInt(i),
    headers: new Map([[Buffer.from('h'), Buffer.from(`v"${i}`)]]),
  }));
  return createRecordsBatch(messages, { compression }).buffer;
}

/** The set's contents, whatever typed-array classes hold them. */
const plain = (s: KafkaRecordSet): Record<string, unknown> =>
  Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v instanceof Map ? [...v].map(([i, b]) => [i, [...(b as Uint8Array)]]) : ArrayBuffer.isView(v) ? [...(v as Uint8Array)] : v]));

describe('Engine.takeKafkaRecords', () => {
  it('reads the same records from batches of each codec on both engines', () => {
    requireNative();
    for (const codec of ['none', 'gzip', 'snappy', 'lz4'] as const) {
      const bytes = batch(codec);
      const native = plain(selectEngine('native').takeKafkaRecords(bytes, [], 5n, 15n, wanted));
      const ts = plain(selectEngine('ts').takeKafkaRecords(bytes, [], 5n, 15n, wanted));
      expect(ts, codec).toEqual(native);
      expect(native.offsets, codec).toEqual(Array.from({ length: 10 }, (_, i) => BigInt(i + 5)));
      expect(native.next, codec).toBe(15n);
    }
  });

  it('a batch corrupted after it was written fails its CRC-32C check with the same message on both engines', () => {
    requireNative();
    const bytes = batch('none');
    bytes[bytes.length - 3]! ^= 0x20;
    const message = (engine: 'native' | 'ts'): string => {
      try {
        selectEngine(engine).takeKafkaRecords(bytes, [], 0n, null, wanted);
      } catch (e) {
        return (e as Error).message;
      }
      throw new Error(`${engine}: no error`);
    };
    expect(message('native')).toMatch(/^the record batch at offset 0 fails its CRC-32C check \(stored \d+, computed \d+\)/);
    expect(message('ts')).toBe(message('native'));
  });
});
