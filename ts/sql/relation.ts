/** What SQL knows of a table in a query beyond its columns, and how a query finds tables. */

import type { Table, TableEnvironment } from '../table/table.js';
import type { SqlNode } from './parser.js';

/** A table in a query, with what SQL knows beyond its columns. */
export interface Relation {
  readonly table: Table;
  /** Names its columns may be qualified with. */
  readonly qualifiers: ReadonlySet<string>;
  /** Its event-time column (WATERMARK FOR), kept through plain projections. */
  readonly rowtime: string | null;
  /** A join's: each side's columns by qualifier, and the names both sides have. */
  readonly columnsBy?: ReadonlyMap<string, ReadonlyMap<string, string>>;
  readonly ambiguous?: ReadonlySet<string>;
  /**
   * A window aggregation's result: the column holding each row's window_end (its rows' event
   * time is window_end - 1), kept through plain projections. Two such relations equated on
   * it join as a window join.
   */
  readonly windowEnd?: string;
}

/** How a query finds the tables it names. */
export interface Catalog {
  readonly tEnv: TableEnvironment;
  /** A fresh scan of a table or view, or null when there is none of this name. */
  scan(name: string, at: SqlNode): Relation | null;
  names(): string[];
  /** A SQL view's query (CREATE VIEW), or null when `name` is no such view. */
  viewQuery?(name: string): SqlNode | null;
}
