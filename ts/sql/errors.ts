/** Errors in SQL text: what is wrong, and where (line and column, 1-based). */

export class SqlError extends Error {
  constructor(
    readonly reason: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`SQL error at line ${line}, column ${column}: ${reason}`);
    this.name = 'SqlError';
  }
}

/** The Levenshtein distance, to name the nearest supported word in an error. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length]!;
}

/** The candidate closest to `word` (case-insensitive). */
export function nearest(word: string, candidates: readonly string[]): string {
  const w = word.toLowerCase();
  let best = candidates[0]!;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = distance(w, c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best;
}
