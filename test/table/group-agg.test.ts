/**
 * The updating aggregation kernel on both engines (Engine.createGroupAggregator): changes of
 * random inserts and retractions against a plain per-group recomputation (FIRST/LAST_VALUE
 * included: the earliest / latest live value in arrival order), identical output and
 * state rows on both engines, a snapshot restored into either engine continuing identically.
 */

import { describe, expect, it } from 'vitest';
import { RecordBatch } from '../../ts/batch/record-batch.js';
import { Schema } from '../../ts/batch/schema.js';
import { columnBuilder } from '../../ts/batch/column-builder.js';
import { selectEngine } from '../../ts/engine/select.js';
import type { AggregateSpec, EngineName } from '../../ts/engine/engine.js';
import { ENGINES, requireNative, rng } from '../engines.js';

const input = Schema.from({ k: 'utf8', x: 'i64?', y: 'f64', z: 'i32', $rowkind: 'i32' });
const aggs: AggregateSpec[] = [
  { name: 'cnt', kind: 'count', field: null },
  { name: 'cx', kind: 'count', field: 1 },
  { name: 'sx', kind: 'sum', field: 1 },
  { name: 'mn', kind: 'min', field: 1 },
  { name: 'mx', kind: 'max', field: 3 },
  { name: 'av', kind: 'avg', field: 2 },
  { name: 'sy', kind: 'sum', field: 2 },
  { name: 'dz', kind: 'countDistinct', field: 3 },
  { name: 'fmax', kind: 'max', field: 2 },
  // Flink's retracting FIRST/LAST_VALUE: the earliest / latest live non-null value.
  { name: 'fy', kind: 'first', field: 2 },
  { name: 'lx', kind: 'last', field: 1 },
  { name: 'fz', kind: 'first', field: 3 },
];

type R = { k: string; x: bigint | null; y: number; z: number };

function batchOf(rows: readonly (R & { kind: number })[]): RecordBatch {
  const b = input.fields.map((f) => columnBuilder(f, rows.length));
  rows.forEach((r, i) => {
    b[0]!.append(r.k, 'k', i);
    b[1]!.append(r.x, 'x', i);
    b[2]!.append(r.y, 'y', i);
    b[3]!.append(r.z, 'z', i);
    b[4]!.append(r.kind, 'kind', i);
  });
  return new RecordBatch(input, b.map((x) => x.finish()), rows.length);
}

/** Random batches: inserts, and retractions of rows inserted earlier (as -U/+U pairs or -D). */
function workload(seed: number): RecordBatch[] {
  const r = rng(seed);
  const live: R[] = [];
  const batches: RecordBatch[] = [];
  for (let b = 0; b < 40; b++) {
    const rows: (R & { kind: number })[] = [];
    for (let i = 0; i < 50; i++) {
      if (live.length > 0 && r() < 0.45) {
        const j = Math.floor(r() * live.length);
        const old = live.splice(j, 1)[0]!;
        if (r() < 0.5) rows.push({ ...old, kind: 3 });
        else {
          const nu: R = { ...old, x: r() < 0.1 ? null : BigInt(Math.floor(r() * 100) - 50), y: Math.floor(r() * 40) / 4 };
          rows.push({ ...old, kind: 1 }, { ...nu, kind: 2 });
          live.push(nu);
        }
      } else {
        const row: R = { k: `k${Math.floor(r() * 80)}`, x: r() < 0.1 ? null : BigInt(Math.floor(r() * 100) - 50), y: Math.floor(r() * 40) / 4, z: Math.floor(r() * 6) };
        rows.push({ ...row, kind: 0 });
        live.push(row);
      }
    }
    batches.push(batchOf(rows));
  }
  return batches;
}

function run(engine: EngineName, batches: readonly RecordBatch[]): { out: unknown[]; state: unknown[] } {
  const agg = selectEngine(engine).createGroupAggregator({ input, keyFields: [0], aggregates: aggs });
  const out: unknown[] = [];
  for (const b of batches) {
    const o = agg.push(b);
    if (o !== null) out.push(...o.toRecords());
  }
  return { out, state: stateRows(agg.snapshot()) };
}

/** State rows with multisets as sorted entries (their order is each engine's own). */
function stateRows(b: RecordBatch): unknown[] {
  return b
    .toRecords()
    .map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'string' && k.startsWith('$acc') ? v.split(',').sort().join(',') : v])))
    .sort((a, b) => String(a['k']).localeCompare(String(b['k'])));
}

/** Applies changes as upserts: the final table by key. */
function applyChanges(rows: readonly unknown[]): Map<string, Record<string, unknown>> {
  const t = new Map<string, Record<string, unknown>>();
  for (const row of rows as Record<string, unknown>[]) {
    const { $rowkind: kind, ...rest } = row;
    if (kind === 0 || kind === 2) t.set(String(rest['k']), rest);
    else {
      expect(t.get(String(rest['k']))).toEqual(rest); // a retraction retracts what was emitted
      t.delete(String(rest['k']));
    }
  }
  return t;
}

/** The expected final table, recomputed from the live rows. */
function expected(batches: readonly RecordBatch[]): Map<string, Record<string, unknown>> {
  const live = new Map<string, R[]>();
  const key = (r: R) => `${r.x}|${r.y}|${r.z}`;
  // FIRST/LAST_VALUE per value (Flink's): each column's non-null values in arrival order; a
  // retraction removes the value's earliest occurrence (not necessarily the retracted row's).
  const ordered = new Map<string, { y: number[]; x: number[]; z: number[] }>();
  const retract = (l: number[], v: number): void => void l.splice(l.indexOf(v), 1);
  for (const b of batches) {
    for (const row of b.toRecords() as unknown as (R & { $rowkind: number })[]) {
      const rows = live.get(row.k) ?? [];
      const o = ordered.get(row.k) ?? { y: [], x: [], z: [] };
      const add = row.$rowkind === 0 || row.$rowkind === 2;
      if (add) rows.push(row);
      else rows.splice(rows.findIndex((x) => key(x) === key(row)), 1);
      if (add) {
        o.y.push(row.y);
        if (row.x !== null) o.x.push(Number(row.x));
        o.z.push(row.z);
      } else {
        retract(o.y, row.y);
        if (row.x !== null) retract(o.x, Number(row.x));
        retract(o.z, row.z);
      }
      live.set(row.k, rows);
      ordered.set(row.k, o);
    }
  }
  const out = new Map<string, Record<string, unknown>>();
  for (const [k, rows] of live) {
    if (rows.length === 0) continue;
    const xs = rows.map((r) => r.x).filter((x): x is number => x !== null).map(Number);
    const ys = rows.map((r) => r.y);
    const sum = (a: number[]) => a.reduce((p, c) => p + c, 0);
    out.set(k, {
      k,
      cnt: rows.length,
      cx: xs.length,
      sx: xs.length === 0 ? null : sum(xs),
      mn: xs.length === 0 ? null : Math.min(...xs),
      mx: Math.max(...rows.map((r) => r.z)),
      av: sum(ys) / ys.length,
      sy: sum(ys),
      dz: new Set(rows.map((r) => r.z)).size,
      fmax: Math.max(...ys),
      fy: ordered.get(k)!.y[0],
      lx: ordered.get(k)!.x.length === 0 ? null : ordered.get(k)!.x[ordered.get(k)!.x.length - 1],
      fz: ordered.get(k)!.z[0],
    });
  }
  return out;
}

describe('updating aggregation kernel (both engines)', () => {
  it('emits +I/-U/+U/-D whose final state is the per-group recomputation; identical on both engines', () => {
    requireNative();
    for (const seed of [1, 2, 3]) {
      const batches = workload(seed);
      const native = run('native', batches);
      const ts = run('ts', batches);
      expect(ts).toEqual(native);
      const kinds = new Set(native.out.map((r) => (r as { $rowkind: number }).$rowkind));
      expect([...kinds].sort()).toEqual([0, 1, 2, 3]);
      const final = applyChanges(native.out);
      // ys are quarters: their sums are exact in any order.
      expect(new Map([...final].map(([k, v]) => [k, { ...v }]))).toEqual(expected(batches));
    }
  });

  it('a snapshot of either engine restores into either engine and continues identically', () => {
    requireNative();
    const batches = workload(7);
    const whole = run('native', batches).out;
    for (const from of ENGINES) {
      for (const to of ENGINES) {
        const a = selectEngine(from).createGroupAggregator({ input, keyFields: [0], aggregates: aggs });
        const out: unknown[] = [];
        for (const b of batches.slice(0, 20)) out.push(...(a.push(b)?.toRecords() ?? []));
        const snap = selectEngine(from).decodeBatch(selectEngine(from).encodeBatch(a.snapshot()));
        const b2 = selectEngine(to).createGroupAggregator({ input, keyFields: [0], aggregates: aggs });
        b2.restore(snap);
        expect(b2.groups).toBe(a.groups);
        for (const b of batches.slice(20)) out.push(...(b2.push(b)?.toRecords() ?? []));
        expect(out, `${from} -> ${to}`).toEqual(whole);
      }
    }
  });

  it('grouped by a nullable i64 key and by an i32 key: identical changes and state on both engines, restorable across them', () => {
    requireNative();
    const batches = workload(11);
    for (const keyFields of [[1], [3]]) {
      const aggregates = aggs.filter((a) => a.field === null || !keyFields.includes(a.field));
      const runOn = (engine: EngineName, restoreFrom: EngineName | null) => {
        let a = selectEngine(restoreFrom ?? engine).createGroupAggregator({ input, keyFields, aggregates });
        const out: unknown[] = [];
        batches.forEach((b, j) => {
          if (j === 20 && restoreFrom !== null) {
            const snap = a.snapshot();
            a = selectEngine(engine).createGroupAggregator({ input, keyFields, aggregates });
            a.restore(snap);
          }
          out.push(...(a.push(b)?.toRecords() ?? []));
        });
        return { out, state: a.snapshot().toRecords().length, groups: a.groups };
      };
      const native = runOn('native', null);
      expect(runOn('ts', null), `keys ${keyFields}`).toEqual(native);
      expect(runOn('ts', 'native')).toEqual(native);
      expect(runOn('native', 'ts')).toEqual(native);
      expect(native.out.length).toBeGreaterThan(100);
    }
  });

  it('refuses a retraction of a row it never had, an i64 sum overflow and a FIRST_VALUE retraction of a value it never had, alike on both engines', () => {
    requireNative();
    const msgs = ENGINES.map((e) => {
      const errs: string[] = [];
      const agg = selectEngine(e).createGroupAggregator({ input, keyFields: [0], aggregates: aggs });
      try {
        agg.push(batchOf([{ k: 'a', x: 1n, y: 1, z: 1, kind: 3 }]));
      } catch (err) {
        errs.push((err as Error).message);
      }
      const s = selectEngine(e).createGroupAggregator({ input, keyFields: [0], aggregates: [{ name: 's', kind: 'sum', field: 1 }] });
      try {
        s.push(batchOf([{ k: 'a', x: 2n ** 62n, y: 1, z: 1, kind: 0 }, { k: 'a', x: 2n ** 62n, y: 1, z: 1, kind: 0 }]));
      } catch (err) {
        errs.push((err as Error).message);
      }
      const f = selectEngine(e).createGroupAggregator({ input, keyFields: [0], aggregates: [{ name: 'f', kind: 'first', field: 1 }] });
      try {
        f.push(batchOf([{ k: 'a', x: 1n, y: 1, z: 1, kind: 0 }, { k: 'a', x: 2n, y: 1, z: 1, kind: 3 }]));
      } catch (err) {
        errs.push((err as Error).message);
      }
      return errs;
    });
    expect(msgs[0]).toHaveLength(3);
    expect(msgs[1]).toEqual(msgs[0]);
    expect(msgs[0]![0]).toMatch(/retraction .* of a group it has no row of/);
    expect(msgs[0]![1]).toMatch(/aggregate 's': the i64 sum overflows/);
    expect(msgs[0]![2]).toBe("aggregate 'f': FIRST_VALUE received a retraction (-U/-D) of a value its group does not have; its input retracts rows it never inserted");
  });
});

describe('updating aggregation kernel with a state TTL (both engines)', () => {
  const small: AggregateSpec[] = [
    { name: 'cnt', kind: 'count', field: null },
    { name: 'sx', kind: 'sum', field: 1 },
    { name: 'mx', kind: 'max', field: 3 },
  ];
  const row = (k: string, x: number, kind = 0) => ({ k, x: BigInt(x), y: 0, z: x, kind });
  const changes = (b: RecordBatch | null): string[] => (b === null ? [] : b.toRecords().map((r) => `${['+I', '-U', '+U', '-D'][r.$rowkind as number]} ${r.k} ${r.cnt} ${r.sx} ${r.mx}`));

  it("a group not written for the TTL (by the pushes' now) is gone silently: its key starts again with +I, a retraction for it is dropped; the boundary is last write + TTL <= now", () => {
    requireNative();
    const results = ENGINES.map((e) => {
      const agg = selectEngine(e).createGroupAggregator({ input, keyFields: [0], aggregates: small, stateTtlMs: 100 });
      const log: string[][] = [];
      log.push(changes(agg.push(batchOf([row('a', 1), row('a', 2), row('b', 5)]), 1000)));
      // 50 ms later: a is alive (1000 + 100 > 1050).
      log.push(changes(agg.push(batchOf([row('a', 3)]), 1050)));
      // b was last written at 1000: at 1100 it expired; its retraction is dropped, no change.
      log.push(changes(agg.push(batchOf([row('b', 5, 3)]), 1100)));
      // a was last written at 1050: alive at 1149, expired at 1150 (a new group: +I, not -U/+U).
      log.push(changes(agg.push(batchOf([row('a', 4)]), 1149)));
      log.push(changes(agg.push(batchOf([row('a', 6)]), 1249)));
      return { log, groups: agg.groups, state: agg.snapshot().toRecords() };
    });
    expect(results[1]).toEqual(results[0]);
    expect(results[0]!.log).toEqual([['+I a 2 3 2', '+I b 1 5 5'], ['-U a 2 3 2', '+U a 3 6 3'], [], ['-U a 3 6 3', '+U a 4 10 4'], ['+I a 1 6 6']]);
    // The state rows end with each group's last write time.
    expect(results[0]!.state).toEqual([{ k: 'a', $rows: 1, $acc0: 1, $acc1: 6, $cnt1: 1, $acc2: '6*1', $access: 1249 }]);
  });

  it('a retraction of a row from before its group expired (the value is not in the re-created group) is dropped, alike on both engines', () => {
    requireNative();
    const all: AggregateSpec[] = [...small, { name: 'dz', kind: 'countDistinct', field: 3 }, { name: 'fz', kind: 'first', field: 3 }];
    const results = ENGINES.map((e) => {
      const agg = selectEngine(e).createGroupAggregator({ input, keyFields: [0], aggregates: all, stateTtlMs: 100 });
      const show = (b: RecordBatch | null): string[] => (b === null ? [] : b.toRecords().map((r) => `${['+I', '-U', '+U', '-D'][r.$rowkind as number]} ${r.k} ${r.cnt} ${r.sx} ${r.mx} ${r.dz} ${r.fz}`));
      return [
        show(agg.push(batchOf([row('a', 1)]), 1000)),
        // Expired at 1100: a new group of the row x = 2.
        show(agg.push(batchOf([row('a', 2)]), 1100)),
        // The old row's update arrives: its -U (x = 1) finds nothing to retract and is dropped; its +U applies.
        show(agg.push(batchOf([row('a', 1, 1), row('a', 3, 2)]), 1150)),
      ];
    });
    expect(results[1]).toEqual(results[0]);
    expect(results[0]).toEqual([['+I a 1 1 1 1 1'], ['+I a 1 2 2 1 2'], ['-U a 1 2 2 1 2', '+U a 2 5 3 2 2']]);
  });

  it('a snapshot keeps the last write times: restored into either engine, a group expires TTL after its last write, not after the restore; expired groups leave memory', () => {
    requireNative();
    for (const from of ENGINES) {
      for (const to of ENGINES) {
        const a = selectEngine(from).createGroupAggregator({ input, keyFields: [0], aggregates: small, stateTtlMs: 100 });
        a.push(batchOf([row('a', 1), row('b', 2)]), 1000);
        a.push(batchOf([row('b', 3)]), 1060);
        const snap = selectEngine(from).decodeBatch(selectEngine(from).encodeBatch(a.snapshot()));
        const r = selectEngine(to).createGroupAggregator({ input, keyFields: [0], aggregates: small, stateTtlMs: 100 });
        r.restore(snap);
        // At 1100 (restored "later"): a (written at 1000) is gone, b (1060) is not.
        expect(changes(r.push(batchOf([row('a', 7), row('b', 4)]), 1100)), `${from} -> ${to}`).toEqual(['+I a 1 7 7', '-U b 2 5 3', '+U b 3 9 4']);
        expect(r.groups).toBe(2);
        // Much later, a push of another key frees the expired groups.
        r.push(batchOf([row('c', 1)]), 5000);
        expect(r.groups).toBe(1);
      }
    }
  });
});

describe('updating aggregation state written with another TTL setting', () => {
  it('is refused with the same message on both engines', () => {
    requireNative();
    const small: AggregateSpec[] = [{ name: 'cnt', kind: 'count', field: null }];
    const msgs = ENGINES.flatMap((from) =>
      ENGINES.flatMap((to) =>
        [
          [0, 100],
          [100, 0],
        ].map(([written, now]) => {
          const a = selectEngine(from).createGroupAggregator({ input, keyFields: [0], aggregates: small, stateTtlMs: written });
          a.push(batchOf([{ k: 'a', x: 1n, y: 1, z: 1, kind: 0 }]), 1000);
          const b = selectEngine(to).createGroupAggregator({ input, keyFields: [0], aggregates: small, stateTtlMs: now });
          try {
            b.restore(a.snapshot());
            return 'restored';
          } catch (e) {
            return (e as Error).message;
          }
        }),
      ),
    );
    expect(new Set(msgs)).toEqual(
      new Set([
        "the aggregation's checkpointed state was written without a state TTL (table.exec.state.ttl) and this job runs with one; restore with the setting the checkpoint was written with",
        "the aggregation's checkpointed state was written with a state TTL (table.exec.state.ttl) and this job runs without one; restore with the setting the checkpoint was written with",
      ]),
    );
  });
});
