/**
 * Where an updating query's changes may go (Flink's changelog mode check at planning time):
 * the print and blackhole connectors consume updates (print marks each row +I, -U, +U or -D,
 * as Flink's print connector), upsert-kafka writes them as upserts and tombstones by its
 * primary key; the filesystem and kafka sinks are append-only, so INSERT INTO one of an
 * updating query fails at planning, naming the node that produces the updates.
 */

import type { Row, RecordBatch } from '../batch/record-batch.js';
import { RecordBatch as Batch } from '../batch/record-batch.js';
import { isUpdating, ROW_KIND_NAMES } from '../batch/row-kind.js';
import { Schema } from '../batch/schema.js';
import { toLines } from '../batch/text-format.js';
import type { Sink, SinkWriter } from '../api/connector.js';
import { DataStream } from '../api/datastream.js';
import type { Table } from '../table/table.js';
import { fail, type SqlNode } from './parser.js';

/** Sinks `table` into `sink` (of a table using `connector`); an updating table only into print or blackhole. */
export function sinkTable(table: Table, sink: Sink, name: string, connector: string, at: SqlNode): void {
  if (!table.isUpdating()) {
    table.toDataStream<Row>().sinkTo(sink);
    return;
  }
  if (connector !== 'print' && connector !== 'blackhole' && connector !== 'upsert-kafka') {
    fail(
      at,
      `Table sink '${name}' (connector '${connector}') doesn't support consuming update and delete changes which is produced by ${table.updatingOrigin()}; ` +
        "insert into an 'upsert-kafka' table (with a PRIMARY KEY ... NOT ENFORCED), a 'print' or 'blackhole' table, or make the query append-only (a window aggregation instead of GROUP BY without a window, an interval join instead of a regular join)",
    );
  }
  const node = table.changelogNode(`INSERT INTO ${name}`);
  new DataStream<Row>(table.environment(), node).sinkTo(connector === 'print' ? new ChangelogPrintSink(name) : sink);
}

/** Changes to stdout as JSON, one a line, each prefixed with its row kind (+I, -U, +U, -D). */
export class ChangelogPrintSink implements Sink {
  readonly name: string;
  constructor(table: string) {
    this.name = `print ${table}`;
  }
  open(schema: Schema): SinkWriter {
    const updating = isUpdating(schema);
    const data = updating ? new Schema(schema.fields.slice(0, -1)) : schema;
    return {
      write: (b: RecordBatch) => {
        if (b.length === 0) return;
        const rows = toLines(updating ? new Batch(data, b.columns.slice(0, -1), b.length) : b, 'jsonl').split('\n');
        const kinds = updating ? (b.columns[b.columns.length - 1] as { values: Int32Array }).values : null;
        let out = '';
        for (let i = 0; i < b.length; i++) out += `${kinds === null ? '+I' : ROW_KIND_NAMES[kinds[i]!]} ${rows[i]}\n`;
        process.stdout.write(out);
      },
      close: () => undefined,
    };
  }
}
