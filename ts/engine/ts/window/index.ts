/**
 * Keyed window aggregation in TypeScript, the twin of crates/sluice-core/src/window (this file
 * is its mod.rs): tumbling and sliding windows over slices (sliced.ts), sessions (session.ts),
 * count windows (count.ts), their accumulators (acc.ts) and key table (keys.ts). Only the
 * factory leaves the folder; the helpers the aggregators share are in common.ts rather than
 * here, because this file imports the aggregators and they would import it back (a cycle).
 */

import type { WindowAggregator, WindowAggregatorSpec } from '../../engine.js';
import { CountAggregator } from './count.js';
import { SessionAggregator } from './session.js';
import { SlicedAggregator } from './sliced.js';

/** The TS window operator for a spec: slices (tumbling, sliding), sessions or count windows. */
export function createTsWindowAggregator(spec: WindowAggregatorSpec): WindowAggregator {
  const k = spec.window.kind;
  return k === 'session' ? new SessionAggregator(spec) : k === 'count' ? new CountAggregator(spec) : new SlicedAggregator(spec);
}
