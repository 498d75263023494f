// SocketSource and env.socketTextStream against real local TCP servers started by the test:
// lines (CRLF too, split across packets), JSON lines of a schema with a bad line named by
// line and field, reconnecting under a retry policy, the at-most-once warning with
// checkpoints, and a clear error when nothing listens; both engines identical.
import { mkdtempSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CollectSink, SocketSource, StreamEnvironment, type EngineName, type Source } from '../../ts/index.js';
import { onBothEngines } from '../engines.js';

/** A server that runs `serve` for each connection, in order; resolves with its port. */
async function server(serve: ((s: Socket, n: number) => void)[]): Promise<{ port: number; server: Server }> {
  let n = 0;
  const srv = createServer((s) => {
    const f = serve[Math.min(n, serve.length - 1)]!;
    f(s, n++);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  return { port: (srv.address() as { port: number }).port, server: srv };
}

/** Writes the pieces a few ms apart, then closes. */
function send(pieces: string[]): (s: Socket) => void {
  return (s) => {
    let i = 0;
    const next = (): void => {
      if (i < pieces.length) {
        s.write(pieces[i++]!);
        setTimeout(next, 5);
      } else s.end();
    };
    next();
  };
}

async function run(engine: EngineName, source: Source<object> | ((env: StreamEnvironment) => ReturnType<StreamEnvironment['socketTextStream']>), checkpoints = false): Promise<Record<string, unknown>[]> {
  const env = StreamEnvironment.create({ engine });
  if (checkpoints) env.enableCheckpointing(20, { dir: mkdtempSync(join(tmpdir(), 'sluice-sock-')) });
  const sink = new CollectSink();
  (typeof source === 'function' ? source(env) : env.fromSource(source)).sinkTo(sink);
  await env.execute();
  return sink.records as Record<string, unknown>[];
}

describe('SocketSource', () => {
  it('socketTextStream reads lines (CRLF too, split across packets) until the server closes', async () => {
    const rows = await onBothEngines(async (engine) => {
      const { port, server: srv } = await server([send(['alpha\nbe', 'ta\r\n', 'gam', 'ma'])]);
      try {
        return await run(engine, (env) => env.socketTextStream('127.0.0.1', port));
      } finally {
        srv.close();
      }
    });
    expect(rows.native).toEqual([{ line: 'alpha' }, { line: 'beta' }, { line: 'gamma' }]);
  });

  it('decodes JSON lines of a schema; a bad line fails naming the socket, the line and the field', async () => {
    const ok = await onBothEngines(async (engine) => {
      const { port, server: srv } = await server([send(['{"id":1,"name":"a"}\n{"id":2,', '"name":"b"}\n'])]);
      try {
        return await run(engine, SocketSource.jsonl('127.0.0.1', port, { id: 'i64', name: 'utf8' }));
      } finally {
        srv.close();
      }
    });
    expect(ok.native).toEqual([
      { id: 1, name: 'a' },
      { id: 2, name: 'b' },
    ]);
    const bad = await onBothEngines(async (engine) => {
      const { port, server: srv } = await server([send(['{"id":1,"name":"a"}\n{"id":"x","name":"b"}\n'])]);
      try {
        await run(engine, SocketSource.jsonl('127.0.0.1', port, { id: 'i64', name: 'utf8' }));
        return 'no error';
      } catch (e) {
        return (e as Error).message.replaceAll(String(port), 'PORT');
      } finally {
        srv.close();
      }
    });
    expect(bad.native).toContain(`socket 127.0.0.1:PORT, line 2, field 'id'`);
  });

  it('reconnects under its retry policy and reads CSV lines from each connection', async () => {
    const rows = await onBothEngines(async (engine) => {
      const { port, server: srv } = await server([send(['1,a\n2,b\n']), send(['3,c\n'])]);
      try {
        return await run(engine, SocketSource.csv('127.0.0.1', port, { id: 'i64', name: 'utf8' }, { maxRetries: 1, retryDelayMs: 20 }));
      } finally {
        srv.close();
      }
    });
    expect(rows.native).toEqual([
      { id: 1, name: 'a' },
      { id: 2, name: 'b' },
      { id: 3, name: 'c' },
    ]);
  });

  it('with checkpoints it warns that it is at-most-once', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const { port, server: srv } = await server([
        (s) => {
          // Slow enough for a checkpoint to be taken while it runs.
          let i = 0;
          const t = setInterval(() => {
            s.write(`line ${i++}\n`);
            if (i === 20) {
              clearInterval(t);
              s.end();
            }
          }, 10);
        },
      ]);
      try {
        const rows = await run('ts', (env) => env.socketTextStream('127.0.0.1', port), true);
        expect(rows.length).toBe(20);
      } finally {
        srv.close();
      }
      await new Promise((r) => setImmediate(r));
      expect(warnings.some((w) => w.includes('at-most-once'))).toBe(true);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('nothing listening: a clear error', async () => {
    const { port, server: srv } = await server([send([])]);
    await new Promise<void>((r) => srv.close(() => r()));
    await expect(run('ts', SocketSource.lines('127.0.0.1', port))).rejects.toThrow(`socket 127.0.0.1:${port}: cannot connect`);
  });
});
