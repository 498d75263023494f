/**
 * FileSource: records of a declared schema from JSON Lines or CSV files — one file, every
 * matching file of a directory, or a watched directory whose new files are picked up while
 * the job runs. Files stream in chunks (bounded memory), one file open at a time, and bad
 * input follows one rule everywhere: an error naming the file, the line and the field, or,
 * with `deadLetterPath`, a line in that file and a count in the job result.
 */

import { resolve } from 'node:path';
import { BatchBuilder } from '../batch/builder.js';
import type { RecordBatch } from '../batch/record-batch.js';
import { Schema, type RecordOf, type SchemaSpec } from '../batch/schema.js';
import type { Source, SourceContext, SourceReader } from '../api/connector.js';
import { CsvFileReader, type CsvFormat } from './csv-reader.js';
import { DeadLetterFile, type DeadLetterPosition } from '../runtime/dead-letters.js';
import { DirectoryFiles, IDLE, nameMatcher, SingleFile, WatchedFiles, type FileFeed, type FilePattern } from './directory-source.js';
import { JsonlFileReader } from './jsonl-reader.js';
import { concatBatches, DEFAULT_MAX_LINE_BYTES, type FilePosition, type RecordFileReader } from './text-file.js';

export interface JsonlSourceOptions {
  /** Route bad lines here (JSONL: file, line, error, raw) instead of failing the job. */
  readonly deadLetterPath?: string;
  /**
   * The longest line read, in bytes (default 64 MiB): a longer line fails the job with an
   * error naming it (memory stays bounded whatever the file holds).
   */
  readonly maxLineBytes?: number;
}

export interface CsvSourceOptions {
  /** Route bad records here (JSONL: file, line, error, raw) instead of failing the job. */
  readonly deadLetterPath?: string;
  /** The first record names the columns, matched to fields by name (default true); false: by position. */
  readonly header?: boolean;
  /** Field separator, one character (default ','). */
  readonly delimiter?: string;
  /** The longest line or record read, in bytes (default 64 MiB): a longer one fails the job naming it. */
  readonly maxLineBytes?: number;
}

export interface DirectorySourceOptions<S extends SchemaSpec> {
  readonly format: 'jsonl' | 'csv';
  readonly schema: S;
  /** Which file names to read (default: all); names starting with '.' or '_' are always skipped. */
  readonly pattern?: FilePattern;
  /** Route bad records of every file here (JSONL: file, line, error, raw) instead of failing the job. */
  readonly deadLetterPath?: string;
  /** See JsonlSourceOptions / CsvSourceOptions. */
  readonly maxLineBytes?: number;
  /** CSV only: see CsvSourceOptions. */
  readonly header?: boolean;
  /** CSV only: see CsvSourceOptions. */
  readonly delimiter?: string;
  /**
   * Read all files at once, a batch from each in turn, instead of one after the other. Each
   * file is a split with its own watermark; the source's watermark is the minimum over the
   * files not yet finished (so files covering different times do not make each other late).
   * Directory sources only.
   */
  readonly interleave?: boolean;
}

export interface WatchSourceOptions<S extends SchemaSpec> extends DirectorySourceOptions<S> {
  /** How often to look for new files, ms (default 1000). A file is read once two polls see it unchanged. */
  readonly pollIntervalMs?: number;
}

type Format = { readonly kind: 'jsonl'; readonly maxLineBytes: number } | ({ readonly kind: 'csv'; readonly maxLineBytes: number } & CsvFormat);

type Feed =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'directory'; readonly dir: string; readonly pattern: FilePattern | undefined; readonly pollIntervalMs: number | null; readonly interleave?: boolean };

export class FileSource<T extends object> implements Source<T> {
  /** Carries the record type to fromSource() (never set). */
  declare readonly __record?: T;
  readonly hasEventTime = false;
  readonly supportsProjection = false;
  private readonly accept: ((name: string) => boolean) | null;

  private constructor(
    readonly name: string,
    readonly schema: Schema,
    private readonly feed: Feed,
    private readonly format: Format,
    private readonly deadLetterPath: string | null,
  ) {
    this.accept = feed.kind === 'directory' ? nameMatcher(feed.pattern) : null;
  }

  /** One JSON Lines file. */
  static jsonl<S extends SchemaSpec>(path: string, schema: S, options: JsonlSourceOptions = {}): FileSource<RecordOf<S>> {
    return new FileSource<RecordOf<S>>(`jsonl ${path}`, Schema.from(schema), { kind: 'file', path }, jsonlFormat(options), deadLetters(options));
  }

  /** One CSV file (RFC 4180). */
  static csv<S extends SchemaSpec>(path: string, schema: S, options: CsvSourceOptions = {}): FileSource<RecordOf<S>> {
    return new FileSource<RecordOf<S>>(`csv ${path}`, Schema.from(schema), { kind: 'file', path }, csvFormat(options), deadLetters(options));
  }

  /** Every matching file of a directory, in name order, as one stream; bounded. */
  static directory<S extends SchemaSpec>(dir: string, options: DirectorySourceOptions<S>): FileSource<RecordOf<S>> {
    const format = fileFormat(options);
    return new FileSource<RecordOf<S>>(
      `${format.kind} files in ${dir}`,
      Schema.from(options.schema),
      { kind: 'directory', dir, pattern: options.pattern, pollIntervalMs: null, interleave: options.interleave === true },
      format,
      deadLetters(options),
    );
  }

  /**
   * A watched directory: its files, then each new file once it is complete (see
   * directory-source.ts for the rule); unbounded, runs until the job is stopped through
   * `ExecuteOptions.signal` (or a collect() loop is left).
   */
  static watch<S extends SchemaSpec>(dir: string, options: WatchSourceOptions<S>): FileSource<RecordOf<S>> {
    const format = fileFormat(options);
    if (options.interleave !== undefined) throw new TypeError('FileSource.watch reads files as they appear; interleave is an option of FileSource.directory');
    const poll = options.pollIntervalMs ?? 1000;
    if (typeof poll !== 'number' || !Number.isFinite(poll) || poll <= 0) {
      throw new RangeError(`FileSource.watch: pollIntervalMs must be a number of ms above 0, got ${String(poll)}`);
    }
    return new FileSource<RecordOf<S>>(
      `${format.kind} files watched in ${dir}`,
      Schema.from(options.schema),
      { kind: 'directory', dir, pattern: options.pattern, pollIntervalMs: poll },
      format,
      deadLetters(options),
    );
  }

  open(ctx: SourceContext): SourceReader {
    const dead = this.deadLetterPath === null ? null : new DeadLetterFile(this.deadLetterPath);
    const exclude = new Set(this.deadLetterPath === null ? [] : [resolve(this.deadLetterPath)]);
    const f = this.feed;
    let feed: FileFeed;
    if (f.kind === 'file') feed = new SingleFile(f.path);
    else if (f.pollIntervalMs === null) feed = new DirectoryFiles(f.dir, this.accept!, exclude);
    else feed = new WatchedFiles(f.dir, this.accept!, exclude, f.pollIntervalMs);
    const format = this.format;
    const schema = this.schema;
    const openFile = (path: string, at: FilePosition | null): RecordFileReader =>
      format.kind === 'csv'
        ? new CsvFileReader(path, schema, format, dead, at, { engine: ctx.engine, maxLineBytes: format.maxLineBytes })
        : new JsonlFileReader(path, dead, at, { engine: ctx.engine, maxLineBytes: format.maxLineBytes });
    if (f.kind === 'directory' && f.interleave === true) return new InterleavedFilesReader(feed, openFile, schema, ctx.batchSize, dead);
    return new FilesReader(feed, openFile, schema, ctx.batchSize, dead);
  }
}

/**
 * A file source's position at a checkpoint: the files it has taken from its feed, where it is
 * in those still open, and its dead-letter file. Files are named by path, so a restore skips
 * the files already read whatever else appeared in the directory since.
 */
interface FeedPosition {
  readonly taken: readonly string[];
  readonly open: readonly { readonly path: string; readonly at: FilePosition }[];
  readonly turn: number;
  readonly deadLetters: DeadLetterPosition | null;
}

/** What both file readers share: the feed, how to open a file, batch shape, dead letters, checkpoints. */
abstract class FeedReader implements SourceReader {
  /** Every path the feed gave, in order (a checkpoint's record of what not to read again). */
  private readonly taken: string[] = [];
  /** Files to continue from a restored position, in their order; taken by the first `next`. */
  protected resumed: { path: string; reader: RecordFileReader }[] = [];

  constructor(
    private readonly feed: FileFeed,
    private readonly openFile: (path: string, at: FilePosition | null) => RecordFileReader,
    protected readonly schema: Schema,
    protected readonly batchSize: number,
    private readonly dead: DeadLetterFile | null,
  ) {}

  abstract next(): Promise<RecordBatch | null>;

  /** The files open now with their readers, in reading order. */
  protected abstract openFiles(): readonly { readonly path: string; readonly reader: RecordFileReader }[];

  /** Whose turn it is (interleaved reading). */
  protected turnIndex(): number {
    return 0;
  }

  protected setTurn(_turn: number): void {}

  /** Closes the files still open. */
  protected abstract closeFiles(): Promise<void>;

  /** The next file of the feed (see FileFeed.next), opened. */
  protected async nextFile(wait: boolean): Promise<{ path: string; reader: RecordFileReader } | null | typeof IDLE> {
    const p = await this.feed.next(wait);
    if (typeof p !== 'string') return p;
    this.taken.push(p);
    return { path: p, reader: this.openFile(p, null) };
  }

  checkpoint(): FeedPosition {
    return {
      taken: this.taken.slice(),
      open: this.openFiles().map((f) => ({ path: f.path, at: f.reader.position() })),
      turn: this.turnIndex(),
      deadLetters: this.dead?.position() ?? null,
    };
  }

  restore(position: unknown): void {
    const p = position as FeedPosition;
    this.taken.push(...p.taken);
    this.feed.skip(new Set(p.taken));
    this.resumed = p.open.map((f) => ({ path: f.path, reader: this.openFile(f.path, f.at) }));
    this.setTurn(p.turn);
    if (p.deadLetters !== null) this.dead?.restore(p.deadLetters);
  }

  metrics(): Record<string, number> {
    return { deadLetters: this.dead?.count ?? 0, idleMs: this.feed.idleMs };
  }

  async close(): Promise<void> {
    try {
      await this.closeFiles();
    } finally {
      this.dead?.close();
    }
  }
}

/** Reads every file of a bounded feed at once, a batch from each in turn; each file is a split. */
class InterleavedFilesReader extends FeedReader {
  private open: { path: string; reader: RecordFileReader }[] | null = null;
  private turn = 0;
  private current = '';

  splits(): { current: string; active: readonly string[] } {
    return { current: this.current, active: (this.open ?? this.resumed).map((f) => f.path) };
  }

  protected openFiles(): readonly { path: string; reader: RecordFileReader }[] {
    return this.open ?? this.resumed;
  }

  protected override turnIndex(): number {
    return this.turn;
  }

  protected override setTurn(turn: number): void {
    this.turn = turn;
  }

  async next(): Promise<RecordBatch | null> {
    if (this.open === null) {
      // Restored files first (all of the directory was open at the checkpoint), then any not yet taken.
      this.open = this.resumed;
      this.resumed = [];
      for (let f = await this.nextFile(false); f !== null && f !== IDLE; f = await this.nextFile(false)) this.open.push(f);
    }
    while (this.open.length > 0) {
      this.turn %= this.open.length;
      const f = this.open[this.turn]!;
      const batch = await f.reader.read(this.schema, this.batchSize);
      this.current = f.path;
      const more = batch !== null && batch.length === this.batchSize;
      if (more) this.turn++;
      else {
        // The split ended: it no longer holds the watermark back.
        this.open.splice(this.turn, 1);
        await f.reader.close();
      }
      if (batch !== null && batch.length > 0) return batch;
    }
    return null;
  }

  protected async closeFiles(): Promise<void> {
    const open = [...(this.open ?? []), ...this.resumed];
    this.open = [];
    this.resumed = [];
    for (const f of open) await f.reader.close();
  }
}

/** Reads the files of a feed one after the other into batches that may span files. */
class FilesReader extends FeedReader {
  private current: { path: string; reader: RecordFileReader } | null = null;
  private ended = false;

  protected openFiles(): readonly { path: string; reader: RecordFileReader }[] {
    return this.current === null ? this.resumed : [this.current];
  }

  /**
   * A batch of up to batchSize rows; null at the end of a bounded feed. A watched directory
   * with nothing new yields a batch of zero rows after at most one poll interval: the runtime
   * checks for a stop request between batches (and operators skip empty batches), so the job
   * can be stopped while it waits for files.
   */
  async next(): Promise<RecordBatch | null> {
    if (this.ended) return null;
    const parts: RecordBatch[] = [];
    let rows = 0;
    while (rows < this.batchSize) {
      if (this.current === null) {
        const f = this.resumed.shift() ?? (await this.nextFile(rows === 0));
        if (f === null) {
          this.ended = true;
          break;
        }
        if (f === IDLE) break;
        this.current = f;
      }
      const want = this.batchSize - rows;
      const batch = await this.current.reader.read(this.schema, want);
      if (batch !== null && batch.length > 0) {
        parts.push(batch);
        rows += batch.length;
      }
      if (batch === null || batch.length < want) {
        const done = this.current;
        this.current = null;
        await done.reader.close();
      }
    }
    if (this.ended && rows === 0) return null;
    return parts.length === 0 ? new BatchBuilder(this.schema, 0).finish() : concatBatches(this.schema, parts);
  }

  protected async closeFiles(): Promise<void> {
    const open = [...(this.current === null ? [] : [this.current]), ...this.resumed];
    this.current = null;
    this.resumed = [];
    for (const f of open) await f.reader.close();
  }
}

function deadLetters(options: { readonly deadLetterPath?: string }): string | null {
  const p = options.deadLetterPath;
  if (p === undefined) return null;
  if (typeof p !== 'string' || p === '') throw new TypeError(`deadLetterPath must be a file path, got ${JSON.stringify(p)}`);
  return p;
}

function maxLineBytes(options: { readonly maxLineBytes?: number }): number {
  const max = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  if (typeof max !== 'number' || !Number.isSafeInteger(max) || max < 1) {
    throw new RangeError(`maxLineBytes must be a whole number of bytes >= 1, got ${String(max)}`);
  }
  return max;
}

function jsonlFormat(options: { readonly maxLineBytes?: number }): Format {
  return { kind: 'jsonl', maxLineBytes: maxLineBytes(options) };
}

function csvFormat(options: CsvSourceOptions): Format {
  const delimiter = options.delimiter ?? ',';
  if (typeof delimiter !== 'string' || delimiter.length !== 1 || delimiter === '"' || delimiter === '\r' || delimiter === '\n') {
    throw new TypeError(`CSV delimiter must be one character other than a quote or a line break, got ${JSON.stringify(delimiter)}`);
  }
  return { kind: 'csv', header: options.header ?? true, delimiter, maxLineBytes: maxLineBytes(options) };
}

function fileFormat(options: DirectorySourceOptions<SchemaSpec>): Format {
  if (options.format === 'csv') return csvFormat(options);
  if (options.format === 'jsonl') {
    if (options.header !== undefined || options.delimiter !== undefined) {
      throw new TypeError("header and delimiter are CSV options; with format: 'jsonl' leave them out");
    }
    return jsonlFormat(options);
  }
  throw new TypeError(`file format must be 'jsonl' or 'csv', got ${JSON.stringify((options as { format?: unknown }).format)}`);
}
