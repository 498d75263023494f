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

  constructor(
    readonly path: string,
    chunkBytes = CHUNK_BYTES,
  ) {
    this.buf = Buffer.alloc(chunkBytes);
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
      let text: string;
      if (bytesRead === 0) {
        this.done = true;
        text = this.decoder.end();
      } else {
        text = this.decoder.write(this.buf.subarray(0, bytesRead));
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

/** Reads the records of one file of some format into batches. */
export interface RecordFileReader {
  /** Appends rows until `rows` holds `limit` rows or the file ends; returns false once it has ended. */
  fill(rows: BatchBuilder, limit: number): Promise<boolean>;
  close(): Promise<void>;
}

/** Counts line feeds in `text[from, to)`: how far line numbers advance over that span. */
export function countNewlines(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = text.indexOf('\n', from); i >= 0 && i < to; i = text.indexOf('\n', i + 1)) n++;
  return n;
}
