/**
 * JSON Lines file source with a declared schema. The file streams in chunks (bounded
 * memory). A malformed line or a value of the wrong type is an error naming the file, the
 * line and the field, unless a dead-letter file is given: then every bad line is written
 * there (with its error) and counted in the job result.
 */

import { Buffer } from 'node:buffer';
import { closeSync, openSync, writeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { BadValueError, BatchBuilder } from '../batch/builder.js';
import type { RecordBatch } from '../batch/record-batch.js';
import { Schema, type RecordOf, type SchemaSpec } from '../batch/schema.js';
import type { Source, SourceContext, SourceReader } from '../api/connector.js';

export interface JsonlSourceOptions {
  /** Route bad lines here (JSONL: file, line, error, raw) instead of failing the job. */
  readonly deadLetterPath?: string;
}

const CHUNK = 1 << 20;

export class FileSource<T extends object> implements Source<T> {
  readonly name: string;
  readonly hasEventTime = false;
  readonly supportsProjection = false;

  private constructor(
    private readonly path: string,
    readonly schema: Schema,
    private readonly options: JsonlSourceOptions,
  ) {
    this.name = `jsonl ${path}`;
  }

  static jsonl<S extends SchemaSpec>(path: string, schema: S, options: JsonlSourceOptions = {}): FileSource<RecordOf<S>> {
    return new FileSource<RecordOf<S>>(path, Schema.from(schema), options);
  }

  open(ctx: SourceContext): SourceReader {
    return new JsonlReader(this.path, this.schema, ctx.batchSize, this.options.deadLetterPath ?? null);
  }
}

class JsonlReader implements SourceReader {
  private fh: FileHandle | null = null;
  private readonly buf = Buffer.alloc(CHUNK);
  private pending: Buffer = Buffer.alloc(0);
  private eof = false;
  private lineNo = 0;
  private deadFd: number | null = null;
  private dead = 0;

  constructor(
    private readonly path: string,
    private readonly schema: Schema,
    private readonly batchSize: number,
    private readonly deadLetterPath: string | null,
  ) {}

  metrics(): Record<string, number> {
    return { deadLetters: this.dead };
  }

  private async readLine(): Promise<string | null> {
    for (;;) {
      const nl = this.pending.indexOf(10);
      if (nl >= 0) {
        const line = this.pending.toString('utf8', 0, nl);
        this.pending = this.pending.subarray(nl + 1);
        return line;
      }
      if (this.eof) {
        if (this.pending.length === 0) return null;
        const line = this.pending.toString('utf8');
        this.pending = Buffer.alloc(0);
        return line;
      }
      this.fh ??= await open(this.path, 'r');
      const { bytesRead } = await this.fh.read(this.buf, 0, CHUNK, null);
      if (bytesRead === 0) this.eof = true;
      else this.pending = Buffer.concat([this.pending, this.buf.subarray(0, bytesRead)]);
    }
  }

  private reject(line: string, error: string): void {
    if (this.deadLetterPath === null) return;
    this.deadFd ??= openSync(this.deadLetterPath, 'w');
    writeSync(this.deadFd, JSON.stringify({ file: this.path, line: this.lineNo, error, raw: line }) + '\n');
    this.dead++;
  }

  async next(): Promise<RecordBatch | null> {
    const b = new BatchBuilder(this.schema, this.batchSize);
    const where = `file '${this.path}'`;
    while (b.length < this.batchSize) {
      const raw = await this.readLine();
      if (raw === null) break;
      this.lineNo++;
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (line.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (e) {
        const msg = `${where}, line ${this.lineNo}: malformed JSON (${e instanceof Error ? e.message : String(e)})`;
        if (this.deadLetterPath === null) throw new SyntaxError(msg);
        this.reject(line, msg);
        continue;
      }
      try {
        b.append(value, where, this.lineNo);
      } catch (e) {
        if (!(e instanceof BadValueError)) throw e;
        const err = new BadValueError(e.where, e.position, e.field, e.detail, 'line');
        if (this.deadLetterPath === null) throw err;
        this.reject(line, err.message);
      }
    }
    return b.length === 0 ? null : b.finish();
  }

  async close(): Promise<void> {
    if (this.deadFd !== null) {
      closeSync(this.deadFd);
      this.deadFd = null;
    }
    await this.fh?.close();
    this.fh = null;
  }
}
