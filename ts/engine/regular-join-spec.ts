/**
 * The regular (unbounded, non-windowed) join of two tables by equal keys, Flink's
 * StreamingJoinOperator: what the plan node says, and its output schema (the left's fields, the
 * right's, `$rowkind` when the output is updating: an outer join, or an updating input).
 */

import { isUpdating, dataFields, ROW_KIND_FIELD } from '../batch/row-kind.js';
import { Schema, type Field } from '../batch/schema.js';

export type JoinType = 'inner' | 'left' | 'right' | 'full';

export interface RegularJoinSpec {
  readonly type: JoinType;
  /** Key field names per input (equal types, pairwise). */
  readonly keyFields: readonly [readonly string[], readonly string[]];
  /** The output's field names (left's data fields, then right's). */
  readonly names: readonly string[];
}

/** Whether the join's output carries row kinds. */
export function joinUpdating(type: JoinType, left: Schema, right: Schema): boolean {
  return type !== 'inner' || isUpdating(left) || isUpdating(right);
}

export function regularJoinSchema(spec: RegularJoinSpec, left: Schema, right: Schema): Schema {
  const l = dataFields(left);
  const r = dataFields(right);
  const nullL = spec.type === 'right' || spec.type === 'full';
  const nullR = spec.type === 'left' || spec.type === 'full';
  const fields: Field[] = [
    ...l.map((f, i) => ({ name: spec.names[i]!, type: f.type, nullable: f.nullable || nullL })),
    ...r.map((f, i) => ({ name: spec.names[l.length + i]!, type: f.type, nullable: f.nullable || nullR })),
  ];
  if (joinUpdating(spec.type, left, right)) fields.push(ROW_KIND_FIELD);
  return new Schema(fields);
}

export function describeJoin(spec: RegularJoinSpec): string {
  const on = spec.keyFields[0].map((k, i) => `${k} = ${spec.keyFields[1][i]}`).join(' AND ');
  return `Join(joinType=[${spec.type.toUpperCase()}], where=[${on}])`;
}
