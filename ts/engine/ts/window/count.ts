/**
 * Count windows in TypeScript, mirroring crates/sluice-core/src/window/count.rs: per key,
 * slices of gcd(size, slide) records; every `slide` records of a key, one row merging its
 * last size / slice slices (oldest first). Fired in push, in the order of the completing records.
 */

import { RecordBatch } from '../../../batch/record-batch.js';
import type { Schema } from '../../../batch/schema.js';
import type { WindowAggregator, WindowAggregatorSpec } from '../../engine.js';
import { windowOutputSchema } from '../../window-spec.js';
import { grown } from '../../../batch/column.js';
import { KeyTable } from './key-table.js';
import type { Accs } from './acc.js';
import { accsFor } from './common.js';
import { EngineError } from '../../errors.js';

const NONE = -1;

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

export class CountAggregator implements WindowAggregator {
  readonly outputSchema: Schema;
  readonly lateDropped = 0;
  private readonly slide: number;
  private readonly slice: number;
  private readonly perWindow: number;
  private readonly keys: KeyTable;
  /** Records per key so far. */
  private count = new Float64Array(1024);
  /** Completed slices per key: `perWindow` slots, slice j in slot j % perWindow. */
  private ring = new Int32Array(0);
  private readonly accs: Accs;
  private readonly scratch: Accs;
  private slots = 0;
  private live = 0;
  private seqBase = 0;
  private gids = new Int32Array(1024);
  private firedKid = new Int32Array(64);
  private firedFrom = new Int32Array(64);
  private fired = 0;
  private firedGroups = new Int32Array(64);
  private firedLen = 0;
  private pushed: RecordBatch | null = null;

  constructor(private readonly spec: WindowAggregatorSpec) {
    const w = spec.window;
    if (w.kind !== 'count') throw new EngineError('config', 'TsCountAggregator handles count windows');
    this.outputSchema = windowOutputSchema(spec);
    this.slide = w.slide;
    this.slice = gcd(w.size, w.slide);
    this.perWindow = w.size / this.slice;
    this.keys = new KeyTable(spec);
    this.accs = accsFor(spec, this.outputSchema, 1024);
    this.scratch = accsFor(spec, this.outputSchema, 64);
  }

  get memoryBytes(): number {
    return this.keys.bytes + this.count.length * 8 + this.ring.length * 4 + (this.accs.cap + this.scratch.cap) * this.accs.bytesPerSlot;
  }

  get unfiredRows(): number {
    let n = 0;
    for (let k = 0; k < this.keys.size; k++) n += this.count[k]! % this.slide;
    return n;
  }

  /** Not tracked (only session windows need it). */
  earliestStart(): number {
    return -Infinity;
  }

  lateRows(): Uint32Array {
    return new Uint32Array(0);
  }

  flush(): RecordBatch | null {
    throw new EngineError('config', 'flush is for tumbling and sliding windows: sessions and count windows cannot be pre-aggregated per batch');
  }

  advanceWatermark(): RecordBatch | null {
    return null;
  }

  takePushedOutput(): RecordBatch | null {
    const b = this.pushed;
    this.pushed = null;
    return b;
  }

  push(batch: RecordBatch): number {
    if (this.pushed !== null) throw new EngineError('data', 'the rows fired by the previous batch were not taken (takePushedOutput) before this push');
    const n = batch.length;
    if (this.gids.length < n) this.gids = new Int32Array(n);
    this.fired = 0;
    this.firedLen = 0;
    this.assign(batch, n);
    this.accs.update(batch, this.gids, n, this.seqBase);
    this.seqBase += n;
    if (this.fired > 0) this.pushed = this.emit();
    this.maybeCompact();
    return 0;
  }

  private assign(batch: RecordBatch, n: number): void {
    const keys = this.keys;
    keys.bind(batch);
    const w = this.perWindow;
    const gids = this.gids;
    for (let i = 0; i < n; i++) {
      const before = keys.size;
      const kid = keys.idOf(i);
      if (keys.size !== before) {
        if (kid === this.count.length) this.count = grown(this.count, kid * 2);
        this.count[kid] = 0;
        if (w > 1) {
          if ((kid + 1) * w > this.ring.length) this.ring = grown(this.ring, Math.max(1024, (kid + 1) * w * 2), NONE);
        }
      }
      let g = keys.head[kid]!;
      if (g === NONE) {
        g = this.slots++;
        this.accs.ensure(this.slots);
        keys.head[kid] = g;
        this.live++;
      }
      gids[i] = g;
      const c = this.count[kid]! + 1;
      this.count[kid] = c;
      if (c % this.slice !== 0) continue;
      // The slice is complete.
      keys.head[kid] = NONE;
      const j = c / this.slice - 1;
      if (w > 1) {
        const slot = kid * w + (j % w);
        if (this.ring[slot] !== NONE) this.live--;
        this.ring[slot] = g;
      }
      if (c % this.slide === 0) {
        if (this.fired === this.firedKid.length) {
          this.firedKid = grown(this.firedKid, this.fired * 2);
          this.firedFrom = grown(this.firedFrom, this.fired * 2);
        }
        this.firedKid[this.fired] = kid;
        this.firedFrom[this.fired++] = this.firedLen;
        const k = Math.min(j + 1, w);
        if (this.firedLen + k > this.firedGroups.length) this.firedGroups = grown(this.firedGroups, Math.max(this.firedGroups.length * 2, this.firedLen + k));
        if (w === 1) this.firedGroups[this.firedLen++] = g;
        else for (let s = j + 1 - k; s <= j; s++) this.firedGroups[this.firedLen++] = this.ring[kid * w + (s % w)]!;
      }
      // Read by its firing only (or never, when slide > size and it ends between firings).
      if (w === 1) this.live--;
    }
  }

  private emit(): RecordBatch {
    const m = this.fired;
    const columns = this.keys.emit(this.firedKid, m);
    if (this.perWindow === 1) {
      columns.push(...this.accs.emit(this.firedGroups, m));
    } else {
      // Merge each window's slices, oldest first, into a scratch slot per window.
      this.scratch.ensure(m);
      this.scratch.reset(0, m);
      const dst = new Int32Array(this.firedLen);
      for (let r = 0; r < m; r++) {
        const end = r + 1 < m ? this.firedFrom[r + 1]! : this.firedLen;
        dst.fill(r, this.firedFrom[r]!, end);
      }
      this.scratch.mergePairs(this.accs, dst, this.firedGroups, this.firedLen);
      columns.push(...this.scratch.emit(Int32Array.from({ length: m }, (_, r) => r), m));
    }
    return new RecordBatch(this.outputSchema, columns, m, null);
  }

  /** Drops the slots of slices no window will read again, once they are most of all. */
  private maybeCompact(): void {
    const total = this.slots;
    const dead = total - this.live;
    if (this.live === 0) {
      if (total > 0) this.accs.reset(0, total);
      this.slots = 0;
      return;
    }
    if (dead <= this.live || dead < 1024) return;
    const remap = new Int32Array(total).fill(NONE);
    const head = this.keys.head;
    for (let k = 0; k < this.keys.size; k++) if (head[k] !== NONE) remap[head[k]!] = 0;
    for (let s = 0; s < this.keys.size * this.perWindow && this.perWindow > 1; s++) if (this.ring[s] !== NONE) remap[this.ring[s]!] = 0;
    let m = 0;
    for (let g = 0; g < total; g++) {
      if (remap[g] === NONE) continue;
      remap[g] = m;
      if (g !== m) this.accs.move(g, m);
      m++;
    }
    for (let k = 0; k < this.keys.size; k++) if (head[k] !== NONE) head[k] = remap[head[k]!]!;
    if (this.perWindow > 1) for (let s = 0; s < this.keys.size * this.perWindow; s++) if (this.ring[s] !== NONE) this.ring[s] = remap[this.ring[s]!]!;
    this.accs.reset(m, total);
    this.slots = m;
  }
}
