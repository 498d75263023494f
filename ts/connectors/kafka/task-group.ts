/**
 * One instance's membership in its application's consumer group (Kafka's classic group
 * protocol: JoinGroup, SyncGroup, Heartbeat, LeaveGroup, spoken through the client's protocol
 * layer with protocol type 'sluice'). Members announce the tasks they run; the leader assigns
 * tasks with `assignTasks` (sticky, balanced, cooperative); each member stops what it lost
 * before it joins again, and starts what it gained. A member that misses its session (a killed
 * or stalled process) is removed by the broker and its tasks go to the others; a member that
 * learns it was removed stops all its tasks at once.
 */

import type { Connection } from '@platformatic/kafka';
import { loadKafka, kafkaError } from './client.js';
import { errorCodes } from './transactions.js';
import { assignTasks } from './task-assignor.js';

const PROTOCOL_TYPE = 'sluice';
const PROTOCOL = 'sluice-tasks-v1';

const ILLEGAL_GENERATION = 22;
const UNKNOWN_MEMBER_ID = 25;
const REBALANCE_IN_PROGRESS = 27;
const MEMBER_ID_REQUIRED = 79;
/** The coordinator is loading, unavailable or elsewhere: find it again. */
const COORDINATOR_MOVED = new Set([14, 15, 16]);

export interface TaskGroupHandler {
  /** Stops these tasks; resolves once they have stopped (nothing of theirs runs any more). */
  revoke(tasks: readonly number[]): Promise<void>;
  /** Starts these tasks (without waiting for them). */
  assign(tasks: readonly number[]): void;
  /** The tasks' thread did not respond for `ms` (more than maxStallMs): the member left the group. */
  stalled(ms: number): void;
  /** The generation's assignment, for the log. */
  assigned(info: { member: string; generation: number; leader: boolean; tasks: readonly number[] }): void;
}

export interface TaskGroupOptions {
  readonly bootstrap: readonly string[];
  readonly groupId: string;
  readonly taskCount: number;
  readonly sessionTimeoutMs: number;
  readonly clientId: string;
  /** Past this long without `alive()`, the member leaves the group (its tasks' thread hangs); infinite when absent. */
  readonly maxStallMs?: number;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

export class TaskGroup {
  private readonly owned = new Set<number>();
  private memberId = '';
  private generation = -1;
  private connection: Connection | null = null;
  private readonly who: string;
  /** Heartbeats are sent this often (a third of the session, as the Java consumer's default ratio). */
  private readonly heartbeatMs: number;
  /** How long the coordinator waits for every member to join again (stopping tasks included). */
  private readonly rebalanceTimeoutMs = 60_000;
  /** When the tasks' thread last showed it runs (see alive). */
  private lastAlive = Date.now();
  /** Ends the heartbeat wait early: a task was given up here, the group must hear of it. */
  private rejoin = new AbortController();

  constructor(
    private readonly o: TaskGroupOptions,
    private readonly handler: TaskGroupHandler,
  ) {
    this.who = `application '${o.groupId}'`;
    this.heartbeatMs = Math.max(100, Math.floor(o.sessionTimeoutMs / 3));
  }

  /** Takes part in the group until `signal` aborts (then leaves it, after stopping every task). */
  async run(signal: AbortSignal): Promise<void> {
    try {
      while (!signal.aborted) {
        try {
          await this.round(signal);
        } catch (e) {
          const codes = errorCodes(e);
          if (signal.aborted) break;
          if (codes.includes(UNKNOWN_MEMBER_ID) || codes.includes(ILLEGAL_GENERATION)) {
            // Removed from the group (our session ran out): another member may run our tasks now.
            await this.dropAll();
            if (codes.includes(UNKNOWN_MEMBER_ID)) this.memberId = '';
            continue;
          }
          if (codes.includes(REBALANCE_IN_PROGRESS)) continue;
          if (codes.some((c) => COORDINATOR_MOVED.has(c)) || /ECONNREFUSED|ECONNRESET|Connection closed|timed out|Timeout/i.test(String(e))) {
            await this.disconnect();
            await sleep(500, signal);
            continue;
          }
          throw kafkaError(this.who, this.o.bootstrap, 'taking part in the consumer group', e);
        }
      }
    } finally {
      await this.dropAll();
      await this.leave();
      await this.disconnect();
    }
  }

  /** The threads that run the tasks all answered at `at` (called every second or so). */
  alive(at = Date.now()): void {
    this.lastAlive = at;
  }

  /**
   * This instance no longer runs `task` (it was fenced: another instance runs it now, or will):
   * it stops claiming it and joins again, so that the group gives it to someone.
   */
  release(task: number): void {
    if (this.owned.delete(task)) this.rejoin.abort();
  }

  /** One generation: join, sync, apply the assignment, then heartbeat until the group rebalances. */
  private async round(signal: AbortSignal): Promise<void> {
    const kafka = await loadKafka();
    const c = await this.coordinator();
    this.rejoin = new AbortController();
    const metadata = Buffer.from(JSON.stringify({ owned: [...this.owned].sort((a, b) => a - b), taskCount: this.o.taskCount }));
    let joined;
    for (;;) {
      try {
        joined = await kafka.joinGroupV9.api.async(c, this.o.groupId, this.o.sessionTimeoutMs, this.rebalanceTimeoutMs, this.memberId, null, PROTOCOL_TYPE, [{ name: PROTOCOL, metadata }], null);
        break;
      } catch (e) {
        // The first join of a member: the broker hands out its id and asks for a second join.
        const id = (e as { response?: { memberId?: string | null } }).response?.memberId;
        if (errorCodes(e).includes(MEMBER_ID_REQUIRED) && typeof id === 'string' && id !== '') {
          this.memberId = id;
          continue;
        }
        throw e;
      }
    }
    this.memberId = joined.memberId ?? this.memberId;
    this.generation = joined.generationId;
    const leader = joined.leader === this.memberId;
    const assignments: { memberId: string; assignment: Buffer }[] = [];
    if (leader) {
      const claims = joined.members.map((m) => {
        const meta = JSON.parse(m.metadata?.toString() ?? '{}') as { owned?: number[]; taskCount?: number };
        if (meta.taskCount !== this.o.taskCount) {
          throw new Error(`${this.who}: member ${m.memberId} runs the job with ${String(meta.taskCount)} tasks, this instance with ${this.o.taskCount}; every instance must run the same job on the same input topics (stop the other version)`);
        }
        return { member: m.memberId, owned: meta.owned ?? [] };
      });
      for (const [member, tasks] of assignTasks(claims, this.o.taskCount)) assignments.push({ memberId: member, assignment: Buffer.from(JSON.stringify({ tasks })) });
    }
    const synced = await kafka.syncGroupV5.api.async(c, this.o.groupId, this.generation, this.memberId, null, PROTOCOL_TYPE, PROTOCOL, assignments);
    const mine = new Set((JSON.parse(synced.assignment.length === 0 ? '{"tasks":[]}' : synced.assignment.toString()) as { tasks: number[] }).tasks);
    const lost = [...this.owned].filter((t) => !mine.has(t));
    if (lost.length > 0) {
      // Cooperative: stop what moves, then join again so that the next generation can give it
      // away. Heartbeats go on meanwhile: a slow stop must not cost the session (the broker
      // would give every task of this instance away while they still run).
      const stopping = this.handler.revoke(lost);
      await this.heartbeatUntil(stopping, c, kafka);
      for (const t of lost) this.owned.delete(t);
      return;
    }
    // A task given up while this generation was being formed (fenced): the group must hear of it first.
    if (this.rejoin.signal.aborted) return;
    const gained = [...mine].filter((t) => !this.owned.has(t)).sort((a, b) => a - b);
    for (const t of gained) this.owned.add(t);
    this.handler.assigned({ member: this.memberId, generation: this.generation, leader, tasks: [...this.owned].sort((a, b) => a - b) });
    if (gained.length > 0) this.handler.assign(gained);
    const wake = AbortSignal.any([signal, this.rejoin.signal]);
    while (!signal.aborted) {
      await sleep(this.heartbeatMs, wake);
      if (wake.aborted) return;
      const stalled = Date.now() - this.lastAlive;
      if (this.o.maxStallMs !== undefined && stalled > this.o.maxStallMs) {
        // The tasks' thread hangs: leave, so that the others take the tasks over now; rejoin
        // only once it has stopped them (dropAll waits for it), as the Java consumer does past
        // max.poll.interval.ms. Anything it still tries meanwhile is refused (task-ownership.ts).
        this.handler.stalled(stalled);
        await this.leave();
        await this.dropAll();
        return;
      }
      try {
        await kafka.heartbeatV4.api.async(c, this.o.groupId, this.generation, this.memberId, null);
      } catch (e) {
        if (errorCodes(e).includes(REBALANCE_IN_PROGRESS)) return;
        throw e;
      }
    }
  }

  /** Heartbeats until `done` settles (errors of the heartbeat are left to the next join). */
  private async heartbeatUntil(done: Promise<void>, c: Connection, kafka: Awaited<ReturnType<typeof loadKafka>>): Promise<void> {
    let settled = false;
    const finished = done.finally(() => {
      settled = true;
    });
    while (!settled) {
      await Promise.race([finished, new Promise((r) => setTimeout(r, this.heartbeatMs))]);
      if (settled) break;
      try {
        await kafka.heartbeatV4.api.async(c, this.o.groupId, this.generation, this.memberId, null);
      } catch {
        // REBALANCE_IN_PROGRESS and the like: this member joins again right after anyway.
      }
    }
    await finished;
  }

  private async dropAll(): Promise<void> {
    const all = [...this.owned];
    this.owned.clear();
    if (all.length > 0) await this.handler.revoke(all);
  }

  private async coordinator(): Promise<Connection> {
    if (this.connection !== null) return this.connection;
    const kafka = await loadKafka();
    const requestTimeout = this.rebalanceTimeoutMs + 30_000;
    for (const b of this.o.bootstrap) {
      const [host, port] = b.split(':') as [string, string];
      const boot = new kafka.Connection(`${this.o.clientId}-group`, { connectTimeout: 10_000 });
      try {
        await (boot.connect(host, Number(port)) as Promise<void>);
        const r = await kafka.findCoordinatorV6.api.async(boot, 0 /* group */, [this.o.groupId]);
        const found = r.coordinators[0]!;
        if (found.errorCode !== 0) throw Object.assign(new Error(`no group coordinator for '${this.o.groupId}' (Kafka error code ${found.errorCode})`), { errorCode: found.errorCode });
        const c = new kafka.Connection(`${this.o.clientId}-group`, { connectTimeout: 10_000, requestTimeout });
        await (c.connect(found.host, found.port) as Promise<void>);
        this.connection = c;
        return c;
      } finally {
        await boot.close().catch(() => undefined);
      }
    }
    throw new Error(`${this.who}: no bootstrap server given`);
  }

  private async leave(): Promise<void> {
    if (this.memberId === '') return;
    try {
      const kafka = await loadKafka();
      const c = await this.coordinator();
      await kafka.leaveGroupV5.api.async(c, this.o.groupId, [{ memberId: this.memberId, groupInstanceId: null, reason: 'instance stopped' }]);
    } catch {
      // The broker removes the member when its session runs out anyway.
    }
    this.memberId = '';
  }

  private async disconnect(): Promise<void> {
    const c = this.connection;
    this.connection = null;
    await c?.close().catch(() => undefined);
  }
}
