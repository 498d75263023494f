/**
 * Reads one CSV file (RFC 4180) into batches of a declared schema. With a header row,
 * columns are matched by name (extra columns are ignored; a declared column that is missing
 * fails the file as soon as it is opened); without one, by position. Values are parsed by
 * their field's type (see csv-values.ts). An empty unquoted field is null, `""` the empty
 * string. Blank lines are skipped.
 *
 * A malformed record (wrong number of fields, a stray quote) or a bad value is an error naming
 * the file, the line where the record starts and the field, unless a dead-letter file is
 * given: then the record goes there and is counted.
 */

import { BadValueError, BatchBuilder } from '../batch/builder.js';
import type { RecordBatch } from '../batch/record-batch.js';
import type { Schema } from '../batch/schema.js';
import { CsvParser, type CsvStep } from './csv-parser.js';
import { textParser, type TextParser } from './csv-values.js';
import type { DeadLetterFile } from '../runtime/dead-letters.js';
import { countNewlines, TextChunks, type FilePosition, type RecordFileReader } from './text-file.js';

export interface CsvFormat {
  /** True: the first record names the columns. */
  readonly header: boolean;
  /** One character. */
  readonly delimiter: string;
}

/**
 * A record may span lines (quoted line breaks), so an unclosed quote would otherwise swallow
 * the rest of the file into memory. Past this size the record is reported as malformed.
 */
const MAX_RECORD_CHARS = 1 << 24;

interface Parsed {
  readonly step: Exclude<CsvStep, { kind: 'more' }>;
  /** Line where the record starts (1-based). */
  readonly line: number;
  /** Where its text is in the current buffer (valid until the next parse). */
  readonly start: number;
}

export class CsvFileReader implements RecordFileReader {
  private readonly chunks: TextChunks;
  private readonly parser: CsvParser;
  private readonly where: string;
  private readonly parsers: TextParser[];
  private readonly names: string[];
  /** Reused for every row: the builder copies values out of it. */
  private readonly record: Record<string, unknown> = {};
  private text = '';
  private pos = 0;
  private eof = false;
  private lineNo = 1;
  /** Schema field k is column columnOf[k] of the file; null until the header is read. */
  private columnOf: number[] | null = null;
  /** Fields every record must have. */
  private width = 0;
  /** The file's last record had no line break and has been read. */
  private unterminated = false;

  constructor(
    private readonly path: string,
    private readonly schema: Schema,
    private readonly format: CsvFormat,
    private readonly deadLetters: DeadLetterFile | null,
    at: FilePosition | null = null,
  ) {
    if (at !== null) {
      this.lineNo = at.lines + 1;
      if (at.header != null) {
        this.columnOf = [...at.header.columnOf];
        this.width = at.header.width;
      }
    }
    this.chunks = new TextChunks(path, at?.lines ?? 0);
    this.parser = new CsvParser(format.delimiter);
    this.where = `file '${path}'`;
    this.parsers = schema.fields.map((f) => textParser(f.type));
    this.names = schema.names();
  }

  /** The next record, or null at end of file. Reads more text while a record is incomplete. */
  private async parseNext(): Promise<Parsed | null> {
    for (;;) {
      if (this.eof && this.pos >= this.text.length) return null;
      let step = this.parser.parse(this.text, this.pos, this.eof);
      if (step.kind === 'more') {
        if (this.text.length - this.pos > MAX_RECORD_CHARS) {
          const nl = this.text.indexOf('\n', this.pos);
          step = {
            kind: 'bad',
            end: nl < 0 ? this.text.length : nl + 1,
            problem: `a record longer than ${MAX_RECORD_CHARS} characters; is a quote left open? (an opening quote runs to the next quote, across lines)`,
          };
        } else {
          const more = await this.chunks.next();
          if (more === null) this.eof = true;
          else {
            // Keep only the unfinished record: memory stays at about one chunk plus one record.
            this.text = this.text.slice(this.pos) + more;
            this.pos = 0;
          }
          continue;
        }
      }
      const start = this.pos;
      const line = this.lineNo;
      this.lineNo += countNewlines(this.text, start, step.end);
      this.pos = step.end;
      // A last record without a line break: read, so a restore must not read it again.
      if (this.eof && step.end >= this.text.length && step.end > start && this.text.charCodeAt(step.end - 1) !== 10) this.unterminated = true;
      return { step, line, start };
    }
  }

  position(): FilePosition {
    // lineNo is the line the next record starts on: the line feeds before it have been read.
    return { lines: this.lineNo - 1 + (this.unterminated ? 1 : 0), header: this.columnOf === null ? null : { columnOf: this.columnOf, width: this.width } };
  }

  private isBlank(): boolean {
    const f = this.parser.fields;
    return f.length === 1 && f[0] === '' && !this.parser.quoted[0];
  }

  /** Maps schema fields to file columns: from the header row, or by position. */
  private async readHeader(): Promise<boolean> {
    if (!this.format.header) {
      this.columnOf = this.names.map((_, k) => k);
      this.width = this.names.length;
      return true;
    }
    let r: Parsed | null;
    do r = await this.parseNext();
    while (r !== null && r.step.kind === 'record' && this.isBlank());
    if (r === null) return false; // an empty file: no header, no rows
    if (r.step.kind === 'bad') throw new Error(`${this.where}, line ${r.line}: malformed header row: ${r.step.problem}`);
    const header = this.parser.fields.slice();
    const columnOf: number[] = [];
    for (const name of this.names) {
      const at = header.indexOf(name);
      if (at < 0) {
        throw new Error(
          `${this.where}: the CSV header has no column '${name}', which the schema declares; the header has ${header.map((h) => `'${h}'`).join(', ')}. ` +
            'Rename the column or the field, or read the file with { header: false } to match columns by position',
        );
      }
      if (header.indexOf(name, at + 1) >= 0) throw new Error(`${this.where}: the CSV header names column '${name}' twice; which one to read is ambiguous`);
      columnOf.push(at);
    }
    this.columnOf = columnOf;
    this.width = header.length;
    return true;
  }

  async read(schema: Schema, limit: number): Promise<RecordBatch | null> {
    const rows = new BatchBuilder(schema, limit);
    const more = await this.fill(rows, limit);
    return rows.length === 0 && !more ? null : rows.finish();
  }

  async fill(rows: BatchBuilder, limit: number): Promise<boolean> {
    if (this.columnOf === null && !(await this.readHeader())) return false;
    const columnOf = this.columnOf!;
    const fields = this.parser.fields;
    const quoted = this.parser.quoted;
    while (rows.length < limit) {
      const r = await this.parseNext();
      if (r === null) return false;
      if (r.step.kind === 'bad') {
        this.reject(r, new SyntaxError(`${this.where}, line ${r.line}: malformed CSV: ${r.step.problem}`));
        continue;
      }
      if (this.isBlank()) continue;
      if (fields.length !== this.width) {
        const what = this.format.header ? 'as many as the header has' : 'one per schema field';
        this.reject(r, new SyntaxError(`${this.where}, line ${r.line}: malformed CSV: expected ${this.width} fields (${what}), got ${fields.length}`));
        continue;
      }
      try {
        for (let k = 0; k < columnOf.length; k++) {
          const c = columnOf[k]!;
          const text = fields[c]!;
          this.record[this.names[k]!] = text === '' && !quoted[c] ? this.nullFor(k, r.line) : this.value(k, text, r.line);
        }
        rows.append(this.record, this.where, r.line);
      } catch (e) {
        if (!(e instanceof BadValueError)) throw e;
        this.reject(r, new BadValueError(e.where, e.position, e.field, e.detail, 'line'));
      }
    }
    return true;
  }

  private nullFor(k: number, line: number): null {
    const f = this.schema.fields[k]!;
    if (!f.nullable) {
      const hint = f.type === 'utf8' ? `; declare it as 'utf8?' to allow nulls, or write "" for an empty string` : `; declare it as '${f.type}?' to allow nulls`;
      throw new BadValueError(this.where, line, f.name, `is empty (null) but the field is not nullable${hint}`, 'line');
    }
    return null;
  }

  private value(k: number, text: string, line: number): unknown {
    try {
      return this.parsers[k]!(text);
    } catch (e) {
      throw new BadValueError(this.where, line, this.names[k]!, e instanceof Error ? e.message : String(e), 'line');
    }
  }

  /** Without a dead-letter file a bad record fails the job; with one it is set aside. */
  private reject(r: Parsed, error: Error): void {
    if (this.deadLetters === null) throw error;
    this.deadLetters.write(this.path, r.line, error.message, withoutLineEnd(this.text.slice(r.start, r.step.end)));
  }

  close(): Promise<void> {
    return this.chunks.close();
  }
}

function withoutLineEnd(s: string): string {
  if (s.endsWith('\r\n')) return s.slice(0, -2);
  return s.endsWith('\n') ? s.slice(0, -1) : s;
}
