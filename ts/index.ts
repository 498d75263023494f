/**
 * Sluice: stateful stream processing for TypeScript with a Rust core.
 * Everything exported here is the public API; other modules are internal.
 */

export { StreamEnvironment, runJob, type EnvironmentOptions, type RunJobOptions, type SocketTextOptions } from './api/environment.js';
export { DataStream, DataStreamSink, KeyedStream, WindowedStream, type WindowResult, type WindowBounds, type NoBounds } from './api/datastream.js';
export { ConnectedStreams, JoinedStreams, WindowJoin, IntervalJoin, type JoinWindowAssigner } from './api/joins.js';
export type { AggregateFunction } from './api/window-functions.js';
export { OutputTag } from './api/output-tag.js';
export { RestartStrategies, type RestartStrategy } from './api/restart.js';
export { JobClient } from './api/job-client.js';
export { Autoscaler, AUTOSCALER_DEFAULTS, type AutoscalerOptions, type AutoscaleDecision } from './api/autoscaler.js';
export type { ApplicationEvent, ApplicationOptions, CheckpointConfig, CheckpointRecord, CheckpointStats, ExecuteOptions, JobResult, MemoryUse, OperatorMetrics, Progress, Rescale, RestartInfo } from './api/job.js';
export {
  ValueStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  AggregatingStateDescriptor,
  type StateTtlConfig,
  type TtlUpdateType,
  type ValueState,
  type ListState,
  type MapState,
  type ReducingState,
  type AggregatingState,
  type RuntimeContext,
  type TimerService,
  type KeyedContext,
  type OnTimerContext,
  type Collector,
  type KeyedProcessFunction,
} from './api/state.js';
export { WatermarkStrategy, type TimestampAssigner } from './api/watermark.js';
export {
  TumblingEventTimeWindows,
  TumblingProcessingTimeWindows,
  SlidingProcessingTimeWindows,
  ProcessingTimeSessionWindows,
  SlidingEventTimeWindows,
  EventTimeSessionWindows,
  GlobalWindows,
  Trigger,
  CountTrigger,
  EventTimeTrigger,
  ContinuousEventTimeTrigger,
  PurgingTrigger,
  CountEvictor,
  type WindowAssigner,
} from './api/windows.js';
export { agg, type AggregateCall } from './api/agg.js';
export type { Source, SourceReader, SourceContext, Sink, SinkWriter, SinkContext, OutputCheck } from './api/connector.js';
export { JobFailedError, UserFunctionError } from './api/errors.js';

export { Schema, type SchemaSpec, type RecordOf, type DataType, type FieldType, type Field } from './batch/schema.js';
export { RecordBatch, type Row } from './batch/record-batch.js';
export { copyRecord } from './batch/row-reader.js';
export type { Column } from './batch/column.js';
export { BadValueError, batchFromRecords } from './batch/builder.js';

export { NexmarkSource, BID_SCHEMA, AUCTION_SCHEMA, PERSON_SCHEMA, type Bid, type Auction, type Person, type NexmarkOptions } from './connectors/nexmark-source.js';
export { FileSource, type JsonlSourceOptions } from './connectors/file-source.js';
export { FileSink } from './connectors/file-sink.js';
export type { CsvSourceOptions, DirectorySourceOptions, WatchSourceOptions } from './connectors/file-source.js';
export type { FilePattern } from './connectors/directory-source.js';
export type { FileSinkOptions } from './connectors/file-sink.js';
export type { RolloverPolicy } from './connectors/rolling-sink.js';
export { CollectSink, DiscardingSink } from './connectors/memory-sinks.js';
export { DataGenSource, type DataGenOptions, type DataGenField } from './connectors/datagen-source.js';
export { SocketSource, type SocketSourceOptions } from './connectors/socket-source.js';
export { KafkaSource, KafkaSourceBuilder, type IsolationLevel } from './connectors/kafka/source.js';
export { OffsetsInitializer, type OffsetsSpec, type OffsetReset } from './connectors/kafka/offsets.js';
export type { MetadataField } from './connectors/kafka/formats.js';
export { KafkaSink, KafkaSinkBuilder, type DeliveryGuarantee, type KafkaPartitioner } from './connectors/kafka/sink.js';
// Registers the runner of ExecuteOptions.application (a job as one instance of a Kafka application).
import './connectors/kafka/application.js';

export type { Engine, EngineName, WindowDescriptor } from './engine/engine.js';
export { selectEngine, nativeAvailable, type EngineChoice } from './engine/select.js';
export { EngineError, type EngineErrorKind } from './engine/errors.js';

export { TableEnvironment, Table, Tumble, Slide, Session, GroupWindowedTable, WindowGroupedTable, GroupedTable, type GroupWindow, type TableResult } from './table/table.js';
export { ROW_KIND_NAMES, type RowKindName } from './batch/row-kind.js';
export type { JoinType } from './engine/regular-join-spec.js';
export { Expression, $, lit, ifThenElse, concat, coalesce, and, or, countStar, type ExprLike } from './table/expression.js';
export { TableError } from './table/resolve.js';
export { TableConfig } from './table/config.js';
// Loading the SQL planner registers it with TableEnvironment (executeSql, sqlQuery).
export { SqlError, planSql } from './sql/sql.js';
export type { ExtractUnit } from './engine/calc-spec.js';
