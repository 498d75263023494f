/**
 * The non-windowed top-N (Flink's retractable Rank operator): per partition every live row is
 * kept in ORDER BY order (ties by the row's other columns ascending, nulls first: the same order
 * on both engines); after each batch, the partitions it touched compare their top-N rows before
 * and after and emit the difference. With the rank number in the output, a rank whose row
 * changed gives -U (old row, rank k) then +U (new row, rank k), a new rank +I, a rank gone -D
 * (Flink's retract mode with rank numbers, so an upsert sink keyed by partition and rank works);
 * without it, rows that left the top N give -D and rows that entered +I. The input may be
 * updating: -U/-D retract a kept row. Like the regular join, it runs over JavaScript rows on
 * both engines. State: every kept row as a batch of the input's data fields (split by key group
 * on a rescale).
 *
 * Idle state retention (table.exec.state.ttl): a partition not written (no row arrived for it)
 * for the TTL, in processing time read once per batch, is gone silently (Flink's TTL of the
 * rank state, NeverReturnExpired): its next row starts from an empty top N (+I), and a
 * retraction of a row no longer there is dropped (Flink's lenient retract rank with a TTL). The
 * state rows then carry their partition's last write time (`$access`), which a restore keeps.
 */

import { columnBuilder, type ColumnBuilder } from '../../batch/column-builder.js';
import { RecordBatch } from '../../batch/record-batch.js';
import { DELETE, INSERT, isUpdating, UPDATE_AFTER, UPDATE_BEFORE } from '../../batch/row-kind.js';
import { Schema } from '../../batch/schema.js';
import type { Engine } from '../../engine/engine.js';
import type { RankSpec } from '../../engine/rank-spec.js';
import { encodeKey, keyViews, KeyScratch } from '../../keys/key-bytes.js';
import { Operator } from '../operator.js';
import { ProcessingClock } from '../processing-clock.js';
import { columnReader, sameRow, type Values } from './row-values.js';
import type { KeyGroupFilter } from '../rescale.js';


/** One ranked row of a partition's top N. */
interface Ranked {
  readonly row: Values;
  readonly rank: number;
}

export class RankOperator extends Operator {
  /** Partition key -> its live rows, sorted. */
  private readonly parts = new Map<string, Values[]>();
  /** Partition key -> the processing time of its last write (with a TTL). */
  private readonly access = new Map<string, number>();
  private readonly clock = new ProcessingClock();
  private nextPurge = -Infinity;
  private readonly width: number;
  private readonly updating: boolean;
  private readonly partIdx: readonly number[];
  private readonly cmp: (a: Values, b: Values) => number;
  /** Compares the ORDER BY columns only (ties of RANK / DENSE_RANK). */
  private readonly orderCmp: (a: Values, b: Values) => number;
  private readonly sc = new KeyScratch();

  constructor(
    id: number,
    name: string,
    private readonly spec: RankSpec,
    private readonly input: Schema,
    private readonly output: Schema,
    private readonly engine: Engine,
    /** Idle state retention in ms (0: never). */
    private readonly ttl = 0,
  ) {
    super(id, name);
    this.updating = isUpdating(input);
    this.width = this.updating ? input.length - 1 : input.length;
    this.partIdx = spec.partitionFields.map((f) => input.indexOf(f));
    const order = spec.order.map((o) => ({ i: input.indexOf(o.field), desc: o.desc, nullsFirst: o.nullsFirst }));
    const orderCols = new Set(order.map((o) => o.i));
    const ties = Array.from({ length: this.width }, (_, i) => i).filter((i) => !orderCols.has(i));
    this.orderCmp = (a, b) => {
      for (const o of order) {
        const x = a[o.i];
        const y = b[o.i];
        const xn = x === null || x === undefined;
        const yn = y === null || y === undefined;
        if (xn || yn) {
          if (xn && yn) continue;
          return xn === o.nullsFirst ? -1 : 1;
        }
        const c = compareValues(x, y);
        if (c !== 0) return o.desc ? -c : c;
      }
      return 0;
    };
    this.cmp = (a, b) => {
      const c = this.orderCmp(a, b);
      if (c !== 0) return c;
      for (const i of ties) {
        const d = compareValues(a[i], b[i]);
        if (d !== 0) return d;
      }
      return 0;
    };
  }

  processBatch(batch: RecordBatch): Promise<void> | void {
    const n = batch.length;
    if (n === 0) return;
    const readers = Array.from({ length: this.width }, (_, c) => columnReader(batch.columns[c]!, this.input.fields[c]!.name));
    const keyCols = this.partIdx.map((k) => batch.columns[k]!);
    const views = keyViews(keyCols);
    const kinds = this.updating ? (batch.columns[this.width] as { values: Int32Array }).values : null;
    const now = this.ttl > 0 ? this.clock.now() : 0;
    if (this.ttl > 0 && now >= this.nextPurge) {
      // Expired partitions are invisible already; this only frees their memory.
      for (const [key, t] of this.access) if (t + this.ttl <= now) this.expire(key);
      this.nextPurge = now + this.ttl;
    }
    // Each touched partition's top N before this batch.
    const before = new Map<string, Ranked[]>();
    for (let i = 0; i < n; i++) {
      const row = readers.map((r) => r(i));
      const kind = kinds === null ? INSERT : kinds[i]!;
      this.sc.len = 0;
      encodeKey(keyCols, views, i, this.sc);
      const key = latin1(this.sc.buf, this.sc.len);
      if (this.ttl > 0) {
        const t = this.access.get(key);
        if (t !== undefined && t + this.ttl <= now) this.expire(key);
        this.access.set(key, now);
      }
      let rows = this.parts.get(key);
      if (!before.has(key)) before.set(key, rows === undefined ? [] : this.top(rows));
      if (kind === INSERT || kind === UPDATE_AFTER) {
        if (rows === undefined) this.parts.set(key, (rows = []));
        rows.splice(this.upper(rows, row), 0, row);
      } else {
        const at = rows === undefined ? -1 : this.find(rows, row);
        if (at < 0) {
          // With a TTL the row may have expired with its partition: dropped, as Flink's lenient retract rank.
          if (this.ttl > 0) continue;
          throw new Error(`${this.metrics.name}: the input retracts a row it never inserted (${describe(row)}); its input's changes are inconsistent`);
        }
        rows!.splice(at, 1);
        if (rows!.length === 0) this.parts.delete(key);
      }
    }
    const out = this.output.fields.map((f) => columnBuilder(f, 64));
    let m = 0;
    const emit = (r: Ranked, kind: number): void => {
      let c = 0;
      for (let k = 0; k < this.width; k++) out[c++]!.append(r.row[k], 'rank', m);
      if (this.spec.rankField !== null) out[c++]!.append(BigInt(r.rank), this.spec.rankField, m);
      out[c]!.append(kind, '$rowkind', m);
      m++;
    };
    for (const [key, old] of before) {
      const rows = this.parts.get(key);
      this.diff(old, rows === undefined ? [] : this.top(rows), emit);
      // An append-only input never retracts: a row ranked below N stays there (ranks only grow),
      // so only the top N's rows are kept (Flink's append-only top-N; bounded state).
      if (!this.updating && rows !== undefined) rows.length = this.within(rows);
    }
    if (m === 0) return;
    return this.emit(new RecordBatch(this.output, out.map((b) => b.finish()), m));
  }

  /** Drops a partition whose state expired (no change is emitted: Flink's TTL is silent). */
  private expire(key: string): void {
    this.parts.delete(key);
    this.access.delete(key);
  }

  /** The rows of ranks lo..hi of a sorted partition, with their ranks. */
  private top(rows: readonly Values[]): Ranked[] {
    const got: Ranked[] = [];
    this.ranks(rows, (row, rank) => {
      if (rank >= this.spec.lo) got.push({ row, rank });
    });
    return got;
  }

  /** How many of a sorted partition's rows rank at most hi. */
  private within(rows: readonly Values[]): number {
    return this.ranks(rows, () => {});
  }

  /** Calls `f` with each row of rank at most hi and its rank; returns how many there were. */
  private ranks(rows: readonly Values[], f: (row: Values, rank: number) => void): number {
    const { fn, hi } = this.spec;
    let rank = 0;
    for (let i = 0; i < rows.length; i++) {
      const tie = i > 0 && this.orderCmp(rows[i - 1]!, rows[i]!) === 0;
      rank = fn === 'row_number' ? i + 1 : fn === 'rank' ? (tie ? rank : i + 1) : tie ? rank : rank + 1;
      if (rank > hi) return i;
      f(rows[i]!, rank);
    }
    return rows.length;
  }

  /**
   * Emits the changes from one top N to the next. Rows are compared by identity (each kept row
   * is its own array), so unchanged ranks cost no comparison of values.
   */
  private diff(old: readonly Ranked[], now: readonly Ranked[], emit: (r: Ranked, kind: number) => void): void {
    if (this.spec.rankField === null) {
      const before = new Set(old.map((r) => r.row));
      const after = new Set(now.map((r) => r.row));
      for (const r of old) if (!after.has(r.row)) emit(r, DELETE);
      for (const r of now) if (!before.has(r.row)) emit(r, INSERT);
      return;
    }
    // Per rank: the rows that left it and the rows that came; paired as -U old / +U new (in
    // rank order), the rest -D / +I. A pair of equal values (a row replaced by its equal) is no change.
    const byRank = (list: readonly Ranked[]): Map<number, Values[]> => {
      const m = new Map<number, Values[]>();
      for (const r of list) {
        const l = m.get(r.rank);
        if (l === undefined) m.set(r.rank, [r.row]);
        else l.push(r.row);
      }
      return m;
    };
    const was = byRank(old);
    const is = byRank(now);
    const ranks = [...new Set([...was.keys(), ...is.keys()])].sort((x, y) => x - y);
    const inserts: Ranked[] = [];
    for (const rank of ranks) {
      const o = was.get(rank) ?? [];
      const n = is.get(rank) ?? [];
      const gone = o.filter((r) => !n.includes(r));
      const came = n.filter((r) => !o.includes(r));
      for (let i = 0; i < gone.length; i++) {
        const next = came[i];
        if (next === undefined) emit({ row: gone[i]!, rank }, DELETE);
        else if (!sameRow(gone[i]!, next)) {
          emit({ row: gone[i]!, rank }, UPDATE_BEFORE);
          emit({ row: next, rank }, UPDATE_AFTER);
        }
      }
      for (let i = gone.length; i < came.length; i++) inserts.push({ row: came[i]!, rank });
    }
    for (const r of inserts) emit(r, INSERT);
  }

  /** The position after the last row ordered before or equal to `row`. */
  private upper(rows: readonly Values[], row: Values): number {
    let a = 0;
    let b = rows.length;
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (this.cmp(rows[mid]!, row) <= 0) a = mid + 1;
      else b = mid;
    }
    return a;
  }

  /** The position of a row equal to `row`, or -1. */
  private find(rows: readonly Values[], row: Values): number {
    let a = 0;
    let b = rows.length;
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (this.cmp(rows[mid]!, row) < 0) a = mid + 1;
      else b = mid;
    }
    for (let i = a; i < rows.length && this.cmp(rows[i]!, row) === 0; i++) if (sameRow(rows[i]!, row)) return i;
    return -1;
  }

  override snapshotState(): unknown {
    const fields = this.input.fields.slice(0, this.width);
    const all: Values[] = [];
    const times: number[] = [];
    for (const [key, rows] of this.parts) {
      all.push(...rows);
      if (this.ttl > 0) for (const _ of rows) times.push(this.access.get(key) ?? 0);
    }
    const b = fields.map((f) => columnBuilder(f, all.length));
    all.forEach((r, i) => fields.forEach((f, c) => b[c]!.append(r[c], f.name, i)));
    const cols = b.map((x) => x.finish());
    const schema = this.ttl > 0 ? new Schema([...fields, ACCESS_FIELD]) : new Schema(fields);
    if (this.ttl > 0) cols.push({ type: 'i64', values: BigInt64Array.from(times, (t) => BigInt(t)), validity: null });
    return { rows: this.engine.encodeBatch(new RecordBatch(schema, cols, all.length)) };
  }

  override restoreState(state: unknown): void {
    this.restoreRows(this.engine.decodeBatch((state as { rows: Uint8Array }).rows));
  }

  override restoreRescaled(states: readonly unknown[], keep: KeyGroupFilter): boolean {
    for (const s of states) {
      const rows = this.engine.decodeBatch((s as { rows: Uint8Array }).rows);
      // No partition: one partition, on the single subtask a global top-N has.
      const mine = this.partIdx.length === 0 ? rows : keep.rows(rows, this.partIdx);
      if (mine !== null) this.restoreRows(mine);
    }
    return true;
  }

  private restoreRows(b: RecordBatch): void {
    const access = this.ttl > 0 && b.schema.has(ACCESS_FIELD.name) ? (b.columns[b.schema.indexOf(ACCESS_FIELD.name)] as { values: BigInt64Array }) : null;
    const readers = Array.from({ length: this.width }, (_, c) => columnReader(b.columns[c]!, this.input.fields[c]!.name));
    const keyCols = this.partIdx.map((k) => b.columns[k]!);
    const views = keyViews(keyCols);
    for (let i = 0; i < b.length; i++) {
      this.sc.len = 0;
      encodeKey(keyCols, views, i, this.sc);
      const key = latin1(this.sc.buf, this.sc.len);
      const row = readers.map((r) => r(i));
      let rows = this.parts.get(key);
      if (rows === undefined) this.parts.set(key, (rows = []));
      rows.splice(this.upper(rows, row), 0, row);
      // The partition's last write as checkpointed: a restore does not refresh it.
      // (State written without a TTL: its partitions count as written at the restore.)
      if (access !== null) this.access.set(key, Math.max(this.access.get(key) ?? -Infinity, Number(access.values[i]!)));
      else if (this.ttl > 0 && !this.access.has(key)) this.access.set(key, this.clock.now());
    }
  }
}

/** The state rows' last write time of their partition (with a TTL). */
const ACCESS_FIELD = { name: '$access', type: 'i64', nullable: false } as const;

/** Compares two non-null values of one column: numbers, bigints, strings (by code unit), booleans. */
function compareValues(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  return (a as number | string) < (b as number | string) ? -1 : (a as number | string) > (b as number | string) ? 1 : 0;
}

function describe(r: Values): string {
  return r.map((v) => (typeof v === 'bigint' ? `${v}n` : JSON.stringify(v))).join(', ');
}

const latin1 = (b: Uint8Array, n: number): string => {
  let s = '';
  for (let i = 0; i < n; i += 4096) s += String.fromCharCode.apply(null, b.subarray(i, Math.min(n, i + 4096)) as unknown as number[]);
  return s;
};
