/**
 * Who owns an application task's state, so that a former owner still running (a zombie: its
 * process stalled past its session, the group gave the task to another instance) can never
 * corrupt it. Each start of a task is a claim with an owner epoch that the broker hands out:
 * InitProducerId on the task's owner id `sluice-<app>-task<n>-owner` raises the (producer id,
 * epoch) pair on every call, so a later claim always has a larger one. Each owner checkpoints
 * into its own directory `task-<n>/owner-<producer id>-<epoch>/`, never into another's.
 *
 * A claim, in this order:
 *  1. takes the epoch (the broker) and creates its owner directory: from now on every former
 *     owner's check (below) fails;
 *  2. only then looks for the checkpoint to resume from: the lineage (`lineage`), and writes it
 *     into `_claim` (durable) before anything is fenced, so that the next claim follows the
 *     same choice even if this owner dies before its first checkpoint;
 *  3. hard-links that checkpoint into its directory (its first checkpoint: a restart of this
 *     owner resumes from its own directory), then deletes the older owners' directories.
 * The task's run then writes under transactional ids of its own owner (KafkaSink.forTask) and
 * fences the former owners' ids (the restored checkpoint's owner's from the checkpoint on, the
 * other predecessors' from their first), so whatever a former owner prepared later is aborted,
 * and a former owner never takes an id the new one uses.
 *
 * A former owner checks (`check`) that no later owner directory exists before it restores,
 * before it writes a checkpoint, and after writing it before its sinks commit: a checkpoint it
 * completed before a new owner's claim is seen by that claim (step 2 comes after step 1), so
 * committing it is what the new owner does too; one completed after is never in the lineage,
 * and its transactions are never committed (refused here, aborted by the new owner's fencing).
 */

import { existsSync, fsyncSync, linkSync, mkdirSync, openSync, closeSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkpointDirName, findLatest, readCheckpoint } from '../../runtime/checkpoint-store.js';
import { TransactionCoordinatorClient } from './transactions.js';

/** The phrase every refusal carries (the application recognizes a refused task by it, through any wrapping). */
export const CLAIMED_ELSEWHERE = 'claimed by a newer owner';

export class TaskClaimedError extends Error {}

interface Owner {
  readonly name: string;
  readonly producerId: bigint;
  readonly epoch: number;
}

const OWNER = /^owner-(\d+)-(\d+)$/;
const CLAIM = '_claim';

function owners(taskDir: string): Owner[] {
  if (!existsSync(taskDir)) return [];
  return readdirSync(taskDir)
    .map((name) => ({ name, m: OWNER.exec(name) }))
    .filter((o): o is { name: string; m: RegExpExecArray } => o.m !== null)
    .map(({ name, m }) => ({ name, producerId: BigInt(m[1]!), epoch: Number(m[2]!) }));
}

function newer(a: Owner, b: Owner): boolean {
  return a.producerId > b.producerId || (a.producerId === b.producerId && a.epoch > b.epoch);
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * The checkpoint a new owner of the task resumes from (null: none, a fresh start): the newest
 * complete checkpoint of the newest owner that has one, unless a newer owner made a claim
 * without completing a checkpoint of its own, whose claim then names it.
 */
export function lineage(taskDir: string): string | null {
  const all = owners(taskDir).sort((a, b) => (newer(a, b) ? -1 : newer(b, a) ? 1 : 0));
  for (const o of all) {
    const dir = join(taskDir, o.name);
    const latest = findLatest(dir).checkpoint;
    if (latest !== null) return latest.path;
    const claimFile = join(dir, CLAIM);
    // No claim written: that owner died before it chose anything (and fenced nothing); the one before decides.
    if (!existsSync(claimFile)) continue;
    const claim = JSON.parse(readFileSync(claimFile, 'utf8')) as { from: string | null };
    if (claim.from !== null) readCheckpoint(claim.from); // still there and intact, or a loud CorruptCheckpointError
    return claim.from;
  }
  return null;
}

/** One claim of a task by this instance: its directory and the check its run makes. */
export class TaskClaim {
  private constructor(
    readonly task: number,
    readonly taskDir: string,
    private readonly me: Owner,
    /** The checkpoint resumed from (in the claim's own directory), or null. */
    readonly from: string | null,
    /** The former owners whose directories were there at the claim (their transactional ids are fenced by the task's run). */
    readonly predecessors: readonly string[],
  ) {}

  get dir(): string {
    return join(this.taskDir, this.me.name);
  }

  get owner(): string {
    return this.me.name;
  }

  /** Claims task `task` (see the module's comment for the order of the steps). */
  static async claim(bootstrap: readonly string[], application: string, task: number, taskDir: string): Promise<TaskClaim> {
    const coordinator = new TransactionCoordinatorClient(bootstrap, `sluice-${application}-claim`);
    let id;
    try {
      id = await coordinator.initProducer(`sluice-${application}-task${task}-owner`, 60_000);
    } finally {
      await coordinator.closeAll();
    }
    const me: Owner = { name: `owner-${id.producerId}-${id.epoch}`, producerId: id.producerId, epoch: id.epoch };
    mkdirSync(taskDir, { recursive: true });
    const dir = join(taskDir, me.name);
    mkdirSync(dir); // exclusive: the broker never hands out the same pair twice
    fsyncPath(taskDir);
    // Step 2: the choice, after the directory that makes every former owner stop.
    const source = lineage(taskDir);
    const tmp = join(dir, `${CLAIM}.tmp`);
    writeFileSync(tmp, JSON.stringify({ from: source, owner: me.name, at: Date.now() }));
    fsyncPath(tmp);
    renameSync(tmp, join(dir, CLAIM));
    fsyncPath(dir);
    let from: string | null = null;
    if (source !== null) {
      // Step 3: the checkpoint as this owner's first (hard links: no copy of the state), manifest last.
      const c = readCheckpoint(source);
      const own = join(dir, checkpointDirName(c.id));
      mkdirSync(own);
      for (const f of readdirSync(source).filter((n) => n !== '_manifest')) linkSync(join(source, f), join(own, f));
      linkSync(join(source, '_manifest'), join(own, '_manifest'));
      fsyncPath(own);
      fsyncPath(dir);
      from = own;
    }
    // Older owners' directories are no longer in the lineage: this one has its first checkpoint (or chose none).
    const predecessors = owners(taskDir).filter((o) => newer(me, o));
    for (const o of predecessors) rmSync(join(taskDir, o.name), { recursive: true, force: true });
    return new TaskClaim(task, taskDir, me, from, predecessors.map((o) => o.name));
  }

  /** Throws TaskClaimedError when a newer owner has claimed the task. */
  check(doing: string): void {
    const later = owners(this.taskDir).filter((o) => newer(o, this.me));
    if (later.length === 0) return;
    throw new TaskClaimedError(
      `task ${this.task}: ${doing} refused: the task was ${CLAIMED_ELSEWHERE} (${later.map((o) => o.name).join(', ')}; this instance is ${this.me.name}). This instance lost its place in the group (a stalled or paused process) and another instance runs the task now; nothing of this owner is committed from here on`,
    );
  }
}
