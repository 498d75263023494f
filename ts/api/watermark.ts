/**
 * WatermarkStrategy, as in Flink: where event time comes from and how far behind the highest
 * timestamp seen the watermark trails.
 */

/** Watermark alignment (withWatermarkAlignment): sources of one group stay within maxDriftMs of the group's lowest watermark. */
export interface AlignmentSpec {
  readonly group: string;
  readonly maxDriftMs: number;
}

export type TimestampAssigner<T> = (record: T, previousTimestamp: number) => number;

export class WatermarkStrategy<T = Record<string, unknown>> {
  private constructor(
    /** Out-of-orderness bound in ms; null = no watermarks (only the final one at end of input). */
    readonly boundMs: number | null,
    /** Field holding the event time, a function computing it, or null to keep existing event time. */
    readonly assigner: (keyof T & string) | TimestampAssigner<T> | null,
    /** After this long without records (wall time), the input is idle and stops holding back watermarks. */
    readonly idleMs: number | null = null,
    /** Where records without a valid timestamp go (JSON lines), instead of failing the job. */
    readonly invalidTimestampsPath: string | null = null,
    /** Pause this source while its watermark runs ahead of its group's lowest by more than the drift. */
    readonly alignment: AlignmentSpec | null = null,
  ) {}

  /** Watermark = highest timestamp seen - bound - 1 (Flink's BoundedOutOfOrdernessWatermarks). */
  static forBoundedOutOfOrderness<T = Record<string, unknown>>(maxOutOfOrdernessMs: number): WatermarkStrategy<T> {
    if (!Number.isSafeInteger(maxOutOfOrdernessMs) || maxOutOfOrdernessMs < 0) {
      throw new RangeError(`forBoundedOutOfOrderness needs a whole number of ms >= 0, got ${maxOutOfOrdernessMs}`);
    }
    return new WatermarkStrategy<T>(maxOutOfOrdernessMs, null);
  }

  /** Timestamps never decrease: the watermark follows the highest timestamp. */
  static forMonotonousTimestamps<T = Record<string, unknown>>(): WatermarkStrategy<T> {
    return new WatermarkStrategy<T>(0, null);
  }

  /** Event time without watermarks: windows fire only at end of input. */
  static noWatermarks<T = Record<string, unknown>>(): WatermarkStrategy<T> {
    return new WatermarkStrategy<T>(null, null);
  }

  /** Takes event time (ms) from a timestamp/i64 field, or computes it per record. */
  withTimestampAssigner<U extends T>(assigner: (keyof U & string) | TimestampAssigner<U>): WatermarkStrategy<U> {
    return new WatermarkStrategy<U>(this.boundMs, assigner, this.idleMs, this.invalidTimestampsPath, this.alignment);
  }

  /**
   * Marks the input idle after `ms` of wall time without records, so that operators with
   * several inputs take their watermark from the others (Flink's withIdleness). The input is
   * active again with its next record.
   */
  withIdleness(ms: number): WatermarkStrategy<T> {
    if (!Number.isSafeInteger(ms) || ms <= 0) throw new RangeError(`withIdleness needs a whole number of ms above 0, got ${ms}`);
    return new WatermarkStrategy<T>(this.boundMs, this.assigner, ms, this.invalidTimestampsPath, this.alignment);
  }

  /**
   * Routes records without a valid timestamp (null, not a whole number, beyond ±2^53 ms) to a
   * dead-letter file of JSON lines `{ source, record, field, error, raw }`, counted in the job
   * result, instead of failing the job.
   */
  withInvalidTimestampsTo(deadLetterPath: string): WatermarkStrategy<T> {
    if (typeof deadLetterPath !== 'string' || deadLetterPath === '') throw new TypeError('withInvalidTimestampsTo needs a file path');
    return new WatermarkStrategy<T>(this.boundMs, this.assigner, this.idleMs, deadLetterPath, this.alignment);
  }

  /**
   * Watermark alignment (Flink's withWatermarkAlignment): every source subtask whose strategy
   * names `group` pauses reading while its watermark is more than `maxAllowedDriftMs` ahead of
   * the lowest in the group, so parallel sources advance together and the operators after them
   * do not buffer the fast ones' records while waiting for the slow ones' watermark.
   */
  withWatermarkAlignment(group: string, maxAllowedDriftMs: number): WatermarkStrategy<T> {
    if (typeof group !== 'string' || group === '') throw new TypeError('withWatermarkAlignment needs a group name');
    if (!Number.isSafeInteger(maxAllowedDriftMs) || maxAllowedDriftMs <= 0) {
      throw new RangeError(`withWatermarkAlignment needs a drift of a whole number of ms above 0, got ${maxAllowedDriftMs}`);
    }
    return new WatermarkStrategy<T>(this.boundMs, this.assigner, this.idleMs, this.invalidTimestampsPath, { group, maxDriftMs: maxAllowedDriftMs });
  }

  describe(): string {
    const a = this.assigner === null ? 'existing event time' : typeof this.assigner === 'string' ? `field '${this.assigner}'` : 'assigner function';
    const idle = this.idleMs === null ? '' : `, idle after ${this.idleMs} ms`;
    const al = this.alignment === null ? '' : `, aligned in '${this.alignment.group}' within ${this.alignment.maxDriftMs} ms`;
    return (this.boundMs === null ? `no watermarks, ${a}` : `bounded out-of-orderness ${this.boundMs} ms, ${a}`) + idle + al;
  }
}
