/**
 * The command's log on stderr: `--log-level error|warn|info|debug` (default info). One line
 * per lifecycle event of a run (start, restore, checkpoint, restart, stop) at info; failures
 * at error; warnings (Node's process warnings, Sluice's `SLUICE_*` among them) at warn.
 */

import type { JobEvent } from '../api/job.js';
import { UsageError } from './args.js';

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function parseLogLevel(value: string | true | undefined): LogLevel {
  if (value === undefined) return 'info';
  const level = LOG_LEVELS.find((l) => l === value);
  if (level === undefined) throw new UsageError(`--log-level is '${String(value)}'; use ${LOG_LEVELS.join(', ')}`);
  return level;
}

export class Log {
  /** Set while a live status line occupies the terminal's last line: a log line clears it first. */
  statusLine = false;

  constructor(readonly level: LogLevel) {}

  enabled(level: LogLevel): boolean {
    return LOG_LEVELS.indexOf(level) <= LOG_LEVELS.indexOf(this.level);
  }

  write(level: LogLevel, text: string): void {
    if (!this.enabled(level)) return;
    process.stderr.write(`${this.statusLine ? '\r\x1b[K' : ''}sluice: ${level === 'info' ? '' : `${level}: `}${text}\n`);
  }

  error(text: string): void {
    this.write('error', text);
  }
  warn(text: string): void {
    this.write('warn', text);
  }
  info(text: string): void {
    this.write('info', text);
  }
  debug(text: string): void {
    this.write('debug', text);
  }

  /**
   * Takes over Node's printing of process warnings: they are shown at warn, with their code;
   * a restart's warning is left out (its event has a line of its own).
   */
  captureWarnings(): void {
    process.removeAllListeners('warning');
    process.on('warning', (w: Error & { code?: string }) => {
      if (w.code === 'SLUICE_RESTART') return;
      this.warn(`${w.code === undefined ? w.name : `${w.code} ${w.name}`}: ${w.message}`);
    });
  }

  /** One line per lifecycle event. */
  event(e: JobEvent): void {
    switch (e.kind) {
      case 'checkpoint':
        this.info(`${e.savepoint ? 'savepoint' : 'checkpoint'} ${e.id} completed in ${e.durationMs.toFixed(0)} ms (${formatKiB(e.bytes)}, barriers aligned in ${e.alignMs.toFixed(1)} ms): ${e.path}`);
        return;
      case 'checkpoint-written':
        this.debug(`${e.savepoint ? 'savepoint' : 'checkpoint'} ${e.id} written, sinks committing: ${e.path}`);
        return;
      case 'checkpoint-failed':
        this.error(`checkpoint ${e.id} failed: ${e.error}`);
        return;
      case 'restored':
        this.info(`restored from ${e.path}${e.skipped.length > 0 ? ` (skipped ${e.skipped.length} damaged or incomplete)` : ''}`);
        for (const s of e.skipped) this.debug(`skipped checkpoint: ${s}`);
        return;
      case 'restart':
        this.warn(`restart ${e.attempt} in ${e.delayMs} ms from the latest checkpoint after a failure: ${e.error}`);
        return;
      case 'rescale':
        if (e.error === undefined) this.info(`rescaled from parallelism ${e.from} to ${e.to} through savepoint ${e.savepoint}`);
        else this.warn(`rescale from parallelism ${e.from} to ${e.to} failed, going on at ${e.from} from savepoint ${e.savepoint}: ${e.error}`);
        return;
    }
  }
}

function formatKiB(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}
