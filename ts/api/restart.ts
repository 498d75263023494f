/**
 * Restart strategies (Flink's): what a checkpointed job does when a task fails. It restarts
 * from its latest complete checkpoint after a delay, until the strategy gives up; then
 * execute() rejects with the last failure.
 */

export interface RestartStrategy {
  readonly description: string;
  /**
   * The delay before the next restart, or null to give up. `failures` are the times (ms, wall
   * clock) of every failure so far, the latest last.
   */
  nextDelay(failures: readonly number[]): number | null;
}

function whole(n: number, what: string, min: number): number {
  if (!Number.isSafeInteger(n) || n < min) throw new RangeError(`${what} must be a whole number >= ${min}, got ${n}`);
  return n;
}

export const RestartStrategies = {
  /** Never restart: the first failure fails the job (the default). */
  none(): RestartStrategy {
    return { description: 'no restarts', nextDelay: () => null };
  },

  /** Up to `attempts` restarts, `delayMs` apart. */
  fixedDelay(attempts: number, delayMs: number): RestartStrategy {
    whole(attempts, 'fixedDelay attempts', 1);
    whole(delayMs, 'fixedDelay delayMs', 0);
    return { description: `fixed delay: ${attempts} attempts, ${delayMs} ms apart`, nextDelay: (f) => (f.length <= attempts ? delayMs : null) };
  },

  /**
   * Restarts without limit, the delay starting at `initialMs` and multiplied by `multiplier`
   * after each failure up to `maxMs`; `maxAttempts` (default unlimited) bounds the restarts.
   */
  exponentialDelay(initialMs: number, maxMs: number, multiplier = 2, maxAttempts = Infinity): RestartStrategy {
    whole(initialMs, 'exponentialDelay initialMs', 0);
    whole(maxMs, 'exponentialDelay maxMs', initialMs);
    if (!(multiplier >= 1)) throw new RangeError(`exponentialDelay multiplier must be >= 1, got ${multiplier}`);
    return {
      description: `exponential delay: ${initialMs} ms up to ${maxMs} ms, x${multiplier}`,
      nextDelay: (f) => (f.length > maxAttempts ? null : Math.min(maxMs, initialMs * multiplier ** (f.length - 1))),
    };
  },

  /** Gives up when more than `maxFailures` failures fall within `intervalMs`; restarts `delayMs` after each. */
  failureRate(maxFailures: number, intervalMs: number, delayMs: number): RestartStrategy {
    whole(maxFailures, 'failureRate maxFailures', 1);
    whole(intervalMs, 'failureRate intervalMs', 1);
    whole(delayMs, 'failureRate delayMs', 0);
    return {
      description: `failure rate: at most ${maxFailures} failures per ${intervalMs} ms, ${delayMs} ms apart`,
      nextDelay: (f) => {
        const last = f[f.length - 1]!;
        return f.filter((t) => t > last - intervalMs).length > maxFailures ? null : delayMs;
      },
    };
  },
} as const;
