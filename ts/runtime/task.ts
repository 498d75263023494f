/**
 * One thread's part of a job (Flink's StreamTask): the subtasks of the plan placed on this
 * thread, built by their factories and wired into chains, with senders and receivers for the
 * exchanges to other subtasks. The task opens every operator, drives its sources (watermark
 * alignment, checkpoint barriers between batches), and closes every operator once at the end,
 * whatever happened. The single-thread run, each worker and the calling thread of a parallel
 * run all run their part as a task.
 */

import { deserialize } from 'node:v8';
import type { OperatorMetrics } from '../api/job.js';
import type { Engine } from '../engine/engine.js';
import type { JobGraph } from '../plan/graph.js';
import type { PhysicalNode, PhysicalPlan } from '../plan/physical.js';
import { WatermarkBoard } from './alignment.js';
import type { CheckpointTask } from './checkpoint.js';
import type { CheckpointData } from './checkpoint-store.js';
import { annotate } from './errors.js';
import { ExchangeReceiver, ExchangeSender, type ChannelIn, type ChannelOut } from './exchange.js';
import { buildOperator, type DrivenSource } from './factories.js';
import type { ManagedMemory } from './memory.js';
import type { Operator } from './operator.js';
import { KeyGroupFilter } from './rescale.js';
import { ownedBy, stateUids } from './state-identity.js';
import { isTwoPhaseCommitting } from './two-phase-commit.js';

/**
 * Which part of a parallel job this thread runs: subtask `where` of every operator that has
 * one (a worker), or the sinks that run on the calling thread ('main'); and its channels.
 */
export interface Placement {
  readonly where: number | 'main';
  /** The channels of an edge (`edgeKey`) from upstream subtask `from`, by downstream subtask. */
  readonly out: (edge: string, from: number) => (ChannelOut | undefined)[];
  /** The channels of an edge into downstream subtask `to`, by upstream subtask. */
  readonly in: (edge: string, to: number) => ChannelIn[];
}

/** Names input `j` of node `id`: one exchange. */
export function edgeKey(id: number, j: number): string {
  return `${id}:${j}`;
}

export interface TaskSetup {
  readonly graph: JobGraph;
  readonly plan: PhysicalPlan;
  readonly engine: Engine;
  readonly batchSize: number;
  readonly memory: ManagedMemory;
  /** Source watermarks for alignment (a parallel run's, shared). */
  readonly board: WatermarkBoard;
  /** A parallel run's part; undefined for a run on this thread alone. */
  readonly placement?: Placement;
  /** This run resumes from a checkpoint. */
  readonly restoring: boolean;
}

/** What the task asks of its run while it drives the sources. */
export interface TaskControl {
  /** True once the job is to stop (cancellation, stop with savepoint). */
  readonly stopRequested: () => boolean;
  /** With checkpoints: this thread's task (barriers are injected for what it triggered). */
  readonly checkpoints: CheckpointTask | null;
  /** Called between batches (a run with its own coordinator checks on it here). */
  readonly betweenBatches: () => void;
  /** Whether to give the event loop a turn after every batch (other sources, channels, timers). */
  readonly yieldEveryBatch: boolean;
}

/** A source subtask in a watermark alignment group: its board slot, the group's slots, and its drift. */
interface Aligned {
  readonly source: DrivenSource;
  readonly slot: number;
  readonly group: number[];
  readonly driftMs: number;
}

export class Task {
  /** The subtask this thread runs (0 for the calling thread). */
  readonly subtask: number;
  /** Every operator of the task, in plan order (a source before its chained watermark generator). */
  readonly operators: Operator[] = [];
  readonly receivers: ExchangeReceiver[] = [];
  readonly senders: ExchangeSender[] = [];
  private readonly sources: DrivenSource[] = [];
  private readonly aligned: Aligned[] = [];
  private readonly heads = new Map<number, Operator>();
  private failed = false;
  private closed = false;

  /** Builds every operator of this thread's part; what was built is closed again if one fails. */
  static async build(setup: TaskSetup): Promise<Task> {
    const task = new Task(setup);
    try {
      task.buildOperators();
    } catch (e) {
      await task.close(true);
      throw e;
    }
    return task;
  }

  private constructor(private readonly setup: TaskSetup) {
    const where = setup.placement?.where;
    this.subtask = where === undefined || where === 'main' ? 0 : where;
  }

  private buildOperators(): void {
    const { plan, graph } = this.setup;
    const tails = new Map<PhysicalNode, Operator>();
    for (const p of plan.all) {
      if (!this.here(p)) continue;
      const built = buildOperator({
        node: p.node,
        physical: p,
        plan,
        engine: this.setup.engine,
        batchSize: this.setup.batchSize,
        subtask: this.subtask,
        memory: this.setup.memory,
        checkpointing: graph.checkpoint !== null,
        restoring: this.setup.restoring,
        objectReuse: graph.objectReuse,
      });
      const uids = stateUids(p.node);
      built.head.stateUid = uids.head;
      if (built.head !== built.tail) {
        if (uids.tail === null) throw new Error(`${p.node.name}: two operators built for a node with one state identity`);
        built.tail.stateUid = uids.tail;
        this.operators.push(built.head);
      }
      this.operators.push(built.tail);
      this.heads.set(p.node.id, built.head);
      tails.set(p, built.tail);
      if (built.source !== undefined) this.addSource(built.source, p);
      this.connectInputs(p, built.head, tails);
      this.connectExchanges(p, built.tail);
    }
  }

  private here(p: PhysicalNode): boolean {
    const where = this.setup.placement?.where;
    return where === undefined ? true : where === 'main' ? p.onMain : !p.onMain && where < p.parallelism;
  }

  private addSource(source: DrivenSource, p: PhysicalNode): void {
    this.sources.push(source);
    const al = source.alignment;
    if (al === null) return;
    const plan = this.setup.plan;
    this.aligned.push({ source, slot: WatermarkBoard.slotOf(plan, p.node.id, this.subtask), group: WatermarkBoard.groupSlots(plan, al.group), driftMs: al.maxDriftMs });
  }

  /** Inputs come first in plan order, so their tails exist: connect each input edge. */
  private connectInputs(p: PhysicalNode, head: Operator, tails: Map<PhysicalNode, Operator>): void {
    const { plan, placement } = this.setup;
    const n = p.node;
    n.inputs.forEach((inputNode, j) => {
      const from = plan.all.find((q) => q.node === inputNode)!;
      if (placement !== undefined && p.edges[j]!.kind !== 'chain') {
        const r = new ExchangeReceiver(n.id, `${n.name} (input ${j + 1} exchange)`, placement.in(edgeKey(n.id, j), this.subtask));
        r.addOutput(head, j);
        this.receivers.push(r);
      } else if (n.op.kind === 'sideOutput') tails.get(from)!.addSideOutput(n.op.tag, head);
      else tails.get(from)!.addOutput(head, j);
    });
  }

  /** Consumers in other subtasks or threads: one sender per exchange edge. */
  private connectExchanges(p: PhysicalNode, tail: Operator): void {
    const { plan, placement, engine, graph, batchSize } = this.setup;
    if (placement === undefined) return;
    for (const c of p.children) {
      c.node.inputs.forEach((inputNode, j) => {
        const e = c.edges[j]!;
        if (inputNode !== p.node || e.kind === 'chain') return;
        const keys = e.keyFields.map((f) => p.outputSchema.indexOf(f));
        const name = `${p.node.name} -> ${c.node.name} (${e.kind})`;
        const edge = { kind: e.kind, partitioning: e.partitioning, keyFields: keys, maxParallelism: plan.maxParallelism };
        const buffering = { timeoutMs: graph.parallel.bufferTimeoutMs, batchSize };
        const sender = new ExchangeSender(c.node.id, name, edge, placement.out(edgeKey(c.node.id, j), this.subtask), engine, this.subtask, buffering);
        this.senders.push(sender);
        tail.addOutput(sender);
      });
    }
  }

  /** Every operator, sender and receiver of the task. */
  private get all(): Operator[] {
    return [...this.operators, ...this.senders, ...this.receivers];
  }

  /** Opens every operator (Flink's open), with this thread's checkpoint task. */
  async open(checkpoints: CheckpointTask | null): Promise<void> {
    for (const o of this.all) {
      try {
        await o.open({ subtask: this.subtask, parallelism: this.parallelismOf(o), checkpoints });
      } catch (e) {
        throw annotate(e, o);
      }
    }
    if (checkpoints !== null) {
      for (const o of this.operators) checkpoints.register(o);
      checkpoints.start();
    }
  }

  private parallelismOf(o: Operator): number {
    const p = this.setup.plan.all.find((q) => q.node.id === o.metrics.id);
    return p === undefined || p.onMain ? 1 : p.parallelism;
  }

  /** Why checkpoints cannot cover this task's operators (one line each), or none. */
  checkpointGaps(): string[] {
    return [...this.operators, ...this.senders].flatMap((o) => {
      const g = o.checkpointGap();
      return g === null ? [] : [`'${o.metrics.name}': ${g}`];
    });
  }

  /** Sinks without two-phase commit: after a restore they get the records since the checkpoint again. */
  atLeastOnceSinks(): string[] {
    return this.operators.filter((o) => o.metrics.role === 'sink' && !isTwoPhaseCommitting(o)).map((o) => o.metrics.name);
  }

  /**
   * Loads each operator's state (and each committing sink's pre-commit) from the checkpoint. An
   * operator whose parallelism changed since takes the entries of every old subtask and keeps
   * the keys of its key groups (keyed state); operators without keyed state must keep their
   * parallelism.
   */
  restore(c: CheckpointData): void {
    const plan = this.setup.plan;
    if (c.maxParallelism !== plan.maxParallelism) {
      throw new Error(`checkpoint ${c.path} was taken with max parallelism ${c.maxParallelism}, this job has ${plan.maxParallelism}; key groups cannot change between a checkpoint and its restore, so set setMaxParallelism(${c.maxParallelism})`);
    }
    const sub = this.subtask;
    for (const o of this.operators) {
      const name = o.metrics.name;
      const legacy = { nodeId: o.metrics.id, name };
      const mine = c.entries.filter((e) => ownedBy(e, o.stateUid, legacy, false));
      // An operator the checkpoint does not know (added since, or its uid changed) starts empty,
      // as in Flink; state that no operator claims was reported before the run started.
      if (mine.length === 0) continue;
      const commits = c.entries.filter((e) => ownedBy(e, o.stateUid, legacy, true));
      const now = this.parallelismOf(o);
      if (mine.length === now) {
        const e = mine.find((x) => x.subtask === sub)!;
        const { watermark, state } = deserialize(e.data) as { watermark: number; state: unknown };
        o.restoreWatermark(watermark);
        o.restoreState(state);
        const pc = commits.find((x) => x.subtask === sub);
        if (pc !== undefined && isTwoPhaseCommitting(o)) o.restoreCommit(deserialize(pc.data));
        continue;
      }
      // Rescaled: every old subtask's state, in subtask order.
      const bySubtask = (a: { subtask: number }, b: { subtask: number }): number => a.subtask - b.subtask;
      const olds = [...mine].sort(bySubtask).map((e) => deserialize(e.data) as { watermark: number; state: unknown });
      o.restoreWatermark(Math.min(...olds.map((x) => x.watermark)));
      if (olds.some((x) => x.state !== null) && !o.restoreRescaled(olds.map((x) => x.state), new KeyGroupFilter(sub, now, plan.maxParallelism))) {
        throw new Error(`'${name}' has state of ${mine.length} subtasks in checkpoint ${c.path} and runs at parallelism ${now} now; only keyed state (and sources that reassign their splits, such as Kafka's) moves between subtasks, so run it at parallelism ${mine.length} (setParallelism(${mine.length}))`);
      }
      if (commits.length > 0 && !(isTwoPhaseCommitting(o) && o.restoreCommitRescaled([...commits].sort(bySubtask).map((e) => deserialize(e.data))))) {
        throw new Error(`'${name}' has output of ${commits.length} subtasks to publish in checkpoint ${c.path} and runs at parallelism ${now} now; this sink cannot take over other subtasks' output, so run it at parallelism ${commits.length} (setParallelism(${commits.length}))`);
      }
    }
  }

  /** Stopping: receivers stop waiting on their channels, senders stop waiting for room in theirs. */
  abort(): void {
    for (const r of this.receivers) r.abort();
    for (const s of this.senders) s.abort();
  }

  /**
   * Drives every source to its end (or until a stop or failure) and drains the receivers;
   * resolves true when it stopped early.
   */
  async run(control: TaskControl): Promise<boolean> {
    let cancelled = false;
    const injected = new Map<DrivenSource, number>();
    const drains = this.receivers.map(async (r) => {
      try {
        await r.run();
      } catch (e) {
        this.failed = true;
        throw e;
      }
    });
    const driven = this.sources.map(async (s) => {
      const op = s.operator;
      const al = this.aligned.find((a) => a.source === s);
      let lastTurn = performance.now();
      try {
        for (;;) {
          if (this.failed) return;
          if (control.stopRequested()) {
            cancelled = true;
            return;
          }
          const t0 = performance.now();
          const idle0 = op.reader.metrics?.().idleMs ?? 0;
          const b = await op.reader.next();
          op.metrics.busyMs += performance.now() - t0 - ((op.reader.metrics?.().idleMs ?? 0) - idle0);
          if (b === null) break;
          await op.push(b);
          // Let other sources, timers and (in a parallel run) batches and credits arriving from
          // other threads in between batches: a source whose consumers are all in this thread
          // would otherwise run ahead on microtasks alone, while the port messages of the other
          // subtasks wait, and the watermark (their minimum) falls behind.
          // With checkpoints, also so that a checkpoint's background write and commit progress
          // (every few ms is enough for that; a turn per batch cost about 2% of a job).
          if (this.sources.length > 1 || control.yieldEveryBatch || (control.checkpoints !== null && performance.now() - lastTurn >= 5)) {
            await new Promise<void>((r) => setImmediate(r));
            lastTurn = performance.now();
          }
          if (al !== undefined) await this.align(al, control);
          const task = control.checkpoints;
          if (task !== null) {
            control.betweenBatches();
            // Checkpoint triggered: record the position and send the barrier after the last batch.
            const id = task.triggered;
            if (id > (injected.get(s) ?? 0)) {
              injected.set(s, id);
              await op.processBarrier(id, 0);
            }
          }
        }
        if (al !== undefined) this.setup.board.publish(al.slot, Infinity); // an ended source holds no one back
        await op.end();
      } catch (e) {
        this.failed = true;
        throw annotate(e, op);
      }
    });
    await Promise.all([...drains, ...driven]);
    // A thread without sources (the sinks of a parallel run) learns of a stop from its receivers.
    return cancelled || control.stopRequested();
  }

  /** Publishes the source's watermark, then waits while it is ahead of its group's lowest by more than the drift. */
  private async align(al: Aligned, control: TaskControl): Promise<void> {
    const board = this.setup.board;
    // An idle source (withIdleness) holds no one back, as it holds no watermark back.
    if (al.source.idle()) {
      board.publish(al.slot, Infinity);
      return;
    }
    board.publish(al.slot, al.source.watermark());
    const t0 = performance.now();
    for (;;) {
      const seen = board.changes();
      if (this.failed || control.stopRequested() || al.source.watermark() <= board.lowest(al.group) + al.driftMs) break;
      // The timeout only bounds how late a failure or cancellation is noticed.
      await board.changedSince(seen, 50);
    }
    const m = al.source.operator.metrics;
    m.alignmentPausedMs = (m.alignmentPausedMs ?? 0) + performance.now() - t0;
  }

  /** Every operator must have seen every input end; anything else is a wiring bug, not success. */
  checkEnded(): void {
    for (const p of this.setup.plan.all) {
      if (!this.here(p)) continue;
      const expected = p.node.inputs.length;
      const head = this.heads.get(p.node.id)!;
      if (expected > 0 && head.endedInputs !== expected) {
        throw annotate(new Error(`internal error: ${head.endedInputs} of its ${expected} inputs ended`), head);
      }
    }
  }

  /** Every operator's metrics (live: the same objects the operators update). */
  metrics(): OperatorMetrics[] {
    for (const s of this.sources) {
      const m = s.operator.reader.metrics?.();
      if (m?.deadLetters !== undefined) s.operator.metrics.deadLetters = m.deadLetters;
    }
    return this.operators.map((o) => o.metrics);
  }

  /** The job was stopped (not failed): operators that did not finish are told before they close. */
  async stopped(): Promise<void> {
    if (this.closed) return;
    for (const o of this.all) await o.stopped();
  }

  /**
   * Closes every operator once (Flink's close), in plan order. After a failure, errors while
   * closing are swallowed so that they do not hide it; otherwise the first one is thrown.
   */
  async close(afterFailure: boolean): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    let first: unknown = null;
    for (const o of this.all) {
      try {
        await o.close();
      } catch (e) {
        first ??= annotate(e, o);
      }
    }
    if (first !== null && !afterFailure) throw first;
  }
}
