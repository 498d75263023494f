/**
 * A handle on a running job (Flink's JobClient): pass one to `execute(name, { client })`, then
 * take savepoints while it runs, stop it with one, or rescale it.
 */

export interface JobControl {
  savepoint(dir: string): Promise<string>;
  stop(): void;
  /** The job's checkpoint directory: savepoints for rescaling go under it. */
  readonly checkpointDir: string;
}

/** A rescale asked for: the savepoint the job stopped with, and the parallelism to resume at. */
export interface RescaleRequest {
  readonly parallelism: number;
  readonly savepoint: string;
}

type Pending = RescaleRequest & { readonly settle: (e: Error | null) => void };

export class JobClient {
  private control: JobControl | null = null;
  private readonly waiting: ((c: JobControl) => void)[] = [];

  /** @internal Called by the runtime when the job runs (with checkpointing). */
  attach(control: JobControl): void {
    this.control = control;
    for (const w of this.waiting.splice(0)) w(control);
  }

  /** @internal The job ended: no more savepoints. */
  detach(): void {
    this.control = null;
  }

  /** @internal Set by execute(): why the job cannot run at a parallelism (null: it can). */
  rescaleCheck: ((parallelism: number) => string | null) | null = null;
  private requested: Pending | null = null;
  private resuming: Pending | null = null;
  private rescaling = false;

  /**
   * @internal Taken by execute() when a run ended: the rescale it stopped for, if any, when
   * `stopped` (the run was cut short); else the rescale fails with `why` (the job ended first).
   */
  takeRescale(stopped: boolean, why: string): RescaleRequest | null {
    const r = this.requested;
    this.requested = null;
    if (r === null) return null;
    if (!stopped) {
      r.settle(new Error(`rescale: ${why}`));
      return null;
    }
    this.resuming = r;
    return r;
  }

  /**
   * @internal The run after a rescale completed a checkpoint or ended (`error` null: the
   * rescale is done), or failed before that (the caller resumes at the old parallelism); false
   * when no rescale was under way.
   */
  rescaleSettled(error: unknown): boolean {
    const r = this.resuming;
    this.resuming = null;
    r?.settle(error === null ? null : error instanceof Error ? error : new Error(String(error)));
    return r !== null;
  }

  private running(): Promise<JobControl> {
    return this.control !== null ? Promise.resolve(this.control) : new Promise((r) => this.waiting.push(r));
  }

  /**
   * Takes a savepoint into `dir` (a checkpoint kept until you delete it; restore it with
   * `restoreFrom: dir`, also at another parallelism) and resolves with its directory.
   */
  async triggerSavepoint(dir: string): Promise<string> {
    return (await this.running()).savepoint(dir);
  }

  /**
   * Rescales the running job (the seeds' dynamic parallelism, done as Flink's reactive mode does
   * it): takes a savepoint into the job's checkpoint directory, stops the job's tasks and starts
   * them again at `parallelism` from it, in the same process and the same execute() call. Keyed
   * state moves by key group; operators given their own parallelism keep it. Resolves with the
   * savepoint once the job runs at the new parallelism; when it cannot start there (state that
   * cannot move, say), the job goes on at the old one from the same savepoint and this rejects.
   * Done means the job completed a checkpoint at the new parallelism (or ended there).
   * The job's result lists every rescale (`JobResult.rescales`).
   */
  async rescale(parallelism: number): Promise<string> {
    if (!Number.isSafeInteger(parallelism) || parallelism < 1) throw new RangeError(`rescale: parallelism must be a whole number >= 1, got ${parallelism}`);
    const problem = this.rescaleCheck?.(parallelism) ?? null;
    if (problem !== null) throw new Error(`rescale: ${problem}`);
    if (this.rescaling) throw new Error('rescale: a rescale is already under way; wait for it to finish');
    this.rescaling = true;
    try {
      const c = await this.running();
      // Into the checkpoint directory: a restart after the rescale resumes from it or a later checkpoint.
      const savepoint = await c.savepoint(c.checkpointDir);
      const done = new Promise<void>((resolve, reject) => {
        this.requested = { parallelism, savepoint, settle: (e) => (e === null ? resolve() : reject(e)) };
      });
      c.stop();
      await done;
      return savepoint;
    } finally {
      this.rescaling = false;
    }
  }

  /** Takes a savepoint, then stops the job (sources stop; nothing after the savepoint is published). */
  async stopWithSavepoint(dir: string): Promise<string> {
    const c = await this.running();
    const path = await c.savepoint(dir);
    c.stop();
    return path;
  }
}
