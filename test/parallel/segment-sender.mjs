// A worker thread that sends batches through a SegmentChannel (the built modules, as a parallel
// run's workers use them): the test's batches (wire-encoded), then a watermark, a barrier, idle
// and the end after each, as listed in `script`.
import { parentPort, workerData } from 'node:worker_threads';

const dist = new URL('../../dist/ts/', import.meta.url);
const { SegmentPool } = await import(new URL('runtime/segment-pool.js', dist).href);
const { SegmentChannel } = await import(new URL('runtime/segment-channel.js', dist).href);
const { selectEngine } = await import(new URL('engine/select.js', dist).href);
const { decodeBatch } = await import(new URL('engine/ts/codec.js', dist).href);

const { engine, pool, ring, credits, script } = workerData;
const eng = selectEngine(engine);
const p = SegmentPool.attach(pool);
const batches = script.filter((s) => s.t === 'b').map((s) => decodeBatch(new Uint8Array(s.bytes)));
const ch = new SegmentChannel(ring, p, batches[0].schema, credits, eng, null);
let b = 0;
for (const s of script) {
  if (s.t === 'b') await ch.send(batches[b++], false);
  else ch.control(s);
}
parentPort.postMessage('sent');
