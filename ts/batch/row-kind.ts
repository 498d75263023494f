/**
 * Changelog rows (Flink's RowKind): an updating table's batches carry each row's kind in one
 * more column, last, named `$rowkind` (i32: 0 +I, 1 -U, 2 +U, 3 -D, Flink's byte values). It is
 * an ordinary column, so both engines, the exchange (hash partitioning, the wire format) and
 * checkpoints keep it without knowing of it; an append-only batch has no such column.
 */

import type { Field, Schema } from './schema.js';

export const ROW_KIND = '$rowkind';

export const INSERT = 0;
export const UPDATE_BEFORE = 1;
export const UPDATE_AFTER = 2;
export const DELETE = 3;

/** Flink's short strings of the kinds, by value. */
export const ROW_KIND_NAMES = ['+I', '-U', '+U', '-D'] as const;
export type RowKindName = (typeof ROW_KIND_NAMES)[number];

export const ROW_KIND_FIELD: Field = { name: ROW_KIND, type: 'i32', nullable: false };

/** Whether rows of this schema carry a row kind (the table is updating). */
export function isUpdating(schema: Schema): boolean {
  const f = schema.fields[schema.fields.length - 1];
  return f !== undefined && f.name === ROW_KIND;
}

/** The fields without the row kind. */
export function dataFields(schema: Schema): readonly Field[] {
  return isUpdating(schema) ? schema.fields.slice(0, -1) : schema.fields;
}

/** +I and +U add a row; -U and -D retract one. */
export function isAccumulate(kind: number): boolean {
  return kind === INSERT || kind === UPDATE_AFTER;
}
