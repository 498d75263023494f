/**
 * Runs a physical plan: instantiates operators on the chosen engine, drives every source
 * through its chain (sources run concurrently), and reports per-operator metrics. A failure
 * anywhere stops every source and rejects with the operator's name and the original error.
 */

import type { Source, SourceReader, SinkWriter } from '../api/connector.js';
import type { AggregateSpec, Engine } from '../engine/engine.js';
import type { RecordBatch, Row } from '../batch/record-batch.js';
import { Schema } from '../batch/schema.js';
import type { WatermarkStrategy } from '../api/watermark.js';
import { buildPlan, type PhysicalNode, type PhysicalPlan } from '../plan/physical.js';
import { withGapColumn } from '../engine/window-spec.js';
import { partitioningOf, type GraphNode, type JobGraph } from '../plan/graph.js';
import { annotate, operatorOf } from './errors.js';
import { CoFlatMapOperator, IntervalJoinOperator, UnionOperator, WindowCoGroupOperator, type KeyFn, type KeyGrouper } from './joins.js';
import { GlobalWindowOperator, UserWindowOperator, type WindowKeys } from './user-window.js';
import { Operator, SideOutputOperator } from './operator.js';
import { ExchangeReceiver, ExchangeSender, type ChannelIn, type ChannelOut } from './exchange.js';
import { deserialize } from 'node:v8';
import { ProgressTracker } from './progress.js';
import type { JobClient } from '../api/job-client.js';
import { WatermarkBoard } from './alignment.js';
import { CheckpointCoordinator, CheckpointTask, commitEntryName } from './checkpoint.js';
import { findLatest, type CheckpointData } from './checkpoint-store.js';
import { KeyedProcessOperator } from './process.js';
import { keyFnGroup, keyGroupsOf } from '../keys/key-groups.js';
import { defaultMemoryBytes, ManagedMemory, OperatorMemory, planMemory } from './memory.js';
import { FilterOperator, FlatMapOperator, KeySelectorOperator, MapOperator, SinkOperator, TimestampsOperator, WindowAggregateOperator, WindowPreAggregateOperator, ProcessingTimeOperator, maxEventTime } from './operators.js';
import { JobFailedError } from '../api/errors.js';
import type { CheckpointConfig, CheckpointStats, ExecuteOptions, JobResult, MemoryUse, OperatorMetrics, Progress } from '../api/job.js';

/** A source as the head of its chain: checks what the source produces before anyone reads it. */
class SourceOperator extends Operator {
  constructor(
    id: number,
    name: string,
    readonly reader: SourceReader,
    private readonly schema: Schema,
  ) {
    super(id, name);
  }
  processBatch(): void {
    throw new Error('a source has no input');
  }
  override checkpointGap(): string | null {
    return this.reader.checkpoint === undefined ? 'the source cannot record its read position, so a restore could not rewind it' : null;
  }
  override snapshotState(): unknown {
    return this.reader.checkpoint!();
  }
  override restoreState(state: unknown): void {
    this.reader.restore!(state);
  }
  push(batch: RecordBatch): Promise<void> {
    if (batch.length === 0) return this.tick();
    const position = this.metrics.recordsOut;
    if (!batch.schema.equals(this.schema)) {
      const kinds = (s: Schema) => s.fields.map((f) => `${f.name}: ${f.type}`).join(', ');
      if (kinds(batch.schema) !== kinds(this.schema)) {
        throw new Error(`${this.metrics.name} produced a batch of { ${kinds(batch.schema)} } but declared { ${kinds(this.schema)} }`);
      }
    }
    batch.columns.forEach((c, k) => {
      if (c.type !== this.schema.fields[k]!.type) {
        throw new Error(`${this.metrics.name}: column '${this.schema.fields[k]!.name}' holds ${c.type} values but is declared ${this.schema.fields[k]!.type}`);
      }
    });
    if (batch.eventTime !== null) maxEventTime(batch.eventTime, batch.length, this.metrics.name, position, '(event time)');
    const splits = this.reader.splits?.();
    if (splits !== undefined) for (const o of this.outputs) if (o instanceof TimestampsOperator) o.setSplits(splits.current, splits.active);
    return this.emit(batch);
  }
  /** Nothing to read right now: let the watermark generator consider the input idle. */
  private async tick(): Promise<void> {
    const now = performance.now();
    for (const o of this.outputs) if (o instanceof TimestampsOperator) await o.tick(now);
  }

  end(): Promise<void> {
    return this.emitWatermark(Infinity).then(() => this.emitEnd());
  }
}

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
  /** With checkpointing: this thread's task, and the checkpoint the run resumes from. */
  readonly checkpoints?: { readonly task: CheckpointTask; readonly restore: CheckpointData | null };
}

/** A source subtask in a watermark alignment group: its board slot, the group's slots, and its watermark. */
interface Alignment {
  readonly slot: number;
  readonly group: number[];
  readonly driftMs: number;
  readonly watermark: () => number;
  readonly idle: () => boolean;
}

/** Names input `j` of node `id`: one exchange. */
export function edgeKey(id: number, j: number): string {
  return `${id}:${j}`;
}

export async function executeJob(
  jobName: string,
  graph: JobGraph,
  engine: Engine,
  batchSize: number,
  options: ExecuteOptions = {},
  placement?: Placement,
  /** The run's managed memory (a parallel run's, shared), or the budget of a run on this thread alone. */
  memory: ManagedMemory | number = defaultMemoryBytes(),
  /** Source watermarks for alignment (a parallel run's, shared); made here for a run on this thread alone. */
  board?: WatermarkBoard,
): Promise<JobResult> {
  if (graph.sinks().length === 0) {
    throw new Error('the job has no sink: end a stream with sinkTo(...) or collect() before execute()');
  }
  const plan = buildPlan(graph);
  if (typeof memory === 'number') {
    const mine = ManagedMemory.create(memory, planMemory(plan, batchSize, memory).exchangeReservedBytes);
    engine.openMemoryPool(mine.id, mine.operatorBudgetBytes);
    try {
      return await executeJob(jobName, graph, engine, batchSize, options, placement, mine, board ?? WatermarkBoard.forPlan(plan));
    } finally {
      engine.closeMemoryPool(mine.id);
    }
  }
  const watermarks = board ?? WatermarkBoard.forPlan(plan);
  const checkpointing = graph.checkpoint;
  // A run on this thread alone coordinates its own checkpoints; in a parallel run the calling
  // thread does, and each thread has a task.
  const restoreStarted = performance.now();
  const restore =
    placement?.checkpoints !== undefined
      ? placement.checkpoints.restore === null
        ? null
        : { from: placement.checkpoints.restore, skipped: [] }
      : options.restoreFrom === undefined
        ? null
        : locateRestore(options.restoreFrom, checkpointing);
  const sinks: SinkOperator[] = [];
  let coordinator: CheckpointCoordinator | null = null;
  let task: CheckpointTask | null = placement?.checkpoints?.task ?? null;
  const injected = new Map<SourceOperator, number>();
  if (options.client !== undefined && checkpointing === null) {
    throw new Error('savepoints need checkpointing: call env.enableCheckpointing(intervalMs, { dir }) in the job');
  }
  let stopped = false;
  const stopRequested = (): boolean => stopped || options.signal?.aborted === true;
  // Stopping: sources stop between batches; receivers stop waiting for channels (parallel runs).
  const stopReceivers = (): void => {
    for (const r of receivers) r.abort();
  };
  options.signal?.addEventListener('abort', stopReceivers, { once: true });
  const sub = placement === undefined || placement.where === 'main' ? 0 : placement.where;
  const aligned = new Map<SourceOperator, Alignment>();
  const here = (p: PhysicalNode): boolean =>
    placement === undefined ? true : placement.where === 'main' ? p.onMain : !p.onMain && placement.where < p.parallelism;
  const receivers: ExchangeReceiver[] = [];
  const senders: ExchangeSender[] = [];
  const operators: Operator[] = [];
  const writers: SinkWriter[] = [];
  const sources: SourceOperator[] = [];
  const started = performance.now();

  const instantiate = (p: PhysicalNode): Operator => {
    const n = p.node;
    const op = n.op;
    let o: Operator;
    switch (op.kind) {
      case 'source': {
        const reader = (op.source as Source).open({ engine, batchSize, projection: p.projection, subtask: sub, parallelism: p.parallelism });
        const s = new SourceOperator(n.id, n.name, reader, p.outputSchema);
        sources.push(s);
        o = s;
        if (op.watermarks !== null) {
          // The source's watermark strategy runs chained right behind it.
          const ts = new TimestampsOperator(n.id, `${n.name} timestamps/watermarks`, op.watermarks as WatermarkStrategy<never>, p.outputSchema, n.name);
          const al = op.watermarks.alignment;
          if (al !== null) {
            s.metrics.alignmentPausedMs = 0;
            aligned.set(s, { slot: WatermarkBoard.slotOf(plan, n.id, sub), group: WatermarkBoard.groupSlots(plan, al.group), driftMs: al.maxDriftMs, watermark: () => ts.watermark, idle: () => ts.isIdle });
          }
          operators.push(o);
          s.addOutput(ts);
          o = ts;
        }
        break;
      }
      case 'map':
        o = new MapOperator(n.id, n.name, op.fn as (r: Row) => unknown, p.outputSchema);
        break;
      case 'filter':
        o = new FilterOperator(n.id, n.name, op.fn as (r: Row) => unknown);
        break;
      case 'flatMap':
        o = new FlatMapOperator(n.id, n.name, op.fn as (r: Row) => Iterable<unknown>, p.outputSchema);
        break;
      case 'timestamps':
        o = new TimestampsOperator(n.id, n.name, op.strategy, p.outputSchema, sourceName(n));
        break;
      case 'keySelector':
        o = new KeySelectorOperator(n.id, n.name, op.fn as (r: Row) => unknown, op.keyType, p.outputSchema);
        break;
      case 'windowPreAggregate': {
        const f = windowFields(n, p, op);
        const agg = engine.createWindowAggregator({ input: p.inputSchema!, keyFields: f.keyFields, window: op.window, aggregates: f.aggregates, memoryPool: memory.id });
        o = new WindowPreAggregateOperator(n.id, n.name, agg, stateShare(engine, memory, n, sub));
        break;
      }
      case 'windowAggregate': {
        const f = windowFields(n, p, op);
        const input = p.inputSchema!;
        // A dynamic session gap: the operator appends the gap column after the input's fields.
        const engineInput = op.gapFn === null ? input : withGapColumn(input);
        const window = op.gapFn === null ? op.window : { kind: 'session' as const, dynamicGapField: input.length };
        const agg = engine.createWindowAggregator({
          input: engineInput,
          keyFields: f.keyFields,
          window,
          aggregates: f.aggregates,
          allowedLatenessMs: op.lateness,
          memoryPool: memory.id,
        });
        const gap = op.gapFn === null ? null : { fn: op.gapFn as (r: Row) => unknown, schema: engineInput, origin: sourceName(n) };
        const wo = new WindowAggregateOperator(n.id, n.name, agg, gap, op.lateTag, op.window.kind === 'count', stateShare(engine, memory, n, sub), op.partialRecords === null ? null : f.at(op.partialRecords));
        if (checkpointing !== null) {
          wo.replay = { engine, window: op.window, lateness: op.lateness, keyFields: f.keyFields, maxParallelism: plan.maxParallelism };
        }
        o = wo;
        break;
      }
      case 'sink': {
        const w = op.sink.open(p.outputSchema, { engine, checkpointing: checkpointing !== null, restoring: restore !== null, subtask: sub, parallelism: p.parallelism });
        writers.push(w);
        const so = new SinkOperator(n.id, n.name, w, checkpointing !== null);
        sinks.push(so);
        o = so;
        break;
      }
      case 'union':
        o = new UnionOperator(n.id, n.name, n.inputs.length);
        break;
      case 'coFlatMap':
        o = new CoFlatMapOperator(n.id, n.name, op.fns as ((r: Row) => Iterable<unknown>)[], p.outputSchema);
        break;
      case 'windowJoin': {
        const j = new WindowCoGroupOperator(n.id, n.name, op.keys as [KeyFn, KeyFn], op.windows, op.fn as never, p.outputSchema, op.inner);
        j.keyGroups = joinKeyGroups(n, p, plan.maxParallelism);
        o = j;
        break;
      }
      case 'intervalJoin': {
        const j = new IntervalJoinOperator(n.id, n.name, op.keys as [KeyFn, KeyFn], op.keyFields, op.lower, op.upper, op.fn as never, p.outputSchema);
        j.keyGroups = joinKeyGroups(n, p, plan.maxParallelism);
        o = j;
        break;
      }
      case 'userWindow': {
        const w = new UserWindowOperator(n.id, n.name, op.key as (r: Row) => unknown, op.assigner, op.fn, p.outputSchema, op.lateTag, op.lateness);
        w.keyed = hashKeys(n, p, plan.maxParallelism);
        o = w;
        break;
      }
      case 'globalWindow': {
        const w = new GlobalWindowOperator(n.id, n.name, op.key as (r: Row) => unknown, op.spec, op.fn, p.outputSchema);
        w.keyed = hashKeys(n, p, plan.maxParallelism);
        o = w;
        break;
      }
      case 'sideOutput':
        o = new SideOutputOperator(n.id, n.name);
        break;
      case 'processingTime':
        o = new ProcessingTimeOperator(n.id, n.name);
        break;
      case 'keyedProcess':
        o = new KeyedProcessOperator(n.id, n.name, op.keyFields, op.fn as never, p.outputSchema, n.hasEventTime, sub, p.parallelism, keySchema(p, op.keyFields), plan.maxParallelism);
        break;
    }
    operators.push(o);
    // The tail emits to consumers: for a source with a strategy, the timestamps operator.
    tails.set(p, o);
    // Inputs come first in plan order, so their tails exist: connect each input edge.
    p.node.inputs.forEach((inputNode, j) => {
      const from = plan.all.find((q) => q.node === inputNode)!;
      if (placement !== undefined && p.edges[j]!.kind !== 'chain') {
        const r = new ExchangeReceiver(n.id, `${n.name} (input ${j + 1} exchange)`, placement.in(edgeKey(n.id, j), sub));
        r.addOutput(o, j);
        receivers.push(r);
      } else if (op.kind === 'sideOutput') tails.get(from)!.addSideOutput(op.tag, o);
      else tails.get(from)!.addOutput(o, j);
    });
    // Consumers in other subtasks or threads: one sender per exchange edge.
    if (placement !== undefined) {
      for (const c of p.children) {
        c.node.inputs.forEach((inputNode, j) => {
          const e = c.edges[j]!;
          if (inputNode !== p.node || e.kind === 'chain') return;
          const keys = e.keyFields.map((f) => p.outputSchema.indexOf(f));
          const name = `${n.name} -> ${c.node.name} (${e.kind})`;
          const edge = { kind: e.kind, partitioning: e.partitioning, keyFields: keys, maxParallelism: plan.maxParallelism };
          const sender = new ExchangeSender(c.node.id, name, edge, placement.out(edgeKey(c.node.id, j), sub), engine, sub);
          senders.push(sender);
          tails.get(p)!.addOutput(sender);
        });
      }
    }
    return o;
  };
  const tails = new Map<PhysicalNode, Operator>();

  let timer: NodeJS.Timeout | undefined;
  let failed = false;
  let cancelled = false;
  try {
    for (const p of plan.all) if (here(p)) instantiate(p);
    for (const x of operators) (x.metrics as { subtask: number }).subtask = sub;
    if (checkpointing !== null) {
      const all = dedupe(operators);
      const gaps = [...all, ...senders].map((o) => [o.metrics.name, o.checkpointGap()] as const).filter(([, g]) => g !== null);
      if (gaps.length > 0) throw new Error(`checkpointing cannot cover this job: ${gaps.map(([n, g]) => `'${n}': ${g}`).join('; ')}`);
      if (restore !== null) restoreOperators(all, sub, restore.from, plan);
      const restoreMs = restore === null ? 0 : performance.now() - restoreStarted;
      if (task === null) {
        const local: CheckpointTask = new CheckpointTask(0, (id, entries) => coordinator!.acknowledge(0, id, entries));
        task = local;
        coordinator = new CheckpointCoordinator(checkpointing, jobName, graph.parallel.parallelism, plan.maxParallelism, [{ trigger: (id) => local.trigger(id), complete: (id) => local.commit(id) }], restore);
      }
      for (const o of all) if (!o.transport) task.register(o);
      task.start();
      const atLeastOnce = sinks.filter((s) => s.committer === null).map((s) => s.metrics.name);
      if (atLeastOnce.length > 0) {
        process.emitWarning(`${atLeastOnce.join(', ')}: no two-phase commit, so after a restore these sinks get the records since the checkpoint again (at-least-once)`, { code: 'SLUICE_AT_LEAST_ONCE' });
      }
      const own = coordinator as CheckpointCoordinator | null;
      if (own !== null) {
        own.restoreMs = restoreMs;
        own.start();
        options.client?.attach({
          savepoint: (dir) => own.savepoint(dir),
          stop: () => {
            stopped = true;
            own.stop(); // no checkpoint after the savepoint: its output is what a restore continues from
            stopReceivers();
          },
        });
      }
    } else if (restore !== null) {
      throw new Error('restoreFrom needs a job with checkpointing: call env.enableCheckpointing(intervalMs, { dir }) in the job');
    }
    const report = typeof options.progress === 'function' ? options.progress : options.progress === true ? printProgress : null;
    if (report !== null) {
      const sourceMetrics = new Set(sources.map((o) => o.metrics));
      const tracker = new ProgressTracker(jobName, started, (m) => sourceMetrics.has(m), (m) => sinks.some((o) => o.metrics === m));
      timer = setInterval(() => report(tracker.tick(dedupe(operators).map((o) => o.metrics))), options.progressIntervalMs ?? 500);
    }
    /** Publishes the source's watermark, then waits while it is ahead of its group's lowest by more than the drift. */
    const align = async (s: SourceOperator, al: Alignment): Promise<void> => {
      // An idle source (withIdleness) holds no one back, as it holds no watermark back.
      if (al.idle()) {
        watermarks.publish(al.slot, Infinity);
        return;
      }
      watermarks.publish(al.slot, al.watermark());
      const t0 = performance.now();
      for (;;) {
        const seen = watermarks.changes();
        if (failed || stopRequested() || al.watermark() <= watermarks.lowest(al.group) + al.driftMs) break;
        // The timeout only bounds how late a failure or cancellation is noticed.
        await watermarks.changedSince(seen, 50);
      }
      s.metrics.alignmentPausedMs! += performance.now() - t0;
    };
    const drains = receivers.map(async (r) => {
      try {
        await r.run();
      } catch (e) {
        failed = true;
        throw e;
      }
    });
    await Promise.all([
      ...drains,
      ...sources.map(async (s) => {
        let lastTurn = performance.now();
        try {
          for (;;) {
            if (failed) return;
            if (stopRequested()) {
              cancelled = true;
              return;
            }
            const t0 = performance.now();
            const idle0 = s.reader.metrics?.().idleMs ?? 0;
            const b = await s.reader.next();
            s.metrics.busyMs += performance.now() - t0 - ((s.reader.metrics?.().idleMs ?? 0) - idle0);
            if (b === null) break;
            await s.push(b);
            // Let other sources, timers and (in a parallel run) batches and credits arriving from
            // other threads in between batches: a source whose consumers are all in this thread
            // would otherwise run ahead on microtasks alone, while the port messages of the other
            // subtasks wait, and the watermark (their minimum) falls behind.
            // With checkpoints, also so that a checkpoint's background write and commit progress
            // (every few ms is enough for that; a turn per batch cost about 2% of a job).
            if (sources.length > 1 || timer !== undefined || placement !== undefined || (task !== null && performance.now() - lastTurn >= 5)) {
              await new Promise<void>((r) => setImmediate(r));
              lastTurn = performance.now();
            }
            const al = aligned.get(s);
            if (al !== undefined) await align(s, al);
            if (task !== null) {
              (coordinator as CheckpointCoordinator | null)?.check();
              // Checkpoint triggered: record the position and send the barrier after the last batch.
              const id = task.triggered;
              if (id > (injected.get(s) ?? 0)) {
                injected.set(s, id);
                await s.processBarrier(id, 0);
              }
            }
          }
          const done = aligned.get(s);
          if (done !== undefined) watermarks.publish(done.slot, Infinity); // an ended source holds no one back
          await s.end();
        } catch (e) {
          failed = true;
          throw annotate(e, s.metrics.name);
        }
      }),
    ]);
    // A thread without sources (the sinks of a parallel run) learns of a stop from its receivers.
    if (stopRequested()) cancelled = true;
    if (task !== null && !failed && !cancelled) task.freeze();
    const own = coordinator as CheckpointCoordinator | null;
    if (own !== null && !failed && !cancelled) {
      // The final checkpoint publishes the last output; only then do the sinks close.
      own.threadEnded(0, (id) => task!.finalEntries(id));
      await own.finish();
      for (const s of sinks) await s.closeDeferred();
    }
  } catch (e) {
    failed = true;
    throw new JobFailedError(jobName, operatorOf(e) ?? 'job setup', sub, e);
  } finally {
    if (timer !== undefined) clearInterval(timer);
    options.signal?.removeEventListener('abort', stopReceivers);
    const c = coordinator as CheckpointCoordinator | null;
    options.client?.detach();
    if (c !== null && (failed || cancelled)) await c.abandon().catch(() => {});
    for (const s of sources) {
      try {
        await s.reader.close();
      } catch {
        // Closing after a failure must not hide the failure.
      }
    }
    if (failed || cancelled) {
      for (const w of writers) {
        try {
          await w.close();
        } catch {
          // as above
        }
      }
    }
  }
  if (!cancelled) {
    // Every operator must have seen every input end; anything else is a wiring bug, not success.
    for (const p of plan.all) {
      if (!here(p)) continue;
      const expected = p.node.inputs.length;
      const head = operators.find((x) => x.metrics.id === p.node.id)!;
      if (expected > 0 && head.endedInputs !== expected) {
        throw new JobFailedError(jobName, head.metrics.name, sub, new Error(`internal error: ${head.endedInputs} of its ${expected} inputs ended`));
      }
    }
  }
  const durationMs = performance.now() - started;
  for (const s of sources) {
    const m = s.reader.metrics?.();
    if (m?.deadLetters !== undefined) s.metrics.deadLetters = m.deadLetters;
  }
  const metrics = dedupe(operators).map((o) => ({
    ...o.metrics,
    recordsInPerSecond: (o.metrics.recordsIn / durationMs) * 1000,
    recordsOutPerSecond: (o.metrics.recordsOut / durationMs) * 1000,
  }));
  return {
    jobName,
    engine: engine.name,
    durationMs,
    recordsIn: sources.reduce((s, o) => s + o.metrics.recordsOut, 0),
    operators: metrics,
    lateRecordsDropped: metrics.reduce((s, m) => s + (m.lateRecordsDropped ?? 0), 0),
    deadLetters: metrics.reduce((s, m) => s + (m.deadLetters ?? 0), 0),
    cancelled,
    memory: memory.use(engine),
    ...(coordinator !== null ? { checkpoints: coordinator.result() } : {}),
  };
}

/** Finds the checkpoint to resume from (see ExecuteOptions.restoreFrom); null for a fresh start. */
export function locateRestore(from: string, config: CheckpointConfig | null): { from: CheckpointData; skipped: string[] } | null {
  const root = from === 'latest' ? config?.dir : from;
  if (root === undefined) throw new Error("restoreFrom: 'latest' needs a job with checkpointing: call env.enableCheckpointing(intervalMs, { dir }) in the job");
  const { checkpoint, skipped } = findLatest(root);
  for (const s of skipped) process.emitWarning(`skipping checkpoint: ${s}`, { code: 'SLUICE_CHECKPOINT_SKIPPED' });
  if (checkpoint !== null) return { from: checkpoint, skipped };
  if (from === 'latest') return null;
  throw new Error(`restoreFrom: no complete checkpoint in ${from}${skipped.length > 0 ? ` (${skipped.join('; ')})` : ''}`);
}

/**
 * Loads each operator's state (and each sink's commit state) from the checkpoint. An operator
 * whose parallelism changed since takes the entries of every old subtask and keeps the keys of
 * its key groups (keyed state); operators without keyed state must keep their parallelism.
 */
export function restoreOperators(all: readonly Operator[], sub: number, c: CheckpointData, plan: PhysicalPlan): void {
  if (c.maxParallelism !== plan.maxParallelism) {
    throw new Error(`checkpoint ${c.path} was taken with max parallelism ${c.maxParallelism}, this job has ${plan.maxParallelism}; key groups cannot change between a checkpoint and its restore, so set setMaxParallelism(${c.maxParallelism})`);
  }
  const parallelismOf = new Map(plan.all.map((p) => [p.node.id, p.onMain ? 1 : p.parallelism]));
  for (const o of all) {
    if (o.transport) continue;
    const name = o.metrics.name;
    const mine = c.entries.filter((e) => e.nodeId === o.metrics.id && e.name === name);
    if (mine.length === 0) throw new Error(`checkpoint ${c.path} has no state for '${name}' (operator ${o.metrics.id}): it was written by a different job; restore with the job that wrote it`);
    const commits = c.entries.filter((e) => e.nodeId === o.metrics.id && e.name === commitEntryName(name));
    const now = parallelismOf.get(o.metrics.id) ?? 1;
    if (mine.length === now) {
      const e = mine.find((x) => x.subtask === sub)!;
      const { watermark, state } = deserialize(e.data) as { watermark: number; state: unknown };
      o.restoreWatermark(watermark);
      o.restoreState(state);
      const pc = commits.find((x) => x.subtask === sub);
      if (pc !== undefined) o.restoreCommit(deserialize(pc.data));
      continue;
    }
    const olds = mine.map((e) => deserialize(e.data) as { watermark: number; state: unknown });
    o.restoreWatermark(Math.min(...olds.map((x) => x.watermark)));
    if (olds.every((x) => x.state === null)) continue;
    const max = plan.maxParallelism;
    if (!o.restoreRescaled(olds.map((x) => x.state), (kg) => Math.floor((kg * now) / max) === sub)) {
      throw new Error(`'${name}' has state of ${mine.length} subtasks in checkpoint ${c.path} and runs at parallelism ${now} now; only keyed state moves between subtasks, so run it at parallelism ${mine.length} (setParallelism(${mine.length}))`);
    }
    if (commits.length > 0) throw new Error(`'${name}': a sink's commit state cannot change parallelism (${commits.length} -> ${now})`);
  }
}

/**
 * A window node's key and aggregate fields (indices into its logical input) at its input as
 * planned (narrowed by projection); `at` resolves any other field.
 */
function windowFields(n: GraphNode, p: PhysicalNode, op: { readonly keyFields: readonly number[]; readonly aggregates: readonly AggregateSpec[] }) {
  const logical = n.input!.schema;
  const at = (i: number): number => p.inputSchema!.indexOf(logical.fields[i]!.name);
  return { at, keyFields: op.keyFields.map(at), aggregates: op.aggregates.map((a) => ({ ...a, field: a.field === null ? null : at(a.field) })) };
}

/** The TS engine's window state is counted in the run's managed memory here; the native engine reserves from the pool itself. */
function stateShare(engine: Engine, memory: ManagedMemory, n: GraphNode, sub: number): OperatorMemory | null {
  return engine.name === 'ts' ? new OperatorMemory(memory, `${n.name} (subtask ${sub})`) : null;
}

/** A node hashed by key fields: their schema (for key groups in snapshots); null when its input is not. */
function hashKeys(n: GraphNode, p: PhysicalNode, maxParallelism: number): WindowKeys | null {
  const part = partitioningOf(n, 0);
  return part.kind === 'hash' ? { schema: keySchema(p, part.keyFields), maxParallelism } : null;
}

/** How a two-input operator's keys map to key groups, as its input exchanges compute them; null when not keyed. */
function joinKeyGroups(n: GraphNode, p: PhysicalNode, maxParallelism: number): KeyGrouper | null {
  const hashed = hashKeys(n, p, maxParallelism);
  if (hashed !== null) return (keys) => keyGroupsOf(keys, hashed.schema, maxParallelism);
  if (partitioningOf(n, 0).kind === 'keyFn') return (keys) => Int32Array.from(keys, (k) => keyFnGroup(k, maxParallelism));
  return null;
}

/** The schema of a keyed node's key fields, as its input has them (for key groups in snapshots). */
function keySchema(p: PhysicalNode, keyFields: readonly string[]): Schema {
  return new Schema(keyFields.map((f) => p.inputSchema!.field(f)));
}

function dedupe(ops: Operator[]): Operator[] {
  return [...new Set(ops)];
}

function sourceName(n: { input: { input: unknown; name: string; op: { kind: string } } | null; name: string }): string {
  let cur: { input: unknown; name: string; op: { kind: string } } | null = n.input;
  while (cur !== null && cur.op.kind !== 'source') cur = cur.input as typeof cur;
  return cur === null ? n.name : cur.name;
}

export function printProgress(p: Progress): void {
  const line = formatProgress(p);
  if (process.stderr.isTTY) process.stderr.write(`\r${line}\x1b[K`);
  else process.stderr.write(`${line}\n`);
}

/** One status line: records in/out, rate, watermark and its lag, elapsed time, backpressure. */
export function formatProgress(p: Progress): string {
  const wm = p.watermark === null ? '-' : new Date(p.watermark).toISOString();
  const lag = p.watermarkLagMs === null ? '' : ` (lag ${(p.watermarkLagMs / 1000).toFixed(1)} s)`;
  const bp = p.backpressured === null ? '' : `, backpressured: ${p.backpressured.operator}${p.backpressured.blockedBy === null ? '' : ` (waiting on ${p.backpressured.blockedBy})`}`;
  return `[${p.jobName}] in ${fmt(p.recordsIn)}, out ${fmt(p.recordsOut)}, ${fmt(p.recordsPerSecond)}/s, watermark ${wm}${lag}, ${(p.elapsedMs / 1000).toFixed(1)} s${bp}`;
}

function fmt(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return n.toFixed(0);
}
