/** The pure-TypeScript engine: the same operators as the native one, in TypeScript. */

import type { RecordBatch } from '../../batch/record-batch.js';
import { Buffer } from 'node:buffer';
import type { Schema } from '../../batch/schema.js';
import { rowRenderer, toLines } from '../../batch/text-format.js';
import type { SegmentLayout } from '../../batch/segment.js';
import { scatterToSegments } from './segments.js';
import type { SegmentIo, SegmentRoute, Calc, CsvDecoder, Engine, GroupAggregator, GroupAggregatorSpec, KafkaAbortedTxn, KafkaRecordSet, KafkaWanted, LineDecoder, NexmarkGenerator, TextFormat, WindowAggregator, WindowAggregatorSpec } from '../engine.js';
import type { NexmarkConfig, NexmarkKind } from '../nexmark-config.js';
import { decodeBatch, encodeBatch } from './codec.js';
import { murmur3_32 } from '../../keys/hash.js';
import { hashPartition, partitionByTargets } from './partition.js';
import { TsNexmarkGenerator } from './nexmark.js';
import { createTsWindowAggregator } from './window/index.js';
import { TsJsonlDecoder } from './text/jsonl.js';
import { TsCsvDecoder } from './text/csv.js';
import { TsCalc } from './calc.js';
import { takeKafkaRecords } from './kafka-records.js';
import { TsGroupAggregator } from './group-agg.js';
import type { CalcSpec, PushedFilter } from '../calc-spec.js';

export class TsEngine implements Engine {
  readonly name = 'ts' as const;

  createCalc(input: Schema, spec: CalcSpec): Calc {
    return new TsCalc(input, spec);
  }

  createWindowAggregator(spec: WindowAggregatorSpec): WindowAggregator {
    return createTsWindowAggregator(spec);
  }

  createGroupAggregator(spec: GroupAggregatorSpec): GroupAggregator {
    return new TsGroupAggregator(spec);
  }

  createNexmarkGenerator(config: NexmarkConfig, kind: NexmarkKind, fields?: readonly string[], filter?: PushedFilter): NexmarkGenerator {
    return new TsNexmarkGenerator(config, kind, fields, filter);
  }

  encodeBatch(batch: RecordBatch): Uint8Array {
    return encodeBatch(batch);
  }

  decodeBatch(bytes: Uint8Array): RecordBatch {
    return decodeBatch(bytes);
  }

  murmur3(bytes: Uint8Array, seed: number): number {
    return murmur3_32(bytes, seed);
  }

  hashPartition(batch: RecordBatch, keyFields: readonly number[], parallelism: number, maxParallelism: number): RecordBatch[] {
    return hashPartition(batch, keyFields, parallelism, maxParallelism);
  }

  openMemoryPool(): void {}
  memoryPoolUse(): null {
    return null;
  }
  closeMemoryPool(): void {}

  partitionByTargets(batch: RecordBatch, targets: Uint32Array, n: number): RecordBatch[] {
    return partitionByTargets(batch, targets, n);
  }

  scatterToSegments(batch: RecordBatch, route: SegmentRoute, pool: Uint8Array, layout: SegmentLayout, io: SegmentIo, from: number): number {
    return scatterToSegments(batch, route, pool, layout, io, from);
  }

  takeKafkaRecords(records: Uint8Array, aborted: readonly KafkaAbortedTxn[], from: bigint, stop: bigint | null, wanted: KafkaWanted): KafkaRecordSet {
    return takeKafkaRecords(records, aborted, from, stop, wanted);
  }

  createJsonlDecoder(schema: Schema, where: string): LineDecoder {
    return new TsJsonlDecoder(schema, where);
  }

  createCsvDecoder(schema: Schema, where: string, format: { readonly delimiter: string; readonly header: boolean }): CsvDecoder {
    return new TsCsvDecoder(schema, where, format);
  }

  encodeText(batch: RecordBatch, format: TextFormat): Uint8Array {
    return Buffer.from(toLines(batch, format), 'utf8');
  }

  encodeTextRows(batch: RecordBatch, format: TextFormat): { bytes: Uint8Array; rowEnds: number[] } {
    const row = rowRenderer(batch, format);
    const rowEnds: number[] = [];
    let text = '';
    let bytes = 0;
    for (let i = 0; i < batch.length; i++) {
      const line = row(i);
      text += line;
      bytes += Buffer.byteLength(line);
      rowEnds.push(bytes);
    }
    return { bytes: Buffer.from(text, 'utf8'), rowEnds };
  }
}
