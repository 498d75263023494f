/** A bounded async queue: the producer awaits while it is full (backpressure). */

export class BoundedQueue<T> {
  private readonly items: T[] = [];
  private closed = false;
  private error: unknown = undefined;
  private waitingConsumer: (() => void) | null = null;
  private waitingProducer: (() => void) | null = null;

  constructor(private readonly capacity: number) {}

  async put(item: T): Promise<void> {
    while (this.items.length >= this.capacity && !this.closed) {
      await new Promise<void>((r) => (this.waitingProducer = r));
    }
    if (this.closed) return; // consumer gave up
    this.items.push(item);
    this.wake('consumer');
  }

  close(error?: unknown): void {
    if (error !== undefined && this.error === undefined) this.error = error;
    this.closed = true;
    this.wake('consumer');
    this.wake('producer');
  }

  /** The next item, or undefined once closed and drained; throws the producer's error. */
  async take(): Promise<T | undefined> {
    while (this.items.length === 0) {
      if (this.closed) {
        if (this.error !== undefined) throw this.error;
        return undefined;
      }
      await new Promise<void>((r) => (this.waitingConsumer = r));
    }
    const item = this.items.shift()!;
    this.wake('producer');
    return item;
  }

  private wake(who: 'consumer' | 'producer'): void {
    const w = who === 'consumer' ? this.waitingConsumer : this.waitingProducer;
    if (who === 'consumer') this.waitingConsumer = null;
    else this.waitingProducer = null;
    w?.();
  }
}
