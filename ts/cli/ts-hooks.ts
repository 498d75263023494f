/**
 * Module hooks (node:module register) that let `sluice run pipeline.ts` import TypeScript
 * directly: .ts files are stripped of types with sucrase (no type checking: run tsc for that)
 * and carry an inline source map, and a `./x.js` import from a .ts file finds `./x.ts` (the NodeNext convention).
 *
 * A pipeline inside the Sluice repository that imports the library's own sources (`ts/...`)
 * gets the built copy the command runs from (`dist/ts/...`), so pipeline and command share one
 * instance of every class (two copies would make `instanceof` checks fail).
 */

import { Buffer } from 'node:buffer';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { transform } from 'sucrase';
import { decode, encode } from '@jridgewell/sourcemap-codec';

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
    if (!existsSync(fileURLToPath(js))) {
      if (existsSync(fileURLToPath(ts))) return { url: toOwnBuild(ts.href), shortCircuit: true };
      // The installed package ships examples/*.ts but not ts/: their `../ts/index.js` is the build.
      const built = toOwnBuild(ts.href);
      if (built !== ts.href) return { url: built, shortCircuit: true };
    }
  }
  const r = await next(specifier, context);
  return { ...r, url: toOwnBuild(r.url) };
}

export async function load(url: string, context: { format?: string | null }, next: NextLoad): Promise<Loaded> {
  if (!isTs(url)) return next(url, context);
  const path = fileURLToPath(url);
  const { code, sourceMap } = transform(readFileSync(path, 'utf8'), {
    transforms: ['typescript'],
    filePath: path,
    disableESTransforms: true,
    preserveDynamicImport: true,
    sourceMapOptions: { compiledFilename: path },
  });
  // An inline source map: with source maps enabled (the command and its workers enable them),
  // a stack names the user's TypeScript lines and columns, not the stripped code's.
  if (sourceMap === undefined) return { format: 'module', source: code, shortCircuit: true };
  const mappings = repairColumns(code, readFileSync(path, 'utf8'), sourceMap.mappings);
  const map = Buffer.from(JSON.stringify({ ...sourceMap, mappings, sources: [url] })).toString('base64');
  return { format: 'module', source: `${code}\n//# sourceMappingURL=data:application/json;charset=utf-8;base64,${map}\n`, shortCircuit: true };
}

const TOKEN = /^(?:[\p{L}\p{N}_$]+|\S)/u;

/**
 * Sucrase keeps every line where it was and maps each token; but after an empty template span
 * (`${a}` at the end of a template) its source columns go wrong for the rest of the file
 * (sucrase issue #825). Each mapped token is looked up again in its original line, left to
 * right, so that a stack's column points at the user's code.
 */
function repairColumns(generated: string, original: string, mappings: string): string {
  const genLines = generated.split('\n');
  const srcLines = original.split('\n');
  const decoded = decode(mappings);
  decoded.forEach((segments, line) => {
    const gen = genLines[line] ?? '';
    const src = srcLines[line] ?? '';
    let from = 0;
    for (const seg of segments) {
      if (seg.length < 4) continue;
      const token = TOKEN.exec(gen.slice(seg[0]))?.[0];
      const at = token === undefined ? -1 : src.indexOf(token, from);
      if (at >= 0) {
        seg[3] = at;
        from = at + token!.length;
      } else seg[3] = Math.min(from, src.length);
    }
  });
  return encode(decoded);
}
