// Dead-letter files of parallel operators, on real files: each subtask its own file, cut back to
// the checkpoint on restore, and adopted by a remaining subtask when a restore lowers the
// parallelism (and handed back when it rises again), so that no line is lost or written twice.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DeadLetterFile, deadLetterPath } from '../../ts/runtime/dead-letters.js';

const lines = (path: string): string[] => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter((l) => l !== '') : []);
const entry = (who: string, n: number): Record<string, unknown> => ({ who, n });
const whoOf = (path: string): string[] => lines(path).map((l) => { const e = JSON.parse(l) as { who: string; n: number }; return `${e.who}${e.n}`; });

describe('dead-letter files of parallel subtasks', () => {
  it('subtask 0 writes the path given, subtask i `<name>-<i><ext>`', () => {
    expect(deadLetterPath('/x/dead.jsonl', 0)).toBe('/x/dead.jsonl');
    expect(deadLetterPath('/x/dead.jsonl', 2)).toBe('/x/dead-2.jsonl');
    expect(deadLetterPath('/x/dead', 1)).toBe('/x/dead-1');
  });

  it('restored at a lower and then a higher parallelism: every line of every checkpoint once, counts carried', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'sluice-dead-')), 'dead.jsonl');
    const one = deadLetterPath(path, 1);
    // Parallelism 2: checkpoint after a0 a1 / b0 b1 b2, then lines the checkpoint does not cover.
    const a = new DeadLetterFile(path, 0);
    const b = new DeadLetterFile(path, 1);
    a.writeEntry(entry('a', 0));
    a.writeEntry(entry('a', 1));
    for (let i = 0; i < 3; i++) b.writeEntry(entry('b', i));
    const atTwo = [a.position(), b.position()];
    a.writeEntry(entry('a', 2));
    b.writeEntry(entry('b', 3));
    a.close();
    b.close();
    expect(whoOf(path)).toEqual(['a0', 'a1', 'a2']);

    // Restored at parallelism 1: subtask 0 cuts both files back and answers for subtask 1's.
    const c = new DeadLetterFile(path, 0);
    c.restoreRescaled(atTwo, 1);
    expect(whoOf(path)).toEqual(['a0', 'a1']);
    expect(whoOf(one)).toEqual(['b0', 'b1', 'b2']);
    expect(c.count).toBe(5);
    c.writeEntry(entry('c', 0));
    const atOne = c.position();
    expect(atOne.adopted).toEqual([{ subtask: 1, bytes: atTwo[1]!.bytes, count: 3 }]);
    c.writeEntry(entry('c', 1));
    c.close();

    // Restored at parallelism 1 again from that checkpoint: the adopted file is cut back too.
    const again = new DeadLetterFile(path, 0);
    again.restore(atOne);
    expect(whoOf(path)).toEqual(['a0', 'a1', 'c0']);
    expect(again.count).toBe(6);
    again.close();

    // Restored at parallelism 2: subtask 1 takes its file back where the checkpoint had it.
    const d0 = new DeadLetterFile(path, 0);
    const d1 = new DeadLetterFile(path, 1);
    d0.restoreRescaled([atOne], 2);
    d1.restoreRescaled([atOne], 2);
    expect(d0.count + d1.count).toBe(6);
    d1.writeEntry(entry('d', 0));
    d0.writeEntry(entry('d', 1));
    d0.close();
    d1.close();
    expect(whoOf(path)).toEqual(['a0', 'a1', 'c0', 'd1']);
    expect(whoOf(one)).toEqual(['b0', 'b1', 'b2', 'd0']);
    expect(d0.position().adopted).toBeUndefined();
  });

  it('a subtask new to the job (parallelism raised) starts its file afresh', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'sluice-dead-')), 'dead.jsonl');
    const a = new DeadLetterFile(path, 0);
    a.writeEntry(entry('a', 0));
    const at = a.position();
    a.close();
    const stale = new DeadLetterFile(path, 2);
    stale.writeEntry(entry('stale', 0));
    stale.close();
    const fresh = new DeadLetterFile(path, 2);
    fresh.restoreRescaled([at], 3);
    fresh.writeEntry(entry('new', 0));
    fresh.close();
    expect(whoOf(deadLetterPath(path, 2))).toEqual(['new0']);
    expect(fresh.count).toBe(1);
  });
});
