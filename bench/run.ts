/**
 * `npm run bench`: every case on both engines, each run in a fresh process; prints the median
 * events/s, the native/TS ratio and peak RSS, writes bench/results/latest.json and regenerates
 * the results table in BENCHMARKS.md.
 *
 * Options: --runs N (default 5), --quick (fewer events, for a smoke run), --only a,b (measure
 * only these cases; the others keep their figures from bench/results/latest.json, and the
 * table says which rows were measured when).
 */

import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CaseName } from './cases.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1] ?? 5) || 5;
const quick = args.includes('--quick');
const only = args.includes('--only') ? new Set(args[args.indexOf('--only') + 1]!.split(',')) : null;

interface Case {
  readonly name: CaseName;
  readonly title: string;
  readonly events: number;
  readonly target: string;
}

const CASES: Case[] = [
  { name: 'calc-kernel', title: 'calc kernel: WHERE MOD(a, 10) < 8, x * 0.908 + 1.5, a * 3 + 7 over i64/f64 batches (extra: a per-record lambda)', events: quick ? 2_000_000 : 20_000_000, target: 'native >= 3x TS; TS >= 5x the lambda' },
  { name: 'group-agg', title: 'updating aggregation kernel: bids GROUP BY auction, COUNT(*), SUM, MAX(price), COUNT(DISTINCT bidder), changes per 8192-row batch', events: quick ? 1_000_000 : 10_000_000, target: '-' },
  { name: 'table-q0', title: 'Nexmark q0 in the Table API (select of every bid column)', events: quick ? 500_000 : 10_000_000, target: 'native >= 0.8x the generator alone' },
  { name: 'table-q1', title: 'Nexmark q1 in the Table API (0.908 * price: one calc)', events: quick ? 500_000 : 10_000_000, target: 'native >= 0.8x the generator alone' },
  { name: 'table-q2', title: 'Nexmark q2 in the Table API (WHERE MOD(auction, 123) = 0: one calc)', events: quick ? 500_000 : 10_000_000, target: 'native >= 0.8x the generator alone' },
  { name: 'sql-q0', title: 'Nexmark q0 in SQL (examples/nexmark-sql/q0.sql: SELECT auction, bidder, price, dateTime, extra)', events: quick ? 500_000 : 10_000_000, target: 'native >= 0.8x the generator alone' },
  { name: 'sql-q1', title: 'Nexmark q1 in SQL (0.908 * price)', events: quick ? 500_000 : 10_000_000, target: 'native >= 0.8x the generator alone' },
  { name: 'sql-q2', title: 'Nexmark q2 in SQL (WHERE MOD(auction, 123) = 0)', events: quick ? 500_000 : 10_000_000, target: 'native >= 0.8x the generator alone' },
  { name: 'sql-q5', title: 'Nexmark q5 in SQL (HOP counts, their max per window, joined back; extra: the DataStream q5)', events: quick ? 1_000_000 : 10_000_000, target: 'within 15% of the DataStream version' },
  { name: 'sql-q7', title: 'Nexmark q7 in SQL (window max joined with the bids; extra: the DataStream q7)', events: quick ? 500_000 : 2_000_000, target: 'within 15% of the DataStream version' },
  { name: 'sql-q11', title: 'Nexmark q11 in SQL (GROUP BY bidder, SESSION; extra: the DataStream q11)', events: quick ? 1_000_000 : 10_000_000, target: 'within 15% of the DataStream version' },
  { name: 'sql-q19', title: "Nexmark q19 in SQL (the suite's: ROW_NUMBER() per auction by price, top 10, no window: the updating top-N's changes)", events: quick ? 200_000 : 2_000_000, target: '-' },
  { name: 'decode-jsonl', title: 'JSONL file source alone, ~100-byte records of six fields (extra: a bare JSON.parse loop)', events: quick ? 500_000 : 2_000_000, target: 'native >= 5x TS, >= 4x the JSON.parse loop' },
  { name: 'decode-csv', title: 'CSV file source alone, the same records (extra: a bare split loop, and split with each field turned into its value)', events: quick ? 500_000 : 2_000_000, target: 'native >= 5x TS, >= 4x the typed split loop' },
  { name: 'kafka-source', title: 'Kafka source alone: JSON bids (~150 bytes) from one partition of a local broker, decoded into batches', events: quick ? 200_000 : 1_000_000, target: 'native >= 2 M/s' },
  { name: 'kafka-sink-alo', title: 'Kafka sink, at-least-once: generated bids as JSON keyed by auction into 2 partitions, a checkpoint every 1 s', events: quick ? 200_000 : 1_000_000, target: '-' },
  { name: 'kafka-app', title: 'Kafka application (issue 20): a keyed window job over JSON events in 6 partitions, exactly-once, as 1 instance on a task thread per core (extra: 2 and 3 instances, each a process; 1 instance on one task thread)', events: quick ? 60_000 : 3_000_000, target: 'measure: 1 / 2 / 3 instances' },
  { name: 'kafka-sink-eo', title: 'Kafka sink, exactly-once (a transaction per checkpoint), otherwise as at-least-once', events: quick ? 200_000 : 1_000_000, target: 'at most 15% below at-least-once' },
  { name: 'file-job', title: 'file job: JSONL -> keyBy -> 10 s tumbling window -> JSONL sink', events: quick ? 500_000 : 4_000_000, target: 'native >= 2.5x TS, peak RSS < 250 MB' },
  { name: 'kernel-10k', title: 'window kernel, 10 000 keys', events: quick ? 2_000_000 : 20_000_000, target: 'native >= 60 M/s, >= 2x TS' },
  { name: 'kernel-1m', title: 'window kernel, 1 000 000 keys', events: quick ? 2_000_000 : 20_000_000, target: 'native >= 2x TS' },
  { name: 'kernel-sliding', title: 'sliding window kernel, 10 000 keys, 10 s every 2 s', events: quick ? 2_000_000 : 20_000_000, target: 'native >= 2x TS' },
  { name: 'kernel-session', title: 'session window kernel, 10 000 keys, 2 s gap', events: quick ? 2_000_000 : 20_000_000, target: 'native >= 2x TS' },
  { name: 'kernel-count', title: 'count window kernel, 10 000 keys, countWindow(100, 10)', events: quick ? 2_000_000 : 20_000_000, target: 'native >= 2x TS' },
  { name: 'e2e-q-window', title: 'e2e: Nexmark bids -> keyBy(auction) -> 10 s tumbling max(price), count', events: quick ? 2_000_000 : 20_000_000, target: 'native >= 10 M/s, >= 2x TS' },
  { name: 'partition', title: 'hash partitioning kernel: bids by auction into 4 subtasks', events: quick ? 2_000_000 : 20_000_000, target: 'native >= 2x TS' },
  { name: 'exchange', title: 'exchange: 5-column bids hash-partitioned by auction between 2 worker threads (events: all kinds; rows: bids)', events: quick ? 2_000_000 : 100_000_000, target: 'native <= 5 ns/row of added CPU' },
  { name: 'nexmark-q0', title: 'Nexmark q0 pass-through (a user map, compiled into a calc)', events: quick ? 500_000 : 10_000_000, target: 'native >= 8 M/s' },
  { name: 'nexmark-q0-called', title: 'Nexmark q0, the map called per record', events: quick ? 500_000 : 10_000_000, target: '-' },
  { name: 'nexmark-q0-reuse', title: 'Nexmark q0, the map called per record, with object reuse', events: quick ? 500_000 : 10_000_000, target: '-' },
  { name: 'nexmark-q1', title: 'Nexmark q1 currency conversion (a user map, compiled into a calc)', events: quick ? 500_000 : 10_000_000, target: 'native >= 8 M/s' },
  { name: 'nexmark-q1-called', title: 'Nexmark q1, the map called per record', events: quick ? 500_000 : 10_000_000, target: '-' },
  { name: 'nexmark-q1-reuse', title: 'Nexmark q1, the map called per record, with object reuse', events: quick ? 500_000 : 10_000_000, target: '-' },
  { name: 'nexmark-q2', title: 'Nexmark q2 selection (a user filter and map, compiled into calcs)', events: quick ? 500_000 : 10_000_000, target: 'native >= 15 M/s' },
  { name: 'nexmark-q2-called', title: 'Nexmark q2, the filter and map called per record', events: quick ? 500_000 : 10_000_000, target: '-' },
  { name: 'nexmark-q2-reuse', title: 'Nexmark q2, the filter and map called per record, with object reuse', events: quick ? 500_000 : 10_000_000, target: '-' },
  { name: 'nexmark-q5', title: 'Nexmark q5 hot items (sliding)', events: quick ? 1_000_000 : 10_000_000, target: 'native >= 2 M/s' },
  { name: 'nexmark-q7', title: 'Nexmark q7 highest bid (interval join)', events: quick ? 500_000 : 2_000_000, target: 'native >= 2 M/s' },
  { name: 'nexmark-q8', title: 'Nexmark q8 new users (window join)', events: quick ? 1_000_000 : 10_000_000, target: '-' },
  { name: 'nexmark-q11', title: 'Nexmark q11 user sessions', events: quick ? 1_000_000 : 10_000_000, target: 'native >= 1 M/s' },
  ...(['q0', 'q5', 'q7', 'e2e'] as const).flatMap((q) =>
    ([1, 2, 4] as const).map((p) => ({
      name: `parallel-${q}-p${p}` as const,
      title: `${q === 'e2e' ? 'the e2e keyed window job' : `Nexmark ${q}`} as a job at parallelism ${p}${p > 1 ? ` (${p > cpus().length ? `${p} subtasks on ${cpus().length}` : p} worker threads)` : ''}`,
      // Runs of several seconds at p=1 (q0 and q5 at 13-16 M/s, q7 at 3 M/s), so that starting
      // the worker threads (0.3-0.5 s of CPU each: loading and compiling the modules in every
      // isolate) does not decide the ratio.
      events: quick ? 500_000 : q === 'q7' ? 12_000_000 : 60_000_000,
      target: p === 2 ? 'native >= 1.6x its p=1' : p === 4 ? 'not slower than p=2' : '-',
    })),
  ),
  // The ceiling for p=2: the same job twice at p=1, in two processes at once (nothing shared).
  ...(['q0', 'q5', 'q7', 'e2e'] as const).map((q) => ({
    name: `parallel-${q}-pair` as const,
    title: `${q === 'e2e' ? 'the e2e keyed window job' : `Nexmark ${q}`} twice at parallelism 1, in two processes at once (both jobs' events over the slower one's time)`,
    events: quick ? 500_000 : q === 'q7' ? 12_000_000 : 60_000_000,
    target: '-',
  })),
  { name: 'checkpoint-off', title: 'keyed process function (ValueState per bidder), no checkpoints', events: quick ? 1_000_000 : 10_000_000, target: '-' },
  { name: 'checkpoint-1s', title: 'keyed process function (ValueState per bidder), a checkpoint every 1 s', events: quick ? 1_000_000 : 10_000_000, target: 'at most 10% below no checkpoints' },
  { name: 'window-checkpoint-off', title: 'e2e window (as above), longer run, no checkpoints', events: quick ? 2_000_000 : 100_000_000, target: '-' },
  { name: 'window-checkpoint-1s', title: 'e2e window (as above), longer run, a checkpoint every 1 s', events: quick ? 2_000_000 : 100_000_000, target: 'at most 10% below no checkpoints' },
  { name: 'state-1m-keys', title: '1 000 000 keys of ValueState: checkpoint (keys/s of snapshotting)', events: quick ? 200_000 : 1_000_000, target: '-' },
];

interface Measured {
  engine: string;
  medianEventsPerSec: number;
  runsEventsPerSec: number[];
  maxRssMb: number;
  check: number;
  /** Medians of the case's further figures (checkpoint size and times). */
  extra?: Record<string, number>;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** One run of a case in a fresh process. */
function runOnce(c: Case, engine: string, events: number, run: number): { events: number; seconds: number; check: number; maxRssMb: number; extra?: Record<string, number> } {
  let out: string;
  try {
    out = execFileSync(process.execPath, [join(here, 'worker.js'), c.name, engine, String(events)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  } catch (e) {
    const stderr = String((e as { stderr?: unknown }).stderr ?? '');
    throw new Error(`${c.name} on ${engine}, run ${run}, failed:\n${stderr.split('\n').slice(-40).join('\n')}`, { cause: e });
  }
  return JSON.parse(out.trim().split('\n').pop()!) as { events: number; seconds: number; check: number; maxRssMb: number; extra?: Record<string, number> };
}

/**
 * The parallel-* jobs' figures after start-up: each run is followed by one over a quarter of the
 * events, and the difference between the two (events, seconds, CPU) is what the events beyond
 * the first quarter cost. Starting the worker threads and compiling the hot functions in each
 * isolate is a cost per run, not per event (a long-running job pays it once), so the model for
 * larger machines takes the cost per event from here. Flink's Nexmark benchmark likewise
 * measures after a warm-up delay. The two runs alternate, so a slow stretch of the host falls on
 * both; the figure is the median over the pairs.
 */
const SHORT_RUN = 4;

function measure(c: Case, engine: string): Measured {
  const rates: number[] = [];
  const extras: Record<string, number>[] = [];
  const afterStart: { rate: number; cpu: number; start: number }[] = [];
  const pairs = /^parallel-.*-p\d$/.test(c.name);
  let rss = 0;
  let check = -1;
  for (let i = 0; i < runs; i++) {
    const r = runOnce(c, engine, c.events, i + 1);
    if (r.extra !== undefined) extras.push(r.extra);
    if (check !== -1 && r.check !== check) throw new Error(`${c.name} on ${engine}: result checksums differ between runs (${check} vs ${r.check})`);
    check = r.check;
    rates.push(r.events / r.seconds);
    rss = Math.max(rss, r.maxRssMb);
    if (pairs) {
      const s = runOnce(c, engine, Math.round(c.events / SHORT_RUN), i + 1);
      const n = r.events - s.events;
      const dt = r.seconds - s.seconds;
      const cpuNs = r.extra!.cpuNsPerEvent! * r.events - s.extra!.cpuNsPerEvent! * s.events;
      // A pair whose longer run took no longer (a slow stretch during the short one) has no rate.
      const rate = dt > 0 ? n / dt : Infinity;
      afterStart.push({ rate, cpu: cpuNs / n, start: r.seconds - r.events / rate });
    }
  }
  const medians = extras.length === 0 ? undefined : Object.fromEntries(Object.keys(extras[0]!).map((k) => [k, median(extras.map((x) => x[k]!))]));
  const after: Record<string, number> = afterStart.length === 0 ? {} : { afterStartEventsPerSec: median(afterStart.map((a) => a.rate)), afterStartCpuNsPerEvent: median(afterStart.map((a) => a.cpu)), startSeconds: median(afterStart.map((a) => a.start)) };
  const extra = medians === undefined ? undefined : { ...medians, ...after };
  return { engine, medianEventsPerSec: median(rates), runsEventsPerSec: rates, maxRssMb: rss, check, ...(extra !== undefined ? { extra } : {}) };
}

const M = (x: number) => `${(x / 1e6).toFixed(2)} M/s`;
type Row = { case: CaseName; title: string; events: number; target: string; native: Measured; ts: Measured; ratio: number; measured?: string };
const latestPath = join(root, 'bench', 'results', 'latest.json');
const previous = only === null ? null : (JSON.parse(readFileSync(latestPath, 'utf8')) as { date: string; runs: number; results: Row[] });
const results: Row[] = [];
for (const c of CASES) {
  if (only !== null && !only.has(c.name)) {
    const kept = previous!.results.find((r) => r.case === c.name);
    // A case added since the last full run has no row yet: the tables say so until it is measured.
    if (kept === undefined) continue;
    results.push({ ...kept, measured: kept.measured ?? previous!.date });
    continue;
  }
  const native = measure(c, 'native');
  const ts = measure(c, 'ts');
  if (native.check !== ts.check) throw new Error(`${c.name}: engines disagree (result checksums ${native.check} vs ${ts.check})`);
  const ratio = native.medianEventsPerSec / ts.medianEventsPerSec;
  console.log(`${c.title}: native ${M(native.medianEventsPerSec)}, ts ${M(ts.medianEventsPerSec)}, ratio ${ratio.toFixed(2)}x, peak RSS ${native.maxRssMb.toFixed(0)} / ${ts.maxRssMb.toFixed(0)} MB${native.extra === undefined ? '' : `, extra native ${JSON.stringify(native.extra)} ts ${JSON.stringify(ts.extra)}`}`);
  results.push({ case: c.name, title: c.title, events: c.events, target: c.target, native, ts, ratio, ...(only !== null ? { measured: new Date().toISOString() } : {}) });
}

const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version, platform: `${process.platform}-${process.arch}` };
const doc = { date: new Date().toISOString(), runs, quick, machine, results };
writeFileSync(latestPath, JSON.stringify(doc, null, 2) + '\n');

/** The cells a checkpoint-cost row starts with: engine, throughput without and with 1 s checkpoints, cost, largest and longest checkpoint. */
function costCells(offCase: CaseName, onCase: CaseName, e: 'native' | 'ts'): string {
  const off = results.find((r) => r.case === offCase)![e];
  const on = results.find((r) => r.case === onCase)![e];
  const cost = (1 - on.medianEventsPerSec / off.medianEventsPerSec) * 100;
  return `| ${e} | ${M(off.medianEventsPerSec)} | ${M(on.medianEventsPerSec)} | ${cost.toFixed(1)}% (target <= 10%) | ${(on.extra!.largestStateKiB! / 1024).toFixed(1)} MiB | ${on.extra!.longestCheckpointMs!.toFixed(0)} ms |`;
}

const table = [
  `Measured ${doc.date.slice(0, 10)} on ${machine.cpus} cores (${machine.cpuModel}), ${machine.memoryGb} GiB, Node ${machine.node}; median of ${runs} runs, each in a fresh process; single-threaded except the parallel-* cases.` +
    (only === null ? '' : ` Measured in this run: ${[...only].join(', ')}; the other rows are from ${previous!.date.slice(0, 16)} (latest.json keeps each row's time).`),
  '',
  '| case | events | native | TS | native/TS | peak RSS native / TS | target |',
  '|---|---|---|---|---|---|---|',
  ...results.map(
    (r) => `| ${r.title} | ${(r.events / 1e6).toFixed(0)} M | ${M(r.native.medianEventsPerSec)} | ${M(r.ts.medianEventsPerSec)} | ${r.ratio.toFixed(2)}x | ${r.native.maxRssMb.toFixed(0)} / ${r.ts.maxRssMb.toFixed(0)} MB | ${r.target} |`,
  ),
  '',
  'SQL against the DataStream versions in `examples/nexmark/` (the sql-qN and nexmark-qN rows, each in its own processes):',
  '',
  '| query | native SQL / DataStream | TS SQL / DataStream | target |',
  '|---|---|---|---|',
  ...(['q5', 'q7', 'q11'] as const).map((q) => {
    const [sql, ds] = [results.find((r) => r.case === `sql-${q}`), results.find((r) => r.case === `nexmark-${q}`)];
    if (sql === undefined || ds === undefined) return `| ${q} | not measured | | |`;
    const x = (e: 'native' | 'ts') => (sql[e].medianEventsPerSec / ds[e].medianEventsPerSec).toFixed(2);
    return `| ${q} | ${x('native')}x | ${x('ts')}x | within 15% (>= 0.87x) |`;
  }),
  '',
  'Scaling on this machine (the parallel-* rows: each query as a job through runJob, DiscardingSink, worker start-up included):',
  '',
  'The pair column is the ceiling for p=2 on this machine: two p=1 jobs at once, in two processes that share nothing, over one p=1 job.',
  '',
  '| query | engine | p=1 | p=2 | p=4 | p2/p1 | p4/p2 | pair/p1 | CPU ns/event p=1 / p=2 / p=4 | target |',
  '|---|---|---|---|---|---|---|---|---|---|',
  ...(['q0', 'q5', 'q7', 'e2e'] as const).flatMap((q) =>
    (['native', 'ts'] as const).map((e) => {
      const at = (p: string) => results.find((r) => r.case === `parallel-${q}-${p}`)?.[e];
      const [a, b, c, pair] = [at('p1'), at('p2'), at('p4'), at('pair')];
      if (a === undefined || b === undefined) return `| ${q} | ${e} | not measured in this run | | | | | | | |`;
      const rate = (x: Measured | undefined) => (x === undefined ? '-' : M(x.medianEventsPerSec));
      const cpu = (x: Measured | undefined) => (x?.extra?.cpuNsPerEvent === undefined ? '-' : x.extra.cpuNsPerEvent.toFixed(0));
      const p4 = c === undefined ? '-' : `${(c.medianEventsPerSec / b.medianEventsPerSec).toFixed(2)}x`;
      const target = e === 'native' ? 'p2 >= 1.6x p1; p4 >= p2' : 'p2 >= 1.3x p1';
      const ceiling = pair === undefined ? '-' : `${(pair.medianEventsPerSec / a.medianEventsPerSec).toFixed(2)}x`;
      return `| ${q} | ${e} | ${rate(a)} | ${rate(b)} | ${rate(c)} | ${(b.medianEventsPerSec / a.medianEventsPerSec).toFixed(2)}x | ${p4} | ${ceiling} | ${cpu(a)} / ${cpu(b)} / ${cpu(c)} | ${target} |`;
    }),
  ),
  '',
  'The same runs after start-up: each run was followed by one over a quarter of the events, and these are the differences (the events beyond the first quarter over the time and CPU they added; medians over the pairs). Start-up is what the longer run took beyond its events at that rate: starting the worker threads and compiling in each isolate, paid once per job.',
  '',
  '| query | engine | p=1 | p=2 | p=4 | p2/p1 | p4/p2 | CPU ns/event p=1 / p=2 / p=4 | start-up p=1 / p=2 / p=4 |',
  '|---|---|---|---|---|---|---|---|---|',
  ...(['q0', 'q5', 'q7', 'e2e'] as const).flatMap((q) =>
    (['native', 'ts'] as const).map((e) => {
      const at = (p: string) => results.find((r) => r.case === `parallel-${q}-${p}`)?.[e].extra;
      const [a, b, c] = [at('p1'), at('p2'), at('p4')];
      if (a?.afterStartEventsPerSec === undefined || b?.afterStartEventsPerSec === undefined) return `| ${q} | ${e} | not measured in this run | | | | | | |`;
      const rate = (x: Record<string, number> | undefined) => (x?.afterStartEventsPerSec === undefined ? '-' : M(x.afterStartEventsPerSec));
      const cpu = (x: Record<string, number> | undefined) => (x?.afterStartCpuNsPerEvent === undefined ? '-' : x.afterStartCpuNsPerEvent.toFixed(0));
      const start = (x: Record<string, number> | undefined) => (x?.startSeconds === undefined ? '-' : `${x.startSeconds.toFixed(2)} s`);
      const p4 = c?.afterStartEventsPerSec === undefined ? '-' : `${(c.afterStartEventsPerSec / b.afterStartEventsPerSec).toFixed(2)}x`;
      return `| ${q} | ${e} | ${rate(a)} | ${rate(b)} | ${rate(c)} | ${(b.afterStartEventsPerSec / a.afterStartEventsPerSec).toFixed(2)}x | ${p4} | ${cpu(a)} / ${cpu(b)} / ${cpu(c)} | ${start(a)} / ${start(b)} / ${start(c)} |`;
    }),
  ),
  '',
  ...(['native', 'ts'] as const).map((e) => {
    const x = results.find((r) => r.case === 'exchange')![e].extra!;
    return `Exchange, ${e}: ${(x.rows! / 1e6).toFixed(1)} M rows; both threads consuming their own batches ${x.directSeconds!.toFixed(2)} s (${x.directCpuSeconds!.toFixed(2)} s CPU), with the exchange ${x.exchangeSeconds!.toFixed(2)} s (${x.exchangeCpuSeconds!.toFixed(2)} s CPU): **${x.addedNsPerRow!.toFixed(1)} ns of CPU added per row**, of which partitioning alone ${x.partitionNsPerRow!.toFixed(1)} ns (target natively <= 5 in all).`;
  }),
  '',
  ...(['native', 'ts'] as const).map((e) => {
    const [alo, eo] = (['kafka-sink-alo', 'kafka-sink-eo'] as const).map((n) => results.find((r) => r.case === n)![e].medianEventsPerSec);
    return `Kafka sink, ${e}, 1 s checkpoints: at-least-once ${M(alo!)}, exactly-once ${M(eo!)}: **exactly-once costs ${((1 - eo! / alo!) * 100).toFixed(1)}%** (target <= 15%).`;
  }),
  '',
  'Checkpoints (parallelism 1; throughput with a checkpoint every second against none, and 1 000 000 keys of ValueState):',
  '',
  '| engine | no checkpoints | 1 s checkpoints | cost | largest checkpoint | longest checkpoint | 1 M keys: snapshot | state | file | restore |',
  '|---|---|---|---|---|---|---|---|---|---|',
  ...(['native', 'ts'] as const).map((e) => {
    const st = results.find((r) => r.case === 'state-1m-keys')![e].extra!;
    return `${costCells('checkpoint-off', 'checkpoint-1s', e)} ${st.snapshotMs!.toFixed(0)} ms | ${st.stateMiB!.toFixed(1)} MiB | ${st.fileMiB!.toFixed(1)} MiB (gzip) | ${st.restoreMs!.toFixed(0)} ms |`;
  }),
  '',
  'The built-in window aggregation (the e2e job over 100 M events) with a checkpoint every second (its state: the input batches of its open windows, replayed on restore):',
  '',
  '| engine | no checkpoints | 1 s checkpoints | cost | largest checkpoint | longest checkpoint |',
  '|---|---|---|---|---|---|',
  ...(['native', 'ts'] as const).map((e) => costCells('window-checkpoint-off', 'window-checkpoint-1s', e)),
].join('\n');
const mdPath = join(root, 'BENCHMARKS.md');
const md = readFileSync(mdPath, 'utf8');
const begin = '<!-- results:begin -->';
const end = '<!-- results:end -->';
const i = md.indexOf(begin);
const j = md.indexOf(end);
if (i < 0 || j < 0) throw new Error('BENCHMARKS.md lacks the results markers');
writeFileSync(mdPath, md.slice(0, i + begin.length) + '\n' + table + '\n' + md.slice(j));
console.log('wrote bench/results/latest.json and BENCHMARKS.md');
