// A sink after a union is called from each input's loop: its writer must still see one call at a
// time, in order (found as a Kafka exactly-once sink after an application's union failing with
// "out of order sequence number": two sends into one transaction at once).
import { describe, expect, it } from 'vitest';
import { StreamEnvironment, type RecordBatch, type Sink } from '../../ts/index.js';
import { ENGINES, requireNative } from '../engines.js';

const SCHEMA = { side: 'i64', i: 'i64' } as const;

describe('a sink fed by a union of two sources', () => {
  it.each(ENGINES)('%s engine: its writer sees one call at a time, every record once', async (engine) => {
    if (engine === 'native') requireNative();
    let inFlight = 0;
    let most = 0;
    const seen: string[] = [];
    const sink: Sink = {
      name: 'one call at a time',
      open: () => ({
        write: async (b: RecordBatch) => {
          most = Math.max(most, ++inFlight);
          // Asynchronous, as a writer waiting for its destination: the other input's loop runs meanwhile.
          await new Promise((r) => setImmediate(r));
          for (const r of b.toRecords()) seen.push(`${r.side as number}:${r.i as number}`);
          inFlight--;
        },
        close: () => undefined,
      }),
    };
    const env = StreamEnvironment.create({ engine, batchSize: 10 });
    const side = (k: number) => env.fromRecords(Array.from({ length: 200 }, (_, i) => ({ side: k, i })), SCHEMA);
    side(0).union(side(1)).sinkTo(sink);
    await env.execute('union into an asynchronous sink');
    expect(most).toBe(1);
    expect(seen.length).toBe(400);
    // Each input's records in their order.
    for (const k of [0, 1]) expect(seen.filter((s) => s.startsWith(`${k}:`))).toEqual(Array.from({ length: 200 }, (_, i) => `${k}:${i}`));
  });
});
