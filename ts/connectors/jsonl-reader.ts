/**
 * Reads one JSON Lines file into batches of a declared schema. A malformed line or a value of
 * the wrong type is an error naming the file, the line and the field, unless a dead-letter
 * file is given: then the line goes there (with its error) and is counted. Blank lines are
 * skipped; CRLF line ends are accepted.
 */

import { BadValueError, type BatchBuilder } from '../batch/builder.js';
import type { DeadLetterFile } from '../runtime/dead-letters.js';
import { TextChunks, type FilePosition, type RecordFileReader } from './text-file.js';

export class JsonlFileReader implements RecordFileReader {
  private readonly chunks: TextChunks;
  private readonly where: string;
  private text = '';
  private pos = 0;
  private eof = false;
  private lineNo = 0;

  constructor(
    private readonly path: string,
    private readonly deadLetters: DeadLetterFile | null,
    at: FilePosition | null = null,
  ) {
    this.lineNo = at?.lines ?? 0;
    this.chunks = new TextChunks(path, this.lineNo);
    this.where = `file '${path}'`;
  }

  position(): FilePosition {
    // Lines are consumed whole: every line counted is behind the reader.
    return { lines: this.lineNo };
  }

  private async readLine(): Promise<string | null> {
    for (;;) {
      const nl = this.text.indexOf('\n', this.pos);
      if (nl >= 0) {
        const line = this.text.slice(this.pos, nl);
        this.pos = nl + 1;
        return line;
      }
      if (this.eof) {
        if (this.pos >= this.text.length) return null;
        const line = this.text.slice(this.pos);
        this.pos = this.text.length;
        return line;
      }
      const more = await this.chunks.next();
      if (more === null) this.eof = true;
      else {
        // Keep only the unfinished line: memory stays at about one chunk plus one line.
        this.text = this.text.slice(this.pos) + more;
        this.pos = 0;
      }
    }
  }

  async fill(rows: BatchBuilder, limit: number): Promise<boolean> {
    while (rows.length < limit) {
      const raw = await this.readLine();
      if (raw === null) return false;
      this.lineNo++;
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (line.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (e) {
        this.reject(line, new SyntaxError(`${this.where}, line ${this.lineNo}: malformed JSON (${e instanceof Error ? e.message : String(e)})`));
        continue;
      }
      try {
        rows.append(value, this.where, this.lineNo);
      } catch (e) {
        if (!(e instanceof BadValueError)) throw e;
        this.reject(line, new BadValueError(e.where, e.position, e.field, e.detail, 'line'));
      }
    }
    return true;
  }

  /** Without a dead-letter file a bad line fails the job; with one it is set aside. */
  private reject(line: string, error: Error): void {
    if (this.deadLetters === null) throw error;
    this.deadLetters.write(this.path, this.lineNo, error.message, line);
  }

  close(): Promise<void> {
    return this.chunks.close();
  }
}
