// The assignment of an application's tasks to its instances (ts/connectors/kafka/task-assignor.ts):
// balanced by count, sticky, and cooperative (a task that moves is given to nobody for one generation).
import { describe, expect, it } from 'vitest';
import { assignTasks } from '../../ts/connectors/kafka/task-assignor.js';

const sizes = (m: Map<string, number[]>): number[] => [...m.values()].map((t) => t.length).sort();

describe('application task assignment', () => {
  it('a first generation spreads every task, balanced by count', () => {
    const a = assignTasks([{ member: 'b', owned: [] }, { member: 'a', owned: [] }, { member: 'c', owned: [] }], 7);
    expect(sizes(a)).toEqual([2, 2, 3]);
    expect([...a.values()].flat().sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('a member joining: the others keep what they can, what moves is given to nobody this generation, and to the newcomer in the next', () => {
    const first = assignTasks([{ member: 'a', owned: [0, 1, 2] }, { member: 'b', owned: [3, 4, 5] }, { member: 'c', owned: [] }], 6);
    expect(first.get('a')).toEqual([0, 1]);
    expect(first.get('b')).toEqual([3, 4]);
    expect(first.get('c')).toEqual([]);
    const second = assignTasks([{ member: 'a', owned: [0, 1] }, { member: 'b', owned: [3, 4] }, { member: 'c', owned: [] }], 6);
    expect(second.get('a')).toEqual([0, 1]);
    expect(second.get('b')).toEqual([3, 4]);
    expect(second.get('c')).toEqual([2, 5]);
  });

  it("a member gone: its tasks go to the survivors at once (no one claims them), the survivors' own tasks stay", () => {
    const a = assignTasks([{ member: 'a', owned: [0, 1] }, { member: 'c', owned: [4, 5] }], 6);
    expect(a.get('a')!.filter((t) => t < 2)).toEqual([0, 1]);
    expect(a.get('c')!.filter((t) => t > 3)).toEqual([4, 5]);
    expect([...a.values()].flat().sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(sizes(a)).toEqual([3, 3]);
  });

  it('a task claimed by two members (one missed a generation) runs on one only', () => {
    const a = assignTasks([{ member: 'a', owned: [0, 1] }, { member: 'b', owned: [1, 2] }], 4);
    const all = [...a.values()].flat().sort();
    expect(all).toEqual([...new Set(all)]);
    expect(a.get('a')).toContain(1);
    expect(a.get('b')).not.toContain(1);
  });
});
