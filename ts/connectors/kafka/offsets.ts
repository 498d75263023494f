/**
 * Where a Kafka source starts and where a bounded one stops (Flink's OffsetsInitializer):
 * earliest, latest, the group's committed offsets, the first offset at or after a timestamp,
 * or explicit offsets per partition.
 */

export type OffsetReset = 'earliest' | 'latest' | 'fail';

export type OffsetsSpec =
  | { readonly kind: 'earliest' }
  | { readonly kind: 'latest' }
  | { readonly kind: 'committed'; readonly reset: OffsetReset }
  | { readonly kind: 'timestamp'; readonly ms: number }
  | { readonly kind: 'offsets'; readonly offsets: ReadonlyMap<string, bigint>; readonly reset: OffsetReset };

function checkReset(reset: OffsetReset, who: string): OffsetReset {
  if (reset !== 'earliest' && reset !== 'latest' && reset !== 'fail') throw new TypeError(`${who}: reset must be 'earliest', 'latest' or 'fail', got ${JSON.stringify(reset)}`);
  return reset;
}

export const OffsetsInitializer = {
  /** The first offset still in each partition. */
  earliest(): OffsetsSpec {
    return { kind: 'earliest' };
  },
  /** The end of each partition when the job starts (under read_committed: the last stable offset). */
  latest(): OffsetsSpec {
    return { kind: 'latest' };
  },
  /**
   * The consumer group's committed offsets; a partition without one starts at `reset`
   * ('fail', the default, fails the job naming it).
   */
  committedOffsets(reset: OffsetReset = 'fail'): OffsetsSpec {
    return { kind: 'committed', reset: checkReset(reset, 'OffsetsInitializer.committedOffsets') };
  },
  /** The first record with a timestamp at or after `ms` (ms since the epoch); the end where there is none. */
  timestamp(ms: number): OffsetsSpec {
    if (typeof ms !== 'number' || !Number.isSafeInteger(ms) || ms < 0) throw new RangeError(`OffsetsInitializer.timestamp: ms must be a whole number of ms since the epoch, got ${String(ms)}`);
    return { kind: 'timestamp', ms };
  },
  /**
   * Explicit offsets, keyed `'topic:partition'` (e.g. `{ 'bids:0': 42 }`); other partitions
   * start at `reset` (default 'earliest', as in Flink).
   */
  offsets(offsets: Readonly<Record<string, number | bigint>>, reset: OffsetReset = 'earliest'): OffsetsSpec {
    const map = new Map<string, bigint>();
    for (const [k, v] of Object.entries(offsets)) {
      if (!/^.+:\d+$/.test(k)) throw new TypeError(`OffsetsInitializer.offsets: key '${k}' is not 'topic:partition'`);
      const o = typeof v === 'bigint' ? v : Number.isSafeInteger(v) ? BigInt(v) : null;
      if (o === null || o < 0n) throw new RangeError(`OffsetsInitializer.offsets: offset of '${k}' must be a whole number >= 0, got ${String(v)}`);
      map.set(k, o);
    }
    return { kind: 'offsets', offsets: map, reset: checkReset(reset, 'OffsetsInitializer.offsets') };
  },
};
