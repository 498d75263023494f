/**
 * The dead-letter file of a file source: one JSON line per rejected input record
 * (`{ file, line, error, raw }`), and the count the job result reports. The file is created
 * (truncated) on the first rejected record, so a clean run leaves no file behind.
 *
 * Under checkpoints its length and count are part of the writer's state: a restore cuts the
 * file back to that length, and the records after the checkpoint are rejected again, once.
 */

import { closeSync, existsSync, openSync, statSync, truncateSync, writeSync } from 'node:fs';

/** Where a dead-letter file was at a checkpoint. */
export interface DeadLetterPosition {
  readonly bytes: number;
  readonly count: number;
}

export class DeadLetterFile {
  private fd: number | null = null;
  private n = 0;
  private bytes = 0;
  /** After a restore the file holds earlier runs' lines: append instead of truncating. */
  private append = false;

  constructor(readonly path: string) {}

  get count(): number {
    return this.n;
  }

  write(file: string, line: number, error: string, raw: string): void {
    this.writeEntry({ file, line, error, raw });
  }

  /** Any JSON line (e.g. a record without a valid timestamp: source, record, field, error, raw). */
  writeEntry(entry: Record<string, unknown>): void {
    this.fd ??= openSync(this.path, this.append ? 'a' : 'w');
    const text = JSON.stringify(entry) + '\n';
    this.bytes += writeSync(this.fd, text);
    this.n++;
  }

  position(): DeadLetterPosition {
    return { bytes: this.bytes, count: this.n };
  }

  /** Continues from a checkpoint: lines written after it (by the run that failed) are cut off. */
  restore(p: DeadLetterPosition): void {
    this.close();
    if (existsSync(this.path)) {
      const size = statSync(this.path).size;
      if (size < p.bytes) {
        throw new Error(`cannot restore the dead-letter file ${this.path}: it has ${size} bytes but had ${p.bytes} at the checkpoint; was it modified?`);
      }
      truncateSync(this.path, p.bytes);
    } else if (p.bytes > 0) {
      throw new Error(`cannot restore the dead-letter file ${this.path}: it is missing, but held ${p.count} records at the checkpoint`);
    }
    this.bytes = p.bytes;
    this.n = p.count;
    this.append = true;
  }

  close(): void {
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
    }
  }
}
