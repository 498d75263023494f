/**
 * The Nexmark event model shared by both engines' generators and the source connector:
 * event kinds, configuration and schemas (field order is the wire order).
 */

import type { SchemaSpec } from '../batch/schema.js';

export type NexmarkKind = 'person' | 'auction' | 'bid';

export interface NexmarkConfig {
  /** u32. */
  seed: number;
  /** Events of the whole timeline (all kinds, all splits); at most 2^43. */
  eventCount: number;
  /** Events per second of event time. */
  ratePerSec: number;
  baseTimeMs: number;
  splitIndex: number;
  splitCount: number;
}

export const DEFAULT_NEXMARK_CONFIG: NexmarkConfig = Object.freeze({
  seed: 42,
  eventCount: 10_000_000,
  ratePerSec: 10_000,
  baseTimeMs: 1_436_918_400_000, // 2015-07-15T00:00:00Z
  splitIndex: 0,
  splitCount: 1,
});

export const PERSON_SCHEMA = {
  id: 'i64',
  name: 'utf8',
  emailAddress: 'utf8',
  creditCard: 'utf8',
  city: 'utf8',
  state: 'utf8',
  dateTime: 'timestamp',
  extra: 'utf8',
} as const;

export const AUCTION_SCHEMA = {
  id: 'i64',
  itemName: 'utf8',
  description: 'utf8',
  initialBid: 'i64',
  reserve: 'i64',
  dateTime: 'timestamp',
  expires: 'timestamp',
  seller: 'i64',
  category: 'i64',
  extra: 'utf8',
} as const;

export const BID_SCHEMA = {
  auction: 'i64',
  bidder: 'i64',
  price: 'i64',
  channel: 'utf8',
  url: 'utf8',
  dateTime: 'timestamp',
  extra: 'utf8',
} as const;

export const NEXMARK_SCHEMAS: Readonly<Record<NexmarkKind, SchemaSpec>> = Object.freeze({
  person: PERSON_SCHEMA,
  auction: AUCTION_SCHEMA,
  bid: BID_SCHEMA,
});
