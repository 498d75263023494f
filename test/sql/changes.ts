/** Changelogs in the SQL tests: changes applied as a multiset, as a sink that keeps a table would. */

import { expect } from 'vitest';

/** A change as `toChangelogStream()` gives it (or a print line, parsed): the row's fields and its kind. */
export type Change = Record<string, unknown> & { rowKind: string };

/**
 * The rows left after applying `changes`, sorted: +I / +U add a row, -U / -D remove one, which
 * must be there (`lenient`: a retraction of a row that is not there is ignored, as after its
 * state expired). `key` renders a row (JSON by default).
 */
export function applied(changes: Iterable<Change>, options: { readonly key?: (row: Record<string, unknown>) => string; readonly lenient?: boolean } = {}): string[] {
  const key = options.key ?? ((row) => JSON.stringify(row));
  const rows = new Map<string, number>();
  for (const { rowKind, ...row } of changes) {
    const k = key(row);
    const n = rows.get(k) ?? 0;
    if (rowKind === '+I' || rowKind === '+U') rows.set(k, n + 1);
    else {
      if (options.lenient !== true) expect(n, `${rowKind} of a row that is not there: ${k}`).toBeGreaterThan(0);
      if (n <= 1) rows.delete(k);
      else rows.set(k, n - 1);
    }
  }
  return [...rows].flatMap(([k, n]) => Array<string>(n).fill(k)).sort();
}

/** Print-table lines (`+I {...}`) as changes; other lines are skipped. */
export function printedChanges(stdout: string): Change[] {
  const out: Change[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^([+-][IUD]) (\{.*\})$/.exec(line);
    if (m !== null) out.push({ rowKind: m[1]!, ...(JSON.parse(m[2]!) as Record<string, unknown>) });
  }
  return out;
}
