/** Which operator an error passed through first (the one that threw), for JobFailedError. */

const ANNOTATED = Symbol('sluice.operator');


/** The operator an error names: its name, and its uid when the job gave it one. */
export interface FailedOperator {
  readonly name: string;
  readonly uid?: string;
}

/** Records the first operator an error passed through (the one that threw). */
export function annotate(e: unknown, operator: { readonly metrics: { readonly name: string }; readonly stateUid: string }): unknown {
  if (e !== null && typeof e === 'object' && !(ANNOTATED in e)) {
    // Generated identities (state-identity.ts) start with '#': only a uid() the user gave names the operator.
    const uid = operator.stateUid === '' || operator.stateUid.startsWith('#') ? {} : { uid: operator.stateUid.split('#')[0]! };
    Object.defineProperty(e, ANNOTATED, { value: { name: operator.metrics.name, ...uid } satisfies FailedOperator, enumerable: false });
  }
  return e;
}

export function operatorOf(e: unknown): FailedOperator | undefined {
  return e !== null && typeof e === 'object' && ANNOTATED in e ? ((e as Record<symbol, unknown>)[ANNOTATED] as FailedOperator) : undefined;
}
