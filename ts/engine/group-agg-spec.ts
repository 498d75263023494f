/**
 * The updating aggregation's schemas and rules, shared by both engines (the Rust core applies
 * the same in `group.rs`): its output (keys, aggregates, `$rowkind`) and its state as rows
 * (what a checkpoint stores, identical on both engines, split by key group on a rescale).
 *
 * State rows: the keys, `$rows` (i64: rows accumulated), then per aggregate k
 * - count: `$acc<k>` i64;
 * - sum, avg: `$acc<k>` the sum (i64, or f64 for an f64 argument) and `$cnt<k>` i64 (non-null values);
 * - min, max, countDistinct: `$acc<k>` utf8, the multiset of values as `value*count` entries joined
 *   by commas (min/max: the value as a decimal i64, an f64 as the decimal of its bits;
 *   countDistinct: the value's canonical key bytes in hex);
 * - first, last: `$acc<k>` utf8, the live non-null values in arrival order, each as its canonical
 *   key bytes in hex, joined by commas (a retraction removes the value's earliest occurrence, as
 *   Flink's retracting FIRST/LAST_VALUE; an append-only input keeps the first value, or the latest);
 * - with a state TTL (`stateTtlMs` > 0), last `$access` i64: the processing time (epoch ms) of the
 *   group's last write.
 */

import { Schema, type Field } from '../batch/schema.js';
import { ROW_KIND_FIELD, isUpdating } from '../batch/row-kind.js';
import type { AggregateSpec, GroupAggregatorSpec } from './engine.js';
import { EngineError } from './errors.js';
import { aggregateOutputType } from './window-spec.js';

export function checkGroupAggregates(spec: GroupAggregatorSpec): void {
  const width = isUpdating(spec.input) ? spec.input.length - 1 : spec.input.length;
  for (const k of spec.keyFields) {
    if (!Number.isInteger(k) || k < 0 || k >= width) throw new EngineError('config', `group key field index ${k} out of range`);
  }
  for (const a of spec.aggregates) {
    if (a.field !== null && a.field >= width) throw new EngineError('config', `aggregate '${a.name}': field index ${a.field} out of range`);
    aggregateOutputType(a, spec.input);
  }
}

/** Whether an aggregate's result can be null (no non-null value among the group's rows). */
function nullable(a: AggregateSpec, input: Schema): boolean {
  if (a.kind === 'count' || a.kind === 'countDistinct') return false;
  return a.field !== null && input.fields[a.field]!.nullable;
}

export function groupOutputSchema(spec: GroupAggregatorSpec): Schema {
  checkGroupAggregates(spec);
  const fields: Field[] = spec.keyFields.map((k) => spec.input.fields[k]!);
  for (const a of spec.aggregates) fields.push({ name: a.name, type: aggregateOutputType(a, spec.input), nullable: nullable(a, spec.input) });
  const seen = new Set<string>();
  for (const f of fields) {
    if (seen.has(f.name)) throw new EngineError('config', `the aggregation result would have two fields named '${f.name}'; rename the aggregate`);
    seen.add(f.name);
  }
  fields.push(ROW_KIND_FIELD);
  return new Schema(fields);
}

/** The type of an aggregate's running sum (sum, avg): f64 for an f64 argument, else i64. */
export function sumType(a: AggregateSpec, input: Schema): 'i64' | 'f64' {
  return input.fields[a.field!]!.type === 'f64' ? 'f64' : 'i64';
}

export function groupStateSchema(spec: GroupAggregatorSpec): Schema {
  const fields: Field[] = spec.keyFields.map((k) => spec.input.fields[k]!);
  fields.push({ name: '$rows', type: 'i64', nullable: false });
  spec.aggregates.forEach((a, k) => {
    switch (a.kind) {
      case 'count':
        fields.push({ name: `$acc${k}`, type: 'i64', nullable: false });
        break;
      case 'sum':
      case 'avg':
        fields.push({ name: `$acc${k}`, type: sumType(a, spec.input), nullable: false });
        fields.push({ name: `$cnt${k}`, type: 'i64', nullable: false });
        break;
      default:
        fields.push({ name: `$acc${k}`, type: 'utf8', nullable: false });
    }
  });
  if ((spec.stateTtlMs ?? 0) > 0) fields.push({ name: '$access', type: 'i64', nullable: false });
  return new Schema(fields);
}

/** Refuses state rows of another form (another query, or written with / without a state TTL), before either engine reads them. */
export function checkGroupState(expected: Schema, state: Schema): void {
  const want = expected.names();
  const got = state.names();
  if (want.length === got.length && want.every((n, i) => n === got[i])) return;
  const ttl = want.includes('$access') !== got.includes('$access');
  throw new EngineError(
    'data',
    ttl
      ? `the aggregation's checkpointed state was written ${got.includes('$access') ? 'with' : 'without'} a state TTL (table.exec.state.ttl) and this job runs ${want.includes('$access') ? 'with' : 'without'} one; restore with the setting the checkpoint was written with`
      : `the aggregation's checkpointed state has the columns ${got.join(', ')}, this job's has ${want.join(', ')}; restore from a checkpoint this query wrote`,
  );
}

/** The message of an i64 sum that overflows (both engines). */
export function sumOverflow(name: string): string {
  return `aggregate '${name}': the i64 sum overflows; cast the argument to DOUBLE (f64) to sum it`;
}

/** The message of a FIRST_VALUE / LAST_VALUE retraction of a value the group does not have (both engines). */
export function retractMissingValue(name: string, kind: 'first' | 'last'): string {
  return `aggregate '${name}': ${kind === 'first' ? 'FIRST_VALUE' : 'LAST_VALUE'} received a retraction (-U/-D) of a value its group does not have; its input retracts rows it never inserted`;
}

/** The message of a retraction of a row the state never had (both engines). */
export function retractMissing(): string {
  return 'an updating aggregation received a retraction (-U/-D) of a group it has no row of; its input retracts rows it never inserted';
}
