/**
 * The dead-letter file of a file source: one JSON line per rejected input record
 * (`{ file, line, error, raw }`), and the count the job result reports. The file is created
 * (truncated) on the first rejected record, so a clean run leaves no file behind.
 *
 * Under checkpoints its length and count are part of the writer's state: a restore cuts the
 * file back to that length, and the records after the checkpoint are rejected again, once.
 *
 * A parallel operator's subtasks each write their own file (subtask 0 the path as given,
 * subtask i `<name>-<i><ext>`), since one shared file could not be cut back per subtask. On a
 * restore at another parallelism the files of subtasks that no longer exist are cut back to
 * their checkpointed length and adopted by a remaining subtask (i mod the new parallelism),
 * which carries their position and count in its own checkpoints from then on.
 */

import { closeSync, existsSync, openSync, statSync, truncateSync, writeSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';

/** Where a dead-letter file was at a checkpoint. */
export interface DeadLetterPosition {
  readonly bytes: number;
  readonly count: number;
  /** Files of former subtasks this one answers for since a restore at lower parallelism. */
  readonly adopted?: readonly AdoptedFile[];
}

interface AdoptedFile {
  readonly subtask: number;
  readonly bytes: number;
  readonly count: number;
}

/** The file subtask `subtask` writes: the path itself for subtask 0. */
export function deadLetterPath(path: string, subtask: number): string {
  if (subtask === 0) return path;
  const ext = extname(path);
  return join(dirname(path), `${basename(path, ext)}-${subtask}${ext}`);
}

export class DeadLetterFile {
  private fd: number | null = null;
  private n = 0;
  private bytes = 0;
  /** After a restore the file holds earlier runs' lines: append instead of truncating. */
  private append = false;
  private adopted: readonly AdoptedFile[] = [];
  readonly path: string;

  constructor(
    /** The configured path (subtask 0's file). */
    readonly basePath: string,
    private readonly subtask = 0,
  ) {
    this.path = deadLetterPath(basePath, subtask);
  }

  /** Records rejected in all: this subtask's and those of the files it adopted. */
  get count(): number {
    return this.adopted.reduce((sum, a) => sum + a.count, this.n);
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
    return this.adopted.length === 0 ? { bytes: this.bytes, count: this.n } : { bytes: this.bytes, count: this.n, adopted: this.adopted };
  }

  /** Continues from a checkpoint: lines written after it (by the run that failed) are cut off. */
  restore(p: DeadLetterPosition): void {
    this.close();
    cutBack(this.path, p.bytes, p.count);
    this.bytes = p.bytes;
    this.n = p.count;
    this.append = true;
    this.adopted = p.adopted ?? [];
    for (const a of this.adopted) cutBack(deadLetterPath(this.basePath, a.subtask), a.bytes, a.count);
  }

  /**
   * Continues from the positions of every subtask of a checkpoint taken at another parallelism
   * (`positions[j]`: old subtask j's, null without one): keeps its own file's position and
   * adopts the files no subtask of `parallelism` writes any more.
   */
  restoreRescaled(positions: readonly (DeadLetterPosition | null)[], parallelism: number): void {
    const files = new Map<number, { bytes: number; count: number }>();
    positions.forEach((p, j) => {
      if (p === null) return;
      files.set(j, { bytes: p.bytes, count: p.count });
      for (const a of p.adopted ?? []) files.set(a.subtask, { bytes: a.bytes, count: a.count });
    });
    const own = files.get(this.subtask);
    const adopted = [...files].filter(([k]) => k >= parallelism && k % parallelism === this.subtask).map(([subtask, f]) => ({ subtask, ...f }));
    if (own === undefined && adopted.length === 0) return;
    this.restore({ bytes: own?.bytes ?? 0, count: own?.count ?? 0, adopted });
    // A file this subtask had no position for starts afresh, as in a new run.
    if (own === undefined) this.append = false;
  }

  close(): void {
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
    }
  }
}

function cutBack(path: string, bytes: number, count: number): void {
  if (existsSync(path)) {
    const size = statSync(path).size;
    if (size < bytes) {
      throw new Error(`cannot restore the dead-letter file ${path}: it has ${size} bytes but had ${bytes} at the checkpoint; was it modified?`);
    }
    truncateSync(path, bytes);
  } else if (bytes > 0) {
    throw new Error(`cannot restore the dead-letter file ${path}: it is missing, but held ${count} records at the checkpoint`);
  }
}
