/**
 * What a Kafka source reads and adds, as the public API names it. Apart from records.ts (which
 * handles the client's Node Buffers) so that the package's declarations need no Node typings.
 */

import type { Schema } from '../../batch/schema.js';

export type ValueFormat =
  | { readonly kind: 'json'; readonly schema: Schema }
  | { readonly kind: 'csv'; readonly schema: Schema; readonly delimiter: string }
  | { readonly kind: 'raw' };

export type MetadataField = 'topic' | 'partition' | 'offset' | 'timestamp' | 'headers';

/** What the source adds after the value's columns: the key, then metadata, each under a column name. */
export interface ExtraColumns {
  /** Column name of the key (utf8, null for a record without one), or null. */
  readonly key: string | null;
  readonly metadata: readonly { readonly field: MetadataField; readonly column: string }[];
}
