// An operator with several inputs (a union, an exchange receiver) whose inputs all go idle: the
// highest of their watermarks goes on before the idleness, as Flink's watermark valve flushes
// the maximum when its last active channel goes idle. Without it, an input that sent its
// watermark and went idle before a never-active input did held the windows back for good.
import { describe, expect, it } from 'vitest';
import { Operator } from '../../ts/runtime/operator.js';
import { UnionOperator } from '../../ts/runtime/operators/joins.js';

/** Records the watermarks and idleness that reach it. */
class Recorder extends Operator {
  readonly events: string[] = [];
  processBatch(): void {}
  override processWatermark(watermark: number): void {
    this.events.push(`wm ${watermark}`);
  }
  override processIdle(idle: boolean): void {
    this.events.push(idle ? 'idle' : 'active');
  }
}

function union(): { union: UnionOperator; out: Recorder } {
  const u = new UnionOperator(1, 'union', 2);
  const out = new Recorder(2, 'out');
  u.addOutput(out);
  return { union: u, out };
}

describe('a two-input operator whose inputs go idle', () => {
  it('the input that sent a watermark goes idle first: the watermark goes on once the other goes idle too', async () => {
    const { union: u, out } = union();
    await u.processWatermark(100, 0);
    await u.processIdle(true, 0);
    expect(out.events).toEqual([]); // input 1 active, never heard from: held back
    await u.processIdle(true, 1);
    expect(out.events).toEqual(['wm 100', 'idle']);
    // Active again below it: no going back, held until it catches up.
    await u.processIdle(false, 1);
    await u.processWatermark(50, 1);
    await u.processWatermark(150, 1);
    expect(out.events).toEqual(['wm 100', 'idle', 'active', 'wm 150']);
  });

  it('an input active again while the flushed watermark goes down: no idleness follows it', async () => {
    const u = new UnionOperator(1, 'union', 2);
    const out = new (class extends Recorder {
      override async processWatermark(watermark: number): Promise<void> {
        await new Promise((r) => setImmediate(r)); // as a firing window: the other input's loop runs meanwhile
        this.events.push(`wm ${watermark}`);
      }
    })(2, 'out');
    u.addOutput(out);
    await u.processWatermark(100, 0);
    await u.processIdle(true, 0);
    const flushing = u.processIdle(true, 1);
    const active = u.processIdle(false, 1);
    await Promise.all([flushing, active]);
    expect(out.events).toEqual(['wm 100']);
  });

  it('the never-active input goes idle first: the other one alone sets the watermark, as before', async () => {
    const { union: u, out } = union();
    await u.processIdle(true, 1);
    await u.processWatermark(100, 0);
    await u.processIdle(true, 0);
    expect(out.events).toEqual(['wm 100', 'idle']);
  });
});
