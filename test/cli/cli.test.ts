import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const cli = join(root, 'dist', 'ts', 'cli', 'main.js');
const fixture = join(root, 'test', 'fixtures', 'cli-pipeline.ts');
const dir = mkdtempSync(join(tmpdir(), 'sluice-cli-'));

function sluice(args: string[]) {
  if (!existsSync(cli)) throw new Error('run `npm run build` first (the CLI test runs dist/ts/cli/main.js)');
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', cwd: root, env: { ...process.env, SLUICE_ENGINE: '' } });
}

describe('the sluice command', () => {
  it('has help for every command and rejects unknown options', () => {
    for (const cmd of ['run', 'explain', 'bench']) {
      const r = sluice([cmd, '--help']);
      expect(r.status).toBe(0);
      expect(r.stdout).toContain(`Usage: sluice ${cmd}`);
      expect(r.stdout).toContain('--help');
    }
    expect(sluice(['--help']).stdout).toContain('Commands:');
    expect(sluice(['run', '--help']).stdout).toMatch(/--engine[\s\S]*--metrics-port[\s\S]*--metrics-json/);
    const bad = sluice(['run', fixture, '--enigne', 'ts']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('unknown option --enigne');
    const nodefault = sluice(['run', join(root, 'test', 'fixtures', 'no-default.ts')]);
    expect(nodefault.status).toBe(2);
    expect(nodefault.stderr).toContain('must export its job as a function');
  });

  it('runs a TypeScript pipeline on either engine with the same output, and writes metrics as JSON', () => {
    const outs = (['native', 'ts'] as const).map((engine) => {
      const out = join(dir, `out-${engine}.jsonl`);
      const json = join(dir, `result-${engine}.json`);
      // One subtask: the file's lines in one order on both engines.
      const r = sluice(['run', fixture, '--engine', engine, '--parallelism', '1', '--metrics-json', json, '--', '200000', out]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toContain(`on the ${engine} engine: 184000 records`);
      const result = JSON.parse(readFileSync(json, 'utf8')) as { engine: string; operators: { name: string; recordsIn: number; busyMs: number }[] };
      expect(result.engine).toBe(engine);
      expect(result.operators.map((o) => o.name)).toContain('Sink: jsonl ' + out);
      expect(result.operators.every((o) => o.busyMs >= 0)).toBe(true);
      return readFileSync(out, 'utf8');
    });
    expect(outs[1]).toBe(outs[0]);
    expect(outs[0]!.split('\n').length).toBeGreaterThan(100);
  });

  it('takes --buffer-timeout as whole ms from 0 up, and refuses anything else', () => {
    const out = join(dir, 'buffered.jsonl');
    const bad = sluice(['run', fixture, '--buffer-timeout', 'soon', '--', '1000', out]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("--buffer-timeout must be a whole number of ms >= 0 (0: after every batch), got 'soon'");
    const held = sluice(['run', fixture, '--engine', 'ts', '--parallelism', '2', '--buffer-timeout', '50', '--no-progress', '--', '20000', out]);
    expect(held.status, held.stderr).toBe(0);
    expect(readFileSync(out, 'utf8').split('\n').length).toBeGreaterThan(100);
  });

  it('refuses application options that do not fit, and a job that cannot run as a Kafka application, before touching any broker', () => {
    const job = ['--', '1000', join(dir, 'app-out.jsonl')];
    const lone = sluice(['run', fixture, '--bootstrap', '127.0.0.1:1', ...job]);
    expect(lone.status).toBe(2);
    expect(lone.stderr).toContain('--bootstrap, --state-dir, --session-timeout, --max-stall, --repartition-partitions and --replication-factor go with --application-id');
    const badReplicas = sluice(['run', fixture, '--application-id', 'app', '--bootstrap', '127.0.0.1:1', '--replication-factor', 'two', ...job]);
    expect(badReplicas.status).toBe(2);
    expect(badReplicas.stderr).toContain("--replication-factor must be a whole number above 0, got 'two'");
    const badCount = sluice(['run', fixture, '--application-id', 'app', '--bootstrap', '127.0.0.1:1', '--repartition-partitions', '0', ...job]);
    expect(badCount.status).toBe(2);
    expect(badCount.stderr).toContain("--repartition-partitions must be a whole number above 0, got '0'");
    const noBroker = sluice(['run', fixture, '--application-id', 'app', ...job]);
    expect(noBroker.status).toBe(2);
    expect(noBroker.stderr).toContain('--application-id needs --bootstrap');
    const badSession = sluice(['run', fixture, '--application-id', 'app', '--bootstrap', '127.0.0.1:1', '--session-timeout', 'soon', ...job]);
    expect(badSession.status).toBe(2);
    expect(badSession.stderr).toContain("--session-timeout must be a number of ms above 0, got 'soon'");
    // A Nexmark job: not made of Kafka partitions (and not checkpointing), so no tasks to share.
    const notKafka = sluice(['run', fixture, '--application-id', 'app', '--bootstrap', '127.0.0.1:1', '--no-progress', ...job]);
    expect(notKafka.status).not.toBe(0);
    expect(notKafka.stderr).toMatch(/application 'app': the job must checkpoint|is not a KafkaSource/);
  });

  it('explains a pipeline without running it', () => {
    const r = sluice(['explain', fixture, '--engine', 'ts', '--', '1000', join(dir, 'never.jsonl')]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Physical plan (engine: ts');
    expect(r.stdout).toContain('--HASH(auction)-->');
    expect(existsSync(join(dir, 'never.jsonl'))).toBe(false);
    expect(sluice(['explain', fixture, '--mermaid', '--', '1000', 'x']).stdout).toMatch(/^flowchart LR/);
  });

  it('explains a job as a Kafka application: its sub-topologies, their tasks and repartition topics', () => {
    const chain = join(import.meta.dirname, '..', 'fixtures', 'jobs', 'kafka-app-chain.ts');
    const r = sluice(['explain', chain, '--application-id', 'shop', '--', '127.0.0.1:1', 'in', 'out', 'tx', join(dir, 'never-chk')]);
    expect(r.status, r.stderr).toBe(0);
    const app = r.stdout.slice(r.stdout.indexOf("As Kafka application 'shop'"));
    expect(app).toMatch(/^As Kafka application 'shop': 3 sub-topologies, 3P tasks/);
    expect(app).toContain("Sub-topology 0: tasks 0..P-1; reads partition n of every input topic; writes 'shop-node2-repartition' (by region)");
    expect(app).toContain("Sub-topology 1: tasks P..2P-1; reads partition n of 'shop-node2-repartition'; writes 'shop-node4-repartition' (by slot)");
    expect(app).toMatch(/Sub-topology 2: tasks 2P..3P-1; reads partition n of 'shop-node4-repartition'\n {4}#4 Window/);
    const five = sluice(['explain', chain, '--application-id', 'shop', '--repartition-partitions', '5', '--', '127.0.0.1:1', 'in', 'out', 'tx', join(dir, 'never-chk')]);
    expect(five.stdout).toContain('3 sub-topologies, P+10 tasks');
    expect(five.stdout).toContain('Sub-topology 1: tasks P..P+4;');
    expect(five.stdout).toContain('Sub-topology 2: tasks P+5..P+9;');
  });

  it('reports progress, serves Prometheus metrics while running, and stops cleanly on Ctrl-C', async () => {
    const out = join(dir, 'paced.jsonl');
    // Two subtasks on worker threads: progress, metrics and Ctrl-C across threads.
    const child = spawn(process.execPath, [cli, 'run', fixture, '--engine', 'native', '--parallelism', '2', '--metrics-port', '0', '--progress-interval', '100', '--', '100000000', out, '1000000'], { cwd: root });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    // Wait for two progress lines (not a terminal: plain log lines).
    // Progress combines the worker threads' metrics; the first lines may come while they start.
    const line = /\[cli-pipeline\] in [\d.]+[KM]?, out [\d.]+[KM]?, [\d.]+[KM]?\/s, watermark 2015-07-15T\S+ \(lag [\d.]+ s\), [\d.]+ s/;
    while (!line.test(stderr) && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    expect(stderr).toMatch(line);
    // Port 0: the system picked a free port and the CLI printed it (a fixed one may be taken).
    const metricsUrl = /sluice: metrics at (http:\S+)/.exec(stderr);
    expect(metricsUrl, stderr).not.toBeNull();
    // Every subtask appears once its thread reported (each worker reports on its own clock).
    const bothSources = /subtask="0"\} [1-9][\s\S]*subtask="1"\} [1-9]|subtask="1"\} [1-9][\s\S]*subtask="0"\} [1-9]/;
    const sourceOut = (t: string) => t.split('\n').filter((l) => l.startsWith('sluice_records_out_total{job="cli-pipeline",operator="Source: nexmark bids",')).join('\n');
    let text = '';
    while (child.exitCode === null) {
      text = await (await fetch(metricsUrl![1]!)).text();
      if (bothSources.test(sourceOut(text))) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(text).toContain('# TYPE sluice_records_in_total counter');
    expect(text).toMatch(/sluice_records_out_total\{job="cli-pipeline",operator="Source: nexmark bids",operator_id="1",subtask="0"\} [1-9]\d*/);
    expect(text).toMatch(/sluice_records_out_total\{job="cli-pipeline",operator="Source: nexmark bids",operator_id="1",subtask="1"\} [1-9]\d*/);
    expect(text).toMatch(/sluice_current_watermark_ms\{[^}]*operator="Window/);
    expect(text).toMatch(/sluice_records_out_per_second\{[^}]*operator="Source: nexmark bids"[^}]*\} [1-9]/);
    // HEAD (what monitors probe with): the headers of a GET, no body.
    const head = await fetch(metricsUrl![1]!, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toContain('text/plain');
    expect(Number(head.headers.get('content-length'))).toBeGreaterThan(0);
    expect(await head.text()).toBe('');
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toContain('sluice: Ctrl-C: stopping (sources stop reading; sinks are flushed and closed)');
    expect(stderr).toMatch(/stopped by Ctrl-C after \d+ records in [\d.]+ s; all sinks are closed/);
    // The sink was closed: every line is complete JSON.
    for (const line of readFileSync(out, 'utf8').trim().split('\n')) if (line !== '') JSON.parse(line);
  });

  it('prints its version', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-v']) {
      const r = sluice([flag]);
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(`sluice ${pkg.version}\n`);
    }
  });

  it('stops cleanly on SIGTERM as on Ctrl-C, with exit code 143', async () => {
    const out = join(dir, 'sigterm.jsonl');
    const child = spawn(process.execPath, [cli, 'run', fixture, '--engine', 'ts', '--parallelism', '1', '--progress-interval', '100', '--', '100000000', out, '1000000'], { cwd: root });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    // Ready: the job reports progress (its signal handlers are installed before it starts).
    const line = /\[cli-pipeline\] in [\d.]+[KM]?, out/;
    while (!line.test(stderr) && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    expect(stderr).toMatch(line);
    child.kill('SIGTERM');
    expect(await exited).toBe(143);
    expect(stderr).toContain('sluice: SIGTERM: stopping (sources stop reading; sinks are flushed and closed)');
    expect(stderr).toMatch(/stopped by SIGTERM after \d+ records in [\d.]+ s; all sinks are closed/);
    for (const l of readFileSync(out, 'utf8').trim().split('\n')) if (l !== '') JSON.parse(l);
  });

  it("a failing job names the record and shows the user function's stack; --metrics-json is written for it too", () => {
    const json = join(dir, 'failed.json');
    const r = sluice(['run', join(root, 'test', 'fixtures', 'jobs', 'failing.ts'), '--engine', 'native', '--parallelism', '1', '--no-progress', '--metrics-json', json, '--', '1009']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^sluice: job 'failing' failed in operator 'Map' \(subtask 0\): the function of 'Map' threw on record \d+ \{"auction":1009,[^\n]*\}: Error: bad auction 1009\n/m);
    expect(r.stderr).toMatch(/^\s+at .*failing\.ts:\d+:\d+/m);
    const result = JSON.parse(readFileSync(json, 'utf8')) as { failed: boolean; error: string; operators: unknown[] };
    expect(result.failed).toBe(true);
    expect(result.error).toContain('bad auction 1009');
    expect(Array.isArray(result.operators)).toBe(true);
  });
});
