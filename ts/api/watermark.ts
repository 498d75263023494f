/**
 * WatermarkStrategy, as in Flink: where event time comes from and how far behind the highest
 * timestamp seen the watermark trails.
 */

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
    return new WatermarkStrategy<U>(this.boundMs, assigner, this.idleMs, this.invalidTimestampsPath);
  }

  /**
   * Marks the input idle after `ms` of wall time without records, so that operators with
   * several inputs take their watermark from the others (Flink's withIdleness). The input is
   * active again with its next record.
   */
  withIdleness(ms: number): WatermarkStrategy<T> {
    if (!Number.isSafeInteger(ms) || ms <= 0) throw new RangeError(`withIdleness needs a whole number of ms above 0, got ${ms}`);
    return new WatermarkStrategy<T>(this.boundMs, this.assigner, ms, this.invalidTimestampsPath);
  }

  /**
   * Routes records without a valid timestamp (null, not a whole number, beyond ±2^53 ms) to a
   * dead-letter file of JSON lines `{ source, record, field, error, raw }`, counted in the job
   * result, instead of failing the job.
   */
  withInvalidTimestampsTo(deadLetterPath: string): WatermarkStrategy<T> {
    if (typeof deadLetterPath !== 'string' || deadLetterPath === '') throw new TypeError('withInvalidTimestampsTo needs a file path');
    return new WatermarkStrategy<T>(this.boundMs, this.assigner, this.idleMs, deadLetterPath);
  }

  describe(): string {
    const a = this.assigner === null ? 'existing event time' : typeof this.assigner === 'string' ? `field '${this.assigner}'` : 'assigner function';
    const idle = this.idleMs === null ? '' : `, idle after ${this.idleMs} ms`;
    return (this.boundMs === null ? `no watermarks, ${a}` : `bounded out-of-orderness ${this.boundMs} ms, ${a}`) + idle;
  }
}
