/**
 * Where an application's job is cut into sub-topologies (docs/application-mode.md, "Tasks and
 * sub-topologies"), as Kafka Streams cuts a topology at each repartition. A task runs one input
 * partition's share of its sub-topology at parallelism 1, so every exchange that gathers records
 * by something else than the input's partitioning must go through a repartition topic:
 *
 * - a hash exchange (keyBy) whose keys are not known to be co-located: unless every source
 *   feeding it declares (KafkaSource.setPartitionedBy) fields that are all among the exchange's
 *   key fields (then equal keys are in one input partition, and the whole job runs per partition
 *   as before);
 * - exchanges that gather by other rules (windowAll's global, broadcast, keyBy(function),
 *   partitionCustom, range) cannot run per partition at all and are refused.
 *
 * Cuts split the job into sub-topologies by level (Kafka Streams' sub-topologies): a node's level
 * is the number of cuts it is downstream of (the cut's own node included), and sub-topology k
 * holds the nodes of level k, whatever branch they are on. A cut's topics are written by the
 * sub-topology of each input and read by the cut's. After a cut, records are partitioned by its
 * key, so a later keyed exchange is cut again (a repartition is never assumed to match a later
 * key: an operator between them may have changed the field).
 *
 * A cut at a join (a node with several keyed inputs) repartitions every input, each through a
 * topic of its own with the same partitions (key-group ranges), so that a downstream task reads
 * partition p of each: co-partitioned, as Kafka Streams repartitions both sides of a join. A
 * self-join too: its one input node writes each side's topic (Kafka Streams likewise gives each
 * side of a self-join its own repartition topic).
 *
 * A node with inputs on both sides of a cut is cut as well (see repartitionCuts), so that a node
 * that is not a cut takes all its inputs from its own level.
 */

import { partitioningOf, type GraphNode, type JobGraph, type Partitioning } from '../../plan/graph.js';
import { repartitionTopic } from './repartition-records.js';
import { KafkaSource } from './source.js';

/** Exchanges to repartition at: `node` receives each of its inputs through one, by that input's key fields. */
export interface RepartitionCut {
  readonly node: GraphNode;
  /** The key fields of each input, in input order; none: unkeyed (each upstream task's rows to one partition). */
  readonly keys: readonly (readonly string[])[];
  /** The node and everything downstream of it. */
  readonly downstream: ReadonlySet<GraphNode>;
  /** The sub-topology the cut's node starts: its level (see above), 1 or more. */
  readonly level: number;
  /** The sub-topology (level) of each input, which writes that input's topic. */
  readonly inputLevels: readonly number[];
}

const GATHERING: Readonly<Partial<Record<Partitioning['kind'], string>>> = {
  global: 'a global exchange (windowAll, or an operator at parallelism 1 fed by all)',
  broadcast: 'a broadcast exchange',
  keyFn: 'an exchange keyed by a function (keyBy(fn) in a join)',
  custom: 'a custom partitioner (partitionCustom)',
  range: 'a range exchange',
};

/** The sources upstream of `node` (it included). */
function sourcesOf(node: GraphNode): GraphNode[] {
  const seen = new Set<GraphNode>();
  const out: GraphNode[] = [];
  const visit = (n: GraphNode): void => {
    if (seen.has(n)) return;
    seen.add(n);
    if (n.op.kind === 'source') out.push(n);
    n.inputs.forEach(visit);
  };
  visit(node);
  return out;
}

/** Whether records of equal `keyFields` values are all in one input partition (declared by every source feeding `input`). */
export function coPartitioned(input: GraphNode, keyFields: readonly string[]): boolean {
  return sourcesOf(input).every((s) => {
    const src = s.op.kind === 'source' ? s.op.source : null;
    const by = src instanceof KafkaSource ? src.partitionedBy : null;
    return by !== null && by.every((f) => keyFields.includes(f));
  });
}

/** The node and everything downstream of it. */
function downstreamOf(graph: JobGraph, node: GraphNode): Set<GraphNode> {
  const out = new Set<GraphNode>([node]);
  // graph.nodes lists every node after its inputs.
  for (const n of graph.nodes) if (n.inputs.some((i) => out.has(i))) out.add(n);
  return out;
}

/**
 * A node's level (its sub-topology): the number of cuts it is downstream of. By node id, so that
 * it also places the nodes of a graph built again from the job's module (each task builds its own).
 */
export function levels(cuts: readonly Pick<RepartitionCut, 'downstream'>[]): (n: GraphNode) => number {
  const ids = cuts.map((c) => new Set([...c.downstream].map((d) => d.id)));
  return (n) => ids.filter((d) => d.has(n.id)).length;
}

/**
 * The cuts of `graph` for an application, in graph order (none: one sub-topology, the whole job
 * per input partition), each with its level; throws for a job an application cannot run
 * correctly, saying what to do.
 */
export function repartitionCuts(graph: JobGraph, who: string): RepartitionCut[] {
  const found: Omit<RepartitionCut, 'level' | 'inputLevels'>[] = [];
  const after = new Set<GraphNode>();
  for (const n of graph.nodes) {
    const parts = n.inputs.map((input, j) => {
      const p = partitioningOf(n, j);
      const gathering = GATHERING[p.kind];
      if (gathering !== undefined) {
        throw new Error(`${who}: '${n.name}' receives its input through ${gathering}, which an application cannot run: each task holds one input partition's records. Run this job as one process (without --application-id), or key it by fields (keyBy('field'))`);
      }
      return p;
    });
    const needs = n.inputs.some((input, j) => {
      const p = parts[j]!;
      return p.kind === 'hash' && (after.has(input) || !coPartitioned(input, p.keyFields));
    });
    if (!needs) continue;
    const keys = parts.map((p, j) => {
      if (p.kind !== 'hash') throw new Error(`${who}: '${n.name}' has a keyed input to repartition and input ${j} '${n.inputs[j]!.name}' that is not keyed; an application repartitions keyed inputs only. Key every input, or run the job as one process`);
      return p.keyFields;
    });
    const downstream = downstreamOf(graph, n);
    found.push({ node: n, keys, downstream });
    for (const d of downstream) after.add(d);
  }
  // A node's inputs are in its own sub-topology, except a cut's, which arrive through its topics.
  // A node taking inputs from both sides of a cut (e.g. a union of a stream before a keyBy with
  // one after it) is cut too: each input through a topic, keyed ones by their key, the others
  // unkeyed (each upstream task's rows to one partition, as a forward exchange). Its level is
  // then above all its inputs'. Cutting it moves the levels after it: again until none is mixed.
  for (;;) {
    const level = levels(found);
    const mixed = graph.nodes.find((n) => !found.some((c) => c.node === n) && n.inputs.some((i) => level(i) !== level(n)));
    if (mixed === undefined) break;
    const keys = mixed.inputs.map((_, j) => {
      const p = partitioningOf(mixed, j);
      return p.kind === 'hash' ? p.keyFields : [];
    });
    found.push({ node: mixed, keys, downstream: downstreamOf(graph, mixed) });
  }
  const level = levels(found);
  const order = new Map(graph.nodes.map((n, i) => [n, i]));
  found.sort((a, b) => order.get(a.node)! - order.get(b.node)!);
  return found.map((c) => ({ ...c, level: level(c.node), inputLevels: c.node.inputs.map(level) }));
}

/** How an input of a cut is repartitioned, for logs and explain. */
export function repartitionedBy(keyFields: readonly string[]): string {
  return keyFields.length === 0 ? 'unkeyed: each upstream task to one partition' : `by ${keyFields.join(', ')}`;
}

/** How many sub-topologies the cuts make: the highest level, plus the first. */
export function subTopologyCount(cuts: readonly RepartitionCut[]): number {
  return Math.max(0, ...cuts.map((c) => c.level)) + 1;
}

/** The repartition topics of a cut, one per input of its node (a join's inputs each `...-in<j>`; a single input the plain name). */
export function cutTopics(application: string, cut: RepartitionCut): string[] {
  const base = cut.node.uid ?? `node${cut.node.id}`;
  return cut.keys.map((_, j) => repartitionTopic(application, cut.keys.length > 1 ? `${base}-in${j}` : base));
}

/**
 * The sub-topologies of `graph` run as application `application` (`sluice explain
 * --application-id`): each one's tasks (P: the input topics' partition count, known at run
 * time), what it reads and writes, and its nodes. Which instance runs which task is known only
 * at run time: the log and the metrics say.
 */
export function describeSubTopologies(graph: JobGraph, application: string, repartitionPartitions?: number): string {
  const who = `application '${application}'`;
  const cuts = repartitionCuts(graph, who);
  const subs = subTopologyCount(cuts);
  const level = levels(cuts);
  const r = repartitionPartitions;
  const total = subs === 1 ? 'P' : r === undefined ? `${subs}P` : `P+${(subs - 1) * r}`;
  const lines = [`As Kafka application '${application}': ${subs} sub-topolog${subs === 1 ? 'y' : 'ies'}, ${total} tasks (P: the input topics' partition count; each task at parallelism 1, on a task thread of whichever instance the group assigns it)`];
  const topics = (pick: (c: RepartitionCut, j: number) => boolean, by: boolean): string[] =>
    cuts.flatMap((c) => cutTopics(application, c).flatMap((t, j) => (pick(c, j) ? [by ? `'${t}' (${repartitionedBy(c.keys[j]!)})` : `'${t}'`] : [])));
  for (let k = 0; k < subs; k++) {
    const tasks = k === 0 ? '0..P-1' : r === undefined ? `${k === 1 ? '' : k}P..${k + 1}P-1` : `P+${(k - 1) * r}..P+${k * r - 1}`;
    const read = topics((c) => c.level === k, false);
    const written = topics((c, j) => c.inputLevels[j] === k, true);
    const reads = k === 0 ? 'partition n of every input topic' : `partition n of ${read.join(' and ')}`;
    const writes = written.length === 0 ? '' : `; writes ${written.join(' and ')}`;
    lines.push(`  Sub-topology ${k}: tasks ${tasks}; reads ${reads}${writes}`);
    for (const n of graph.nodes) if (level(n) === k) lines.push(`    #${n.id} ${n.name}`);
  }
  return lines.join('\n');
}
