/** Numbers, sizes and times as the dashboard shows them. */

export function count(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–';
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toFixed(2)} G`;
  if (a >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (a >= 1e4) return `${(n / 1e3).toFixed(1)} K`;
  return n.toFixed(a > 0 && a < 10 && !Number.isInteger(n) ? 1 : 0);
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–';
  if (n >= 1024 * 1024 * 1024) return `${(n / 1024 ** 3).toFixed(2)} GiB`;
  if (n >= 1024 * 1024) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

export function ms(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–';
  if (n >= 60_000) return `${Math.floor(n / 60_000)} min ${((n % 60_000) / 1000).toFixed(0)} s`;
  if (n >= 1000) return `${(n / 1000).toFixed(1)} s`;
  return `${n.toFixed(n < 10 ? 1 : 0)} ms`;
}

/** Event time: an ISO timestamp (event time is epoch ms). */
export function time(t: number | null | undefined): string {
  if (t === null || t === undefined) return '–';
  if (!Number.isFinite(t)) return t > 0 ? 'end of input' : '–';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toISOString().replace('T', ' ').replace('Z', '');
}

/** A wall-clock time of day, local. */
export function clock(t: number): string {
  return new Date(t).toLocaleTimeString();
}

export function percent(perSecond: number | undefined): string {
  return perSecond === undefined ? '–' : `${Math.round(perSecond / 10)}%`;
}
