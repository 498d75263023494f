/** Window assigners (event time), named as in Flink. Bad configuration fails here, when the pipeline is built. */

import type { WindowDescriptor } from '../engine/engine.js';
import { checkWindow, describeWindow } from '../engine/window-spec.js';
import type { TriggerSpec } from './window-functions.js';

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
    /** @internal Windows over processing time (wall clock at the window) instead of event time. */
    readonly processingTime = false,
  ) {}

  /** @internal */
  static create(sizeMs: number, offsetMs: number, processingTime: boolean): TumblingEventTimeWindows {
    return new TumblingEventTimeWindows(sizeMs, offsetMs, processingTime);
  }

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
    const d = describeWindow(this.descriptor());
    return this.processingTime ? d.replace('EventTime', 'ProcessingTime') : d;
  }
}

export class SlidingEventTimeWindows {
  private constructor(
    readonly sizeMs: number,
    readonly slideMs: number,
    readonly offsetMs: number,
    /** @internal */
    readonly processingTime = false,
  ) {}

  /** @internal */
  static create(sizeMs: number, slideMs: number, offsetMs: number, processingTime: boolean): SlidingEventTimeWindows {
    return new SlidingEventTimeWindows(sizeMs, slideMs, offsetMs, processingTime);
  }

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
    const d = describeWindow(this.descriptor());
    return this.processingTime ? d.replace('EventTime', 'ProcessingTime') : d;
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
    /** @internal */
    readonly processingTime = false,
  ) {}

  /** @internal */
  static create(gapMs: number, processingTime: boolean): EventTimeSessionWindows {
    return new EventTimeSessionWindows(gapMs, null, processingTime);
  }

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
    const d = this.gapMs !== null ? describeWindow({ kind: 'session', gapMs: this.gapMs }) : 'EventTimeSessionWindows(dynamic gap)';
    return this.processingTime ? d.replace('EventTimeSessionWindows', 'ProcessingTimeSessionWindows') : d;
  }
}

export type WindowAssigner<T = any> = TumblingEventTimeWindows | SlidingEventTimeWindows | EventTimeSessionWindows<T> | GlobalWindows;

/**
 * Processing-time windows (Flink's TumblingProcessingTimeWindows etc.): a record belongs to the
 * window of the wall-clock time at which it reaches the window operator, and windows fire as
 * the clock passes their end, checked as batches arrive and at the end of input (which flushes
 * every open window). They need no timestamps or watermarks, and results are not repeatable.
 */
export const TumblingProcessingTimeWindows = {
  of(sizeMs: number, offsetMs = 0): TumblingEventTimeWindows {
    checked('TumblingProcessingTimeWindows.of', { kind: 'tumbling', sizeMs, offsetMs });
    return TumblingEventTimeWindows.create(sizeMs, offsetMs, true);
  },
};

export const SlidingProcessingTimeWindows = {
  of(sizeMs: number, slideMs: number, offsetMs = 0): SlidingEventTimeWindows {
    checked('SlidingProcessingTimeWindows.of', { kind: 'sliding', sizeMs, slideMs, offsetMs });
    return SlidingEventTimeWindows.create(sizeMs, slideMs, offsetMs, true);
  },
};

export const ProcessingTimeSessionWindows = {
  withGap(gapMs: number): EventTimeSessionWindows {
    checked('ProcessingTimeSessionWindows.withGap', { kind: 'session', gapMs });
    return EventTimeSessionWindows.create(gapMs, true);
  },
};

/**
 * One window per key that never ends (Flink's GlobalWindows): it fires only through a trigger,
 * set with `.trigger(...)` on the windowed stream (CountTrigger, EventTimeTrigger,
 * ContinuousEventTimeTrigger, PurgingTrigger), optionally with `.evictor(CountEvictor.of(n))`.
 * `countWindow(n)` is GlobalWindows with PurgingTrigger.of(CountTrigger.of(n)).
 */
export class GlobalWindows {
  /** Makes the class nominal (a time-window assigner is not a GlobalWindows). */
  private readonly global = true;
  private constructor() {}
  static create(): GlobalWindows {
    return new GlobalWindows();
  }
  describe(): string {
    return 'GlobalWindows';
  }
}

/** When a window fires. Built-in triggers only (named as in Flink). */
export class Trigger {
  /** @internal */
  constructor(
    /** @internal */
    readonly spec: TriggerSpec,
  ) {}
  describe(): string {
    const t = this.spec;
    const inner = t.kind === 'count' ? `CountTrigger(${t.count})` : t.kind === 'eventTime' ? 'EventTimeTrigger' : `ContinuousEventTimeTrigger(${t.intervalMs} ms)`;
    return t.purge ? `PurgingTrigger(${inner})` : inner;
  }
}

/** Fires each time `count` more records of the key have arrived. */
export const CountTrigger = {
  of(count: number): Trigger {
    if (!Number.isSafeInteger(count) || count < 1) throw new RangeError(`CountTrigger.of needs a count of at least 1 record (a whole number), got ${count}`);
    return new Trigger({ kind: 'count', count, purge: false });
  },
};

/** Fires when the watermark passes the window's end (for GlobalWindows: at the end of input). */
export const EventTimeTrigger = {
  create(): Trigger {
    return new Trigger({ kind: 'eventTime', purge: false });
  },
};

/** Fires every `intervalMs` of event time (as the watermark passes each multiple of the interval). */
export const ContinuousEventTimeTrigger = {
  of(intervalMs: number): Trigger {
    if (!Number.isSafeInteger(intervalMs) || intervalMs < 1) {
      throw new RangeError(`ContinuousEventTimeTrigger.of needs an interval above 0 ms (a whole number), got ${intervalMs}`);
    }
    return new Trigger({ kind: 'continuousEventTime', intervalMs, purge: false });
  },
};

/** Clears the window's contents each time the wrapped trigger fires. */
export const PurgingTrigger = {
  of(trigger: Trigger): Trigger {
    if (!(trigger instanceof Trigger)) throw new TypeError('PurgingTrigger.of takes a trigger, e.g. CountTrigger.of(100)');
    return new Trigger({ ...trigger.spec, purge: true });
  },
};

/** Keeps only the last `count` records of a window before its function runs. */
export class CountEvictor {
  private constructor(readonly count: number) {}
  static of(count: number): CountEvictor {
    if (!Number.isSafeInteger(count) || count < 1) throw new RangeError(`CountEvictor.of needs a count of at least 1 record (a whole number), got ${count}`);
    return new CountEvictor(count);
  }
}
