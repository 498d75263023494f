/** Window assigners, named as in Flink. */

export class TumblingEventTimeWindows {
  private constructor(
    readonly sizeMs: number,
    readonly offsetMs: number,
  ) {}

  /** Windows `[start, start + size)` with `start = ts - (ts - offset) mod size`. */
  static of(sizeMs: number, offsetMs = 0): TumblingEventTimeWindows {
    if (!Number.isSafeInteger(sizeMs) || sizeMs <= 0) {
      throw new RangeError(`TumblingEventTimeWindows.of needs a size above 0 ms (a whole number), got ${sizeMs}`);
    }
    if (!Number.isSafeInteger(offsetMs) || Math.abs(offsetMs) >= sizeMs) {
      throw new RangeError(`a window offset must be a whole number of ms smaller than the size (${sizeMs} ms), got ${offsetMs}`);
    }
    return new TumblingEventTimeWindows(sizeMs, offsetMs);
  }

  describe(): string {
    return `TumblingEventTimeWindows(${this.sizeMs} ms${this.offsetMs !== 0 ? `, offset ${this.offsetMs} ms` : ''})`;
  }
}

export type WindowAssigner = TumblingEventTimeWindows;
