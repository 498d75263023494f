/**
 * Engine selection: 'native' | 'ts' | 'auto' (default), overridable by SLUICE_ENGINE when the
 * code does not name one. 'auto' falls back to the TS engine with one warning per process that
 * names the platform and the reason; an explicit 'native' that cannot load is an error.
 */

import type { Engine, EngineName } from './engine.js';
import { loadNative } from './native/binding.js';
import { NativeEngine } from './native/engine.js';
import { TsEngine } from './ts/engine.js';

export type EngineChoice = EngineName | 'auto';

let warned = false;
let nativeEngine: NativeEngine | undefined;
let tsEngine: TsEngine | undefined;

function platform(): string {
  return `${process.platform}-${process.arch}`;
}

export function resolveEngineChoice(requested: EngineChoice | undefined): EngineChoice {
  if (requested !== undefined) return checkChoice(requested, 'StreamEnvironment.create({ engine })');
  const env = process.env.SLUICE_ENGINE;
  if (env !== undefined && env !== '') return checkChoice(env, 'SLUICE_ENGINE');
  return 'auto';
}

function checkChoice(v: string, where: string): EngineChoice {
  if (v === 'native' || v === 'ts' || v === 'auto') return v;
  throw new Error(`${where} is '${v}'; use 'native', 'ts' or 'auto'`);
}

export function selectEngine(requested?: EngineChoice): Engine {
  const choice = resolveEngineChoice(requested);
  if (choice === 'ts') return (tsEngine ??= new TsEngine());
  const native = loadNative();
  if (native.ok) return (nativeEngine ??= new NativeEngine(native.binding));
  if (choice === 'native') {
    throw new Error(`the native engine cannot load on ${platform()}: ${native.reason}. Use engine 'ts' or 'auto' to run on the pure-TypeScript engine.`);
  }
  if (!warned) {
    warned = true;
    process.emitWarning(`native engine unavailable on ${platform()} (${native.reason}); running on the pure-TypeScript engine`, {
      code: 'SLUICE_NO_NATIVE',
    });
  }
  return (tsEngine ??= new TsEngine());
}

/** Whether the native engine loads here (for tests and benchmarks that need both). */
export function nativeAvailable(): boolean {
  return loadNative().ok;
}
