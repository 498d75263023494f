/**
 * Rolling part files: a sink writing into a directory as `part-00000.jsonl`,
 * `part-00001.jsonl`, ... (in parallel, each subtask its own: `part-<subtask>-00000.jsonl`, as
 * Flink's FileSink names parts per subtask) and starting a new part when the current one would grow past
 * `maxBytes` or has been open for `intervalMs`. A row is never split across parts; a row
 * larger than `maxBytes` gets a part of its own. Every CSV part starts with the header row.
 *
 * A part is written as `.part-NNNNN.<ext>.inprogress` and renamed when it is complete, so a
 * reader that skips hidden files (FileSource.directory / watch) never sees half a part.
 * A part that has been open for `intervalMs` is completed by a timer even when no rows
 * arrive (and checked again on every write and on close).
 *
 * Under checkpoints the parts are exactly-once (two-phase commit, as Flink's FileSink): a
 * completed part is renamed `.part-NNNNN.<ext>.pending` (still hidden), each checkpoint also
 * completes the part in progress, and when the checkpoint completes its pending parts get
 * their final names. The checkpoint keeps the pending parts and the next part number, so a
 * restore publishes what the checkpoint covered (once) and deletes every later part, pending,
 * in progress or even published by a checkpoint that did not survive.
 */

import { Buffer } from 'node:buffer';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { RecordBatch } from '../batch/record-batch.js';
import type { Schema } from '../batch/schema.js';
import type { SinkWriter } from '../api/connector.js';
import { fsyncDir } from './committing-file.js';
import { csvHeader, type TextFormat } from '../batch/text-format.js';
import type { Engine } from '../engine/engine.js';
import { selectEngine } from '../engine/select.js';

export interface RolloverPolicy {
  /** Start a new part before the current one would exceed this many bytes (whole rows only). */
  readonly maxBytes?: number;
  /** Start a new part once the current one has been open this long (wall time, ms). */
  readonly intervalMs?: number;
}

/** Checks a policy when the pipeline is built. */
export function checkRollover(policy: RolloverPolicy): RolloverPolicy {
  const { maxBytes, intervalMs } = policy;
  if (maxBytes === undefined && intervalMs === undefined) {
    throw new TypeError('rollover needs maxBytes, intervalMs or both, e.g. { rollover: { maxBytes: 128 * 1024 * 1024 } }');
  }
  if (maxBytes !== undefined && (!Number.isSafeInteger(maxBytes) || maxBytes < 1)) {
    throw new RangeError(`rollover.maxBytes must be a whole number of bytes >= 1, got ${String(maxBytes)}`);
  }
  if (intervalMs !== undefined && (typeof intervalMs !== 'number' || !Number.isFinite(intervalMs) || intervalMs <= 0)) {
    throw new RangeError(`rollover.intervalMs must be a number of ms above 0, got ${String(intervalMs)}`);
  }
  return { maxBytes, intervalMs };
}

interface Part {
  readonly index: number;
  readonly fd: number;
  readonly tmp: string;
  readonly final: string;
  readonly openedAt: number;
  bytes: number;
  rows: number;
}

/** The parts completed for one checkpoint, awaiting its completion. */
interface PendingParts {
  readonly id: number;
  readonly parts: readonly number[];
}

export interface RollingFileState {
  /** The first part number the checkpoint does not cover. */
  readonly nextIndex: number;
  readonly pending: readonly PendingParts[];
}

export class RollingFileWriter implements SinkWriter {
  /** Each batch is encoded and written within `write`: none is kept. */
  readonly borrows = true;

  private part: Part | null = null;
  private index = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  /** A failure inside the timer, reported by the next write or close. */
  private failure: unknown = null;
  private readonly header: string | null;
  private readonly headerBytes: number;
  /** Checkpointing: parts completed since the last checkpoint, and those awaiting a checkpoint's completion. */
  private rolled: number[] = [];
  private pending: PendingParts[] = [];
  private readonly partName: RegExp;
  private readonly prefix: string;

  constructor(
    private readonly dir: string,
    private readonly format: TextFormat,
    schema: Schema,
    private readonly policy: RolloverPolicy,
    /** Exactly-once (the job takes checkpoints); `restoring`: `restore` follows, the parts are ours. */
    private readonly committing: { readonly restoring: boolean } | null = null,
    /** A parallel sink's subtask (its parts are `part-<subtask>-NNNNN`), or null for one writer. */
    subtask: number | null = null,
    /** The engine that encodes rows (the job's); the TS engine when absent. */
    private readonly engine: Engine = selectEngine('ts'),
  ) {
    mkdirSync(dir, { recursive: true });
    this.prefix = subtask === null ? 'part-' : `part-${subtask}-`;
    this.partName = new RegExp(`^\\.?${this.prefix}([0-9]{5,})\\.${format}(\\.inprogress|\\.pending)?$`);
    // Another subtask's parts of this run may appear meanwhile: only this writer's names count here.
    const mine = readdirSync(dir).filter((n) => this.partName.test(n));
    const old = mine.filter((n) => !n.startsWith('.'));
    if (committing?.restoring !== true) {
      // Hidden parts (in progress, or waiting for a checkpoint that never completed) were never
      // published: a run killed before its first checkpoint leaves them, and a fresh run starts over.
      if (old.length === 0) for (const n of mine) rmSync(join(dir, n), { force: true });
    }
    if (old.length > 0 && committing?.restoring !== true) {
      // As Spark's default save mode: never mix two runs' parts, never delete a user's files.
      throw new Error(
        `directory '${dir}' already holds part files (${old.slice(0, 3).join(', ')}${old.length > 3 ? ', ...' : ''}) from an earlier run; ` +
          'remove them or write to another directory',
      );
    }
    this.header = format === 'csv' ? csvHeader(schema) : null;
    this.headerBytes = this.header === null ? 0 : Buffer.byteLength(this.header);
  }

  write(batch: RecordBatch): void {
    this.check();
    if (batch.length === 0) return;
    this.rollIfDue();
    const max = this.policy.maxBytes;
    // One call per batch (natively in Rust): the rows' bytes and where each ends.
    const { bytes, rowEnds } = this.engine.encodeTextRows(batch, this.format);
    let from = 0; // the first byte not yet written
    let prev = 0; // where the previous row ends
    for (let i = 0; i < batch.length; i++) {
      const end = rowEnds[i]!;
      const n = end - prev;
      let part = this.part;
      if (part !== null && max !== undefined && part.rows > 0 && part.bytes + n > max) {
        this.flush(part, bytes.subarray(from, prev));
        from = prev;
        this.finishPart();
        part = null;
      }
      part ??= this.openPart();
      part.bytes += n;
      part.rows++;
      prev = end;
    }
    if (this.part !== null) this.flush(this.part, bytes.subarray(from, prev));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // An empty stream still leaves one (empty, or header-only) part, as the single-file sink
    // leaves a file; in parallel, a subtask without rows leaves none (as in Flink).
    if (this.part === null && this.index === 0 && this.prefix === 'part-') this.openPart();
    const p = this.closePart();
    if (p !== null) {
      closeSync(p.fd);
      // Published at once without checkpoints, and so is an empty stream's part (parts open on
      // their first row, so a part without rows is that one). Under checkpoints everything
      // checkpointed is published; rows after the last checkpoint (a cancelled or failed run)
      // stay in progress for the next restore to discard.
      if (this.committing === null || p.rows === 0) renameSync(p.tmp, p.final);
    }
    this.check();
  }

  /** Phase one: completes the part in progress; the parts completed since the last checkpoint wait for this one. */
  preCommit(checkpointId: number): RollingFileState {
    this.check();
    if (this.part !== null && this.part.rows > 0) this.finishPart();
    if (this.rolled.length > 0) {
      fsyncDir(this.dir);
      this.pending.push({ id: checkpointId, parts: this.rolled });
      this.rolled = [];
    }
    const nextIndex = this.part !== null ? this.part.index : this.index;
    return { nextIndex, pending: this.pending.map((g) => ({ id: g.id, parts: g.parts.slice() })) };
  }

  /** Phase two: the checkpoint completed; its parts (and earlier ones) get their final names. */
  commit(checkpointId: number): void {
    let renamed = false;
    while (this.pending.length > 0 && this.pending[0]!.id <= checkpointId) {
      for (const i of this.pending.shift()!.parts) renamed = this.publish(i) || renamed;
    }
    if (renamed) fsyncDir(this.dir);
  }

  /** Resuming from a checkpoint (before any write): publish its pending parts, delete every part after it. */
  restore(state: unknown): void {
    const s = state as RollingFileState;
    for (const g of s.pending) for (const i of g.parts) this.publish(i);
    for (const n of readdirSync(this.dir)) {
      const m = this.partName.exec(n);
      if (m === null) continue;
      // In progress: never checkpointed. Pending or published from number nextIndex on: output
      // after the checkpoint (published only if a later checkpoint completed and was then lost).
      if (m[2] === '.inprogress' || Number(m[1]) >= s.nextIndex) rmSync(join(this.dir, n), { force: true });
    }
    fsyncDir(this.dir);
    this.index = s.nextIndex;
    this.pending = [];
    this.rolled = [];
  }

  private names(index: number): { final: string; pending: string } {
    const name = `${this.prefix}${String(index).padStart(5, '0')}.${this.format}`;
    return { final: join(this.dir, name), pending: join(this.dir, `.${name}.pending`) };
  }

  /** Renames a pending part to its final name (idempotent); true when it renamed. */
  private publish(index: number): boolean {
    const { final, pending } = this.names(index);
    if (!existsSync(pending)) {
      if (existsSync(final)) return false; // published by an earlier run
      throw new Error(`cannot publish part ${final}: neither it nor its pending file ${pending} exists; was the directory changed?`);
    }
    renameSync(pending, final);
    return true;
  }

  private check(): void {
    if (this.failure !== null) {
      const f = this.failure;
      this.failure = null;
      throw f;
    }
  }

  private rollIfDue(): void {
    const p = this.part;
    if (p !== null && this.policy.intervalMs !== undefined && Date.now() - p.openedAt >= this.policy.intervalMs) this.finishPart();
  }

  private flush(part: Part, bytes: Uint8Array): void {
    if (bytes.length > 0) writeSync(part.fd, bytes);
  }

  private openPart(): Part {
    const index = this.index++;
    const name = `${this.prefix}${String(index).padStart(5, '0')}.${this.format}`;
    const tmp = join(this.dir, `.${name}.inprogress`);
    const fd = openSync(tmp, 'w');
    if (this.header !== null) writeSync(fd, this.header);
    const part: Part = { index, fd, tmp, final: join(this.dir, name), openedAt: Date.now(), bytes: this.headerBytes, rows: 0 };
    this.part = part;
    const interval = this.policy.intervalMs;
    if (interval !== undefined && !this.closed) {
      this.timer = setTimeout(() => {
        this.timer = null;
        try {
          if (this.part === part) this.finishPart();
        } catch (e) {
          this.failure = e;
        }
      }, interval);
      this.timer.unref(); // an idle sink must not keep the process alive
    }
    return part;
  }

  /** Completes the current part: published at once, or under checkpoints pending the next one. */
  private finishPart(): void {
    const p = this.closePart();
    if (p === null) return;
    if (this.committing !== null) fsyncSync(p.fd);
    closeSync(p.fd);
    if (this.committing === null) renameSync(p.tmp, p.final);
    else {
      renameSync(p.tmp, this.names(p.index).pending);
      this.rolled.push(p.index);
    }
  }

  /** Takes the current part off (and its timer); the caller closes it. */
  private closePart(): Part | null {
    const p = this.part;
    if (p === null) return null;
    this.part = null;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    return p;
  }
}
