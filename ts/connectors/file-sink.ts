/** File sinks: JSON Lines and CSV (RFC 4180, header row; null as an empty field). */

import { closeSync, openSync, writeSync } from 'node:fs';
import type { Schema } from '../batch/schema.js';
import type { Sink, SinkWriter } from '../api/connector.js';
import { csvQuote, toCsvLines, toJsonLines } from './format.js';

export class FileSink implements Sink {
  private constructor(
    readonly name: string,
    private readonly path: string,
    private readonly format: 'jsonl' | 'csv',
  ) {}

  static jsonl(path: string): FileSink {
    return new FileSink(`jsonl ${path}`, path, 'jsonl');
  }

  static csv(path: string): FileSink {
    return new FileSink(`csv ${path}`, path, 'csv');
  }

  open(schema: Schema): SinkWriter {
    const fd = openSync(this.path, 'w');
    if (this.format === 'csv') writeSync(fd, schema.names().map(csvQuote).join(',') + '\n');
    const render = this.format === 'csv' ? toCsvLines : toJsonLines;
    let open = true;
    return {
      write: (batch) => {
        writeSync(fd, render(batch));
      },
      close: () => {
        if (open) {
          open = false;
          closeSync(fd);
        }
      },
    };
  }
}
