/**
 * Operators of a running job, with Flink's lifecycle: built by their factory with everything
 * they need (runtime/factories.ts), `open` once before the first record, then `processBatch`,
 * `processWatermark` (and idleness, barriers), `snapshotState` / `restoreState` for
 * checkpoints, `finish` when an input ends, and `close` once at the very end, also after a
 * failure, to release what `open` or the constructor took. Each receives batches, watermarks
 * and end-of-input from its input and emits to its outputs (fan-out). Methods may return promises (sinks do); the task
 * awaits them, so a slow sink slows its source down instead of buffering.
 *
 * Time accounting, per operator: `busyMs` is time spent in its own work (downstream work
 * excluded); `backpressuredMs` is time it could not hand its output on because something
 * downstream was blocked waiting (a full collect() queue, a sink's pending write), as in
 * Flink's backPressuredTimeMs. The blocked sink itself counts that time as `blockedMs`.
 */

import type { RecordBatch } from '../batch/record-batch.js';
import type { Lease } from '../batch/lease.js';
import { annotate } from './errors.js';
import type { KeyGroupFilter } from './rescale.js';
import type { OperatorMetrics } from '../api/job.js';

const now = (): number => performance.now();

/** This thread's part in checkpoints (the checkpoint task), as operators report to it. */
export interface SnapshotListener {
  /** The operator passed barrier `id`: take its snapshot. */
  snapshot(op: Operator, id: number): void;
  /** The operator's input ended: it takes part in no further checkpoint of this run. */
  finished(op: Operator): void;
}

/** What an operator learns when its task opens it. */
export interface OperatorContext {
  /** The subtask this instance runs, of how many. */
  readonly subtask: number;
  readonly parallelism: number;
  /** This thread's checkpoint task, or null when the job takes no checkpoints. */
  readonly checkpoints: SnapshotListener | null;
}

export abstract class Operator {
  readonly metrics: OperatorMetrics;
  /** Every output edge: the operator fed and which of its inputs (one operator may be fed twice, e.g. `s.union(s)`). */
  private readonly edges: { readonly op: Operator; readonly input: number }[] = [];
  /** Consumers of side outputs, by tag id (e.g. a window's late records). */
  private readonly sideOutputs = new Map<string, Operator[]>();
  /** The last watermark this operator emitted. */
  watermark = -Infinity;
  /** Time spent in downstream calls, and time blocked downstream, cumulative. */
  private downstreamMs = 0;
  /** @internal Time blocked in this operator or below it, cumulative. */
  waitMs = 0;
  /** @internal What checkpoints know this operator's state by (state-identity.ts); set by the task that builds it. */
  stateUid = '';

  constructor(id: number, name: string, role?: OperatorMetrics['role']) {
    this.metrics = { id, name, subtask: 0, recordsIn: 0, recordsOut: 0, watermark: null, busyMs: 0, backpressuredMs: 0, ...(role === undefined ? {} : { role }) };
  }

  /** Called once before the first record (Flink's open): the subtask and the checkpoint task. */
  open(context: OperatorContext): Promise<void> | void {
    (this.metrics as { subtask: number }).subtask = context.subtask;
    this.task = context.checkpoints;
  }

  /**
   * Called once at the very end of the run, after success, cancellation or failure (Flink's
   * close): releases resources. With checkpoints, after the final checkpoint was committed.
   */
  close(): Promise<void> | void {}

  /**
   * The job was stopped (Ctrl-C, SIGTERM, a signal), not failed: called before `close` on
   * every operator that did not finish. Sinks publish what they received (see SinkWriter.finish).
   */
  stopped(): Promise<void> | void {}

  /** `input` says which input a multi-input operator receives on (0 for the rest). */
  abstract processBatch(batch: RecordBatch, input: number): Promise<void> | void;

  processWatermark(watermark: number, _input: number): Promise<void> | void {
    return this.emitWatermark(watermark);
  }

  /** End of input: flush state, then tell the outputs. */
  finish(_input: number): Promise<void> | void {
    return this.emitEnd();
  }

  /**
   * Checkpoints: why this operator's state cannot be checkpointed yet, or null when it can
   * (stateless operators can). A job with checkpointing fails at start when any says why not.
   */
  checkpointGap(): string | null {
    return null;
  }

  /**
   * Its state as a structured-cloneable value (the runtime saves the watermark of every operator
   * itself); `checkpointId` is the checkpoint it belongs to (absent for a job's final state).
   */
  snapshotState(_checkpointId?: number): unknown {
    return null;
  }

  /**
   * Checkpoint `id` is complete (Flink's notifyCheckpointComplete): for side effects that must
   * wait for it and are not output, e.g. a Kafka source committing its offsets to the group.
   * Committing sinks publish through TwoPhaseCommitting instead.
   */
  notifyCheckpointComplete(_id: number): Promise<void> | void {}

  restoreState(_state: unknown): void {}

  /** Resolves when no work of its own (e.g. a wall-clock timer) is in progress. */
  quiesce(): Promise<void> {
    return Promise.resolve();
  }

  /** Restores the last watermark this operator emitted (a checkpoint's). */
  restoreWatermark(watermark: number): void {
    this.watermark = watermark;
    this.metrics.watermark = Number.isFinite(watermark) ? watermark : null;
  }

  /** Inputs that have ended (counted by the caller, for the end-of-job check). */
  endedInputs = 0;

  /** An input became idle (or active again): single-input operators pass it on. */
  processIdle(idle: boolean, _input: number): Promise<void> | void {
    return this.emitIdle(idle);
  }

  protected async emitIdle(idle: boolean): Promise<void> {
    for (const [o, input] of this.allOutputs()) {
      const g = o.gate(input);
      if (g !== undefined) await g;
      await this.call(o, () => o.processIdle(idle, input));
    }
  }

  /** This thread's part in checkpoints (from open), or null. */
  protected task: SnapshotListener | null = null;

  /**
   * Checkpoint barrier `id` on input `input`: an operator with one input snapshots its state
   * and passes the barrier on (those with several align their inputs first).
   */
  async processBarrier(id: number, _input: number): Promise<void> {
    this.task?.snapshot(this, id);
    await this.emitBarrier(id);
  }

  protected async emitBarrier(id: number): Promise<void> {
    for (const [o, input] of this.allOutputs()) {
      const g = o.gate(input);
      if (g !== undefined) await g;
      await this.call(o, () => o.processBarrier(id, input));
    }
  }

  /**
   * While this operator aligns a checkpoint barrier, an input that delivered it already waits
   * (what follows the barrier belongs to the next checkpoint): the promise of its release.
   */
  gate(_input: number): Promise<void> | undefined {
    return undefined;
  }

  /** Exchanges move records between threads and hold no state of their own: checkpoints skip them. */
  readonly transport: boolean = false;

  /**
   * Restoring at another parallelism: the states of every old subtask, of which this subtask
   * keeps what `keep` says belongs to its key groups. False when the state is not keyed (and
   * so cannot move between subtasks).
   */
  restoreRescaled(_states: readonly unknown[], _keep: KeyGroupFilter): boolean {
    return false;
  }

  /** The operators this one feeds on its main output. */
  get outputs(): Operator[] {
    return this.edges.map((e) => e.op);
  }

  /** Feeds `o` with the side output `tag`; it gets this operator's watermarks and end too. */
  addSideOutput(tag: string, o: Operator): void {
    const list = this.sideOutputs.get(tag) ?? [];
    list.push(o);
    this.sideOutputs.set(tag, list);
  }

  hasSideOutput(tag: string): boolean {
    return this.sideOutputs.has(tag);
  }

  protected async emitSide(tag: string, batch: RecordBatch): Promise<void> {
    if (batch.length === 0) return;
    for (const o of this.sideOutputs.get(tag) ?? []) {
      const g = o.gate(0);
      if (g !== undefined) await g;
      o.metrics.recordsIn += batch.length;
      await this.call(o, () => o.processBatch(batch, 0));
    }
  }

  private *allOutputs(): Generator<[Operator, number]> {
    for (const e of this.edges) yield [e.op, e.input];
    for (const list of this.sideOutputs.values()) for (const o of list) yield [o, 0];
  }

  /** Feeds `o` (on its input `input`). */
  addOutput(o: Operator, input = 0): void {
    this.edges.push({ op: o, input });
  }

  /** Calls `o` with time accounting and error annotation. */
  private async call(o: Operator, f: () => Promise<void> | void): Promise<void> {
    const t0 = now();
    const down0 = o.downstreamMs;
    const wait0 = o.waitMs;
    try {
      await f();
    } catch (e) {
      throw annotate(e, o);
    }
    const total = now() - t0;
    o.metrics.busyMs += total - (o.downstreamMs - down0);
    this.downstreamMs += total;
    const waited = o.waitMs - wait0;
    if (waited > 0) {
      this.metrics.backpressuredMs += waited;
      this.waitMs += waited;
    }
  }

  /** A sink records time it spent blocked on its destination. */
  protected blocked(ms: number): void {
    this.metrics.blockedMs = (this.metrics.blockedMs ?? 0) + ms;
    this.metrics.busyMs -= ms;
    this.waitMs += ms;
  }

  protected async emit(batch: RecordBatch): Promise<void> {
    if (batch.length === 0) return;
    this.metrics.recordsOut += batch.length;
    for (const { op: o, input } of this.edges) {
      const g = o.gate(input);
      if (g !== undefined) await g;
      o.metrics.recordsIn += batch.length;
      await this.call(o, () => o.processBatch(batch, input));
    }
  }

  /**
   * Emits a batch written into buffers `lease` lent (batch/lease.ts): they go back to its pool
   * once downstream is done with the batch, or failed on it.
   */
  protected emitLent(batch: RecordBatch, lease: Lease): Promise<void> {
    return this.emit(batch).finally(() => lease.release());
  }

  protected async emitWatermark(watermark: number): Promise<void> {
    if (!(watermark > this.watermark)) return; // never backwards
    this.watermark = watermark;
    this.metrics.watermark = watermark;
    for (const [o, input] of this.allOutputs()) {
      const g = o.gate(input);
      if (g !== undefined) await g;
      await this.call(o, () => o.processWatermark(watermark, input));
    }
  }

  protected async emitEnd(): Promise<void> {
    this.task?.finished(this);
    for (const [o, input] of this.allOutputs()) {
      const g = o.gate(input);
      if (g !== undefined) await g;
      o.endedInputs++;
      await this.call(o, () => o.finish(input));
    }
  }
}

/**
 * An operator with several inputs: its watermark is the minimum over the inputs that have not
 * ended (an ended input counts as +Infinity), and it ends when every input has ended.
 */
export abstract class MultiInputOperator extends Operator {
  private readonly inputWatermarks: number[];
  private readonly ended: boolean[];
  private readonly idle: boolean[];
  private allIdle = false;

  constructor(id: number, name: string, readonly inputCount: number) {
    super(id, name);
    this.inputWatermarks = new Array<number>(inputCount).fill(-Infinity);
    this.ended = new Array<boolean>(inputCount).fill(false);
    this.idle = new Array<boolean>(inputCount).fill(false);
  }

  /** The minimum over inputs that are not idle (ended inputs are at +Infinity); null if all are idle. */
  private combined(): number | null {
    let min: number | null = null;
    for (let i = 0; i < this.inputCount; i++) {
      if (this.idle[i]) continue;
      const w = this.inputWatermarks[i]!;
      min = min === null ? w : Math.min(min, w);
    }
    return min;
  }

  private async advance(): Promise<void> {
    let c = this.combined();
    if (c === null && !this.allIdle) {
      // The last active input went idle: none will advance, so the highest of their watermarks
      // holds, as Flink's valve flushes the maximum (else an input that went idle before a
      // never-active one did would hold the windows back for good); then the idleness goes on.
      const max = Math.max(...this.inputWatermarks);
      if (max > this.watermark) {
        await this.onWatermark(max);
        // Inputs run concurrently: one may have become active while the watermark went down.
        c = this.combined();
      }
    }
    const nowAllIdle = c === null;
    if (nowAllIdle !== this.allIdle) {
      this.allIdle = nowAllIdle;
      await this.emitIdle(nowAllIdle);
    }
    if (c !== null && c > this.watermark) await this.onWatermark(c);
  }

  override processIdle(idle: boolean, input: number): Promise<void> {
    this.idle[input] = idle;
    return this.advance();
  }

  /** The barrier being aligned: which inputs delivered it, and the release of those waiting. */
  private aligning: { readonly id: number; readonly seen: boolean[]; readonly release: () => void; readonly gate: Promise<void> } | null = null;

  override gate(input: number): Promise<void> | undefined {
    const a = this.aligning;
    return a !== null && a.seen[input] === true ? a.gate : undefined;
  }

  /** Aligns barrier `id`: snapshots and passes it on once every input that has not ended delivered it. */
  override async processBarrier(id: number, input: number): Promise<void> {
    if (this.aligning === null) {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      this.aligning = { id, seen: new Array<boolean>(this.inputCount).fill(false), release, gate };
    } else if (this.aligning.id !== id) {
      throw new Error(`internal error: barrier ${id} arrived while barrier ${this.aligning.id} is being aligned`);
    }
    this.aligning.seen[input] = true;
    await this.alignedYet();
  }

  /** True while a barrier is being aligned. */
  get isAligning(): boolean {
    return this.aligning !== null;
  }

  private async alignedYet(): Promise<void> {
    const a = this.aligning;
    if (a === null || !a.seen.every((s, i) => s || this.ended[i])) return;
    this.aligning = null;
    this.task?.snapshot(this, a.id);
    await this.emitBarrier(a.id);
    a.release();
  }

  override snapshotState(): unknown {
    return { inputWatermarks: [...this.inputWatermarks] };
  }

  override restoreState(state: unknown): void {
    const s = state as { inputWatermarks: number[] };
    s.inputWatermarks.forEach((w, i) => (this.inputWatermarks[i] = w));
  }

  /** Rescaling: the input watermarks of several old subtasks (their `inputs` states); each input at the lowest. */
  protected restoreInputsRescaled(states: readonly unknown[]): void {
    for (let i = 0; i < this.inputCount; i++) this.inputWatermarks[i] = Math.min(...states.map((s) => (s as { inputWatermarks: number[] }).inputWatermarks[i]!));
  }

  /** Called when the combined watermark advances (never backwards). */
  protected onWatermark(watermark: number): Promise<void> | void {
    return this.emitWatermark(watermark);
  }

  /** Called once, when every input has ended (after a final +Infinity watermark). */
  protected onEnd(): Promise<void> | void {
    return this.emitEnd();
  }

  override processWatermark(watermark: number, input: number): Promise<void> | void {
    if (!(watermark > this.inputWatermarks[input]!)) return;
    this.inputWatermarks[input] = watermark;
    return this.advance();
  }

  /** Inputs whose end is being processed (their final watermark may still be on its way down). */
  private finishing = 0;

  override async finish(input: number): Promise<void> {
    this.ended[input] = true;
    this.idle[input] = false;
    // Inputs fed by separate exchange receivers end concurrently: the end goes on once, from
    // the last of them, after every input's final watermark (and what it fired) went down. Each
    // input ends once, so only the last call to leave sees none in flight and all ended.
    this.finishing++;
    try {
      // An ended input has nothing more to deliver before a barrier being aligned.
      await this.alignedYet();
      await this.processWatermark(Infinity, input);
    } finally {
      this.finishing--;
    }
    if (this.finishing === 0 && this.ended.every((e) => e)) await this.onEnd();
  }
}
