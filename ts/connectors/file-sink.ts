/**
 * File sinks: JSON Lines and CSV (RFC 4180, header row; null as an empty field, "" for an
 * empty string). One file, or with a rollover policy a directory of part files
 * (rolling-sink.ts). One file is written under a temporary name and replaces `path` only when
 * the sink's input ended (replacing-file.ts), or under checkpoints committed per checkpoint
 * (committing-file.ts): a failed or killed run never empties or half-overwrites it. A fresh
 * checkpointed run does not start over a non-empty file unless told to overwrite it.
 */

import { Buffer } from 'node:buffer';
import { statSync } from 'node:fs';
import type { RecordBatch } from '../batch/record-batch.js';
import type { Schema } from '../batch/schema.js';
import type { OutputCheck, Sink, SinkContext, SinkWriter } from '../api/connector.js';
import { CommittingFileWriter } from './committing-file.js';
import { ReplacingFileWriter } from './replacing-file.js';
import { csvHeader, toLines, type TextFormat } from '../batch/text-format.js';
import { checkRollover, RollingFileWriter, type RolloverPolicy } from './rolling-sink.js';

export interface FileSinkOptions {
  /**
   * Write part files into the directory `path` (created if missing) instead of one file,
   * starting a new part by size and/or time.
   */
  readonly rollover?: RolloverPolicy;
  /**
   * One file in a checkpointing job: a fresh run may replace an existing, non-empty file (as
   * ExecuteOptions.overwrite / `sluice run --overwrite` for every sink). Default false: such a
   * run fails before it starts, naming the file. A restore always continues the file.
   */
  readonly overwrite?: boolean;
}

export class FileSink implements Sink {
  /** Part files: each subtask writes its own (`part-<subtask>-NNNNN`); one file: one writer. */
  get parallel(): boolean {
    return this.rollover !== null;
  }

  private constructor(
    readonly name: string,
    private readonly path: string,
    private readonly format: TextFormat,
    private readonly rollover: RolloverPolicy | null,
    private readonly overwrite: boolean,
  ) {}

  static jsonl(path: string, options: FileSinkOptions = {}): FileSink {
    return FileSink.of(path, 'jsonl', options);
  }

  static csv(path: string, options: FileSinkOptions = {}): FileSink {
    return FileSink.of(path, 'csv', options);
  }

  private static of(path: string, format: TextFormat, options: FileSinkOptions): FileSink {
    const rollover = options.rollover === undefined ? null : checkRollover(options.rollover);
    return new FileSink(rollover === null ? `${format} ${path}` : `${format} parts in ${path}`, path, format, rollover, options.overwrite === true);
  }

  /**
   * A fresh checkpointed run publishes into `path` from its start (committing-file.ts), so an
   * existing file's content would be gone at once: refused unless overwriting was asked for.
   * Without checkpoints the output replaces the file only on success (replacing-file.ts).
   */
  checkOutput(check: OutputCheck): void {
    if (this.rollover !== null || !check.checkpointing || check.restoring || check.overwrite || this.overwrite) return;
    let size: number;
    try {
      const st = statSync(this.path);
      if (!st.isFile()) return;
      size = st.size;
    } catch {
      return; // missing (or unreadable: opening it reports that)
    }
    if (size === 0) return;
    throw new Error(
      `file sink '${this.path}': the file exists (${size} bytes) and a fresh run of a checkpointing job starts its output file anew; the job did not start and the file is untouched. ` +
        `Delete it or write to another path, allow replacing it (sluice run --overwrite, ExecuteOptions.overwrite, or FileSink.${this.format}(path, { overwrite: true })), ` +
        'or resume the run that wrote it (sluice run --restore-from <checkpoint dir or latest>)',
    );
  }

  open(schema: Schema, ctx?: SinkContext): SinkWriter {
    // The job's engine encodes (natively: one call per batch, bytes back); without a context, the TS rendering.
    const encode = ctx === undefined ? (b: RecordBatch, f: TextFormat) => Buffer.from(toLines(b, f)) : (b: RecordBatch, f: TextFormat) => ctx.engine.encodeText(b, f);
    if (ctx?.checkpointing === true && this.rollover === null) {
      // Exactly-once: records become visible when the checkpoint that covers them completes.
      return new CommittingFileWriter(this.path, this.format === 'csv' ? csvHeader(schema) : '', ctx.restoring === true, (b) => encode(b, this.format));
    }
    if (this.rollover !== null) {
      const subtask = (ctx?.parallelism ?? 1) > 1 ? (ctx?.subtask ?? 0) : null;
      return new RollingFileWriter(
        this.path,
        this.format,
        schema,
        this.rollover,
        ctx?.checkpointing === true ? { restoring: ctx.restoring === true } : null,
        subtask,
        ctx?.engine,
      );
    }
    return new ReplacingFileWriter(this.path, this.format === 'csv' ? csvHeader(schema) : '', (b) => encode(b, this.format));
  }
}
