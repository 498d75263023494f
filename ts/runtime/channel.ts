/**
 * What every channel between subtasks offers (segment-channel.ts: segments of shared memory
 * through a ring): messages in order, batches bounded by credits.
 */

import type { RecordBatch } from '../batch/record-batch.js';

export type Message =
  | { readonly t: 'b'; readonly batch: RecordBatch }
  | { readonly t: 'w'; readonly wm: number }
  | { readonly t: 'i'; readonly idle: boolean }
  /** Checkpoint barrier `id`: everything before it on this channel belongs to checkpoint `id`. */
  | { readonly t: 'k'; readonly id: number }
  | { readonly t: 'e' };

/** The sending end of a channel. */
export interface ChannelOut {
  /** Resolves once the receiver had room (a credit), with the ms waited for it. `owned`: the batch may be moved. */
  send(batch: RecordBatch, owned: boolean): Promise<number>;
  control(m: Message): void;
  /** The job is stopping: nothing more is sent, and a producer waiting for room goes on. */
  abort(): void;
}

/** The receiving end: messages in order; `credit()` after a batch is processed. */
export interface ChannelIn {
  onMessage(f: (m: Message) => void): void;
  credit(): void;
  close(): void;
}

/** What a channel needs of a MessagePort (declared here so the package's types need no Node typings). */
export interface PortLike {
  postMessage(message: unknown, transfer?: readonly ArrayBuffer[]): void;
  on(event: 'message', listener: (message: never) => void): unknown;
  close(): void;
}

