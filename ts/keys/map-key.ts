/**
 * Keys of user key functions (keyBy with a function, joins, process functions) as JavaScript
 * Map keys, equal exactly when the keys are equal.
 */

/** A key as a Map key: type-tagged so 1 and '1' differ; composite keys as JSON. */
export function keyString(k: unknown): string {
  if (typeof k === 'string') return `s${k}`;
  if (typeof k === 'number' || typeof k === 'boolean' || typeof k === 'bigint' || k === null) return `${typeof k}:${String(k)}`;
  return `j${JSON.stringify(k)}`;
}

/**
 * A key as a Map key: a number or string as it is (a Map tells 1 from '1', and takes -0 as 0
 * as equal keys must), anything else as its type-tagged string. Building a string per record
 * for numeric keys cost a third of a window process function's time (Nexmark q5).
 */
export function mapKey(k: unknown): unknown {
  return typeof k === 'number' || typeof k === 'string' ? k : keyString(k);
}
