/**
 * SocketSource (Flink's socketTextStream): lines of text from a TCP server, as raw lines or
 * decoded as JSON or CSV of a declared schema by the job's engine decoders (one call per chunk
 * of whole lines, as the files). When the server closes the connection the stream ends, unless
 * a reconnect policy says to connect again. A socket cannot be replayed: in a checkpointed job
 * the source is at-most-once (lines received after the last checkpoint are not read again after
 * a restore), and it says so with a warning.
 */

import { isUtf8 } from 'node:buffer';
import { connect, type Socket } from 'node:net';
import type { Source, SourceContext, SourceReader } from '../api/connector.js';
import { registerSocketTextSource } from '../api/environment.js';
import { BatchBuilder } from '../batch/builder.js';
import type { Utf8Column } from '../batch/column.js';
import { RecordBatch } from '../batch/record-batch.js';
import { Schema, type RecordOf, type SchemaSpec } from '../batch/schema.js';
import type { CsvDecoder, LineDecoder } from '../engine/engine.js';
import { EngineError } from '../engine/errors.js';
import { DeadLetterFile } from '../runtime/dead-letters.js';
import { concatBatches, DEFAULT_MAX_LINE_BYTES, routeBadLines } from './text-file.js';

export interface SocketSourceOptions {
  /** Connect again this many times after the connection closes or fails (default 0: the stream ends; Infinity: always). */
  readonly maxRetries?: number;
  /** Wait this long before connecting again, ms (default 500). */
  readonly retryDelayMs?: number;
  /** The longest line, bytes (default 64 MiB): a longer one fails the job. */
  readonly maxLineBytes?: number;
  /** JSON/CSV: lines that do not decode go here instead of failing the job. */
  readonly deadLetterPath?: string;
  /** CSV: field separator (default ','); fields by position, no header. */
  readonly delimiter?: string;
}

type Format = { readonly kind: 'lines' } | { readonly kind: 'jsonl' } | { readonly kind: 'csv'; readonly delimiter: string };

let warned = false;

export class SocketSource<T extends object> implements Source<T> {
  declare readonly __record?: T;
  readonly hasEventTime = false;
  readonly supportsProjection = false;
  readonly name: string;

  private constructor(
    readonly schema: Schema,
    private readonly host: string,
    private readonly port: number,
    private readonly format: Format,
    private readonly options: SocketSourceOptions,
  ) {
    if (typeof host !== 'string' || host === '') throw new TypeError('SocketSource: give a host name');
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`SocketSource: port must be 1..65535, got ${String(port)}`);
    const retries = options.maxRetries ?? 0;
    if (!(retries === Infinity || (Number.isSafeInteger(retries) && retries >= 0))) throw new RangeError(`SocketSource: maxRetries must be a whole number >= 0 or Infinity, got ${String(retries)}`);
    this.name = `socket ${host}:${port}`;
  }

  /** Each line as a row { line } (UTF-8, line end removed). */
  static lines(host: string, port: number, options: SocketSourceOptions = {}): SocketSource<{ line: string }> {
    return new SocketSource(Schema.from({ line: 'utf8' }), host, port, { kind: 'lines' }, options);
  }

  /** Each line a JSON object of `schema`. */
  static jsonl<S extends SchemaSpec>(host: string, port: number, schema: S, options: SocketSourceOptions = {}): SocketSource<RecordOf<S>> {
    return new SocketSource(Schema.from(schema), host, port, { kind: 'jsonl' }, options);
  }

  /** Each line a CSV record of `schema` (fields by position). */
  static csv<S extends SchemaSpec>(host: string, port: number, schema: S, options: SocketSourceOptions = {}): SocketSource<RecordOf<S>> {
    const delimiter = options.delimiter ?? ',';
    if (typeof delimiter !== 'string' || delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') {
      throw new TypeError(`SocketSource.csv: delimiter must be one character other than a quote or a line break, got ${JSON.stringify(delimiter)}`);
    }
    return new SocketSource(Schema.from(schema), host, port, { kind: 'csv', delimiter }, options);
  }

  open(ctx: SourceContext): SourceReader {
    return new SocketReader(this.schema, this.host, this.port, this.format, this.options, ctx);
  }
}

class SocketReader implements SourceReader {
  private socket: Socket | null = null;
  private buf: Buffer = Buffer.alloc(0);
  private closed = false;
  private ended = false;
  private failure: Error | null = null;
  private wake: (() => void) | null = null;
  private retriesLeft: number;
  private lineNo = 0;
  private connects = 0;
  private idleMs = 0;
  private readonly where: string;
  private readonly decoder: LineDecoder | CsvDecoder | null;
  private readonly dead: DeadLetterFile | null;
  private readonly maxLineBytes: number;

  constructor(
    private readonly schema: Schema,
    private readonly host: string,
    private readonly port: number,
    private readonly format: Format,
    private readonly options: SocketSourceOptions,
    private readonly ctx: SourceContext,
  ) {
    this.retriesLeft = options.maxRetries ?? 0;
    this.where = `socket ${host}:${port}`;
    this.maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.dead = options.deadLetterPath === undefined ? null : new DeadLetterFile(options.deadLetterPath);
    this.decoder =
      format.kind === 'jsonl' ? ctx.engine.createJsonlDecoder(schema, this.where) : format.kind === 'csv' ? ctx.engine.createCsvDecoder(schema, this.where, { delimiter: format.delimiter, header: false }) : null;
  }

  private connect(): void {
    this.connects++;
    const s = connect({ host: this.host, port: this.port });
    this.socket = s;
    s.on('data', (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
      this.notify();
    });
    s.on('error', (e) => {
      if (this.socket === s) this.connectionLost(e);
    });
    s.on('close', () => {
      if (this.socket === s) this.connectionLost(null);
    });
  }

  private connectionLost(e: Error | null): void {
    this.socket = null;
    if (this.closed) return;
    if (this.retriesLeft > 0) {
      this.retriesLeft--;
      setTimeout(() => {
        if (!this.closed) this.connect();
      }, this.options.retryDelayMs ?? 500);
    } else if (e !== null && this.connects === 1 && this.lineNo === 0 && this.buf.length === 0) {
      this.failure = new Error(`${this.where}: cannot connect (${e.message}); is the server running? (maxRetries in the options keeps trying)`);
    } else if (e !== null && (this.options.maxRetries ?? 0) > 0) {
      this.failure = new Error(`${this.where}: the connection failed (${e.message}) and the ${this.options.maxRetries} reconnect attempts are used up`);
    } else this.ended = true;
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  async next(): Promise<RecordBatch | null> {
    if (this.socket === null && this.connects === 0) this.connect();
    for (;;) {
      if (this.failure !== null) throw this.failure;
      const nl = this.buf.lastIndexOf(10);
      if (nl >= 0 || (this.ended && this.buf.length > 0)) return this.decode(nl >= 0 ? nl + 1 : this.buf.length);
      if (this.buf.length > this.maxLineBytes) throw new EngineError('data', `${this.where}, line ${this.lineNo + 1}: a line longer than maxLineBytes (${this.maxLineBytes} bytes)`);
      if (this.ended) return null;
      // Nothing whole yet: wait for data for at most about a poll interval, then yield.
      const t0 = performance.now();
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(() => this.notify(), 100);
      });
      if (this.buf.lastIndexOf(10) < 0 && !this.ended && this.failure === null) {
        this.idleMs += performance.now() - t0;
        return new BatchBuilder(this.schema, 0).finish();
      }
    }
  }

  /** Decodes the first `end` bytes (whole lines) into one batch, at most batchSize rows per decoder call. */
  private decode(end: number): RecordBatch {
    const bytes = this.buf.subarray(0, end);
    if (this.decoder === null) {
      const lines: Buffer[] = [];
      let at = 0;
      while (at < bytes.length) {
        let nl = bytes.indexOf(10, at);
        if (nl < 0) nl = bytes.length;
        let line = bytes.subarray(at, nl);
        if (line.length > 0 && line[line.length - 1] === 13) line = line.subarray(0, line.length - 1);
        this.lineNo++;
        if (!isUtf8(line)) throw new EngineError('data', `${this.where}, line ${this.lineNo}: invalid UTF-8; send UTF-8 text`);
        lines.push(line);
        at = nl + 1;
      }
      this.buf = this.buf.subarray(end);
      return new RecordBatch(this.schema, [utf8Column(lines)], lines.length, null);
    }
    const parts: RecordBatch[] = [];
    let at = 0;
    while (at < bytes.length) {
      const chunk = bytes.subarray(at);
      const out = this.format.kind === 'csv' ? (this.decoder as CsvDecoder).decode(chunk, this.lineNo, this.ctx.batchSize, true) : (this.decoder as LineDecoder).decode(chunk, this.lineNo, this.ctx.batchSize);
      if (out.consumed === 0) break;
      at += out.consumed;
      this.lineNo += out.lines;
      routeBadLines(out.bad, this.dead, this.where);
      if (out.batch.length > 0) parts.push(out.batch);
    }
    this.buf = this.buf.subarray(at);
    return parts.length === 0 ? new BatchBuilder(this.schema, 0).finish() : concatBatches(this.schema, parts);
  }

  /** Not replayable: a checkpoint records nothing to rewind to (at-most-once), and says so once. */
  checkpoint(): { readonly atMostOnce: true; readonly lines: number } {
    if (!warned) {
      warned = true;
      process.emitWarning(`${this.where}: a socket cannot be replayed, so with checkpoints this source is at-most-once (lines received after the last checkpoint are lost on a restore)`, { code: 'SLUICE_AT_MOST_ONCE' });
    }
    return { atMostOnce: true, lines: this.lineNo };
  }

  restore(): void {}

  metrics(): Record<string, number> {
    return { deadLetters: this.dead?.count ?? 0, idleMs: this.idleMs };
  }

  close(): void {
    this.closed = true;
    this.socket?.destroy();
    this.socket = null;
    this.dead?.close();
    this.notify();
  }
}

function utf8Column(lines: readonly Buffer[]): Utf8Column {
  const offsets = new Int32Array(lines.length + 1);
  let size = 0;
  for (const l of lines) size += l.length;
  const data = new Uint8Array(size);
  let at = 0;
  lines.forEach((l, i) => {
    data.set(l, at);
    at += l.length;
    offsets[i + 1] = at;
  });
  return { type: 'utf8', offsets, data, validity: null };
}

registerSocketTextSource((host, port, options) => SocketSource.lines(host, port, options));
