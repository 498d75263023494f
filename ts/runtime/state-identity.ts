/**
 * What an operator's state is known by in checkpoints (Flink's operator uid): the node's
 * `uid()` when the job sets one, else an identity generated from the node's position in the
 * job and its kind, which changes when operators are added or removed before it. A restore
 * gives every operator the entries of its identity; an operator without entries starts empty,
 * and entries no operator claims fail the restore unless the job allows non-restored state.
 */

import { deserialize } from 'node:v8';
import type { GraphNode } from '../plan/graph.js';
import type { PhysicalPlan } from '../plan/physical.js';
import type { CheckpointData, StateEntry } from './checkpoint-store.js';

/** The suffix of a commit entry's uid: a sink's pre-commit, stored beside its state. */
const COMMIT = '#commit';

/** The state identities of a node's operators: the one fed by its input, and a source's watermark generator chained behind it. */
export function stateUids(node: GraphNode): { readonly head: string; readonly tail: string | null } {
  const head = node.uid ?? `#${node.id}:${node.op.kind}`;
  const tail = node.op.kind === 'source' && node.op.watermarks !== null ? `${head}#watermarks` : null;
  return { head, tail };
}

/** The uid of the commit entries of an operator with state identity `uid`. */
export function commitUid(uid: string): string {
  return `${uid}${COMMIT}`;
}

/** The name under which a sink's pre-commit state is stored. */
export function commitEntryName(operator: string): string {
  return `${operator} (commit)`;
}

/**
 * Whether entry `e` belongs to the operator with state identity `uid` (its state, or with
 * `commit` its pre-commit). Entries written before uids match by node id and operator name.
 */
export function ownedBy(e: StateEntry, uid: string, legacy: { readonly nodeId: number; readonly name: string }, commit: boolean): boolean {
  if (e.uid !== undefined) return e.uid === (commit ? commitUid(uid) : uid);
  return e.nodeId === legacy.nodeId && e.name === (commit ? commitEntryName(legacy.name) : legacy.name);
}

/**
 * The operators of a checkpoint whose state no operator of `plan` claims, one line each. An
 * unclaimed entry without state (a stateless operator's watermark) is not state that would be
 * lost. Entries written before uids are claimed by a node with their node id.
 */
export function unclaimedState(c: CheckpointData, plan: PhysicalPlan): string[] {
  const uids = new Set<string>();
  const ids = new Set<number>();
  for (const p of plan.all) {
    const { head, tail } = stateUids(p.node);
    for (const u of tail === null ? [head] : [head, tail]) uids.add(u).add(commitUid(u));
    ids.add(p.node.id);
  }
  const lost = new Map<string, string>();
  // In job order (threads acknowledge in any order).
  const entries = [...c.entries].sort((a, b) => a.nodeId - b.nodeId || a.subtask - b.subtask);
  for (const e of entries) {
    const claimed = e.uid === undefined ? ids.has(e.nodeId) : uids.has(e.uid);
    if (claimed || !holdsState(e)) continue;
    const owner = e.uid?.endsWith(COMMIT) ? e.uid.slice(0, -COMMIT.length) : e.uid;
    const name = e.name.endsWith(commitEntryName('')) ? e.name.slice(0, -commitEntryName('').length) : e.name;
    const key = owner ?? `#${e.nodeId}`;
    if (!lost.has(key)) lost.set(key, owner === undefined || owner.startsWith('#') ? `'${name}' (operator #${e.nodeId}, no uid)` : `'${name}' (uid '${owner}')`);
  }
  return [...lost.values()];
}

/** Whether an entry holds anything a restore would lose: a commit, or an operator's non-null state. */
function holdsState(e: StateEntry): boolean {
  if (e.uid?.endsWith(COMMIT) === true || (e.uid === undefined && e.name.endsWith(commitEntryName('')))) return true;
  return (deserialize(e.data) as { state: unknown }).state !== null;
}
