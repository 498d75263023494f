/**
 * Engine selection: 'native' | 'ts' | 'auto' (default), overridable by SLUICE_ENGINE when the
 * code does not name one. 'auto' falls back to the TS engine with one warning per process that
 * names the platform and the reason; an explicit 'native' that cannot load is an error.
 */

import { isMainThread, workerData } from 'node:worker_threads';
import type { Engine, EngineName } from './engine.js';
import { loadNative } from './native/binding.js';
import { NativeEngine } from './native/engine.js';
import type { TsEngine } from './ts/engine.js';

export type EngineChoice = EngineName | 'auto';

/** The workerData key that names a task thread's one engine (`taskThreadData`). */
const ENGINE_ONLY = 'sluiceEngineOnly';

/**
 * A task thread's workerData: `data` and the one engine its tasks run on. Such a thread loads
 * only that engine's modules: the TS engine's (about 20 modules and 3 packages) took 60-100 ms
 * of each native worker's start, which every parallel run waits for.
 */
export function taskThreadData<T extends object>(data: T, engine: EngineName): T & { readonly [ENGINE_ONLY]: EngineName } {
  return { ...data, [ENGINE_ONLY]: engine };
}

/** The engine this thread was started for (`taskThreadData`), or null: any engine may be asked for. */
function onlyEngine(): EngineName | null {
  if (isMainThread || typeof workerData !== 'object' || workerData === null) return null;
  const e = (workerData as Record<string, unknown>)[ENGINE_ONLY];
  return e === 'native' || e === 'ts' ? e : null;
}

const only = onlyEngine();
// Loaded here, before any engine is asked for, because selectEngine answers synchronously.
const tsModule = only === 'native' ? null : await import('./ts/engine.js');

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
  if (choice === 'ts') return tsEngineHere();
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
  return tsEngineHere();
}

function tsEngineHere(): TsEngine {
  if (tsModule === null) throw new Error(`internal error: this task thread was started for the ${only} engine and did not load the TS engine; start it with taskThreadData(setup, 'ts') to run TS-engine tasks`);
  return (tsEngine ??= new tsModule.TsEngine());
}

/** Whether the native engine loads here (for tests and benchmarks that need both). */
export function nativeAvailable(): boolean {
  return loadNative().ok;
}
