import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StreamEnvironment } from '../../ts/index.js';

const root = resolve(import.meta.dirname, '../..');

afterEach(() => {
  delete process.env.SLUICE_ENGINE;
});

describe('engine selection', () => {
  it('SLUICE_ENGINE chooses the engine when the code does not; the code wins when it does', () => {
    process.env.SLUICE_ENGINE = 'ts';
    expect(StreamEnvironment.create().engine.name).toBe('ts');
    expect(StreamEnvironment.create({ engine: 'native' }).engine.name).toBe('native');
    process.env.SLUICE_ENGINE = 'fast';
    expect(() => StreamEnvironment.create()).toThrow("SLUICE_ENGINE is 'fast'; use 'native', 'ts' or 'auto'");
    delete process.env.SLUICE_ENGINE;
    expect(StreamEnvironment.create().engine.name).toBe('native');
  });

  it('without a binary for the platform: auto falls back with one warning; native is an error', () => {
    // A copy of the built package with no .node file: what a user gets where no binary fits.
    if (!existsSync(join(root, 'dist', 'ts', 'index.js'))) throw new Error('run `npm run build` first (the test uses dist/)');
    const pkg = mkdtempSync(join(tmpdir(), 'sluice-nobinary-'));
    cpSync(join(root, 'dist'), join(pkg, 'dist'), { recursive: true });
    cpSync(join(root, 'package.json'), join(pkg, 'package.json'));
    cpSync(join(root, 'native', 'binding.cjs'), join(pkg, 'native', 'binding.cjs'));
    symlinkSync(join(root, 'node_modules'), join(pkg, 'node_modules'));
    const script = `
      import { StreamEnvironment, CollectSink } from ${JSON.stringify(join(pkg, 'dist', 'ts', 'index.js'))};
      const mode = process.argv[1];
      const a = StreamEnvironment.create(mode === 'native' ? { engine: 'native' } : {});
      const b = StreamEnvironment.create();
      const sink = new CollectSink();
      a.fromRecords([{ x: 1 }, { x: 2 }], { x: 'i32' }).filter((r) => r.x > 1).sinkTo(sink);
      const r = await a.execute();
      console.log(JSON.stringify({ engine: r.engine, other: b.engine.name, rows: sink.records }));
    `;
    const env = { ...process.env, SLUICE_ENGINE: '' };
    const auto = spawnSync(process.execPath, ['--input-type=module', '-e', script, 'auto'], { encoding: 'utf8', env });
    expect(auto.status, auto.stderr).toBe(0);
    expect(JSON.parse(auto.stdout)).toEqual({ engine: 'ts', other: 'ts', rows: [{ x: 2 }] });
    const warnings = auto.stderr.split('\n').filter((l) => l.includes('SLUICE_NO_NATIVE'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(new RegExp(`native engine unavailable on ${process.platform}-${process.arch} \\(.+\\); running on the pure-TypeScript engine`));
    const native = spawnSync(process.execPath, ['--input-type=module', '-e', script, 'native'], { encoding: 'utf8', env });
    expect(native.status).not.toBe(0);
    expect(native.stderr).toMatch(new RegExp(`the native engine cannot load on ${process.platform}-${process.arch}: .+ Use engine 'ts' or 'auto'`));
    // And with the binary present, auto is native and silent.
    const ok = execFileSync(process.execPath, ['--input-type=module', '-e', script.replaceAll(pkg, root), 'auto'], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] });
    expect(JSON.parse(ok)).toEqual({ engine: 'native', other: 'native', rows: [{ x: 2 }] });
  });
});
