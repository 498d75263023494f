// Builds the dashboard page (ts/ui) into dist/ui: one JavaScript bundle with its libraries
// (dagre for the graph layout, uPlot for the charts), one stylesheet, the HTML page, and the
// libraries' licences. `sluice run --ui` serves these files; nothing is fetched at run time.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'ui');
mkdirSync(out, { recursive: true });

await build({
  absWorkingDir: root,
  entryPoints: ['ts/ui/main.ts'],
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022', 'chrome111', 'firefox111', 'safari16.4'],
  outfile: join(out, 'dashboard.js'),
  legalComments: 'none',
  logLevel: 'warning',
});
copyFileSync(join(root, 'ts', 'ui', 'index.html'), join(out, 'index.html'));

const bundled = ['@dagrejs/dagre', '@dagrejs/graphlib', 'uplot'];
const licences = bundled.map((name) => {
  const dir = join(root, 'node_modules', name);
  const { version, license } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  return `${name} ${version} (${license})\n\n${readFileSync(join(dir, 'LICENSE'), 'utf8').trim()}\n`;
});
writeFileSync(join(out, 'THIRD-PARTY-LICENSES.txt'), `The dashboard bundle (dashboard.js, dashboard.css) includes:\n\n${licences.join('\n---\n\n')}`);
