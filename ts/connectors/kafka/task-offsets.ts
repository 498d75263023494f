/**
 * An application task's input offsets, committed to the application's consumer group inside the
 * task's output transaction (Kafka Streams' read-process-write: sendOffsetsToTransaction), so the
 * group's committed offsets move exactly when the output they produced becomes visible, and
 * the group's offsets (OffsetFetch) show each task's lag. The
 * task's sources record their next offsets at each checkpoint; the first of its exactly-once
 * sinks that prepares a transaction in that checkpoint takes them into it. Recovery still
 * resumes from the task's checkpoint, which holds the same offsets.
 */

/** The offsets one transaction commits to `group`: per topic, each partition's next offset. */
export interface TransactionOffsets {
  readonly group: string;
  readonly topics: readonly { readonly name: string; readonly partitions: readonly { readonly partition: number; readonly offset: string }[] }[];
}

/** The job's final checkpoint is taken at the sources without an id. */
const FINAL = -1;

export class TaskOffsets {
  private readonly at = new Map<number, Map<string, { topic: string; partition: number; offset: string }>>();

  constructor(readonly group: string) {}

  /** A source's next offsets at checkpoint `checkpointId` (undefined: the final one). */
  record(checkpointId: number | undefined, positions: readonly { readonly topic: string; readonly partition: number; readonly next: string }[]): void {
    const id = checkpointId ?? FINAL;
    const m = this.at.get(id) ?? new Map<string, { topic: string; partition: number; offset: string }>();
    for (const p of positions) m.set(`${p.topic}:${p.partition}`, { topic: p.topic, partition: p.partition, offset: p.next });
    this.at.set(id, m);
  }

  /** The offsets of checkpoint `checkpointId` for the transaction prepared in it, once (the first sink to ask gets them), or null. */
  take(checkpointId: number): TransactionOffsets | null {
    const m = this.at.get(checkpointId) ?? this.at.get(FINAL);
    for (const id of [...this.at.keys()]) if (id <= checkpointId) this.at.delete(id);
    if (m === undefined || m.size === 0) return null;
    const byTopic = new Map<string, { partition: number; offset: string }[]>();
    for (const { topic, partition, offset } of m.values()) byTopic.set(topic, [...(byTopic.get(topic) ?? []), { partition, offset }]);
    return { group: this.group, topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })) };
  }
}
