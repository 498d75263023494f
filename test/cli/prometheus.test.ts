/**
 * Prometheus while a job runs: dead letters and checkpoints (count, last duration and size,
 * failures, restarts) are live, not only in the final result.
 */

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CheckpointMetrics, prometheusText } from '../../ts/cli/prometheus.js';

const root = resolve(import.meta.dirname, '../..');
const cli = join(root, 'dist', 'ts', 'cli', 'main.js');

/** The value of a job-level series, or null when absent. */
function value(text: string, name: string): number | null {
  const m = new RegExp(`^${name}\\{job="prometheus-live"\\} (\\S+)$`, 'm').exec(text);
  return m === null ? null : Number(m[1]);
}

describe('Prometheus metrics', () => {
  it('serve dead letters and checkpoint metrics live while the job runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-prom-'));
    const watched = join(dir, 'in');
    mkdirSync(watched);
    // Port 0: the system picks a free port and the CLI prints it (a fixed one may be taken).
    const child = spawn(process.execPath, [cli, 'run', join(root, 'test', 'fixtures', 'jobs', 'prometheus-live.ts'), '--engine', 'native', '--parallelism', '1', '--metrics-port', '0', '--progress-interval', '100', '--', watched, join(dir, 'dead.jsonl'), join(dir, 'out.jsonl'), join(dir, 'chk')], { cwd: root });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    while (!stderr.includes('/metrics') && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    const metricsUrl = /sluice: metrics at (http:\S+)/.exec(stderr);
    expect(metricsUrl, stderr).not.toBeNull();
    // Three bad lines among good ones, published whole by a rename.
    writeFileSync(join(watched, '.a.jsonl'), '{"a":1}\nnot json\n{"a":2}\n{"a":"x"}\n{"a":1e400}\n{"a":3}\n');
    renameSync(join(watched, '.a.jsonl'), join(watched, 'a.jsonl'));
    let text = '';
    const ready = () => value(text, 'sluice_job_dead_letters_total') === 3 && (value(text, 'sluice_checkpoints_completed_total') ?? 0) >= 2 && (value(text, 'sluice_last_checkpoint_size_bytes') ?? 0) > 0;
    while (!ready() && child.exitCode === null) {
      text = await (await fetch(metricsUrl![1]!)).text();
      if (!ready()) await new Promise((r) => setTimeout(r, 50));
    }
    expect(child.exitCode, stderr).toBeNull();
    expect(text).toMatch(/^sluice_dead_letters_total\{job="prometheus-live",operator="Source: jsonl files watched in [^"]+",operator_id="\d+",subtask="0"\} 3$/m);
    expect(text).toContain('# TYPE sluice_checkpoints_completed_total counter');
    expect(value(text, 'sluice_checkpoints_failed_total')).toBe(0);
    expect(value(text, 'sluice_job_restarts_total')).toBe(0);
    expect(value(text, 'sluice_last_checkpoint_duration_seconds')).toBeGreaterThan(0);
    expect(value(text, 'sluice_last_checkpoint_id')).toBeGreaterThanOrEqual(2);
    child.kill('SIGTERM');
    expect(await exited).toBe(143);
  });

  it('count failed checkpoints and restarts from the run’s events', () => {
    const c = new CheckpointMetrics();
    c.record({ kind: 'checkpoint', id: 1, savepoint: false, path: 'chk/chk-1', durationMs: 1500, alignMs: 2, bytes: 4096 });
    c.record({ kind: 'checkpoint-failed', id: 2, error: 'disk full' });
    c.record({ kind: 'restart', attempt: 1, delayMs: 10, error: 'boom' });
    const text = prometheusText('j', [], 1, c);
    expect(text).toContain('sluice_checkpoints_completed_total{job="j"} 1\n');
    expect(text).toContain('sluice_checkpoints_failed_total{job="j"} 1\n');
    expect(text).toContain('sluice_job_restarts_total{job="j"} 1\n');
    expect(text).toContain('sluice_last_checkpoint_duration_seconds{job="j"} 1.5\n');
    expect(text).toContain('sluice_last_checkpoint_size_bytes{job="j"} 4096\n');
    expect(text).toContain('sluice_job_dead_letters_total{job="j"} 0\n');
  });
});
