/** Shared command-line handling for the Nexmark query modules. */

import { DiscardingSink, FileSink, type Sink } from '../../ts/index.js';

/** `sluice run examples/nexmark/qN.ts -- [events] [out.jsonl]`: the event count, and a JSONL file or nothing. */
export function parseQueryArgs(args: readonly string[]): { events: number; sink: Sink } {
  const events = Number(args[0] ?? 1_000_000);
  if (!Number.isSafeInteger(events) || events < 1) throw new RangeError(`the event count must be a whole number >= 1, got '${args[0]}'`);
  return { events, sink: args[1] === undefined ? new DiscardingSink() : FileSink.jsonl(args[1]) };
}

