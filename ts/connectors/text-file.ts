/**
 * Reading one text file with bounded memory: fixed-size chunks of bytes (`ByteLines`, for
 * decoders that take whole lines of UTF-8 bytes) or of text (`TextChunks`: UTF-8 decoded
 * strictly, a character split between two chunks joined), a leading byte-order mark
 * dropped; and the contract every per-format reader (JSONL, CSV) implements so that one
 * source can chain many files.
 */

import { Buffer } from 'node:buffer';
import { open, type FileHandle } from 'node:fs/promises';
import { concatColumns } from '../batch/column.js';
import { RecordBatch } from '../batch/record-batch.js';
import type { Schema } from '../batch/schema.js';
import { EngineError } from '../engine/errors.js';
import type { DeadLetterFile } from '../runtime/dead-letters.js';

/** Bytes read per call: large enough to amortise the syscalls, small enough to bound memory. */
export const CHUNK_BYTES = 1 << 20;

/** The default longest line (or CSV record) a file source reads: 64 MiB. */
export const DEFAULT_MAX_LINE_BYTES = 64 << 20;

/** How much of an over-long line its dead letter keeps. */
export const LONG_LINE_KEPT_BYTES = 1024;

function tooLongMessage(path: string, line: number, max: number): string {
  return (
    `file '${path}', line ${line}: the line is longer than maxLineBytes (${max} bytes); is the file in the declared format (one record per line)? ` +
    'If such lines are expected, raise maxLineBytes in the source options'
  );
}

async function openFile(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r');
  } catch (e) {
    throw new Error(`file '${path}': cannot open it (${e instanceof Error ? e.message : String(e)})`, { cause: e });
  }
}

/**
 * A bounded file must not change while it is read: a writer still appending would leave a
 * torn last line that reads as a bad record (or as a good one, cut short). Checked at the end.
 */
async function checkUnchanged(fh: FileHandle, path: string, sizeAtOpen: number, read: number): Promise<void> {
  const now = (await fh.stat()).size;
  if (now !== sizeAtOpen || read !== sizeAtOpen) {
    throw new Error(
      `file '${path}': the file changed size while it was read (${sizeAtOpen} bytes when opened, ${now} bytes now, ${read} read), so its last line may be torn; ` +
        'a bounded file source reads complete files: write the file elsewhere and move it in when it is complete, or read its directory with FileSource.watch',
    );
  }
}

/**
 * The bytes of one file as whole lines, a chunk at a time: `pending()` holds the bytes not yet
 * consumed, `wholeLines()` how many of them end in a line feed (all of them at the end of the
 * file). Memory stays at about one chunk plus one line; a line longer than `maxLineBytes` is
 * an error naming it, never unbounded memory, or with `routeLongLines` it is skipped without
 * being held (`skipLongLine`) so that its reader can dead-letter it.
 */
export class ByteLines {
  private fh: FileHandle | null = null;
  private buf: Buffer;
  private start = 0;
  private end = 0;
  /** Bytes [start, lineEnd) are whole lines. */
  private lineEnd = 0;
  private eof = false;
  private sizeAtOpen = 0;
  private read = 0;
  private first: boolean;
  /** Lines still to skip (a restore continues after the lines a checkpoint had read). */
  private skip: number;
  /** While skipping: bytes follow the last line feed seen (an unterminated last line). */
  private partial = false;
  /** With routeLongLines: where an over-long line starts in `buf` (-1: none); `lineEnd` stops there. */
  private longAt = -1;
  /**
   * The next chunk, being read into `spare` while the caller decodes the previous one (the read
   * runs on libuv's pool: file reading overlaps decoding instead of adding to it). One read in
   * flight at a time, so the file is read in order.
   */
  private ahead: Promise<number> | null = null;
  private spare: Buffer;

  constructor(
    readonly path: string,
    /** Lines (line feeds) to skip first; reading then starts right after the last one. */
    skipLines: number,
    private readonly maxLineBytes = DEFAULT_MAX_LINE_BYTES,
    private readonly chunkBytes = CHUNK_BYTES,
    /** An over-long line is marked for `skipLongLine` instead of failing (a line is a record: JSONL). */
    private readonly routeLongLines = false,
  ) {
    this.buf = Buffer.alloc(chunkBytes);
    this.spare = Buffer.alloc(chunkBytes);
    this.skip = skipLines;
    this.first = skipLines === 0; // a byte-order mark lies in the skipped first line
  }

  /** Reads the next chunk of the file into `buf` at `at` (up to chunkBytes); 0 at its end. */
  private async readChunk(fh: FileHandle, at: number): Promise<number> {
    const n = await (this.ahead ?? fh.read(this.spare, 0, this.chunkBytes, null).then((r) => r.bytesRead));
    this.ahead = null;
    this.spare.copy(this.buf, at, 0, n);
    this.read += n;
    if (n > 0) {
      const next = fh.read(this.spare, 0, this.chunkBytes, null).then((r) => r.bytesRead);
      next.catch(() => 0); // handled: its error surfaces when the next chunk is taken
      this.ahead = next;
    }
    return n;
  }

  get ended(): boolean {
    return this.eof;
  }

  /** An over-long line lies ahead: `pending()` ends before it, and reading more waits for `skipLongLine()`. */
  get longLineAhead(): boolean {
    return this.longAt >= 0;
  }

  /** The whole lines before it are consumed and an over-long line is next: `skipLongLine()`. */
  get atLongLine(): boolean {
    return this.longAt >= 0 && this.start === this.longAt;
  }

  /** The whole lines not yet consumed (a view, valid until the next `more`). */
  pending(): Buffer {
    return this.buf.subarray(this.start, this.lineEnd);
  }

  consume(bytes: number): void {
    this.start += bytes;
  }

  /**
   * Reads more bytes; false at the end of the file (then `pending()` includes a last line
   * without a line feed). `linesBefore` is the number of lines before `pending()`, for the
   * message about an over-long line.
   */
  async more(linesBefore: number): Promise<boolean> {
    if (this.eof) return false;
    if (this.longAt >= 0) return true; // the lines before it first, then skipLongLine

    this.fh ??= await openFile(this.path);
    if (this.read === 0 && this.sizeAtOpen === 0) this.sizeAtOpen = (await this.fh.stat()).size;
    for (;;) {
      // Keep the unconsumed bytes at the front; grow only for a line longer than a chunk.
      const keep = this.end - this.start;
      if (this.start > 0) {
        this.buf.copy(this.buf, 0, this.start, this.end);
        this.start = 0;
        this.end = keep;
      }
      if (this.buf.length - this.end < this.chunkBytes) {
        const bigger = Buffer.alloc(Math.max(this.buf.length * 2, this.end + this.chunkBytes));
        this.buf.copy(bigger, 0, 0, this.end);
        this.buf = bigger;
      }
      const bytesRead = await this.readChunk(this.fh, this.end);
      if (bytesRead === 0) {
        if (this.skip > 0 && !(this.skip === 1 && this.partial)) {
          throw new Error(`file '${this.path}': it ends ${this.skip} lines before the position the checkpoint had read to; was it changed since?`);
        }
        this.skip = 0;
        await checkUnchanged(this.fh, this.path, this.sizeAtOpen, this.read);
        this.eof = true;
        this.lineEnd = this.end;
        return false;
      }
      const from = this.end;
      this.end += bytesRead;
      if (this.skip > 0) {
        // Line feeds are single bytes in UTF-8 (never inside a multi-byte character): count them raw.
        let p = from;
        while (this.skip > 0) {
          const nl = this.buf.indexOf(10, p);
          if (nl < 0 || nl >= this.end) break;
          p = nl + 1;
          this.skip--;
        }
        this.start = p;
        if (this.skip > 0) {
          this.partial = p < this.end;
          this.start = this.end;
          continue;
        }
      }
      if (this.first && this.end - this.start >= 3) {
        this.first = false;
        if (this.buf[this.start] === 0xef && this.buf[this.start + 1] === 0xbb && this.buf[this.start + 2] === 0xbf) this.start += 3; // byte-order mark (spreadsheet exports)
      }
      if (this.scan(from, linesBefore)) return true;
    }
  }

  /** Finds the whole lines among the bytes up to `end` (those from `from` are new); true when there are some, or an over-long line. */
  private scan(from: number, linesBefore: number): boolean {
    const nl = this.buf.lastIndexOf(10, this.end - 1);
    const whole = nl >= this.start ? nl + 1 : this.start;
    const long = this.checkLineLengths(from, whole, linesBefore);
    if (long >= 0) {
      this.longAt = long;
      this.lineEnd = long;
      return true;
    }
    this.lineEnd = whole;
    return whole > this.start;
  }

  /**
   * Skips the over-long line that is next (`atLongLine`), reading on to its line feed without
   * holding it; returns its first LONG_LINE_KEPT_BYTES bytes, its length and the message for it.
   * `line` is its line number.
   */
  async skipLongLine(line: number): Promise<{ readonly line: number; readonly message: string; readonly raw: string }> {
    const kept: Buffer[] = [];
    let keptBytes = 0;
    let total = 0;
    const keep = (to: number): void => {
      const n = Math.min(to - this.start, LONG_LINE_KEPT_BYTES - keptBytes);
      if (n > 0) kept.push(Buffer.from(this.buf.subarray(this.start, this.start + n)));
      keptBytes += Math.max(0, n);
      total += to - this.start;
    };
    for (;;) {
      const nl = this.buf.indexOf(10, this.start);
      if (nl >= 0 && nl < this.end) {
        keep(nl);
        this.start = nl + 1;
        break;
      }
      keep(this.end);
      this.start = this.end = 0;
      const bytesRead = await this.readChunk(this.fh!, 0);
      if (bytesRead === 0) {
        await checkUnchanged(this.fh!, this.path, this.sizeAtOpen, this.read);
        this.eof = true;
        break;
      }
      this.end = bytesRead;
    }
    this.longAt = -1;
    if (this.eof) this.lineEnd = this.end;
    else this.scan(this.start, line);
    let raw = Buffer.concat(kept).toString('utf8');
    if (total > keptBytes) raw += `… (${total} bytes in all)`;
    return { line, message: `${tooLongMessage(this.path, line, this.maxLineBytes)} (the dead letter keeps its first ${LONG_LINE_KEPT_BYTES} bytes)`, raw };
  }

  /**
   * Fails on (or with routeLongLines, returns the start of) a line longer than maxLineBytes: the one continued from earlier reads, any that
   * starts in the new bytes [from, end), the unfinished one. Bytes before `from` were checked.
   */
  private checkLineLengths(from: number, whole: number, linesBefore: number): number {
    const max = this.maxLineBytes;
    const buf = this.buf;
    // The line the new bytes continue starts after the last line feed of the older bytes.
    const oldNl = from > this.start ? buf.lastIndexOf(10, from - 1) : -1;
    const lineStart = oldNl >= this.start ? oldNl + 1 : this.start;
    /** The line starting at `at`, the index-th from `lineStart`, is too long: its start, or the error. */
    const tooLong = (index: number, at: number): number => {
      if (this.routeLongLines) return at;
      let line = linesBefore + index;
      for (let p = buf.indexOf(10, this.start); p >= 0 && p < lineStart; p = buf.indexOf(10, p + 1)) line++;
      throw new Error(tooLongMessage(this.path, line, max));
    };
    const firstNl = buf.indexOf(10, from);
    const firstEnd = firstNl < 0 || firstNl >= this.end ? this.end : firstNl;
    if (firstEnd - lineStart > max) return tooLong(1, lineStart);
    if (max < this.chunkBytes && firstNl >= 0 && firstNl < whole) {
      // Lines that start in the new bytes can only exceed a maximum below the chunk size.
      let index = 1;
      for (let p = firstNl + 1; p < whole; ) {
        const nl = buf.indexOf(10, p);
        index++;
        if (nl - p > max) return tooLong(index, p);
        p = nl + 1;
      }
      if (this.end - whole > max) return tooLong(index + 1, whole);
    }
    return -1;
  }

  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = null;
    this.eof = true;
    // A read still in flight must end before its file is closed (its outcome no longer matters).
    await this.ahead?.catch(() => 0);
    this.ahead = null;
    await fh?.close();
  }
}

/** The rows of `parts` (of one schema) as one batch. */
export function concatBatches(schema: Schema, parts: readonly RecordBatch[]): RecordBatch {
  if (parts.length === 1) return parts[0]!;
  const lens = parts.map((p) => p.length);
  const n = lens.reduce((a, b) => a + b, 0);
  return new RecordBatch(
    schema,
    schema.fields.map((f, k) => concatColumns(f.type, parts.map((p) => p.columns[k]!), lens)),
    n,
    null,
  );
}

export class TextChunks {
  private fh: FileHandle | null = null;
  private readonly buf: Buffer;
  /** Strict: invalid UTF-8 is an error, never replaced by U+FFFD. */
  private decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  /** Line feeds before the current chunk (to name the line of invalid UTF-8). */
  private lines = 0;
  private readonly skipped: number;
  private sizeAtOpen = 0;
  private read = 0;
  private first = true;
  private done = false;
  /** Lines still to skip (a restore continues after the lines a checkpoint had read). */
  private skip: number;
  /** While skipping: bytes follow the last line feed seen (an unterminated last line). */
  private partial = false;

  constructor(
    readonly path: string,
    /** Lines (line feeds) to skip first; the text then starts right after the last one. */
    skipLines = 0,
    chunkBytes = CHUNK_BYTES,
  ) {
    this.buf = Buffer.alloc(chunkBytes);
    this.skip = skipLines;
    this.skipped = skipLines;
    if (skipLines > 0) this.first = false; // a byte-order mark lies in the skipped first line
  }

  /** The next piece of text, or null at end of file. Never returns an empty string. */
  async next(): Promise<string | null> {
    while (!this.done) {
      if (this.fh === null) {
        this.fh = await openFile(this.path);
        this.sizeAtOpen = (await this.fh.stat()).size;
      }
      const { bytesRead } = await this.fh.read(this.buf, 0, this.buf.length, null);
      this.read += bytesRead;
      if (bytesRead === 0) await checkUnchanged(this.fh, this.path, this.sizeAtOpen, this.read);
      let from = 0;
      if (this.skip > 0) {
        // Line feeds are single bytes in UTF-8 (never inside a multi-byte character): count them raw.
        const bytes = this.buf.subarray(0, bytesRead);
        if (bytesRead === 0) {
          // An unterminated last line counts as a line read.
          if (this.skip === 1 && this.partial) this.skip = 0;
          else throw new Error(`file '${this.path}': it ends ${this.skip} lines before the position the checkpoint had read to; was it changed since?`);
        }
        while (this.skip > 0) {
          const nl = bytes.indexOf(10, from);
          if (nl < 0) break;
          from = nl + 1;
          this.skip--;
        }
        if (this.skip > 0) {
          if (bytesRead > 0) this.partial = from < bytesRead;
          continue;
        }
      }
      let text: string;
      const bytes = this.buf.subarray(from, bytesRead);
      try {
        if (bytesRead === 0) {
          this.done = true;
          text = this.decoder.decode();
        } else {
          text = this.decoder.decode(bytes, { stream: true });
        }
      } catch {
        throw new Error(this.invalidUtf8(bytes));
      }
      for (let i = bytes.indexOf(10); i >= 0; i = bytes.indexOf(10, i + 1)) this.lines++;
      if (this.first && text.length > 0) {
        this.first = false;
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // byte-order mark (spreadsheet exports)
      }
      if (text.length > 0) return text;
    }
    return null;
  }

  /** The line of the first invalid byte in this chunk (or at its start: a character cut short before it). */
  private invalidUtf8(bytes: Buffer): string {
    const at = invalidUtf8Offset(bytes);
    let line = this.lines + 1 + this.skipped;
    for (let i = bytes.indexOf(10); i >= 0 && i < at; i = bytes.indexOf(10, i + 1)) line++;
    return `file '${this.path}', line ${line}: invalid UTF-8; the file must be UTF-8 text (convert it, e.g. with iconv -t UTF-8)`;
  }

  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = null;
    this.done = true;
    await fh?.close();
  }
}

/** Where the first invalid sequence of `bytes` starts (a sequence cut by the end counts as valid: it continues in the next chunk). */
function invalidUtf8Offset(bytes: Uint8Array): number {
  let lo = 0;
  let hi = bytes.length;
  // The longest prefix that decodes (streaming, so a cut character is not an error): binary search.
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    try {
      new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(0, mid), { stream: true });
      lo = mid;
    } catch {
      hi = mid - 1;
    }
  }
  return lo;
}

/**
 * Where a reader is in its file between two batches, for checkpoints: the lines it has read
 * (records always end at a line feed or at the end of the file), and for CSV the column map
 * its header gave, since a restore starts after the header.
 */
export interface FilePosition {
  readonly lines: number;
  readonly header?: { readonly columnOf: readonly number[]; readonly width: number } | null;
}

/** Reads the records of one file of some format into batches. */
export interface RecordFileReader {
  /** Up to `limit` rows of `schema` (fewer only at the end of the file); null once the file has ended. */
  read(schema: Schema, limit: number): Promise<RecordBatch | null>;
  /** Where the next `read` continues. */
  position(): FilePosition;
  close(): Promise<void>;
}

/** Counts line feeds in `text[from, to)`: how far line numbers advance over that span. */
export function countNewlines(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = text.indexOf('\n', from); i >= 0 && i < to; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/**
 * The one rule for records a decoder rejected: without a dead-letter file the first fails the
 * job (its message names file, line and field); with one each goes there and is counted.
 */
export function routeBadLines(bad: readonly { readonly line: number; readonly message: string; readonly raw: string }[], deadLetters: DeadLetterFile | null, path: string): void {
  for (const b of bad) {
    if (deadLetters === null) throw new EngineError('data', b.message);
    deadLetters.write(path, b.line, b.message, b.raw);
  }
}
