#!/usr/bin/env node
/**
 * The `sluice` command: run and explain TypeScript (or JavaScript) pipelines, and run the
 * benchmarks. A pipeline module exports `default (env, args) => { ...build the job... }`;
 * the command creates the environment, so engine and batch size come from the command line.
 */

import { JobClient } from '../api/job-client.js';
import { defaultParallelism } from '../api/environment.js';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { register } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Server } from 'node:http';
import { StreamEnvironment, type EnvironmentOptions } from '../api/environment.js';
import type { EngineChoice } from '../engine/select.js';
import { formatProgress } from '../runtime/executor.js';
import { formatMiB } from '../runtime/memory.js';
import { parseArgs, usage, UsageError, wholeOption, type OptionSpec } from './args.js';
import { CheckpointMetrics, prometheusText, serveMetrics } from './prometheus.js';
import { Log, parseLogLevel } from './log.js';
import { openDashboard } from './dashboard.js';
import { AUTOSCALE_OPTIONS, autoParallelism, autoscalerOf } from './autoscale.js';
// Registers the runner of --application-id (jobs that import Sluice's entry point load it too).
import '../connectors/kafka/application.js';
import { describeSubTopologies } from '../connectors/kafka/sub-topologies.js';
import type { ApplicationEvent, ExecuteOptions, JobResult, Progress, RestartInfo } from '../api/job.js';

const here = dirname(fileURLToPath(import.meta.url));

const COMMON: OptionSpec[] = [
  { name: 'engine', value: '<native|ts|auto>', help: "engine to run on (default: SLUICE_ENGINE, else auto)" },
  { name: 'batch-size', value: '<rows>', help: 'rows per batch that sources aim for (default 8192)' },
  { name: 'parallelism', value: '<n|auto>', help: 'subtasks per operator, on n worker threads (default: one per core); auto (sluice run): from 1, rescaled while it runs by the busy time of its tasks (checkpointing jobs)' },
  { name: 'memory', value: '<size>', help: "managed memory, e.g. 512mb (default: a quarter of RAM, at most 2gb)" },
  { name: 'buffer-timeout', value: '<ms>', help: 'how long an exchange that splits batches among subtasks may hold rows in partly filled buffers, in ms (default 0: hands them over after every batch; see setBufferTimeout)' },
  { name: 'help', help: 'show this help' },
];
const RUN: OptionSpec[] = [
  ...COMMON,
  ...AUTOSCALE_OPTIONS,
  { name: 'no-progress', help: 'no status line (default: a live line on a terminal, a log line every 5 s otherwise)' },
  { name: 'progress-interval', value: '<ms>', help: 'how often progress is reported (default 500 on a terminal, 5000 otherwise)' },
  { name: 'metrics-port', value: '<port>', help: 'serve Prometheus metrics on http://127.0.0.1:<port>/metrics while the job runs' },
  { name: 'metrics-json', value: '<file|->', help: 'write the job result with per-operator metrics as JSON' },
  { name: 'ui', value: '[port]', optionalValue: /^\d+$/, help: 'serve a live web dashboard on http://127.0.0.1:<port>/ (default: a free port); its address and token are printed' },
  { name: 'ui-host', value: '<host>', help: 'the address the dashboard listens on (default 127.0.0.1; 0.0.0.0 exposes it to the network)' },
  { name: 'savepoint-dir', value: '<dir>', help: 'on Ctrl-C, stop with a savepoint into <dir> (checkpointing jobs; restore it with --restore-from)' },
  { name: 'restore-from', value: '<dir|latest>', help: "resume from a checkpoint: its directory, a checkpoint root (newest intact one), or 'latest' under the job's checkpoint dir" },
  { name: 'allow-fresh-start', help: 'with --restore-from: start from scratch when no checkpoint is usable (all damaged), instead of failing' },
  { name: 'allow-non-restored-state', help: 'with --restore-from: drop state that no operator of the job claims (an operator removed or its uid changed), instead of failing' },
  { name: 'overwrite', help: 'a fresh run of a checkpointing job may replace existing, non-empty output files (otherwise it refuses to start)' },
  { name: 'application-id', value: '<id>', help: 'run as one instance of a Kafka application (docs/application-mode.md): the tasks (input partitions) are shared with every instance of the same id' },
  { name: 'bootstrap', value: '<host:port>', help: "with --application-id: the Kafka broker(s) coordinating the application's instances" },
  { name: 'max-stall', value: '<ms>', help: "with --application-id: past this long without a response from one of the instance's threads (its task threads, its main thread), the instance leaves the group and its tasks go to the others (default 300000)" },
  { name: 'repartition-partitions', value: '<n>', help: "with --application-id: partitions of each repartition topic, i.e. tasks of each sub-topology after the first (default: the input topics' count; the same on every instance)" },
  { name: 'replication-factor', value: '<n>', help: "with --application-id: replicas of each repartition topic the application creates (default: the broker's default.replication.factor)" },
  { name: 'session-timeout', value: '<ms>', help: 'with --application-id: an instance silent this long loses its tasks to the others (default 10000; the broker allows 6000 and up)' },
  { name: 'state-dir', value: '<dir>', help: "with --application-id: the shared directory of the tasks' checkpoints (default: the job's checkpoint dir)" },
  { name: 'log-level', value: '<error|warn|info|debug>', help: 'what goes to stderr besides progress (default info: one line per start, restore, checkpoint, restart, stop)' },
];
const EXPLAIN: OptionSpec[] = [
  ...COMMON,
  { name: 'mermaid', help: 'print the plan as a Mermaid flowchart' },
  { name: 'application-id', value: '<id>', help: "also print the job's sub-topologies as a Kafka application: their tasks and repartition topics (docs/application-mode.md)" },
  { name: 'repartition-partitions', value: '<n>', help: 'with --application-id: as sluice run takes it' },
];

const HELP = `Usage: sluice <command> [options]

Commands:
  run <pipeline.ts> [options] [-- args]      run a pipeline, with live progress and metrics
  sql <script.sql> [options]                 run a Flink SQL script (CREATE TABLE, INSERT INTO ...), as run does
  explain <pipeline.ts> [options] [-- args]  print the physical plan of a pipeline
  bench [options]                            run the benchmarks (from a source checkout)

A pipeline module exports its job as a function:
  export default function (env: StreamEnvironment, args: string[]) { env.fromSource(...)...sinkTo(...); }

Run 'sluice <command> --help' for the options of a command; 'sluice --version' for the version.
`;

/** The package's version (package.json sits three folders above dist/ts/cli). */
function version(): string {
  const pkg = JSON.parse(readFileSync(join(here, '..', '..', '..', 'package.json'), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

type PipelineFn = (env: StreamEnvironment, args: readonly string[]) => void | Promise<void>;

async function loadPipeline(file: string, args: readonly string[] = []): Promise<{ fn: PipelineFn; name: string; job: { url: string; args: readonly string[] } }> {
  const path = resolve(file);
  if (!existsSync(path)) throw new UsageError(`no pipeline at ${path}`);
  if (path.endsWith('.sql')) {
    // A SQL script runs as the sql-job module with the script's path as its first argument.
    const url = new URL('./sql-job.js', import.meta.url).href;
    const mod = (await import(url)) as { default: PipelineFn };
    return { fn: mod.default, name: basename(path).replace(/\.sql$/, ''), job: { url, args: [path, ...args] } };
  }
  // here = <package>/dist/ts/cli: the library's sources are <package>/ts, its build <package>/dist/ts.
  const root = resolve(here, '..', '..', '..');
  const data = { sources: pathToFileURL(join(root, 'ts')).href + '/', build: pathToFileURL(join(root, 'dist', 'ts')).href + '/' };
  // Stacks name the pipeline's TypeScript lines: the hooks emit inline source maps.
  process.setSourceMapsEnabled(true);
  register(new URL('./ts-hooks.js', import.meta.url).href, { parentURL: import.meta.url, data });
  const mod = (await import(pathToFileURL(path).href)) as { default?: unknown; name?: unknown };
  if (typeof mod.default !== 'function') {
    throw new UsageError(`${file} must export its job as a function: export default function (env, args) { ... }`);
  }
  return { fn: mod.default as PipelineFn, name: typeof mod.name === 'string' ? mod.name : basename(path).replace(/\.[cm]?[jt]s$/, ''), job: { url: pathToFileURL(path).href, args } };
}

function envOptions(options: Map<string, string | true>): EnvironmentOptions {
  const out: { engine?: EngineChoice; batchSize?: number; parallelism?: number; memory?: string; bufferTimeoutMs?: number } = {};
  const mem = options.get('memory');
  if (typeof mem === 'string') out.memory = mem;
  // Autoscaled: the job starts at 1 (cli/autoscale.ts).
  out.parallelism = autoParallelism(options) ? 1 : (wholeOption(options, 'parallelism') ?? defaultParallelism());
  const engine = options.get('engine');
  if (typeof engine === 'string') {
    if (engine !== 'native' && engine !== 'ts' && engine !== 'auto') throw new UsageError(`--engine is '${engine}'; use native, ts or auto`);
    out.engine = engine;
  }
  const bs = wholeOption(options, 'batch-size');
  if (bs !== undefined) out.batchSize = bs;
  const timeout = options.get('buffer-timeout');
  if (timeout !== undefined) {
    const ms = Number(timeout);
    if (typeof timeout !== 'string' || !Number.isSafeInteger(ms) || ms < 0) throw new UsageError(`--buffer-timeout must be a whole number of ms >= 0 (0: after every batch), got '${String(timeout)}'`);
    out.bufferTimeoutMs = ms;
  }
  return out;
}

async function run(argv: readonly string[]): Promise<number> {
  const { positional, options, rest } = parseArgs(argv, RUN);
  if (options.has('help') || positional.length !== 1) {
    process.stdout.write(
      usage(
        'run',
        '<pipeline.ts> [options] [-- pipeline args]',
        'Runs a pipeline to the end of its input, or until Ctrl-C (SIGINT) or SIGTERM, which stop it\ncleanly: sources stop, sinks are flushed and closed (with --savepoint-dir, after a savepoint).\nExit code: 0 at end of input (or after a stop with a savepoint from the --ui dashboard),\n130 after SIGINT, 143 after SIGTERM, 1 when the job fails, 2 for a usage error.',
        RUN,
      ),
    );
    return options.has('help') ? 0 : 2;
  }
  const log = new Log(parseLogLevel(options.get('log-level')));
  log.captureWarnings();
  const { fn, name, job } = await loadPipeline(positional[0]!, rest);
  // Worker threads of a parallel run rebuild the job from the same module and arguments.
  const env = StreamEnvironment.create({ ...envOptions(options), job });
  await fn(env, job.args);

  const abort = new AbortController();
  const client = new JobClient();
  const autoscaler = autoscalerOf(options, env, client, log);
  // SIGINT (Ctrl-C) and SIGTERM (containers, systemd) stop the job the same way; a second one exits at once.
  let stoppedBy: NodeJS.Signals | null = null;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stoppedBy !== null) {
      process.stderr.write(`\nsluice: second ${signalName(signal)}, exiting without waiting\n`);
      process.exit(signalExitCode(signal));
    }
    stoppedBy = signal;
    const dir = options.get('savepoint-dir');
    if (typeof dir === 'string') {
      process.stderr.write(`\nsluice: ${signalName(signal)}: stopping with a savepoint. Ctrl-C again to exit at once.\n`);
      client.stopWithSavepoint(dir).then(
        (path) => process.stderr.write(`sluice: savepoint at ${path}\n`),
        (e: unknown) => {
          process.stderr.write(`sluice: the savepoint failed (${e instanceof Error ? e.message : String(e)}); stopping without one\n`);
          abort.abort();
        },
      );
      return;
    }
    process.stderr.write(`\nsluice: ${signalName(signal)}: stopping (sources stop reading; sinks are flushed and closed). Ctrl-C again to exit at once.\n`);
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  // The dashboard's savepoint, stop-with-savepoint and rescale requests act through the job client.
  let stoppedFromUi = false;
  const dashboard = await openDashboard(options, env, name, async (dir, stop) => {
    stoppedFromUi ||= stop;
    try {
      const path = await (stop ? client.stopWithSavepoint(dir) : client.triggerSavepoint(dir));
      process.stderr.write(`\nsluice: savepoint at ${path}${stop ? ' (requested from the dashboard); stopping' : ' (requested from the dashboard)'}\n`);
      return path;
    } catch (e) {
      if (stop) stoppedFromUi = false;
      throw e;
    }
  }, (n) => client.rescale(n));

  let latest: Progress | null = null;
  const checkpointMetrics = new CheckpointMetrics();
  const started = performance.now();
  let server: Server | null = null;
  const port = options.get('metrics-port');
  if (typeof port === 'string') {
    const p = Number(port);
    if (!Number.isSafeInteger(p) || p < 0 || p > 65535) throw new UsageError(`--metrics-port must be a port number, got '${port}'`);
    server = await serveMetrics(p, () => prometheusText(name, latest?.operators ?? [], (performance.now() - started) / 1000, checkpointMetrics));
    const address = server.address();
    process.stderr.write(`sluice: metrics at http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : p}/metrics\n`);
  }
  const tty = process.stderr.isTTY === true;
  const showProgress = !options.has('no-progress');
  const intervalOpt = options.get('progress-interval');
  const interval = typeof intervalOpt === 'string' ? Number(intervalOpt) : tty ? 500 : 5000;
  if (!(interval > 0)) throw new UsageError(`--progress-interval must be a number of ms above 0, got '${String(intervalOpt)}'`);
  // Metrics are sampled every 500 ms at most; the printed line follows --progress-interval.
  let lastPrinted = 0;
  const progress = (p: Progress): void => {
    latest = p;
    dashboard?.progress(p);
    autoscaler?.observe(p);
    if (!showProgress || p.elapsedMs - lastPrinted < interval) return;
    lastPrinted = p.elapsedMs;
    const line = formatProgress(p);
    process.stderr.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
    log.statusLine = tty;
  };

  let result: JobResult;
  const json = options.get('metrics-json');
  try {
    const restoreFrom = options.get('restore-from');
    if (restoreFrom === true) throw new UsageError("--restore-from needs a checkpoint directory or 'latest'");
    const withSavepoint = typeof options.get('savepoint-dir') === 'string' || autoscaler !== null || (dashboard !== null && env.pendingGraph().checkpoint !== null) ? { client } : {};
    const onRestart = dashboard === null ? {} : { onRestart: (r: RestartInfo) => dashboard.restart(r) };
    const appId = options.get('application-id');
    // An application's tasks each run their part of the job at parallelism 1, spread over up to parallelism task threads (docs/application-mode.md).
    const placement = typeof appId === 'string' ? `as Kafka application '${appId}' (each task at parallelism 1, on up to ${env.parallelism} task threads)` : `at parallelism ${env.parallelism}`;
    log.info(`job '${name}' starting on the ${env.engine.name} engine ${placement}${typeof restoreFrom === 'string' ? `, restoring from ${restoreFrom}` : ''}`);
    if (log.enabled('debug')) log.debug(`plan:\n${env.explain('text')}`);
    result = await env.execute(name, {
      progress,
      progressIntervalMs: Math.min(interval, 500),
      signal: abort.signal,
      onEvent: (e) => {
        checkpointMetrics.record(e);
        log.event(e);
      },
      allowFreshStart: options.has('allow-fresh-start'),
      allowNonRestoredState: options.has('allow-non-restored-state'),
      overwrite: options.has('overwrite'),
      ...withSavepoint,
      ...onRestart,
      ...(typeof restoreFrom === 'string' ? { restoreFrom } : {}),
      ...applicationOption(options, log),
    });
    dashboard?.status(result.cancelled ? 'stopped' : 'finished');
  } catch (e) {
    dashboard?.status('failed', { error: e });
    // A failed job still leaves its metrics: the last progress sample and the error.
    if (typeof json === 'string' && !(e instanceof UsageError)) {
      const last = latest as Progress | null; // set by the progress callback
      writeJson(json, { jobName: name, failed: true, error: e instanceof Error ? e.message : String(e), elapsedMs: last?.elapsedMs ?? null, operators: last?.operators ?? [] });
    }
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (tty && showProgress) process.stderr.write('\n');
    if (server !== null) await new Promise((r) => server!.close(r));
    await dashboard?.close();
  }
  if (typeof json === 'string') writeJson(json, result);
  if (log.enabled('info')) process.stderr.write(summary(result));
  if (result.cancelled && stoppedBy === null && stoppedFromUi) {
    log.info(`stopped with a savepoint from the dashboard after ${result.recordsIn} records in ${(result.durationMs / 1000).toFixed(1)} s; all sinks are closed`);
    return 0;
  }
  if (result.cancelled) {
    const by = stoppedBy ?? 'SIGINT';
    log.info(`stopped by ${signalName(by)} after ${result.recordsIn} records in ${(result.durationMs / 1000).toFixed(1)} s; all sinks are closed`);
    return signalExitCode(by);
  }
  log.info(`job '${name}' finished at the end of its input`);
  return 0;
}

/** Where the innermost error with a stack was thrown (a user function's own frames), at most 12 frames. */
function stackOf(e: unknown): string {
  let frames: string[] = [];
  for (let x: unknown = e, depth = 0; x instanceof Error && depth < 8; depth++) {
    const own = (x.stack ?? '').split('\n').filter((l) => /^\s+at /.test(l));
    if (own.length > 0) frames = own;
    x = (x as { original?: unknown }).original ?? x.cause;
  }
  return frames.length === 0 ? '' : frames.slice(0, 12).join('\n') + '\n';
}

function writeJson(to: string, value: unknown): void {
  const text = JSON.stringify(value, null, 2) + '\n';
  if (to === '-') process.stdout.write(text);
  else writeFileSync(to, text);
}

/** `--repartition-partitions n` (run and explain), or undefined without it. */
function repartitionPartitionsOption(options: Map<string, string | true>): number | undefined {
  const r = options.get('repartition-partitions');
  if (r === undefined) return undefined;
  const n = Number(r);
  if (r === true || !(Number.isSafeInteger(n) && n >= 1)) throw new UsageError(`--repartition-partitions must be a whole number above 0, got '${String(r)}'`);
  return n;
}

/** `--application-id` and its companions as ExecuteOptions.application, its events logged. */
function applicationOption(options: Map<string, string | true>, log: Log): Pick<ExecuteOptions, 'application'> {
  const id = options.get('application-id');
  const bootstrap = options.get('bootstrap');
  const stateDir = options.get('state-dir');
  const session = options.get('session-timeout');
  const stall = options.get('max-stall');
  const repartition = options.get('repartition-partitions');
  const replication = options.get('replication-factor');
  if (id === undefined) {
    if (bootstrap !== undefined || stateDir !== undefined || session !== undefined || stall !== undefined || repartition !== undefined || replication !== undefined) throw new UsageError('--bootstrap, --state-dir, --session-timeout, --max-stall, --repartition-partitions and --replication-factor go with --application-id');
    return {};
  }
  const repartitionPartitions = repartitionPartitionsOption(options);
  const replicationFactor = replication === undefined ? undefined : Number(replication);
  if (replicationFactor !== undefined && !(Number.isSafeInteger(replicationFactor) && replicationFactor >= 1)) throw new UsageError(`--replication-factor must be a whole number above 0, got '${String(replication)}'`);
  if (id === true) throw new UsageError('--application-id needs an id');
  if (typeof bootstrap !== 'string') throw new UsageError('--application-id needs --bootstrap <host:port>: the Kafka broker coordinating the instances');
  if (stateDir === true) throw new UsageError('--state-dir needs a directory');
  if (options.has('restore-from')) throw new UsageError('--restore-from does not go with --application-id: each task resumes from its newest checkpoint under the state directory');
  const onEvent = (e: ApplicationEvent): void => {
    switch (e.kind) {
      case 'assigned':
        log.info(`application '${id}': member ${e.member}${e.leader ? ' (leader)' : ''}, generation ${e.generation}: tasks [${e.tasks.join(',')}] of ${e.taskCount}`);
        return;
      case 'task-started':
        log.info(`application '${id}': task ${e.task} started on task thread ${e.thread} (checkpoints in ${e.checkpointDir})`);
        return;
      case 'task-finished':
        log.info(`application '${id}': task ${e.task} finished (${e.recordsIn} records read)`);
        return;
      case 'task-fenced':
        log.warn(`application '${id}': task ${e.task} was fenced by the instance that took it over (this one had missed its session); given up, joining again`);
        return;
      case 'task-refused':
        log.warn(`application '${id}': ${e.reason}; given up, joining again`);
        return;
      case 'stalled':
        log.warn(`application '${id}': a thread of this instance (a task thread or its main thread) did not respond for ${e.stalledMs} ms (more than --max-stall ${e.maxStallMs}); it left the group, its tasks go to other instances; it joins again once they are stopped here`);
        return;
      case 'task-claimed':
        log.info(`application '${id}': task ${e.task} claimed as ${e.owner}, resuming from ${e.from ?? 'the start (no checkpoint yet)'}`);
        return;
      case 'repartitioned':
        log.info(`application '${id}': ${e.selector !== undefined ? `keyed by a key selector (${e.selector})` : e.keyFields.length === 0 ? "unkeyed (each upstream task's rows to one partition)" : `keyed by ${e.keyFields.join(', ')}`} at '${e.at}', repartitioned through topic '${e.topic}' (${e.taskCount} tasks: tasks 0..${e.inputTasks - 1} read the input partitions, ${e.readers[0]}..${e.readers[1]} this topic's)`);
        return;
      case 'task-revoked':
        log.info(`application '${id}': task ${e.task} stopped (given up: moved to another instance, or the instance stops)`);
        return;
    }
  };
  const sessionTimeoutMs = session === undefined ? undefined : Number(session);
  if (sessionTimeoutMs !== undefined && !(Number.isSafeInteger(sessionTimeoutMs) && sessionTimeoutMs > 0)) throw new UsageError(`--session-timeout must be a number of ms above 0, got '${String(session)}'`);
  const maxStallMs = stall === undefined ? undefined : Number(stall);
  if (maxStallMs !== undefined && !(Number.isSafeInteger(maxStallMs) && maxStallMs > 0)) throw new UsageError(`--max-stall must be a number of ms above 0, got '${String(stall)}'`);
  return { application: { id, bootstrap, ...(typeof stateDir === 'string' ? { stateDir } : {}), ...(sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs }), ...(maxStallMs === undefined ? {} : { maxStallMs }), ...(repartitionPartitions === undefined ? {} : { repartitionPartitions }), ...(replicationFactor === undefined ? {} : { replicationFactor }), onEvent } };
}

function signalName(signal: NodeJS.Signals): string {
  return signal === 'SIGINT' ? 'Ctrl-C' : signal;
}

/** 128 + the signal's number, as shells report a process ended by it. */
function signalExitCode(signal: NodeJS.Signals): number {
  return signal === 'SIGTERM' ? 143 : 130;
}

function summary(r: JobResult): string {
  const rows = r.operators.map((m) => `  #${m.id} ${m.name}: in ${m.recordsIn}, out ${m.recordsOut}, busy ${(m.busyMs / 1000).toFixed(2)} s` +
    (m.backpressuredMs > 0.5 ? `, backpressured ${(m.backpressuredMs / 1000).toFixed(2)} s` : '') +
    ((m.alignmentPausedMs ?? 0) > 0.5 ? `, paused for watermark alignment ${(m.alignmentPausedMs! / 1000).toFixed(2)} s` : '') +
    (m.lateRecordsDropped ? `, late dropped ${m.lateRecordsDropped}` : '') + (m.deadLetters ? `, dead letters ${m.deadLetters}` : ''));
  const m = r.memory;
  const memory = `  managed memory ${formatMiB(m.budgetBytes)}: operator state peak ${formatMiB(m.operatorPeakBytes)} of ${formatMiB(m.operatorBudgetBytes)}` + (m.exchangeReservedBytes > 0 ? `, exchange buffers peak ${formatMiB(m.exchangePeakBytes)} of ${formatMiB(m.exchangeReservedBytes)}` : '');
  const c = r.checkpoints;
  const checkpoints =
    c === undefined
      ? ''
      : `  checkpoints: ${c.completed} completed, last #${c.lastId ?? '-'} (${(c.lastBytes / 1024).toFixed(1)} KiB, ${c.lastDurationMs.toFixed(0)} ms, barriers aligned in ${c.lastAlignMs.toFixed(1)} ms)` +
        (c.restoredFrom !== null ? `; resumed from ${c.restoredFrom}` : '') +
        (c.skipped.length > 0 ? `; skipped ${c.skipped.length} damaged or incomplete` : '') +
        '\n';
  return `sluice: job '${r.jobName}' on the ${r.engine} engine: ${r.recordsIn} records in ${(r.durationMs / 1000).toFixed(2)} s\n${rows.join('\n')}\n${memory}\n${checkpoints}`;
}

async function explain(argv: readonly string[]): Promise<number> {
  const { positional, options, rest } = parseArgs(argv, EXPLAIN);
  if (options.has('help') || positional.length !== 1) {
    process.stdout.write(usage('explain', '<pipeline.ts> [options] [-- pipeline args]', 'Builds a pipeline without running it and prints its physical plan: tasks, operator chains,\nparallelism, partitioning on every edge and the fields each source reads.', EXPLAIN));
    return options.has('help') ? 0 : 2;
  }
  const { fn, job } = await loadPipeline(positional[0]!, rest);
  const env = StreamEnvironment.create(envOptions(options));
  await fn(env, job.args);
  process.stdout.write(env.explain(options.has('mermaid') ? 'mermaid' : 'text') + '\n');
  const appId = options.get('application-id');
  if (appId === true) throw new UsageError('--application-id needs an id');
  if (typeof appId === 'string') process.stdout.write(describeSubTopologies(env.graph, appId, repartitionPartitionsOption(options)) + '\n');
  return 0;
}

function bench(argv: readonly string[]): number {
  const specs: OptionSpec[] = [
    { name: 'runs', value: '<n>', help: 'runs per case and engine (default 5); the median is reported' },
    { name: 'quick', help: 'fewer events, for a smoke run' },
    { name: 'help', help: 'show this help' },
  ];
  const { options } = parseArgs(argv, specs);
  if (options.has('help')) {
    process.stdout.write(usage('bench', '[options]', 'Runs every benchmark case on both engines, each run in a fresh process, and writes\nbench/results/latest.json and the table in BENCHMARKS.md.', specs));
    return 0;
  }
  const script = join(here, '..', '..', 'bench', 'run.js');
  if (!existsSync(script)) throw new UsageError('the benchmarks ship with the source repository (npm run build there, then sluice bench)');
  return spawnSync(process.execPath, [script, ...argv], { stdio: 'inherit' }).status ?? 1;
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'run':
      return run(rest);
    case 'sql':
      if (rest[0] !== undefined && !rest[0].startsWith('-') && !rest[0].endsWith('.sql')) throw new UsageError(`sluice sql runs a .sql file, got '${rest[0]}'`);
      return run(rest);
    case 'explain':
      return explain(rest);
    case 'bench':
      return bench(rest);
    case '--version':
    case '-v':
    case 'version':
      process.stdout.write(`sluice ${version()}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

/**
 * Exits once stdout and stderr have taken everything written: into a pipe Node writes them
 * asynchronously, and `process.exit` drops what is still queued (a `print` table's last rows).
 */
function exitAfterOutput(code: number): void {
  let pending = 2;
  const written = (): void => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write('', written);
  process.stderr.write('', written);
}

main(process.argv.slice(2)).then(exitAfterOutput, (e: unknown) => {
  if (e instanceof UsageError) {
    process.stderr.write(`sluice: ${e.message}\nRun 'sluice --help' for usage.\n`);
    exitAfterOutput(2);
    return;
  }
  process.stderr.write(`sluice: ${e instanceof Error ? e.message : String(e)}\n${stackOf(e)}`);
  exitAfterOutput(1);
});
