/**
 * Watermark alignment (Flink's WatermarkStrategy.withWatermarkAlignment): sources of one
 * alignment group pause while their watermark is more than `maxDriftMs` ahead of the group's
 * lowest. Without it, parallel sources drift apart, the downstream watermark (their minimum)
 * follows the slowest, and windows and joins hold the state of the fastest in the meantime.
 *
 * The board is a SharedArrayBuffer every thread of a run sees: one slot per source subtask
 * holding its current watermark (-Infinity before the first, +Infinity once it ended).
 */

import type { PhysicalPlan } from '../plan/physical.js';

export class WatermarkBoard {
  private readonly slots: Float64Array;
  /**
   * Word 0 is bumped on every publish, so that a paused source wakes as soon as another one
   * moved; word 1 counts the sources waiting for that, so that a publish (one per source batch)
   * notifies only while one waits (a notify takes a lock V8 shares among all threads).
   */
  private readonly version: Int32Array;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.version = new Int32Array(buffer, 0, 2);
    this.slots = new Float64Array(buffer, 8);
  }

  /** A board for every source subtask of the plan. */
  static forPlan(plan: PhysicalPlan): WatermarkBoard {
    const n = plan.all.filter((p) => p.node.op.kind === 'source').reduce((s, p) => s + p.parallelism, 0);
    const b = new WatermarkBoard(new SharedArrayBuffer(8 + Math.max(1, n) * 8));
    b.slots.fill(-Infinity);
    return b;
  }

  /** The slot of subtask `sub` of source node `id` (the same in every thread: plan order). */
  static slotOf(plan: PhysicalPlan, id: number, sub: number): number {
    let at = 0;
    for (const p of plan.all) {
      if (p.node.op.kind !== 'source') continue;
      if (p.node.id === id) return at + sub;
      at += p.parallelism;
    }
    throw new Error(`internal error: no source node ${id} in the plan`);
  }

  /** The slots of every source subtask whose strategy aligns in `group`. */
  static groupSlots(plan: PhysicalPlan, group: string): number[] {
    const out: number[] = [];
    let at = 0;
    for (const p of plan.all) {
      if (p.node.op.kind !== 'source') continue;
      const a = p.node.op.kind === 'source' ? (p.node.op.watermarks?.alignment ?? null) : null;
      if (a !== null && a.group === group) for (let s = 0; s < p.parallelism; s++) out.push(at + s);
      at += p.parallelism;
    }
    return out;
  }

  publish(slot: number, watermark: number): void {
    // Float64 slots are written whole by one thread and only read by the others; a torn read is
    // impossible on the platforms Node supports (8-byte aligned stores), and staleness only
    // delays a pause or a resume by one check.
    if (this.slots[slot] === watermark) return;
    this.slots[slot] = watermark;
    Atomics.add(this.version, 0, 1);
    if (Atomics.load(this.version, 1) > 0) Atomics.notify(this.version, 0);
  }

  /** Resolves when any slot changed after `seen` (a `changes()` value), or after `timeoutMs`. */
  async changedSince(seen: number, timeoutMs: number): Promise<void> {
    // Atomics.waitAsync is in Node 16+ but not in this project's TypeScript lib (es2024).
    // Counted before the wait; a publish after `seen` was read either sees the count or changed
    // word 0 before the wait looks at it (then the wait returns at once, 'not-equal').
    Atomics.add(this.version, 1, 1);
    try {
      const w = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number, t: number): { async: boolean; value: Promise<string> | string } }).waitAsync(this.version, 0, seen, timeoutMs);
      if (w.async) await w.value;
    } finally {
      Atomics.sub(this.version, 1, 1);
    }
  }

  changes(): number {
    return Atomics.load(this.version, 0);
  }

  lowest(slots: readonly number[]): number {
    let m = Infinity;
    for (const s of slots) m = Math.min(m, this.slots[s]!);
    return m;
  }
}
