/**
 * Managed memory of one run: a budget (StreamEnvironment.create({ memory })) split into the
 * exchange buffers the plan needs (every channel's credits, reserved up front) and operator
 * state (the rest). Window operators reserve their state in 32 KiB segments: natively from a
 * pool in the Rust core shared by every thread of the process, in the TS engine from counters
 * in shared memory that every worker thread sees. A reservation that does not fit fails the
 * operator with what to change; it never aborts the process.
 */

import { totalmem } from 'node:os';
import { threadId } from 'node:worker_threads';
import type { Engine } from '../engine/engine.js';
import { EngineError } from '../engine/errors.js';
import { edgeTargets, PlanError, type EdgeKind, type PhysicalPlan } from '../plan/physical.js';
import type { MemoryUse } from '../api/job.js';

/** Segments a channel may have in flight (its credits: the receiver has room for that many). */
export const CHANNEL_CREDITS = 4;

/**
 * The size of an exchange segment. Flink uses 32 KiB; here a segment is also the unit a
 * consumer processes as one batch, and a batch's part is flushed into its own segments. On the
 * exchange microbenchmark (2 threads, 8192-row batches of 5 columns) 32 KiB segments added
 * 98 ns of CPU per row against 56 ns at 256 KiB; 1 MiB did not make Nexmark q5 at
 * parallelism 2 faster than 256 KiB.
 */
export const EXCHANGE_SEGMENT_BYTES = 256 * 1024;

/** Spare segments a sender's writer holds beyond one current segment per target. */
export function writerSpares(targets: number): number {
  return targets + 1;
}

/** Edge kinds whose sender splits a batch among targets (one writer for all); the others send whole batches per channel. */
export const SPLITTING: ReadonlySet<EdgeKind> = new Set<EdgeKind>(['hash', 'keyFn', 'custom', 'shuffle', 'range']);

export const SEGMENT_BYTES = 32 * 1024;
const MiB = 1024 * 1024;

/** Bytes as MiB with one decimal, as plans, errors and summaries print them. */
export function formatMiB(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}

/** '512mb', '2g', '64 KiB' or a number of bytes. */
export function parseMemorySize(v: string | number, what = 'memory'): number {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`${what} must be a whole number of bytes >= 1, or a size such as '512mb', got ${v}`);
    return v;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?\s*$/i.exec(v);
  if (m === null) throw new RangeError(`${what} '${v}' is not a size; write it like '512mb', '2gb' or '64kb' (powers of 1024)`);
  const unit = (m[2] ?? 'b').toLowerCase()[0]!;
  const bytes = Math.floor(Number(m[1]) * (unit === 'g' ? 1024 * MiB : unit === 'm' ? MiB : unit === 'k' ? 1024 : 1));
  if (bytes < 1) throw new RangeError(`${what} '${v}' is below one byte`);
  return bytes;
}

/** The default budget: a quarter of the machine's memory, at most 2 GiB. */
export function defaultMemoryBytes(): number {
  return Math.min(Math.floor(totalmem() / 4), 2048 * MiB);
}

/** Operator state each window operator subtask needs at least (a small table). */
export const MIN_STATE_BYTES = 1024 * 1024;

/**
 * The managed memory a plan needs: the exchange's segment pool (every channel's credits, and
 * the current and spare segments of every sender, reserved up front so no sender ever waits for
 * another channel's segments), and at least MIN_STATE_BYTES per window operator subtask from
 * the rest. A budget that cannot hold that fails before anything runs, saying what to change.
 */
export function planMemory(plan: PhysicalPlan, budgetBytes: number): { exchangeReservedBytes: number; channels: number; segments: number } {
  let channels = 0;
  let segments = 0;
  if (plan.slots > 1) {
    for (const c of plan.all) {
      for (const e of c.edges) {
        if (e.kind === 'chain') continue;
        for (let a = 0; a < e.from.parallelism; a++) {
          const n = edgeTargets(e.kind, a, e.from.parallelism, c.parallelism).length;
          channels += n;
          segments += n * CHANNEL_CREDITS + (SPLITTING.has(e.kind) ? n + writerSpares(n) : n * (1 + writerSpares(1)));
        }
      }
    }
  }
  const exchange = segments * EXCHANGE_SEGMENT_BYTES;
  const stateful = plan.all.filter((p) => p.node.op.kind === 'windowAggregate' || p.node.op.kind === 'windowPreAggregate').reduce((n, p) => n + p.parallelism, 0);
  const need = exchange + stateful * MIN_STATE_BYTES;
  if (need > budgetBytes) {
    throw new PlanError(
      `the managed memory budget of ${formatMiB(budgetBytes)} is too small to run this plan: it needs at least ${formatMiB(need)} (${formatMiB(exchange)} for the buffers of ${channels} exchange channels, ${segments} segments of ${EXCHANGE_SEGMENT_BYTES / 1024} KiB: ${CHANNEL_CREDITS} in flight per channel and each sender's current and spare ones, and ${formatMiB(stateful * MIN_STATE_BYTES)} for ${stateful} window operator subtasks); raise memory (StreamEnvironment.create({ memory }) or --memory), or lower the parallelism`,
    );
  }
  return { exchangeReservedBytes: exchange, channels, segments };
}

/** What workers need to share one run's counters. */
export interface SharedMemorySetup {
  readonly id: string;
  readonly budgetBytes: number;
  readonly exchangeReservedBytes: number;
  readonly counters: SharedArrayBuffer;
}

// Counter slots (bytes): exchange in flight, its peak, operator state held, its peak.
const IN_FLIGHT = 0;
const IN_FLIGHT_PEAK = 1;
const HELD = 2;
const HELD_PEAK = 3;

let runs = 0;

export class ManagedMemory {
  private readonly c: BigInt64Array;

  constructor(
    readonly id: string,
    readonly budgetBytes: number,
    readonly exchangeReservedBytes: number,
    readonly counters: SharedArrayBuffer = new SharedArrayBuffer(4 * 8),
  ) {
    this.c = new BigInt64Array(counters);
  }

  static create(budgetBytes: number, exchangeReservedBytes: number): ManagedMemory {
    // The native pools are per process: the thread is part of the name (an application runs a job per task on each of several threads).
    return new ManagedMemory(`sluice-${process.pid}-${threadId}-${++runs}-${Date.now()}`, budgetBytes, exchangeReservedBytes);
  }

  static attach(s: SharedMemorySetup): ManagedMemory {
    return new ManagedMemory(s.id, s.budgetBytes, s.exchangeReservedBytes, s.counters);
  }

  get setup(): SharedMemorySetup {
    return { id: this.id, budgetBytes: this.budgetBytes, exchangeReservedBytes: this.exchangeReservedBytes, counters: this.counters };
  }

  get operatorBudgetBytes(): number {
    return this.budgetBytes - this.exchangeReservedBytes;
  }

  private add(slot: number, peak: number, delta: number): void {
    this.raise(peak, Atomics.add(this.c, slot, BigInt(delta)) + BigInt(delta));
  }

  private raise(peak: number, now: bigint): void {
    let p = Atomics.load(this.c, peak);
    while (now > p) {
      const seen = Atomics.compareExchange(this.c, peak, p, now);
      if (seen === p) break;
      p = seen;
    }
  }

  /** A batch of `bytes` entered (+) or left (-) an exchange channel. */
  inFlight(bytes: number): void {
    this.add(IN_FLIGHT, IN_FLIGHT_PEAK, bytes);
  }

  /** Operator state of the TS engine: `consumer` grows from `held` to `want` bytes, or fails. */
  reserve(consumer: string, held: number, want: number): void {
    const more = want - held;
    if (more <= 0) {
      if (more < 0) this.add(HELD, HELD_PEAK, more);
      return;
    }
    const budget = BigInt(this.operatorBudgetBytes);
    for (;;) {
      const cur = Atomics.load(this.c, HELD);
      if (cur + BigInt(more) > budget) {
        // The native pool's words (crates/sluice-core/src/memory.rs), so both engines fail alike.
        throw new EngineError(
          'memory',
          `${consumer} needs ${Math.ceil(more / 1024)} KiB more managed memory but the budget of ${Math.round(this.operatorBudgetBytes / MiB)} MiB has ${(Number(budget - cur) / 1024).toFixed(0)} KiB free; raise the job's managed memory budget or reduce the key space`,
        );
      }
      if (Atomics.compareExchange(this.c, HELD, cur, cur + BigInt(more)) === cur) {
        this.raise(HELD_PEAK, cur + BigInt(more));
        return;
      }
    }
  }

  /** The run's use now and at its peak: operator state natively from the engine's pool, else from the shared counters. */
  use(engine: Engine): MemoryUse {
    const native = engine.memoryPoolUse(this.id);
    return {
      budgetBytes: this.budgetBytes,
      exchangeReservedBytes: this.exchangeReservedBytes,
      exchangePeakBytes: Number(Atomics.load(this.c, IN_FLIGHT_PEAK)),
      operatorBudgetBytes: this.operatorBudgetBytes,
      operatorPeakBytes: native?.peak ?? Number(Atomics.load(this.c, HELD_PEAK)),
      exchangeInFlightBytes: Number(Atomics.load(this.c, IN_FLIGHT)),
      operatorUsedBytes: native?.used ?? Number(Atomics.load(this.c, HELD)),
    };
  }
}

/** One TS-engine operator's share: whole segments, grown and shrunk with its state. */
export class OperatorMemory {
  private held = 0;
  constructor(
    private readonly memory: ManagedMemory,
    private readonly consumer: string,
  ) {}

  resize(bytes: number): void {
    const want = Math.ceil(bytes / SEGMENT_BYTES) * SEGMENT_BYTES;
    if (want === this.held) return;
    this.memory.reserve(this.consumer, this.held, want);
    this.held = want;
  }

  release(): void {
    this.resize(0);
  }
}
