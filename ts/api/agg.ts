/** Built-in aggregates for `aggregate({ name: agg.x(...) })`: computed natively, exactly. */

import type { AggKind } from '../engine/engine.js';

export interface AggregateCall<F extends string = string, K extends AggKind = AggKind> {
  readonly kind: K;
  readonly field: F | null;
}

export const agg = {
  /** Rows in the window (with a field: its non-null values). */
  count<F extends string>(field?: F): AggregateCall<F, 'count'> {
    return { kind: 'count', field: field ?? null };
  },
  /** Sum of non-null values: f64 for f64 fields, exact i64 for integers (overflow is an error). */
  sum<F extends string>(field: F): AggregateCall<F, 'sum'> {
    return { kind: 'sum', field };
  },
  min<F extends string>(field: F): AggregateCall<F, 'min'> {
    return { kind: 'min', field };
  },
  max<F extends string>(field: F): AggregateCall<F, 'max'> {
    return { kind: 'max', field };
  },
  /** Mean of non-null values, as f64. */
  avg<F extends string>(field: F): AggregateCall<F, 'avg'> {
    return { kind: 'avg', field };
  },
  /**
   * The value of the earliest-arriving record of the window whose field is not null (null when
   * none); any field type. Arrival order is the order records reach the window operator.
   */
  first<F extends string>(field: F): AggregateCall<F, 'first'> {
    return { kind: 'first', field };
  },
  /** The value of the latest-arriving record of the window whose field is not null (null when none). */
  last<F extends string>(field: F): AggregateCall<F, 'last'> {
    return { kind: 'last', field };
  },
  /** The exact number of distinct non-null values (by canonical value: -0 = 0, one NaN), as i64. */
  countDistinct<F extends string>(field: F): AggregateCall<F, 'countDistinct'> {
    return { kind: 'countDistinct', field };
  },
} as const;
