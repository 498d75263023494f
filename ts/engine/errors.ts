/**
 * The one error class both engines raise for input they refuse, with a kind that says what
 * kind of cause it was: the same kind and message on either engine for the same bad input.
 * The native core's `ErrorKind` (crates/sluice-core/src/error.rs) crosses N-API as a message
 * prefix, decoded in one place here.
 */

/** config: a bad specification (fix the pipeline); data: a batch or value that does not fit; memory: over the managed-memory budget; overflow: a value that cannot be represented exactly. */
export type EngineErrorKind = 'config' | 'data' | 'memory' | 'overflow';

export class EngineError extends Error {
  constructor(
    readonly kind: EngineErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}

const NATIVE_KIND = /^\[sluice:(config|data|memory|overflow)\] /;

/**
 * An error thrown by the native addon as an EngineError. The core's errors carry their kind;
 * what napi itself rejects (an argument of the wrong type) is a configuration error.
 */
export function fromNative(e: unknown): unknown {
  if (!(e instanceof Error) || e instanceof EngineError) return e;
  const m = NATIVE_KIND.exec(e.message);
  const err = m === null ? new EngineError('config', e.message) : new EngineError(m[1] as EngineErrorKind, e.message.slice(m[0].length));
  return err;
}
