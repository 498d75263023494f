/**
 * The dead-letter file of a file source: one JSON line per rejected input record
 * (`{ file, line, error, raw }`), and the count the job result reports. The file is created
 * (truncated) on the first rejected record, so a clean run leaves no file behind.
 */

import { closeSync, openSync, writeSync } from 'node:fs';

export class DeadLetterFile {
  private fd: number | null = null;
  private n = 0;

  constructor(readonly path: string) {}

  get count(): number {
    return this.n;
  }

  write(file: string, line: number, error: string, raw: string): void {
    this.fd ??= openSync(this.path, 'w');
    writeSync(this.fd, JSON.stringify({ file, line, error, raw }) + '\n');
    this.n++;
  }

  /** Any JSON line (e.g. a record without a valid timestamp: source, record, field, error, raw). */
  writeEntry(entry: Record<string, unknown>): void {
    this.fd ??= openSync(this.path, 'w');
    writeSync(this.fd, JSON.stringify(entry) + '\n');
    this.n++;
  }

  close(): void {
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
    }
  }
}
