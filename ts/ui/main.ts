/**
 * The dashboard page: loads the job (GET /api/job), draws its graph, then follows its events
 * (Server-Sent Events on /api/events) to update the graph's colours, the operator table, the
 * rate charts, memory, checkpoints, failures and the job's status. The savepoint buttons POST
 * with the run's token, taken from the address (#token=...) or typed in.
 */

import 'uplot/dist/uPlot.min.css';
import './dashboard.css';
import type { CheckpointRecord, CheckpointStats, MemoryUse, OperatorMetrics, Progress } from '../api/job.js';
import { RateCharts } from './charts.js';
import { bytes, clock, count, ms, percent, time } from './format.js';
import { JobGraphView } from './graph.js';
import { copyOf, copyOrder } from './instances.js';
import { TOKEN_HEADER, type Events, type JobInfo, type SavepointResponse } from './protocol.js';

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (e === null) throw new Error(`the page lacks #${id}`);
  return e as T;
}

function cell(row: HTMLTableRowElement, text: string, testid?: string): HTMLTableCellElement {
  const td = row.insertCell();
  td.textContent = text;
  if (testid !== undefined) td.dataset['testid'] = testid;
  return td;
}

function text(id: string, value: string): void {
  byId(id).textContent = value;
}

class Page {
  private readonly graph: JobGraphView;
  private readonly charts: RateCharts;
  private readonly names: Map<number, string>;
  private updates = 0;
  private token: string;
  private ended = false;

  constructor(private readonly job: JobInfo) {
    document.title = `${job.jobName} · Sluice`;
    text('job-name', job.jobName);
    const c = job.checkpoints;
    byId('facts').textContent =
      `${job.engine} engine · parallelism ${job.parallelism} · max parallelism ${job.plan.maxParallelism} · ` +
      `${job.plan.slots > 1 ? `${job.plan.slots} worker threads` : 'one thread'} · ` +
      (c === null ? 'no checkpointing' : `checkpoints every ${ms(c.intervalMs)} into ${c.dir}`) +
      ` · started ${clock(job.startedAt)}`;
    this.names = new Map(job.plan.nodes.map((n) => [n.id, n.name]));
    this.graph = new JobGraphView(byId('graph'), job.plan);
    this.charts = new RateCharts(byId('charts'), job.plan.nodes);
    const fromHash = new URLSearchParams(location.hash.slice(1)).get('token');
    this.token = fromHash ?? '';
    if (fromHash !== null) byId('token-label').hidden = true;
    byId<HTMLInputElement>('savepoint-dir').value = job.savepointDir ?? '';
    this.controls();
  }

  /** Follows the job's events; EventSource reconnects by itself while the job runs. */
  listen(): void {
    const events = new EventSource('/api/events');
    const on = <K extends keyof Events>(name: K, f: (data: Events[K]) => void): void =>
      events.addEventListener(name, (e) => f(JSON.parse((e as MessageEvent<string>).data) as Events[K]));
    on('progress', (p) => this.progress(p));
    on('status', (s) => this.status(s));
    on('restart', (r) => this.restart(r));
    on('savepoint', (s) => this.savepointDone(s));
    on('rescale', (r) => {
      // The job runs with another plan now: load the page again (the token stays in the address).
      if (r.job !== undefined) location.reload();
      else this.showResult('rescale-result', false, `${clock(r.at)}: rescale to ${r.to} failed: ${r.error ?? ''}`);
    });
    events.addEventListener('error', () => {
      // The process ended: the job's last status came before the stream closed.
      if (this.ended) events.close();
      else this.setStatus('disconnected', 'reconnecting…');
    });
  }

  private progress(p: Progress): void {
    this.updates++;
    document.body.dataset['updates'] = String(this.updates);
    text('records-in', count(p.recordsIn));
    text('records-out', count(p.recordsOut));
    text('rate', `${count(p.recordsPerSecond)}/s`);
    text('watermark', time(p.watermark));
    text('watermark-lag', ms(p.watermarkLagMs));
    text('elapsed', ms(p.elapsedMs));
    const bp = p.backpressured;
    text('backpressure', bp === null ? 'none' : `${bp.operator} ${Math.round(bp.share * 100)}%${bp.blockedBy !== null ? ` (waiting on ${bp.blockedBy})` : ''}`);
    this.graph.update(p.operators);
    this.charts.push(Date.now(), p.operators);
    this.operatorTable(p.operators);
    if (p.memory !== undefined) this.memory(p.memory);
    if (p.checkpoints !== undefined) this.checkpoints(p.checkpoints);
  }

  private operatorTable(ops: readonly OperatorMetrics[]): void {
    const body = byId<HTMLTableElement>('operators').tBodies[0]!;
    const maxTs = Math.max(...ops.map((m) => m.maxEventTime ?? -Infinity));
    const rows = [...ops].sort((a, b) => a.id - b.id || copyOrder(a) - copyOrder(b));
    body.replaceChildren();
    for (const m of rows) {
      const r = body.insertRow();
      const key = `${m.id}-${copyOf(m)}`;
      cell(r, `#${m.id} ${m.name}`).title = m.name;
      cell(r, copyOf(m), `copy-${key}`).title = m.task === undefined ? `subtask ${m.subtask}` : `task ${m.task} of the application`;
      cell(r, count(m.recordsInPerSecond), `rate-in-${key}`);
      cell(r, count(m.recordsOutPerSecond), `rate-out-${key}`);
      cell(r, count(m.recordsIn));
      cell(r, count(m.recordsOut));
      cell(r, percent(m.busyMsPerSecond), `busy-${key}`);
      cell(r, percent(m.backPressuredMsPerSecond), `backpressured-${key}`);
      cell(r, percent(m.idleMsPerSecond));
      cell(r, time(m.watermark));
      const wm = m.watermark;
      cell(r, wm === null || !Number.isFinite(wm) || !Number.isFinite(maxTs) ? '–' : ms(Math.max(0, maxTs - wm)));
      cell(r, bytes(m.checkpointedBytes));
      cell(r, bytes(m.memoryBytes));
    }
  }

  private memory(m: MemoryUse): void {
    const bar = (label: string, used: number, peak: number, total: number): string => {
      const u = total > 0 ? Math.min(100, (100 * used) / total) : 0;
      const pk = total > 0 ? Math.min(100, (100 * peak) / total) : 0;
      return `<div class="mem"><div class="mem-label">${label}: ${bytes(used)} now, peak ${bytes(peak)} of ${bytes(total)}</div><div class="mem-bar"><div class="mem-used" style="width:${u}%"></div><div class="mem-peak" style="left:${pk}%"></div></div></div>`;
    };
    byId('memory').innerHTML =
      `<p>budget ${bytes(m.budgetBytes)}</p>` +
      bar('operator state', m.operatorUsedBytes, m.operatorPeakBytes, m.operatorBudgetBytes) +
      (m.exchangeReservedBytes > 0 ? bar('exchange buffers', m.exchangeInFlightBytes, m.exchangePeakBytes, m.exchangeReservedBytes) : '');
  }

  private checkpoints(c: CheckpointStats): void {
    text(
      'checkpoint-summary',
      `${c.completed} completed` +
        (c.lastId !== null ? `, last #${c.lastId}: ${bytes(c.lastBytes)} in ${ms(c.lastDurationMs)}` : '') +
        `, largest ${bytes(c.largestBytes)}, longest ${ms(c.longestMs)}` +
        (c.restoredFrom !== null ? ` · resumed from ${c.restoredFrom} (${ms(c.restoreMs)})` : '') +
        (c.skipped.length > 0 ? ` · skipped at restore: ${c.skipped.join('; ')}` : ''),
    );
    const body = byId<HTMLTableElement>('checkpoints').tBodies[0]!;
    body.replaceChildren();
    for (const r of [...c.history].reverse()) this.checkpointRow(body.insertRow(), r);
  }

  private checkpointRow(row: HTMLTableRowElement, r: CheckpointRecord): void {
    row.className = `cp-${r.status.replace(' ', '-')}`;
    cell(row, String(r.id));
    cell(row, r.savepoint ? 'savepoint' : 'checkpoint');
    cell(row, r.status);
    cell(row, clock(r.triggeredAt));
    cell(row, ms(r.alignMs));
    cell(row, ms(r.durationMs));
    cell(row, bytes(r.bytes));
    cell(row, r.error ?? r.path ?? '');
  }

  private status(s: Events['status']): void {
    this.ended = ['finished', 'stopped', 'failed'].includes(s.state);
    this.setStatus(s.state, s.detail ?? '');
    if (s.error !== undefined) this.failure(`job failed at ${clock(s.at)}`, s.error.message, s.error.stack);
    if (this.ended) for (const b of ['savepoint', 'stop-savepoint']) byId<HTMLButtonElement>(b).disabled = true;
  }

  private setStatus(state: string, detail: string): void {
    const e = byId('status');
    e.className = `status ${state}`;
    e.textContent = state;
    e.title = detail;
  }

  private restart(r: Events['restart']): void {
    this.failure(`failure at ${clock(r.failedAt)}: restart ${r.restart} after ${ms(r.delayMs)}`, r.error.message, r.error.stack);
  }

  private failure(title: string, message: string, stack: string): void {
    const box = byId('failures');
    if (box.querySelector('.muted') !== null) box.replaceChildren();
    const d = document.createElement('details');
    d.className = 'failure';
    d.open = box.children.length === 0;
    const s = document.createElement('summary');
    s.textContent = `${title}: ${message.split('\n')[0]}`;
    const pre = document.createElement('pre');
    pre.textContent = stack === '' ? message : `${message}\n${stack.split('\n').filter((l) => /^\s+at /.test(l)).join('\n')}`;
    d.append(s, pre);
    box.prepend(d);
  }

  private savepointDone(s: Events['savepoint']): void {
    const e = byId('savepoint-result');
    e.textContent = s.path !== undefined ? `${clock(s.at)}: savepoint at ${s.path}${s.stop ? '; the job stops' : ''}` : `${clock(s.at)}: savepoint failed: ${s.error ?? ''}`;
    e.className = s.path !== undefined ? 'ok' : 'error';
  }

  private showResult(id: string, ok: boolean, message: string): void {
    const e = byId(id);
    e.textContent = message;
    e.className = ok ? 'ok' : 'error';
  }

  private async requestRescale(): Promise<void> {
    const to = Number(byId<HTMLInputElement>('rescale-to').value);
    const token = this.token !== '' ? this.token : byId<HTMLInputElement>('token').value.trim();
    byId('rescale-result').className = 'muted';
    byId('rescale-result').textContent = `rescaling to ${to}…`;
    try {
      const res = await fetch('/api/rescale', { method: 'POST', headers: { 'content-type': 'application/json', [TOKEN_HEADER]: token }, body: JSON.stringify({ parallelism: to }) });
      const body = (await res.json()) as SavepointResponse;
      if ('error' in body) this.showResult('rescale-result', false, `${res.status}: ${body.error}`);
      else this.showResult('rescale-result', true, `rescaled to ${to} through the savepoint ${body.path}`);
    } catch (e) {
      this.showResult('rescale-result', false, `the request failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private controls(): void {
    const canSave = this.job.checkpoints !== null;
    const rescale = byId<HTMLButtonElement>('rescale');
    byId<HTMLInputElement>('rescale-to').value = String(this.job.parallelism);
    rescale.disabled = !canSave;
    if (!canSave) rescale.title = 'rescaling needs checkpointing (env.enableCheckpointing in the job)';
    rescale.addEventListener('click', () => void this.requestRescale());
    for (const [id, stop] of [['savepoint', false], ['stop-savepoint', true]] as const) {
      const b = byId<HTMLButtonElement>(id);
      b.disabled = !canSave;
      if (!canSave) b.title = 'savepoints need checkpointing (env.enableCheckpointing in the job)';
      b.addEventListener('click', () => void this.requestSavepoint(stop));
    }
  }

  private async requestSavepoint(stop: boolean): Promise<void> {
    if (stop && !confirm('Take a savepoint and stop the job?')) return;
    const result = byId('savepoint-result');
    const token = this.token !== '' ? this.token : byId<HTMLInputElement>('token').value.trim();
    const dir = byId<HTMLInputElement>('savepoint-dir').value.trim();
    result.className = 'muted';
    result.textContent = stop ? 'taking a savepoint, then stopping…' : 'taking a savepoint…';
    try {
      const res = await fetch(stop ? '/api/stop-with-savepoint' : '/api/savepoint', {
        method: 'POST',
        headers: { 'content-type': 'application/json', [TOKEN_HEADER]: token },
        body: JSON.stringify(dir === '' ? {} : { dir }),
      });
      const body = (await res.json()) as SavepointResponse;
      if ('error' in body) {
        result.className = 'error';
        result.textContent = `${res.status}: ${body.error}`;
      } else {
        result.className = 'ok';
        result.textContent = `savepoint at ${body.path}${stop ? '; the job stops' : ''}`;
      }
    } catch (e) {
      result.className = 'error';
      result.textContent = `the request failed: ${e instanceof Error ? e.message : String(e)}`;
    }
  }
}

async function main(): Promise<void> {
  const res = await fetch('/api/job');
  if (!res.ok) throw new Error(`GET /api/job answered ${res.status}`);
  new Page((await res.json()) as JobInfo).listen();
}

main().catch((e: unknown) => {
  document.body.insertAdjacentHTML('afterbegin', '<p class="error" id="load-error"></p>');
  byId('load-error').textContent = `the dashboard could not load: ${e instanceof Error ? e.message : String(e)}`;
});
