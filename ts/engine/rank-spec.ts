/**
 * The non-windowed (updating) top-N of Flink SQL (its Rank node: `ROW_NUMBER() / RANK() /
 * DENSE_RANK() OVER (PARTITION BY k ORDER BY x) ... WHERE rn <= N` without a window): what the
 * plan node says, and its output schema (the input's data fields, the rank number when the
 * query uses it, `$rowkind`: the result is always updating).
 */

import { dataFields, ROW_KIND_FIELD } from '../batch/row-kind.js';
import { Schema, type Field } from '../batch/schema.js';

export type RankFunction = 'row_number' | 'rank' | 'dense_rank';

export interface RankOrderKey {
  readonly field: string;
  readonly desc: boolean;
  readonly nullsFirst: boolean;
}

export interface RankSpec {
  readonly fn: RankFunction;
  /** PARTITION BY fields of the input (none: one partition, on one subtask). */
  readonly partitionFields: readonly string[];
  readonly order: readonly RankOrderKey[];
  /** The ranks kept, inclusive (1-based). */
  readonly lo: number;
  readonly hi: number;
  /** The rank number's output column, or null when the query does not use it (fewer changes: a shifted row is not updated). */
  readonly rankField: string | null;
}

export function rankSchema(spec: RankSpec, input: Schema): Schema {
  const fields: Field[] = [...dataFields(input)];
  if (spec.rankField !== null) fields.push({ name: spec.rankField, type: 'i64', nullable: false });
  fields.push(ROW_KIND_FIELD);
  return new Schema(fields);
}

export function describeRank(spec: RankSpec): string {
  const order = spec.order.map((o) => `${o.field} ${o.desc ? 'DESC' : 'ASC'}`).join(', ');
  return `Rank(rankType=[${spec.fn.toUpperCase()}], rankRange=[rankStart=${spec.lo}, rankEnd=${spec.hi}], partitionBy=[${spec.partitionFields.join(', ')}], orderBy=[${order}], select=[*${spec.rankField !== null ? `, ${spec.rankField}` : ''}])`;
}
