/**
 * The native addon's surface, typed from the declarations napi-rs generates, and the function
 * that finds and loads it. Loading never throws: it reports why it failed, so `auto`
 * can fall back to the TS engine with one clear warning.
 */

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as Napi from '#native-binding';
import type { DataType } from '../../batch/schema.js';
import type { AggKind, TextFormat, WindowDescriptor } from '../engine.js';
import type { NexmarkKind } from '../nexmark-config.js';

/**
 * The addon as napi-rs declares it (`native/binding.d.cts`, generated from the `#[napi]` items of
 * crates/sluice-node by `npm run build:native`): the Rust signatures and the calls in this
 * folder are checked against each other by tsc, so they cannot drift.
 */
export type NativeBinding = typeof Napi;
export type NativeWindowAggregatorN = Napi.NativeWindowAggregator;
export type NativeNexmarkGeneratorN = Napi.NativeNexmarkGenerator;
export type NativeJsonlDecoderN = Napi.NativeJsonlDecoder;
export type NativeCsvDecoderN = Napi.NativeCsvDecoder;
export type NativeCalcN = Napi.NativeCalc;
export type NativeGroupAggregatorN = Napi.NativeGroupAggregator;
export type SegmentScatterN = Napi.SegmentScatter;
export type BatchOutN = Napi.BatchOut;
export type BatchLayoutN = Napi.BatchLayout;
/** A field with its nullability, as the codec takes and gives it. */
export type FieldSpecN = Napi.CodecFieldSpec;

/**
 * Kinds cross as napi string enums. Their string values must be exactly the TypeScript types'
 * (tsc fails here when a variant is added or renamed on one side only); the conversions below
 * are then only a change of type.
 */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export const KINDS_AGREE: [
  Same<`${Napi.AggregateKind}`, AggKind>,
  Same<`${Napi.FieldType}`, DataType>,
  Same<`${Napi.WindowKind}`, WindowDescriptor['kind']>,
  Same<`${Napi.NexmarkKind}`, NexmarkKind>,
  Same<`${Napi.TextFormatKind}`, TextFormat>,
] = [
  true,
  true,
  true,
  true,
  true,
];

export const aggregateKind = (k: AggKind): Napi.AggregateKind => k as `${Napi.AggregateKind}` as Napi.AggregateKind;
export const fieldType = (t: DataType): Napi.FieldType => t as `${Napi.FieldType}` as Napi.FieldType;
export const windowKind = (k: WindowDescriptor['kind']): Napi.WindowKind => k as `${Napi.WindowKind}` as Napi.WindowKind;
export const nexmarkKind = (k: NexmarkKind): Napi.NexmarkKind => k as `${Napi.NexmarkKind}` as Napi.NexmarkKind;
export const textFormatKind = (k: TextFormat): Napi.TextFormatKind => k as `${Napi.TextFormatKind}` as Napi.TextFormatKind;
export const dataType = (t: Napi.FieldType): DataType => t as `${Napi.FieldType}`;

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
