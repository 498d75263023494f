/** Job metrics in the Prometheus text exposition format, served over HTTP on request. */

import { Buffer } from 'node:buffer';
import { createServer, type Server } from 'node:http';
import type { OperatorMetrics } from '../api/job.js';

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

export function prometheusText(job: string, operators: readonly OperatorMetrics[], uptimeSeconds: number): string {
  const out: string[] = [
    '# HELP sluice_job_uptime_seconds Time since the job started.',
    '# TYPE sluice_job_uptime_seconds gauge',
    `sluice_job_uptime_seconds{job="${label(job)}"} ${uptimeSeconds}`,
  ];
  for (const f of FAMILIES) {
    const rows = operators.flatMap((m) => {
      const v = f.value(m);
      if (v === undefined || !Number.isFinite(v)) return [];
      return [`${f.name}{job="${label(job)}",operator="${label(m.name)}",operator_id="${m.id}",subtask="${m.subtask}"} ${v}`];
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
