/**
 * An exactly-once single-file writer (two-phase commit, as Flink's FileSink): records go to
 * `<path>.inprogress`; at a checkpoint that file becomes `<path>.pending-<id>` (fsynced); when
 * the checkpoint completes its pending files are appended to `<path>` in order, fsynced and
 * deleted. The checkpoint keeps the file's length after each pending file, so a restore can
 * finish an interrupted commit and cut off anything a later, unfinished checkpoint published:
 * after any crash, `<path>` holds exactly the output of the checkpoint the job resumes from.
 * (A crash in the middle of an append leaves `<path>` with part of a completed checkpoint's
 * output, possibly ending mid-line, until the restore completes it; rolling part files are
 * published by rename instead, whole.)
 */

import { closeSync, existsSync, fsyncSync, ftruncateSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { SinkWriter } from '../api/connector.js';
import type { RecordBatch } from '../batch/record-batch.js';

interface Pending {
  readonly id: number;
  /** Length of the published file before / after this pending file is appended. */
  readonly before: number;
  readonly after: number;
}

export interface CommittingFileState {
  readonly lengthAfter: number;
  readonly pending: readonly Pending[];
}

function writeAll(fd: number, bytes: Uint8Array | string): number {
  const buf = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
  let at = 0;
  while (at < buf.length) at += writeSync(fd, buf, at, buf.length - at);
  return buf.length;
}

/** Makes a directory's renames and new entries durable. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export class CommittingFileWriter implements SinkWriter {
  /** Each batch is encoded and written within `write`: none is kept. */
  readonly borrows = true;

  private fd: number;
  private written = 0;
  /** Published length once every prepared pending file is committed. */
  private prepared: number;
  private pending: Pending[] = [];
  private closed = false;

  constructor(
    private readonly path: string,
    /** Written once at the start of the published file (a CSV header), or ''. */
    header: string,
    restoring: boolean,
    private readonly encode: (batch: RecordBatch) => Uint8Array | string,
  ) {
    if (!restoring) {
      // A fresh run: pending files of an earlier one are not ours to publish.
      this.removeStale(() => true);
      const fd = openSync(path, 'w');
      writeAll(fd, header);
      fsyncSync(fd);
      closeSync(fd);
      fsyncDir(dirname(path));
    }
    this.prepared = Buffer.byteLength(header);
    this.fd = openSync(this.inProgress, 'w');
  }

  private get inProgress(): string {
    return `${this.path}.inprogress`;
  }

  private pendingFile(id: number): string {
    return `${this.path}.pending-${id}`;
  }

  /** Deletes pending files whose id `drop` accepts (of an earlier run). */
  private removeStale(drop: (id: number) => boolean): void {
    const dir = dirname(this.path);
    const prefix = `${basename(this.path)}.pending-`;
    if (!existsSync(dir)) return;
    for (const n of readdirSync(dir)) {
      if (n.startsWith(prefix) && drop(Number(n.slice(prefix.length)))) rmSync(join(dir, n), { force: true });
    }
  }

  write(batch: RecordBatch): void {
    this.written += writeAll(this.fd, this.encode(batch));
  }

  preCommit(checkpointId: number): CommittingFileState {
    if (this.written > 0) {
      fsyncSync(this.fd);
      closeSync(this.fd);
      renameSync(this.inProgress, this.pendingFile(checkpointId));
      fsyncDir(dirname(this.path));
      this.pending.push({ id: checkpointId, before: this.prepared, after: this.prepared + this.written });
      this.prepared += this.written;
      this.written = 0;
      this.fd = openSync(this.inProgress, 'w');
    }
    return { lengthAfter: this.prepared, pending: this.pending.map((p) => ({ ...p })) };
  }

  commit(checkpointId: number): void {
    while (this.pending.length > 0 && this.pending[0]!.id <= checkpointId) {
      this.publish(this.pending[0]!);
      this.pending.shift();
    }
  }

  /** Appends a pending file at its place in the published file (idempotent), then deletes it. */
  private publish(p: Pending): void {
    const src = this.pendingFile(p.id);
    if (!existsSync(src)) return; // published and deleted by an earlier run
    const fd = openSync(this.path, 'r+');
    try {
      ftruncateSync(fd, p.before);
      const bytes = readFileSync(src);
      let at = 0;
      while (at < bytes.length) at += writeSync(fd, bytes, at, bytes.length - at, p.before + at);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    rmSync(src);
  }

  restore(state: unknown): void {
    const s = state as CommittingFileState;
    if (!existsSync(this.path)) throw new Error(`cannot restore the exactly-once file ${this.path}: it is missing (it holds the output published before the checkpoint)`);
    for (const p of s.pending) this.publish(p);
    if (statSync(this.path).size < s.lengthAfter) {
      throw new Error(`cannot restore the exactly-once file ${this.path}: it has ${statSync(this.path).size} bytes but the checkpoint published ${s.lengthAfter}; was it modified?`);
    }
    // Output a later checkpoint published (one that did not survive) is produced again from here.
    const fd = openSync(this.path, 'r+');
    ftruncateSync(fd, s.lengthAfter);
    fsyncSync(fd);
    closeSync(fd);
    this.removeStale(() => true);
    this.prepared = s.lengthAfter;
    this.pending = [];
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
    // Everything written was committed by the final checkpoint; an uncommitted rest (a failed
    // run) is left for the next restore to discard.
    if (this.written === 0) rmSync(this.inProgress, { force: true });
  }
}
