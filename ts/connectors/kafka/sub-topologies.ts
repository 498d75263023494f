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
 * - a join keyed by a function (a key selector, or fields of different types on its sides):
 *   always, by the key group of the selected key;
 * - exchanges that gather by other rules (windowAll's global, broadcast, partitionCustom,
 *   range) cannot run per partition at all and are refused.
 *
 * Cuts split the job into sub-topologies by level (Kafka Streams' sub-topologies): a node's level
 * is the most cuts on any path from a source to it (the cut's own node included), and
 * sub-topology k holds the nodes of level k, whatever branch they are on: so a cut is one level
 * above its highest input, and every level up to the highest has nodes. A cut's topics are written by the
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
  /** The key fields of each input, in input order; none: by its selector, else unkeyed (each upstream task's rows to one partition). */
  readonly keys: readonly (readonly string[])[];
  /**
   * Per input: keyed by a function (a join's key selector, or key fields of different types on
   * its two sides: the node's keyFn partitioning), its description; else null. Its rows go by
   * the key group of the selected key, as the node groups them.
   */
  readonly selectors: readonly (string | null)[];
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
 * A node's level (its sub-topology): the most cuts on a path from a source to it, its own
 * included; the highest of its inputs' levels, plus one at a cut. (Counting every cut upstream
 * instead would put a union of two cut branches a level above both, leaving a level without
 * nodes.) By node id, so that it also places the nodes of a graph built again from the job's
 * module (each task builds its own).
 */
export function levels(graph: JobGraph, cuts: readonly Pick<RepartitionCut, 'node'>[]): (n: GraphNode) => number {
  const cutIds = new Set(cuts.map((c) => c.node.id));
  const byId = new Map<number, number>();
  // graph.nodes lists every node after its inputs.
  for (const n of graph.nodes) byId.set(n.id, Math.max(0, ...n.inputs.map((i) => byId.get(i.id)!)) + (cutIds.has(n.id) ? 1 : 0));
  return (n) => byId.get(n.id) ?? 0;
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
    // Keyed by a function: where its keys are is unknown, so always repartitioned.
    const needs = n.inputs.some((input, j) => {
      const p = parts[j]!;
      return p.kind === 'keyFn' || (p.kind === 'hash' && (after.has(input) || !coPartitioned(input, p.keyFields)));
    });
    if (!needs) continue;
    const keys = parts.map((p, j) => {
      if (p.kind !== 'hash' && p.kind !== 'keyFn') throw new Error(`${who}: '${n.name}' has a keyed input to repartition and input ${j} '${n.inputs[j]!.name}' that is not keyed; an application repartitions keyed inputs only. Key every input, or run the job as one process`);
      return p.kind === 'hash' ? p.keyFields : [];
    });
    const downstream = downstreamOf(graph, n);
    found.push({ node: n, keys, selectors: parts.map(selectorOf), downstream });
    for (const d of downstream) after.add(d);
  }
  // A node's inputs are in its own sub-topology, except a cut's, which arrive through its topics.
  // A node taking inputs from both sides of a cut (e.g. a union of a stream before a keyBy with
  // one after it) is cut too: each input through a topic, keyed ones by their key, the others
  // unkeyed (each upstream task's rows to one partition, as a forward exchange). Its level is
  // then above all its inputs'. Cutting it moves the levels after it: again until none is mixed.
  for (;;) {
    const level = levels(graph, found);
    const mixed = graph.nodes.find((n) => !found.some((c) => c.node === n) && n.inputs.some((i) => level(i) !== level(n)));
    if (mixed === undefined) break;
    const parts = mixed.inputs.map((_, j) => partitioningOf(mixed, j));
    found.push({ node: mixed, keys: parts.map((p) => (p.kind === 'hash' ? p.keyFields : [])), selectors: parts.map(selectorOf), downstream: downstreamOf(graph, mixed) });
  }
  const level = levels(graph, found);
  const order = new Map(graph.nodes.map((n, i) => [n, i]));
  found.sort((a, b) => order.get(a.node)! - order.get(b.node)!);
  return found.map((c) => ({ ...c, level: level(c.node), inputLevels: c.node.inputs.map(level) }));
}

/**
 * The partition count of each later sub-topology's repartition topics, and so its task count
 * (index k - 1 for sub-topology k): `setParallelism(n)` on a cut's operator sets its
 * sub-topology's (Kafka Streams' `Repartitioned.withNumberOfPartitions` per repartition), else
 * `repartitionPartitions` (one count for all), else undefined: the input topics' count, known
 * at run time. The cuts of one sub-topology must agree (its task p reads partition p of each).
 */
export function repartitionCounts(graph: JobGraph, cuts: readonly RepartitionCut[], repartitionPartitions: number | undefined, who: string): (number | undefined)[] {
  const max = graph.parallel.maxParallelism;
  return Array.from({ length: subTopologyCount(cuts) - 1 }, (_, i) => {
    const set = countedCuts(graph, cuts, i + 1);
    const first = set[0];
    const other = set.find((c) => c.parallelism !== first!.parallelism);
    if (other !== undefined) throw new Error(`${who}: '${first!.cut.node.name}' and '${other.cut.node.name}' start sub-topology ${i + 1} with different parallelisms (${first!.parallelism} and ${other.parallelism}); its tasks read partition p of each of its repartition topics, so they must have one count: give them the same setParallelism`);
    const n = first?.parallelism ?? repartitionPartitions;
    if (n !== undefined && n > max) throw new RangeError(`${who}: sub-topology ${i + 1} would have ${n} partitions, above the job's max parallelism ${max} (a partition is a key-group range); lower its setParallelism (or --repartition-partitions) or raise setMaxParallelism`);
    return n;
  });
}

/** The cuts of sub-topology `level` whose operator has setParallelism, with it. */
export function countedCuts(graph: JobGraph, cuts: readonly RepartitionCut[], level: number): { readonly cut: RepartitionCut; readonly parallelism: number }[] {
  return cuts.flatMap((cut) => {
    const parallelism = graph.parallel.byNode.get(cut.node.id);
    return cut.level === level && parallelism !== undefined ? [{ cut, parallelism }] : [];
  });
}

/** An input's key selector's description (keyFn partitioning), or null. */
function selectorOf(p: Partitioning): string | null {
  return p.kind === 'keyFn' ? p.describe : null;
}

/** How input `j` of a cut is repartitioned, for logs and explain. */
export function repartitionedBy(cut: Pick<RepartitionCut, 'keys' | 'selectors'>, j: number): string {
  const selector = cut.selectors[j];
  if (selector !== null && selector !== undefined) return `by the key selector (${selector})`;
  const keyFields = cut.keys[j]!;
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
  const level = levels(graph, cuts);
  const counts = repartitionCounts(graph, cuts, repartitionPartitions, who);
  // Task numbers as aP+b: P per sub-topology of the input topics' count, the fixed counts added.
  const term = (a: number, b: number): string => `${a === 1 ? '' : a}P${b > 0 ? `+${b}` : b < 0 ? `-${-b}` : ''}`;
  const before = (k: number): [number, number] => [1 + counts.slice(0, k - 1).filter((n) => n === undefined).length, counts.slice(0, k - 1).reduce<number>((x, n) => x + (n ?? 0), 0)];
  const total = term(...before(subs));
  const lines = [`As Kafka application '${application}': ${subs} sub-topolog${subs === 1 ? 'y' : 'ies'}, ${total} tasks (P: the input topics' partition count; each task at parallelism 1, on a task thread of whichever instance the group assigns it)`];
  const topics = (pick: (c: RepartitionCut, j: number) => boolean, by: boolean): string[] =>
    cuts.flatMap((c) => cutTopics(application, c).flatMap((t, j) => (pick(c, j) ? [by ? `'${t}' (${repartitionedBy(c, j)})` : `'${t}'`] : [])));
  for (let k = 0; k < subs; k++) {
    const [a, b] = before(k);
    const n = counts[k - 1];
    const tasks = k === 0 ? '0..P-1' : `${term(a, b)}..${n === undefined ? term(a + 1, b - 1) : term(a, b + n - 1)}`;
    const read = topics((c) => c.level === k, false);
    const written = topics((c, j) => c.inputLevels[j] === k, true);
    const reads = k === 0 ? 'partition n of every input topic' : `partition n of ${read.join(' and ')}`;
    const writes = written.length === 0 ? '' : `; writes ${written.join(' and ')}`;
    lines.push(`  Sub-topology ${k}: tasks ${tasks}; reads ${reads}${writes}`);
    for (const n of graph.nodes) if (level(n) === k) lines.push(`    #${n.id} ${n.name}`);
  }
  return lines.join('\n');
}
