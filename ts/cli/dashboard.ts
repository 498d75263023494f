/**
 * The web dashboard of a running job (`sluice run --ui`): serves the page (built into dist/ui by
 * `npm run build:ui`), the job's plan, and its live metrics, checkpoints, restarts and status
 * as Server-Sent Events. GET is read-only; the state-changing requests (a savepoint, stop with
 * a savepoint) need the run's token, printed on the console only, in a header a page of
 * another origin cannot send.
 */

import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StreamEnvironment } from '../api/environment.js';
import type { Progress, RestartInfo } from '../api/job.js';
import { buildPlan, planGraph } from '../plan/physical.js';
import { UsageError } from './args.js';
import { TOKEN_HEADER, type ErrorView, type Events, type JobInfo, type JobState, type RescaleRequest, type SavepointRequest } from '../ui/protocol.js';

export interface DashboardSetup {
  readonly host: string;
  /** 0: any free port. */
  readonly port: number;
  /** The folder holding index.html, dashboard.js and dashboard.css. */
  readonly assets: string;
  readonly job: JobInfo;
  /** Takes a savepoint into `dir` (and then stops the job when `stop`); resolves with its directory. */
  readonly savepoint: (dir: string, stop: boolean) => Promise<string>;
  /** Rescales the job (JobClient.rescale); resolves with the savepoint and the job as it runs now. */
  readonly rescale: (parallelism: number) => Promise<{ readonly path: string; readonly job: JobInfo }>;
}

const ASSETS: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/dashboard.js': { file: 'dashboard.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard.css': { file: 'dashboard.css', type: 'text/css; charset=utf-8' },
};

const HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
};

const MAX_BODY = 64 * 1024;
/** A page that does not read its events (a suspended tab) is dropped past this much unsent; it reconnects and gets the state replayed. */
const MAX_UNSENT = 1024 * 1024;
const KEPT_RESTARTS = 20;
const KEPT_SAVEPOINTS = 20;

/** An error for the page: the message, and the innermost stack (a user function's frames). */
export function errorView(e: unknown): ErrorView {
  let stack = '';
  for (let x: unknown = e, depth = 0; x instanceof Error && depth < 8; depth++) {
    if (x.stack !== undefined && /\n\s+at /.test(x.stack)) stack = x.stack;
    x = (x as { original?: unknown }).original ?? x.cause;
  }
  return { message: e instanceof Error ? e.message : String(e), stack };
}

export class Dashboard {
  /** The run's token: state-changing requests carry it in the TOKEN_HEADER header. */
  readonly token = randomBytes(18).toString('base64url');
  private readonly clients = new Set<ServerResponse>();
  private latest: Progress | null = null;
  private state: Events['status'] = { state: 'starting', at: Date.now() };
  private readonly restarts: Events['restart'][] = [];
  private readonly savepoints: Events['savepoint'][] = [];
  private readonly heartbeat: NodeJS.Timeout;
  private readonly assets = new Map<string, Buffer>();

  /** The job as it runs now (a rescale changes its parallelism and plan). */
  private job: JobInfo;

  private constructor(
    private readonly setup: DashboardSetup,
    private readonly server: Server,
  ) {
    this.job = setup.job;
    // Proxies and browsers drop a silent stream; a comment line every 15 s keeps it open.
    this.heartbeat = setInterval(() => {
      for (const c of this.clients) c.write(': keep-alive\n\n');
    }, 15_000);
    this.heartbeat.unref();
  }

  /** Starts serving; rejects when the page was not built or the port is taken. */
  static async start(setup: DashboardSetup): Promise<Dashboard> {
    for (const a of new Set(Object.values(ASSETS).map((a) => a.file))) {
      if (!existsSync(join(setup.assets, a))) throw new Error(`the dashboard page is missing (${join(setup.assets, a)}); build it with \`npm run build:ui\` (part of \`npm run build\`)`);
    }
    const server = createServer();
    const d = new Dashboard(setup, server);
    for (const a of new Set(Object.values(ASSETS).map((a) => a.file))) d.assets.set(a, readFileSync(join(setup.assets, a)));
    server.on('request', (req, res) => d.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) => reject(new Error(`cannot serve the dashboard on ${setup.host}:${setup.port}: ${e.message}; choose another port (--ui <port>) or host (--ui-host)`)));
      server.listen(setup.port, setup.host, () => resolve());
    });
    return d;
  }

  get port(): number {
    const a = this.server.address();
    return typeof a === 'object' && a !== null ? a.port : this.setup.port;
  }

  /** The page's address, with the token in the fragment (never sent to the server by the browser). */
  get url(): string {
    const host = this.setup.host.includes(':') ? `[${this.setup.host}]` : this.setup.host;
    return `http://${host}:${this.port}/#token=${this.token}`;
  }

  progress(p: Progress): void {
    this.latest = p;
    if (this.state.state === 'starting' || this.state.state === 'restarting') this.status('running');
    this.send('progress', p);
  }

  restart(r: RestartInfo): void {
    const e: Events['restart'] = { restart: r.restart, failedAt: r.failedAt, delayMs: r.delayMs, error: errorView(r.error) };
    this.restarts.push(e);
    if (this.restarts.length > KEPT_RESTARTS) this.restarts.shift();
    this.send('restart', e);
    this.status('restarting');
  }

  status(state: JobState, extra: { error?: unknown; detail?: string } = {}): void {
    this.state = { state, at: Date.now(), ...(extra.error !== undefined ? { error: errorView(extra.error) } : {}), ...(extra.detail !== undefined ? { detail: extra.detail } : {}) };
    this.send('status', this.state);
  }

  /** Ends every event stream and stops serving. */
  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    for (const c of this.clients) c.end();
    this.clients.clear();
    await new Promise<void>((r) => {
      this.server.close(() => r());
      this.server.closeAllConnections();
    });
  }

  private send<K extends keyof Events>(event: K, data: Events[K]): void {
    if (this.clients.size === 0) return;
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const c of this.clients) {
      if (c.writableLength > MAX_UNSENT) {
        this.clients.delete(c);
        c.destroy();
      } else c.write(frame);
    }
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (!this.hostAllowed(req)) return json(res, 421, { error: `this dashboard answers on ${this.setup.host} only` });
    if (req.method === 'POST') {
      if (url.pathname === '/api/savepoint' || url.pathname === '/api/stop-with-savepoint') return void this.savepointRequest(req, res, url.pathname === '/api/stop-with-savepoint');
      if (url.pathname === '/api/rescale') return void this.rescaleRequest(req, res);
      return json(res, 404, { error: `no ${url.pathname} to POST to; the actions are /api/savepoint, /api/stop-with-savepoint and /api/rescale` });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...HEADERS, allow: 'GET, HEAD, POST', 'content-type': 'text/plain' });
      return void res.end(`${req.method} is not allowed\n`);
    }
    const asset = ASSETS[url.pathname];
    if (asset !== undefined) {
      const body = this.assets.get(asset.file)!;
      res.writeHead(200, { ...HEADERS, 'content-type': asset.type, 'content-length': body.length });
      return void res.end(req.method === 'HEAD' ? undefined : body);
    }
    if (url.pathname === '/api/job') return json(res, 200, this.job, req.method === 'HEAD');
    if (url.pathname === '/api/progress') return json(res, 200, this.latest, req.method === 'HEAD');
    if (url.pathname === '/api/events') return this.subscribe(req, res);
    json(res, 404, { error: `nothing at ${url.pathname}; the dashboard is at /` });
  }

  /**
   * Bound to a loopback address, only requests for a loopback name are answered: a page
   * elsewhere whose name was re-pointed at 127.0.0.1 (DNS rebinding) cannot read the job.
   */
  private hostAllowed(req: IncomingMessage): boolean {
    if (!/^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(this.setup.host)) return true;
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    return /^(127\.\d+\.\d+\.\d+|\[::1\]|localhost)$/.test(host);
  }

  private subscribe(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { ...HEADERS, 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive' });
    if (req.method === 'HEAD') return void res.end();
    res.write('retry: 2000\n\n');
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
    // A page that connects late sees the state so far.
    const replay = (frame: string): boolean => res.write(frame);
    const frame = <K extends keyof Events>(event: K, data: Events[K]): string => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const r of this.restarts) replay(frame('restart', r));
    for (const s of this.savepoints) replay(frame('savepoint', s));
    replay(frame('status', this.state));
    if (this.latest !== null) replay(frame('progress', this.latest));
  }

  private tokenOk(req: IncomingMessage): boolean {
    const given = req.headers[TOKEN_HEADER];
    if (typeof given !== 'string') return false;
    const a = Buffer.from(given);
    const b = Buffer.from(this.token);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  private async savepointRequest(req: IncomingMessage, res: ServerResponse, stop: boolean): Promise<void> {
    if (!this.tokenOk(req)) {
      req.resume();
      return json(res, 403, { error: `a savepoint or stop needs the run's token in the ${TOKEN_HEADER} header (sluice printed it on the console with the dashboard's address)` });
    }
    let body: SavepointRequest;
    try {
      body = await readJson(req);
    } catch (e) {
      return json(res, 400, { error: e instanceof Error ? e.message : String(e) });
    }
    if (this.job.checkpoints === null) return json(res, 409, { error: 'savepoints need checkpointing: call env.enableCheckpointing(intervalMs, { dir }) in the job' });
    const dir = typeof body.dir === 'string' && body.dir.trim() !== '' ? body.dir.trim() : this.job.savepointDir;
    if (dir === null) return json(res, 400, { error: 'name the savepoint directory ({"dir": "..."}), or start the job with --savepoint-dir' });
    if (!['running', 'starting', 'restarting'].includes(this.state.state)) return json(res, 409, { error: `the job is ${this.state.state}` });
    if (stop) this.status('stopping', { detail: `stopping with a savepoint into ${dir}` });
    try {
      const path = await this.setup.savepoint(dir, stop);
      this.noteSavepoint({ at: Date.now(), stop, path });
      json(res, 200, { path });
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      if (stop) this.status('running');
      this.noteSavepoint({ at: Date.now(), stop, error });
      json(res, 500, { error });
    }
  }

  private async rescaleRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!this.tokenOk(req)) {
      req.resume();
      return json(res, 403, { error: `a rescale needs the run's token in the ${TOKEN_HEADER} header (sluice printed it on the console with the dashboard's address)` });
    }
    let body: SavepointRequest | RescaleRequest;
    try {
      body = await readJson(req);
    } catch (e) {
      return json(res, 400, { error: e instanceof Error ? e.message : String(e) });
    }
    const to = (body as Partial<RescaleRequest>).parallelism;
    if (typeof to !== 'number' || !Number.isSafeInteger(to) || to < 1) return json(res, 400, { error: 'give the parallelism to run at as a whole number >= 1: {"parallelism": 2}' });
    if (this.job.checkpoints === null) return json(res, 409, { error: 'rescaling needs checkpointing: call env.enableCheckpointing(intervalMs, { dir }) in the job' });
    if (!['running', 'starting', 'restarting'].includes(this.state.state)) return json(res, 409, { error: `the job is ${this.state.state}` });
    try {
      const { path, job } = await this.setup.rescale(to);
      this.job = job;
      this.send('rescale', { at: Date.now(), to, path, job });
      json(res, 200, { path });
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      this.send('rescale', { at: Date.now(), to, error });
      json(res, 500, { error });
    }
  }

  private noteSavepoint(s: Events['savepoint']): void {
    this.savepoints.push(s);
    if (this.savepoints.length > KEPT_SAVEPOINTS) this.savepoints.shift();
    this.send('savepoint', s);
  }
}

function json(res: ServerResponse, status: number, value: unknown, head = false): void {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, { ...HEADERS, 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
  res.end(head ? undefined : body);
}

/** A small JSON body (an empty body is {}). */
async function readJson(req: IncomingMessage): Promise<SavepointRequest> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY) throw new Error(`the request body is over ${MAX_BODY} bytes`);
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`the request body is not JSON (${e instanceof Error ? e.message : String(e)}); send {"dir": "..."} or nothing`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('the request body must be a JSON object such as {"dir": "..."}');
  return v as SavepointRequest;
}

/** Where `npm run build:ui` puts the page: dist/ui, beside dist/ts (this module is dist/ts/cli/dashboard.js). */
function assetsDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'ui');
}

/**
 * Starts the dashboard that `--ui [port]` and `--ui-host <host>` ask for (null without --ui) and
 * prints its address with the token on stderr.
 */
export async function openDashboard(
  options: ReadonlyMap<string, string | true>,
  env: StreamEnvironment,
  jobName: string,
  savepoint: DashboardSetup['savepoint'],
  rescale: (parallelism: number) => Promise<string>,
): Promise<Dashboard | null> {
  const ui = options.get('ui');
  if (ui === undefined) {
    if (options.has('ui-host')) throw new UsageError('--ui-host needs --ui');
    return null;
  }
  const port = ui === true ? 0 : Number(ui);
  if (!Number.isSafeInteger(port) || port < 0 || port > 65535) throw new UsageError(`--ui takes a port number (or nothing for a free port), got '${String(ui)}'`);
  const host = options.get('ui-host') ?? '127.0.0.1';
  if (host === true || host === '') throw new UsageError('--ui-host needs an address, e.g. 127.0.0.1 or 0.0.0.0');
  const graph = env.pendingGraph();
  const dir = options.get('savepoint-dir');
  const c = graph.checkpoint;
  const info = (): Omit<JobInfo, 'startedAt'> => ({
    jobName,
    engine: env.engine.name,
    parallelism: env.parallelism,
    plan: planGraph(buildPlan(graph)),
    checkpoints: c === null ? null : { intervalMs: c.intervalMs, dir: c.dir },
    savepointDir: typeof dir === 'string' ? dir : null,
  });
  const startedAt = Date.now();
  const d = await Dashboard.start({
    host,
    port,
    assets: assetsDir(),
    savepoint,
    // The graph shares the environment's parallelism, which a rescale changes.
    rescale: async (n) => ({ path: await rescale(n), job: { ...info(), startedAt } }),
    job: { ...info(), startedAt },
  });
  process.stderr.write(`sluice: dashboard at ${d.url} (the token after #token= allows savepoints and stopping; it is shown only here)\n`);
  return d;
}
