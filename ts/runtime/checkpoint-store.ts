/**
 * Checkpoint files. A checkpoint is a directory `chk-<id>` holding `state.bin` (a FlatBuffers
 * Snapshot, gzip-compressed) and `_manifest` (a FlatBuffers Manifest with the size and CRC-32 of
 * every file, followed by the CRC-32 of the manifest itself). Each file is written under a
 * temporary name, fsynced and renamed; the manifest goes last, so a crash at any moment leaves
 * either a complete checkpoint or one without a valid manifest, which readers skip and report.
 */

import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { crc32, gunzipSync, gzip } from 'node:zlib';
import * as flatbuffers from 'flatbuffers';
import { CheckpointFile, Manifest, OperatorState, Snapshot } from '../batch/fb/sluice/fb.js';

const gzipAsync = promisify(gzip);

export interface StateEntry {
  readonly nodeId: number;
  readonly subtask: number;
  /** The operator's name when written (for messages); a commit entry's ends in ' (commit)'. */
  readonly name: string;
  /** The operator's state identity (see `stateUid`); undefined in checkpoints written before uids. */
  readonly uid?: string;
  readonly data: Uint8Array;
}

export interface CheckpointData {
  readonly id: number;
  readonly job: string;
  readonly parallelism: number;
  readonly maxParallelism: number;
  readonly savepoint: boolean;
  readonly path: string;
  readonly entries: readonly StateEntry[];
}

export class CorruptCheckpointError extends Error {}

const STATE = 'state.bin';
const MANIFEST = '_manifest';

/** Writes, fsyncs and renames into place, on the I/O thread pool (processing goes on meanwhile). */
async function writeDurably(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp`;
  const f = await open(tmp, 'w');
  try {
    await f.writeFile(bytes);
    await f.sync();
  } finally {
    await f.close();
  }
  await rename(tmp, path);
}

async function fsyncDir(dir: string): Promise<void> {
  const f = await open(dir, 'r');
  try {
    await f.sync();
  } finally {
    await f.close();
  }
}

function encodeSnapshot(c: Omit<CheckpointData, 'path' | 'savepoint'>): Uint8Array {
  const b = new flatbuffers.Builder(1024 + c.entries.reduce((s, e) => s + e.data.length + 64, 0));
  const ops = c.entries.map((e) => {
    const name = b.createString(e.name);
    const data = b.createByteVector(e.data);
    const uid = e.uid === undefined ? 0 : b.createString(e.uid);
    return OperatorState.createOperatorState(b, e.nodeId, e.subtask, name, data, uid);
  });
  const vec = Snapshot.createOperatorsVector(b, ops);
  const job = b.createString(c.job);
  b.finish(Snapshot.createSnapshot(b, BigInt(c.id), job, c.parallelism, c.maxParallelism, vec));
  return b.asUint8Array();
}

function encodeManifest(id: number, job: string, savepoint: boolean, files: { name: string; bytes: number; crc: number }[]): Uint8Array {
  const b = new flatbuffers.Builder(256);
  const fs = files.map((f) => CheckpointFile.createCheckpointFile(b, b.createString(f.name), BigInt(f.bytes), f.crc));
  const vec = Manifest.createFilesVector(b, fs);
  const j = b.createString(job);
  b.finish(Manifest.createManifest(b, BigInt(id), j, BigInt(Date.now()), savepoint, vec));
  const body = b.asUint8Array();
  const out = new Uint8Array(body.length + 4);
  out.set(body);
  new DataView(out.buffer).setUint32(body.length, crc32(body), true);
  return out;
}

export function checkpointDirName(id: number): string {
  return `chk-${id}`;
}

/**
 * Writes checkpoint `id` under `root` (compression off the calling thread's critical path:
 * gzip runs on the libuv pool). Returns the checkpoint's directory.
 */
export async function writeCheckpoint(root: string, c: Omit<CheckpointData, 'path'>): Promise<string> {
  const raw = encodeSnapshot(c);
  // Level 1: a third of the default's CPU for a few percent more bytes; the write must not slow the job.
  // Large output chunks: with the default 16 KiB, each chunk waited for a turn of the (busy)
  // event loop, and compressing 6 MiB took up to 1.3 s of wall time instead of about 0.1 s.
  const packed = new Uint8Array(await gzipAsync(raw, { level: 1, chunkSize: Math.min(Math.max(raw.length, 1 << 16), 1 << 26) }));
  const dir = join(root, checkpointDirName(c.id));
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await writeDurably(join(dir, STATE), packed);
  await writeDurably(join(dir, MANIFEST), encodeManifest(c.id, c.job, c.savepoint, [{ name: STATE, bytes: packed.length, crc: crc32(packed) }]));
  await fsyncDir(dir);
  await fsyncDir(root);
  return dir;
}

/** Reads and verifies one checkpoint directory; throws CorruptCheckpointError saying what is wrong. */
export function readCheckpoint(dir: string): CheckpointData {
  const mpath = join(dir, MANIFEST);
  if (!existsSync(mpath)) throw new CorruptCheckpointError(`${dir} has no manifest: the checkpoint did not complete`);
  const m = readFileSync(mpath);
  if (m.length < 4) throw new CorruptCheckpointError(`${mpath} is truncated (${m.length} bytes)`);
  const body = m.subarray(0, m.length - 4);
  if (crc32(body) !== m.readUInt32LE(m.length - 4)) throw new CorruptCheckpointError(`${mpath} fails its checksum: the file is damaged`);
  const manifest = Manifest.getRootAsManifest(new flatbuffers.ByteBuffer(new Uint8Array(body)));
  let state: Uint8Array | null = null;
  for (let i = 0; i < manifest.filesLength(); i++) {
    const f = manifest.files(i)!;
    const path = join(dir, f.name() ?? '');
    if (!existsSync(path)) throw new CorruptCheckpointError(`${path} is missing`);
    const bytes = readFileSync(path);
    if (bytes.length !== Number(f.bytes())) throw new CorruptCheckpointError(`${path} has ${bytes.length} bytes, the manifest says ${f.bytes()}: the file is truncated or damaged`);
    if (crc32(bytes) !== f.crc32()) throw new CorruptCheckpointError(`${path} fails its checksum: the file is damaged`);
    if (f.name() === STATE) state = bytes;
  }
  if (state === null) throw new CorruptCheckpointError(`${mpath} lists no ${STATE}`);
  const snap = Snapshot.getRootAsSnapshot(new flatbuffers.ByteBuffer(new Uint8Array(gunzipSync(state))));
  const entries: StateEntry[] = [];
  for (let i = 0; i < snap.operatorsLength(); i++) {
    const o = snap.operators(i)!;
    const uid = o.uid();
    entries.push({ nodeId: o.nodeId(), subtask: o.subtask(), name: o.name() ?? '', ...(uid === null ? {} : { uid }), data: o.dataArray()!.slice() });
  }
  return {
    id: Number(snap.checkpointId()),
    job: snap.job() ?? '',
    parallelism: snap.parallelism(),
    maxParallelism: snap.maxParallelism(),
    savepoint: manifest.savepoint(),
    path: dir,
    entries,
  };
}

/** Ids of the checkpoint directories under `root`, newest first. */
export function checkpointIds(root: string): number[] {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .map((n) => /^chk-(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => b - a);
}

/**
 * The newest complete, intact checkpoint under `root` (or `root` itself when it is one), and
 * the newer ones that were skipped with the reason.
 */
export function findLatest(root: string): { checkpoint: CheckpointData | null; skipped: string[]; damaged: number } {
  if (existsSync(join(root, MANIFEST))) return { checkpoint: readCheckpoint(root), skipped: [], damaged: 0 };
  const skipped: string[] = [];
  // Skipped ones that had completed (a manifest) but fail their checks; the rest never completed.
  let damaged = 0;
  for (const id of checkpointIds(root)) {
    const dir = join(root, checkpointDirName(id));
    try {
      return { checkpoint: readCheckpoint(dir), skipped, damaged };
    } catch (e) {
      if (!(e instanceof CorruptCheckpointError)) throw e;
      skipped.push(e.message);
      if (existsSync(join(dir, MANIFEST))) damaged++;
    }
  }
  return { checkpoint: null, skipped, damaged };
}

/** Deletes all but the newest `retain` complete checkpoints (and anything older than them). */
export function pruneCheckpoints(root: string, retain: number, newest: number): void {
  const complete = checkpointIds(root).filter((id) => id <= newest && existsSync(join(root, checkpointDirName(id), MANIFEST)));
  const keepFrom = complete[retain - 1];
  if (keepFrom === undefined) return;
  for (const id of checkpointIds(root)) if (id < keepFrom) rmSync(join(root, checkpointDirName(id)), { recursive: true, force: true });
}
