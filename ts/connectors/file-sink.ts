/**
 * File sinks: JSON Lines and CSV (RFC 4180, header row; null as an empty field, "" for an
 * empty string). One file, or with a rollover policy a directory of part files
 * (rolling-sink.ts). One file is written under a temporary name and replaces `path` only when
 * the sink's input ended (replacing-file.ts), or under checkpoints committed per checkpoint
 * (committing-file.ts): a failed or killed run never empties or half-overwrites it.
 */

import { Buffer } from 'node:buffer';
import type { RecordBatch } from '../batch/record-batch.js';
import type { Schema } from '../batch/schema.js';
import type { Sink, SinkContext, SinkWriter } from '../api/connector.js';
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
  ) {}

  static jsonl(path: string, options: FileSinkOptions = {}): FileSink {
    return FileSink.of(path, 'jsonl', options);
  }

  static csv(path: string, options: FileSinkOptions = {}): FileSink {
    return FileSink.of(path, 'csv', options);
  }

  private static of(path: string, format: TextFormat, options: FileSinkOptions): FileSink {
    const rollover = options.rollover === undefined ? null : checkRollover(options.rollover);
    return new FileSink(rollover === null ? `${format} ${path}` : `${format} parts in ${path}`, path, format, rollover);
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
