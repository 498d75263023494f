/** Names a side output of an operator, as Flink's OutputTag; `T` is its record type. */
export class OutputTag<T extends object = Record<string, unknown>> {
  /** Phantom: carries the record type; never set. */
  declare readonly __record?: T;
  constructor(readonly id: string) {
    if (typeof id !== 'string' || id === '') throw new TypeError('an OutputTag needs a non-empty id, e.g. new OutputTag("late-bids")');
  }
}
