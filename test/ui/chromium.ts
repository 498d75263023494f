// The browser of the dashboard tests: Debian's chromium, headless, driven by playwright-core.
import { spawnSync } from 'node:child_process';

/** Debian's chromium (apt-get install -y chromium; .ci/run installs it), or SLUICE_CHROMIUM. */
export function chromiumPath(): string {
  const given = process.env['SLUICE_CHROMIUM'];
  if (given !== undefined && given !== '') return given;
  const found = spawnSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).stdout.trim();
  if (found === '') throw new Error("the dashboard tests need a Chromium: install Debian's package (apt-get install -y chromium; .ci/run does) or set SLUICE_CHROMIUM to its path");
  return found;
}
