/**
 * StreamEnvironment: where a pipeline starts (sources), how it runs (engine, batch size) and
 * where it is executed. Named after Flink's StreamExecutionEnvironment.
 */

import { availableParallelism } from 'node:os';
import { RestartStrategies, type RestartStrategy } from './restart.js';
import { batchFromRecords } from '../batch/builder.js';
import { RecordBatch, type Row } from '../batch/record-batch.js';
import { Schema, type RecordOf, type SchemaSpec } from '../batch/schema.js';
import type { Engine, EngineName } from '../engine/engine.js';
import { selectEngine, type EngineChoice } from '../engine/select.js';
import { JobGraph, type GraphNode } from '../plan/graph.js';
import { buildPlan, explainMermaid, explainText } from '../plan/physical.js';
import { executeJob } from '../runtime/executor.js';
import { executeParallel } from '../runtime/parallel.js';
import { defaultMemoryBytes, formatMiB, parseMemorySize, planMemory } from '../runtime/memory.js';
import { BoundedQueue } from '../runtime/queue.js';
import type { Sink, SinkWriter, Source } from './connector.js';
import { checkTimestampAssigner, DataStream } from './datastream.js';
import type { WatermarkStrategy } from './watermark.js';
import { JobFailedError } from './errors.js';
import type { ExecuteOptions, JobEvent, JobModule, JobResult, Rescale } from './job.js';

const NEEDS_MODULE =
  'parallelism above 1 runs the job on worker threads, which rebuild it from its module: put the pipeline in a module that exports default (env, args) => { ... } and run it with runJob(url, { parallelism }) or `sluice run job.ts --parallelism n`; or use parallelism 1';

/** Options of StreamEnvironment.socketTextStream (SocketSource takes the same and more). */
export interface SocketTextOptions {
  /** Connect again this many times after the connection closes or fails (default 0: the stream ends; Infinity: always). */
  readonly maxRetries?: number;
  /** Wait this long before connecting again, ms (default 500). */
  readonly retryDelayMs?: number;
  /** The longest line, bytes (default 64 MiB). */
  readonly maxLineBytes?: number;
}

/**
 * The socket source lives with the connectors, above this layer: it registers itself here when
 * the package's entry point loads it, so that socketTextStream needs no import from above.
 */
let socketTextSource: ((host: string, port: number, options: SocketTextOptions) => Source<{ line: string }>) | null = null;

/** @internal Called once by connectors/socket-source.ts. */
export function registerSocketTextSource(f: (host: string, port: number, options: SocketTextOptions) => Source<{ line: string }>): void {
  socketTextSource = f;
}

/**
 * Running as one instance of a Kafka application (ExecuteOptions.application) is the Kafka
 * connectors' business, above this layer: they register the runner here when loaded. It gets
 * the job's graph, its module and the environment's settings: each task runs on a task thread
 * that builds the job again from the module (its own user function objects, as each worker
 * thread of a parallel run) and runs its copy with `executeTask`.
 */
export type ApplicationRunner = (jobName: string, graph: JobGraph, options: ExecuteOptions, job: JobModule, env: EnvironmentSettings) => Promise<JobResult>;

/** What a thread needs to build the same environment again (with the job's module). */
export interface EnvironmentSettings {
  readonly engine: EngineName;
  readonly batchSize: number;
  readonly parallelism: number;
  readonly maxParallelism: number;
  readonly bufferTimeoutMs: number;
}
let applicationRunner: ApplicationRunner | null = null;

/** @internal Called once by connectors/kafka/application.ts. */
export function registerApplicationRunner(f: ApplicationRunner): void {
  applicationRunner = f;
}

export interface EnvironmentOptions {
  /** 'native', 'ts' or 'auto' (default; SLUICE_ENGINE overrides the default). */
  readonly engine?: EngineChoice;
  /** Rows per batch that sources aim for (default 8192). */
  readonly batchSize?: number;
  /**
   * Subtasks per operator (default 1). Above 1 the job runs on that many worker threads, which
   * rebuild it from its module: run it with `runJob(moduleUrl, ...)` or `sluice run`.
   */
  readonly parallelism?: number;
  /** Key groups, the upper bound of any operator's parallelism (default 128, as Flink). */
  readonly maxParallelism?: number;
  /** See setBufferTimeout (default 0: after every batch). */
  readonly bufferTimeoutMs?: number;
  /**
   * Managed memory for the run: exchange buffers between subtasks and window operator state, as
   * '512mb', '2gb' or bytes (default: a quarter of the machine's memory, at most 2 GiB). A plan
   * that cannot run in it fails before it starts; state that outgrows it fails the job.
   */
  readonly memory?: string | number;
  /** Hand user functions reused row views instead of fresh records (see enableObjectReuse). */
  readonly objectReuse?: boolean;
  /** @internal The module that builds this job (set by runJob and the command line). */
  readonly job?: JobModule;
}

function checkParallelism(what: string, n: number, max: number): void {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`${what} must be a whole number >= 1, got ${n}`);
  if (n > max) throw new RangeError(`${what} ${n} is above the max parallelism ${max} (the number of key groups); lower it or raise setMaxParallelism`);
}

export class StreamEnvironment {
  /** @internal */
  readonly graph = new JobGraph();
  readonly engine: Engine;
  readonly batchSize: number;
  /** The managed memory budget, in bytes. */
  readonly memoryBytes: number;
  private readonly job: JobModule | null;

  private constructor(options: EnvironmentOptions) {
    this.engine = selectEngine(options.engine);
    const bs = options.batchSize ?? 8192;
    if (!Number.isSafeInteger(bs) || bs < 1) throw new RangeError(`batchSize must be a whole number >= 1, got ${bs}`);
    this.batchSize = bs;
    this.job = options.job ?? null;
    this.memoryBytes = options.memory === undefined ? defaultMemoryBytes() : parseMemorySize(options.memory);
    if (options.maxParallelism !== undefined) this.setMaxParallelism(options.maxParallelism);
    if (options.parallelism !== undefined) this.setParallelism(options.parallelism);
    if (options.bufferTimeoutMs !== undefined) this.setBufferTimeout(options.bufferTimeoutMs);
    if (options.objectReuse === true) this.enableObjectReuse();
  }

  /**
   * Flink's object reuse. By default every user function (map, filter, flatMap, keyBy
   * selectors) gets each record as a fresh plain object, which it may keep, spread or change.
   * With object reuse it gets one view per operator, moved from row to row, whose fields are
   * read from the batch's columns only when the function reads them (a string is decoded only
   * if read): faster, but the record is valid only during the call, and its fields are getters
   * (`{ ...record }` and `Object.keys(record)` do not see them). Keep a record with
   * `copyRecord(record)`, which returns a plain object.
   */
  enableObjectReuse(): this {
    this.graph.objectReuse = true;
    return this;
  }

  disableObjectReuse(): this {
    this.graph.objectReuse = false;
    return this;
  }

  get objectReuse(): boolean {
    return this.graph.objectReuse;
  }

  /** Subtasks of every operator that does not set its own (Flink's setParallelism). */
  setParallelism(n: number): this {
    checkParallelism('parallelism', n, this.graph.parallel.maxParallelism);
    this.graph.parallel.parallelism = n;
    return this;
  }

  get parallelism(): number {
    return this.graph.parallel.parallelism;
  }

  /**
   * How long an exchange that splits batches among subtasks (keyBy, partitionCustom, ...) may
   * hold rows in partly filled buffers, in ms (Flink's setBufferTimeout). 0 (the default) hands
   * every buffer over after each batch, so a buffer carries batchSize / parallelism rows and
   * what each costs beyond its rows grows with the parallelism. Above 0 a sender hands them
   * over when they fill, once it has held about half a batch per subtask it feeds, before a
   * checkpoint barrier, idleness or the end of input, and at the latest this long after it
   * began to hold them; the watermark waits with them. That costs a slow stream up to this much
   * latency and holds windows' watermarks back by up to parallelism / 2 batches: measured, a
   * keyed tumbling window at parallelism 16 used 21% less CPU, a sliding one (Nexmark q5) at 4
   * took 1.6x as long (docs/scaling.md).
   */
  setBufferTimeout(ms: number): this {
    if (!Number.isSafeInteger(ms) || ms < 0) throw new RangeError(`the buffer timeout must be a whole number of ms >= 0 (0: after every batch), got ${ms}`);
    this.graph.parallel.bufferTimeoutMs = ms;
    return this;
  }

  get bufferTimeout(): number {
    return this.graph.parallel.bufferTimeoutMs;
  }

  /** The number of key groups (1 to 32768): the most subtasks any keyed operator can have. */
  setMaxParallelism(n: number): this {
    if (!Number.isSafeInteger(n) || n < 1 || n > 32768) throw new RangeError(`max parallelism must be a whole number from 1 to 32768, got ${n}`);
    if (n < this.graph.parallel.parallelism) throw new RangeError(`max parallelism ${n} is below the parallelism ${this.graph.parallel.parallelism}; raise it or lower the parallelism first`);
    this.graph.parallel.maxParallelism = n;
    return this;
  }

  /**
   * Takes a checkpoint every `intervalMs` into `dir` (kept: the newest `retain`, default 3).
   * File sinks then publish their output only when a checkpoint that covers it completes, and
   * a job resumed with `execute(name, { restoreFrom })` (or restarted by its restart strategy)
   * continues from the newest complete checkpoint without losing or repeating output.
   */
  enableCheckpointing(intervalMs: number, options: { readonly dir: string; readonly retain?: number }): this {
    if (!Number.isSafeInteger(intervalMs) || intervalMs < 10) throw new RangeError(`enableCheckpointing needs an interval of at least 10 ms (a whole number), got ${intervalMs}`);
    if (typeof options?.dir !== 'string' || options.dir === '') throw new TypeError('enableCheckpointing needs { dir }: the directory the checkpoints are written to');
    const retain = options.retain ?? 3;
    if (!Number.isSafeInteger(retain) || retain < 1) throw new RangeError(`enableCheckpointing retain must be a whole number >= 1, got ${retain}`);
    this.graph.checkpoint = { intervalMs, dir: options.dir, retain };
    return this;
  }

  /** What a checkpointed job does when a task fails (default: RestartStrategies.none()). */
  setRestartStrategy(strategy: RestartStrategy): this {
    this.restartStrategy = strategy;
    return this;
  }

  private restartStrategy: RestartStrategy = RestartStrategies.none();

  /** @internal The job that the next execute() runs. */
  pendingGraph(): JobGraph {
    return this.graph.lineageOf(this.graph.sinks().filter((s) => !this.executed.has(s)));
  }

  static create(options: EnvironmentOptions = {}): StreamEnvironment {
    return new StreamEnvironment(options);
  }

  /** A stream from a source; the watermark strategy assigns event time and watermarks. */
  fromSource<T extends object>(source: Source<T>, watermarks?: WatermarkStrategy<T>, name?: string): DataStream<T> {
    if (watermarks !== undefined) {
      checkTimestampAssigner(watermarks as WatermarkStrategy<never>, source.schema, source.hasEventTime, `fromSource(${source.name})`);
    }
    const node = this.graph.add({
      name: name ?? `Source: ${source.name}`,
      op: { kind: 'source', source: source as Source, watermarks: (watermarks ?? null) as WatermarkStrategy<never> | null },
      input: null,
      partitioning: { kind: 'forward' },
      schema: source.schema,
      hasEventTime: source.hasEventTime || (watermarks !== undefined && watermarks.assigner !== null),
    });
    return new DataStream<T>(this, node);
  }

  /** A stream of in-memory records of a declared schema (checked when the job runs). */
  fromRecords<S extends SchemaSpec>(records: readonly RecordOf<S>[], schema: S, watermarks?: WatermarkStrategy<RecordOf<S>>): DataStream<RecordOf<S>> {
    return this.fromSource(new RecordsSource<RecordOf<S>>(records, Schema.from(schema)), watermarks);
  }

  /**
   * Lines of text from a TCP server, as rows { line } (Flink's socketTextStream); see
   * SocketSource for JSON/CSV lines of a schema. The stream ends when the server closes the
   * connection, unless `maxRetries` says to connect again. Not replayable: at-most-once with
   * checkpoints.
   */
  socketTextStream(host: string, port: number, options: SocketTextOptions = {}): DataStream<{ line: string }> {
    if (socketTextSource === null) throw new Error('socketTextStream: the socket source is not loaded; import Sluice from its package entry point');
    return this.fromSource(socketTextSource(host, port, options));
  }

  /** The physical plan as text (or as a Mermaid flowchart). */
  explain(format: 'text' | 'mermaid' = 'text'): string {
    const plan = buildPlan(this.graph.lineageOf(this.graph.sinks().filter((s) => !this.executed.has(s))));
    const mem = planMemory(plan, this.memoryBytes);
    if (format === 'mermaid') return explainMermaid(plan);
    const exchange = plan.slots > 1 ? `${formatMiB(mem.exchangeReservedBytes)} for the buffers of ${mem.channels} exchange channels, ` : '';
    const c = this.graph.checkpoint;
    const checkpoints = c === null ? '' : `\nCheckpoints every ${c.intervalMs} ms into ${c.dir} (the newest ${c.retain} kept); restart strategy: ${this.restartStrategy.description}`;
    return `${explainText(plan, this.engine.name)}\nManaged memory ${formatMiB(this.memoryBytes)}: ${exchange}${formatMiB(this.memoryBytes - mem.exchangeReservedBytes)} for operator state${checkpoints}`;
  }

  /**
   * Runs every sink added since the last execute() to completion, with what feeds them (as
   * Flink clears executed transformations, a second execute() does not rerun the first job).
   */
  execute(jobName = 'sluice job', options: ExecuteOptions = {}): Promise<JobResult> {
    const sinks = this.graph.sinks().filter((s) => !this.executed.has(s));
    const graph = this.graph.lineageOf(sinks);
    if (sinks.length > 0 && buildPlan(graph).slots > 1 && this.job === null) return Promise.reject(new Error(NEEDS_MODULE));
    for (const s of sinks) this.executed.add(s);
    if (options.application !== undefined) {
      if (applicationRunner === null) return Promise.reject(new Error('ExecuteOptions.application: the Kafka application runner is not loaded; import Sluice from its package entry point'));
      const job = this.job;
      // Each task needs its own instances of the job's functions (a process function keeps its state handles in its closure).
      if (job === null) return Promise.reject(new Error('ExecuteOptions.application: an instance runs several tasks, each built from the job\'s module: run it with runJob(moduleUrl, { application }) or `sluice run job.ts --application-id ...`'));
      const settings: EnvironmentSettings = { engine: this.engine.name, batchSize: this.batchSize, parallelism: this.graph.parallel.parallelism, maxParallelism: this.graph.parallel.maxParallelism, bufferTimeoutMs: this.graph.parallel.bufferTimeoutMs };
      return applicationRunner(jobName, graph, options, job, settings);
    }
    return this.runRescalable(jobName, graph, options);
  }

  /** @internal One task of a Kafka application (connectors/kafka/task-thread-worker.ts): its graph run with the job's restart strategy. */
  executeTask(jobName: string, graph: JobGraph, options: ExecuteOptions): Promise<JobResult> {
    return this.runWithRestarts(jobName, graph, options, (o) => this.runOnce(jobName, graph, o));
  }

  /** One run at the graph's parallelism: on worker threads when its plan has more than one slot. */
  private runOnce(jobName: string, graph: JobGraph, o: ExecuteOptions): Promise<JobResult> {
    const job = this.job;
    if (job !== null && buildPlan(graph).slots > 1) return executeParallel(jobName, graph, this.engine, this.batchSize, o, job, this.memoryBytes);
    return executeJob(jobName, graph, this.engine, this.batchSize, o, this.memoryBytes);
  }

  /**
   * Runs the job (with restarts); when a run stopped for a rescale (JobClient.rescale), runs it
   * again at the new parallelism from the rescale's savepoint, or, when it cannot start there,
   * at the old one.
   */
  private async runRescalable(jobName: string, graph: JobGraph, options: ExecuteOptions): Promise<JobResult> {
    const client = options.client;
    if (client !== undefined) client.rescaleCheck = (n) => this.rescaleProblem(graph, n);
    const rescales: Rescale[] = [];
    let opts = options;
    let from: number | null = null; // until a rescaled run completed its first checkpoint: the parallelism before it
    const onEvent = (e: JobEvent): void => {
      if (e.kind === 'checkpoint' && from !== null) {
        from = null;
        client?.rescaleSettled(null);
      }
      options.onEvent?.(e);
    };
    for (;;) {
      let r: JobResult;
      try {
        r = await this.runWithRestarts(jobName, graph, { ...opts, onEvent }, (o) => this.runOnce(jobName, graph, o));
      } catch (e) {
        if (client === undefined || from === null || !client.rescaleSettled(e)) throw e;
        const failed = rescales.pop()!;
        graph.parallel.parallelism = failed.from;
        from = null;
        options.onEvent?.({ ...failed, kind: 'rescale', error: e instanceof Error ? e.message : String(e) });
        continue;
      }
      if (from !== null) client?.rescaleSettled(null);
      from = null;
      const request = client?.takeRescale(r.cancelled && options.signal?.aborted !== true, r.cancelled ? 'the job was stopped' : 'the job ended before it could be rescaled') ?? null;
      if (request === null) return rescales.length === 0 ? r : { ...r, rescales };
      from = graph.parallel.parallelism;
      graph.parallel.parallelism = request.parallelism;
      rescales.push({ from, to: request.parallelism, savepoint: request.savepoint, at: Date.now() });
      options.onEvent?.({ kind: 'rescale', from, to: request.parallelism, savepoint: request.savepoint });
      opts = { ...options, restoreFrom: request.savepoint };
    }
  }

  /** Why the job cannot run at parallelism `n` (null: it can). */
  private rescaleProblem(graph: JobGraph, n: number): string | null {
    const before = graph.parallel.parallelism;
    graph.parallel.parallelism = n;
    try {
      if (buildPlan(graph).slots > 1 && this.job === null) return NEEDS_MODULE;
      return null;
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    } finally {
      graph.parallel.parallelism = before;
    }
  }

  /** Runs the job; after a failure, restarts it from its latest checkpoint while the strategy allows. */
  private async runWithRestarts(jobName: string, graph: JobGraph, options: ExecuteOptions, run: (o: ExecuteOptions) => Promise<JobResult>): Promise<JobResult> {
    const failures: number[] = [];
    let opts = options;
    for (;;) {
      try {
        const r = await run(opts);
        return failures.length === 0 ? r : { ...r, restarts: failures.length };
      } catch (e) {
        if (graph.checkpoint === null || !(e instanceof JobFailedError) || e.operator === 'job setup' || opts.signal?.aborted === true) throw e;
        failures.push(Date.now());
        const delay = this.restartStrategy.nextDelay(failures);
        if (delay === null) throw e;
        options.onEvent?.({ kind: 'restart', attempt: failures.length, delayMs: delay, error: e.message });
        process.emitWarning(`job '${jobName}' failed (${e.message}); restarting from its latest checkpoint in ${delay} ms (${this.restartStrategy.description}, restart ${failures.length})`, { code: 'SLUICE_RESTART' });
        options.onRestart?.({ restart: failures.length, failedAt: failures[failures.length - 1]!, error: e, delayMs: delay });
        await new Promise((r) => setTimeout(r, delay));
        // The first attempt was allowed to write its outputs (Sink.checkOutput): a restart that
        // finds no checkpoint yet starts over the files that attempt began.
        opts = { ...options, restoreFrom: 'latest', overwrite: true };
      }
    }
  }

  private readonly executed = new Set<GraphNode>();

  /**
   * @internal — backs DataStream.collect(): on the first next() it adds a collecting sink and
   * runs only that sink's lineage (execute() never runs it), with a bounded queue between the
   * job and the consumer. Leaving the loop early (break, return, an error) stops the job.
   */
  collectStream(stream: DataStream<object>): AsyncIterableIterator<Row> {
    const queue = new BoundedQueue<RecordBatch>(16);
    const abort = new AbortController();
    let started = false;
    let pending: Row[] = [];
    let pos = 0;
    const start = (): void => {
      started = true;
      const sink: Sink = { name: 'collect', open: (): SinkWriter => ({ write: (b) => queue.put(b), close: () => undefined }) };
      const node = this.graph.add({ name: 'Sink: collect', op: { kind: 'sink', sink }, input: stream.node, partitioning: { kind: 'forward' }, schema: stream.schema, hasEventTime: stream.node.hasEventTime });
      this.executed.add(node);
      executeJob('collect', this.graph.lineageOf([node]), this.engine, this.batchSize, { signal: abort.signal }, this.memoryBytes).then(
        () => queue.close(),
        (e: unknown) => queue.close(e),
      );
    };
    const stop = (): void => {
      abort.abort();
      queue.close();
    };
    const it: AsyncIterableIterator<Row> = {
      next: async (): Promise<IteratorResult<Row>> => {
        if (!started) start();
        try {
          while (pos >= pending.length) {
            const b = await queue.take();
            if (b === undefined) return { done: true, value: undefined };
            pending = b.toRecords();
            pos = 0;
          }
        } catch (e) {
          stop();
          throw e;
        }
        return { done: false, value: pending[pos++]! };
      },
      return: async (): Promise<IteratorResult<Row>> => {
        stop();
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]() {
        return it;
      },
    };
    return it;
  }
}

/** In-memory records, converted to batches of `batchSize` rows when the job runs. */
class RecordsSource<T extends object> implements Source<T> {
  readonly name = 'records';
  readonly hasEventTime = false;
  readonly supportsProjection = false;
  constructor(
    private readonly records: readonly T[],
    readonly schema: Schema,
  ) {}

  open(ctx: { batchSize: number }) {
    let pos = 0;
    const records = this.records;
    const schema = this.schema;
    return {
      next: (): RecordBatch | null => {
        if (pos >= records.length) return null;
        const slice = records.slice(pos, pos + ctx.batchSize);
        const b = batchFromRecords(slice, schema, 'fromRecords', pos);
        pos += slice.length;
        return b;
      },
      close: () => undefined,
      checkpoint: () => pos,
      restore: (p: unknown) => {
        pos = p as number;
      },
    };
  }
}

/**
 * The parallelism of a job run from its module (runJob, `sluice run`) when none is given: one
 * subtask per core, as Flink's local environment. An environment built inline runs at 1, since
 * its functions cannot be rebuilt on worker threads.
 */
export function defaultParallelism(): number {
  return Math.max(1, Math.min(availableParallelism(), 128));
}

export interface RunJobOptions extends Omit<EnvironmentOptions, 'job'>, ExecuteOptions {
  /** Arguments for the job's builder function. */
  readonly args?: readonly string[];
  readonly jobName?: string;
}

/**
 * Runs the job that the module at `url` builds (its default export, `(env, args) => void`),
 * at the given parallelism: worker threads import the same module to build their copy.
 */
export async function runJob(url: string | URL, options: RunJobOptions = {}): Promise<JobResult> {
  const href = typeof url === 'string' ? url : url.href;
  const mod = (await import(href)) as { default?: unknown };
  if (typeof mod.default !== 'function') throw new Error(`${href} must export its job as a function: export default function (env, args) { ... }`);
  const args = options.args ?? [];
  const env = StreamEnvironment.create({ ...options, parallelism: options.parallelism ?? defaultParallelism(), job: { url: href, args } });
  await (mod.default as (env: StreamEnvironment, args: readonly string[]) => unknown)(env, args);
  return env.execute(options.jobName ?? 'sluice job', options);
}
