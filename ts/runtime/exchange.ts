/**
 * Exchanges between subtasks: a sender partitions each batch (hash by key groups, rebalance,
 * global, forward) and hands it to channels; a receiver merges its channels (one per upstream
 * subtask) into one input: batches in arrival order, the watermark the minimum over the
 * channels, barriers aligned, the end when every channel ended.
 *
 * The channels (channel.ts) are bounded with credits (Flink's credit-based flow control): a
 * sender waits when the receiver has no room, so a slow consumer slows its producers down
 * instead of letting batches pile up. In a parallel run they are segment channels
 * (segment-channel.ts): a split batch is written straight into each target's segments of the
 * run's shared pool by one writer per sender, and the receiver reads them in place.
 */

import { ownedBatch } from '../batch/segment.js';
import type { ChannelIn, ChannelOut, Message } from './channel.js';

export type { ChannelIn, ChannelOut, Message, PortLike } from './channel.js';
import { rowReader, valueReader, type RecordBatch, type Row } from '../batch/record-batch.js';
import type { Engine, SegmentRoute } from '../engine/engine.js';
import { SegmentChannel, SegmentWriter } from './segment-channel.js';
import { SPLITTING } from './memory.js';
import { keyFnGroup, subtaskOf } from '../keys/key-groups.js';
import type { Partitioning } from '../plan/graph.js';
import type { EdgeKind } from '../plan/physical.js';
import { MultiInputOperator, Operator } from './operator.js';

/** What a sender needs to know of its edge. */
export interface SenderEdge {
  readonly kind: EdgeKind;
  readonly partitioning: Partitioning;
  /** hash: key field positions in the sent batches. */
  readonly keyFields: readonly number[];
  readonly maxParallelism: number;
}

/** How long a sender may hold rows in partly filled segments (the graph's buffer timeout), and the run's batch size. */
export interface SenderBuffering {
  readonly timeoutMs: number;
  readonly batchSize: number;
}

/**
 * A splitting sender's holding: partly filled segments are handed over once `rows` rows have
 * been written since the last hand-over (the writer's `heldRows`), or the timeout after it
 * began to hold them; `watermark` waits for them.
 */
interface Held {
  readonly timeoutMs: number;
  readonly rows: number;
  watermark: number | null;
  timer: NodeJS.Timeout | null;
  /** The job is stopping: no timer is armed again. */
  stopped: boolean;
  /** A hand-over the timer started failed: the next call rethrows it. */
  failure: unknown;
}

/** Partitions batches of one edge onto its channels (one per downstream subtask). */
export class ExchangeSender extends Operator {
  override readonly transport = true;
  private next = 0;
  /** range: the boundaries in use (given, or sampled), and the batches held while sampling. */
  private boundaries: readonly (number | string | bigint)[] | null;
  private sampling: RecordBatch[] = [];
  private sampled = 0;

  constructor(
    id: number,
    name: string,
    private readonly edge: SenderEdge,
    /** By downstream subtask; undefined where this subtask sends nothing (forward, global, rescale). */
    private readonly out: readonly (ChannelOut | undefined)[],
    private readonly engine: Engine,
    private readonly subtask: number,
    buffering: SenderBuffering,
  ) {
    super(id, name);
    this.boundaries = edge.partitioning.kind === 'range' ? edge.partitioning.boundaries : null;
    // Channels of segments (a parallel run): a split batch is written straight into each
    // target's segments by one writer, instead of into parts that are then sent.
    const segs = out.filter((c): c is SegmentChannel => c instanceof SegmentChannel);
    if (segs.length > 0 && segs.length === out.length) {
      // Handing every target's partly filled segment over after each batch made segments of
      // batchSize / n rows, and what a segment costs beyond its rows (a ring entry, a wake-up,
      // a push into the window, a credit) grew with n: the e2e job's CPU per event went from
      // 48.5 ns at p=2 to 79.5 at p=16 on two threads (docs/scaling.md). Held until about half
      // a batch per target has been written, segments carry about as many rows as at p=2.
      if (buffering.timeoutMs > 0 && SPLITTING.has(edge.kind)) {
        this.held = { timeoutMs: buffering.timeoutMs, rows: Math.max(1, Math.ceil((buffering.batchSize * out.length) / 2)), watermark: null, timer: null, stopped: false, failure: undefined };
      }
      this.writer = new SegmentWriter(engine, segs[0]!.pool, segs[0]!.layout, segs, this.held !== null);
    }
  }

  private readonly writer: SegmentWriter | null = null;
  /** Null: segments are handed over after every batch. */
  private readonly held: Held | null = null;

  /** Splits the batch among the channels: into segments when they are segment channels, else into parts. */
  private async split(batch: RecordBatch, route: () => SegmentRoute, parts: () => RecordBatch[]): Promise<void> {
    if (this.writer === null) return this.sendParts(parts());
    const h = this.held;
    if (h !== null && h.failure !== undefined) throw h.failure;
    await this.track(this.writer.write(batch, route));
    if (h === null) return;
    // Counted by the writer: a timer's hand-over queued behind this write took its rows too.
    const held = this.writer.heldRows;
    if (held >= h.rows) await this.handOver();
    else if (held > 0) this.arm(h);
  }

  /**
   * Puts control message `m` (if any) on every channel after everything written before it:
   * held segments are handed over first, and the held watermark follows them.
   */
  private async handOver(m?: Message, fromTimer = false): Promise<void> {
    const h = this.held;
    if (h === null) {
      if (m !== undefined) for (const c of this.channels) c.control(m);
      return;
    }
    if (h.failure !== undefined) throw h.failure;
    if (h.timer !== null) clearTimeout(h.timer);
    h.timer = null;
    // Taken now: a watermark that arrives while this waits for credits follows later rows.
    const wm = h.watermark;
    h.watermark = null;
    const waited = await this.writer!.flush(() => {
      for (const c of this.channels) {
        if (wm !== null) c.control({ t: 'w', wm });
        if (m !== undefined) c.control(m);
      }
    });
    // Waiting for credits counts as backpressure within an operator call, not in a timer's.
    if (waited > 0 && !fromTimer) this.blocked(waited);
  }

  /** Rows are held: they go at the latest after the timeout. */
  private arm(h: Held): void {
    if (h.timer !== null || h.stopped) return;
    h.timer = setTimeout(() => {
      h.timer = null;
      this.handOver(undefined, true).catch((e: unknown) => {
        h.failure ??= e;
      });
    }, h.timeoutMs);
  }

  private get channels(): ChannelOut[] {
    return this.out.filter((c): c is ChannelOut => c !== undefined);
  }

  async processBatch(batch: RecordBatch): Promise<void> {
    if (batch.length === 0) return;
    this.metrics.recordsOut += batch.length;
    const n = this.out.length;
    switch (this.edge.kind) {
      case 'hash':
        return this.split(
          batch,
          () => ({ kind: 'hash', keyFields: this.edge.keyFields, maxParallelism: this.edge.maxParallelism, targets: this.writer!.scratch(batch.length) }),
          () => this.engine.hashPartition(batch, this.edge.keyFields, n, this.edge.maxParallelism),
        );
      case 'rebalance':
      case 'rescale': {
        // Round-robin by batch over the channels this subtask feeds (all, or its rescale group),
        // starting at the subtask's own index so parallel sources spread at once.
        const chans = this.channels;
        await this.send(chans[(this.subtask + this.next++) % chans.length]!, batch, false);
        return;
      }
      case 'keyFn':
      case 'custom':
      case 'shuffle':
        return this.splitByTargets(batch);
      case 'range':
        if (this.boundaries === null) return this.sample(batch);
        return this.splitByTargets(batch);
      default:
        // forward: the one channel to the same subtask; global: to subtask 0; broadcast: to all.
        for (const c of this.channels) await this.send(c, batch, false);
    }
  }

  private splitByTargets(batch: RecordBatch): Promise<void> {
    const targets = this.targets(batch);
    return this.split(batch, () => ({ kind: 'targets', targets }), () => this.engine.partitionByTargets(batch, targets, this.out.length));
  }

  private async sendParts(parts: RecordBatch[]): Promise<void> {
    for (let b = 0; b < parts.length; b++) if (parts[b]!.length > 0) await this.send(this.out[b]!, parts[b]!, true);
  }

  /** Sends in progress (waiting for credits): a barrier must not overtake them. */
  private readonly sending = new Set<Promise<number>>();

  /** Time spent waiting for the receiver's room is backpressure on the operators upstream. */
  private send(c: ChannelOut, batch: RecordBatch, owned: boolean): Promise<void> {
    return this.track(c.send(batch, owned));
  }

  private async track(p: Promise<number>): Promise<void> {
    this.sending.add(p);
    try {
      const waited = await p;
      if (waited > 0) this.blocked(waited);
    } finally {
      this.sending.delete(p);
    }
  }

  override async processBarrier(id: number): Promise<void> {
    if (this.sampling.length > 0) await this.flushSample();
    while (this.sending.size > 0) await Promise.all(this.sending);
    await this.handOver({ t: 'k', id });
  }

  override checkpointGap(): string | null {
    return this.edge.partitioning.kind === 'range' && this.edge.partitioning.boundaries === null
      ? 'range partitioning with sampled boundaries samples again after a restore; give the boundaries'
      : null;
  }

  /** The downstream subtask of every row, for the partitioners computed here. */
  private targets(batch: RecordBatch): Uint32Array {
    const n = this.out.length;
    const t = new Uint32Array(batch.length);
    const part = this.edge.partitioning;
    switch (part.kind) {
      case 'shuffle':
        for (let i = 0; i < t.length; i++) t[i] = Math.floor(Math.random() * n);
        return t;
      case 'keyFn': {
        const read = rowReader(batch);
        const fn = part.fn as (r: Row) => unknown;
        const max = this.edge.maxParallelism;
        for (let i = 0; i < t.length; i++) t[i] = subtaskOf(keyFnGroup(fn(read(i)), max), n, max);
        return t;
      }
      case 'custom': {
        const read = rowReader(batch);
        const key = part.key as (r: Row) => unknown;
        const choose = part.partitioner as (key: unknown, numPartitions: number) => unknown;
        for (let i = 0; i < t.length; i++) {
          const p = choose(key(read(i)), n);
          if (typeof p !== 'number' || !Number.isInteger(p) || p < 0 || p >= n) {
            throw new Error(`partitionCustom: the partitioner returned ${String(p)} for record ${this.metrics.recordsOut - batch.length + i} of this subtask; it must return a whole number from 0 to numPartitions - 1 (${n - 1})`);
          }
          t[i] = p;
        }
        return t;
      }
      case 'range': {
        const col = batch.schema.indexOf(part.field);
        const read = valueReader(batch.columns[col]!, part.field);
        const b = this.boundaries!;
        for (let i = 0; i < t.length; i++) {
          const v = read(i) as number | string | bigint | null;
          // Partition k holds [b[k-1], b[k]); nulls go to the first.
          let lo = 0;
          if (v !== null) {
            let hi = b.length;
            while (lo < hi) {
              const mid = (lo + hi) >>> 1;
              if (b[mid]! <= v) lo = mid + 1;
              else hi = mid;
            }
          }
          t[i] = lo;
        }
        return t;
      }
      default:
        throw new Error(`internal error: no per-row targets for a ${part.kind} edge`);
    }
  }

  /** Range partitioning without boundaries: holds batches until the sample is full (or the input ends). */
  private async sample(batch: RecordBatch): Promise<void> {
    this.sampling.push(ownedBatch(batch));
    this.sampled += batch.length;
    const part = this.edge.partitioning as Extract<Partitioning, { kind: 'range' }>;
    if (this.sampled >= part.sampleSize) await this.flushSample();
  }

  private async flushSample(): Promise<void> {
    const part = this.edge.partitioning as Extract<Partitioning, { kind: 'range' }>;
    const values: (number | string | bigint)[] = [];
    for (const b of this.sampling) {
      const read = valueReader(b.columns[b.schema.indexOf(part.field)]!, part.field);
      for (let i = 0; i < b.length; i++) {
        const v = read(i) as number | string | bigint | null;
        if (v !== null) values.push(v);
      }
    }
    values.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const n = this.out.length;
    // n - 1 boundaries at the sample's quantiles.
    this.boundaries = values.length === 0 ? new Array(n - 1).fill(0) : Array.from({ length: n - 1 }, (_, k) => values[Math.floor(((k + 1) * values.length) / n)]!);
    const held = this.sampling;
    this.sampling = [];
    for (const b of held) await this.splitByTargets(b);
    if (this.watermark > -Infinity) await this.handOver({ t: 'w', wm: this.watermark });
  }

  override async processWatermark(watermark: number): Promise<void> {
    if (!(watermark > this.watermark)) return;
    this.watermark = watermark;
    this.metrics.watermark = watermark;
    // While a range sample is held, so is the watermark: the held records must not become late.
    if (this.sampling.length > 0) return;
    const h = this.held;
    if (h === null) {
      for (const c of this.channels) c.control({ t: 'w', wm: watermark });
      return;
    }
    // Behind held rows it waits for them (the end of input's does not).
    h.watermark = watermark;
    if (this.writer!.heldRows > 0 && watermark !== Infinity) this.arm(h);
    else await this.handOver();
  }

  override processIdle(idle: boolean): Promise<void> {
    return this.handOver({ t: 'i', idle });
  }

  override async finish(): Promise<void> {
    if (this.sampling.length > 0) await this.flushSample();
    await this.handOver({ t: 'e' });
    // Nothing more is written: the writer's spare segments go back to the pool.
    this.writer?.close();
  }

  /** The job is stopping: producers waiting for room in a channel go on (see CreditedChannel.abort). */
  abort(): void {
    const h = this.held;
    if (h !== null) {
      h.stopped = true;
      if (h.timer !== null) clearTimeout(h.timer);
      h.timer = null;
    }
    for (const c of this.channels) c.abort();
    this.writer?.close();
  }
}

/** One input fed by every upstream subtask's channel: processes their messages one at a time. */
export class ExchangeReceiver extends MultiInputOperator {
  override readonly transport = true;
  private readonly queue: { ch: number; m: Message }[] = [];
  /** Messages of channels held back while a barrier is aligned, by channel. */
  private readonly held = new Map<number, { ch: number; m: Message }[]>();
  private wake: (() => void) | null = null;
  private openInputs: number;

  constructor(
    id: number,
    name: string,
    private readonly inputs: readonly ChannelIn[],
  ) {
    super(id, name, inputs.length);
    this.openInputs = inputs.length;
    inputs.forEach((c, ch) =>
      c.onMessage((m) => {
        this.queue.push({ ch, m });
        const w = this.wake;
        if (w !== null) {
          this.wake = null;
          w();
        }
      }),
    );
  }

  processBatch(batch: RecordBatch): Promise<void> {
    return this.emit(batch);
  }

  private aborted = false;

  /** The job is being stopped: stop waiting for the channels (what they still hold is dropped). */
  abort(): void {
    this.aborted = true;
    const w = this.wake;
    if (w !== null) {
      this.wake = null;
      w();
    }
  }

  /** Runs until every channel ended (or the job is stopped). */
  async run(): Promise<void> {
    while (this.openInputs > 0 && !this.aborted) {
      const item = this.queue.shift();
      if (item === undefined) {
        await new Promise<void>((r) => (this.wake = r));
        continue;
      }
      const { ch, m } = item;
      if (this.gate(ch) !== undefined) {
        // This channel delivered the barrier being aligned: what follows waits for the others.
        const h = this.held.get(ch) ?? [];
        h.push(item);
        this.held.set(ch, h);
        continue;
      }
      switch (m.t) {
        case 'k':
          await this.processBarrier(m.id, ch);
          break;
        case 'b':
          this.metrics.recordsIn += m.batch.length;
          await this.processBatch(m.batch);
          this.inputs[ch]!.credit();
          break;
        case 'w':
          await this.processWatermark(m.wm, ch);
          break;
        case 'i':
          await this.processIdle(m.idle, ch);
          break;
        case 'e':
          this.openInputs--;
          this.endedInputs++;
          await this.finish(ch);
          this.inputs[ch]!.close();
          break;
      }
      if (!this.isAligning && this.held.size > 0) {
        // Aligned (a barrier, or the end of the last channel missing it): the held messages go
        // first, each channel's in order.
        const back = [...this.held.values()].flat();
        this.held.clear();
        this.queue.unshift(...back);
      }
    }
  }
}
