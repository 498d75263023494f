/** Job metrics in the Prometheus text exposition format, served over HTTP on request. */

import { Buffer } from 'node:buffer';
import { createServer, type Server } from 'node:http';
import type { JobEvent, OperatorMetrics } from '../api/job.js';

interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge';
  readonly value: (m: OperatorMetrics) => number | undefined;
}

const FAMILIES: readonly Family[] = [
  { name: 'sluice_records_in_total', help: 'Records received by the operator.', type: 'counter', value: (m) => m.recordsIn },
  { name: 'sluice_records_out_total', help: 'Records emitted by the operator.', type: 'counter', value: (m) => m.recordsOut },
  { name: 'sluice_late_records_dropped_total', help: 'Records dropped because their window had fired.', type: 'counter', value: (m) => m.lateRecordsDropped },
  { name: 'sluice_dead_letters_total', help: 'Bad input records routed to a dead-letter file.', type: 'counter', value: (m) => m.deadLetters },
  { name: 'sluice_busy_seconds_total', help: 'Time spent in the operator itself.', type: 'counter', value: (m) => m.busyMs / 1000 },
  { name: 'sluice_backpressured_seconds_total', help: 'Time the operator could not emit because downstream was blocked.', type: 'counter', value: (m) => m.backpressuredMs / 1000 },
  { name: 'sluice_busy_ms_per_second', help: 'Of each second over the last interval, ms busy (as Flink\'s busyTimeMsPerSecond).', type: 'gauge', value: (m) => m.busyMsPerSecond },
  { name: 'sluice_backpressured_ms_per_second', help: 'Of each second over the last interval, ms backpressured (backPressuredTimeMsPerSecond).', type: 'gauge', value: (m) => m.backPressuredMsPerSecond },
  { name: 'sluice_idle_ms_per_second', help: 'Of each second over the last interval, ms idle (idleTimeMsPerSecond).', type: 'gauge', value: (m) => m.idleMsPerSecond },
  { name: 'sluice_blocked_seconds_total', help: 'Time a sink waited for its destination.', type: 'counter', value: (m) => (m.blockedMs === undefined ? undefined : m.blockedMs / 1000) },
  { name: 'sluice_records_in_per_second', help: 'Records received per second over the last interval.', type: 'gauge', value: (m) => m.recordsInPerSecond },
  { name: 'sluice_records_out_per_second', help: 'Records emitted per second over the last interval.', type: 'gauge', value: (m) => m.recordsOutPerSecond },
  { name: 'sluice_current_watermark_ms', help: 'The last watermark the operator emitted.', type: 'gauge', value: (m) => m.watermark ?? undefined },
  { name: 'sluice_managed_memory_bytes', help: 'Operator state memory.', type: 'gauge', value: (m) => m.memoryBytes },
];

function label(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Checkpoints and restarts of a run so far, kept from its lifecycle events (ExecuteOptions.onEvent). */
export class CheckpointMetrics {
  completed = 0;
  failed = 0;
  restarts = 0;
  /** The last completed checkpoint (savepoints included): its duration, size and id. */
  last: { readonly id: number; readonly durationMs: number; readonly bytes: number } | null = null;

  record(e: JobEvent): void {
    if (e.kind === 'checkpoint') {
      this.completed++;
      this.last = { id: e.id, durationMs: e.durationMs, bytes: e.bytes };
    } else if (e.kind === 'checkpoint-failed') this.failed++;
    else if (e.kind === 'restart') this.restarts++;
  }
}

function jobFamily(name: string, help: string, type: 'counter' | 'gauge', job: string, value: number): string[] {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name}{job="${label(job)}"} ${value}`];
}

export function prometheusText(job: string, operators: readonly OperatorMetrics[], uptimeSeconds: number, checkpoints: CheckpointMetrics | null = null): string {
  const out: string[] = jobFamily('sluice_job_uptime_seconds', 'Time since the job started.', 'gauge', job, uptimeSeconds);
  // Dead letters of the whole job (each source's are below, per operator): 0 until the first.
  const dead = operators.reduce((s, m) => s + (m.deadLetters ?? 0), 0);
  out.push(...jobFamily('sluice_job_dead_letters_total', 'Bad input records routed to dead-letter files, all sources.', 'counter', job, dead));
  if (checkpoints !== null) {
    const c = checkpoints;
    out.push(
      ...jobFamily('sluice_checkpoints_completed_total', 'Checkpoints (and savepoints) completed.', 'counter', job, c.completed),
      ...jobFamily('sluice_checkpoints_failed_total', 'Checkpoints that failed (each fails the run).', 'counter', job, c.failed),
      ...jobFamily('sluice_job_restarts_total', 'Restarts from the latest checkpoint after a failure.', 'counter', job, c.restarts),
    );
    if (c.last !== null) {
      out.push(
        ...jobFamily('sluice_last_checkpoint_id', 'Id of the last completed checkpoint.', 'gauge', job, c.last.id),
        ...jobFamily('sluice_last_checkpoint_duration_seconds', 'Duration of the last completed checkpoint, barriers to commit.', 'gauge', job, c.last.durationMs / 1000),
        ...jobFamily('sluice_last_checkpoint_size_bytes', 'State bytes of the last completed checkpoint (before compression).', 'gauge', job, c.last.bytes),
      );
    }
  }
  // An application instance: the tasks it runs now (the operators below carry them too).
  const tasks = [...new Set(operators.flatMap((m) => (m.task === undefined ? [] : [m.task])))].sort((a, b) => a - b);
  if (tasks.length > 0) {
    out.push('# HELP sluice_application_task Tasks of the Kafka application this instance runs (1 each).', '# TYPE sluice_application_task gauge');
    out.push(...tasks.map((t) => `sluice_application_task{job="${label(job)}",task="${t}"} 1`));
  }
  for (const f of FAMILIES) {
    const rows = operators.flatMap((m) => {
      const v = f.value(m);
      if (v === undefined || !Number.isFinite(v)) return [];
      const task = m.task === undefined ? '' : `,task="${m.task}"`;
      return [`${f.name}{job="${label(job)}",operator="${label(m.name)}",operator_id="${m.id}",subtask="${m.subtask}"${task}} ${v}`];
    });
    if (rows.length === 0) continue;
    out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`, ...rows);
  }
  return out.join('\n') + '\n';
}

/** Serves GET (and HEAD) /metrics on 127.0.0.1:port from whatever `current()` returns at request time. */
export function serveMetrics(port: number, current: () => string): Promise<Server> {
  const server = createServer((req, res) => {
    if ((req.method === 'GET' || req.method === 'HEAD') && (req.url === '/metrics' || req.url?.startsWith('/metrics?'))) {
      const body = current();
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': Buffer.byteLength(body) });
      // HEAD: the same headers, no body (monitors probe with it).
      res.end(req.method === 'HEAD' ? undefined : body);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('metrics are at /metrics\n');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', (e) => reject(new Error(`cannot serve metrics on port ${port}: ${e.message}; choose another --metrics-port`)));
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}
