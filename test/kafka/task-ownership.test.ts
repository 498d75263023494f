// An application task's owners (ts/connectors/kafka/task-ownership.ts), against the real broker
// and real directories: a new claim takes a larger owner epoch from the broker before it
// chooses a checkpoint; from then on the former owner (a zombie) is refused restoring,
// checkpointing and committing, loudly; a checkpoint the zombie still writes is never chosen by
// a later claim; a claim that died before its first checkpoint is followed to the checkpoint it chose.
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { writeCheckpoint } from '../../ts/runtime/checkpoint-store.js';
import { lineage, TaskClaim, TaskClaimedError } from '../../ts/connectors/kafka/task-ownership.js';
import { uid } from './helpers.js';

const bootstrap = inject('kafkaBootstrap');

/** A complete checkpoint `id` in `dir` (an empty snapshot: ownership does not look inside). */
const checkpoint = (dir: string, id: number): Promise<string> => writeCheckpoint(dir, { id, job: 'ownership-test', parallelism: 1, maxParallelism: 128, savepoint: false, entries: [] });

describe('task ownership: a zombie owner cannot touch the task any more', () => {
  it('a new claim refuses the former owner, and a checkpoint the former owner writes later is never resumed from', async () => {
    const app = `own-${uid()}`;
    const taskDir = join(mkdtempSync(join(tmpdir(), 'sluice-own-')), app, 'task-3');
    const a = await TaskClaim.claim([bootstrap], app, 3, taskDir);
    expect(a.from).toBeNull();
    await checkpoint(a.dir, 1);
    await checkpoint(a.dir, 2);
    a.check('writing checkpoint 3'); // still the owner

    const b = await TaskClaim.claim([bootstrap], app, 3, taskDir);
    expect(b.owner).not.toBe(a.owner);
    // b resumes from a's newest checkpoint, as its own first one (in its own directory).
    expect(b.from).toBe(join(b.dir, 'chk-2'));
    expect(existsSync(a.dir)).toBe(false); // no longer in the lineage
    expect(b.predecessors).toEqual([a.owner]); // whose transactional ids b's run fences
    for (const doing of ['restoring the task', 'writing checkpoint 3', 'committing checkpoint 3']) {
      let refusal: unknown = null;
      try {
        a.check(doing);
      } catch (e) {
        refusal = e;
      }
      expect(refusal).toBeInstanceOf(TaskClaimedError);
      expect((refusal as Error).message).toContain(`task 3: ${doing} refused: the task was claimed by a newer owner (${b.owner}; this instance is ${a.owner})`);
    }
    b.check('writing checkpoint 3');

    // The zombie still writes a newer checkpoint (its write began before the check): never chosen.
    await checkpoint(a.dir, 3);
    const c = await TaskClaim.claim([bootstrap], app, 3, taskDir);
    expect(c.from).toBe(join(c.dir, 'chk-2'));
    expect([...c.predecessors].sort()).toEqual([a.owner, b.owner].sort());
    expect(() => b.check('committing checkpoint 3')).toThrow(TaskClaimedError);
    c.check('writing checkpoint 3');
  });

  it('the lineage: the newest owner with a checkpoint; an owner without one yet, through the checkpoint its claim chose; an owner that never wrote its claim is passed over', async () => {
    const taskDir = join(mkdtempSync(join(tmpdir(), 'sluice-own-')), 'task-0');
    expect(lineage(taskDir)).toBeNull();
    const first = join(taskDir, 'owner-7-1');
    mkdirSync(first, { recursive: true });
    const chosen = await checkpoint(first, 4);
    // The former owner's checkpoint 5, completed after the next owner's claim chose 4.
    await checkpoint(first, 5);
    const second = join(taskDir, 'owner-7-2');
    mkdirSync(second);
    writeFileSync(join(second, '_claim'), JSON.stringify({ from: chosen }));
    // A claim that died between taking its epoch and writing its choice.
    mkdirSync(join(taskDir, 'owner-7-3'));
    expect(lineage(taskDir)).toBe(chosen);
    expect(basename(dirname(lineage(taskDir)!))).toBe('owner-7-1');
    // Once the second owner completed a checkpoint, its own.
    const own = await checkpoint(second, 5);
    expect(lineage(taskDir)).toBe(own);
  });
});
