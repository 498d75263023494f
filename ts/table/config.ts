/**
 * Flink's TableConfig: options of a TableEnvironment read when a query is planned (SQL's
 * `SET 'key' = 'value'` writes them too): `table.exec.state.ttl`, idle state retention of the
 * non-windowed operators (updating aggregation, regular join, updating top-N), and
 * `table.optimizer.source.predicate-pushdown-enabled`. Durations are written as Flink writes
 * them: a number with an optional unit (`ms` when none): `500`, `500 ms`, `10 s`, `5 min`,
 * `1 h`, `2 d` (and the long names: `seconds`, `minutes`, `hours`, `days`, ...).
 */

import { TableError } from './resolve.js';

export const STATE_TTL = 'table.exec.state.ttl';
export const PREDICATE_PUSHDOWN = 'table.optimizer.source.predicate-pushdown-enabled';

/** The options this configuration knows, with what each does (for errors). */
const OPTIONS: Readonly<Record<string, string>> = {
  [STATE_TTL]: "idle state retention of non-windowed aggregations, joins and top-N, a duration such as '1 h' (0: never expire)",
  [PREDICATE_PUSHDOWN]: "whether a source that can (nexmark) drops the rows a query's WHERE drops as it reads them, 'true' (the default) or 'false'",
};

const UNITS: readonly [readonly string[], number][] = [
  [['ns', 'nano', 'nanos', 'nanosecond', 'nanoseconds'], 1e-6],
  [['us', 'µs', 'micro', 'micros', 'microsecond', 'microseconds'], 1e-3],
  [['ms', 'milli', 'millis', 'millisecond', 'milliseconds'], 1],
  [['s', 'sec', 'secs', 'second', 'seconds'], 1000],
  [['min', 'm', 'minute', 'minutes'], 60_000],
  [['h', 'hour', 'hours'], 3_600_000],
  [['d', 'day', 'days'], 86_400_000],
];

/** A duration in Flink's text form as milliseconds (whole; a fraction of a millisecond is an error). */
export function parseDuration(text: string, what: string): number {
  const m = /^\s*(\d+)\s*([a-zµ]*)\s*$/i.exec(text);
  const unit = m === null ? undefined : m[2]!.toLowerCase();
  const scale = unit === '' ? 1 : UNITS.find(([names]) => names.includes(unit ?? ''))?.[1];
  const ms = m === null || scale === undefined ? NaN : Number(m[1]) * scale;
  if (!Number.isSafeInteger(ms)) {
    throw new TableError(`${what}: '${text}' is not a duration in whole milliseconds; write a number and a unit, e.g. '500 ms', '30 s', '10 min', '1 h', '1 d'`);
  }
  return ms;
}

export class TableConfig {
  private readonly values = new Map<string, string>();

  /** Sets an option (Flink's `TableConfig.set`; SQL's `SET 'key' = 'value'`). Unknown keys are errors. */
  set(key: string, value: string): this {
    if (!(key in OPTIONS)) {
      throw new TableError(`unknown option '${key}'; the options are: ${Object.entries(OPTIONS).map(([k, d]) => `'${k}' (${d})`).join(', ')}`);
    }
    if (key === STATE_TTL) parseDuration(value, key);
    if (key === PREDICATE_PUSHDOWN && !/^(true|false)$/i.test(value.trim())) throw new TableError(`${key}: '${value}' is not a boolean; write 'true' or 'false'`);
    this.values.set(key, value);
    return this;
  }

  /** The option's value as set, or undefined. */
  get(key: string): string | undefined {
    return this.values.get(key);
  }

  /**
   * Idle state retention (Flink's `setIdleStateRetention`): state of a key of a non-windowed
   * aggregation, regular join or updating top-N that was not written for this long (processing
   * time) is dropped; 0 (the default) keeps state forever.
   */
  setIdleStateRetention(ms: number): this {
    if (!Number.isSafeInteger(ms) || ms < 0) throw new TableError(`setIdleStateRetention: the retention must be whole milliseconds >= 0, got ${ms}`);
    this.values.set(STATE_TTL, `${ms} ms`);
    return this;
  }

  /** Whether filters are pushed into sources that can apply them (default true). */
  predicatePushdown(): boolean {
    return (this.values.get(PREDICATE_PUSHDOWN) ?? 'true').trim().toLowerCase() === 'true';
  }

  /** The idle state retention in milliseconds (0: never expire). */
  getIdleStateRetention(): number {
    const v = this.values.get(STATE_TTL);
    return v === undefined ? 0 : parseDuration(v, STATE_TTL);
  }
}
