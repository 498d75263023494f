/**
 * Reads one CSV file (RFC 4180) into batches of a declared schema. With a header row,
 * columns are matched by name (extra columns are ignored; a declared column that is missing
 * fails the file as soon as it is opened); without one, by position. Values are parsed by
 * their field's type (see csv-values.ts for the rules). An empty unquoted field is null, `""`
 * the empty string. Blank lines are skipped.
 *
 * The engine decodes the bytes (`Engine.createCsvDecoder`: natively, in Rust, one call per
 * chunk of whole records); this reader feeds it, counts lines for checkpoints and routes bad
 * records. A malformed record (wrong number of fields, a stray quote), invalid UTF-8 or a bad
 * value is an error naming the file, the line where the record starts and the field, unless
 * a dead-letter file is given: then the record goes there and is counted.
 */

import type { RecordBatch } from '../batch/record-batch.js';
import type { Schema } from '../batch/schema.js';
import type { CsvDecoder } from '../engine/engine.js';
import { EngineError } from '../engine/errors.js';
import { selectEngine } from '../engine/select.js';
import type { DeadLetterFile } from '../runtime/dead-letters.js';
import type { TextReaderOptions } from './jsonl-reader.js';
import { ByteLines, CHUNK_BYTES, concatBatches, routeBadLines, DEFAULT_MAX_LINE_BYTES, type FilePosition, type RecordFileReader } from './text-file.js';

export interface CsvFormat {
  /** True: the first record names the columns. */
  readonly header: boolean;
  /** One character. */
  readonly delimiter: string;
}

export class CsvFileReader implements RecordFileReader {
  private readonly lines: ByteLines;
  private readonly where: string;
  private readonly decoder: CsvDecoder;
  private readonly maxLineBytes: number;
  private lineNo: number;

  constructor(
    private readonly path: string,
    schema: Schema,
    format: CsvFormat,
    private readonly deadLetters: DeadLetterFile | null,
    at: FilePosition | null = null,
    options: TextReaderOptions = {},
  ) {
    this.lineNo = at?.lines ?? 0;
    this.maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.lines = new ByteLines(path, this.lineNo, this.maxLineBytes);
    this.where = `file '${path}'`;
    this.decoder = (options.engine ?? selectEngine('ts')).createCsvDecoder(schema, this.where, format);
    if (at?.header != null) this.decoder.setHeader(at.header.columnOf, at.header.width);
  }

  position(): FilePosition {
    // Records are consumed whole: every line counted is behind the reader.
    return { lines: this.lineNo, header: this.decoder.header() };
  }

  /** Up to `limit` rows (fewer only at the end of the file); null once the file has ended. */
  async read(schema: Schema, limit: number): Promise<RecordBatch | null> {
    const parts: RecordBatch[] = [];
    let rows = 0;
    while (rows < limit) {
      const pending = this.lines.pending();
      // Top up before decoding (see JsonlFileReader.read); memory stays under about two chunks.
      if (!this.lines.ended && pending.length < CHUNK_BYTES) {
        await this.lines.more(this.lineNo);
        continue;
      }
      if (pending.length === 0) break;
      const out = this.decoder.decode(pending, this.lineNo, limit - rows, this.lines.ended);
      this.lines.consume(out.consumed);
      this.lineNo += out.lines;
      routeBadLines(out.bad, this.deadLetters, this.path);
      if (out.batch.length > 0) {
        parts.push(out.batch);
        rows += out.batch.length;
      }
      if (out.consumed === 0 && out.batch.length === 0 && out.bad.length === 0) {
        // The bytes end inside a record (quoted line breaks): it needs more of the file.
        if (pending.length > this.maxLineBytes) {
          throw new EngineError(
            'data',
            `${this.where}, line ${this.lineNo + 1}: a record longer than maxLineBytes (${this.maxLineBytes} bytes); is a quote left open? (an opening quote runs to the next quote, across lines)`,
          );
        }
        if (!(await this.lines.more(this.lineNo)) && this.lines.pending().length === pending.length) break;
      }
    }
    return rows === 0 ? null : concatBatches(schema, parts);
  }

  close(): Promise<void> {
    return this.lines.close();
  }
}
