/** Job failure: names the job, the operator and the subtask, and keeps the original error. */

const ANNOTATED = Symbol('sluice.operator');

export class JobFailedError extends Error {
  constructor(
    readonly jobName: string,
    readonly operator: string,
    readonly subtask: number,
    readonly original: unknown,
  ) {
    const msg = original instanceof Error ? original.message : String(original);
    super(`job '${jobName}' failed in operator '${operator}' (subtask ${subtask}): ${msg}`, { cause: original });
    this.name = 'JobFailedError';
  }
}

/** Records the first operator an error passed through (the one that threw). */
export function annotate(e: unknown, operator: string): unknown {
  if (e !== null && typeof e === 'object' && !(ANNOTATED in e)) {
    Object.defineProperty(e, ANNOTATED, { value: operator, enumerable: false });
  }
  return e;
}

export function operatorOf(e: unknown): string | undefined {
  return e !== null && typeof e === 'object' && ANNOTATED in e ? String((e as Record<symbol, unknown>)[ANNOTATED]) : undefined;
}
