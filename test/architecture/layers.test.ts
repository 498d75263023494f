/**
 * The layers of ARCHITECTURE.md, enforced: dependency-cruiser with .dependency-cruiser.cjs over
 * ts/ finds no forbidden import, and finds each kind of import the layering removed if it came
 * back (injected into a copy of the tree).
 */

import { execFileSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const depcruise = join(root, 'node_modules/.bin/depcruise');

interface Violation {
  readonly from: string;
  readonly to: string;
  readonly rule: { readonly name: string };
  readonly cycle?: readonly { readonly name: string }[];
}

function cruise(dir: string): Violation[] {
  const out = execFileSync(depcruise, ['ts', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'], {
    cwd: dir,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  return (JSON.parse(out) as { summary: { violations: Violation[] } }).summary.violations;
}

describe('layers', () => {
  it('ts/ has no forbidden import and no import cycle outside the API triangle', () => {
    const violations = cruise(root);
    expect(violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`)).toEqual([]);
  });

  // Each of these stood in the tree before the layering (or its equivalent after a file moved).
  const injected: readonly (readonly [from: string, to: string, rule: string])[] = [
    ['ts/api/state.ts', 'ts/runtime/operators/user-window.ts', 'api-below-plan-and-runtime'],
    ['ts/api/watermark.ts', 'ts/runtime/alignment.ts', 'api-below-plan-and-runtime'],
    ['ts/plan/graph.ts', 'ts/runtime/checkpoint.ts', 'plan-never-imports-runtime'],
    ['ts/plan/graph.ts', 'ts/runtime/operators/user-window.ts', 'plan-never-imports-runtime'],
    ['ts/runtime/state.ts', 'ts/runtime/operators/process.ts', 'no-cycles'],
    ['ts/runtime/operator.ts', 'ts/runtime/checkpoint.ts', 'no-cycles'],
    ['ts/runtime/memory.ts', 'ts/runtime/exchange.ts', 'no-cycles'],
    ['ts/runtime/progress.ts', 'ts/runtime/executor.ts', 'no-cycles'],
    ['ts/batch/wire.ts', 'ts/engine/ts/codec.ts', 'batch-is-the-ground-floor'],
    ['ts/batch/record-batch.ts', 'ts/engine/engine.ts', 'batch-is-the-ground-floor'],
    ['ts/keys/key-groups.ts', 'ts/engine/engine.ts', 'keys-stand-on-batch'],
    ['ts/runtime/exchange.ts', 'ts/engine/ts/partition.ts', 'engines-only-through-the-interface'],
    ['ts/runtime/replay/count-retention.ts', 'ts/engine/ts/codec.ts', 'engines-only-through-the-interface'],
    ['ts/runtime/operators/window-aggregate.ts', 'ts/engine/native/engine.ts', 'engines-only-through-the-interface'],
    ['ts/runtime/operators/timestamps.ts', 'ts/connectors/file-source.ts', 'runtime-below-connectors'],
    ['ts/runtime/factories.ts', 'ts/engine/ts/engine.ts', 'engines-only-through-the-interface'],
    ['ts/engine/ts/window/sliced.ts', 'ts/runtime/operator.ts', 'engine-below-api'],
    ['ts/index.ts', 'ts/runtime/executor.ts', 'public-types-live-in-api'],
    ['ts/runtime/executor.ts', 'ts/index.ts', 'public-api-is-the-top'],
    // The dashboard page: browser code that reads types only; only the server shares its protocol.
    ['ts/ui/graph.ts', 'ts/runtime/progress.ts', 'the-page-runs-in-the-browser'],
    ['ts/ui/charts.ts', 'ts/connectors/memory-sinks.ts', 'the-page-reads-api-and-plan-types'],
    ['ts/runtime/progress.ts', 'ts/ui/protocol.ts', 'only-the-dashboard-server-reaches-the-page'],
    ['ts/cli/dashboard.ts', 'ts/ui/graph.ts', 'the-server-shares-only-the-protocol'],
  ];

  const copy = mkdtempSync(join(tmpdir(), 'sluice-layers-'));
  afterAll(() => rmSync(copy, { recursive: true, force: true }));

  it('finds every forbidden import injected into a copy of the tree', () => {
    cpSync(join(root, 'ts'), join(copy, 'ts'), { recursive: true });
    cpSync(join(root, 'tsconfig.json'), join(copy, 'tsconfig.json'));
    cpSync(join(root, '.dependency-cruiser.cjs'), join(copy, '.dependency-cruiser.cjs'));
    expect(cruise(copy)).toEqual([]);
    for (const [from, to] of injected) {
      // Both ends must exist, or the case would pass without testing anything.
      expect(existsSync(join(root, from)), from).toBe(true);
      expect(existsSync(join(root, to)), to).toBe(true);
      const spec = join('/', to).replace(/\.ts$/, '.js');
      const rel = spec.startsWith(join('/', from, '..')) ? `.${spec.slice(join('/', from, '..').length)}` : relativeSpec(from, to);
      appendFileSync(join(copy, from), `\nimport '${rel}';\n`);
    }
    const found = cruise(copy);
    for (const [from, to, rule] of injected) {
      const hit = found.some((v) => {
        if (v.rule.name !== rule) return false;
        if (v.from === from && v.to === to) return true;
        // A cycle is reported once, from one of its files, with the whole path.
        const path = [v.from, ...(v.cycle ?? []).map((c) => c.name)];
        return v.cycle !== undefined && path.includes(from) && path.includes(to);
      });
      expect(hit, `${from} -> ${to} should break '${rule}'`).toBe(true);
    }
  });
});

function relativeSpec(from: string, to: string): string {
  const up = from.split('/').length - 2;
  return `${'../'.repeat(up)}${to.slice('ts/'.length).replace(/\.ts$/, '.js')}`;
}
