/**
 * A file pipeline: CSV in, JSON Lines out. Clicks (a header `user,page,at`, then rows such as
 * `ann,/,2026-01-05T10:00:00Z`; `at` in epoch ms or ISO-8601 with a zone) are counted per user
 * and minute of event time; bad rows go to a dead-letter file instead of failing the job.
 *
 *   npx sluice run examples/file-pipeline.ts -- clicks.csv per-minute.jsonl [dead-letters.jsonl]
 *
 * Without checkpoints the output appears (or replaces an older file) in one rename when the job
 * ends; a failed or killed run leaves an existing one as it was.
 */

import { agg, FileSink, FileSource, TumblingEventTimeWindows, WatermarkStrategy, type StreamEnvironment } from '../ts/index.js';

export default function filePipeline(env: StreamEnvironment, args: readonly string[]): void {
  const input = args[0] ?? 'clicks.csv';
  const output = args[1] ?? 'per-minute.jsonl';
  const deadLetterPath = args[2] ?? `${output}.dead-letters.jsonl`;
  env
    .fromSource(
      FileSource.csv(input, { user: 'utf8', page: 'utf8', at: 'timestamp' }, { deadLetterPath }),
      // Clicks arrive up to 5 s out of order; a minute's count is final 5 s after it ends.
      WatermarkStrategy.forBoundedOutOfOrderness(5_000).withTimestampAssigner('at'),
    )
    .keyBy('user')
    .window(TumblingEventTimeWindows.of(60_000))
    .aggregate({ clicks: agg.count(), pages: agg.countDistinct('page') })
    .sinkTo(FileSink.jsonl(output));
}
