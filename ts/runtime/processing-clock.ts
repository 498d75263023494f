/**
 * Processing time for state TTL (Flink's TtlTimeProvider): the wall clock in epoch ms, never
 * going back within an operator (a clock step back would revive expired state). Operators read
 * it once per batch, so every row of a batch sees the same time, the same on both engines.
 */
export class ProcessingClock {
  private last = -Infinity;

  now(): number {
    this.last = Math.max(this.last, Date.now());
    return this.last;
  }
}
