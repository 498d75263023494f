/**
 * Nexmark source: persons, auctions or bids from the deterministic generator of the engine in
 * use (native or TS; identical output). Batches carry event time (`dateTime`). Runs at
 * maximum speed, or paced to a target rate of events per second of wall-clock time.
 */

import { BufferPool, type Lease } from '../batch/lease.js';
import type { RecordBatch } from '../batch/record-batch.js';
import { Schema, type RecordOf } from '../batch/schema.js';
import type { Source, SourceContext, SourceReader } from '../api/connector.js';
import {
  AUCTION_SCHEMA,
  BID_SCHEMA,
  DEFAULT_NEXMARK_CONFIG,
  PERSON_SCHEMA,
  type NexmarkConfig,
  type NexmarkKind,
} from '../engine/nexmark-config.js';

export { AUCTION_SCHEMA, BID_SCHEMA, PERSON_SCHEMA };

export type Person = RecordOf<typeof PERSON_SCHEMA>;
export type Auction = RecordOf<typeof AUCTION_SCHEMA>;
export type Bid = RecordOf<typeof BID_SCHEMA>;

export interface NexmarkOptions {
  /** Total events generated (persons + auctions + bids, 1:3:46), default 10 000 000. */
  readonly events?: number;
  readonly seed?: number;
  /** Event-time rate: events per second of event time (default 10 000, as in Nexmark). */
  readonly eventRatePerSec?: number;
  /** Wall-clock pacing in events per second; omit for maximum speed. */
  readonly targetRatePerSec?: number;
  readonly baseTimeMs?: number;
  /** This generator's share of a split timeline (index of count). */
  readonly splitIndex?: number;
  readonly splitCount?: number;
}

/** Each kind's share of the events (Beam's 1:3:46 mix). */
const KIND_SHARE: Record<NexmarkKind, number> = { person: 1 / 50, auction: 3 / 50, bid: 46 / 50 };

export class NexmarkSource<T extends object> implements Source<T> {
  readonly name: string;
  readonly schema: Schema;
  readonly hasEventTime = true;
  readonly supportsProjection = true;
  /** The generator builds the rows a pushed filter keeps only (their other columns unbuilt for the rest). */
  readonly supportsFilter = true;
  /**
   * No field is ever null, and its configuration bounds every i64 below 2^53: ids grow from
   * event numbers below 2^43 (eventCount), times from a base within ±2^47 by at most 1000 ms
   * an event (eventRatePerSec >= 1): 2^47 + 2^43 * 1000 < 2^53. test/api/filter-pushdown.test.ts
   * checks the last events of the longest timeline.
   */
  readonly exactValues = true;
  readonly eventTimeField = 'dateTime';
  /** Subtask i of n generates split i of n of its timeline (or of its own split). */
  readonly parallel = true;
  /** Carries the record type for fromSource's typing; never set. */
  declare readonly __record?: T;
  private readonly config: NexmarkConfig;

  private constructor(
    private readonly kind: NexmarkKind,
    schema: Schema,
    private readonly options: NexmarkOptions,
  ) {
    this.schema = schema;
    this.name = `nexmark ${kind}s`;
    const c: NexmarkConfig = {
      ...DEFAULT_NEXMARK_CONFIG,
      ...(options.events !== undefined ? { eventCount: options.events } : {}),
      ...(options.seed !== undefined ? { seed: options.seed } : {}),
      ...(options.eventRatePerSec !== undefined ? { ratePerSec: options.eventRatePerSec } : {}),
      ...(options.baseTimeMs !== undefined ? { baseTimeMs: options.baseTimeMs } : {}),
      ...(options.splitIndex !== undefined ? { splitIndex: options.splitIndex } : {}),
      ...(options.splitCount !== undefined ? { splitCount: options.splitCount } : {}),
    };
    for (const [k, v] of Object.entries(c)) {
      if (!Number.isSafeInteger(v) || (v as number) < 0) throw new RangeError(`Nexmark option ${k} must be a whole number >= 0, got ${String(v)}`);
    }
    if (c.ratePerSec < 1) throw new RangeError('Nexmark eventRatePerSec must be at least 1');
    if (c.splitCount < 1 || c.splitIndex >= c.splitCount) {
      throw new RangeError(`Nexmark split ${c.splitIndex} of ${c.splitCount} is invalid; use 0 <= splitIndex < splitCount`);
    }
    if (options.targetRatePerSec !== undefined && !(options.targetRatePerSec > 0)) {
      throw new RangeError(`targetRatePerSec must be above 0, got ${options.targetRatePerSec}; omit it for maximum speed`);
    }
    this.config = c;
  }

  static persons(options: NexmarkOptions = {}): NexmarkSource<Person> {
    return new NexmarkSource<Person>('person', Schema.from(PERSON_SCHEMA), options);
  }
  static auctions(options: NexmarkOptions = {}): NexmarkSource<Auction> {
    return new NexmarkSource<Auction>('auction', Schema.from(AUCTION_SCHEMA), options);
  }
  static bids(options: NexmarkOptions = {}): NexmarkSource<Bid> {
    return new NexmarkSource<Bid>('bid', Schema.from(BID_SCHEMA), options);
  }

  open(ctx: SourceContext): SourceReader {
    const n = ctx.parallelism ?? 1;
    const i = ctx.subtask ?? 0;
    // Subtasks split this source's share further: split i of n of split s of c is s + c*i of c*n.
    const config = n === 1 ? this.config : { ...this.config, splitIndex: this.config.splitIndex + this.config.splitCount * i, splitCount: this.config.splitCount * n };
    const filter = ctx.filter ?? undefined;
    const gen = ctx.engine.createNexmarkGenerator(config, this.kind, ctx.projection ?? undefined, filter);
    const rate = this.options.targetRatePerSec;
    // Each batch is written into buffers lent for it and reused for a later one: the task pushes
    // a batch through the chain before it asks for the next, and an operator that keeps one
    // copies it (a lent batch is borrowed, see batch/lease.ts).
    const pool = new BufferPool();
    let lease: Lease | null = null;
    const generate = (rows: number): RecordBatch | null => {
      lease?.release();
      lease = pool.lease();
      return gen.nextBatch(rows, lease);
    };
    let started = performance.now();
    let origin = 0;
    let idleMs = 0;
    return {
      next: async (): Promise<RecordBatch | null> => {
        if (rate === undefined) return generate(ctx.batchSize);
        // Paced by events generated so far (all kinds), in batches of 10 ms worth of this kind's
        // rows (at most batchSize), each once it is due. A sparse kind (persons are 1 event in 50)
        // thus emits small batches often instead of a full batch after a long wait, so that the
        // watermark and checkpoint barriers (which leave a source between batches) keep moving.
        // The batch size depends on the rate only, not on timing: runs are repeatable.
        const share = KIND_SHARE[this.kind];
        const rows = Math.max(1, Math.min(ctx.batchSize, Math.floor(rate * share * 0.01)));
        const wait = started + ((gen.position() + rows / share - origin) / rate) * 1000 - performance.now();
        if (wait > 1) {
          const t0 = performance.now();
          await new Promise((r) => setTimeout(r, wait));
          idleMs += performance.now() - t0;
        }
        return generate(rows);
      },
      close: () => lease?.release(),
      // The generator is deterministic: its position (events generated) is all a restore needs.
      checkpoint: () => gen.position(),
      restore: (p) => {
        gen.seek(p as number);
        // Paced from here: the rate applies to this run, not since the first event.
        origin = p as number;
        started = performance.now();
      },
      // Time spent waiting for the target rate is idle, not busy.
      metrics: () => ({ idleMs }),
      ...(filter === undefined ? {} : { readMaxEventTime: () => gen.readMaxEventTime() }),
    };
  }
}
