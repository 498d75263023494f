// The web dashboard (`sluice run --ui`) in a real browser: Debian's chromium, headless, driven
// by playwright-core, on a real job running as a child process. The page shows the job graph
// and live rates that change from one Server-Sent Event to the next; its stop-with-savepoint
// button stops the job with a savepoint. A screenshot is kept in test-artifacts/dashboard.png.
// Without the run's token, state-changing requests are refused.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { findLatest } from '../../ts/runtime/checkpoint-store.js';
import { chromiumPath } from './chromium.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = join(root, 'dist/ts/cli/main.js');
const artifacts = join(root, 'test-artifacts');
const work = mkdtempSync(join(tmpdir(), 'sluice-ui-'));
const children: ChildProcessWithoutNullStreams[] = [];
let browser: Browser | null = null;

afterAll(async () => {
  await browser?.close();
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});


interface Running {
  readonly child: ChildProcessWithoutNullStreams;
  readonly stderr: () => string;
  readonly exited: Promise<number | null>;
  /** The dashboard's address (no fragment) and the run's token. */
  readonly base: string;
  readonly token: string;
}

/** Starts `sluice run <args>` and resolves once it printed the dashboard's address (its ready line). */
/**
 * Waits until `wait` resolves or the job's process exits, whichever comes first: no guessed
 * timeout, and a job that dies ends the wait (the assertions after it then say what is wrong).
 */
async function untilOrExit(job: Running, wait: Promise<unknown>): Promise<void> {
  await Promise.race([wait.catch(() => undefined), job.exited]);
}

/** Reads `read` until `ok` holds of its value or the job's process exited; returns the last value (the caller asserts on it). */
async function pollOrExit<T>(job: Running, read: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  let ended = false;
  void job.exited.then(() => (ended = true));
  for (;;) {
    const v = await read();
    if (ok(v) || ended) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function start(args: readonly string[]): Promise<Running> {
  const child = spawn(process.execPath, [cli, 'run', ...args], { cwd: root });
  children.push(child);
  let stderr = '';
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const line = /sluice: dashboard at (http:\/\/127\.0\.0\.1:\d+\/)#token=([\w-]+)/;
  const ready = await new Promise<RegExpExecArray>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = line.exec(stderr);
      if (m !== null) resolve(m);
    });
    void exited.then((code) => reject(new Error(`sluice exited (${code}) before serving its dashboard:\n${stderr}`)));
  });
  child.stdout.resume();
  return { child, stderr: () => stderr, exited, base: ready[1]!, token: ready[2]! };
}

/** One HTTP request to the dashboard, with the Host header given (default: the dashboard's own). */
function call(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, base), { method, headers }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The checkpointed Nexmark job: bids -> map -> keyed 10 s windows (2 subtasks) -> JSONL, paced at 20 000 events/s (runs for minutes unless stopped). */
function windowJob(engine: string, parallelism: number, tag: string, extra: readonly string[] = []): string[] {
  return ['test/fixtures/jobs/checkpointed.ts', '--engine', engine, '--parallelism', String(parallelism), '--no-progress', '--ui', ...extra, '--', 'window', join(work, `${tag}.jsonl`), join(work, `${tag}-chk`), '20000000', '20000', '1'];
}

describe('web dashboard', () => {
  it('--ui takes an optional port; --ui-host needs --ui', () => {
    const run = (args: string[]) => spawnSync(process.execPath, [cli, 'run', 'test/fixtures/cli-pipeline.ts', ...args, '--', '1000', join(work, 'usage.jsonl')], { cwd: root, encoding: 'utf8' });
    const host = run(['--ui-host', '0.0.0.0']);
    expect(host.status).toBe(2);
    expect(host.stderr).toContain('--ui-host needs --ui');
    const port = run(['--ui=70000']);
    expect(port.status).toBe(2);
    expect(port.stderr).toContain("--ui takes a port number (or nothing for a free port), got '70000'");
    // Without a port it takes a free one and leaves the next argument alone.
    const free = run(['--ui', '--engine', 'ts', '--no-progress']);
    expect(free.status, free.stderr).toBe(0);
    expect(free.stderr).toMatch(/sluice: dashboard at http:\/\/127\.0\.0\.1:\d+\/#token=[\w-]{24} /);
    expect(free.stderr).toContain('on the ts engine');
  });

  it('shows the job graph and live rates of a parallel job, and stops it with a savepoint from the browser', async () => {
    const job = await start(windowJob('native', 2, 'browser'));
    browser = await chromium.launch({ executablePath: chromiumPath(), headless: true });
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    // No guessed timeouts: every wait below ends on its condition or on the job's exit.
    page.setDefaultTimeout(0);
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${job.base}#token=${job.token}`);

    // The graph: four operators in three tasks (source + map chained; the keyed window; the sink on the calling thread), with the hash exchange.
    await untilOrExit(job, page.waitForSelector('#graph svg g.operator'));
    const titles = await page.locator('#graph g.operator title').allTextContents();
    expect(titles).toEqual([
      '#1 Source: nexmark bids (source), parallelism 1',
      '#2 Map (map), parallelism 1',
      '#3 Window(TumblingEventTimeWindows(10000 ms)) Aggregate (userWindow), parallelism 2',
      `#4 Sink: jsonl ${join(work, 'browser.jsonl')} (sink), parallelism 1, on the calling thread`,
    ]);
    expect(await page.locator('#graph g.chain').count()).toBe(3);
    expect(await page.locator('#graph .edge-label').allTextContents()).toEqual(['HASH(auction)', 'GLOBAL']);
    expect(await page.locator('#graph g.operator[data-op="3"] .op-par').textContent()).toContain('parallelism 2');
    expect(await pollOrExit(job, () => page.locator('#facts').textContent(), (t) => t?.includes('parallelism 2') === true)).toContain('native engine · parallelism 2');

    // Live: every progress event updates the page, and the records read grow on it. (Not within
    // a given number of events: on a loaded machine the first events can come before the worker
    // threads read anything, and CI once saw 0 records after three.)
    const updates = async (): Promise<number> => Number(await page.evaluate(() => document.body.dataset['updates'] ?? '0'));
    await untilOrExit(job, page.waitForFunction(() => Number(document.body.dataset['updates'] ?? '0') >= 1));
    const before = { n: await updates(), recordsIn: await page.getByTestId('records-in').textContent() };
    await untilOrExit(job, page.waitForFunction((n) => Number(document.body.dataset['updates'] ?? '0') >= n + 2, before.n));
    expect(await pollOrExit(job, () => page.getByTestId('records-in').textContent(), (t) => t !== before.recordsIn)).not.toBe(before.recordsIn);
    // Rates per operator subtask, busy time colouring the graph, a chart per operator.
    for (const sub of [0, 1]) await untilOrExit(job, page.waitForFunction((id) => Number(document.querySelector(`[data-testid="${id}"]`)?.textContent?.replace(/[^\d.]/g, '') || '0') > 0, `rate-in-3-${sub}`));
    expect(await page.locator('#graph g.operator[data-op="3"] .op-box').getAttribute('data-busy')).toMatch(/^\d+$/);
    expect(await page.locator('#graph g.operator[data-op="3"] .op-detail').textContent()).toMatch(/^busy \d+% · backpressured \d+%$/);
    expect(await page.locator('#graph g.operator[data-op="3"] .op-rates').textContent()).toMatch(/^in [\d.]+K?\/s · out [\d.]+K?\/s$/);
    for (const id of [1, 2, 3, 4]) expect(await page.getByTestId(`chart-${id}`).locator('canvas').count()).toBe(1);
    expect(await pollOrExit(job, () => page.getByTestId('watermark').textContent(), (t) => /^2015-07-15 /.test(t ?? ''))).toMatch(/^2015-07-15 /);
    // Checkpoints complete every 100 ms: the history fills; memory shows the budget and its split.
    await untilOrExit(job, page.waitForFunction(() => [...document.querySelectorAll('#checkpoints tbody tr td:nth-child(3)')].some((td) => td.textContent === 'completed')));
    const memory = /budget .*operator state: .* now, peak .* of .*exchange buffers/;
    expect(await pollOrExit(job, () => page.getByTestId('memory').textContent(), (t) => memory.test(t ?? ''))).toMatch(memory);

    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, 'dashboard.png'), fullPage: true });

    // Stop with a savepoint: the button asks for confirmation, then POSTs with the token from the address.
    const savepoints = join(work, 'browser-savepoints');
    await page.fill('#savepoint-dir', savepoints);
    page.once('dialog', (d) => void d.accept());
    await page.click('#stop-savepoint');
    const stopping = /savepoint at .*browser-savepoints\/chk-\d+; the job stops/;
    await untilOrExit(job, page.waitForFunction((re) => new RegExp(re).test(document.querySelector('[data-testid="savepoint-result"]')?.textContent ?? ''), stopping.source, { timeout: 0 }));
    expect(await page.getByTestId('savepoint-result').textContent(), job.stderr()).toMatch(stopping);
    expect(await job.exited, job.stderr()).toBe(0);
    expect(job.stderr()).toMatch(/sluice: savepoint at .*browser-savepoints\/chk-\d+ \(requested from the dashboard\); stopping/);
    expect(job.stderr()).toMatch(/stopped with a savepoint from the dashboard after \d+ records/);
    const sp = findLatest(savepoints).checkpoint;
    expect(sp?.savepoint).toBe(true);
    expect(sp?.job).toBe('checkpointed');
    // The page saw the job stop before the process ended: its last status, not 'disconnected' (the stream closed without it).
    await page.waitForFunction(() => ['stopped', 'disconnected'].includes(document.querySelector('[data-testid="status"]')?.textContent ?? ''));
    expect(await page.getByTestId('status').textContent()).toBe('stopped');
    expect(pageErrors).toEqual([]);
  });

  it('shows a failure the restart strategy recovered from, with its stack, while the job runs on', async () => {
    const job = await start(['test/fixtures/jobs/restart-once.ts', '--engine', 'ts', '--parallelism', '1', '--no-progress', '--ui', '--', join(work, 'restart-marker'), join(work, 'restart.jsonl'), join(work, 'restart-chk')]);
    browser ??= await chromium.launch({ executablePath: chromiumPath(), headless: true });
    const page = await browser.newPage();
    page.setDefaultTimeout(0);
    await page.goto(`${job.base}#token=${job.token}`);
    // Live, or replayed to a page that connects after the restart.
    const failure = page.locator('#failures details.failure');
    await untilOrExit(job, failure.waitFor({ timeout: 0 }));
    expect(await failure.count(), job.stderr()).toBe(1);
    expect(await failure.locator('summary').textContent()).toMatch(/^failure at .*: restart 1 after 100 ms: job 'restart-once' failed in operator 'Map' \(subtask 0\): .*injected failure for the dashboard/);
    expect(await failure.locator('pre').textContent()).toMatch(/\n\s+at .*restart-once\.ts:\d+:\d+/);
    // After the restart the job runs again and reports progress.
    await untilOrExit(job, page.waitForFunction(() => document.querySelector('[data-testid="status"]')?.textContent === 'running', undefined, { timeout: 0 }));
    expect(await page.getByTestId('status').textContent(), job.stderr()).toBe('running');
    const n = Number(await page.evaluate(() => document.body.dataset['updates'] ?? '0'));
    await untilOrExit(job, page.waitForFunction((k) => Number(document.body.dataset['updates'] ?? '0') > k, n));
    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, 'dashboard-restart.png'), fullPage: true });
    job.child.kill('SIGINT');
    expect(await job.exited, job.stderr()).toBe(130);
  });

  it('rescales the running job from the page: the Rescale control, then the page shows the new plan', async () => {
    const job = await start(windowJob('ts', 1, 'rescale'));
    browser ??= await chromium.launch({ executablePath: chromiumPath(), headless: true });
    const page = await browser.newPage();
    page.setDefaultTimeout(0);
    await page.goto(`${job.base}#token=${job.token}`);
    await untilOrExit(job, page.waitForSelector('#graph svg g.operator'));
    expect(await page.locator('#graph g.operator[data-op="3"] .op-par').textContent()).toContain('parallelism 1');
    await page.fill('#rescale-to', '2');
    await page.click('#rescale');
    // The page reloads with the job as it runs now.
    // (Read through a locator, which finds the element again after the reload.)
    const par = () => page.locator('#graph g.operator[data-op="3"] .op-par').textContent().catch(() => null);
    expect(await pollOrExit(job, par, (t) => t?.includes('parallelism 2') === true), job.stderr()).toContain('parallelism 2');
    expect(await page.locator('#facts').textContent()).toContain('ts engine · parallelism 2');
    expect(job.stderr()).toMatch(/rescaled from parallelism 1 to 2 through savepoint .*rescale-chk\/chk-\d+/);
    job.child.kill('SIGINT');
    expect(await job.exited, job.stderr()).toBe(130);
  });

  it('refuses state-changing requests without the run token (403) and serves GET read-only', async () => {
    const job = await start(windowJob('ts', 1, 'token', ['--metrics-port', '0']));
    const savepoints = join(work, 'token-savepoints');
    const body = JSON.stringify({ dir: savepoints });
    const json = { 'content-type': 'application/json' };
    for (const path of ['/api/savepoint', '/api/stop-with-savepoint']) {
      const none = await call(job.base, 'POST', path, json, body);
      expect(none.status).toBe(403);
      expect(JSON.parse(none.body).error).toMatch(/needs the run's token in the x-sluice-token header/);
      expect((await call(job.base, 'POST', path, { ...json, 'x-sluice-token': `${job.token}x` }, body)).status).toBe(403);
      expect((await call(job.base, 'POST', path, { ...json, 'x-sluice-token': job.token.slice(1) }, body)).status).toBe(403);
    }
    expect((await call(job.base, 'PUT', '/api/savepoint', { 'x-sluice-token': job.token }, body)).status).toBe(405);
    expect((await call(job.base, 'DELETE', '/api/job', { 'x-sluice-token': job.token })).status).toBe(405);
    // Another host name re-pointed at 127.0.0.1 (DNS rebinding) reads nothing.
    expect((await call(job.base, 'GET', '/api/job', { host: 'attacker.example' })).status).toBe(421);
    // GET is read-only: the job, its page, its events.
    const info = await call(job.base, 'GET', '/api/job');
    expect(info.status).toBe(200);
    expect(JSON.parse(info.body)).toMatchObject({ jobName: 'checkpointed', engine: 'ts', parallelism: 1, savepointDir: null });
    expect((await call(job.base, 'GET', '/')).body).toContain('<script type="module" src="dashboard.js">');
    expect(existsSync(savepoints)).toBe(false);
    expect(job.child.exitCode).toBe(null);

    // With the token, a savepoint is taken and the job keeps running.
    const ok = await call(job.base, 'POST', '/api/savepoint', { ...json, 'x-sluice-token': job.token }, body);
    expect(ok.status, ok.body).toBe(200);
    const path = (JSON.parse(ok.body) as { path: string }).path;
    expect(path).toMatch(/token-savepoints\/chk-\d+$/);
    expect(findLatest(savepoints).checkpoint?.savepoint).toBe(true);
    expect(job.child.exitCode).toBe(null);
    // What colours the graph is on the Prometheus endpoint too.
    const metricsAt = /sluice: metrics at (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(job.stderr())![1]!;
    const busy = /^sluice_busy_ms_per_second\{job="checkpointed",operator="Map",operator_id="2",subtask="0"\} [\d.e-]+$/m;
    expect(await pollOrExit(job, async () => (await call(metricsAt, 'GET', '/metrics')).body, (b) => busy.test(b))).toMatch(busy);
    const metrics = (await call(metricsAt, 'GET', '/metrics')).body;
    for (const f of ['backpressured', 'idle']) expect(metrics).toMatch(new RegExp(`^sluice_${f}_ms_per_second\\{job="checkpointed",operator="Map",operator_id="2",subtask="0"\\} [\\d.e-]+$`, 'm'));
    job.child.kill('SIGINT');
    expect(await job.exited, job.stderr()).toBe(130);
  });
});
