/**
 * The calc operator (Table API / SQL): projection, filter and computed columns fused, run by
 * the engine over whole batches (native kernels, or generated code in the TS engine).
 */

import type { RecordBatch } from '../../batch/record-batch.js';
import type { Schema } from '../../batch/schema.js';
import type { CalcExpr, CalcSpec } from '../../engine/calc-spec.js';
import type { Calc, Engine } from '../../engine/engine.js';
import { exprFields, needsRecords } from '../../plan/record-functions.js';
import { Operator } from '../operator.js';

export class CalcOperator extends Operator {
  constructor(
    id: number,
    name: string,
    private readonly calc: Calc,
  ) {
    super(id, name);
  }

  processBatch(batch: RecordBatch): Promise<void> | void {
    const out = this.calc.process(batch);
    if (out.length === 0) return;
    return this.emit(out);
  }
}

/**
 * The spec with its field indices moved from the logical input (`logical`) to the input as
 * planned (`physical`, narrowed by projection pushdown).
 */
export function remapCalcSpec(spec: CalcSpec, logical: Schema, physical: Schema): CalcSpec {
  if (logical.equals(physical)) return spec;
  const map = (e: CalcExpr): CalcExpr => {
    if (e.k === 'field') return { ...e, i: physical.indexOf(logical.fields[e.i]!.name) };
    if (e.k === 'call') return { ...e, args: e.args.map(map) };
    return e;
  };
  return { ...spec, filter: spec.filter === null ? null : map(spec.filter), columns: spec.columns.map((c) => ({ name: c.name, expr: map(c.expr) })) };
}

/**
 * A map or filter function compiled into a calc (plan/record-functions.ts): the engine's calc
 * over the input as planned, and the fields it reads, checked per batch for the values that only
 * the function called per record reads as JavaScript does.
 */
export class CompiledCalc {
  private readonly fields: readonly number[];
  /** `passThrough`: the columns only carry the input's rows on (a filter): only its predicate's fields are checked. */
  constructor(
    readonly calc: Calc,
    spec: CalcSpec,
    passThrough: boolean,
  ) {
    const read = new Set<number>();
    if (spec.filter !== null) exprFields(spec.filter, read);
    if (!passThrough) for (const c of spec.columns) exprFields(c.expr, read);
    this.fields = [...read];
  }

  /** Whether `batch` must go through the function instead (a null, or an i64 beyond ±2^53, in a field read). */
  needsRecords(batch: RecordBatch): boolean {
    return needsRecords(
      this.fields.map((k) => batch.columns[k]!),
      batch.length,
    );
  }
}

/** `spec` (field indices of `logical`) compiled by `engine` over the input as planned. */
export function compiledCalc(engine: Engine, spec: CalcSpec, logical: Schema, physical: Schema, passThrough = false): CompiledCalc {
  const remapped = remapCalcSpec(spec, logical, physical);
  return new CompiledCalc(engine.createCalc(physical, remapped), remapped, passThrough);
}
