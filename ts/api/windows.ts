/** Window assigners (event time), named as in Flink. Bad configuration fails here, when the pipeline is built. */

import type { WindowDescriptor } from '../engine/engine.js';
import { checkWindow, describeWindow } from '../engine/window-spec.js';

function checked(where: string, w: WindowDescriptor): WindowDescriptor {
  try {
    checkWindow(w);
  } catch (e) {
    throw new RangeError(`${where}: ${(e as Error).message}`);
  }
  return w;
}

export class TumblingEventTimeWindows {
  private constructor(
    readonly sizeMs: number,
    readonly offsetMs: number,
  ) {}

  /** Windows `[start, start + size)` with `start = ts - (ts - offset) mod size`; |offset| < size. */
  static of(sizeMs: number, offsetMs = 0): TumblingEventTimeWindows {
    checked('TumblingEventTimeWindows.of', { kind: 'tumbling', sizeMs, offsetMs });
    return new TumblingEventTimeWindows(sizeMs, offsetMs);
  }

  /** @internal */
  descriptor(): WindowDescriptor {
    return { kind: 'tumbling', sizeMs: this.sizeMs, offsetMs: this.offsetMs };
  }

  describe(): string {
    return describeWindow(this.descriptor());
  }
}

export class SlidingEventTimeWindows {
  private constructor(
    readonly sizeMs: number,
    readonly slideMs: number,
    readonly offsetMs: number,
  ) {}

  /**
   * Windows `[start, start + size)` starting every `slide` ms (`start ≡ offset mod slide`;
   * |offset| < slide, slide <= size); a record belongs to every window that contains it.
   * Aggregated per slice of gcd(size, slide) ms, so the cost does not grow with size/slide.
   */
  static of(sizeMs: number, slideMs: number, offsetMs = 0): SlidingEventTimeWindows {
    checked('SlidingEventTimeWindows.of', { kind: 'sliding', sizeMs, slideMs, offsetMs });
    return new SlidingEventTimeWindows(sizeMs, slideMs, offsetMs);
  }

  /** @internal */
  descriptor(): WindowDescriptor {
    return { kind: 'sliding', sizeMs: this.sizeMs, slideMs: this.slideMs, offsetMs: this.offsetMs };
  }

  describe(): string {
    return describeWindow(this.descriptor());
  }
}

/**
 * Session windows per key: `[first timestamp, last timestamp + gap)`. Sessions of a key that
 * touch or overlap merge, also when a record arrives out of order and bridges two sessions.
 */
/** A function of a record, compared bivariantly so a fixed-gap assigner fits any stream. */
type GapFn<T> = { fn(record: T): number }['fn'];

export class EventTimeSessionWindows<T = never> {
  private constructor(
    readonly gapMs: number | null,
    /** @internal */
    readonly gapFn: GapFn<T> | null,
  ) {}

  /** A fixed inactivity gap in ms (above 0). */
  static withGap(gapMs: number): EventTimeSessionWindows {
    checked('EventTimeSessionWindows.withGap', { kind: 'session', gapMs });
    return new EventTimeSessionWindows(gapMs, null);
  }

  /**
   * The gap of each record from a function of the record (ms, a whole number above 0; any
   * other value fails the job naming the record). A session ends at the latest `ts + gap` of
   * its records.
   */
  static withDynamicGap<T>(gap: (record: T) => number): EventTimeSessionWindows<T> {
    if (typeof gap !== 'function') {
      throw new TypeError('EventTimeSessionWindows.withDynamicGap takes a function from a record to its gap in ms');
    }
    return new EventTimeSessionWindows<T>(null, gap);
  }

  /** @internal The descriptor, given where the runtime puts the gap column. */
  descriptor(gapColumn: number): WindowDescriptor {
    return this.gapMs !== null ? { kind: 'session', gapMs: this.gapMs } : { kind: 'session', dynamicGapField: gapColumn };
  }

  describe(): string {
    return this.gapMs !== null ? describeWindow({ kind: 'session', gapMs: this.gapMs }) : 'EventTimeSessionWindows(dynamic gap)';
  }
}

export type WindowAssigner<T = any> = TumblingEventTimeWindows | SlidingEventTimeWindows | EventTimeSessionWindows<T>;
