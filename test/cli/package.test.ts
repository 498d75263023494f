/**
 * The npm package as a user gets it: `scripts/pack.mjs` packs the root package and this
 * machine's platform package; they are installed from the tarballs into fresh projects outside
 * the repository, and pipelines run there with no Rust toolchain on PATH. With the platform
 * package the native engine runs; without it `auto` falls back to the pure-TS engine with one
 * warning. The installed declarations type-check a user's pipeline and reject a wrong field.
 */

import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

interface Packed {
  name: string;
  path: string;
  size: number;
  unpackedSize: number;
  files: string[];
}
interface PackModule {
  pack(options: { outDir: string; build: 'always' | 'if-missing' | 'never'; quiet: boolean }): Promise<{ root: Packed; platform: Packed }>;
  napiTargets(): Promise<{ host: { platformArchABI: string } | undefined; targets: { platformArchABI: string }[] }>;
}

/** PATH without any directory that holds cargo or rustc: a machine without Rust. */
function pathWithoutRust(): string {
  const exe = process.platform === 'win32' ? ['cargo.exe', 'rustc.exe', 'cargo', 'rustc'] : ['cargo', 'rustc'];
  const dirs = (process.env.PATH ?? '').split(delimiter).filter((d) => d !== '' && !exe.some((e) => existsSync(join(d, e))));
  const nodeDir = dirname(process.execPath); // npm's launcher needs `node`
  if (!dirs.includes(nodeDir) && !exe.some((e) => existsSync(join(nodeDir, e)))) dirs.unshift(nodeDir);
  return dirs.join(delimiter);
}

/** The environment of a user's shell: no Rust, nothing of this repo's npm run or engine choice. */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  const keepNpm = /^npm_config_(registry|cafile|ca|userconfig|globalconfig|cache|proxy|https_proxy|noproxy|strict_ssl)$/i;
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) && !keepNpm.test(k)) continue;
    if (/^(SLUICE_|NAPI_RS_|NODE_OPTIONS$|NODE_PATH$|VITEST)/i.test(k)) continue;
    env[k] = v;
  }
  env.PATH = pathWithoutRust();
  return env;
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = userEnv()): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, env, encoding: 'utf8', shell: process.platform === 'win32' && cmd === 'npm', maxBuffer: 32 * 1024 * 1024 });
}

function npmInstall(project: string, args: string[]): void {
  const r = run('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', ...args], project);
  expect(r.error, String(r.error)).toBeUndefined();
  expect(r.status, `npm install ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
}

function newProject(label: string): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), `sluice-pkg-${label}-`)));
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name: `sluice-user-${label}`, version: '1.0.0', private: true, type: 'module' }, null, 2)}\n`);
  return dir;
}

/** A keyed window aggregation on fromRecords; prints the result, the engine and the loaded .node files. */
const PIPELINE = `
import { createRequire } from 'node:module';
import { StreamEnvironment, CollectSink, WatermarkStrategy, TumblingEventTimeWindows, agg } from 'sluice';
const engine = process.argv[2];
const env = StreamEnvironment.create(engine === 'unset' ? {} : { engine });
const sink = new CollectSink();
env
  .fromRecords(
    [
      { user: 'ann', ms: 120, at: 1000 }, { user: 'bob', ms: 40, at: 1500 }, { user: 'ann', ms: 300, at: 2200 },
      { user: 'cid', ms: 1, at: 9000 }, { user: 'bob', ms: 75, at: 11000 }, { user: 'ann', ms: 5, at: 12500 },
    ],
    { user: 'utf8', ms: 'i64', at: 'timestamp' },
    WatermarkStrategy.forBoundedOutOfOrderness(1000).withTimestampAssigner('at'),
  )
  .filter((r) => r.ms > 1)
  .keyBy('user')
  .window(TumblingEventTimeWindows.of(10000))
  .aggregate({ n: agg.count(), total: agg.sum('ms'), top: agg.max('ms') })
  .sinkTo(sink);
const result = await env.execute('package-test');
const loaded = Object.keys(createRequire(import.meta.url).cache).filter((k) => k.endsWith('.node'));
console.log(JSON.stringify({ engine: result.engine, rows: sink.records, loaded }));
`;

const EXPECTED_ROWS = [
  { user: 'ann', windowStart: 0, windowEnd: 10000, n: 2, total: 420, top: 300 },
  { user: 'bob', windowStart: 0, windowEnd: 10000, n: 1, total: 40, top: 40 },
  { user: 'bob', windowStart: 10000, windowEnd: 20000, n: 1, total: 75, top: 75 },
  { user: 'ann', windowStart: 10000, windowEnd: 20000, n: 1, total: 5, top: 5 },
];

/** A user's pipeline in TypeScript, typed from the declared schema; `mutate` plants an error. */
function userPipelineTs(mutate: (src: string) => string = (s) => s): string {
  return mutate(`import { StreamEnvironment, CollectSink, WatermarkStrategy, TumblingEventTimeWindows, agg, type JobResult, type RecordOf } from 'sluice';

const schema = { user: 'utf8', ms: 'i64', at: 'timestamp' } as const;
type Click = RecordOf<typeof schema>;
const clicks: Click[] = [{ user: 'ann', ms: 120, at: 1000 }];

const env = StreamEnvironment.create({ engine: 'native', batchSize: 1024 });
const sink = new CollectSink();
env
  .fromRecords(clicks, schema, WatermarkStrategy.forBoundedOutOfOrderness<Click>(1000).withTimestampAssigner('at'))
  .filter((r) => r.ms > 1)
  .map((r) => ({ ...r, user: r.user.toUpperCase() }))
  .keyBy('user')
  .window(TumblingEventTimeWindows.of(10_000))
  .aggregate({ views: agg.count(), time: agg.sum('ms'), longest: agg.max('ms') })
  .sinkTo(sink);
const result: JobResult = await env.execute('typed');
const engineName: string = result.engine;
const late: number = result.lateRecordsDropped;
console.log(engineName, late);
`);
}

describe('the npm package, installed from its tarballs', () => {
  let packed: { root: Packed; platform: Packed };
  let hostAbi: string;
  let allAbis: string[];
  const tmp: string[] = [];
  let nativeProject: string;
  let fallbackProject: string;

  beforeAll(async () => {
    const mod = (await import(pathToFileURL(join(root, 'scripts', 'pack.mjs')).href)) as PackModule;
    const { host, targets } = await mod.napiTargets();
    if (!host) throw new Error(`no napi target for ${process.platform}-${process.arch}`);
    hostAbi = host.platformArchABI;
    allAbis = targets.map((t) => t.platformArchABI);
    const outDir = mkdtempSync(join(tmpdir(), 'sluice-pack-'));
    tmp.push(outDir);
    // Builds only when build output is missing: the rest of the suite reads dist/ and native/
    // concurrently, and `npm test` builds first anyway.
    packed = await mod.pack({ outDir, build: 'if-missing', quiet: true });

    // With the platform package: both tarballs in one install, so the local tarball is what
    // satisfies the root's optional dependency on sluice-<this platform>. The other platforms'
    // packages are not on the registry: npm gets a 404 for each and, as they are optional,
    // leaves them out.
    nativeProject = newProject('native');
    tmp.push(nativeProject);
    npmInstall(nativeProject, [packed.root.path, packed.platform.path]);

    // Without it: only the root tarball, optional dependencies omitted.
    fallbackProject = newProject('fallback');
    tmp.push(fallbackProject);
    npmInstall(fallbackProject, ['--omit=optional', packed.root.path]);
  });

  afterAll(() => {
    for (const d of tmp) rmSync(d, { recursive: true, force: true });
  });

  it('the root tarball holds the built library and its declarations only; the binary is in the platform package', () => {
    const files = packed.root.files;
    // The dashboard page (sluice run --ui) is built into dist/ui and ships with its libraries' licences.
    const page = ['dist/ui/index.html', 'dist/ui/dashboard.js', 'dist/ui/dashboard.css', 'dist/ui/THIRD-PARTY-LICENSES.txt'];
    for (const f of ['package.json', 'README.md', 'dist/ts/index.js', 'dist/ts/index.d.ts', 'native/binding.cjs', 'native/binding.d.cts', ...page]) {
      expect(files).toContain(f);
    }
    // The examples ship as sources to read (and run with `sluice run`) and built.
    for (const f of ['examples/file-pipeline.ts', 'examples/keyed-process.ts', 'dist/examples/file-pipeline.js', 'dist/examples/keyed-process.js', 'examples/nexmark-sql/q2.sql']) expect(files).toContain(f);
    const unexpected = files.filter(
      (f) =>
        !/^dist\/ts\/.+(\.js|\.d\.ts)$|^dist\/examples\/.+\.js$|^examples\/.+\.(ts|sql)$/.test(f) &&
        !['package.json', 'README.md', 'LICENSE', 'native/binding.cjs', 'native/binding.d.cts', ...page].includes(f),
    );
    expect(unexpected).toEqual([]);
    expect(files.filter((f) => /\.(node|rs|map)$|^(test|bench|crates)\/|\.test\./.test(f))).toEqual([]);
    // Compressed: the library and declarations (the Table API took it past 256 KiB, SQL with
    // updating tables and the Kafka record reader to 470 KiB; state TTL, the upsert-kafka source,
    // application mode's task ownership and compiled record functions to 513 KiB), the
    // dashboard's bundle (about 50 KiB: uPlot and dagre, minified) and the examples; anything big
    // that slips in (a test folder, a source map, a binary: over 100 KiB) still fails.
    expect(packed.root.size).toBeLessThan(640 * 1024);

    const manifest = JSON.parse(readFileSync(join(nativeProject, 'node_modules', 'sluice', 'package.json'), 'utf8'));
    expect(manifest.type).toBe('module');
    expect(manifest.exports['.']).toEqual({ types: './dist/ts/index.d.ts', import: './dist/ts/index.js' });
    expect(manifest.engines.node).toBeDefined();
    expect(manifest.optionalDependencies).toEqual(Object.fromEntries(allAbis.map((abi) => [`sluice-${abi}`, manifest.version])));

    expect(packed.platform.name).toBe(`sluice-${hostAbi}`);
    expect([...packed.platform.files].sort()).toEqual(['README.md', 'package.json', `sluice.${hostAbi}.node`]);
    const platformManifest = JSON.parse(readFileSync(join(nativeProject, 'node_modules', `sluice-${hostAbi}`, 'package.json'), 'utf8'));
    expect(platformManifest.os).toEqual([process.platform]);
    expect(platformManifest.cpu).toEqual([process.arch]);
    expect(platformManifest.version).toBe(manifest.version);
  });

  it('the test machine has no Rust toolchain on the PATH the user processes get', () => {
    const env = userEnv();
    for (const tool of ['cargo', 'rustc']) {
      const r = spawnSync(tool, ['--version'], { env, encoding: 'utf8' });
      expect((r.error as NodeJS.ErrnoException | undefined)?.code, `${tool} is on ${env.PATH}`).toBe('ENOENT');
    }
  });

  it('with the platform package, a pipeline runs on the native engine (no Rust, outside the source tree)', () => {
    // The installed copy is a real directory in the project, not a link into the repository.
    expect(lstatSync(join(nativeProject, 'node_modules', 'sluice')).isSymbolicLink()).toBe(false);
    expect(existsSync(join(nativeProject, 'node_modules', `sluice-${hostAbi}`, `sluice.${hostAbi}.node`))).toBe(true);
    writeFileSync(join(nativeProject, 'pipeline.mjs'), PIPELINE);
    for (const engine of ['native', 'unset']) {
      const r = run(process.execPath, ['pipeline.mjs', engine], nativeProject);
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.engine).toBe('native');
      expect(out.rows).toEqual(EXPECTED_ROWS);
      // The binary came from the installed platform package.
      expect(out.loaded).toEqual([join(nativeProject, 'node_modules', `sluice-${hostAbi}`, `sluice.${hostAbi}.node`)]);
      expect(r.stderr).not.toMatch(/SLUICE_NO_NATIVE|native engine unavailable/);
    }
  });

  it('without the platform package, auto runs on the pure-TS engine with exactly one warning', () => {
    expect(existsSync(join(fallbackProject, 'node_modules', 'sluice', 'dist', 'ts', 'index.js'))).toBe(true);
    expect(existsSync(join(fallbackProject, 'node_modules', `sluice-${hostAbi}`))).toBe(false);
    writeFileSync(join(fallbackProject, 'pipeline.mjs'), PIPELINE);
    const r = run(process.execPath, ['pipeline.mjs', 'unset'], fallbackProject);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.engine).toBe('ts');
    expect(out.rows).toEqual(EXPECTED_ROWS);
    expect(out.loaded).toEqual([]);
    const warnings = r.stderr.split('\n').filter((l) => /SLUICE_NO_NATIVE|native engine unavailable/.test(l));
    expect(warnings, r.stderr).toHaveLength(1);
    expect(warnings[0]).toContain('SLUICE_NO_NATIVE');
    expect(warnings[0]).toContain(`native engine unavailable on ${process.platform}-${process.arch}`);

    // An explicit 'native' is an error there, naming the platform.
    const strict = run(process.execPath, ['pipeline.mjs', 'native'], fallbackProject);
    expect(strict.status).not.toBe(0);
    expect(strict.stderr).toContain(`the native engine cannot load on ${process.platform}-${process.arch}`);
  });

  it('the installed sluice command runs a TypeScript pipeline, shows progress, serves metrics and its dashboard, and stops on Ctrl-C', async () => {
    writeFileSync(
      join(nativeProject, 'job.ts'),
      `import { agg, FileSink, NexmarkSource, TumblingEventTimeWindows, WatermarkStrategy, type StreamEnvironment } from 'sluice';
export default function (env: StreamEnvironment, args: readonly string[]): void {
  env.fromSource(NexmarkSource.bids({ events: 1e9, targetRatePerSec: Number(args[0]) }), WatermarkStrategy.forBoundedOutOfOrderness(4000))
    .keyBy('auction').window(TumblingEventTimeWindows.of(10_000))
    .aggregate({ bids: agg.count(), topPrice: agg.max('price') })
    .sinkTo(FileSink.jsonl('hot.jsonl'));
}
`,
    );
    const bin = join(nativeProject, 'node_modules', '.bin', 'sluice');
    // Port 0: the system picks a free port and the CLI prints it (a fixed one may be taken).
    const child = spawn(bin, ['run', 'job.ts', '--metrics-port', '0', '--ui', '--progress-interval', '100', '--', '1000000'], { cwd: nativeProject, env: userEnv() });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    // One subtask per core by default: the first lines may come while the worker threads start.
    const line = /\[job\] in [\d.]+[KM]?, out [\d.]+[KM]?, [\d.]+[KM]?\/s, watermark 2015-07-15T/;
    while (!line.test(stderr) && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    expect(stderr).toMatch(line);
    const metricsUrl = /sluice: metrics at (http:\S+)/.exec(stderr);
    expect(metricsUrl, stderr).not.toBeNull();
    // Each worker reports its metrics on its own schedule: wait for subtask 0's source to have read records.
    const source0 = /sluice_records_out_total\{job="job",operator="Source: nexmark bids",operator_id="1",subtask="0"\} [1-9]/;
    let metrics = '';
    for (let i = 0; !source0.test(metrics) && child.exitCode === null; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 50));
      metrics = await (await fetch(metricsUrl![1]!)).text();
    }
    expect(metrics).toMatch(source0);
    // The dashboard's page and bundle come from the installed package.
    const ui = /sluice: dashboard at (http:\/\/127\.0\.0\.1:\d+\/)#token=/.exec(stderr);
    expect(ui, stderr).not.toBeNull();
    expect(await (await fetch(ui![1]!)).text()).toContain('<script type="module" src="dashboard.js">');
    const bundle = await fetch(new URL('dashboard.js', ui![1]!));
    expect(bundle.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect((await bundle.text()).length).toBeGreaterThan(10_000);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toContain('on the native engine');
    expect(stderr).toMatch(/stopped by Ctrl-C after \d+ records/);
  });

  it('the installed package runs its shipped examples with sluice run', () => {
    const bin = join(nativeProject, 'node_modules', '.bin', 'sluice');
    const example = join(nativeProject, 'node_modules', 'sluice', 'examples', 'keyed-process.ts');
    const r = spawnSync(bin, ['run', example, '--parallelism', '1', '--no-progress', '--', '20000', 'bursts.jsonl'], { cwd: nativeProject, env: userEnv(), encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const lines = readFileSync(join(nativeProject, 'bursts.jsonl'), 'utf8').trim().split('\n');
    expect(JSON.parse(lines[0]!)).toHaveProperty('bids');
  }, 60_000);

  it('the installed sluice sql runs a shipped SQL example (the parser loads from the installed dependency)', () => {
    const bin = join(nativeProject, 'node_modules', '.bin', 'sluice');
    const example = join(nativeProject, 'node_modules', 'sluice', 'examples', 'nexmark-sql', 'q2.sql');
    const r = spawnSync(bin, ['sql', example, '--parallelism', '1', '--no-progress'], { cwd: nativeProject, env: userEnv(), encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/Calc\(select=\[auction, price\], where=\[\(\(auction % 123\) = 0\)\]\): in \d+, out [1-9]\d*/);
  }, 60_000);

  it("the installed declarations type-check a user's pipeline, and reject a field the schema lacks", () => {
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const flags = ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--skipLibCheck', 'false'];
    const dir = join(nativeProject, 'types');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
    writeFileSync(join(dir, 'pipeline.ts'), userPipelineTs());
    writeFileSync(join(dir, 'bad-key.ts'), userPipelineTs((s) => s.replace(".keyBy('user')", ".keyBy('nope')")));
    writeFileSync(join(dir, 'bad-field.ts'), userPipelineTs((s) => s.replace('r.ms > 1', 'r.millis > 1')));

    const ok = run(process.execPath, [tsc, ...flags, 'pipeline.ts'], dir);
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);

    const badKey = run(process.execPath, [tsc, ...flags, 'bad-key.ts'], dir);
    expect(badKey.status).not.toBe(0);
    expect(badKey.stdout).toMatch(/bad-key\.ts\(\d+,\d+\): error TS\d+/);
    expect(badKey.stdout).toContain(`'"nope"' is not assignable`);
    expect(badKey.stdout.split('\n').filter((l) => / error TS/.test(l))).toHaveLength(1);

    const badField = run(process.execPath, [tsc, ...flags, 'bad-field.ts'], dir);
    expect(badField.status).not.toBe(0);
    expect(badField.stdout).toMatch(/bad-field\.ts\(\d+,\d+\): error TS2339: Property 'millis' does not exist/);
  });
});
