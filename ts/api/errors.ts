/** Job failure: names the job, the operator and the subtask, and keeps the original error. */

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
