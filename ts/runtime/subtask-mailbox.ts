/**
 * The calling thread's messages to the subtasks one worker thread hosts (parallel.ts), by
 * subtask: checkpoint triggers and commits, the final close, and stop (to all of them).
 *
 * A subtask can take them once its job is built, and a trigger may come before that. A port's
 * messages would wait for its first listener, but the thread listens for all of its subtasks
 * from the start, so what comes early waits here, in order, for the subtask's handler.
 */

/** What the calling thread tells a hosted subtask; `stop` has no subtask: it is for all. */
export type SubtaskMessage = { readonly t: 'trigger' | 'complete'; readonly id: number; readonly subtask: number } | { readonly t: 'close'; readonly subtask: number } | { readonly t: 'stop' };

type Handler = (m: SubtaskMessage) => void;

export class SubtaskMailbox {
  private readonly boxes: Map<number, { handler: Handler | null; early: SubtaskMessage[] }>;

  constructor(subtasks: readonly number[]) {
    this.boxes = new Map(subtasks.map((s) => [s, { handler: null, early: [] }]));
  }

  /** A message from the calling thread: to its subtask, or to every one for `stop`. */
  deliver(m: SubtaskMessage): void {
    if (m.t === 'stop') for (const s of this.boxes.keys()) this.put(s, m);
    else this.put(m.subtask, m);
  }

  /** Subtask `subtask` takes its messages from now on, those that came before first. */
  listen(subtask: number, handler: Handler): void {
    const box = this.box(subtask);
    box.handler = handler;
    for (const m of box.early.splice(0)) handler(m);
  }

  private put(subtask: number, m: SubtaskMessage): void {
    const box = this.box(subtask);
    if (box.handler === null) box.early.push(m);
    else box.handler(m);
  }

  private box(subtask: number): { handler: Handler | null; early: SubtaskMessage[] } {
    const box = this.boxes.get(subtask);
    if (box === undefined) throw new Error(`internal error: a message for subtask ${subtask}, which this thread does not host (${[...this.boxes.keys()].join(', ')})`);
    return box;
  }
}
