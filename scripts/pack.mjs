#!/usr/bin/env node
/**
 * `npm run pack`: the release tarballs for this machine, the napi-rs way.
 *
 *   1. builds (`npm run build`: the native addon for this machine, then tsc into dist/);
 *   2. copies this machine's `native/<binaryName>.<platform>.node` into `npm/<platform>/`
 *      (what `napi artifacts` does on CI for every platform);
 *   3. packs the root package and this platform's package into `pack/` (or `--out-dir`) with
 *      `npm pack --pack-destination`, and prints their paths and sizes.
 *
 * The root package's `optionalDependencies` (one `sluice-<platform>` per `napi.targets` entry, at
 * the root version) are written into the packed manifest only, as `napi pre-publish` does at
 * publish time: the platform packages are not on the registry, and with them in the working
 * package.json `npm ci` refuses the lock ("Missing: sluice-linux-x64-gnu@ from lock file").
 * The root package is therefore packed from a staging copy holding exactly the files that its
 * `files` list selects. Publish the printed tarballs (`npm publish <tgz>`), platform packages
 * first.
 *
 * Usage: node scripts/pack.mjs [--out-dir <dir>] [--no-build | --build-if-missing]
 * As a module: `pack({ outDir, build: 'always' | 'if-missing' | 'never', quiet })`.
 */

import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** What must never be in the root tarball (examples ship: their sources and their build). */
const FORBIDDEN_IN_ROOT = [/\.node$/, /\.rs$/, /(^|\/)Cargo\.(toml|lock)$/, /^(test|bench|crates|target|scripts|schema|npm)\//, /^dist\/(test|bench)\//, /\.map$/, /\.test\.(js|d\.ts)$/];

function readJson(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

function npm(args, { cwd, quiet }) {
  const r = spawnSync('npm', args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', quiet ? 'pipe' : 'inherit'],
    shell: process.platform === 'win32',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} failed (exit ${r.status}) in ${cwd}\n${r.stderr ?? ''}${r.stdout ?? ''}`);
  return r.stdout;
}

/** `npm pack --json` prints an array of one entry per package (after any script output). */
function packJson(stdout) {
  const start = stdout.indexOf('[');
  const parsed = JSON.parse(stdout.slice(start));
  return Array.isArray(parsed) ? parsed[0] : parsed;
}

/** napi's `<platform>-<arch>[-<abi>]` names of every configured target, and this machine's. */
export async function napiTargets(root = repoRoot) {
  const { parseTriple } = await import(pathToFileURL(join(root, 'node_modules', '@napi-rs', 'cli', 'dist', 'index.js')).href);
  const pkg = readJson(join(root, 'package.json'));
  const targets = (pkg.napi?.targets ?? []).map((t) => parseTriple(t));
  let libc = null;
  if (process.platform === 'linux') {
    const header = process.report?.getReport?.().header;
    libc = header?.glibcVersionRuntime ? 'gnu' : 'musl';
  }
  const host = targets.find(
    (t) =>
      t.platform === process.platform &&
      t.arch === process.arch &&
      (process.platform !== 'linux' || t.abi === libc) &&
      (process.platform !== 'win32' || t.abi === 'msvc'),
  );
  return { pkg, targets, host };
}

function buildOutputs(root, binaryName, host) {
  return [
    join(root, 'dist', 'ts', 'index.js'),
    join(root, 'dist', 'ts', 'index.d.ts'),
    join(root, 'native', 'binding.cjs'),
    join(root, 'native', 'binding.d.cts'),
    join(root, 'native', `${binaryName}.${host.platformArchABI}.node`),
  ];
}

function kib(n) {
  return `${(n / 1024).toFixed(1)} KiB`;
}

/**
 * Builds if asked, then packs. Returns `{ root, platform }`, each `{ name, path, size,
 * unpackedSize, files }` (size = the tarball's bytes; files = paths inside the package).
 */
export async function pack({ root = repoRoot, outDir = join(root, 'pack'), build = 'always', quiet = false } = {}) {
  const log = quiet ? () => {} : (...a) => console.log(...a);
  const { pkg, targets, host } = await napiTargets(root);
  const binaryName = pkg.napi?.binaryName;
  if (!binaryName) throw new Error('package.json has no napi.binaryName');
  if (!host) {
    throw new Error(
      `no napi target in package.json matches this machine (${process.platform}-${process.arch}); targets: ${targets.map((t) => t.platformArchABI).join(', ')}`,
    );
  }

  // 1. Build.
  const outputs = buildOutputs(root, binaryName, host);
  if (build === 'always' || (build === 'if-missing' && outputs.some((p) => !existsSync(p)))) {
    log('> npm run build');
    const r = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: quiet ? 'pipe' : 'inherit', encoding: 'utf8', shell: process.platform === 'win32' });
    if (r.error) throw r.error;
    if (r.status !== 0) throw new Error(`npm run build failed (exit ${r.status})\n${r.stderr ?? ''}${r.stdout ?? ''}`);
  }
  const missing = outputs.filter((p) => !existsSync(p));
  if (missing.length > 0) throw new Error(`build outputs missing (run \`npm run build\`): ${missing.map((p) => relative(root, p)).join(', ')}`);

  // 2. Every target has its generated npm/<platform>/ package at the root version.
  const optionalDependencies = {};
  for (const t of targets) {
    const dir = join(root, 'npm', t.platformArchABI);
    const manifest = join(dir, 'package.json');
    if (!existsSync(manifest)) throw new Error(`${relative(root, manifest)} is missing; run \`npx napi create-npm-dirs\``);
    const sub = readJson(manifest);
    const expected = `${pkg.name}-${t.platformArchABI}`;
    if (sub.name !== expected) throw new Error(`${relative(root, manifest)} is named '${sub.name}', expected '${expected}'`);
    if (sub.version !== pkg.version) {
      throw new Error(`${relative(root, manifest)} has version ${sub.version} but the root package is ${pkg.version}; run \`npx napi version\``);
    }
    optionalDependencies[sub.name] = pkg.version;
  }

  // 3. This machine's binary into its platform package.
  const nodeFile = `${binaryName}.${host.platformArchABI}.node`;
  const platformDir = join(root, 'npm', host.platformArchABI);
  const tmpCopy = join(platformDir, `.${nodeFile}.${process.pid}.tmp`);
  copyFileSync(join(root, 'native', nodeFile), tmpCopy);
  renameSync(tmpCopy, join(platformDir, nodeFile));

  mkdirSync(outDir, { recursive: true });
  const stage = mkdtempSync(join(tmpdir(), 'sluice-pack-stage-'));
  try {
    // 4. The root package: stage exactly what its `files` list selects (as `npm pack` would),
    //    minus build output whose source is gone, with the optionalDependencies added.
    const listed = packJson(npm(['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, quiet: true })).files.map((f) => f.path);
    const pkgDir = join(stage, 'package');
    for (const path of listed) {
      if (path === 'package.json') continue;
      const m = /^dist\/(ts\/.+?)(\.d\.ts|\.js)$/.exec(path);
      if (m && !existsSync(join(root, `${m[1]}.ts`))) {
        log(`  (not packed: ${path}, stale build output; its source ${m[1]}.ts is gone)`);
        continue;
      }
      mkdirSync(dirname(join(pkgDir, path)), { recursive: true });
      cpSync(join(root, path), join(pkgDir, path));
    }
    writeFileSync(join(pkgDir, 'package.json'), `${JSON.stringify({ ...pkg, optionalDependencies: { ...pkg.optionalDependencies, ...optionalDependencies } }, null, 2)}\n`);

    const results = {};
    for (const [which, dir] of [
      ['platform', platformDir],
      ['root', pkgDir],
    ]) {
      const info = packJson(npm(['pack', dir, '--pack-destination', outDir, '--json', '--ignore-scripts'], { cwd: stage, quiet: true }));
      results[which] = {
        name: info.name,
        path: join(outDir, info.filename),
        size: info.size,
        unpackedSize: info.unpackedSize,
        files: info.files.map((f) => f.path),
      };
    }

    // 5. Check what went in.
    const bad = results.root.files.filter((f) => FORBIDDEN_IN_ROOT.some((re) => re.test(f)));
    if (bad.length > 0) throw new Error(`the root tarball holds files it must not: ${bad.join(', ')} (fix \`files\` in package.json)`);
    if (!results.platform.files.includes(nodeFile)) throw new Error(`${results.platform.path} lacks ${nodeFile}`);

    for (const r of [results.root, results.platform]) {
      log(`${r.path}  ${kib(r.size)} (unpacked ${kib(r.unpackedSize)}, ${r.files.length} files)`);
    }
    return results;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  let outDir = join(repoRoot, 'pack');
  let build = 'always';
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--out-dir') outDir = resolve(args[++i] ?? '');
    else if (a === '--no-build') build = 'never';
    else if (a === '--build-if-missing') build = 'if-missing';
    else if (a === '--help' || a === '-h') {
      console.log('Usage: node scripts/pack.mjs [--out-dir <dir>] [--no-build | --build-if-missing]');
      process.exit(0);
    } else {
      console.error(`unknown argument: ${a}`);
      process.exit(2);
    }
  }
  try {
    await pack({ outDir, build });
  } catch (e) {
    console.error(`pack failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}
