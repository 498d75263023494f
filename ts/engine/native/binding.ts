/**
 * The native addon's surface, typed by hand (the generated loader is only a loader), and the
 * function that finds and loads it. Loading never throws: it reports why it failed, so `auto`
 * can fall back to the TS engine with one clear warning.
 */

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NexmarkConfig } from '../nexmark-config.js';

export interface FieldSpecN {
  name: string;
  type: string;
  /** Absent means nullable (the schema default); `decodeBatch` always sets it. */
  nullable?: boolean;
}

/** A batch from Rust: buffers grouped by element type, schema order within each group. */
export interface BatchOutN {
  length: number;
  u8: Uint8Array[];
  i32: Int32Array[];
  i64: BigInt64Array[];
  f64: Float64Array[];
  eventTime?: BigInt64Array | null;
}

export interface NativeWindowAggregatorN {
  push(buffers: Uint8Array[], length: number, eventTime?: Uint8Array | null): number;
  advanceWatermark(watermark: number): BatchOutN | null;
  flush(): BatchOutN | null;
  lateRows(): Uint32Array;
  earliestStart(): number;
  takePushedOutput(): BatchOutN | null;
  readonly unfiredRows: number;
  readonly lateDropped: number;
  readonly memoryBytes: number;
  readonly groupCount: number;
}

export interface NativeNexmarkGeneratorN {
  nextBatch(maxRows: number): BatchOutN | null;
  position(): number;
  seek(position: number): void;
  readonly fields: FieldSpecN[];
}


export interface NativeBinding {
  NativeWindowAggregator: new (spec: {
    input: FieldSpecN[];
    keyFields: number[];
    window: { kind: string; sizeMs?: number; slideMs?: number; offsetMs?: number; gapMs?: number; dynamicGapField?: number; size?: number; slide?: number };
    aggregates: { name: string; kind: string; field?: number }[];
    allowedLatenessMs?: number;
    memoryPool?: string;
  }) => NativeWindowAggregatorN;
  NativeNexmarkGenerator: new (config: NexmarkConfig, kind: string, fields?: string[] | null) => NativeNexmarkGeneratorN;
  encodeBatch(fields: FieldSpecN[], buffers: Uint8Array[], length: number, eventTime?: Uint8Array | null): Uint8Array;
  decodeBatch(bytes: Uint8Array): { fields: FieldSpecN[]; batch: BatchOutN };
  murmur3(data: Uint8Array, seed: number): number;
  hashPartition(
    fields: FieldSpecN[],
    buffers: Uint8Array[],
    length: number,
    eventTime: Uint8Array | null,
    keyFields: number[],
    parallelism: number,
    maxParallelism: number,
  ): BatchOutN[];
  openMemoryPool(id: string, budgetBytes: number): void;
  memoryPoolUse(id: string): { budget: number; used: number; peak: number } | null;
  closeMemoryPool(id: string): void;
  partitionByTargets(fields: FieldSpecN[], buffers: Uint8Array[], length: number, eventTime: Uint8Array | null, targets: Uint32Array, n: number): BatchOutN[];
}

export type LoadResult = { ok: true; binding: NativeBinding } | { ok: false; reason: string };

let cached: LoadResult | undefined;

/** Finds `native/binding.cjs` above this module (source tree or dist/ tree alike). */
function findLoader(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'native', 'binding.cjs');
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return null;
}

export function loadNative(): LoadResult {
  if (cached !== undefined) return cached;
  if (process.env.SLUICE_NATIVE_DISABLE === '1') {
    return (cached = { ok: false, reason: 'SLUICE_NATIVE_DISABLE=1 is set' });
  }
  const loader = findLoader();
  if (loader === null) {
    return (cached = { ok: false, reason: 'no native binding was built or installed (native/binding.cjs not found; run `npm run build`)' });
  }
  try {
    const require = createRequire(import.meta.url);
    const binding = require(loader) as NativeBinding;
    if (typeof binding.NativeWindowAggregator !== 'function') {
      return (cached = { ok: false, reason: `${loader} loaded but exports no NativeWindowAggregator (stale build?)` });
    }
    return (cached = { ok: true, binding });
  } catch (e) {
    const msg = e instanceof Error ? e.message.split('\n')[0]! : String(e);
    // napi's loader blames an npm bug whenever nothing loads; usually there is simply no binary.
    if (msg.startsWith('Cannot find native binding')) {
      return (cached = { ok: false, reason: `no prebuilt binary for ${process.platform}-${process.arch} is installed (the optional package sluice-${process.platform}-${process.arch}* is missing) and none was built here` });
    }
    return (cached = { ok: false, reason: msg });
  }
}
