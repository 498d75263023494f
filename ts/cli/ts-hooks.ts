/**
 * Module hooks (node:module register) that let `sluice run pipeline.ts` import TypeScript
 * directly: .ts files are stripped of types with sucrase (no type checking: run tsc for that),
 * and a `./x.js` import from a .ts file finds `./x.ts` (the NodeNext convention).
 *
 * A pipeline inside the Sluice repository that imports the library's own sources (`ts/...`)
 * gets the built copy the command runs from (`dist/ts/...`), so pipeline and command share one
 * instance of every class (two copies would make `instanceof` checks fail).
 */

import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { transform } from 'sucrase';

type Resolved = { url: string; format?: string | null; shortCircuit?: boolean };
type NextResolve = (specifier: string, context: { parentURL?: string }) => Promise<Resolved>;
type Loaded = { format: string; source?: string | ArrayBuffer | Uint8Array | null; shortCircuit?: boolean };
type NextLoad = (url: string, context: { format?: string | null }) => Promise<Loaded>;

const isTs = (url: string): boolean => url.startsWith('file:') && /\.(ts|mts)$/.test(url);

let ownSources: string | null = null;
let ownBuild: string | null = null;

/** Called by register() with the URLs of this package's `ts/` and `dist/ts/` folders. */
export function initialize(data: { sources: string; build: string } | undefined): void {
  if (data !== undefined) {
    ownSources = data.sources;
    ownBuild = data.build;
  }
}

function toOwnBuild(url: string): string {
  if (ownSources === null || ownBuild === null || !url.startsWith(ownSources) || !url.endsWith('.ts')) return url;
  const built = ownBuild + url.slice(ownSources.length).replace(/\.ts$/, '.js');
  return existsSync(fileURLToPath(built)) ? built : url;
}

export async function resolve(specifier: string, context: { parentURL?: string }, next: NextResolve): Promise<Resolved> {
  const parent = context.parentURL;
  if (parent !== undefined && isTs(parent) && /^\.\.?\//.test(specifier) && specifier.endsWith('.js')) {
    const js = new URL(specifier, parent);
    const ts = new URL(specifier.replace(/\.js$/, '.ts'), parent);
    if (!existsSync(fileURLToPath(js)) && existsSync(fileURLToPath(ts))) return { url: toOwnBuild(ts.href), shortCircuit: true };
  }
  const r = await next(specifier, context);
  return { ...r, url: toOwnBuild(r.url) };
}

export async function load(url: string, context: { format?: string | null }, next: NextLoad): Promise<Loaded> {
  if (!isTs(url)) return next(url, context);
  const path = fileURLToPath(url);
  const { code } = transform(readFileSync(path, 'utf8'), {
    transforms: ['typescript'],
    filePath: path,
    disableESTransforms: true,
    preserveDynamicImport: true,
  });
  return { format: 'module', source: code, shortCircuit: true };
}
