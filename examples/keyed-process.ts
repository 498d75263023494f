/**
 * A keyed process function with state and timers (Flink's KeyedProcessFunction): per bidder of
 * the Nexmark bids, count the bids of a burst and report the burst once the bidder has been
 * quiet for 10 s of event time. Each bid moves the bidder's one event-time timer; when the
 * watermark passes it, `onTimer` emits the burst and clears the state.
 *
 *   npx sluice run examples/keyed-process.ts -- 1000000 bursts.jsonl
 *
 * Timers fire as the watermark advances, which happens once per batch: a smaller --batch-size
 * fires them closer to the watermark that is due, at some cost in throughput.
 */

import {
  FileSink,
  NexmarkSource,
  ValueStateDescriptor,
  WatermarkStrategy,
  type KeyedProcessFunction,
  type StreamEnvironment,
  type ValueState,
} from '../ts/index.js';

const QUIET_MS = 10_000;

interface Bid {
  readonly bidder: number;
  readonly price: number;
  readonly dateTime: number;
}

interface Burst {
  bids: number;
  maxPrice: number;
  first: number;
  last: number;
}

function bursts(): KeyedProcessFunction<number, Bid, object> {
  let burst!: ValueState<Burst>;
  return {
    open(ctx) {
      burst = ctx.getState(new ValueStateDescriptor<Burst>('burst'));
    },
    processElement(bid, ctx, _out) {
      const b = burst.value();
      if (b !== null) ctx.timerService().deleteEventTimeTimer(b.last + QUIET_MS);
      const next = b === null ? { bids: 1, maxPrice: bid.price, first: bid.dateTime, last: bid.dateTime } : { bids: b.bids + 1, maxPrice: Math.max(b.maxPrice, bid.price), first: b.first, last: Math.max(b.last, bid.dateTime) };
      burst.update(next);
      ctx.timerService().registerEventTimeTimer(next.last + QUIET_MS);
    },
    onTimer(_time, ctx, out) {
      const b = burst.value()!;
      out.collect({ bidder: ctx.getCurrentKey(), bids: b.bids, maxPrice: b.maxPrice, from: b.first, to: b.last });
      burst.clear();
    },
  };
}

export default function keyedProcess(env: StreamEnvironment, args: readonly string[]): void {
  const events = Number(args[0] ?? 1_000_000);
  const output = args[1] ?? 'bursts.jsonl';
  env
    .fromSource(NexmarkSource.bids({ events }), WatermarkStrategy.forBoundedOutOfOrderness(1_000))
    .map((b) => ({ bidder: b.bidder, price: b.price, dateTime: b.dateTime }), { bidder: 'i64', price: 'i64', dateTime: 'timestamp' })
    .keyBy('bidder')
    .process(bursts(), { bidder: 'i64', bids: 'i64', maxPrice: 'i64', from: 'timestamp', to: 'timestamp' })
    .sinkTo(FileSink.jsonl(output));
}
