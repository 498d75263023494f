/**
 * The exchange microbenchmark: two worker threads, each with its half of the bids of `events`
 * Nexmark events (five columns; its first 64 batches generated beforehand and used in turn),
 * either consume their own batches (direct) or
 * hash-partition every batch by auction straight into segments of a shared pool, keep one
 * target's through a ring of its own and hand the other's to the other thread through a shared
 * ring, as a keyed exchange at parallelism 2 does (exchange: the runtime's SegmentWriter and
 * SegmentChannel). The consumer reads each segment as a batch of views, counts its rows and
 * gives the segment back. The CPU the exchange adds per row is the process's CPU time of the
 * exchange run minus that of the direct run, over the rows; a third run only partitions into
 * segments (given back at once) to tell partitioning from the hand-over. The runs happen in this
 * process, one after the other.
 */

import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { DEFAULT_NEXMARK_CONFIG } from '../ts/engine/nexmark-config.js';
import { selectEngine } from '../ts/engine/select.js';
import type { EngineName } from '../ts/engine/engine.js';
import type { RecordBatch } from '../ts/batch/record-batch.js';
import { segmentLayout } from '../ts/batch/segment.js';
import type { SegmentIo } from '../ts/engine/engine.js';
import { CHANNEL_CREDITS, EXCHANGE_SEGMENT_BYTES, writerSpares } from '../ts/runtime/memory.js';
import { createRing, SegmentChannel, SegmentWriter } from '../ts/runtime/segment-channel.js';
import { SegmentPool, type SegmentPoolSetup } from '../ts/runtime/segment-pool.js';
import { configureWorkerHeaps } from '../ts/runtime/worker-heap.js';
import { HELD_BATCHES, inTurn } from './in-turn.js';

const FIELDS = ['auction', 'bidder', 'price', 'channel', 'dateTime'];
const BATCH = 8192;

interface Setup {
  readonly engine: EngineName;
  readonly events: number;
  readonly self: number;
  readonly mode: 'direct' | 'partition' | 'exchange';
  readonly pool: SegmentPoolSetup;
  /** Rings: this thread's own target, to the other thread, from the other thread. */
  readonly local: SharedArrayBuffer;
  readonly out: SharedArrayBuffer;
  readonly in: SharedArrayBuffer;
  readonly segmentBytes: number;
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

async function runWorkers(engine: EngineName, events: number, mode: Setup['mode'], segmentBytes: number): Promise<{ seconds: number; cpuSeconds: number; rows: number }> {
  // Four channels' credits and two writers' current and spare segments, as the plan reserves.
  const pool = SegmentPool.create(4 * CHANNEL_CREDITS + 2 * (2 + writerSpares(2)), segmentBytes).setup;
  const a = createRing(); // 0 -> 1
  const b = createRing(); // 1 -> 0
  const setups: Setup[] = [
    { engine, events, self: 0, mode, pool, local: createRing(), out: a, in: b, segmentBytes },
    { engine, events, self: 1, mode, pool, local: createRing(), out: b, in: a, segmentBytes },
  ];
  // Heaps as the runtime gives its task threads.
  configureWorkerHeaps();
  const workers = setups.map((s) => new Worker(new URL(import.meta.url), { workerData: s }));
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
export async function exchangeBench(engine: EngineName, events: number, runs = 1, segmentBytes = EXCHANGE_SEGMENT_BYTES): Promise<ExchangeFigures> {
  const direct: { seconds: number; cpuSeconds: number; rows: number }[] = [];
  const partition: typeof direct = [];
  const exchange: typeof direct = [];
  for (let i = 0; i < runs; i++) {
    direct.push(await runWorkers(engine, events, 'direct', segmentBytes));
    partition.push(await runWorkers(engine, events, 'partition', segmentBytes));
    exchange.push(await runWorkers(engine, events, 'exchange', segmentBytes));
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
  // The first batches, used in turn for all of this worker's bids (inTurn): holding them all
  // (hundreds of MB per thread) made the figure mostly the time to stream them from memory.
  const batches: RecordBatch[] = [];
  let total = 0;
  for (let b = gen.nextBatch(BATCH); b !== null; b = gen.nextBatch(BATCH)) {
    if (batches.length < HELD_BATCHES) batches.push(b);
    total += b.length;
  }
  const schema = batches[0]!.schema;
  const pool = SegmentPool.attach(s.pool);
  let rows = 0;
  let ends = 0;
  let finished!: () => void;
  const allEnded = new Promise<void>((r) => (finished = r));
  const channel = (ring: SharedArrayBuffer): SegmentChannel => new SegmentChannel(ring, pool, schema, CHANNEL_CREDITS, eng, null);
  const local = channel(s.local);
  const remoteOut = channel(s.out);
  const remoteIn = channel(s.in);
  for (const input of [local, remoteIn]) {
    input.onMessage((m) => {
      if (m.t === 'b') {
        rows += m.batch.length;
        input.credit();
      } else if (m.t === 'e' && ++ends === 2) finished();
    });
  }
  const outs = s.self === 0 ? [local, remoteOut] : [remoteOut, local];
  const writer = new SegmentWriter(eng, pool, local.layout, outs);
  // Partition only: the same scatter into segments, each given back as soon as it is written.
  const layout = segmentLayout(schema, s.segmentBytes);
  const io: SegmentIo = { cur: new Int32Array(2).fill(-1), spares: new Int32Array(4), full: new Int32Array(1 + 2 * 5) };
  const targets = new Uint32Array(BATCH);
  await new Promise<void>((r) => {
    parentPort!.once('message', () => r());
    parentPort!.postMessage({ t: 'ready' });
  });
  let sent = 0;
  for (const b of inTurn(batches, total)) {
    sent += b.length;
    if (s.mode === 'direct') {
      rows += b.length;
      continue;
    }
    if (s.mode === 'partition') {
      for (let row = 0; row < b.length; ) {
        while (io.spares[0]! < 3) io.spares[++io.spares[0]!] = pool.tryAcquire();
        io.full[0] = 0;
        row = eng.scatterToSegments(b, { kind: 'hash', keyFields: [0], maxParallelism: 128, targets }, pool.bytes, layout, io, row);
        for (let f = 0; f < io.full[0]!; f++) pool.release(io.full[2 + 2 * f]!);
      }
      for (let t = 0; t < 2; t++) {
        if (io.cur[t]! >= 0) pool.release(io.cur[t]!);
        io.cur[t] = -1;
      }
      continue;
    }
    await writer.write(b, () => ({ kind: 'hash', keyFields: [0], maxParallelism: 128, targets: writer.scratch(b.length) }));
  }
  // Partition only: every row was written into a segment (the scatter returned the batch's length).
  if (s.mode === 'partition') rows = sent;
  if (s.mode !== 'exchange') ends = 2;
  else {
    local.control({ t: 'e' });
    remoteOut.control({ t: 'e' });
    await allEnded;
  }
  parentPort!.postMessage({ t: 'done', rows });
  local.close();
  remoteIn.close();
}

if (!isMainThread && (workerData as Setup | null)?.mode !== undefined) await worker(workerData as Setup);
