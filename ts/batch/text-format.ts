/**
 * Batch -> text rows for file sinks (JSON Lines, or CSV per RFC 4180 with null as an empty
 * field and "" for an empty string), read straight from the columns (i64 values are written
 * exactly, whatever their size).
 */

import { Buffer } from 'node:buffer';
import { bitGet, type Column } from '../batch/column.js';
import { getI64, i32View, i64IsExact } from '../batch/i64.js';
import type { RecordBatch } from '../batch/record-batch.js';
import type { Schema } from '../batch/schema.js';

export type Cell = (i: number) => string | null;

/** Per column, a function rendering row i as JSON text (null for SQL NULL). */
export function jsonCells(batch: RecordBatch): Cell[] {
  return batch.columns.map((c) => cell(c, true));
}

export function csvCells(batch: RecordBatch): Cell[] {
  return batch.columns.map((c) => cell(c, false));
}

function cell(col: Column, json: boolean): Cell {
  let f: Cell;
  switch (col.type) {
    case 'i32':
      f = (i) => String(col.values[i]);
      break;
    case 'f64':
      f = (i) => {
        const x = col.values[i]!;
        // JSON has no NaN/Infinity: write null rather than invalid JSON.
        return Number.isFinite(x) ? String(x) : json ? null : String(x);
      };
      break;
    case 'i64':
    case 'timestamp': {
      const v32 = i32View(col.values);
      f = (i) => (i64IsExact(v32, i) ? String(getI64(v32, i)) : col.values[i]!.toString());
      break;
    }
    case 'bool':
      f = (i) => (bitGet(col.values, i) ? 'true' : 'false');
      break;
    case 'utf8': {
      const buf = Buffer.from(col.data.buffer, col.data.byteOffset, col.data.byteLength);
      f = json
        ? (i) => JSON.stringify(buf.toString('utf8', col.offsets[i]!, col.offsets[i + 1]!))
        : (i) => csvQuote(buf.toString('utf8', col.offsets[i]!, col.offsets[i + 1]!));
      break;
    }
  }
  const validity = col.validity;
  if (validity === null) return f;
  return (i) => (bitGet(validity, i) ? f(i) : null);
}

/** RFC 4180 quoting; an empty string is written as "" so that it differs from null (an empty field). */
export function csvQuote(s: string): string {
  if (s === '') return '""';
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export type TextFormat = 'jsonl' | 'csv';

/** Renders row i of `batch` as one line of text, line feed included. */
export function rowRenderer(batch: RecordBatch, format: TextFormat): (i: number) => string {
  if (format === 'csv') {
    const cells = csvCells(batch);
    return (i) => {
      let line = '';
      for (let k = 0; k < cells.length; k++) {
        if (k > 0) line += ',';
        line += cells[k]!(i) ?? '';
      }
      return line + '\n';
    };
  }
  const cells = jsonCells(batch);
  const keys = batch.schema.fields.map((f) => `${JSON.stringify(f.name)}:`);
  return (i) => {
    let line = '{';
    for (let k = 0; k < cells.length; k++) {
      if (k > 0) line += ',';
      line += keys[k]! + (cells[k]!(i) ?? 'null');
    }
    return line + '}\n';
  };
}

/** The CSV header row: the field names, quoted where needed. */
export function csvHeader(schema: Schema): string {
  return schema.names().map(csvQuote).join(',') + '\n';
}

/** All rows of a batch as text. */
export function toLines(batch: RecordBatch, format: TextFormat): string {
  const row = rowRenderer(batch, format);
  let out = '';
  for (let i = 0; i < batch.length; i++) out += row(i);
  return out;
}
