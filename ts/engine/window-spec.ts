/**
 * The window operator's output schema and configuration checks, shared by both engines (the
 * Rust core applies the same rules in `window/mod.rs`).
 */

import { Schema, type DataType, type Field } from '../batch/schema.js';
import type { AggregateSpec, WindowAggregatorSpec, WindowDescriptor } from './engine.js';
import { EngineError } from './errors.js';

export function aggregateOutputType(a: AggregateSpec, input: Schema): DataType {
  if (a.field === null) {
    if (a.kind === 'count') return 'i64';
    throw new EngineError('config', `aggregate '${a.name}' needs a field`);
  }
  const f = input.fields[a.field];
  if (f === undefined) throw new EngineError('config', `aggregate '${a.name}': field index ${a.field} out of range`);
  const t = f.type;
  if (a.kind === 'count' || a.kind === 'countDistinct') return 'i64';
  if (a.kind === 'first' || a.kind === 'last') return t;
  if (t !== 'i32' && t !== 'i64' && t !== 'f64' && t !== 'timestamp') {
    throw new EngineError('config', `aggregate '${a.name}' needs a numeric field (i32, i64, f64, timestamp), but '${f.name}' is ${t}`);
  }
  switch (a.kind) {
    case 'sum':
      if (t === 'timestamp') throw new EngineError('config', `aggregate '${a.name}': a sum of timestamps is meaningless`);
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
  if (a.kind === 'count' || a.kind === 'countDistinct') return false;
  return a.field !== null && input.fields[a.field]!.nullable;
}

const whole = (x: number): boolean => Number.isSafeInteger(x);

/**
 * Checks a window assigner; the messages say what to change. Throws RangeError (the same
 * rules as the Rust core's `Windows::tumbling / sliding / session`).
 */
export function checkWindow(w: WindowDescriptor): void {
  switch (w.kind) {
    case 'tumbling':
      if (!whole(w.sizeMs) || w.sizeMs <= 0) {
        throw new EngineError('config', `a tumbling window needs a size above 0 ms (a whole number), got ${w.sizeMs}; pass the window length in ms`);
      }
      if (!whole(w.offsetMs) || Math.abs(w.offsetMs) >= w.sizeMs) {
        throw new EngineError('config', `a window offset must be a whole number of ms smaller than the window size (${w.sizeMs} ms), got ${w.offsetMs}`);
      }
      return;
    case 'sliding':
      if (!whole(w.sizeMs) || w.sizeMs <= 0) {
        throw new EngineError('config', `a sliding window needs a size above 0 ms (a whole number), got ${w.sizeMs}; pass the window length in ms`);
      }
      if (!whole(w.slideMs) || w.slideMs <= 0) {
        throw new EngineError('config', `a sliding window needs a slide above 0 ms (a whole number), got ${w.slideMs}; pass how often a window starts, in ms`);
      }
      if (w.slideMs > w.sizeMs) {
        throw new EngineError(
          'config',
          `a sliding window's slide (${w.slideMs} ms) is larger than its size (${w.sizeMs} ms), so records between windows would be lost; use a slide of at most the size`,
        );
      }
      if (!whole(w.offsetMs) || Math.abs(w.offsetMs) >= w.slideMs) {
        throw new EngineError('config', `a sliding window's offset must be a whole number of ms smaller than its slide (${w.slideMs} ms), got ${w.offsetMs}`);
      }
      return;
    case 'session':
      if ('gapMs' in w) {
        if (!whole(w.gapMs) || w.gapMs <= 0) {
          throw new EngineError('config', `a session window needs a gap above 0 ms (a whole number), got ${w.gapMs}; pass the inactivity gap that ends a session, in ms`);
        }
      } else if (!Number.isInteger(w.dynamicGapField) || w.dynamicGapField < 0) {
        throw new EngineError('config', `a dynamic session gap needs an input column index, got ${String(w.dynamicGapField)}`);
      }
      return;
    case 'count':
      if (!whole(w.size) || w.size < 1) {
        throw new EngineError('config', `a count window needs a size of at least 1 record (a whole number), got ${w.size}`);
      }
      if (!whole(w.slide) || w.slide < 1) {
        throw new EngineError('config', `a count window needs a slide of at least 1 record (a whole number), got ${w.slide}; pass how many records of a key start the next window`);
      }
      return;
    default:
      throw new EngineError('config', `unknown window kind '${String((w as { kind: unknown }).kind)}'; use tumbling, sliding, session or count`);
  }
}

/** Aggregates as `name=kind(field)`, comma-separated (operator names). */
export function describeAggregates(aggregates: readonly AggregateSpec[], input: Schema): string {
  return aggregates.map((a) => `${a.name}=${a.kind}(${a.field === null ? '' : input.fields[a.field]!.name})`).join(', ');
}

/** The assigner in words (plans and operator names). */
export function describeWindow(w: WindowDescriptor): string {
  const off = (o: number) => (o !== 0 ? `, offset ${o} ms` : '');
  switch (w.kind) {
    case 'tumbling':
      return `TumblingEventTimeWindows(${w.sizeMs} ms${off(w.offsetMs)})`;
    case 'sliding':
      return `SlidingEventTimeWindows(${w.sizeMs} ms, slide ${w.slideMs} ms${off(w.offsetMs)})`;
    case 'session':
      return 'gapMs' in w ? `EventTimeSessionWindows(gap ${w.gapMs} ms)` : 'EventTimeSessionWindows(dynamic gap)';
    case 'count':
      return w.slide === w.size ? `CountWindow(${w.size})` : `CountWindow(${w.size}, slide ${w.slide})`;
  }
}

export function windowOutputSchema(spec: WindowAggregatorSpec): Schema {
  checkWindow(spec.window);
  if (spec.window.kind === 'session' && 'dynamicGapField' in spec.window) {
    const g = spec.input.fields[spec.window.dynamicGapField];
    if (g === undefined || g.type !== 'i64') {
      throw new EngineError('config', `the session gap field must be an i64 input column (ms), got ${g === undefined ? 'no such column' : g.type}`);
    }
  }
  const fields: Field[] = spec.keyFields.map((k) => spec.input.fields[k]!);
  // Count windows have no time bounds (Flink's GlobalWindow).
  if (spec.window.kind !== 'count') {
    fields.push({ name: 'windowStart', type: 'timestamp', nullable: false });
    fields.push({ name: 'windowEnd', type: 'timestamp', nullable: false });
  }
  for (const a of spec.aggregates) {
    fields.push({ name: a.name, type: aggregateOutputType(a, spec.input), nullable: aggregateNullable(a, spec.input) });
  }
  const seen = new Set<string>();
  for (const f of fields) {
    if (seen.has(f.name)) {
      throw new EngineError('config', `the window result would have two fields named '${f.name}'; rename the aggregate`);
    }
    seen.add(f.name);
  }
  return new Schema(fields);
}

/** The input plus the i64 column a dynamic session gap is written to (a name no field has). */
export function withGapColumn(input: Schema): Schema {
  let name = '$sessionGap';
  while (input.has(name)) name = `$${name}`;
  return new Schema([...input.fields, { name, type: 'i64', nullable: false }]);
}

/** The start of the last (latest-starting) window of slide `slideMs` and offset `offsetMs` that contains `ts`. */
export function lastWindowStart(ts: number, slideMs: number, offsetMs: number): number {
  return ts - ((((ts - offsetMs) % slideMs) + slideMs) % slideMs);
}

/**
 * The starts of every tumbling or sliding window containing `ts`, latest first (the order of
 * Flink's SlidingEventTimeWindows.assignWindows), into `out`.
 */
export function windowStarts(w: { readonly sizeMs: number; readonly slideMs: number; readonly offsetMs: number }, ts: number, out: number[]): void {
  out.length = 0;
  for (let start = lastWindowStart(ts, w.slideMs, w.offsetMs); start > ts - w.sizeMs; start -= w.slideMs) out.push(start);
}
