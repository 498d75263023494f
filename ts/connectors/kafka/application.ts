/**
 * A job run as one instance of a Kafka application (ExecuteOptions.application; design and
 * limits in docs/application-mode.md). The job's tasks are its input partitions: task n reads
 * partition n of every input topic (co-partitioned, as Kafka Streams' tasks) and runs the
 * whole job on them when every keyBy is by the input's declared partitioning; otherwise the job
 * is cut at its keyBys (sub-topologies.ts) and tasks kP..(k+1)P-1 run sub-topology k on the
 * partitions of the repartition topic that sub-topology k-1's tasks write (repartition-source.ts,
 * KafkaSink.repartition).
 * Tasks are shared among the instances
 * through the consumer group `<application id>` (task-group.ts); the instance spreads its tasks
 * over its task threads (task-thread.ts: as many as the job's parallelism, so that its tasks use
 * every core), where each runs as its own job at parallelism 1, checkpointing into its owner directory under
 * `<stateDir>/<id>/task-<n>` (a directory every instance reaches), with its own transactional
 * ids in its Kafka sinks. An instance given a task first claims it (task-ownership.ts: a new
 * owner epoch, after which the former owner can no longer restore, checkpoint or commit), then
 * resumes it from the checkpoint the task's lineage gives: its source offsets, its keyed state,
 * and the sink transactions it had prepared (committed on restore; anything the former owner
 * left open is fenced by the sink's restore, as after a crash of a single process). The group
 * membership runs on a worker thread of its own (task-group-thread.ts); this thread only
 * coordinates.
 */

import { join } from 'node:path';
import { registerApplicationRunner, type EnvironmentSettings } from '../../api/environment.js';
import type { ApplicationEvent, ExecuteOptions, JobModule, JobResult, OperatorMetrics } from '../../api/job.js';
import type { JobGraph } from '../../plan/graph.js';
import { bootstrapList, kafkaError, loadKafka } from './client.js';
import { KafkaSink } from './sink.js';
import { KafkaSource } from './source.js';
import { countedCuts, cutTopics, repartitionCounts, repartitionCuts } from './sub-topologies.js';
import { TaskGroupThread } from './task-group-thread.js';
import { TaskProgress } from './task-progress.js';
import { TaskThread, type TaskThreadHandler, type TaskThreadSetup } from './task-thread.js';
import { errorCodes } from './transactions.js';

interface RunningTask {
  readonly abort: AbortController;
  readonly done: Promise<void>;
}

/**
 * A repartition topic's settings, as Kafka Streams gives its internal repartition topics: the
 * records stay until the downstream task's purge deletes them (DeleteRecords after its
 * checkpoints), never by age, so an application stopped past the broker's retention (7 days by
 * default) loses none in flight; smaller segments so that purged ones are dropped sooner.
 */
const REPARTITION_TOPIC_CONFIGS = [
  { name: 'cleanup.policy', value: 'delete' },
  { name: 'retention.ms', value: '-1' },
  { name: 'segment.bytes', value: String(50 * 1024 * 1024) },
  { name: 'message.timestamp.type', value: 'CreateTime' },
];

/** Creates the repartition topic with `partitions` partitions (and `replicas`, else the broker's default), or checks the one there has them (`source`: where that count comes from, for the error). */
async function ensureRepartitionTopic(bootstrap: readonly string[], topic: string, partitions: number, replicas: number | undefined, source: string, who: string): Promise<void> {
  const kafka = await loadKafka();
  const admin = new kafka.Admin({ clientId: `${who}-admin`, bootstrapBrokers: [...bootstrap], retries: 3 });
  try {
    try {
      await admin.createTopics({ topics: [topic], partitions, ...(replicas === undefined ? {} : { replicas }), configs: REPARTITION_TOPIC_CONFIGS });
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

async function runApplication(jobName: string, graph: JobGraph, options: ExecuteOptions, job: JobModule, env: EnvironmentSettings): Promise<JobResult> {
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
  const fixed = repartitionCounts(graph, cuts, r, who);
  const tasksOf = [partitions, ...fixed.map((n) => n ?? partitions)];
  const firsts = tasksOf.map((_, k) => tasksOf.slice(0, k).reduce((a, b) => a + b, 0));
  const repartitions = cuts.map((cut) => cutTopics(app.id, cut));
  // Where a sub-topology's count comes from, for the error of a topic that has another.
  const countSource = (level: number): string => {
    const set = countedCuts(graph, cuts, level)[0];
    return set !== undefined ? `setParallelism(${set.parallelism}) on '${set.cut.node.name}'` : r === undefined ? "the input topics' count" : `repartitionPartitions ${r}`;
  };
  const replicas = app.replicationFactor;
  if (replicas !== undefined && !(Number.isSafeInteger(replicas) && replicas >= 1)) throw new RangeError(`ExecuteOptions.application.replicationFactor: a whole number above 0, got ${replicas}`);
  for (const [k, cut] of cuts.entries()) for (const topic of repartitions[k]!) await ensureRepartitionTopic(sourceBootstrap, topic, tasksOf[cut.level]!, replicas, countSource(cut.level), who);
  const taskCount = tasksOf.reduce((a, b) => a + b, 0);
  cuts.forEach((cut, k) => cut.keys.forEach((keyFields, j) => emit({ kind: 'repartitioned', topic: repartitions[k]![j]!, at: cut.node.name, keyFields, ...(cut.selectors[j] === null ? {} : { selector: cut.selectors[j]! }), taskCount, inputTasks: partitions, readers: [firsts[cut.level]!, firsts[cut.level]! + tasksOf[cut.level]! - 1] })));
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

  // The task threads: started as tasks come, at most the job's parallelism of them.
  const setup: Omit<TaskThreadSetup, 'index'> = {
    jobName,
    job,
    env,
    application: app.id,
    bootstrap,
    stateDir: join(app.stateDir ?? graph.checkpoint.dir, app.id),
    layout: { topics: repartitions, counts: tasksOf, firsts, bootstrap: sourceBootstrap },
    cutNodes: cuts.map((c) => c.node.id),
    options: {
      progress: progress !== null,
      ...(options.progressIntervalMs !== undefined ? { progressIntervalMs: options.progressIntervalMs } : {}),
      ...(options.allowFreshStart !== undefined ? { allowFreshStart: options.allowFreshStart } : {}),
      ...(options.allowNonRestoredState !== undefined ? { allowNonRestoredState: options.allowNonRestoredState } : {}),
      ...(options.overwrite !== undefined ? { overwrite: options.overwrite } : {}),
    },
  };
  const handler: TaskThreadHandler = {
    event: emit,
    jobEvent: (_task, e) => options.onEvent?.(e),
    restart: (_task, info) => options.onRestart?.(info),
    // A report that arrives once its task is no longer running here (revoked, fenced) is stale:
    // it must not put the task back into the instance's metrics.
    progress: (task, p) => {
      if (running.has(task)) progress?.reported(task, p);
    },
  };
  const threads: TaskThread[] = [];
  const threadFor = (): TaskThread => {
    const least = threads.reduce<TaskThread | null>((a, b) => (a === null || b.load < a.load ? b : a), null);
    if (least !== null && (least.load === 0 || threads.length >= Math.max(1, env.parallelism))) return least;
    const t = new TaskThread({ ...setup, index: threads.length }, handler);
    threads.push(t);
    return t;
  };

  const start = (task: number): void => {
    const thread = threadFor();
    const abort = new AbortController();
    const done = thread.start(task).then((outcome) => {
      switch (outcome.kind) {
        case 'finished':
          results.push(outcome.result);
          progress?.finished(task, outcome.result);
          if (!abort.signal.aborted) emit({ kind: 'task-finished', task, recordsIn: outcome.result.recordsIn });
          return;
        case 'stopped':
          return;
        case 'migrated':
          // Kafka Streams' TaskMigratedException: another instance took the task over (this one
          // missed its session, e.g. its process was paused) and refused or fenced what this
          // one still tried. Give it up and join again; nothing of this run is committed any more.
          running.delete(task);
          progress?.gone(task);
          if (!outcome.refused) emit({ kind: 'task-fenced', task });
          group.release(task);
          return;
        case 'failed':
          if (abort.signal.aborted) return;
          // Any other failure (after the job's restart strategy gave up) fails the instance: its tasks go to the others.
          failure ??= new Error(`${who}: task ${task} failed: ${outcome.error.message}`, { cause: outcome.error });
          stop.abort();
      }
    });
    abort.signal.addEventListener('abort', () => thread.stop(task), { once: true });
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
    // The instance answers while this thread and every task thread do: the one that answered least recently counts.
    () => Math.min(Date.now(), ...threads.map((t) => t.lastAlive)),
  );
  try {
    await group.run(stop.signal);
  } catch (e) {
    failure ??= e;
  } finally {
    options.signal?.removeEventListener('abort', onOuterAbort);
    for (const r of running.values()) r.abort.abort();
    await Promise.all([...running.values()].map((r) => r.done));
    await Promise.all(threads.map((t) => t.close()));
  }
  if (failure !== null) throw failure;
  return combine(jobName, results, Date.now() - started, threads.length);
}

/** One result for the instance: its tasks' runs summed (operators listed per run). */
function combine(jobName: string, results: readonly JobResult[], durationMs: number, taskThreads: number): JobResult {
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
    taskThreads,
  };
}

registerApplicationRunner(runApplication);
