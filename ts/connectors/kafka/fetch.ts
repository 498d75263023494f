/**
 * Kafka's Fetch request (v17) with the partitions' record sets left as raw bytes: the client's
 * own fetch parses every record into a JavaScript object, which bounds a source at about 0.12 M
 * records/s. Here the client encodes the request and reads the response's frame and partition
 * fields only; the records go to the engine (Rust on the native engine,
 * engine.takeKafkaRecords) or, on the TypeScript engine, to the client's record-batch reader.
 */

import type { Connection, ConnectionPool, Reader } from '@platformatic/kafka';
import { loadKafka } from './client.js';

export interface RawFetchPartition {
  readonly partitionIndex: number;
  readonly errorCode: number;
  readonly highWatermark: bigint;
  readonly lastStableOffset: bigint;
  readonly abortedTransactions: readonly { readonly producerId: bigint; readonly firstOffset: bigint }[];
  /** The record set: whole batches, then perhaps the start of one cut off at the size limit. */
  readonly records: Buffer | null;
}

export interface RawFetchResponse {
  readonly errorCode: number;
  readonly responses: readonly { readonly topicId: string; readonly partitions: readonly RawFetchPartition[] }[];
}

export interface RawFetchTopic {
  readonly topicId: string;
  readonly partitions: readonly { partition: number; currentLeaderEpoch: number; fetchOffset: bigint; lastFetchedEpoch: number; partitionMaxBytes: number }[];
}

/** The Fetch v17 response as in the Kafka protocol, records kept as bytes. */
function parseRawFetch(_correlationId: number, _apiKey: number, _apiVersion: number, reader: Reader): RawFetchResponse {
  reader.readInt32(); // throttle_time_ms
  const errorCode = reader.readInt16();
  reader.readInt32(); // session_id
  const responses = reader.readArray((r) => ({
    topicId: r.readUUID(),
    partitions: r.readArray((r) => {
      const partitionIndex = r.readInt32();
      const partitionError = r.readInt16();
      const highWatermark = r.readInt64();
      const lastStableOffset = r.readInt64();
      r.readInt64(); // log_start_offset
      const abortedTransactions = r.readArray((r) => ({ producerId: r.readInt64(), firstOffset: r.readInt64() })) ?? [];
      r.readInt32(); // preferred_read_replica
      // COMPACT_RECORDS: length + 1 (0: null).
      const size = r.readUnsignedVarInt() - 1;
      let records: Buffer | null = null;
      if (size > 0) {
        // One buffer (a copy only when the response arrived in several socket chunks).
        records = r.buffer.slice(r.position, r.position + size);
        r.skip(size);
      }
      return { partitionIndex, errorCode: partitionError, highWatermark, lastStableOffset, abortedTransactions, records };
    }),
  }));
  return { errorCode, responses };
}

type RawFetchApi = (
  connection: Connection,
  maxWaitMs: number,
  minBytes: number,
  maxBytes: number,
  isolationLevel: number,
  sessionId: number,
  sessionEpoch: number,
  topics: readonly RawFetchTopic[],
  forgotten: readonly never[],
  rackId: string,
  callback: (error: Error | null, response: RawFetchResponse) => void,
) => void;

let api: RawFetchApi | null = null;

/** One Fetch to `broker` (a leader), over `pool`'s connection to it. */
export async function rawFetch(
  pool: ConnectionPool,
  broker: { readonly host: string; readonly port: number },
  request: { readonly maxWaitMs: number; readonly maxBytes: number; readonly isolationLevel: number; readonly topics: readonly RawFetchTopic[] },
): Promise<RawFetchResponse> {
  const kafka = await loadKafka();
  api ??= kafka.createAPI(1, 17, kafka.fetchV17.createRequest, parseRawFetch as never) as unknown as RawFetchApi;
  const connection = await pool.get(broker);
  return new Promise((resolve, reject) => {
    api!(connection, request.maxWaitMs, 1, request.maxBytes, request.isolationLevel, 0, 0, request.topics, [], '', (error, response) => (error ? reject(error) : resolve(response)));
  });
}
