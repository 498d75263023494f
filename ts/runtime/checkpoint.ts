/**
 * Checkpoints (asynchronous barrier snapshots, as Flink). The coordinator, on the thread that
 * called execute(), triggers checkpoint n every interval; each thread's task lets its sources
 * inject barrier n at their next batch boundary after recording their position. Barriers flow
 * with the records (never overtaking them); an operator with one input snapshots its state when
 * the barrier passes, one with several inputs first waits for the barrier on all of them
 * (holding back the inputs that delivered it). When every operator of a thread has snapshotted,
 * the thread acknowledges with its state; when every thread has, the coordinator writes the
 * checkpoint (FlatBuffers, compressed, checksummed, manifest last) in the background, and only
 * then do the sinks commit, so published output always belongs to a complete checkpoint.
 */

import { serialize } from 'node:v8';
import type { Operator, SnapshotListener } from './operator.js';
import { pruneCheckpoints, writeCheckpoint, type CheckpointData, type StateEntry } from './checkpoint-store.js';
import type { CheckpointConfig, CheckpointRecord, CheckpointStats, JobEvent } from '../api/job.js';
import { commitEntryName, commitUid } from './state-identity.js';
import { isTwoPhaseCommitting } from './two-phase-commit.js';

/** An operator subtask's state and watermark, as a checkpoint stores them. */
function stateEntry(op: Operator, subtask: number, id?: number): StateEntry {
  return { nodeId: op.metrics.id, subtask, name: op.metrics.name, uid: op.stateUid, data: serialize({ watermark: op.watermark, state: op.snapshotState(id) }) };
}

/** A sink's pre-commit for checkpoint `id` (two-phase commit), or none. */
function commitEntries(op: Operator, subtask: number, id: number): StateEntry[] {
  if (!isTwoPhaseCommitting(op)) return [];
  const pc = op.preCommit(id);
  return pc === undefined ? [] : [{ nodeId: op.metrics.id, subtask, name: commitEntryName(op.metrics.name), uid: commitUid(op.stateUid), data: serialize(pc) }];
}

/** What checkpoint `id` stores of one operator subtask: its state and watermark, and a sink's pre-commit. */
export function snapshotEntries(op: Operator, subtask: number, id: number): StateEntry[] {
  return [stateEntry(op, subtask, id), ...commitEntries(op, subtask, id)];
}

/** One thread's part in the checkpoints of a run. */
export class CheckpointTask implements SnapshotListener {
  private readonly live = new Set<Operator>();
  private readonly finishedOps: Operator[] = [];
  private readonly pending = new Map<number, { entries: StateEntry[]; left: Set<Operator>; done: Set<Operator> }>();
  /** The newest checkpoint triggered: sources inject its barrier at their next batch boundary. */
  triggered = 0;
  /** Set once every operator of the thread is registered: a trigger before waits for it. */
  private ready = false;

  constructor(
    readonly subtask: number,
    private readonly ack: (id: number, entries: StateEntry[]) => void,
  ) {}

  register(op: Operator): void {
    this.live.add(op);
  }

  get operators(): Operator[] {
    return [...this.live, ...this.finishedOps];
  }

  trigger(id: number): void {
    this.triggered = id;
    if (!this.ready) return;
    this.open(id);
    this.maybeAck(id);
  }

  /** Every operator is registered: checkpoints can be acknowledged from now on. */
  start(): void {
    this.ready = true;
    if (this.triggered > 0) this.trigger(this.triggered);
  }

  /** `op` saw barrier `id` (after aligning its inputs): its state now belongs to checkpoint `id`. */
  snapshot(op: Operator, id: number): void {
    if (!this.live.has(op)) return; // transport (exchanges) holds no state
    const p = this.open(id);
    if (p.done.has(op)) return;
    p.entries.push(...snapshotEntries(op, this.subtask, id));
    p.done.add(op);
    p.left.delete(op);
    this.maybeAck(id);
  }

  /** `op` ended: it no longer waits for barriers; its (final) state is taken with each later acknowledgement. */
  finished(op: Operator): void {
    if (!this.live.delete(op)) return;
    this.finishedOps.push(op);
    for (const [id, p] of [...this.pending]) if (p.left.delete(op)) this.maybeAck(id);
  }

  private open(id: number) {
    let p = this.pending.get(id);
    if (p === undefined) {
      p = { entries: [], left: new Set(this.live), done: new Set() };
      this.pending.set(id, p);
    }
    return p;
  }

  private maybeAck(id: number): void {
    const p = this.pending.get(id);
    if (p === undefined || p.left.size > 0) return;
    this.pending.delete(id);
    for (const op of this.finishedOps) if (!p.done.has(op)) p.entries.push(...snapshotEntries(op, this.subtask, id));
    this.ack(id, p.entries);
  }

  private frozen: StateEntry[] | null = null;

  /** Every operator ended: takes their final state (before the sources are closed). */
  freeze(): void {
    this.frozen = this.operators.map((op) => stateEntry(op, this.subtask));
  }

  /** The final state of every operator (see freeze), with the sinks' pre-commit for the final checkpoint `id`. */
  finalEntries(id: number): StateEntry[] {
    const state = this.frozen ?? this.operators.map((op) => stateEntry(op, this.subtask));
    return [...state, ...this.operators.flatMap((op) => commitEntries(op, this.subtask, id))];
  }

  async commit(id: number): Promise<void> {
    for (const op of this.operators) {
      if (isTwoPhaseCommitting(op)) await op.commit(id);
      else await op.notifyCheckpointComplete(id);
    }
  }
}

/** A thread of the run as the coordinator sees it. */
export interface CheckpointThread {
  trigger(id: number): void;
  complete(id: number): Promise<void> | void;
}

/** Checkpoints kept in a run's history (CheckpointStats.history). */
const HISTORY = 50;

interface Savepoint {
  readonly dir: string;
  readonly resolve: (path: string) => void;
  readonly reject: (e: unknown) => void;
}

export class CheckpointCoordinator {
  private timer: NodeJS.Timeout | null = null;
  private nextId: number;
  private current: { id: number; acks: Map<number, StateEntry[]>; t0: number; savepoint: Savepoint | null } | null = null;
  private writing: Promise<void> | null = null;
  private failure: unknown = null;
  /** Final states of threads that ended (by checkpoint id), used in place of their acknowledgements. */
  private readonly finals = new Map<number, (id: number) => StateEntry[]>();
  private readonly savepointQueue: Savepoint[] = [];
  private readonly savepointDirs: string[] = [];
  private stats = { completed: 0, lastId: null as number | null, lastBytes: 0, lastDurationMs: 0, lastAlignMs: 0, largestBytes: 0, longestMs: 0 };
  private readonly history: CheckpointRecord[] = [];
  /** Per operator subtask (`nodeId/subtask`): its state in the last completed checkpoint, bytes. */
  private stateBytes = new Map<string, number>();
  /** Set by the runtime once the restore is done. */
  restoreMs = 0;

  constructor(
    private readonly config: CheckpointConfig,
    private readonly job: string,
    private readonly parallelism: number,
    private readonly maxParallelism: number,
    /** By thread index (a worker's subtask; the calling thread's index comes last). */
    private readonly threads: readonly CheckpointThread[],
    private readonly restored: { readonly from: CheckpointData; readonly skipped: readonly string[] } | null,
    /** Told of each checkpoint completed or failed. */
    private readonly onEvent: (event: JobEvent) => void = () => {},
    /** Throws when this run may no longer checkpoint or commit (ExecuteOptions.ownership). */
    private readonly ownership: (doing: string) => void = () => {},
  ) {
    this.nextId = (restored?.from.id ?? 0) + 1;
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), this.config.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** A failed write fails the job. */
  check(): void {
    if (this.failure !== null) throw this.failure;
  }

  get failed(): unknown {
    return this.failure;
  }

  private tick(): void {
    if (this.current !== null || this.writing !== null || this.failure !== null) return;
    this.begin(this.savepointQueue.shift() ?? null);
  }

  private begin(savepoint: Savepoint | null): void {
    const id = this.nextId++;
    this.current = { id, acks: new Map(), t0: performance.now(), savepoint };
    this.history.push({ id, savepoint: savepoint !== null, status: 'in progress', triggeredAt: Date.now(), alignMs: null, durationMs: null, bytes: null, path: null, error: null });
    if (this.history.length > HISTORY) this.history.shift();
    for (const [t, final] of this.finals) this.current.acks.set(t, final(id));
    this.threads.forEach((th, t) => {
      if (!this.finals.has(t)) th.trigger(id);
    });
    this.maybeComplete();
  }

  /** Thread `thread` snapshotted everything it runs for checkpoint `id`. */
  acknowledge(thread: number, id: number, entries: StateEntry[]): void {
    const c = this.current;
    if (c === null || c.id !== id) return;
    c.acks.set(thread, entries);
    this.maybeComplete();
  }

  /** Thread `thread` ended; its final state stands in for its acknowledgements from now on. */
  threadEnded(thread: number, final: (id: number) => StateEntry[]): void {
    this.finals.set(thread, final);
    const c = this.current;
    if (c !== null && !c.acks.has(thread)) {
      c.acks.set(thread, final(c.id));
      this.maybeComplete();
    }
  }

  private maybeComplete(): void {
    const c = this.current;
    if (c === null || c.acks.size < this.threads.length) return;
    this.current = null;
    this.stats.lastAlignMs = performance.now() - c.t0;
    this.record(c.id, { alignMs: this.stats.lastAlignMs });
    const entries = [...c.acks.values()].flat();
    this.writing = this.persist(c.id, entries, c.t0, c.savepoint).finally(() => {
      this.writing = null;
      if (this.savepointQueue.length > 0 && this.failure === null && this.timer !== null) this.begin(this.savepointQueue.shift()!);
    });
  }

  private async persist(id: number, entries: StateEntry[], t0: number, savepoint: Savepoint | null): Promise<void> {
    try {
      const meta = { id, job: this.job, parallelism: this.parallelism, maxParallelism: this.maxParallelism, entries };
      this.ownership(`writing checkpoint ${id}`);
      const dir = await writeCheckpoint(savepoint?.dir ?? this.config.dir, { ...meta, savepoint: savepoint !== null });
      this.onEvent({ kind: 'checkpoint-written', id, savepoint: savepoint !== null, path: dir });
      // Checked again once the checkpoint is durable: an owner that claimed the task before this
      // point reads it (and commits its transactions itself); one that claimed it later must not
      // see its transactions committed here.
      this.ownership(`committing checkpoint ${id}`);
      for (const th of this.threads) await th.complete(id);
      if (savepoint === null) pruneCheckpoints(this.config.dir, this.config.retain, id);
      this.stats.completed++;
      this.stats.lastId = id;
      this.stats.lastBytes = entries.reduce((s, e) => s + e.data.length, 0);
      this.stats.lastDurationMs = performance.now() - t0;
      this.stats.largestBytes = Math.max(this.stats.largestBytes, this.stats.lastBytes);
      this.stats.longestMs = Math.max(this.stats.longestMs, this.stats.lastDurationMs);
      const bytes = new Map<string, number>();
      for (const e of entries) bytes.set(`${e.nodeId}/${e.subtask}`, (bytes.get(`${e.nodeId}/${e.subtask}`) ?? 0) + e.data.length);
      this.stateBytes = bytes;
      this.record(id, { status: 'completed', durationMs: this.stats.lastDurationMs, bytes: this.stats.lastBytes, path: dir });
      this.onEvent({ kind: 'checkpoint', id, savepoint: savepoint !== null, path: dir, durationMs: this.stats.lastDurationMs, alignMs: this.stats.lastAlignMs, bytes: this.stats.lastBytes });
      if (savepoint !== null) {
        this.savepointDirs.push(dir);
        savepoint.resolve(dir);
      }
    } catch (failed) {
      let e = failed;
      // A write that failed because another owner took the run's directory over says so.
      try {
        this.ownership(`writing checkpoint ${id}`);
      } catch (refused) {
        e = refused;
      }
      const err = new Error(`checkpoint ${id} to ${savepoint?.dir ?? this.config.dir} failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      this.failure ??= err;
      this.record(id, { status: 'failed', error: err.message });
      this.onEvent({ kind: 'checkpoint-failed', id, error: err.message });
      savepoint?.reject(err);
    }
  }

  /** A savepoint into `dir` (its own checkpoint directory, kept): taken as the next checkpoint. */
  savepoint(dir: string): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const sp = { dir, resolve, reject };
      if (this.current === null && this.writing === null && this.timer !== null) this.begin(sp);
      else this.savepointQueue.push(sp);
    });
  }

  /** Waits for the checkpoint in progress, if any, to be written. */
  async settle(): Promise<void> {
    while (this.current !== null || this.writing !== null) {
      if (this.writing !== null) await this.writing;
      else await new Promise((r) => setTimeout(r, 1));
    }
  }

  /**
   * The input ended everywhere: one last checkpoint from the threads' final states covers the
   * final output, so that the sinks publish it (and a restore from it replays nothing).
   */
  async finish(): Promise<void> {
    this.stop();
    await this.settle();
    this.check();
    for (const sp of this.savepointQueue.splice(0)) sp.reject(new Error('the job ended before the savepoint was taken'));
    this.begin(null);
    await this.settle();
    this.check();
  }

  /** The run failed or was stopped: wait for a write in progress, commit nothing more. */
  async abandon(): Promise<void> {
    this.stop();
    if (this.current !== null) this.record(this.current.id, { status: 'failed', error: 'the job stopped before every thread acknowledged it' });
    for (const sp of this.savepointQueue.splice(0)) sp.reject(new Error('the job stopped before the savepoint was taken'));
    if (this.writing !== null) await this.writing.catch(() => {});
  }

  result(): CheckpointStats {
    return {
      ...this.stats,
      restoreMs: this.restoreMs,
      restoredFrom: this.restored?.from.path ?? null,
      skipped: this.restored?.skipped ?? [],
      savepoints: [...this.savepointDirs],
      history: this.history.map((r) => ({ ...r })),
    };
  }

  /** An operator subtask's state in the last completed checkpoint (bytes before compression), or undefined before the first. */
  checkpointedBytes(nodeId: number, subtask: number): number | undefined {
    return this.stateBytes.get(`${nodeId}/${subtask}`);
  }

  private record(id: number, change: Partial<CheckpointRecord>): void {
    const i = this.history.findIndex((r) => r.id === id);
    if (i >= 0) this.history[i] = { ...this.history[i]!, ...change };
  }
}
