/**
 * A job run as one instance of a Kafka application (ExecuteOptions.application; design and
 * limits in docs/application-mode.md). The job's tasks are its input partitions: task n reads
 * partition n of every input topic (co-partitioned, as Kafka Streams' tasks) and runs the
 * whole job on them when every keyBy is by the input's declared partitioning; otherwise the job
 * is cut at its keyBys (sub-topologies.ts) and tasks kP..(k+1)P-1 run sub-topology k on the
 * partitions of the repartition topic that sub-topology k-1's tasks write (repartition-source.ts,
 * KafkaSink.repartition).
 * Tasks are shared among the instances
 * through the consumer group `<application id>` (task-group.ts); each task runs as its own job
 * at parallelism 1 on this thread, checkpointing into its owner directory under
 * `<stateDir>/<id>/task-<n>` (a directory every instance reaches), with its own transactional
 * ids in its Kafka sinks. An instance given a task first claims it (task-ownership.ts: a new
 * owner epoch, after which the former owner can no longer restore, checkpoint or commit), then
 * resumes it from the checkpoint the task's lineage gives: its source offsets, its keyed state,
 * and the sink transactions it had prepared (committed on restore; anything the former owner
 * left open is fenced by the sink's restore, as after a crash of a single process). The group
 * membership runs on a worker thread (task-group-thread.ts), so heartbeats go on while tasks
 * keep this thread busy.
 */

import { join } from 'node:path';
import { registerApplicationRunner } from '../../api/environment.js';
import type { ApplicationEvent, ExecuteOptions, JobResult, OperatorMetrics, Progress } from '../../api/job.js';
import { JobGraph, ParallelSettings, type GraphNode } from '../../plan/graph.js';
import { bootstrapList, kafkaError, loadKafka } from './client.js';
import { KafkaSink } from './sink.js';
import { KafkaSource } from './source.js';
import { RepartitionSource } from './repartition-source.js';
import { cutTopics, levels, repartitionCuts, subTopologyCount, type RepartitionCut } from './sub-topologies.js';
import { TaskGroupThread } from './task-group-thread.js';
import { TaskProgress } from './task-progress.js';
import { CLAIMED_ELSEWHERE, TaskClaim } from './task-ownership.js';
import { errorCodes } from './transactions.js';

interface RunningTask {
  readonly abort: AbortController;
  readonly done: Promise<void>;
}

/** What a task's graph is built from: the job's cuts (none: the whole job per partition), their repartition topics and each sub-topology's tasks. */
interface Layout {
  readonly cuts: readonly RepartitionCut[];
  /** The repartition topics of each cut, one per input of its node. */
  readonly topics: readonly (readonly string[])[];
  /** Each sub-topology's task count: the input topics' partition count, then each repartition topic's. */
  readonly counts: readonly number[];
  /** Each sub-topology's first task (the counts before it summed). */
  readonly firsts: readonly number[];
  readonly bootstrap: readonly string[];
}

/**
 * The graph of task `task`, of sub-topology k (the nodes of level k, sub-topologies.ts) and its
 * partition p (the task's index in k): in sub-topology 0 the Kafka sources read input partition
 * p only; a cut starting sub-topology k reads partition p of its topics, from repartition
 * sources, instead of its inputs; an input of a cut that is in sub-topology k ends in a
 * repartition sink into the cut's topic for it. Kafka sinks write under the task's
 * transactional ids; checkpoints go to the owner's directory.
 */
function taskGraph(graph: JobGraph, application: string, task: number, claim: TaskClaim, ownership: (doing: string) => void, layout: Layout): JobGraph {
  const dir = claim.dir;
  const parallel = new ParallelSettings();
  parallel.maxParallelism = graph.parallel.maxParallelism;
  for (const id of graph.parallel.newChain) parallel.newChain.add(id);
  for (const id of graph.parallel.noChain) parallel.noChain.add(id);
  const g = new JobGraph(parallel);
  g.checkpoint = { ...graph.checkpoint!, dir };
  g.objectReuse = graph.objectReuse;
  const owner = { name: claim.owner, predecessors: claim.predecessors, beforeTransaction: () => ownership('beginning a transaction') };
  // The graph is built again per task (its own user functions): the cuts' nodes are found by id.
  const cutNodes = layout.cuts.map((cut) => {
    const n = graph.nodes.find((x) => x.id === cut.node.id);
    if (n === undefined || n.op.kind !== cut.node.op.kind) throw new Error(`application '${application}': the job's module built another graph for task ${task} than at the start (node ${cut.node.id} is no longer '${cut.node.name}'); the module must build the same job every time`);
    return n;
  });
  let sub = 0;
  while (sub + 1 < layout.firsts.length && layout.firsts[sub + 1]! <= task) sub++;
  const partition = task - layout.firsts[sub]!;
  const level = levels(layout.cuts);
  const copies = new Map<GraphNode, GraphNode>();
  // A cut's node of this sub-topology reads its inputs from its topics' sources (one input node
  // may feed several cuts, each through a topic of its own).
  const fromTopics = new Map<GraphNode, GraphNode[]>();
  let nextId = Math.max(...graph.nodes.map((n) => n.id)) + 1;
  layout.cuts.forEach((cut, c) => {
    if (cut.level !== sub) return;
    // Its rows, event time and watermarks as the cut's inputs had them, from the sub-topology that wrote each.
    const sources = cutNodes[c]!.inputs.map((input, j) => {
      const topic = layout.topics[c]![j]!;
      const source = new RepartitionSource(input.schema, { bootstrap: layout.bootstrap, topic, partition, upstreamTasks: layout.counts[cut.inputLevels[j]!]!, application, hasEventTime: input.hasEventTime, retain: graph.checkpoint!.retain });
      const node: GraphNode = { id: nextId++, name: `Source: ${source.name}`, op: { kind: 'source', source, watermarks: null }, input: null, inputs: [], partitioning: { kind: 'forward' }, schema: input.schema, hasEventTime: input.hasEventTime };
      g.nodes.push(node);
      return node;
    });
    fromTopics.set(cutNodes[c]!, sources);
  });
  for (const n of graph.nodes) {
    if (level(n) !== sub) continue;
    let op = n.op;
    if (op.kind === 'source' && op.source instanceof KafkaSource) op = { ...op, source: op.source.forPartitions([partition]) };
    if (op.kind === 'sink' && op.sink instanceof KafkaSink) op = { ...op, sink: op.sink.forTask(application, task, owner) };
    const inputs = fromTopics.get(n) ?? n.inputs.map((i) => copies.get(i)!);
    const copy: GraphNode = { ...n, op, input: n.input === null ? null : inputs[0]!, inputs };
    copies.set(n, copy);
    g.nodes.push(copy);
  }
  // Every input of a cut that lives in this sub-topology ends here, in the cut's topic for it: exactly once, as any Kafka sink of a task.
  let sinkInTask = 0;
  layout.cuts.forEach((cut, c) => {
    cutNodes[c]!.inputs.forEach((from, j) => {
      if (cut.inputLevels[j] !== sub) return;
      const topic = layout.topics[c]![j]!;
      const input = copies.get(from)!;
      const sink = KafkaSink.repartition({ bootstrap: layout.bootstrap, topic, keyFields: cut.keys[j]!, maxParallelism: graph.parallel.maxParallelism, partitions: layout.counts[cut.level]!, task: partition, application, sinkInTask: sinkInTask++ }).forTask(application, task, owner);
      g.nodes.push({ id: nextId++, name: `Sink: repartition topic '${topic}'`, op: { kind: 'sink', sink }, input, inputs: [input], partitioning: { kind: 'forward' }, schema: input.schema, hasEventTime: input.hasEventTime });
    });
  });
  return g;
}

/** Creates the repartition topic with `partitions` partitions, or checks the one there has them (`source`: where that count comes from, for the error). */
async function ensureRepartitionTopic(bootstrap: readonly string[], topic: string, partitions: number, source: string, who: string): Promise<void> {
  const kafka = await loadKafka();
  const admin = new kafka.Admin({ clientId: `${who}-admin`, bootstrapBrokers: [...bootstrap], retries: 3 });
  try {
    try {
      await admin.createTopics({ topics: [topic], partitions });
    } catch (e) {
      // Another instance created it first (TOPIC_ALREADY_EXISTS, 36): its partition count is checked below.
      if (!errorCodes(e).includes(36) && !/already exists/i.test(String(e) + String((e as { errors?: unknown[] }).errors?.map(String)))) throw kafkaError(who, bootstrap, `creating the repartition topic '${topic}'`, e);
    }
    const meta = await admin.metadata({ topics: [topic], forceUpdate: true, autocreateTopics: false });
    const n = meta.topics.get(topic)?.partitionsCount;
    if (n !== partitions) {
      throw new Error(`${who}: the repartition topic '${topic}' has ${String(n)} partitions, the application needs ${partitions} (${source}); a task's state belongs to one repartition partition, so they must match. Delete the topic (and the application's state directory) to start over, or give the former count back`);
    }
  } finally {
    await admin.close();
  }
}

/** The job's input topics and brokers; fails for a job that cannot run as an application. */
function inputTopics(graph: JobGraph): { topics: string[]; bootstrap: readonly string[] } {
  const sources = graph.sources();
  const topics: string[] = [];
  let bootstrap: readonly string[] = [];
  for (const s of sources) {
    const src = s.op.kind === 'source' ? s.op.source : null;
    if (!(src instanceof KafkaSource)) throw new Error(`ExecuteOptions.application: source '${s.name}' is not a KafkaSource; an application's tasks are its input partitions, so every source must read Kafka topics`);
    const t = src.topicsAndBootstrap;
    if (t.topics === null) throw new Error(`ExecuteOptions.application: source '${s.name}' reads a topic pattern; give the topics by name (setTopics), since the tasks are fixed by their partitions`);
    topics.push(...t.topics);
    bootstrap = t.bootstrap;
  }
  if (topics.length === 0) throw new Error('ExecuteOptions.application: the job has no source');
  for (const s of graph.sinks()) {
    const sink = s.op.kind === 'sink' ? s.op.sink : null;
    if (!(sink instanceof KafkaSink)) throw new Error(`ExecuteOptions.application: sink '${s.name}' is not a KafkaSink; an application's output must be a Kafka topic (its tasks move between instances)`);
  }
  return { topics, bootstrap };
}

async function partitionCounts(bootstrap: readonly string[], topics: readonly string[], who: string): Promise<Map<string, number>> {
  const kafka = await loadKafka();
  const admin = new kafka.Admin({ clientId: `${who}-admin`, bootstrapBrokers: [...bootstrap], retries: 3 });
  try {
    const meta = await admin.metadata({ topics: [...topics], forceUpdate: true, autocreateTopics: false });
    const out = new Map<string, number>();
    for (const t of topics) {
      const m = meta.topics.get(t);
      if (m === undefined) throw new Error(`${who}: input topic '${t}' does not exist; create it first`);
      out.set(t, m.partitionsCount);
    }
    return out;
  } catch (e) {
    if (e instanceof Error && e.message.startsWith(who)) throw e;
    throw kafkaError(who, bootstrap, 'reading the input topics\' metadata', e);
  } finally {
    await admin.close();
  }
}

async function runApplication(
  jobName: string,
  graph: JobGraph,
  options: ExecuteOptions,
  build: () => Promise<JobGraph>,
  run: (graph: JobGraph, options: ExecuteOptions) => Promise<JobResult>,
): Promise<JobResult> {
  const app = options.application!;
  const who = `application '${app.id}'`;
  if (typeof app.id !== 'string' || !/^[A-Za-z0-9._-]+$/.test(app.id)) throw new TypeError(`ExecuteOptions.application.id: letters, digits, '.', '_' and '-' only (it names the consumer group and directories), got ${JSON.stringify(app.id)}`);
  if (graph.checkpoint === null) throw new Error(`${who}: the job must checkpoint (env.enableCheckpointing(intervalMs, { dir })): a task's state and offsets move to another instance through its checkpoints`);
  if (options.restoreFrom !== undefined) throw new Error(`${who}: restoreFrom does not apply: each task resumes from its own newest checkpoint under the state directory`);
  const { topics, bootstrap: sourceBootstrap } = inputTopics(graph);
  const emit = (e: ApplicationEvent): void => app.onEvent?.(e);
  const bootstrap = bootstrapList(app.bootstrap, 'ExecuteOptions.application.bootstrap');
  const cuts = repartitionCuts(graph, who);
  const counts = await partitionCounts(sourceBootstrap, topics, who);
  const partitions = Math.max(...counts.values());
  for (const [t, n] of counts) {
    if (n !== partitions) throw new Error(`${who}: input topics must have the same number of partitions (task n reads partition n of each): '${t}' has ${n}, another ${partitions}`);
  }
  // The first sub-topology's tasks read the input partitions, each later one's its repartition topic's (numbered on from there).
  const r = app.repartitionPartitions;
  if (r !== undefined && !(Number.isSafeInteger(r) && r >= 1 && r <= graph.parallel.maxParallelism)) throw new RangeError(`ExecuteOptions.application.repartitionPartitions: a whole number from 1 to the job's max parallelism ${graph.parallel.maxParallelism} (a partition is a key-group range), got ${r}`);
  const tasksOf = [partitions, ...Array.from({ length: subTopologyCount(cuts) - 1 }, () => r ?? partitions)];
  const firsts = tasksOf.map((_, k) => tasksOf.slice(0, k).reduce((a, b) => a + b, 0));
  const repartitions = cuts.map((cut) => cutTopics(app.id, cut));
  const countSource = r === undefined ? "the input topics' count" : `repartitionPartitions ${r}`;
  for (const topic of repartitions.flat()) await ensureRepartitionTopic(sourceBootstrap, topic, r ?? partitions, countSource, who);
  const layout: Layout = { cuts, topics: repartitions, counts: tasksOf, firsts, bootstrap: sourceBootstrap };
  const taskCount = tasksOf.reduce((a, b) => a + b, 0);
  cuts.forEach((cut, k) => cut.keys.forEach((keyFields, j) => emit({ kind: 'repartitioned', topic: repartitions[k]![j]!, at: cut.node.name, keyFields, taskCount, inputTasks: partitions, readers: [firsts[cut.level]!, firsts[cut.level]! + tasksOf[cut.level]! - 1] })));
  const stateDir = join(app.stateDir ?? graph.checkpoint.dir, app.id);
  const started = Date.now();
  const running = new Map<number, RunningTask>();
  const results: JobResult[] = [];
  let failure: unknown = null;
  const stop = new AbortController();
  // A progress function gets the instance's tasks as one snapshot (each operator tagged with its task).
  const progress = typeof options.progress === 'function' ? new TaskProgress(jobName, started, options.progress) : null;
  const onOuterAbort = (): void => stop.abort();
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  if (options.signal?.aborted === true) stop.abort();

  const start = (task: number): void => {
    const taskDir = join(stateDir, `task-${task}`);
    const abort = new AbortController();
    const { application: _a, client: _c, progress: _p, signal: _s, ...rest } = options;
    let refused = false;
    const run1 = async (): Promise<JobResult> => {
      // Claim first (a new owner epoch from the broker, its own directory), then choose the checkpoint: see task-ownership.ts.
      const claim = await TaskClaim.claim(bootstrap, app.id, task, taskDir);
      emit({ kind: 'task-claimed', task, owner: claim.owner, from: claim.from });
      emit({ kind: 'task-started', task, checkpointDir: claim.dir });
      const ownership = (doing: string): void => {
        try {
          claim.check(doing);
        } catch (e) {
          if (!refused) emit({ kind: 'task-refused', task, reason: e instanceof Error ? e.message : String(e) });
          refused = true;
          throw e;
        }
      };
      // Built again from the job's module: the task's own user function objects.
      const g = await build();
      const report = progress === null ? {} : { progress: (p: Progress) => progress.reported(task, p) };
      return run(taskGraph(g, app.id, task, claim, ownership, layout), { ...rest, ...report, signal: abort.signal, restoreFrom: 'latest', ownership });
    };
    const done = run1().then(
      (r) => {
        results.push(r);
        progress?.finished(task, r);
        if (!abort.signal.aborted) emit({ kind: 'task-finished', task, recordsIn: r.recordsIn });
      },
      (e: unknown) => {
        if (abort.signal.aborted && !refused) return;
        if (refused || claimedElsewhere(e) || fenced(e)) {
          // Kafka Streams' TaskMigratedException: another instance took the task over (this one
          // missed its session, e.g. its process was paused) and refused or fenced what this
          // one still tried. Give it up and join again; nothing of this run is committed any more.
          running.delete(task);
          progress?.gone(task);
          if (!refused) emit({ kind: 'task-fenced', task });
          group.release(task);
          return;
        }
        // Any other failure (after the job's restart strategy gave up) fails the instance: its tasks go to the others.
        failure ??= new Error(`${who}: task ${task} failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
        stop.abort();
      },
    );
    running.set(task, { abort, done });
  };
  const group = new TaskGroupThread(
    { bootstrap, groupId: app.id, taskCount, sessionTimeoutMs: app.sessionTimeoutMs ?? 10_000, clientId: `sluice-${app.id}`, maxStallMs: app.maxStallMs ?? 300_000 },
    {
      assign: (tasks) => tasks.forEach(start),
      revoke: async (tasks) => {
        // All stop at once (the rebalance waits for the slowest, not for their sum).
        const stopping = tasks.flatMap((t) => {
          const r = running.get(t);
          if (r === undefined) return [];
          r.abort.abort();
          return [
            r.done.then(() => {
              running.delete(t);
              progress?.gone(t);
              emit({ kind: 'task-revoked', task: t });
            }),
          ];
        });
        await Promise.all(stopping);
      },
      assigned: (info) => emit({ kind: 'assigned', ...info, taskCount }),
      stalled: (ms) => emit({ kind: 'stalled', stalledMs: ms, maxStallMs: app.maxStallMs ?? 300_000 }),
    },
  );
  try {
    await group.run(stop.signal);
  } catch (e) {
    failure ??= e;
  } finally {
    options.signal?.removeEventListener('abort', onOuterAbort);
    for (const r of running.values()) r.abort.abort();
    await Promise.all([...running.values()].map((r) => r.done));
  }
  if (failure !== null) throw failure;
  return combine(jobName, results, Date.now() - started);
}

/** The error of a task refused by its ownership check (another instance claimed it). */
function claimedElsewhere(e: unknown): boolean {
  for (let x: unknown = e, depth = 0; x instanceof Error && depth < 8; x = x.cause, depth++) if (x.message.includes(CLAIMED_ELSEWHERE)) return true;
  return false;
}

/** The error of a task whose sink was fenced (its transactional id reinitialized by another instance). */
function fenced(e: unknown): boolean {
  const codes = errorCodes(e);
  // INVALID_PRODUCER_EPOCH, PRODUCER_FENCED, INVALID_TXN_STATE after a fencing.
  if (codes.includes(47) || codes.includes(90)) return true;
  for (let x: unknown = e, depth = 0; x instanceof Error && depth < 8; x = x.cause, depth++) {
    if (/old epoch|INVALID_PRODUCER_EPOCH|PRODUCER_FENCED|fenced|fences the current one/i.test(x.message)) return true;
  }
  return false;
}

/** One result for the instance: its tasks' runs summed (operators listed per run). */
function combine(jobName: string, results: readonly JobResult[], durationMs: number): JobResult {
  const operators: OperatorMetrics[] = results.flatMap((r) => r.operators);
  const first = results[0];
  return {
    jobName,
    engine: first?.engine ?? 'none',
    durationMs,
    recordsIn: results.reduce((a, r) => a + r.recordsIn, 0),
    operators,
    lateRecordsDropped: results.reduce((a, r) => a + r.lateRecordsDropped, 0),
    deadLetters: results.reduce((a, r) => a + r.deadLetters, 0),
    cancelled: true,
    memory: first?.memory ?? { budgetBytes: 0, exchangeReservedBytes: 0, exchangePeakBytes: 0, operatorBudgetBytes: 0, operatorPeakBytes: 0, exchangeInFlightBytes: 0, operatorUsedBytes: 0 },
  };
}

registerApplicationRunner(runApplication);
