/**
 * Window state's key table in TypeScript (crates/sluice-core/src/window/keys.rs): one id per
 * distinct key, an integer key column kept inline as two words, any other key as canonical
 * bytes in an arena; open addressing. `head` and `live` are free per key and per table for
 * the table's user (sessions: the first open session of a key, and the keys with one).
 */

import { grown, type Column } from '../../../batch/column.js';
import { i32View } from '../../../batch/i64.js';
import type { RecordBatch } from '../../../batch/record-batch.js';
import type { DataType } from '../../../batch/schema.js';
import type { WindowAggregatorSpec } from '../../engine.js';
import { fmix32, mixH, murmur3_32 } from '../../../keys/hash.js';
import { encodeKey, keyViews, KeyScratch } from '../../../keys/key-bytes.js';
import { decodeKeyColumns, intKeyColumn } from './common.js';

const NONE = -1;
const SEED = 0x5e551000;

export class KeyTable {
  readonly mode: 'i32' | 'i64' | 'bytes';
  private readonly keyFields: readonly number[];
  private readonly types: readonly DataType[];
  size = 0;
  /** Keys in use, counted by the table's user (sessions: keys with an open session). */
  live = 0;
  private cap = 1024;
  private klo = new Int32Array(1024);
  private khi = new Int32Array(1024);
  private kvalid = new Uint8Array(1024);
  private khash = new Int32Array(1024);
  head = new Int32Array(1024).fill(NONE);
  private arena = new Uint8Array(4096);
  private arenaLen = 0;
  private spanStart = new Int32Array(1024);
  private spanLen = new Int32Array(1024);
  private index = new Int32Array(2048).fill(NONE);
  private readonly sc = new KeyScratch();
  // The batch being read (bind).
  private cols: Column[] = [];
  private views: (Int32Array | null)[] = [];
  private kv: Int32Array | null = null;
  private validity: Uint8Array | null = null;
  // The key `find` missed last, for `addMissing` (no stores on the hit path).
  private missSlot = 0;
  private missHash = 0;
  private missLo = 0;
  private missHi = 0;
  private missOk = 0;

  constructor(spec: WindowAggregatorSpec) {
    this.keyFields = spec.keyFields;
    this.types = spec.keyFields.map((k) => spec.input.fields[k]!.type);
    const t = this.types.length === 1 ? this.types[0]! : null;
    this.mode = t === 'i32' ? 'i32' : t === 'i64' || t === 'timestamp' ? 'i64' : 'bytes';
  }

  get bytes(): number {
    return this.cap * 29 + this.index.length * 4 + this.arena.length;
  }

  /** Reads keys from `batch` until the next bind. */
  bind(batch: RecordBatch): void {
    if (this.mode === 'bytes') {
      this.cols = this.keyFields.map((k) => batch.columns[k]!);
      this.views = keyViews(this.cols);
      return;
    }
    const col = batch.columns[this.keyFields[0]!]!;
    this.validity = col.validity;
    this.kv = this.mode === 'i64' ? i32View((col as { values: BigInt64Array }).values) : (col as { values: Int32Array }).values;
  }

  /** The id of row `i`'s key, added when new. */
  idOf(i: number): number {
    const kid = this.find(i);
    return kid !== NONE ? kid : this.addMissing();
  }

  /**
   * The id of row `i`'s key, or NONE (-1) when it is new; `addMissing()` then adds it, unless
   * the caller drops the row (a late record must not leave its key behind).
   */
  find(i: number): number {
    let lo = 0;
    let hi = 0;
    let ok = 1;
    let h: number;
    const bytes = this.mode === 'bytes';
    if (bytes) {
      this.sc.len = 0;
      encodeKey(this.cols, this.views, i, this.sc);
      h = murmur3_32(this.sc.buf, SEED, this.sc.len) | 0;
    } else {
      const v = this.validity;
      ok = v === null || (v[i >>> 3]! & (1 << (i & 7))) !== 0 ? 1 : 0;
      if (ok === 1) {
        if (this.mode === 'i64') {
          lo = this.kv![2 * i]!;
          hi = this.kv![2 * i + 1]!;
        } else {
          lo = this.kv![i]!;
          hi = lo >> 31;
        }
      }
      h = fmix32(mixH(mixH(SEED, lo), hi) ^ ok) | 0;
    }
    const index = this.index;
    const mask = index.length - 1;
    let s = h & mask;
    for (;;) {
      const kid = index[s]!;
      if (kid === NONE) {
        this.missSlot = s;
        this.missHash = h;
        this.missLo = lo;
        this.missHi = hi;
        this.missOk = ok;
        return NONE;
      }
      if (this.khash[kid] === h && (bytes ? this.sameBytes(kid) : this.klo[kid] === lo && this.khi[kid] === hi && this.kvalid[kid] === ok)) return kid;
      s = (s + 1) & mask;
    }
  }

  /** Adds the key the last `find` missed (no other key read in between); returns its id. */
  addMissing(): number {
    return this.insert(this.missSlot, this.missHash, this.missLo, this.missHi, this.missOk);
  }

  private sameBytes(kid: number): boolean {
    const l = this.sc.len;
    if (this.spanLen[kid] !== l) return false;
    const a = this.arena;
    const p = this.spanStart[kid]!;
    const b = this.sc.buf;
    for (let j = 0; j < l; j++) if (a[p + j] !== b[j]) return false;
    return true;
  }

  private insert(slot: number, h: number, lo: number, hi: number, ok: number): number {
    if (this.size === this.cap) {
      const cap = this.cap * 2;
      this.klo = grown(this.klo, cap);
      this.khi = grown(this.khi, cap);
      this.kvalid = grown(this.kvalid, cap);
      this.khash = grown(this.khash, cap);
      this.head = grown(this.head, cap, NONE);
      this.spanStart = grown(this.spanStart, cap);
      this.spanLen = grown(this.spanLen, cap);
      this.cap = cap;
    }
    const kid = this.size++;
    this.klo[kid] = lo;
    this.khi[kid] = hi;
    this.kvalid[kid] = ok;
    this.khash[kid] = h;
    this.head[kid] = NONE;
    if (this.mode === 'bytes') {
      const kl = this.sc.len;
      if (this.arenaLen + kl > this.arena.length) this.arena = grown(this.arena, Math.max(this.arena.length * 2, this.arenaLen + kl));
      this.arena.set(this.sc.buf.subarray(0, kl), this.arenaLen);
      this.spanStart[kid] = this.arenaLen;
      this.spanLen[kid] = kl;
      this.arenaLen += kl;
    }
    this.index[slot] = kid;
    if (this.size * 2 > this.index.length) this.rehash(this.index.length * 2);
    return kid;
  }

  private rehash(slots: number): void {
    const index = new Int32Array(slots).fill(NONE);
    const m = slots - 1;
    for (let k = 0; k < this.size; k++) {
      let x = this.khash[k]! & m;
      while (index[x] !== NONE) x = (x + 1) & m;
      index[x] = k;
    }
    this.index = index;
  }

  /** Forgets every key (ids start again from 0). */
  clear(): void {
    this.size = 0;
    this.live = 0;
    this.arenaLen = 0;
    this.index.fill(NONE);
  }

  /**
   * Keeps the keys whose `head` is set, renumbered in id order; returns old id -> new id
   * (NONE for a dropped key). The index shrinks to fit (2048 slots at least).
   */
  compact(): Int32Array {
    const remap = new Int32Array(this.size).fill(NONE);
    let m = 0;
    let arenaLen = 0;
    for (let k = 0; k < this.size; k++) {
      if (this.head[k] === NONE) continue;
      remap[k] = m;
      this.klo[m] = this.klo[k]!;
      this.khi[m] = this.khi[k]!;
      this.kvalid[m] = this.kvalid[k]!;
      this.khash[m] = this.khash[k]!;
      this.head[m] = this.head[k]!;
      if (this.mode === 'bytes') {
        const p = this.spanStart[k]!;
        const l = this.spanLen[k]!;
        this.arena.copyWithin(arenaLen, p, p + l);
        this.spanStart[m] = arenaLen;
        this.spanLen[m] = l;
        arenaLen += l;
      }
      m++;
    }
    this.size = m;
    this.live = m;
    this.arenaLen = arenaLen;
    let slots = 2048;
    while (slots < m * 2) slots *= 2;
    this.rehash(slots);
    return remap;
  }

  /** The key columns of keys `kids[0..n)`. */
  emit(kids: Int32Array, n: number): Column[] {
    return this.mode === 'bytes'
      ? decodeKeyColumns(this.arena, this.spanStart, this.spanLen, kids, n, this.types)
      : [intKeyColumn(this.mode, this.types[0]!, this.klo, this.khi, this.kvalid, kids, n)];
  }
}
