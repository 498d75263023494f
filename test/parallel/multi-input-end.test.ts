// An operator with two inputs fed by two exchange receivers sees both inputs end at the same
// time (each receiver runs its own loop): it must pass its end on once, after the final
// watermarks. Found by a savepoint test resumed at parallelism 2, where a regular join's
// consumer failed with "2 of its 1 inputs ended".
import { describe, expect, it } from 'vitest';
import { Operator } from '../../ts/runtime/operator.js';
import { UnionOperator } from '../../ts/runtime/operators/joins.js';

/** Records what reaches it; each watermark takes a turn of the event loop, as a firing window does. */
class Slow extends Operator {
  readonly events: string[] = [];
  processBatch(): void {}
  override async processWatermark(watermark: number): Promise<void> {
    await new Promise((r) => setImmediate(r));
    this.events.push(`wm ${watermark}`);
  }
  override finish(): void {
    this.events.push('end');
  }
}

describe('a two-input operator whose inputs end concurrently', () => {
  it.each([
    ['the held-back input ends first', 0],
    ['the leading input ends first', 1],
  ])('%s: one end, after every watermark', async (_name, first) => {
    const union = new UnionOperator(1, 'union', 2);
    const out = new Slow(2, 'out');
    union.addOutput(out);
    await union.processWatermark(50, 0);
    await union.processWatermark(100, 1);
    // Both receivers deliver their end before either call has finished.
    const a = union.finish(first);
    const b = union.finish(1 - first);
    await Promise.all([a, b]);
    expect(out.endedInputs).toBe(1);
    expect(out.events.filter((e) => e === 'end')).toHaveLength(1);
    expect(out.events.at(-1)).toBe('end');
    expect(out.events).toContain('wm Infinity');
  });
});
