/** Job failure: names the job, the operator and the subtask, and keeps the original error. */

export class JobFailedError extends Error {
  constructor(
    readonly jobName: string,
    readonly operator: string,
    readonly subtask: number,
    readonly original: unknown,
    /** The operator's uid, when the job gave it one. */
    readonly uid?: string,
  ) {
    const msg = original instanceof Error ? original.message : String(original);
    super(`job '${jobName}' failed in operator '${operator}' (${uid === undefined ? '' : `uid '${uid}', `}subtask ${subtask}): ${msg}`, { cause: original });
    this.name = 'JobFailedError';
  }
}

/**
 * An exception thrown by a user function: names the operator and the record (its position in
 * the operator's input and, truncated, its fields) and keeps the original as `cause`, with the
 * original's stack under this message (the user's frames are what matter).
 */
export class UserFunctionError extends Error {
  constructor(
    readonly operator: string,
    readonly position: number,
    /** The record as JSON, truncated. */
    readonly record: string,
    readonly original: unknown,
  ) {
    const what = original instanceof Error ? `${original.name}: ${original.message}` : `${typeof original} ${String(original)}`;
    super(`the function of '${operator}' threw on record ${position} ${record}: ${what}`, { cause: original });
    this.name = 'UserFunctionError';
    const frames = original instanceof Error ? (original.stack ?? '').split('\n').filter((l) => /^\s+at /.test(l)) : [];
    if (frames.length > 0) this.stack = `${this.name}: ${this.message}\n${frames.join('\n')}`;
  }
}

/** A record for an error message: JSON, at most `max` characters. */
export function describeRecord(record: unknown, max = 300): string {
  let text: string;
  try {
    text = JSON.stringify(record, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? String(record);
  } catch {
    text = String(record);
  }
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
