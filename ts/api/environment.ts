/**
 * StreamEnvironment: where a pipeline starts (sources), how it runs (engine, batch size) and
 * where it is executed. Named after Flink's StreamExecutionEnvironment.
 */

import { batchFromRecords } from '../batch/builder.js';
import { RecordBatch, type Row } from '../batch/record-batch.js';
import { Schema, type RecordOf, type SchemaSpec } from '../batch/schema.js';
import type { Engine } from '../engine/engine.js';
import { selectEngine, type EngineChoice } from '../engine/select.js';
import { JobGraph, type GraphNode } from '../plan/graph.js';
import { buildPlan, explainMermaid, explainText } from '../plan/physical.js';
import { executeJob, type ExecuteOptions, type JobResult } from '../runtime/executor.js';
import { BoundedQueue } from '../runtime/queue.js';
import type { Sink, SinkWriter, Source } from './connector.js';
import { checkTimestampAssigner, DataStream } from './datastream.js';
import type { WatermarkStrategy } from './watermark.js';

export interface EnvironmentOptions {
  /** 'native', 'ts' or 'auto' (default; SLUICE_ENGINE overrides the default). */
  readonly engine?: EngineChoice;
  /** Rows per batch that sources aim for (default 8192). */
  readonly batchSize?: number;
}

export class StreamEnvironment {
  /** @internal */
  readonly graph = new JobGraph();
  readonly engine: Engine;
  readonly batchSize: number;

  private constructor(options: EnvironmentOptions) {
    this.engine = selectEngine(options.engine);
    const bs = options.batchSize ?? 8192;
    if (!Number.isSafeInteger(bs) || bs < 1) throw new RangeError(`batchSize must be a whole number >= 1, got ${bs}`);
    this.batchSize = bs;
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

  /** The physical plan as text (or as a Mermaid flowchart). */
  explain(format: 'text' | 'mermaid' = 'text'): string {
    const plan = buildPlan(this.graph.lineageOf(this.graph.sinks().filter((s) => !this.executed.has(s))));
    return format === 'mermaid' ? explainMermaid(plan) : explainText(plan, this.engine.name);
  }

  /**
   * Runs every sink added since the last execute() to completion, with what feeds them (as
   * Flink clears executed transformations, a second execute() does not rerun the first job).
   */
  execute(jobName = 'sluice job', options: ExecuteOptions = {}): Promise<JobResult> {
    const sinks = this.graph.sinks().filter((s) => !this.executed.has(s));
    for (const s of sinks) this.executed.add(s);
    return executeJob(jobName, this.graph.lineageOf(sinks), this.engine, this.batchSize, options);
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
      executeJob('collect', this.graph.lineageOf([node]), this.engine, this.batchSize, { signal: abort.signal }).then(
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
    };
  }
}
