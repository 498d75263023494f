/**
 * One output file without checkpoints: written under a hidden temporary name in the same
 * directory (`.<name>.inprogress-<pid>`) and renamed over `path` when the sink's input ended
 * or the job was stopped (Ctrl-C, SIGTERM), fsynced first. A rename within one directory is atomic, so
 * whatever happens to the run (an exception, SIGKILL, a full disk) `path` holds either the
 * previous file, whole, or this run's complete output, never an emptied or partial mix. A
 * failed run deletes its temporary file; a killed one leaves it behind, hidden.
 */

import { Buffer } from 'node:buffer';
import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { SinkWriter } from '../api/connector.js';
import type { RecordBatch } from '../batch/record-batch.js';
import { fsyncDir } from './committing-file.js';

function writeAll(fd: number, bytes: Uint8Array): void {
  let at = 0;
  while (at < bytes.length) at += writeSync(fd, bytes, at, bytes.length - at);
}

export class ReplacingFileWriter implements SinkWriter {
  /** Each batch is encoded and written within `write`: none is kept. */
  readonly borrows = true;

  private readonly tmp: string;
  private fd: number | null;
  private published = false;
  private rows = 0;

  constructor(
    private readonly path: string,
    /** Written first (a CSV header), or ''. */
    header: string,
    private readonly encode: (batch: RecordBatch) => Uint8Array | string,
  ) {
    this.tmp = join(dirname(path), `.${basename(path)}.inprogress-${process.pid}`);
    this.fd = openSync(this.tmp, 'w');
    if (header !== '') writeAll(this.fd, Buffer.from(header));
  }

  write(batch: RecordBatch): void {
    if (batch.length === 0 || this.fd === null) return;
    this.rows += batch.length;
    const bytes = this.encode(batch);
    writeAll(this.fd, typeof bytes === 'string' ? Buffer.from(bytes) : bytes);
  }

  /**
   * The input ended, or the job was stopped: make the output durable, then put it in place of
   * `path` in one rename. A stopped run that wrote no row leaves an existing file as it was.
   */
  finish(reason: 'end' | 'stop'): void {
    if (this.fd === null) return;
    if (reason === 'stop' && this.rows === 0 && existsSync(this.path)) return this.close();
    const fd = this.fd;
    this.fd = null;
    fsyncSync(fd);
    closeSync(fd);
    renameSync(this.tmp, this.path);
    fsyncDir(dirname(this.path));
    this.published = true;
  }

  close(): void {
    if (this.published) return;
    // No finish: the run failed; what it wrote is incomplete and must not replace `path`.
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
    }
    rmSync(this.tmp, { force: true });
  }
}
