/** Which operator an error passed through first (the one that threw), for JobFailedError. */

const ANNOTATED = Symbol('sluice.operator');


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
