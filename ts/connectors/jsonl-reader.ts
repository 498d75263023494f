/**
 * Reads one JSON Lines file into batches of a declared schema. The engine decodes the bytes
 * (`Engine.createJsonlDecoder`: natively, in Rust, one call per chunk of whole lines); this
 * reader feeds it whole lines from the file, counts lines for checkpoints, and routes bad
 * lines. A malformed line, a value of the wrong type or invalid UTF-8 is an error naming the
 * file, the line and the field, unless a dead-letter file is given: then the line goes there
 * (with its error) and is counted, and so does a line longer than maxLineBytes (its first KiB).
 * Blank lines are skipped; CRLF line ends are accepted.
 */

import type { RecordBatch } from '../batch/record-batch.js';
import type { Schema } from '../batch/schema.js';
import type { Engine, LineDecoder } from '../engine/engine.js';
import { selectEngine } from '../engine/select.js';
import type { DeadLetterFile } from '../runtime/dead-letters.js';
import { ByteLines, CHUNK_BYTES, concatBatches, routeBadLines, DEFAULT_MAX_LINE_BYTES, type FilePosition, type RecordFileReader } from './text-file.js';

export interface TextReaderOptions {
  /** The engine that decodes (the job's); the TS engine when absent. */
  readonly engine?: Engine;
  /** The longest line read (default 64 MiB); a longer one is an error naming it (JSONL with a dead-letter file: a dead letter keeping its first KiB). */
  readonly maxLineBytes?: number;
}

export class JsonlFileReader implements RecordFileReader {
  private readonly lines: ByteLines;
  private readonly where: string;
  private readonly engine: Engine;
  private decoder: LineDecoder | null = null;
  private lineNo = 0;

  constructor(
    private readonly path: string,
    private readonly deadLetters: DeadLetterFile | null,
    at: FilePosition | null = null,
    options: TextReaderOptions = {},
  ) {
    this.lineNo = at?.lines ?? 0;
    // A line is a record: with a dead-letter file an over-long one is skipped and dead-lettered.
    this.lines = new ByteLines(path, this.lineNo, options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES, undefined, deadLetters !== null);
    this.where = `file '${path}'`;
    this.engine = options.engine ?? selectEngine('ts');
  }

  position(): FilePosition {
    // Lines are consumed whole: every line counted is behind the reader.
    return { lines: this.lineNo };
  }

  /** Up to `limit` rows (fewer only at the end of the file); null once the file has ended. */
  async read(schema: Schema, limit: number): Promise<RecordBatch | null> {
    const decoder = (this.decoder ??= this.engine.createJsonlDecoder(schema, this.where));
    const parts: RecordBatch[] = [];
    let rows = 0;
    while (rows < limit) {
      if (this.lines.atLongLine) {
        routeBadLines([await this.lines.skipLongLine(this.lineNo + 1)], this.deadLetters, this.path);
        this.lineNo++;
        continue;
      }
      const pending = this.lines.pending();
      // Top up before decoding, so that a batch is mostly decoded in one call over contiguous
      // bytes (pieces would have to be concatenated); memory stays under about two chunks.
      if (!this.lines.ended && !this.lines.longLineAhead && pending.length < CHUNK_BYTES) {
        await this.lines.more(this.lineNo); // at the end of the file, pending() holds the last line
        continue;
      }
      if (pending.length === 0) break;
      const out = decoder.decode(pending, this.lineNo, limit - rows);
      this.lines.consume(out.consumed);
      this.lineNo += out.lines;
      routeBadLines(out.bad, this.deadLetters, this.path);
      if (out.batch.length > 0) {
        parts.push(out.batch);
        rows += out.batch.length;
      }
    }
    return rows === 0 ? null : concatBatches(schema, parts);
  }

  close(): Promise<void> {
    return this.lines.close();
  }
}
