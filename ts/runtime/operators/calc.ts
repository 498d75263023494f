/**
 * The calc operator (Table API / SQL): projection, filter and computed columns fused, run by
 * the engine over whole batches (native kernels, or generated code in the TS engine).
 */

import { BufferPool } from '../../batch/lease.js';
import type { RecordBatch } from '../../batch/record-batch.js';
import type { Schema } from '../../batch/schema.js';
import { exprFields, mapCalcFields, type CalcExpr, type CalcSpec } from '../../engine/calc-spec.js';
import type { Calc, Engine } from '../../engine/engine.js';
import { needsRecords } from '../../plan/record-functions.js';
import { Operator } from '../operator.js';

export class CalcOperator extends Operator {
  constructor(
    id: number,
    name: string,
    private readonly calc: Calc,
  ) {
    super(id, name);
  }

  /** Output buffers lent downstream and reused batch after batch. */
  private readonly pool = new BufferPool();

  processBatch(batch: RecordBatch): Promise<void> | void {
    const lease = this.pool.lease();
    const out = this.calc.process(batch, lease);
    if (out.length === 0) return lease.release();
    return this.emitLent(out, lease);
  }
}

/**
 * The spec with its field indices moved from the logical input (`logical`) to the input as
 * planned (`physical`, narrowed by projection pushdown).
 */
export function remapCalcSpec(spec: CalcSpec, logical: Schema, physical: Schema): CalcSpec {
  if (logical.equals(physical)) return spec;
  return mapCalcFields(spec, (i) => physical.indexOf(logical.fields[i]!.name));
}

/**
 * A map or filter function compiled into a calc (plan/record-functions.ts): the engine's calc
 * over the input as planned, and the fields whose values it checks per batch for what only the
 * function called per record reads as JavaScript does.
 */
export class CompiledCalc {
  /** Output buffers lent downstream and reused batch after batch. */
  readonly pool = new BufferPool();

  constructor(
    readonly calc: Calc,
    private readonly checked: readonly number[],
  ) {}

  /** Whether `batch` must go through the function instead (a null, or an i64 beyond ±2^53, in a field checked). */
  needsRecords(batch: RecordBatch): boolean {
    return needsRecords(
      this.checked.map((k) => batch.columns[k]!),
      batch.length,
    );
  }
}

/** A compiled map's `spec` (field indices of `logical`) over the input as planned: every field it reads is checked. */
export function compiledMap(engine: Engine, spec: CalcSpec, logical: Schema, physical: Schema): CompiledCalc {
  const remapped = remapCalcSpec(spec, logical, physical);
  const read = new Set<number>();
  for (const c of remapped.columns) exprFields(c.expr, read);
  return new CompiledCalc(engine.createCalc(physical, remapped), [...read]);
}

/**
 * A compiled filter's `predicate` (field indices of `logical`) over the input as planned: it
 * keeps every field it is given, which pass through as they are; only the predicate's are checked.
 */
export function compiledFilter(engine: Engine, name: string, predicate: CalcExpr, logical: Schema, physical: Schema): CompiledCalc {
  const filter = remapCalcSpec({ name, filter: predicate, columns: [] }, logical, physical).filter!;
  const columns = physical.fields.map((f, i) => ({ name: f.name, expr: { k: 'field' as const, i, t: f.type, n: f.nullable } }));
  return new CompiledCalc(engine.createCalc(physical, { name, filter, columns }), [...exprFields(filter)]);
}
