/** In-memory sinks: one that keeps what it receives (tests), one that only counts (benchmarks). */

import type { RecordBatch, Row } from '../batch/record-batch.js';
import type { Sink, SinkWriter } from '../api/connector.js';

/** Keeps every batch it receives; `records` materialises them as plain objects. */
export class CollectSink<T extends object = Row> implements Sink {
  readonly name = 'collect';
  readonly batches: RecordBatch[] = [];

  open(): SinkWriter {
    this.batches.length = 0;
    return { write: (b) => void this.batches.push(b), close: () => undefined };
  }

  get records(): T[] {
    return this.batches.flatMap((b) => b.toRecords()) as T[];
  }
}

/** Drops everything, counting rows and batches. */
export class DiscardingSink implements Sink {
  readonly name = 'discard';
  readonly parallel = true;
  rows = 0;
  batches = 0;

  open(): SinkWriter {
    return {
      write: (b) => {
        this.rows += b.length;
        this.batches++;
      },
      close: () => undefined,
      // Counts and lets go: no copy of a batch that borrows shared memory.
      borrows: true,
      // Nothing is published, so nothing can be published twice: exactly-once trivially.
      preCommit: () => null,
      commit: () => undefined,
      restore: () => undefined,
    };
  }
}
