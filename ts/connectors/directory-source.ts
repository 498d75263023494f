/**
 * Which files a file source reads, in which order: one file; every matching file of a
 * directory (sorted by name, listed once when the job starts); or a watched directory, polled
 * for files that appear while the job runs.
 *
 * In a directory, names starting with '.' or '_' are never read: that is where writers keep
 * files in progress (the rolling file sink writes `.part-*.inprogress`), as in Flink and
 * Hadoop. Subdirectories are not descended into.
 *
 * The watch rule — each file is read once, and only when complete: a file is ready when two
 * consecutive polls see the same size and modification time. Writers that pause for longer
 * than the poll interval while writing a file should write it under a hidden name ('.' or
 * '_' first) and rename it into place when done, which is atomic. A file is read once per
 * name in a job: changes after it was read, or a new file under a name already read, are
 * ignored. (Without checkpoints, a restarted job reads every file again.)
 */

import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';

/** A file name pattern: a RegExp tested on the name, a glob with `*` and `?` (`'*.csv'`), or a suffix (`'.csv'`). */
export type FilePattern = RegExp | string;

/** Returned by a feed that has no file ready now but may have one later. */
export const IDLE: unique symbol = Symbol('idle');

export interface FileFeed {
  /**
   * The next file to read, null when there will be none, or IDLE. `wait`: may it wait up to
   * one poll interval for a file to become ready (false when the caller holds rows to emit).
   */
  next(wait: boolean): Promise<string | null | typeof IDLE>;
  /** Never gives these paths (a restore: the files a checkpoint had taken). */
  skip(paths: ReadonlySet<string>): void;
  /** Time spent waiting for files, ms. */
  readonly idleMs: number;
}

export function nameMatcher(pattern: FilePattern | undefined): (name: string) => boolean {
  if (pattern === undefined) return () => true;
  if (pattern instanceof RegExp) {
    const re = new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, '')); // stateless test()
    return (name) => re.test(name);
  }
  if (typeof pattern !== 'string' || pattern === '') {
    throw new TypeError(`a file pattern is a RegExp, a glob such as '*.csv', or a suffix such as '.csv'; got ${JSON.stringify(pattern)}`);
  }
  if (/[*?]/.test(pattern)) {
    const re = new RegExp(
      '^' +
        pattern
          .split('')
          .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.|+()[\]{}]/g, '\\$&')))
          .join('') +
        '$',
      's',
    );
    return (name) => re.test(name);
  }
  return (name) => name.endsWith(pattern);
}

function isHidden(name: string): boolean {
  return name.startsWith('.') || name.startsWith('_');
}

/** The visible regular files of `dir` that `accept`s and that are not excluded, in name order. */
async function listFiles(dir: string, accept: (name: string) => boolean, exclude: ReadonlySet<string>): Promise<Dirent[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    const code = (e as { code?: string }).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'ENOTDIR' ? 'is not a directory' : `cannot be listed (${e instanceof Error ? e.message : String(e)})`;
    throw new Error(`directory '${dir}' ${why}`, { cause: e });
  }
  const out: Dirent[] = [];
  for (const e of entries) {
    if (isHidden(e.name) || !accept(e.name) || exclude.has(resolve(dir, e.name))) continue;
    if (e.isFile()) out.push(e);
    else if (e.isSymbolicLink()) {
      const s = await stat(join(dir, e.name)).catch(() => null);
      if (s?.isFile() === true) out.push(e);
    }
  }
  // Code-unit order: the same on every machine, whatever its locale.
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export class SingleFile implements FileFeed {
  readonly idleMs = 0;
  private given = false;
  constructor(private readonly path: string) {}
  skip(paths: ReadonlySet<string>): void {
    if (paths.has(this.path)) this.given = true;
  }
  next(): Promise<string | null> {
    if (this.given) return Promise.resolve(null);
    this.given = true;
    return Promise.resolve(this.path);
  }
}

/** Every matching file of a directory, listed when the job starts reading. */
export class DirectoryFiles implements FileFeed {
  readonly idleMs = 0;
  private files: string[] | null = null;
  private i = 0;
  private skipped: ReadonlySet<string> = new Set();

  constructor(
    private readonly dir: string,
    private readonly accept: (name: string) => boolean,
    private readonly exclude: ReadonlySet<string>,
  ) {}

  skip(paths: ReadonlySet<string>): void {
    this.skipped = paths;
  }

  async next(): Promise<string | null> {
    this.files ??= (await listFiles(this.dir, this.accept, this.exclude)).map((e) => join(this.dir, e.name)).filter((p) => !this.skipped.has(p));
    return this.i < this.files.length ? this.files[this.i++]! : null;
  }
}

/** A directory polled for new files; never ends (the job is stopped through its AbortSignal). */
export class WatchedFiles implements FileFeed {
  private waited = 0;
  /** Files seen but not yet ready: size and mtime at the last poll. */
  private readonly pending = new Map<string, string>();
  /** Names already handed out (read once per job). */
  private readonly done = new Set<string>();
  private readonly ready: string[] = [];
  private lastPoll = -Infinity;

  constructor(
    private readonly dir: string,
    private readonly accept: (name: string) => boolean,
    private readonly exclude: ReadonlySet<string>,
    private readonly pollIntervalMs: number,
  ) {}

  get idleMs(): number {
    return this.waited;
  }

  skip(paths: ReadonlySet<string>): void {
    // Every path came from this feed (join(dir, name)).
    for (const p of paths) this.done.add(basename(p));
  }

  async next(wait: boolean): Promise<string | typeof IDLE> {
    if (this.ready.length === 0 && performance.now() - this.lastPoll >= this.pollIntervalMs) await this.poll();
    if (this.ready.length > 0) return join(this.dir, this.ready.shift()!);
    if (!wait) return IDLE;
    // Idle: wait for the next poll, but no longer, so that the runtime sees a stop request in time.
    const ms = Math.max(0, this.lastPoll + this.pollIntervalMs - performance.now());
    await new Promise<void>((r) => setTimeout(r, ms));
    this.waited += ms;
    await this.poll();
    return this.ready.length > 0 ? join(this.dir, this.ready.shift()!) : IDLE;
  }

  private async poll(): Promise<void> {
    this.lastPoll = performance.now();
    const seen = new Set<string>();
    const fresh: string[] = [];
    for (const e of await listFiles(this.dir, this.accept, this.exclude)) {
      if (this.done.has(e.name)) continue;
      const s = await stat(join(this.dir, e.name)).catch(() => null);
      if (s === null) continue; // removed since the listing
      seen.add(e.name);
      const sig = `${s.size}:${s.mtimeMs}`;
      if (this.pending.get(e.name) === sig) {
        this.pending.delete(e.name);
        this.done.add(e.name);
        fresh.push(e.name); // already in name order
      } else {
        this.pending.set(e.name, sig);
      }
    }
    for (const name of this.pending.keys()) if (!seen.has(name)) this.pending.delete(name);
    this.ready.push(...fresh);
  }
}
