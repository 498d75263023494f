/**
 * A handle on a running job (Flink's JobClient): pass one to `execute(name, { client })`, then
 * take savepoints while it runs, or stop it with one.
 */

export interface JobControl {
  savepoint(dir: string): Promise<string>;
  stop(): void;
}

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

  /** Takes a savepoint, then stops the job (sources stop; nothing after the savepoint is published). */
  async stopWithSavepoint(dir: string): Promise<string> {
    const c = await this.running();
    const path = await c.savepoint(dir);
    c.stop();
    return path;
  }
}
