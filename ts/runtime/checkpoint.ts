/**
 * The checkpoint coordinator of a run on one thread. Every interval it asks the sources to stop
 * at their next batch boundary (the barrier: in one thread, a source's batch has been through
 * every operator when its push returns, so no record is in flight); when all have stopped it
 * captures every operator's state and each sink's pre-commit at once, lets the sources go on,
 * and writes the checkpoint in the background. Only when the checkpoint is durable (manifest
 * last) do the sinks commit, so published output always belongs to a complete checkpoint.
 */

import { serialize } from 'node:v8';
import type { Operator } from './operator.js';
import { pruneCheckpoints, writeCheckpoint, type CheckpointData, type StateEntry } from './checkpoint-store.js';

export interface CheckpointConfig {
  readonly intervalMs: number;
  readonly dir: string;
  /** Complete checkpoints kept (default 3). */
  readonly retain: number;
}

export interface CheckpointStats {
  /** Checkpoints completed in this run (the final one included). */
  readonly completed: number;
  readonly lastId: number | null;
  /** Compressed size of the last checkpoint's state, bytes. */
  readonly lastBytes: number;
  /** Time from the barrier to the completed checkpoint (durable, sinks committed), ms. */
  readonly lastDurationMs: number;
  /** Time the sources were held for the last capture, ms. */
  readonly lastPauseMs: number;
  /** The checkpoint this run resumed from, or null. */
  readonly restoredFrom: string | null;
  /** Newer checkpoints passed over at restore because they were incomplete or damaged, with the reason. */
  readonly skipped: readonly string[];
}

/** Two-phase-commit hooks of a sink subtask. */
export interface Committer {
  readonly name: string;
  preCommit(id: number): unknown;
  commit(id: number): Promise<void> | void;
}

export class CheckpointCoordinator {
  private requested = false;
  /** When the next checkpoint is due (wall clock, ms). */
  private due = 0;
  private writing: Promise<void> | null = null;
  private failure: unknown = null;
  private readonly live = new Set<object>();
  private readonly arrived = new Set<object>();
  private release: (() => void) | null = null;
  private gate: Promise<void> | null = null;
  private nextId: number;
  private stats: { completed: number; lastId: number | null; lastBytes: number; lastDurationMs: number; lastPauseMs: number } = {
    completed: 0,
    lastId: null,
    lastBytes: 0,
    lastDurationMs: 0,
    lastPauseMs: 0,
  };

  constructor(
    private readonly config: CheckpointConfig,
    private readonly job: string,
    private readonly parallelism: number,
    private readonly maxParallelism: number,
    /** Every operator of the run with the subtask it is. */
    private readonly operators: readonly { readonly op: Operator; readonly subtask: number }[],
    private readonly committers: readonly { readonly nodeId: number; readonly subtask: number; readonly c: Committer }[],
    sources: readonly object[],
    private readonly restored: { readonly from: CheckpointData; readonly skipped: readonly string[] } | null,
  ) {
    this.nextId = (restored?.from.id ?? 0) + 1;
    for (const s of sources) this.live.add(s);
  }

  start(): void {
    this.due = performance.now() + this.config.intervalMs;
  }

  stop(): void {
    this.due = Infinity;
  }

  /** A failed background write fails the job at the next batch boundary. */
  check(): void {
    if (this.failure !== null) throw this.failure;
  }

  /** Called by a source between batches: stops here while a checkpoint is being captured. */
  async barrier(source: object): Promise<void> {
    this.check();
    // Due by the clock, and the previous checkpoint is complete (one at a time, as Flink's default).
    if (!this.requested && this.writing === null && performance.now() >= this.due) this.requested = true;
    if (!this.requested) return;
    this.arrived.add(source);
    this.gate ??= new Promise<void>((r) => (this.release = r));
    const gate = this.gate;
    if (this.allArrived()) await this.capture();
    else await gate;
  }

  /** A source ended: it no longer holds a checkpoint back. */
  async ended(source: object): Promise<void> {
    this.live.delete(source);
    this.arrived.delete(source);
    if (this.requested && this.arrived.size > 0 && this.allArrived()) await this.capture();
  }

  private allArrived(): boolean {
    for (const s of this.live) if (!this.arrived.has(s)) return false;
    return true;
  }

  /** Captures the state of every operator (sources stopped), then lets the sources go on. */
  private async capture(): Promise<void> {
    const t0 = performance.now();
    // Processing-time timers may be mid-flight; let them finish before reading state.
    await Promise.all(this.operators.map(({ op }) => op.quiesce()));
    const id = this.nextId++;
    const entries: StateEntry[] = [];
    for (const { op, subtask } of this.operators) {
      entries.push({ nodeId: op.metrics.id, subtask, name: op.metrics.name, data: serialize({ watermark: op.watermark, state: op.snapshotState() }) });
    }
    for (const { nodeId, subtask, c } of this.committers) {
      entries.push({ nodeId, subtask, name: `${c.name} (commit)`, data: serialize(c.preCommit(id)) });
    }
    this.requested = false;
    this.arrived.clear();
    const release = this.release;
    this.gate = null;
    this.release = null;
    this.stats.lastPauseMs = performance.now() - t0;
    if (this.due !== Infinity) this.due = performance.now() + this.config.intervalMs;
    release?.();
    this.writing = this.persist(id, entries, t0);
  }

  private async persist(id: number, entries: StateEntry[], t0: number): Promise<void> {
    try {
      await writeCheckpoint(this.config.dir, { id, job: this.job, parallelism: this.parallelism, maxParallelism: this.maxParallelism, savepoint: false, entries });
      for (const { c } of this.committers) await c.commit(id);
      pruneCheckpoints(this.config.dir, this.config.retain, id);
      this.stats.completed++;
      this.stats.lastId = id;
      this.stats.lastBytes = entries.reduce((s, e) => s + e.data.length, 0);
      this.stats.lastDurationMs = performance.now() - t0;
    } catch (e) {
      this.failure ??= new Error(`checkpoint ${id} to ${this.config.dir} failed: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      this.writing = null;
    }
  }

  /**
   * The input ended everywhere: one last checkpoint covers the final output, so that the sinks
   * publish it (and a restore from it replays nothing).
   */
  async finish(): Promise<void> {
    this.stop();
    if (this.writing !== null) await this.writing;
    this.check();
    this.requested = true;
    await this.capture();
    await this.writing;
    this.check();
  }

  /** The run failed or was stopped: wait for a write in progress, commit nothing more. */
  async abandon(): Promise<void> {
    this.stop();
    const w = this.writing;
    if (w !== null) await w;
  }

  result(): CheckpointStats {
    return { ...this.stats, restoredFrom: this.restored?.from.path ?? null, skipped: this.restored?.skipped ?? [] };
  }
}
