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
 * Restricted for now: at most one repartition (two sub-topologies), at a node with one input,
 * whose downstream part takes no other input.
 */

import { partitioningOf, type GraphNode, type JobGraph, type Partitioning } from '../../plan/graph.js';
import { KafkaSource } from './source.js';

/** The exchange to repartition at: `node` receives `node.input` through it, by `keyFields`. */
export interface RepartitionCut {
  readonly node: GraphNode;
  readonly keyFields: readonly string[];
  /** The node and everything downstream of it: the second sub-topology. */
  readonly downstream: ReadonlySet<GraphNode>;
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

/**
 * The cut of `graph` for an application (null: one sub-topology, the whole job per input
 * partition); throws for a job an application cannot run correctly, saying what to do.
 */
export function repartitionCut(graph: JobGraph, who: string): RepartitionCut | null {
  const cuts: { node: GraphNode; keyFields: readonly string[] }[] = [];
  for (const n of graph.nodes) {
    n.inputs.forEach((input, j) => {
      const p = partitioningOf(n, j);
      const gathering = GATHERING[p.kind];
      if (gathering !== undefined) {
        throw new Error(`${who}: '${n.name}' receives its input through ${gathering}, which an application cannot run: each task holds one input partition's records. Run this job as one process (without --application-id), or key it by fields (keyBy('field'))`);
      }
      if (p.kind === 'hash' && !coPartitioned(input, p.keyFields)) cuts.push({ node: n, keyFields: p.keyFields });
    });
  }
  if (cuts.length === 0) return null;
  if (cuts.length > 1) {
    throw new Error(`${who}: the job has ${cuts.length} keyed exchanges that need a repartition topic (${cuts.map((c) => `'${c.node.name}' by ${c.keyFields.join(', ')}`).join('; ')}); an application repartitions once for now. Key the job once, or declare the input's partitioning (KafkaSource.setPartitionedBy) where it already matches a key`);
  }
  const { node, keyFields } = cuts[0]!;
  if (node.inputs.length !== 1) {
    throw new Error(`${who}: '${node.name}' joins ${node.inputs.length} keyed inputs; an application repartitions one input for now. Declare the inputs' partitioning (KafkaSource.setPartitionedBy) if they are already partitioned by the join key, or run the job as one process`);
  }
  const downstream = new Set<GraphNode>([node]);
  for (const n of graph.nodes) if (n.inputs.some((i) => downstream.has(i))) downstream.add(n);
  for (const n of downstream) {
    if (n === node) continue;
    const other = n.inputs.find((i) => !downstream.has(i));
    if (other !== undefined) {
      throw new Error(`${who}: '${n.name}' takes input both from after the repartition at '${node.name}' and from '${other.name}' before it; an application cannot run that shape yet. Run the job as one process`);
    }
  }
  return { node, keyFields, downstream };
}
