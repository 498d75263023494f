/**
 * Session windows in TypeScript, mirroring crates/sluice-core/src/window/session.rs: per key a
 * list of open sessions sorted by start; a record's window `[ts, ts + gap)` merges every
 * session it touches or overlaps, the earliest (by start) absorbing the later ones in start
 * order; sessions fire by end, then start, then first arrival.
 */

import { i32View } from '../../../batch/i64.js';
import { RecordBatch } from '../../../batch/record-batch.js';
import { grown, type Column } from '../../../batch/column.js';
import type { Schema } from '../../../batch/schema.js';
import type { WindowAggregator, WindowAggregatorSpec } from '../../engine.js';
import { windowOutputSchema } from '../../window-spec.js';
import { setExact, type Accs } from './acc.js';
import { lateRowsOf, accsFor, dropWatermark, Refires } from './common.js';
import { KeyTable } from './key-table.js';
import { EngineError } from '../../errors.js';

const TWO32 = 4294967296;
const NONE = -1;
/** `fwd` of an open session; otherwise the session it was merged into, or FIRED. */
const ALIVE = -1;
const FIRED = -2;
const LATE = -1;

/** A min-heap of (end, session), ordered by end, then session (as Rust's BinaryHeap<Reverse<_>>). */
class EndHeap {
  private ends = new Float64Array(1024);
  private ids = new Int32Array(1024);
  length = 0;

  get topEnd(): number {
    return this.ends[0]!;
  }

  get topId(): number {
    return this.ids[0]!;
  }

  clear(): void {
    this.length = 0;
  }

  get bytes(): number {
    return this.ends.length * 12;
  }

  push(e: number, g: number): void {
    if (this.length === this.ends.length) {
      this.ends = grown(this.ends, this.length * 2);
      this.ids = grown(this.ids, this.length * 2);
    }
    const he = this.ends;
    const hg = this.ids;
    let i = this.length++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (he[p]! < e || (he[p] === e && hg[p]! <= g)) break;
      he[i] = he[p]!;
      hg[i] = hg[p]!;
      i = p;
    }
    he[i] = e;
    hg[i] = g;
  }

  pop(): void {
    const he = this.ends;
    const hg = this.ids;
    const n = --this.length;
    if (n === 0) return;
    const e = he[n]!;
    const g = hg[n]!;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && (he[c + 1]! < he[c]! || (he[c + 1] === he[c] && hg[c + 1]! < hg[c]!))) c++;
      if (e < he[c]! || (e === he[c] && g <= hg[c]!)) break;
      he[i] = he[c]!;
      hg[i] = hg[c]!;
      i = c;
    }
    he[i] = e;
    hg[i] = g;
  }
}

export class SessionAggregator implements WindowAggregator {
  readonly outputSchema: Schema;
  private readonly fixedGap: number;
  private readonly gapField: number;
  /** Keys by id; `head` is the first open session of a key, `live` the keys with one. */
  private readonly keys: KeyTable;
  // Sessions.
  private sessions = 0;
  private live = 0;
  private scap = 1024;
  private kid = new Int32Array(1024);
  private start = new Float64Array(1024);
  private end = new Float64Array(1024);
  private seq = new Float64Array(1024);
  private next = new Int32Array(1024);
  private fwd = new Int32Array(1024);
  private readonly accs: Accs;
  /** Fired with its current contents and kept for allowed lateness. */
  private done = new Uint8Array(1024);
  /** Has an entry in `heap` (so reopening a fired session never queues it twice). */
  private queued = new Uint8Array(1024);
  // (end, session) per open session; an entry may hold an older (smaller) end, checked when popped.
  private readonly heap = new EndHeap();
  /**
   * Allowed lateness: (end, session) per fired session kept until the watermark passes
   * end - 1 + lateness; stale when the session changed since.
   */
  private readonly lateness: number;
  private readonly cleanup = new EndHeap();
  /** Windows fired again by records within their allowed lateness. */
  private readonly refires = new Refires();
  private watermark = -Infinity;
  private seqBase = 0;
  private gids = new Int32Array(1024);
  /** Rows of the last pushed batch (the valid prefix of `gids`). */
  private lastLen = 0;
  lateDropped = 0;

  constructor(spec: WindowAggregatorSpec) {
    this.outputSchema = windowOutputSchema(spec);
    const w = spec.window;
    if (w.kind !== 'session') throw new EngineError('config', 'TsSessionAggregator handles session windows');
    this.fixedGap = 'gapMs' in w ? w.gapMs : 0;
    this.gapField = 'dynamicGapField' in w ? w.dynamicGapField : -1;
    // No key fields (windowAll): the table's canonical-bytes path with empty keys puts all rows in one group.
    this.keys = new KeyTable(spec);
    this.lateness = spec.allowedLatenessMs ?? 0;
    this.accs = accsFor(spec, this.outputSchema, this.scap);
  }

  get memoryBytes(): number {
    return this.keys.bytes + this.scap * (8 * 3 + 4 * 3 + 2 + this.accs.bytesPerSlot) + this.heap.bytes + this.cleanup.bytes;
  }

  /** Sessions fired again by records within their allowed lateness. */
  takePushedOutput(): RecordBatch | null {
    return this.refires.take();
  }

  readonly unfiredRows = 0;

  lateRows(): Uint32Array {
    return this.refires.lateRows(() => lateRowsOf(this.gids, this.lastLen, LATE));
  }

  earliestStart(): number {
    // O(sessions): called per checkpoint, not per batch.
    let m = Infinity;
    for (let g = 0; g < this.sessions; g++) if (this.fwd[g] === ALIVE && this.start[g]! < m) m = this.start[g]!;
    return m;
  }

  private dropWatermark(): number {
    return dropWatermark(this.watermark, this.lateness);
  }

  push(batch: RecordBatch): number {
    return this.refires.push(this, batch, this.refireCandidates(batch), this.outputSchema);
  }

  /**
   * Rows (ascending) whose own window is complete: within the allowed lateness they may reach
   * a fired session, which fires again, so they are pushed one at a time.
   */
  private refireCandidates(batch: RecordBatch): number[] {
    const wm = this.watermark;
    const out: number[] = [];
    if (this.lateness === 0 || wm === -Infinity || batch.eventTime === null) return out;
    const ts = i32View(batch.eventTime);
    const gaps = this.gapField >= 0 ? i32View((batch.columns[this.gapField] as { values: BigInt64Array }).values) : null;
    for (let i = 0; i < batch.length; i++) {
      const t = ts[2 * i + 1]! * TWO32 + (ts[2 * i]! >>> 0);
      const gap = gaps === null ? this.fixedGap : Math.max(1, gaps[2 * i + 1]! * TWO32 + (gaps[2 * i]! >>> 0));
      if (t + gap - 1 <= wm) out.push(i);
    }
    return out;
  }

  /** After a one-row push: the session the row landed in when it is complete (it fires again), or null. */
  refireLastRow(): RecordBatch | null {
    const g = this.gids[0]!;
    if (this.lastLen !== 1 || g === LATE || this.end[g]! - 1 > this.watermark) return null;
    const out = this.emit(Int32Array.of(g));
    this.done[g] = 1;
    this.cleanup.push(this.end[g]!, g);
    return out;
  }

  pushPart(batch: RecordBatch): number {
    const et = batch.eventTime;
    if (et === null) {
      throw new EngineError('data', 'the window operator got rows without event timestamps; assign them with assignTimestampsAndWatermarks');
    }
    const n = batch.length;
    let gaps: Int32Array | null = null;
    if (this.gapField >= 0) {
      // Check every gap before touching any state.
      const c = batch.columns[this.gapField]! as { values: BigInt64Array; validity: Uint8Array | null };
      gaps = i32View(c.values);
      for (let i = 0; i < n; i++) {
        const valid = c.validity === null || (c.validity[i >>> 3]! & (1 << (i & 7))) !== 0;
        const h = gaps[2 * i + 1]!;
        if (!valid || h < 0 || (h === 0 && gaps[2 * i] === 0)) {
          throw new EngineError('data', `the session gap of row ${i} of the batch is ${valid ? `${c.values[i]} ms` : 'null'}; a session gap must be above 0 ms`);
        }
      }
    }
    if (this.gids.length < n) this.gids = new Int32Array(n);
    this.lastLen = n;
    const before = this.lateDropped;
    const merged = this.assign(batch, i32View(et), gaps, n);
    const gids = this.gids;
    if (merged) {
      // Rows assigned to a session that a later row merged away go to its survivor.
      const fwd = this.fwd;
      for (let i = 0; i < n; i++) {
        let g = gids[i]!;
        if (g < 0) continue;
        while (fwd[g] !== ALIVE) g = fwd[g]!;
        gids[i] = g;
      }
    }
    this.accs.update(batch, gids, n, this.seqBase);
    this.seqBase += n;
    this.maybeCompact();
    return this.lateDropped - before;
  }

  private assign(batch: RecordBatch, ts: Int32Array, gaps: Int32Array | null, n: number): boolean {
    const fireWm = this.watermark;
    const wm = this.dropWatermark();
    const gids = this.gids;
    let merged = false;
    const keys = this.keys;
    keys.bind(batch);
    for (let i = 0; i < n; i++) {
      const t = ts[2 * i + 1]! * TWO32 + (ts[2 * i]! >>> 0);
      const gap = gaps === null ? this.fixedGap : gaps[2 * i + 1]! * TWO32 + (gaps[2 * i]! >>> 0);
      const wEnd = t + gap;
      let kid = keys.find(i);
      let g: number;
      if (kid === NONE) {
        if (wEnd - 1 <= wm) {
          gids[i] = LATE;
          this.lateDropped++;
          continue;
        }
        kid = keys.addMissing();
        keys.live++;
        g = this.newSession(kid, NONE, NONE, t, wEnd, this.seqBase + i);
      } else {
        const headS = keys.head[kid]!;
        // Skip the sessions that end before the window starts.
        let prev = NONE;
        let cur = headS;
        while (cur !== NONE && this.end[cur]! < t) {
          prev = cur;
          cur = this.next[cur]!;
        }
        if (cur !== NONE && this.start[cur]! <= wEnd) {
          // Touches or overlaps `cur`: extend it, absorbing the later sessions the merged
          // window now reaches.
          const newStart = Math.min(this.start[cur]!, t);
          let newEnd = Math.max(this.end[cur]!, wEnd);
          let nx = this.next[cur]!;
          while (nx !== NONE && this.start[nx]! <= newEnd) {
            newEnd = Math.max(newEnd, this.end[nx]!);
            this.accs.mergeFrom(cur, this.accs, nx);
            if (this.seq[nx]! < this.seq[cur]!) this.seq[cur] = this.seq[nx]!;
            this.fwd[nx] = cur;
            this.live--;
            merged = true;
            nx = this.next[nx]!;
          }
          this.next[cur] = nx;
          this.start[cur] = newStart;
          this.end[cur] = newEnd;
          if (this.done[cur] === 1 && newEnd - 1 > fireWm) {
            // A fired session grew past the watermark: it fires again on time.
            this.done[cur] = 0;
            if (this.queued[cur] === 0) {
              this.queued[cur] = 1;
              this.heap.push(newEnd, cur);
            }
          }
          g = cur;
        } else {
          if (wEnd - 1 <= wm) {
            gids[i] = LATE;
            this.lateDropped++;
            continue;
          }
          if (headS === NONE) keys.live++;
          g = this.newSession(kid, prev, cur, t, wEnd, this.seqBase + i);
        }
      }
      gids[i] = g;
    }
    return merged;
  }

  /** A new session for key `kid` between sessions `prev` and `next` of its list. */
  private newSession(kid: number, prev: number, next: number, start: number, end: number, seq: number): number {
    if (this.sessions === this.scap) {
      const cap = this.scap * 2;
      this.kid = grown(this.kid, cap);
      this.start = grown(this.start, cap);
      this.end = grown(this.end, cap);
      this.seq = grown(this.seq, cap);
      this.next = grown(this.next, cap);
      this.fwd = grown(this.fwd, cap);
      this.done = grown(this.done, cap);
      this.queued = grown(this.queued, cap);
      this.scap = cap;
    }
    // Sized now: a later row of the batch may merge this session into another.
    this.accs.ensure(this.scap);
    const g = this.sessions++;
    this.kid[g] = kid;
    this.start[g] = start;
    this.end[g] = end;
    this.seq[g] = seq;
    this.next[g] = next;
    this.fwd[g] = ALIVE;
    this.done[g] = 0;
    this.queued[g] = 1;
    if (prev === NONE) this.keys.head[kid] = g;
    else this.next[prev] = g;
    this.heap.push(end, g);
    this.live++;
    return g;
  }

  flush(): RecordBatch | null {
    throw new EngineError('config', 'flush is for tumbling and sliding windows: sessions and count windows cannot be pre-aggregated per batch');
  }

  advanceWatermark(watermark: number): RecordBatch | null {
    if (!(watermark > this.watermark)) return null;
    this.watermark = watermark;
    const due: number[] = [];
    const heap = this.heap;
    while (heap.length > 0) {
      const e = heap.topEnd;
      const g = heap.topId;
      if (e - 1 > watermark) break;
      heap.pop();
      this.queued[g] = 0;
      if (this.fwd[g] !== ALIVE || this.done[g] === 1) continue;
      if (this.end[g] !== e) {
        this.queued[g] = 1;
        heap.push(this.end[g]!, g);
        continue;
      }
      due.push(g);
    }
    if (due.length === 0) {
      this.cleanUp();
      return null;
    }
    const { start, end, seq } = this;
    due.sort((a, b) => end[a]! - end[b]! || start[a]! - start[b]! || seq[a]! - seq[b]!);
    let batch: RecordBatch;
    try {
      batch = this.emit(Int32Array.from(due));
    } catch (e) {
      // Leave the sessions as they were (their heap entries back).
      for (const g of due) {
        this.queued[g] = 1;
        heap.push(this.end[g]!, g);
      }
      throw e;
    }
    for (const g of due) {
      if (this.lateness === 0) this.remove(g);
      else {
        this.done[g] = 1;
        this.cleanup.push(this.end[g]!, g);
      }
    }
    this.cleanUp();
    return batch;
  }

  /** Removes the fired sessions whose allowed lateness has passed. */
  private cleanUp(): void {
    const drop = this.dropWatermark();
    const c = this.cleanup;
    while (c.length > 0 && c.topEnd - 1 <= drop) {
      const e = c.topEnd;
      const g = c.topId;
      c.pop();
      if (this.fwd[g] === ALIVE && this.done[g] === 1 && this.end[g] === e) this.remove(g);
    }
    this.maybeCompact();
  }

  /** Unlinks session `g` from its key's list. */
  private remove(g: number): void {
    this.fwd[g] = FIRED;
    this.live--;
    const k = this.kid[g]!;
    const head = this.keys.head;
    let prev = NONE;
    let cur = head[k]!;
    while (cur !== g) {
      prev = cur;
      cur = this.next[cur]!;
    }
    if (prev === NONE) {
      head[k] = this.next[g]!;
      if (head[k] === NONE) this.keys.live--;
    } else this.next[prev] = this.next[g]!;
  }

  private emit(groups: Int32Array): RecordBatch {
    const n = groups.length;
    const kids = new Int32Array(n);
    for (let i = 0; i < n; i++) kids[i] = this.kid[groups[i]!]!;
    const columns: Column[] = this.keys.emit(kids, n);
    const s = new BigInt64Array(n);
    const e = new BigInt64Array(n);
    const et = new BigInt64Array(n);
    const s32 = i32View(s);
    const e32 = i32View(e);
    const t32 = i32View(et);
    for (let i = 0; i < n; i++) {
      const g = groups[i]!;
      setExact(s32, i, this.start[g]!);
      setExact(e32, i, this.end[g]!);
      setExact(t32, i, this.end[g]! - 1);
    }
    columns.push({ type: 'timestamp', values: s, validity: null });
    columns.push({ type: 'timestamp', values: e, validity: null });
    columns.push(...this.accs.emit(groups, n));
    return new RecordBatch(this.outputSchema, columns, n, et);
  }

  /** Drops fired and merged-away sessions once they outnumber the open ones; keys likewise. */
  private maybeCompact(): void {
    const total = this.sessions;
    const dead = total - this.live;
    if (this.live === 0 && total > 0) {
      this.accs.reset(0, total);
      this.sessions = 0;
      this.heap.clear();
      this.cleanup.clear();
    } else if (dead > this.live && dead >= 1024) {
      const remap = new Int32Array(total).fill(NONE);
      let m = 0;
      for (let g = 0; g < total; g++) if (this.fwd[g] === ALIVE) remap[g] = m++;
      const re = (x: number) => (x === NONE ? NONE : remap[x]!);
      for (let g = 0; g < total; g++) {
        const to = remap[g]!;
        if (to === NONE) continue;
        this.kid[to] = this.kid[g]!;
        this.start[to] = this.start[g]!;
        this.end[to] = this.end[g]!;
        this.seq[to] = this.seq[g]!;
        this.next[to] = re(this.next[g]!);
        this.fwd[to] = ALIVE;
        this.done[to] = this.done[g]!;
        if (to !== g) this.accs.move(g, to);
      }
      const head = this.keys.head;
      for (let k = 0; k < this.keys.size; k++) head[k] = re(head[k]!);
      this.accs.reset(m, total);
      this.sessions = m;
      this.heap.clear();
      this.cleanup.clear();
      for (let g = 0; g < m; g++) {
        this.queued[g] = this.done[g] === 1 ? 0 : 1;
        if (this.done[g] === 1) this.cleanup.push(this.end[g]!, g);
        else this.heap.push(this.end[g]!, g);
      }
    }
    const keys = this.keys;
    const deadKeys = keys.size - keys.live;
    if (keys.live === 0 && keys.size > 0) keys.clear();
    else if (deadKeys > keys.live && deadKeys >= 1024) {
      const remap = keys.compact();
      // Dead sessions may name dropped keys; they are never read again.
      for (let g = 0; g < this.sessions; g++) {
        const r = remap[this.kid[g]!]!;
        this.kid[g] = r === NONE ? 0 : r;
      }
    }
  }
}
