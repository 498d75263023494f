/** How a worker thread rebuilds a job: the module whose default export builds it, and its arguments. */
export interface JobModule {
  /** A file URL of a module whose default export is `(env, args) => void`. */
  readonly url: string;
  readonly args: readonly string[];
}
