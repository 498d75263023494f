/**
 * The exchange microbenchmark: two worker threads, each with its half of the bids of `events`
 * Nexmark events (five columns) generated beforehand, either consume their own batches (direct) or
 * hash-partition every batch by auction into two parts, keep one through a local channel and
 * send the other to the other thread through a port channel, as a keyed exchange at
 * parallelism 2 does (exchange). The consumer counts rows and returns credits. The CPU the
 * exchange adds per row is the process's CPU time of the exchange run minus that of the direct
 * run, over the rows; a third run only partitions (the parts dropped) to tell partitioning from
 * the hand-over. The runs happen in this process, one after the other.
 */

import { MessageChannel, Worker, isMainThread, parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { DEFAULT_NEXMARK_CONFIG } from '../ts/engine/nexmark-config.js';
import { selectEngine } from '../ts/engine/select.js';
import type { EngineName } from '../ts/engine/engine.js';
import type { RecordBatch } from '../ts/batch/record-batch.js';
import { LocalChannel, PortChannel, type ChannelIn, type ChannelOut, type PortLike } from '../ts/runtime/exchange.js';
import { channelWindowBytes } from '../ts/runtime/memory.js';

const FIELDS = ['auction', 'bidder', 'price', 'channel', 'dateTime'];
const BATCH = 8192;

interface Setup {
  readonly engine: EngineName;
  readonly events: number;
  readonly self: number;
  readonly mode: 'direct' | 'partition' | 'exchange';
  readonly out?: MessagePort;
  readonly in?: MessagePort;
}

export interface ExchangeFigures {
  readonly rows: number;
  readonly directSeconds: number;
  readonly exchangeSeconds: number;
  readonly directCpuSeconds: number;
  readonly exchangeCpuSeconds: number;
  /** (exchange CPU - direct CPU) / rows. */
  readonly addedNsPerRow: number;
  /** Of that, partitioning alone (the parts made, not sent). */
  readonly partitionNsPerRow: number;
}

async function runWorkers(engine: EngineName, events: number, mode: Setup['mode']): Promise<{ seconds: number; cpuSeconds: number; rows: number }> {
  const a = new MessageChannel(); // 0 -> 1
  const b = new MessageChannel(); // 1 -> 0
  const setups: Setup[] = [
    { engine, events, self: 0, mode, out: a.port1, in: b.port2 },
    { engine, events, self: 1, mode, out: b.port1, in: a.port2 },
  ];
  const workers = setups.map((s) => new Worker(new URL(import.meta.url), { workerData: s, transferList: [s.out!, s.in!] }));
  const message = (w: Worker): Promise<{ t: string; rows?: number }> => new Promise((r, j) => { w.once('message', r); w.once('error', j); });
  await Promise.all(workers.map(message)); // generated
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const done = workers.map(message);
  for (const w of workers) w.postMessage('go');
  const results = await Promise.all(done);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  await Promise.all(workers.map((w) => w.terminate()));
  return { seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, rows: results.reduce((n, r) => n + (r.rows ?? 0), 0) };
}

/** The three modes, `runs` times each (alternating), medians (the harness takes medians over processes too). */
export async function exchangeBench(engine: EngineName, events: number, runs = 1): Promise<ExchangeFigures> {
  const direct: { seconds: number; cpuSeconds: number; rows: number }[] = [];
  const partition: typeof direct = [];
  const exchange: typeof direct = [];
  for (let i = 0; i < runs; i++) {
    direct.push(await runWorkers(engine, events, 'direct'));
    partition.push(await runWorkers(engine, events, 'partition'));
    exchange.push(await runWorkers(engine, events, 'exchange'));
  }
  const median = (xs: number[]): number => xs.sort((x, y) => x - y)[xs.length >> 1]!;
  const rows = exchange[0]!.rows;
  if (direct.some((d) => d.rows !== rows) || exchange.some((d) => d.rows !== rows)) throw new Error('the runs consumed different numbers of rows');
  const dc = median(direct.map((d) => d.cpuSeconds));
  const ec = median(exchange.map((d) => d.cpuSeconds));
  const pc = median(partition.map((d) => d.cpuSeconds));
  return {
    rows,
    directSeconds: median(direct.map((d) => d.seconds)),
    exchangeSeconds: median(exchange.map((d) => d.seconds)),
    directCpuSeconds: dc,
    exchangeCpuSeconds: ec,
    addedNsPerRow: ((ec - dc) * 1e9) / rows,
    partitionNsPerRow: ((pc - dc) * 1e9) / rows,
  };
}

/** A worker: its share of the bids, then the run. */
async function worker(s: Setup): Promise<void> {
  const eng = selectEngine(s.engine);
  const gen = eng.createNexmarkGenerator({ ...DEFAULT_NEXMARK_CONFIG, eventCount: s.events, splitIndex: s.self, splitCount: 2 }, 'bid', FIELDS);
  const batches: RecordBatch[] = [];
  for (let b = gen.nextBatch(BATCH); b !== null; b = gen.nextBatch(BATCH)) batches.push(b);
  const schema = batches[0]!.schema;
  const window = channelWindowBytes(schema, BATCH);
  let rows = 0;
  let ends = 0;
  let finished!: () => void;
  const allEnded = new Promise<void>((r) => (finished = r));
  const consume = (input: ChannelIn): void => {
    input.onMessage((m) => {
      if (m.t === 'b') {
        rows += m.batch.length;
        input.credit();
      } else if (m.t === 'e' && ++ends === 2) finished();
    });
  };
  const local = new LocalChannel(window, null);
  const remoteOut = new PortChannel(s.out as unknown as PortLike, schema, window, null);
  const remoteIn = new PortChannel(s.in as unknown as PortLike, schema, window, null);
  consume(local);
  consume(remoteIn);
  await new Promise<void>((r) => {
    parentPort!.once('message', () => r());
    parentPort!.postMessage({ t: 'ready' });
  });
  const outs: ChannelOut[] = s.self === 0 ? [local, remoteOut] : [remoteOut, local];
  for (const b of batches) {
    if (s.mode === 'direct') {
      rows += b.length;
      continue;
    }
    const parts = eng.hashPartition(b, [0], 2, 128);
    if (s.mode === 'partition') {
      rows += parts[0]!.length + parts[1]!.length;
      continue;
    }
    for (let t = 0; t < 2; t++) if (parts[t]!.length > 0) await outs[t]!.send(parts[t]!, true);
  }
  if (s.mode !== 'exchange') ends = 2;
  else {
    local.control({ t: 'e' });
    remoteOut.control({ t: 'e' });
    await allEnded;
  }
  parentPort!.postMessage({ t: 'done', rows });
  remoteIn.close();
}

if (!isMainThread && (workerData as Setup | null)?.mode !== undefined) await worker(workerData as Setup);
