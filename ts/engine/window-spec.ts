/**
 * The window operator's output schema and configuration checks, shared by both engines (the
 * Rust core applies the same rules in `window.rs`).
 */

import { Schema, type DataType, type Field } from '../batch/schema.js';
import type { AggregateSpec, WindowAggregatorSpec } from './engine.js';

export function aggregateOutputType(a: AggregateSpec, input: Schema): DataType {
  if (a.field === null) {
    if (a.kind === 'count') return 'i64';
    throw new Error(`aggregate '${a.name}' needs a field`);
  }
  const f = input.fields[a.field];
  if (f === undefined) throw new Error(`aggregate '${a.name}': field index ${a.field} out of range`);
  const t = f.type;
  if (a.kind === 'count') return 'i64';
  if (t !== 'i32' && t !== 'i64' && t !== 'f64' && t !== 'timestamp') {
    throw new Error(`aggregate '${a.name}' needs a numeric field (i32, i64, f64, timestamp), but '${f.name}' is ${t}`);
  }
  switch (a.kind) {
    case 'sum':
      if (t === 'timestamp') throw new Error(`aggregate '${a.name}': a sum of timestamps is meaningless`);
      return t === 'f64' ? 'f64' : 'i64';
    case 'min':
    case 'max':
      return t;
    case 'avg':
      return 'f64';
  }
}

/** Whether an aggregate's result can be null (no non-null input in the window). */
function aggregateNullable(a: AggregateSpec, input: Schema): boolean {
  if (a.kind === 'count') return false;
  return a.field !== null && input.fields[a.field]!.nullable;
}

export function windowOutputSchema(spec: WindowAggregatorSpec): Schema {
  if (!(spec.sizeMs > 0) || !Number.isSafeInteger(spec.sizeMs)) {
    throw new Error(`a tumbling window needs a size above 0 ms (a whole number), got ${spec.sizeMs}; pass the window length in ms`);
  }
  if (!Number.isSafeInteger(spec.offsetMs) || Math.abs(spec.offsetMs) >= spec.sizeMs) {
    throw new Error(`a window offset must be a whole number of ms smaller than the window size (${spec.sizeMs}), got ${spec.offsetMs}`);
  }
  if (spec.keyFields.length === 0) throw new Error('a keyed window needs at least one key field');
  const fields: Field[] = spec.keyFields.map((k) => spec.input.fields[k]!);
  fields.push({ name: 'windowStart', type: 'timestamp', nullable: false });
  fields.push({ name: 'windowEnd', type: 'timestamp', nullable: false });
  for (const a of spec.aggregates) {
    fields.push({ name: a.name, type: aggregateOutputType(a, spec.input), nullable: aggregateNullable(a, spec.input) });
  }
  const seen = new Set<string>();
  for (const f of fields) {
    if (seen.has(f.name)) {
      throw new Error(`the window result would have two fields named '${f.name}'; rename the aggregate`);
    }
    seen.add(f.name);
  }
  return new Schema(fields);
}
