/**
 * Reading one text file with bounded memory: fixed-size chunks decoded as UTF-8 (a character
 * split between two chunks is joined, a leading byte-order mark dropped), and the contract
 * every per-format reader (JSONL, CSV) implements so that one source can chain many files.
 */

import { Buffer } from 'node:buffer';
import { open, type FileHandle } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import type { BatchBuilder } from '../batch/builder.js';

/** Bytes read per call: large enough to amortise the syscalls, small enough to bound memory. */
export const CHUNK_BYTES = 1 << 20;

export class TextChunks {
  private fh: FileHandle | null = null;
  private readonly buf: Buffer;
  private readonly decoder = new StringDecoder('utf8');
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
    if (skipLines > 0) this.first = false; // a byte-order mark lies in the skipped first line
  }

  /** The next piece of text, or null at end of file. Never returns an empty string. */
  async next(): Promise<string | null> {
    while (!this.done) {
      if (this.fh === null) {
        try {
          this.fh = await open(this.path, 'r');
        } catch (e) {
          throw new Error(`file '${this.path}': cannot open it (${e instanceof Error ? e.message : String(e)})`, { cause: e });
        }
      }
      const { bytesRead } = await this.fh.read(this.buf, 0, this.buf.length, null);
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
      if (bytesRead === 0) {
        this.done = true;
        text = this.decoder.end();
      } else {
        text = this.decoder.write(this.buf.subarray(from, bytesRead));
      }
      if (this.first && text.length > 0) {
        this.first = false;
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // byte-order mark (spreadsheet exports)
      }
      if (text.length > 0) return text;
    }
    return null;
  }

  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = null;
    this.done = true;
    await fh?.close();
  }
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
  /** Appends rows until `rows` holds `limit` rows or the file ends; returns false once it has ended. */
  fill(rows: BatchBuilder, limit: number): Promise<boolean>;
  /** Where the next `fill` continues. */
  position(): FilePosition;
  close(): Promise<void>;
}

/** Counts line feeds in `text[from, to)`: how far line numbers advance over that span. */
export function countNewlines(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = text.indexOf('\n', from); i >= 0 && i < to; i = text.indexOf('\n', i + 1)) n++;
  return n;
}
