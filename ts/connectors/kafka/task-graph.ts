/**
 * One task's copy of an application's job (application.ts): the nodes of its sub-topology, fed
 * by its input partition or by its repartition topics' partition, ending in the repartition
 * sinks of the cuts it feeds, with the task's transactional ids and checkpoint directory.
 */

import type { Row } from '../../batch/record-batch.js';
import { JobGraph, ParallelSettings, partitioningOf, type GraphNode } from '../../plan/graph.js';
import { KafkaSink } from './sink.js';
import { KafkaSource } from './source.js';
import { RepartitionSource } from './repartition-source.js';
import { levels, type RepartitionCut } from './sub-topologies.js';
import { TaskOffsets } from './task-offsets.js';
import type { TaskClaim } from './task-ownership.js';

/** What a task's graph is built from: the job's cuts (none: the whole job per partition), their repartition topics and each sub-topology's tasks. */
export interface Layout extends LayoutSetup {
  readonly cuts: readonly RepartitionCut[];
}

/** A Layout without its cuts (they hold the graph's nodes): what a task thread is sent, its cuts found again in the graph it builds. */
export interface LayoutSetup {
  /** The repartition topics of each cut, one per input of its node. */
  readonly topics: readonly (readonly string[])[];
  /** Each sub-topology's task count: the input topics' partition count, then each repartition topic's. */
  readonly counts: readonly number[];
  /** Each sub-topology's first task (the counts before it summed). */
  readonly firsts: readonly number[];
  readonly bootstrap: readonly string[];
}

/**
 * The graph of task `task`, of sub-topology k (the nodes of level k, sub-topologies.ts) and its
 * partition p (the task's index in k): in sub-topology 0 the Kafka sources read input partition
 * p only; a cut starting sub-topology k reads partition p of its topics, from repartition
 * sources, instead of its inputs; an input of a cut that is in sub-topology k ends in a
 * repartition sink into the cut's topic for it. Kafka sinks write under the task's
 * transactional ids; checkpoints go to the owner's directory.
 */
export function taskGraph(graph: JobGraph, application: string, task: number, claim: TaskClaim, ownership: (doing: string) => void, layout: Layout): JobGraph {
  const dir = claim.dir;
  const parallel = new ParallelSettings();
  parallel.maxParallelism = graph.parallel.maxParallelism;
  for (const id of graph.parallel.newChain) parallel.newChain.add(id);
  for (const id of graph.parallel.noChain) parallel.noChain.add(id);
  const g = new JobGraph(parallel);
  g.checkpoint = { ...graph.checkpoint!, dir };
  g.objectReuse = graph.objectReuse;
  // Its input offsets go to the application's group inside its output transactions (task-offsets.ts).
  const offsets = new TaskOffsets(application);
  const owner = { name: claim.owner, predecessors: claim.predecessors, beforeTransaction: () => ownership('beginning a transaction'), offsets };
  // The graph is built again per task (its own user functions): the cuts' nodes are found by id.
  const cutNodes = layout.cuts.map((cut) => {
    const n = graph.nodes.find((x) => x.id === cut.node.id);
    if (n === undefined || n.op.kind !== cut.node.op.kind) throw new Error(`application '${application}': the job's module built another graph for task ${task} than at the start (node ${cut.node.id} is no longer '${cut.node.name}'); the module must build the same job every time`);
    return n;
  });
  let sub = 0;
  while (sub + 1 < layout.firsts.length && layout.firsts[sub + 1]! <= task) sub++;
  const partition = task - layout.firsts[sub]!;
  const level = levels(graph, cutNodes.map((node) => ({ node })));
  const copies = new Map<GraphNode, GraphNode>();
  // A cut's node of this sub-topology reads its inputs from its topics' sources (one input node
  // may feed several cuts, each through a topic of its own).
  const fromTopics = new Map<GraphNode, GraphNode[]>();
  let nextId = Math.max(...graph.nodes.map((n) => n.id)) + 1;
  layout.cuts.forEach((cut, c) => {
    if (cut.level !== sub) return;
    // Its rows, event time and watermarks as the cut's inputs had them, from the sub-topology that wrote each.
    const sources = cutNodes[c]!.inputs.map((input, j) => {
      const topic = layout.topics[c]![j]!;
      const source = new RepartitionSource(input.schema, { bootstrap: layout.bootstrap, topic, partition, upstreamTasks: layout.counts[cut.inputLevels[j]!]!, application, hasEventTime: input.hasEventTime, retain: graph.checkpoint!.retain, offsets });
      const node: GraphNode = { id: nextId++, name: `Source: ${source.name}`, op: { kind: 'source', source, watermarks: null }, input: null, inputs: [], partitioning: { kind: 'forward' }, schema: input.schema, hasEventTime: input.hasEventTime };
      g.nodes.push(node);
      return node;
    });
    fromTopics.set(cutNodes[c]!, sources);
  });
  for (const n of graph.nodes) {
    if (level(n) !== sub) continue;
    let op = n.op;
    if (op.kind === 'source' && op.source instanceof KafkaSource) op = { ...op, source: op.source.forPartitions([partition], offsets) };
    if (op.kind === 'sink' && op.sink instanceof KafkaSink) op = { ...op, sink: op.sink.forTask(application, task, owner) };
    const inputs = fromTopics.get(n) ?? n.inputs.map((i) => copies.get(i)!);
    const copy: GraphNode = { ...n, op, input: n.input === null ? null : inputs[0]!, inputs };
    copies.set(n, copy);
    g.nodes.push(copy);
  }
  // Every input of a cut that lives in this sub-topology ends here, in the cut's topic for it: exactly once, as any Kafka sink of a task.
  let sinkInTask = 0;
  layout.cuts.forEach((cut, c) => {
    cutNodes[c]!.inputs.forEach((from, j) => {
      if (cut.inputLevels[j] !== sub) return;
      const topic = layout.topics[c]![j]!;
      const input = copies.get(from)!;
      // A join keyed by a function: this task's own copy of the selector (its graph was built here).
      const p = partitioningOf(cutNodes[c]!, j);
      const keySelector = p.kind === 'keyFn' ? (p.fn as (row: Row) => unknown) : undefined;
      const sink = KafkaSink.repartition({ bootstrap: layout.bootstrap, topic, keyFields: cut.keys[j]!, ...(keySelector === undefined ? {} : { keySelector }), maxParallelism: graph.parallel.maxParallelism, partitions: layout.counts[cut.level]!, task: partition, application, sinkInTask: sinkInTask++ }).forTask(application, task, owner);
      g.nodes.push({ id: nextId++, name: `Sink: repartition topic '${topic}'`, op: { kind: 'sink', sink }, input, inputs: [input], partitioning: { kind: 'forward' }, schema: input.schema, hasEventTime: input.hasEventTime });
    });
  });
  return g;
}

