/**
 * Window state's key table in TypeScript (crates/sluice-core/src/window/keys.rs): one id per
 * distinct key, an integer key column kept inline as two words, any other key as canonical
 * bytes in an arena; open addressing. `head` is free per key for the table's user.
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
      if (kid === NONE) return this.insert(s, h, lo, hi, ok);
      if (this.khash[kid] === h && (bytes ? this.sameBytes(kid) : this.klo[kid] === lo && this.khi[kid] === hi && this.kvalid[kid] === ok)) return kid;
      s = (s + 1) & mask;
    }
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
    if (this.size * 2 > this.index.length) {
      const index = new Int32Array(this.index.length * 2).fill(NONE);
      const m = index.length - 1;
      for (let k = 0; k < this.size; k++) {
        let x = this.khash[k]! & m;
        while (index[x] !== NONE) x = (x + 1) & m;
        index[x] = k;
      }
      this.index = index;
    }
    return kid;
  }

  /** The key columns of keys `kids[0..n)`. */
  emit(kids: Int32Array, n: number): Column[] {
    return this.mode === 'bytes'
      ? decodeKeyColumns(this.arena, this.spanStart, this.spanLen, kids, n, this.types)
      : [intKeyColumn(this.mode, this.types[0]!, this.klo, this.khi, this.kvalid, kids, n)];
  }
}
