/**
 * How an application's tasks are shared among its instances (the group leader computes it):
 * balanced by task count, sticky (an instance keeps the tasks it runs while that stays
 * balanced), cooperative as Kafka's KIP-429: a task that must move from one instance to another
 * is given to nobody in this generation; its owner stops it and joins again, and the next
 * generation gives it to its new instance. So no task ever runs on two instances at once, and
 * tasks that do not move keep running through a rebalance.
 */

export interface MemberClaim {
  readonly member: string;
  /** The tasks this member runs now (its protocol metadata). */
  readonly owned: readonly number[];
}

/** Per member, the tasks it runs in the new generation. */
export function assignTasks(members: readonly MemberClaim[], taskCount: number): Map<string, number[]> {
  const sorted = [...members].sort((a, b) => (a.member < b.member ? -1 : a.member > b.member ? 1 : 0));
  const out = new Map<string, number[]>(sorted.map((m) => [m.member, []]));
  if (sorted.length === 0) return out;
  // A task claimed twice (a member that missed a generation) stays with the first claimant.
  const owner = new Map<number, string>();
  for (const m of sorted) for (const t of m.owned) if (Number.isInteger(t) && t >= 0 && t < taskCount && !owner.has(t)) owner.set(t, m.member);
  const base = Math.floor(taskCount / sorted.length);
  let extra = taskCount % sorted.length;
  // The members owning the most get the extra slots, so fewer tasks move.
  const byOwned = [...sorted].sort((a, b) => count(owner, b.member) - count(owner, a.member));
  const target = new Map<string, number>();
  for (const m of byOwned) target.set(m.member, base + (extra-- > 0 ? 1 : 0));
  for (const m of sorted) {
    const mine = [...owner].filter(([, o]) => o === m.member).map(([t]) => t).sort((a, b) => a - b);
    const keep = mine.slice(0, target.get(m.member)!);
    out.get(m.member)!.push(...keep);
  }
  // Unowned tasks fill the members below their target; tasks that move wait one generation.
  const free = Array.from({ length: taskCount }, (_, t) => t).filter((t) => !owner.has(t));
  for (const m of sorted) {
    const tasks = out.get(m.member)!;
    while (tasks.length < target.get(m.member)! && free.length > 0) tasks.push(free.shift()!);
    tasks.sort((a, b) => a - b);
  }
  return out;
}

function count(owner: ReadonlyMap<number, string>, member: string): number {
  let n = 0;
  for (const o of owner.values()) if (o === member) n++;
  return n;
}
