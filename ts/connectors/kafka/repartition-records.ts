/**
 * The records of a repartition topic (docs/application-mode.md, "Repartition topics"): the
 * keyed exchange between an application's sub-topologies, as Kafka Streams' internal topic
 * `<application id>-<name>-repartition`: the topic's format and the downstream watermark rule,
 * the parts the repartition sink (sink.ts, KafkaSink.repartition) and source (repartition-source.ts) share.
 *
 * - Partitions are key-group ranges, as a hash exchange's subtasks (Flink's operator index for
 *   a key group): partition p of P holds the key groups g with floor(g * P / maxParallelism) = p,
 *   so a downstream task's keyed state is a key-group range and restores or rescales as one.
 * - A rows record carries the rows of one upstream batch that go to that partition, in the
 *   wire format of batches between threads (batch/wire.ts: a FlatBuffers header naming the
 *   schema, then the column buffers), event time included: no per-row encoding.
 * - A watermark record carries an upstream task's watermark; an end record says the upstream
 *   task's input ended; an idle record says its input became idle (withIdleness) or active
 *   again. Every upstream task writes them to every partition. A downstream task's watermark is
 *   the minimum over the upstream tasks' latest watermarks (a task not heard from yet holds it
 *   back; an ended or idle one does not), as an exchange receiver combines its channels.
 */

import { encodeBatchHeader, decodeBatchHeader } from '../../batch/wire.js';
import { rowReader, type RecordBatch, type Row } from '../../batch/record-batch.js';
import type { Schema } from '../../batch/schema.js';
import { keyFnGroup, keyGroups, subtaskOf } from '../../keys/key-groups.js';

const MAGIC = 0x53; // 'S'
const VERSION = 1;
const ROWS = 0;
const WATERMARK = 1;
const END = 2;
const IDLE = 3;

/** The repartition topic of operator `operatorUid` in application `application` (Kafka topic names: letters, digits, '.', '_', '-'; at most 249). */
export function repartitionTopic(application: string, operatorUid: string): string {
  const name = `${application}-${operatorUid.replace(/[^A-Za-z0-9._-]/g, '_')}-repartition`;
  if (name.length > 249) throw new Error(`repartition topic '${name.slice(0, 60)}...' is longer than Kafka's 249 characters: give the operator a shorter uid()`);
  return name;
}

/** The partition of key group `keyGroup`: key-group ranges, as a hash exchange's subtasks. */
export function partitionOfKeyGroup(keyGroup: number, maxParallelism: number, partitions: number): number {
  return subtaskOf(keyGroup, partitions, maxParallelism);
}

export interface RepartitionRecord {
  readonly partition: number;
  readonly value: Buffer;
}

function head(kind: number, task: number, extra: number): Buffer {
  const b = Buffer.alloc(7 + extra);
  b[0] = MAGIC;
  b[1] = VERSION;
  b[2] = kind;
  b.writeUInt32LE(task, 3);
  return b;
}

/**
 * The rows of `batch` as one record per partition they go to (by the key group of `keys`: key
 * fields, or a key selector as a keyFn exchange applies it), written by upstream task `task`.
 * Without key fields (an unkeyed input of a cut) all go to partition `task` mod `partitions`:
 * one upstream task's rows stay in order, as through a forward exchange.
 */
export function rowRecords(batch: RecordBatch, keys: readonly number[] | ((row: Row) => unknown), maxParallelism: number, partitions: number, task: number): RepartitionRecord[] {
  if (typeof keys !== 'function' && keys.length === 0) return [rowsRecord(batch, task % partitions, task)];
  const groups = typeof keys === 'function' ? selectorGroups(batch, keys, maxParallelism) : keyGroups(batch, keys, maxParallelism);
  const rows: number[][] = Array.from({ length: partitions }, () => []);
  for (let i = 0; i < batch.length; i++) rows[partitionOfKeyGroup(groups[i]!, maxParallelism, partitions)]!.push(i);
  const out: RepartitionRecord[] = [];
  rows.forEach((idx, partition) => {
    if (idx.length === 0) return;
    out.push(rowsRecord(batch.take(Int32Array.from(idx), idx.length), partition, task));
  });
  return out;
}

/** Each row's key group by its selected key (keyFnGroup, as the keyed operator groups it). */
function selectorGroups(batch: RecordBatch, selector: (row: Row) => unknown, maxParallelism: number): Int32Array {
  const read = rowReader(batch);
  const groups = new Int32Array(batch.length);
  for (let i = 0; i < batch.length; i++) groups[i] = keyFnGroup(selector(read(i)), maxParallelism);
  return groups;
}

/** The rows of `part` as one record for `partition`: the batch wire format (a header, then the column buffers). */
function rowsRecord(part: RecordBatch, partition: number, task: number): RepartitionRecord {
  const buffers: Uint8Array[] = [];
  const header = encodeBatchHeader(part, (v) => buffers.push(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)) - 1);
  const size = 4 + header.length + 4 + buffers.reduce((s, b) => s + 4 + b.length, 0);
  const value = head(ROWS, task, size);
  let at = 7;
  value.writeUInt32LE(header.length, at);
  value.set(header, at + 4);
  at += 4 + header.length;
  value.writeUInt32LE(buffers.length, at);
  at += 4;
  for (const b of buffers) {
    value.writeUInt32LE(b.length, at);
    value.set(b, at + 4);
    at += 4 + b.length;
  }
  return { partition, value };
}

/** Upstream task `task`'s watermark (ms) for every partition. */
export function watermarkRecords(partitions: number, task: number, watermark: number): RepartitionRecord[] {
  return Array.from({ length: partitions }, (_, partition) => {
    const value = head(WATERMARK, task, 8);
    value.writeDoubleLE(watermark, 7);
    return { partition, value };
  });
}

/** Upstream task `task`'s input ended, for every partition. */
export function endRecords(partitions: number, task: number): RepartitionRecord[] {
  return Array.from({ length: partitions }, (_, partition) => ({ partition, value: head(END, task, 0) }));
}

/** Upstream task `task`'s input became idle (`idle`) or active again, for every partition. */
export function idleRecords(partitions: number, task: number, idle: boolean): RepartitionRecord[] {
  return Array.from({ length: partitions }, (_, partition) => {
    const value = head(IDLE, task, 1);
    value[7] = idle ? 1 : 0;
    return { partition, value };
  });
}

export type DecodedRecord =
  | { readonly kind: 'rows'; readonly task: number; readonly batch: RecordBatch }
  | { readonly kind: 'watermark'; readonly task: number; readonly watermark: number }
  | { readonly kind: 'end'; readonly task: number }
  | { readonly kind: 'idle'; readonly task: number; readonly idle: boolean };

/** A repartition record's content; rows must have `schema` (else a loud error naming `where`). */
export function decodeRecord(value: Uint8Array, schema: Schema, where: string): DecodedRecord {
  const b = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (b.length < 7 || b[0] !== MAGIC) throw new Error(`${where}: a record that is not a Sluice repartition record (${b.length} bytes); is another producer writing to this internal topic?`);
  if (b[1] !== VERSION) throw new Error(`${where}: a repartition record of format version ${b[1]}, this Sluice reads version ${VERSION}; run one Sluice version across the application`);
  const task = b.readUInt32LE(3);
  switch (b[2]) {
    case WATERMARK:
      return { kind: 'watermark', task, watermark: b.readDoubleLE(7) };
    case END:
      return { kind: 'end', task };
    case IDLE:
      if (b.length < 8) throw new Error(`${where}: an idle record is truncated (${b.length} bytes)`);
      return { kind: 'idle', task, idle: b[7] === 1 };
    case ROWS: {
      let at = 7;
      const hlen = b.readUInt32LE(at);
      const header = new Uint8Array(b.subarray(at + 4, at + 4 + hlen));
      at += 4 + hlen;
      const count = b.readUInt32LE(at);
      at += 4;
      const buffers: ArrayBuffer[] = [];
      for (let i = 0; i < count; i++) {
        const len = b.readUInt32LE(at);
        if (at + 4 + len > b.length) throw new Error(`${where}: a repartition record is truncated (buffer ${i} of ${count} needs ${len} bytes)`);
        // Copied into its own buffer: typed arrays need their alignment.
        const own = new ArrayBuffer(len);
        new Uint8Array(own).set(b.subarray(at + 4, at + 4 + len));
        buffers.push(own);
        at += 4 + len;
      }
      return { kind: 'rows', task, batch: decodeBatchHeader(header, buffers, schema, where) };
    }
    default:
      throw new Error(`${where}: a repartition record of unknown kind ${b[2]}`);
  }
}

/**
 * A downstream task's watermark from its upstream tasks' (Kafka Streams keeps stream time per
 * partition; here every upstream task's watermark arrives on every partition): the minimum
 * over the upstream tasks, each at its latest; a task not heard from holds it at -Infinity, an
 * ended one counts as +Infinity, an idle one (withIdleness upstream) is left out, as Flink's
 * watermark valve leaves out idle channels. It never goes back: a task active again below it
 * holds it until that task catches up; once every task left is idle it is the highest of
 * theirs (Flink's valve likewise flushes the maximum then).
 */
export class UpstreamWatermarks {
  private readonly latest: Float64Array;
  private readonly idle: Uint8Array;
  private current = -Infinity;

  constructor(readonly tasks: number) {
    this.latest = new Float64Array(tasks).fill(-Infinity);
    this.idle = new Uint8Array(tasks);
  }

  private check(task: number): void {
    if (!Number.isInteger(task) || task < 0 || task >= this.tasks) throw new RangeError(`a record from upstream task ${task}, but the sub-topology has tasks 0..${this.tasks - 1}; did the input topics' partition count change?`);
  }

  /**
   * Upstream task `task` reached `watermark`; returns the combined watermark when it advanced,
   * else null. The task is active again: a task restored from a checkpoint taken while it was
   * idle does not say so before its first records.
   */
  observe(task: number, watermark: number): number | null {
    this.check(task);
    this.idle[task] = 0;
    // A task's watermark never goes back (a replay after its restore repeats older ones).
    if (watermark > this.latest[task]!) this.latest[task] = watermark;
    return this.advance();
  }

  /** Upstream task `task` ended (its watermark is +Infinity from now on). */
  end(task: number): number | null {
    return this.observe(task, Infinity);
  }

  /** Rows of upstream task `task` arrived: it is active (see observe). */
  rowsFrom(task: number): void {
    if (task >= 0 && task < this.tasks) this.idle[task] = 0;
  }

  /** Upstream task `task`'s input became idle or active again; returns the combined watermark when it advanced, else null. */
  setIdle(task: number, idle: boolean): number | null {
    this.check(task);
    this.idle[task] = idle ? 1 : 0;
    return this.advance();
  }

  private advance(): number | null {
    let min = Infinity;
    let idle = false;
    let idleMax = -Infinity;
    for (let t = 0; t < this.tasks; t++) {
      if (this.idle[t] === 1 && this.latest[t] !== Infinity) {
        idle = true;
        if (this.latest[t]! > idleMax) idleMax = this.latest[t]!;
      } else if (this.latest[t]! < min) min = this.latest[t]!;
    }
    // Every task left is idle: none will advance, so the highest of their watermarks holds, as
    // Flink's valve flushes the maximum when its last active channel goes idle. (Else a task that
    // went idle before a never-heard-from one did would hold the windows back for good.) Not the
    // end: the idle ones may still send, so the end waits for them.
    if (min === Infinity && idle) min = idleMax;
    if (min <= this.current) return null;
    this.current = min;
    return min;
  }

  get watermark(): number {
    return this.current;
  }

  /** For a checkpoint: each upstream task's latest watermark. */
  snapshot(): number[] {
    return [...this.latest];
  }

  /** For a checkpoint: the upstream tasks that are idle. */
  idleTasks(): number[] {
    const out: number[] = [];
    for (let t = 0; t < this.tasks; t++) if (this.idle[t] === 1) out.push(t);
    return out;
  }

  /** From a checkpoint: `latest` and `idle` as snapshot() and idleTasks() gave them, and the combined watermark then (absent in checkpoints before idleness: the minimum). */
  restore(latest: readonly number[], idle: readonly number[] = [], watermark?: number): void {
    if (latest.length !== this.tasks) throw new Error(`a checkpoint holds watermarks of ${latest.length} upstream tasks, the sub-topology has ${this.tasks}; the input topics' partition count changed`);
    this.latest.set(latest);
    this.idle.fill(0);
    for (const t of idle) {
      this.check(t);
      this.idle[t] = 1;
    }
    this.current = watermark ?? Math.min(...latest);
  }
}
