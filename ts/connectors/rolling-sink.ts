/**
 * Rolling part files: a sink writing into a directory as `part-00000.jsonl`,
 * `part-00001.jsonl`, ... and starting a new part when the current one would grow past
 * `maxBytes` or has been open for `intervalMs`. A row is never split across parts; a row
 * larger than `maxBytes` gets a part of its own. Every CSV part starts with the header row.
 *
 * A part is written as `.part-NNNNN.<ext>.inprogress` and renamed when it is complete, so a
 * reader that skips hidden files (FileSource.directory / watch) never sees half a part.
 * A part that has been open for `intervalMs` is completed by a timer even when no rows
 * arrive (and checked again on every write and on close).
 */

import { Buffer } from 'node:buffer';
import { closeSync, mkdirSync, openSync, readdirSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { RecordBatch } from '../batch/record-batch.js';
import type { Schema } from '../batch/schema.js';
import type { SinkWriter } from '../api/connector.js';
import { csvHeader, rowRenderer, type TextFormat } from './format.js';

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
  readonly fd: number;
  readonly tmp: string;
  readonly final: string;
  readonly openedAt: number;
  bytes: number;
  rows: number;
}

/** Flush rendered rows to the file past this many characters (bounds memory per batch). */
const FLUSH_CHARS = 1 << 20;

export class RollingFileWriter implements SinkWriter {
  private part: Part | null = null;
  private index = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  /** A failure inside the timer, reported by the next write or close. */
  private failure: unknown = null;
  private readonly header: string | null;
  private readonly headerBytes: number;

  constructor(
    private readonly dir: string,
    private readonly format: TextFormat,
    schema: Schema,
    private readonly policy: RolloverPolicy,
  ) {
    mkdirSync(dir, { recursive: true });
    const partName = new RegExp(`^\\.?part-[0-9]{5,}\\.${format}(\\.inprogress)?$`);
    const old = readdirSync(dir).filter((n) => partName.test(n));
    if (old.length > 0) {
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
    const row = rowRenderer(batch, this.format);
    let text = '';
    for (let i = 0; i < batch.length; i++) {
      const line = row(i);
      const n = Buffer.byteLength(line);
      let part = this.part;
      if (part !== null && max !== undefined && part.rows > 0 && part.bytes + n > max) {
        text = this.flush(part, text);
        this.finishPart();
        part = null;
      }
      part ??= this.openPart();
      text += line;
      part.bytes += n;
      part.rows++;
      if (text.length > FLUSH_CHARS) text = this.flush(part, text);
    }
    if (this.part !== null) this.flush(this.part, text);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // An empty stream still leaves one (empty, or header-only) part, as the single-file sink leaves a file.
    if (this.part === null && this.index === 0) this.openPart();
    if (this.part !== null) this.finishPart();
    this.check();
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

  private flush(part: Part, text: string): string {
    if (text.length > 0) writeSync(part.fd, text);
    return '';
  }

  private openPart(): Part {
    const name = `part-${String(this.index++).padStart(5, '0')}.${this.format}`;
    const tmp = join(this.dir, `.${name}.inprogress`);
    const fd = openSync(tmp, 'w');
    if (this.header !== null) writeSync(fd, this.header);
    const part: Part = { fd, tmp, final: join(this.dir, name), openedAt: Date.now(), bytes: this.headerBytes, rows: 0 };
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

  private finishPart(): void {
    const p = this.part;
    if (p === null) return;
    this.part = null;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    closeSync(p.fd);
    renameSync(p.tmp, p.final);
  }
}
