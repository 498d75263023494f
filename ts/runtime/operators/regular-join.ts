/**
 * The regular join (Flink's StreamingJoinOperator): both sides' rows are kept per key, every
 * arrival is joined with the other side's rows of its key, and inputs may be updating.
 * Inner: an accumulating row (+I/+U) emits +I per match, a retracting one (-U/-D) -D per match.
 * Outer: a row without matches is emitted padded with nulls; when the first match of a padded
 * row arrives the padded row is retracted (-D) before the joined one (+I), and when the last
 * match leaves the padded row comes back. Rows with a null key never match (SQL equality).
 * State: both sides' rows as batches of the inputs' schemas (split by key group on a rescale).
 *
 * Idle state retention (table.exec.state.ttl): each kept row expires when it was written (its
 * arrival) the TTL or more ago, in processing time read once per batch (Flink's per-record TTL
 * of the join state, NeverReturnExpired): expired rows silently stop matching (an arrival on
 * the other side finds none; an outer row is then emitted padded), and a retraction of a row no
 * longer kept is still joined with the other side's rows and emitted, without an error. The
 * state rows then carry their write time (`$access`), which a restore keeps.
 */

import { columnBuilder, type ColumnBuilder } from '../../batch/column-builder.js';
import { RecordBatch } from '../../batch/record-batch.js';
import { DELETE, INSERT, isUpdating, UPDATE_AFTER } from '../../batch/row-kind.js';
import { Schema } from '../../batch/schema.js';
import type { Engine } from '../../engine/engine.js';
import { encodeKey, keyViews, KeyScratch } from '../../keys/key-bytes.js';
import type { RegularJoinSpec } from '../../engine/regular-join-spec.js';
import { MultiInputOperator } from '../operator.js';
import { ProcessingClock } from '../processing-clock.js';
import { columnReader, sameRow, type Values } from './row-values.js';
import type { KeyGroupFilter, KeyGrouper } from '../rescale.js';


interface Side {
  /** Key -> rows (data fields' values), each once per occurrence. */
  readonly rows: Map<string, Values[]>;
  /** Key -> each row's write time, parallel to `rows` (with a TTL). */
  readonly times: Map<string, number[]>;
  readonly schema: Schema;
  readonly width: number;
  readonly updating: boolean;
  readonly keyIdx: readonly number[];
}

interface State {
  readonly inputs: unknown;
  readonly sides: readonly Uint8Array[];
}

export class RegularJoinOperator extends MultiInputOperator {
  private readonly sides: [Side, Side];
  private readonly outer: readonly [boolean, boolean];
  private readonly updatingOut: boolean;
  private readonly sc = new KeyScratch();
  private readonly clock = new ProcessingClock();
  private nextPurge = -Infinity;

  constructor(
    id: number,
    name: string,
    spec: RegularJoinSpec,
    inputs: readonly Schema[],
    private readonly output: Schema,
    private readonly keyGroups: KeyGrouper | null,
    private readonly engine: Engine,
    /** Idle state retention in ms (0: never). */
    private readonly ttl = 0,
  ) {
    super(id, name, 2);
    const side = (j: 0 | 1): Side => {
      const s = inputs[j]!;
      const updating = isUpdating(s);
      return { rows: new Map(), times: new Map(), schema: s, width: updating ? s.length - 1 : s.length, updating, keyIdx: spec.keyFields[j].map((f) => s.indexOf(f)) };
    };
    this.sides = [side(0), side(1)];
    // outer[j]: rows of side j without a match are emitted padded.
    this.outer = [spec.type === 'left' || spec.type === 'full', spec.type === 'right' || spec.type === 'full'];
    this.updatingOut = output.has('$rowkind');
  }

  processBatch(batch: RecordBatch, input: number): Promise<void> | void {
    const j = input as 0 | 1;
    const me = this.sides[j];
    const other = this.sides[(1 - j) as 0 | 1];
    const n = batch.length;
    if (n === 0) return;
    const readers = Array.from({ length: me.width }, (_, c) => columnReader(batch.columns[c]!, me.schema.fields[c]!.name));
    const keyCols = me.keyIdx.map((k) => batch.columns[k]!);
    const views = keyViews(keyCols);
    const kinds = me.updating ? (batch.columns[me.width] as { values: Int32Array }).values : null;
    const out = new Emitter(this.output, this.updatingOut, me.width, other.width, j);
    const now = this.ttl > 0 ? this.clock.now() : 0;
    if (this.ttl > 0 && now >= this.nextPurge) {
      // Expired rows are invisible already; this only frees their memory.
      for (const s of this.sides) for (const key of [...s.rows.keys()]) this.expire(s, key, now);
      this.nextPurge = now + this.ttl;
    }
    for (let i = 0; i < n; i++) {
      const row = readers.map((r) => r(i));
      const kind = kinds === null ? INSERT : kinds[i]!;
      const add = kind === INSERT || kind === UPDATE_AFTER;
      const nullKey = keyCols.some((c) => c.validity !== null && (c.validity[i >>> 3]! & (1 << (i & 7))) === 0);
      if (nullKey) {
        // Never matches: outer rows are emitted padded, nothing is kept.
        if (this.outer[j]) out.row(row, null, add ? INSERT : DELETE);
        continue;
      }
      this.sc.len = 0;
      encodeKey(keyCols, views, i, this.sc);
      const key = latin1(this.sc.buf, this.sc.len);
      if (this.ttl > 0) {
        this.expire(me, key, now);
        this.expire(other, key, now);
      }
      const matches = other.rows.get(key) ?? [];
      const mine = me.rows.get(key);
      if (add) {
        // The other side's padded rows lose their padding with this first match.
        if (matches.length > 0 && this.outer[1 - j] && (mine === undefined || mine.length === 0)) for (const m of matches) out.row(null, m, DELETE);
        if (matches.length === 0) {
          if (this.outer[j]) out.row(row, null, INSERT);
        } else for (const m of matches) out.row(row, m, INSERT);
        if (mine === undefined) me.rows.set(key, [row]);
        else mine.push(row);
        if (this.ttl > 0) {
          const t = me.times.get(key);
          if (t === undefined) me.times.set(key, [now]);
          else t.push(now);
        }
      } else {
        const at = mine === undefined ? -1 : mine.findIndex((r) => sameRow(r, row));
        if (at < 0 && this.ttl === 0) {
          throw new Error(`${this.metrics.name}: input ${j + 1} retracts a row it never inserted (${describe(row)}); its input's changes are inconsistent`);
        }
        // (With a TTL a row not kept may have expired: its retraction is still joined and emitted, as Flink's.)
        if (at >= 0) {
          mine!.splice(at, 1);
          me.times.get(key)?.splice(at, 1);
          if (mine!.length === 0) {
            me.rows.delete(key);
            me.times.delete(key);
          }
        }
        if (matches.length === 0) {
          if (this.outer[j]) out.row(row, null, DELETE);
        } else for (const m of matches) out.row(row, m, DELETE);
        // The other side's rows are padded again when their last match left.
        if (matches.length > 0 && this.outer[1 - j] && (mine?.length ?? 0) === 0) for (const m of matches) out.row(null, m, INSERT);
      }
    }
    const b = out.finish();
    if (b === null) return this.emitting ?? undefined;
    // The two inputs' receivers call in concurrently: a batch's changes go out after the ones
    // computed before it, or a -D could overtake its +I while an emit waits downstream.
    const prev = this.emitting;
    const next: Promise<void> = (prev === null ? Promise.resolve(this.emit(b)) : prev.then(() => this.emit(b))).finally(() => {
      if (this.emitting === next) this.emitting = null;
    });
    this.emitting = next;
    return next;
  }

  /** Drops a side's rows of `key` written the TTL or more before `now` (silently, as Flink's TTL). */
  private expire(side: Side, key: string, now: number): void {
    const times = side.times.get(key);
    if (times === undefined || times[0]! + this.ttl > now) return; // rows are kept in write order: the first is the oldest
    const rows = side.rows.get(key)!;
    let k = 0;
    while (k < times.length && times[k]! + this.ttl <= now) k++;
    if (k === times.length) {
      side.rows.delete(key);
      side.times.delete(key);
    } else {
      rows.splice(0, k);
      times.splice(0, k);
    }
  }

  /** The emit still in progress, or null. */
  private emitting: Promise<void> | null = null;

  override snapshotState(): unknown {
    const st: State = { inputs: super.snapshotState(), sides: this.sides.map((s) => encodeSide(s, this.engine, this.ttl > 0)) };
    return st;
  }

  override restoreState(state: unknown): void {
    const s = state as State;
    super.restoreState(s.inputs);
    s.sides.forEach((b, j) => this.restoreSide(j as 0 | 1, this.engine.decodeBatch(b)));
  }

  override restoreRescaled(states: readonly unknown[], keep: KeyGroupFilter): boolean {
    if (this.keyGroups === null) return false;
    const olds = states as State[];
    this.restoreInputsRescaled(olds.map((s) => s.inputs));
    for (const j of [0, 1] as const) {
      for (const s of olds) {
        const mine = keep.rows(this.engine.decodeBatch(s.sides[j]!), this.sides[j].keyIdx);
        if (mine !== null) this.restoreSide(j, mine);
      }
    }
    return true;
  }

  private restoreSide(j: 0 | 1, b: RecordBatch): void {
    const side = this.sides[j];
    const readers = Array.from({ length: side.width }, (_, c) => columnReader(b.columns[c]!, side.schema.fields[c]!.name));
    const keyCols = side.keyIdx.map((k) => b.columns[k]!);
    const views = keyViews(keyCols);
    // Each row's write time as checkpointed (a restore does not refresh it); state written without a TTL counts as written now.
    const access = this.ttl > 0 && b.schema.has(ACCESS) ? (b.columns[b.schema.indexOf(ACCESS)] as { values: BigInt64Array }).values : null;
    const restoredAt = this.ttl > 0 ? this.clock.now() : 0;
    for (let i = 0; i < b.length; i++) {
      this.sc.len = 0;
      encodeKey(keyCols, views, i, this.sc);
      const key = latin1(this.sc.buf, this.sc.len);
      const row = readers.map((r) => r(i));
      const rows = side.rows.get(key);
      if (rows === undefined) side.rows.set(key, [row]);
      else rows.push(row);
      if (this.ttl > 0) {
        const t = access === null ? restoredAt : Number(access[i]!);
        const times = side.times.get(key);
        if (times === undefined) side.times.set(key, [t]);
        else {
          // Keep write order (the oldest first): rows of one key may come from several checkpoints' subtasks.
          let at = times.length;
          while (at > 0 && times[at - 1]! > t) at--;
          times.splice(at, 0, t);
          const r = side.rows.get(key)!;
          r.splice(at, 0, r.pop()!);
        }
      }
    }
  }
}

const ACCESS = '$access';

/** A side's rows as a batch of its data fields, with a TTL their write times (what a checkpoint keeps, in the wire format). */
function encodeSide(s: Side, engine: Engine, ttl: boolean): Uint8Array {
  const fields = s.schema.fields.slice(0, s.width);
  const all: Values[] = [];
  const times: number[] = [];
  for (const [key, rows] of s.rows) {
    all.push(...rows);
    if (ttl) times.push(...s.times.get(key)!);
  }
  const b = fields.map((f) => columnBuilder(f, all.length));
  all.forEach((r, i) => fields.forEach((f, c) => b[c]!.append(r[c], f.name, i)));
  const cols = b.map((x) => x.finish());
  if (!ttl) return engine.encodeBatch(new RecordBatch(new Schema(fields), cols, all.length));
  cols.push({ type: 'i64', values: BigInt64Array.from(times, (t) => BigInt(t)), validity: null });
  return engine.encodeBatch(new RecordBatch(new Schema([...fields, { name: ACCESS, type: 'i64', nullable: false }]), cols, all.length));
}


/** Builds the output rows of one input batch. */
class Emitter {
  private readonly builders: ColumnBuilder[];
  private n = 0;
  constructor(
    private readonly schema: Schema,
    private readonly updating: boolean,
    private readonly myWidth: number,
    private readonly otherWidth: number,
    /** Which input `mine` is: 0 left, 1 right. */
    private readonly j: 0 | 1,
  ) {
    this.builders = schema.fields.map((f) => columnBuilder(f, 64));
  }

  /** One output row from this side's row and the other side's (null: padded). */
  row(mine: Values | null, other: Values | null, kind: number): void {
    const [l, r, lw, rw] = this.j === 0 ? [mine, other, this.myWidth, this.otherWidth] : [other, mine, this.otherWidth, this.myWidth];
    let c = 0;
    for (let k = 0; k < lw; k++) this.builders[c++]!.append(l === null ? null : l[k], 'join', this.n);
    for (let k = 0; k < rw; k++) this.builders[c++]!.append(r === null ? null : r[k], 'join', this.n);
    if (this.updating) this.builders[c]!.append(kind, '$rowkind', this.n);
    else if (kind !== INSERT) throw new Error('internal error: an append-only join emitted a retraction');
    this.n++;
  }

  finish(): RecordBatch | null {
    if (this.n === 0) return null;
    return new RecordBatch(this.schema, this.builders.map((b) => b.finish()), this.n);
  }
}

function describe(r: Values): string {
  const s = r.map((v) => (typeof v === 'bigint' ? v.toString() : JSON.stringify(v))).join(', ');
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}

const latin1 = (b: Uint8Array, n: number): string => {
  let s = '';
  for (let i = 0; i < n; i += 4096) s += String.fromCharCode.apply(null, b.subarray(i, Math.min(n, i + 4096)) as unknown as number[]);
  return s;
};
