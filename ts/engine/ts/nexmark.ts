/**
 * Deterministic Nexmark event generator (people, auctions, bids), columnar: the TypeScript
 * twin of `crates/sluice-core/src/nexmark.rs`. For the same config both produce identical
 * batches, byte for byte.
 *
 * Follows Apache Beam's generator (1:3:46 mix by `eventId % 50`, Beam's id formulas, hot
 * sellers / auctions / bidders, log-uniform prices, `nextString` / `nextExtra`) plus Flink's
 * channel / url bid fields. Every random draw is a pure function of (seed, eventId, stream):
 * `murmur3U64(eventId, seed ^ stream * 0x9E3779B9)`, so any column can be generated alone and
 * any event from its id alone. Only 32-bit integer math, integers below 2^53 and f64
 * `+ - * /` and floor in the same order as the Rust code (no Math.pow/exp/round).
 *
 * Hot loops use typed arrays only: no per-record objects, no BigInt arithmetic.
 */

import type { Column } from '../../batch/column.js';
import { i32View, noteExactMax, setI64 } from '../../batch/i64.js';
import { RecordBatch } from '../../batch/record-batch.js';
import { Schema } from '../../batch/schema.js';
import { fmix32, mixK, murmur3U32 } from '../../keys/hash.js';

import { DEFAULT_NEXMARK_CONFIG, NEXMARK_SCHEMAS, type NexmarkConfig, type NexmarkKind } from '../nexmark-config.js';
import type { Lease } from '../../batch/lease.js';
import type { PushedFilter } from '../calc-spec.js';
import { TsCalc } from './calc.js';
import { copyPieces, viewOf } from './pieces.js';

// ---------------------------------------------------------------------------------------------
// Constants (Beam's defaults)

const FIRST_PERSON_ID = 1000;
const FIRST_AUCTION_ID = 1000;
const FIRST_CATEGORY_ID = 10;
const HOT_AUCTION_RATIO = 2;
const HOT_SELLERS_RATIO = 4;
const HOT_BIDDERS_RATIO = 4;
const HOT_BLOCK = 100;
const NUM_ACTIVE_PEOPLE = 1000;
const NUM_IN_FLIGHT_AUCTIONS = 100;
const PERSON_ID_LEAD = 10;
const AUCTION_ID_LEAD = 10;
const NUM_CATEGORIES = 5;
const EVENTS_FOR_AUCTIONS = Math.floor((NUM_IN_FLIGHT_AUCTIONS * 50) / 3); // 1666
const AVG_PERSON_BYTES = 200;
const AVG_AUCTION_BYTES = 500;
const AVG_BID_BYTES = 100;
const BID_SIZE = 32;
const HOT_CHANNELS_RATIO = 2;
const CHANNELS_NUMBER = 10_000;
const NUM_HOT_CHANNELS = 4;

export const MAX_EVENT_COUNT = 2 ** 43;
export const MAX_BASE_TIME_MS = 2 ** 47;

const GOLDEN = 0x9e3779b9 | 0;
const URL_SEED = 0x4e584d4b;
const EXTRA_SEED = 0x45585452;
const EXTRA_BLOCK_BITS = 13;
const EXTRA_BLOCKS = 1 << EXTRA_BLOCK_BITS;
const TWO32 = 4294967296;
const INV32 = 1 / 4294967296;

// Streams.
const S_P_NAME = 1;
const S_P_EMAIL1 = 2;
const S_P_EMAIL2 = 3;
const S_P_CARD1 = 4;
const S_P_CARD2 = 5;
const S_P_CITY = 6;
const S_P_STATE = 7;
const S_P_EXTRA = 8;
const S_A_SELLER = 11;
const S_A_CATEGORY = 12;
const S_A_INITIAL = 13;
const S_A_RESERVE = 14;
const S_A_EXPIRES = 15;
const S_A_EXPIRES2 = 16;
const S_A_NAME = 17;
const S_A_DESC = 18;
const S_A_EXTRA = 19;
const S_B_AUCTION = 21;
const S_B_BIDDER = 22;
const S_B_PRICE = 23;
const S_B_CHANNEL = 24;
const S_B_EXTRA = 25;

const FIRST_NAMES = ['Peter', 'Paul', 'Luke', 'John', 'Saul', 'Vicky', 'Kate', 'Julie', 'Sarah', 'Deiter', 'Walter'];
const LAST_NAMES = ['Shultz', 'Abrams', 'Spencer', 'White', 'Bartels', 'Walton', 'Smith', 'Jones', 'Noris'];
const US_CITIES = ['Phoenix', 'Los Angeles', 'San Francisco', 'Boise', 'Portland', 'Bend', 'Redmond', 'Seattle', 'Kent', 'Cheyenne'];
const US_STATES = ['AZ', 'CA', 'ID', 'OR', 'WA', 'WY'];
const HOT_CHANNELS = ['Google', 'Facebook', 'Baidu', 'Apple'];

// ---------------------------------------------------------------------------------------------
// Random draws

/** Seed of stream `s`: `seed ^ s * 0x9E3779B9` (u32 math). */
function streamSeed(seed: number, s: number): number {
  return (seed ^ Math.imul(s, GOLDEN)) | 0;
}

/**
 * `murmur3U64(eventId, streamSeed)` given the event id's pre-mixed halves `kl = mixK(lo)`,
 * `kh = mixK(hi)` (shared by all the draws of an event). Unsigned result.
 */
function draw(ss: number, kl: number, kh: number): number {
  let h = ss ^ kl;
  h = (h << 13) | (h >>> 19);
  h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  h ^= kh;
  h = (h << 13) | (h >>> 19);
  h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  return fmix32(h ^ 8);
}

/** Word `k` (k >= 1) of a string whose field draw is `h`. */
function word(h: number, k: number): number {
  return fmix32((h + Math.imul(k, GOLDEN)) | 0);
}

/** First mixed-radix digit in [0, n) of the u32 `x` (n <= 2^21). */
function digit0(x: number, n: number): number {
  return Math.floor(x * n * INV32);
}

/** Mixed-radix digit chain: `digitNext(n)` returns the next digit of `chain`. */
let chain = 0;
function digitNext(n: number): number {
  const t = chain * n;
  const d = Math.floor(t * INV32);
  chain = t - d * TWO32;
  return d;
}

// ---------------------------------------------------------------------------------------------
// Prices

const LN10 = Math.LN10; // the same double as Rust's std::f64::consts::LN_10
const EXP_TERMS = 11;
const COEF = new Float64Array(EXP_TERMS);
const POW = new Float64Array(96);
{
  let fact = 1;
  for (let k = 0; k < EXP_TERMS; k++) {
    if (k > 0) fact *= k;
    COEF[k] = 1 / fact;
  }
  const root = expSmall(LN10 / 16);
  const frac = new Float64Array(16);
  frac[0] = 1;
  for (let j = 1; j < 16; j++) frac[j] = frac[j - 1]! * root;
  let ten = 1;
  for (let k = 0; k < 6; k++) {
    for (let j = 0; j < 16; j++) POW[k * 16 + j] = ten * frac[j]!;
    ten *= 10;
  }
}

function expSmall(x: number): number {
  let acc = COEF[EXP_TERMS - 1]!;
  for (let k = EXP_TERMS - 2; k >= 0; k--) acc = acc * x + COEF[k]!;
  return acc;
}

const C0 = COEF[0]!, C1 = COEF[1]!, C2 = COEF[2]!, C3 = COEF[3]!, C4 = COEF[4]!, C5 = COEF[5]!;
const C6 = COEF[6]!, C7 = COEF[7]!, C8 = COEF[8]!, C9 = COEF[9]!, C10 = COEF[10]!;

/** `round(10^(6 * r / 2^32) * 100)`, the same operations as the Rust code. */
function priceFrom(r: number): number {
  const y = r * (6 / 4294967296);
  const s = y * 16;
  const m = Math.floor(s);
  const x = (s - m) * (LN10 / 16);
  let acc = C10;
  acc = acc * x + C9;
  acc = acc * x + C8;
  acc = acc * x + C7;
  acc = acc * x + C6;
  acc = acc * x + C5;
  acc = acc * x + C4;
  acc = acc * x + C3;
  acc = acc * x + C2;
  acc = acc * x + C1;
  acc = acc * x + C0;
  return Math.floor(POW[m]! * acc * 100 + 0.5);
}

// ---------------------------------------------------------------------------------------------
// Strings

const POW338_1 = 338;
const POW338_2 = 114_244;

function symTable(space: number): Uint8Array {
  const t = new Uint8Array(338);
  for (let d = 0; d < 338; d++) t[d] = d < 26 ? space : 97 + ((d - 26) % 26);
  return t;
}
const SYM = symTable(32);

/** Base-26 digit `k` of word `w` as a letter: `(w * 26^k mod 2^32) * 26 >> 32`. */
const POW26 = [1, 26, 676, 17_576, 456_976, 11_881_376];
function letter(w: number, k: number): number {
  return 97 + Math.floor((Math.imul(w, POW26[k]!) >>> 0) * 26 * INV32);
}

/** Untrimmed `nextString(maxLen)` length for draw `h`. */
function stringLen(h: number, maxLen: number): number {
  return 3 + digit0(h, maxLen - 3);
}

/** Writes the untrimmed characters of `nextString(maxLen)` at `out[p..]`; returns the length. */
function stringChars(sym: Uint8Array, h: number, maxLen: number, out: Uint8Array, p: number): number {
  const len = stringLen(h, maxLen);
  let i = 0;
  for (let k = 1; i < len; k++) {
    const w = word(h, k);
    out[p + i] = sym[Math.floor((w >>> 0) * 338 * INV32)]!;
    if (++i === len) break;
    out[p + i] = sym[Math.floor((Math.imul(w, POW338_1) >>> 0) * 338 * INV32)]!;
    if (++i === len) break;
    out[p + i] = sym[Math.floor((Math.imul(w, POW338_2) >>> 0) * 338 * INV32)]!;
    ++i;
  }
  return len;
}

/** Writes `nextString(maxLen)` trimmed of spaces at `out[p..]`; returns the new end. */
function pushString(h: number, maxLen: number, out: Uint8Array, p: number): number {
  const len = stringChars(SYM, h, maxLen, out, p);
  let s = p;
  let e = p + len;
  while (s < e && out[s] === 32) s++;
  while (e > s && out[e - 1] === 32) e--;
  if (s > p) out.copyWithin(p, s, e);
  return p + (e - s);
}

/** Length of Beam's `nextExtra(current, avg)`. */
function extraLen(h: number, current: number, avg: number): number {
  if (current > avg) return 0;
  const desired = avg - current;
  const delta = Math.floor((2 * desired + 5) / 10);
  return desired - delta + (delta === 0 ? 0 : digit0(h, 2 * delta));
}

/** 2^13 blocks of 8 random letters (the same table as the Rust code). */
const EXTRA_TABLE = new Uint8Array(EXTRA_BLOCKS * 8);
for (let b = 0; b < EXTRA_BLOCKS; b++) {
  const w0 = murmur3U32(2 * b, EXTRA_SEED);
  const w1 = murmur3U32(2 * b + 1, EXTRA_SEED);
  for (let j = 0; j < 8; j++) EXTRA_TABLE[b * 8 + j] = j < 6 ? letter(w0, j) : letter(w1, j - 6);
}

const EXTRA_WORDS = new Uint32Array(EXTRA_TABLE.buffer);

/**
 * Writes `size` padding letters at byte `p` of `out` (a view of the column buffer) with 4-byte
 * unaligned little-endian stores; may write up to 15 bytes beyond (overwritten by the next row
 * or slack).
 */
function writeExtra(h: number, size: number, out: DataView, p: number): void {
  const t = EXTRA_WORDS;
  const words = (size + 15) >>> 4;
  for (let k = 1; k <= words; k++) {
    const w = word(h, k);
    const a = (w >>> 19) << 1;
    const b = ((w >>> 6) & (EXTRA_BLOCKS - 1)) << 1;
    out.setUint32(p, t[a]!, true);
    out.setUint32(p + 4, t[a + 1]!, true);
    out.setUint32(p + 8, t[b]!, true);
    out.setUint32(p + 12, t[b + 1]!, true);
    p += 16;
  }
}

/** A list of ASCII strings as bytes + offsets. */
interface StrTable {
  /** The strings' bytes, and 8 bytes of slack after them: copied in pieces (copyPieces). */
  view: DataView;
  offsets: Int32Array;
  lens: Uint8Array;
  maxLen: number;
}

function strTable(list: readonly string[]): StrTable {
  const offsets = new Int32Array(list.length + 1);
  let total = 0;
  for (let i = 0; i < list.length; i++) {
    total += list[i]!.length;
    offsets[i + 1] = total;
  }
  const data = new Uint8Array(total + 8);
  const lens = new Uint8Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const s = list[i]!;
    lens[i] = s.length;
    for (let k = 0; k < s.length; k++) data[offsets[i]! + k] = s.charCodeAt(k);
  }
  let maxLen = 0;
  for (let i = 0; i < list.length; i++) maxLen = Math.max(maxLen, lens[i]!);
  return { view: viewOf(data), offsets, lens, maxLen };
}

const NAMES = strTable(FIRST_NAMES.flatMap((f) => LAST_NAMES.map((l) => `${f} ${l}`)));
const CITIES = strTable(US_CITIES);
const STATES = strTable(US_STATES);

let channelTables: { channels: StrTable; urls: StrTable } | null = null;

/** Flink's channel urls, derived from the channel index with a fixed seed (see nexmark.rs). */
function channels(): { channels: StrTable; urls: StrTable } {
  if (channelTables !== null) return channelTables;
  const usym = symTable(95); // '_'
  const names: string[] = [];
  const urls: string[] = [];
  const buf = new Uint8Array(128);
  for (let i = 0; i < NUM_HOT_CHANNELS + CHANNELS_NUMBER; i++) {
    names.push(i < NUM_HOT_CHANNELS ? HOT_CHANNELS[i]! : `channel-${i - NUM_HOT_CHANNELS}`);
    let u = 'https://www.nexmark.com/';
    for (let j = 0; j < 3; j++) {
      const h = murmur3U32(i, URL_SEED ^ Math.imul(j + 1, GOLDEN));
      const len = stringChars(usym, h, 5, buf, 0);
      u += String.fromCharCode(...buf.subarray(0, len)) + '/';
    }
    u += 'item.htm?query=1';
    if (i >= NUM_HOT_CHANNELS) {
      const n = i - NUM_HOT_CHANNELS;
      if (digit0(murmur3U32(i, URL_SEED ^ Math.imul(4, GOLDEN)), 10) > 0) {
        // Java's Math.abs(Integer.reverse(n)), which keeps -2^31.
        let r = 0;
        for (let b = 0; b < 32; b++) r |= ((n >>> b) & 1) << (31 - b);
        r |= 0;
        u += `&channel_id=${r === -2147483648 ? r : Math.abs(r)}`;
      }
    }
    urls.push(u);
  }
  channelTables = { channels: strTable(names), urls: strTable(urls) };
  return channelTables;
}

// ---------------------------------------------------------------------------------------------
// Ids (Beam's formulas); event ids are numbers below 2^43.

function lastBase0PersonId(id: number): number {
  return Math.floor(id / 50);
}

/** -1 before the first auction. */
function lastBase0AuctionId(id: number): number {
  let epoch = Math.floor(id / 50);
  let offset = id - epoch * 50;
  if (offset < 1) {
    epoch--;
    offset = 2;
  } else if (offset >= 4) offset = 2;
  else offset -= 1;
  return epoch * 3 + offset;
}

/** Timestamp of event number `n`. */
function timestamp(cfg: NexmarkConfig, n: number): number {
  return cfg.baseTimeMs + Math.floor((n * 1000) / cfg.ratePerSec);
}

// ---------------------------------------------------------------------------------------------
// Columns

type ColId =
  | 'p.id' | 'p.name' | 'p.emailAddress' | 'p.creditCard' | 'p.city' | 'p.state' | 'p.extra'
  | 'a.id' | 'a.itemName' | 'a.description' | 'a.initialBid' | 'a.reserve' | 'a.expires' | 'a.seller' | 'a.category' | 'a.extra'
  | 'b.auction' | 'b.bidder' | 'b.price' | 'b.channel' | 'b.url' | 'b.extra'
  | 'dateTime';

const PREFIX: Record<NexmarkKind, string> = { person: 'p.', auction: 'a.', bid: 'b.' };

function checkInt(name: string, v: unknown, lo: number, hi: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < lo || v > hi) {
    throw new RangeError(`Nexmark ${name} must be an integer between ${lo} and ${hi}, got ${String(v)}`);
  }
  return v;
}

function validate(c: Partial<NexmarkConfig>): NexmarkConfig {
  const cfg: NexmarkConfig = { ...DEFAULT_NEXMARK_CONFIG, ...c };
  checkInt('seed', cfg.seed, 0, 0xffffffff);
  checkInt('ratePerSec', cfg.ratePerSec, 1, MAX_EVENT_COUNT);
  checkInt('eventCount', cfg.eventCount, 0, MAX_EVENT_COUNT);
  checkInt('baseTimeMs', cfg.baseTimeMs, -MAX_BASE_TIME_MS, MAX_BASE_TIME_MS);
  checkInt('splitCount', cfg.splitCount, 1, MAX_EVENT_COUNT);
  checkInt('splitIndex', cfg.splitIndex, 0, cfg.splitCount - 1);
  return cfg;
}

/*
 * The bids' auction and price loops are functions of their own that end with the loop. A hot
 * loop is compiled on stack (OSR) before the code after it has run once; V8 keeps that code for
 * the loop when it deoptimises after it, so code there without type feedback (the column's
 * object literal) deoptimised at every later batch: 1 259 times in one worker's bids at
 * parallelism 2 (measured 2026-12-07), the loop then running 2.5x slower. The other column
 * methods keep their loops: traced at parallelism 2 on q0, q5, q7 and e2e, none deoptimised
 * more than 25 times in a run (`extra`, in q0).
 */

/** The bids' auction ids into `v32` (an i64 column's words). */
function fillBidAuctions(v32: Int32Array, ss: number, ids: Float64Array, klo: Int32Array, khi: Int32Array, rows: number): void {
  for (let i = 0; i < rows; i++) {
    const x = draw(ss, klo[i]!, khi[i]!);
    const t = x * HOT_AUCTION_RATIO;
    const hot = Math.floor(t * INV32);
    const last = lastBase0AuctionId(ids[i]!);
    // Both choices computed and one taken by arithmetic (exact: integers below 2^53), as the
    // native generator does: a branch taken half the time at random costs more than either.
    const hotId = Math.floor(last / HOT_BLOCK) * HOT_BLOCK;
    const min = Math.max(last - NUM_IN_FLIGHT_AUCTIONS, 0);
    const coldId = min + Math.floor((t - hot * TWO32) * (last - min + 1 + AUCTION_ID_LEAD) * INV32);
    setI64(v32, i, coldId + Math.min(hot, 1) * (hotId - coldId) + FIRST_AUCTION_ID);
  }
}

/** Prices (stream `ss`, plus stream `ss2` where `two`) into `v32`; below 2^31, so the high word is 0 (written: a lent buffer holds the last batch's). */
function fillPrices(v32: Int32Array, ss: number, ss2: number, two: boolean, klo: Int32Array, khi: Int32Array, rows: number): void {
  if (!two) {
    for (let i = 0; i < rows; i++) {
      v32[2 * i] = priceFrom(draw(ss, klo[i]!, khi[i]!));
      v32[2 * i + 1] = 0;
    }
  } else {
    for (let i = 0; i < rows; i++) {
      v32[2 * i] = priceFrom(draw(ss, klo[i]!, khi[i]!)) + priceFrom(draw(ss2, klo[i]!, khi[i]!));
      v32[2 * i + 1] = 0;
    }
  }
}

/** Generates the events of one kind of one split of the timeline as record batches. */
export class TsNexmarkGenerator {
  readonly schema: Schema;
  readonly config: NexmarkConfig;
  readonly kind: NexmarkKind;
  private readonly cols: ColId[];
  private pos = 0;
  private readonly total: number;
  private readonly seed: number;
  // Per-batch scratch, grown on demand.
  private cap = 0;
  private ids = new Float64Array(0);
  private ts = new Float64Array(0);
  private klo = new Int32Array(0);
  private khi = new Int32Array(0);
  private tmp = new Uint32Array(0);
  private chan = new Uint16Array(0);
  /** A pushed filter: its fields, built for every row scanned, and its compiled form. */
  private readonly filter: { readonly cols: readonly ColId[]; readonly schema: Schema; readonly calc: TsCalc } | null = null;
  private readMax = -Infinity;

  /**
   * `fields`: names to produce (projection), in any order; the output follows the full
   * schema's order. Omitted = all. An unknown name throws, listing the valid ones.
   */
  constructor(config: Partial<NexmarkConfig>, kind: NexmarkKind, fields?: readonly string[], filter?: PushedFilter) {
    if (!(kind in NEXMARK_SCHEMAS)) {
      throw new RangeError(`unknown Nexmark event kind '${String(kind)}'; use one of person, auction, bid`);
    }
    this.config = validate(config);
    this.kind = kind;
    this.seed = this.config.seed | 0;
    const full = Schema.from(NEXMARK_SCHEMAS[kind]);
    const names = full.names();
    for (const f of [...(fields ?? []), ...(filter?.fields ?? [])]) {
      if (!names.includes(f)) {
        throw new RangeError(`unknown ${kind} field '${f}'; valid fields are: ${names.join(', ')}`);
      }
    }
    const kept = fields === undefined ? full.fields : full.fields.filter((f) => fields.includes(f.name));
    this.schema = new Schema(kept);
    const colId = (name: string): ColId => (name === 'dateTime' ? 'dateTime' : ((PREFIX[kind] + name) as ColId));
    this.cols = kept.map((f) => colId(f.name));
    if (filter !== undefined) {
      const schema = new Schema(filter.fields.map((n) => full.fields.find((f) => f.name === n)!));
      this.filter = { cols: filter.fields.map(colId), schema, calc: new TsCalc(schema, filter.spec) };
    }
    const { eventCount, splitIndex, splitCount } = this.config;
    this.total = eventCount <= splitIndex ? 0 : Math.floor((eventCount - splitIndex - 1) / splitCount) + 1;
    if (kind === 'bid' && [...this.cols, ...(this.filter?.cols ?? [])].some((c) => c === 'b.channel' || c === 'b.url')) channels();
  }

  /** With a filter: the highest event time the last nextBatch scanned, dropped rows included. */
  readMaxEventTime(): number {
    return this.readMax;
  }

  /**
   * Where the output columns of the batch being built go: the caller's lease (buffers reused
   * batch after batch, not zero-filled: every byte read is written), or fresh arrays.
   */
  private lease: Lease | undefined = undefined;

  private bytes(n: number): Uint8Array {
    return this.lease === undefined ? new Uint8Array(n) : this.lease.bytes(n);
  }

  private i64s(rows: number): BigInt64Array {
    const b = this.bytes(8 * rows);
    return new BigInt64Array(b.buffer, b.byteOffset, rows);
  }

  private offsetsFor(rows: number): Int32Array {
    const b = this.bytes(4 * (rows + 1));
    const o = new Int32Array(b.buffer, b.byteOffset, rows + 1);
    o[0] = 0;
    return o;
  }

  /** Events of this split consumed so far. */
  position(): number {
    return this.pos;
  }

  /** Events of this split in total. */
  splitEventCount(): number {
    return this.total;
  }

  seek(p: number): void {
    this.pos = checkInt('seek position', p, 0, Number.MAX_SAFE_INTEGER);
  }

  private grow(n: number): void {
    if (n <= this.cap) return;
    const cap = Math.max(n, this.cap * 2, 64);
    this.cap = cap;
    this.ids = new Float64Array(cap);
    this.ts = new Float64Array(cap);
    this.klo = new Int32Array(cap);
    this.khi = new Int32Array(cap);
    this.tmp = new Uint32Array(cap);
    this.chan = new Uint16Array(cap);
  }

  /**
   * Scans events from the current position, keeps those of this generator's kind, stops after
   * `maxRows` rows or at the end of the split; null when exhausted. `eventTime` = dateTime.
   */
  nextBatch(maxRows: number, lease?: Lease): RecordBatch | null {
    if (Number.isNaN(maxRows)) throw new RangeError('nextBatch(maxRows): maxRows must be a number >= 1');
    maxRows = Math.max(1, Math.floor(maxRows));
    if (this.pos >= this.total) return null;
    let rows = this.scan(maxRows);
    if (rows === 0) return null;
    if (this.filter !== null) {
      this.readMax = this.ts[rows - 1]!;
      rows = this.keepFiltered(this.filter, rows);
    }
    if (this.kind === 'bid' && (this.cols.includes('b.channel') || this.cols.includes('b.url'))) this.channelIndexes(rows);
    this.lease = lease;
    let columns: Column[];
    let eventTime: Column;
    try {
      columns = this.cols.map((col) => this.column(col, rows));
      const at = this.cols.indexOf('dateTime');
      eventTime = at >= 0 ? columns[at]! : this.i64Col('timestamp', rows, this.ts);
    } finally {
      this.lease = undefined;
    }
    // The event time is the dateTime column itself where it is read (one array, which the
    // exchange then sends once), else the same values built on their own.
    const ts = this.ts;
    const et = (eventTime as { values: BigInt64Array }).values;
    // Times grow with the event number (scan), so the last is the largest: noted, as the native
    // generator notes it, so that the source's check does not scan the batch again.
    const last = ts[rows - 1]!;
    if (rows > 0 && ts[0]! >= -Number.MAX_SAFE_INTEGER && last <= Number.MAX_SAFE_INTEGER) noteExactMax(et, rows, last);
    return new RecordBatch(this.schema, columns, rows, et);
  }

  /**
   * Filter pushdown: builds the filter's fields for the `rows` scanned, runs it, and keeps the
   * scratch of the rows it keeps only (in order); returns how many.
   */
  private keepFiltered(f: NonNullable<TsNexmarkGenerator['filter']>, rows: number): number {
    if (f.cols.some((c) => c === 'b.channel' || c === 'b.url')) this.channelIndexes(rows);
    const sel = f.calc.select(new RecordBatch(f.schema, f.cols.map((c) => this.column(c, rows)), rows, null));
    if (sel === null) return rows;
    const { ids, ts, klo, khi } = this;
    const m = sel.length;
    for (let j = 0; j < m; j++) {
      const i = sel[j]!;
      ids[j] = ids[i]!;
      ts[j] = ts[i]!;
      klo[j] = klo[i]!;
      khi[j] = khi[i]!;
    }
    return m;
  }

  /**
   * The next events of this generator's kind, up to `maxRows`, into the scratch arrays (ids,
   * times, key halves); returns how many. A method of its own, so that the loop compiled on
   * stack is followed only by storing the position and the return: the columns built after the
   * loop, when they were in the same function, had no type feedback when it was compiled, and
   * that code was deoptimised again at every batch.
   */
  private scan(maxRows: number): number {
    const cfg = this.config;
    const c = cfg.splitCount;
    const rate = cfg.ratePerSec;
    const lo = this.kind === 'person' ? 0 : this.kind === 'auction' ? 1 : 4;
    const hi = this.kind === 'person' ? 1 : this.kind === 'auction' ? 4 : 50;
    // Rows expected, for the scratch capacity (capped: `maxRows` may be huge).
    const left = Math.min(this.total - this.pos, 65536);
    const expect = Math.min(maxRows, this.kind === 'bid' ? left : Math.floor(left / 8) + 16);
    this.grow(expect);
    let p = this.pos;
    let n = cfg.splitIndex + p * c;
    let m = n % 50;
    const stepM = c % 50;
    let q = Math.floor((n * 1000) / rate);
    let rem = n * 1000 - q * rate;
    const dq = Math.floor((c * 1000) / rate);
    const dr = c * 1000 - dq * rate;
    const base = cfg.baseTimeMs;
    const total = this.total;
    let rows = 0;
    let { ids, ts, klo, khi, cap } = this;
    while (p < total && rows < maxRows) {
      if (m >= lo && m < hi) {
        if (rows === cap) {
          this.growKeep(rows + 1);
          ({ ids, ts, klo, khi, cap } = this);
        }
        ids[rows] = n;
        ts[rows] = base + q;
        const l = n >>> 0;
        klo[rows] = mixK(l);
        khi[rows] = mixK((n - l) * INV32);
        rows++;
      }
      p++;
      n += c;
      m += stepM;
      if (m >= 50) m -= 50;
      q += dq;
      rem += dr;
      if (rem >= rate) {
        rem -= rate;
        q++;
      }
    }
    this.pos = p;
    return rows;
  }

  private growKeep(n: number): void {
    const old = { ids: this.ids, ts: this.ts, klo: this.klo, khi: this.khi };
    const len = this.cap;
    this.grow(n);
    this.ids.set(old.ids.subarray(0, len));
    this.ts.set(old.ts.subarray(0, len));
    this.klo.set(old.klo.subarray(0, len));
    this.khi.set(old.khi.subarray(0, len));
  }

  private column(col: ColId, rows: number): Column {
    switch (col) {
      case 'dateTime':
        return this.i64Col('timestamp', rows, this.ts);
      case 'p.id':
      case 'a.id':
        return this.idCol(col, rows);
      case 'b.auction':
        return this.bidAuction(rows);
      case 'b.bidder':
        return this.bidBidder(rows);
      case 'b.price':
        return this.priceCol(rows, S_B_PRICE, -1);
      case 'a.initialBid':
        return this.priceCol(rows, S_A_INITIAL, -1);
      case 'a.reserve':
        return this.priceCol(rows, S_A_INITIAL, S_A_RESERVE);
      case 'a.expires':
        return this.expires(rows);
      case 'a.seller':
        return this.seller(rows);
      case 'a.category':
        return this.category(rows);
      case 'p.name':
        return this.tableCol(NAMES, rows, S_P_NAME);
      case 'p.city':
        return this.tableCol(CITIES, rows, S_P_CITY);
      case 'p.state':
        return this.tableCol(STATES, rows, S_P_STATE);
      case 'b.channel':
        return this.chanCol(channels().channels, rows);
      case 'b.url':
        return this.chanCol(channels().urls, rows);
      case 'p.emailAddress':
        return this.email(rows);
      case 'p.creditCard':
        return this.card(rows);
      case 'a.itemName':
        return this.stringCol(rows, S_A_NAME, 20);
      case 'a.description':
        return this.stringCol(rows, S_A_DESC, 100);
      case 'p.extra':
      case 'a.extra':
      case 'b.extra':
        return this.extra(col, rows);
    }
  }

  private i64Col(type: 'i64' | 'timestamp', rows: number, src: Float64Array): Column {
    const values = this.i64s(rows);
    const v32 = i32View(values);
    for (let i = 0; i < rows; i++) setI64(v32, i, src[i]!);
    return { type, values, validity: null };
  }

  private idCol(col: 'p.id' | 'a.id', rows: number): Column {
    const out = this.tmpF64(rows);
    const ids = this.ids;
    if (col === 'p.id') for (let i = 0; i < rows; i++) out[i] = lastBase0PersonId(ids[i]!) + FIRST_PERSON_ID;
    else for (let i = 0; i < rows; i++) out[i] = lastBase0AuctionId(ids[i]!) + FIRST_AUCTION_ID;
    return this.i64Col('i64', rows, out);
  }

  private f64Scratch = new Float64Array(0);
  private tmpF64(rows: number): Float64Array {
    if (this.f64Scratch.length < rows) this.f64Scratch = new Float64Array(Math.max(rows, this.cap));
    return this.f64Scratch;
  }

  private bidAuction(rows: number): Column {
    const values = this.i64s(rows);
    fillBidAuctions(i32View(values), streamSeed(this.seed, S_B_AUCTION), this.ids, this.klo, this.khi, rows);
    return { type: 'i64', values, validity: null };
  }

  private bidBidder(rows: number): Column {
    const values = this.i64s(rows);
    const v32 = i32View(values);
    const ss = streamSeed(this.seed, S_B_BIDDER);
    const { ids, klo, khi } = this;
    for (let i = 0; i < rows; i++) {
      const x = draw(ss, klo[i]!, khi[i]!);
      const t = x * HOT_BIDDERS_RATIO;
      const hot = Math.floor(t * INV32);
      const last = lastBase0PersonId(ids[i]!);
      let b: number;
      if (hot > 0) b = Math.floor(last / HOT_BLOCK) * HOT_BLOCK + 1;
      else {
        const num = last + 1;
        const active = Math.min(num, NUM_ACTIVE_PEOPLE);
        b = num - active + Math.floor((t - hot * TWO32) * (active + PERSON_ID_LEAD) * INV32);
      }
      setI64(v32, i, b + FIRST_PERSON_ID);
    }
    return { type: 'i64', values, validity: null };
  }

  private seller(rows: number): Column {
    const values = this.i64s(rows);
    const v32 = i32View(values);
    const ss = streamSeed(this.seed, S_A_SELLER);
    const { ids, klo, khi } = this;
    for (let i = 0; i < rows; i++) {
      const x = draw(ss, klo[i]!, khi[i]!);
      const t = x * HOT_SELLERS_RATIO;
      const hot = Math.floor(t * INV32);
      const last = lastBase0PersonId(ids[i]!);
      let s: number;
      if (hot > 0) s = Math.floor(last / HOT_BLOCK) * HOT_BLOCK;
      else {
        const num = last + 1;
        const active = Math.min(num, NUM_ACTIVE_PEOPLE);
        s = num - active + Math.floor((t - hot * TWO32) * (active + PERSON_ID_LEAD) * INV32);
      }
      setI64(v32, i, s + FIRST_PERSON_ID);
    }
    return { type: 'i64', values, validity: null };
  }

  private category(rows: number): Column {
    const values = this.i64s(rows);
    const v32 = i32View(values);
    const ss = streamSeed(this.seed, S_A_CATEGORY);
    const { klo, khi } = this;
    for (let i = 0; i < rows; i++) {
      v32[2 * i] = FIRST_CATEGORY_ID + digit0(draw(ss, klo[i]!, khi[i]!), NUM_CATEGORIES);
      v32[2 * i + 1] = 0;
    }
    return { type: 'i64', values, validity: null };
  }

  /** Prices of stream `s`, plus those of stream `s2` when >= 0 (reserve = initial + next). */
  private priceCol(rows: number, s: number, s2: number): Column {
    const values = this.i64s(rows);
    fillPrices(i32View(values), streamSeed(this.seed, s), s2 < 0 ? 0 : streamSeed(this.seed, s2), s2 >= 0, this.klo, this.khi, rows);
    return { type: 'i64', values, validity: null };
  }


  private expires(rows: number): Column {
    const values = this.i64s(rows);
    const v32 = i32View(values);
    const ss = streamSeed(this.seed, S_A_EXPIRES);
    const ss2 = streamSeed(this.seed, S_A_EXPIRES2);
    const { ids, ts, klo, khi } = this;
    const cfg = this.config;
    for (let i = 0; i < rows; i++) {
      const t = ts[i]!;
      const horizon = timestamp(cfg, ids[i]! + EVENTS_FOR_AUCTIONS) - t;
      const n = Math.max(horizon * 2, 1);
      const a = draw(ss, klo[i]!, khi[i]!);
      let len: number;
      if (n <= 2097152) len = digit0(a, n);
      else len = ((a >>> 11) * TWO32 + draw(ss2, klo[i]!, khi[i]!)) % n;
      setI64(v32, i, t + 1 + len);
    }
    return { type: 'timestamp', values, validity: null };
  }

  private utf8(offsets: Int32Array, data: Uint8Array, end: number): Column {
    // A lent buffer is reused anyway; a fresh one mostly unused is not kept whole.
    const d = this.lease !== undefined || end >= data.length >>> 1 ? data.subarray(0, end) : data.slice(0, end);
    return { type: 'utf8', offsets, data: d, validity: null };
  }

  /** A column of strings from a list; the index is the first digit of the stream's draw. */
  private tableCol(t: StrTable, rows: number, s: number): Column {
    const ss = streamSeed(this.seed, s);
    const { klo, khi } = this;
    const offsets = this.offsetsFor(rows);
    const data = this.bytes(rows * t.maxLen + 8);
    const dst = viewOf(data);
    const src = t.view;
    const so = t.offsets;
    const n = t.lens.length;
    let p = 0;
    for (let i = 0; i < rows; i++) {
      let idx: number;
      if (s === S_P_NAME) {
        chain = draw(ss, klo[i]!, khi[i]!);
        const f = digitNext(FIRST_NAMES.length);
        idx = f * LAST_NAMES.length + digitNext(LAST_NAMES.length);
      } else idx = digit0(draw(ss, klo[i]!, khi[i]!), n);
      const s0 = so[idx]!;
      const l = so[idx + 1]! - s0;
      copyPieces(dst, p, src, s0, l);
      p += l;
      offsets[i + 1] = p;
    }
    return this.utf8(offsets, data, p);
  }

  private channelIndexes(rows: number): void {
    const ss = streamSeed(this.seed, S_B_CHANNEL);
    const { klo, khi, chan } = this;
    for (let i = 0; i < rows; i++) {
      const x = draw(ss, klo[i]!, khi[i]!);
      const t = x * HOT_CHANNELS_RATIO;
      const hot = Math.floor(t * INV32);
      const r = t - hot * TWO32;
      chan[i] = hot > 0 ? Math.floor(r * NUM_HOT_CHANNELS * INV32) : NUM_HOT_CHANNELS + Math.floor(r * CHANNELS_NUMBER * INV32);
    }
  }

  private chanCol(t: StrTable, rows: number): Column {
    const chan = this.chan;
    const offsets = this.offsetsFor(rows);
    const lens = t.lens;
    let bytes = 0;
    for (let i = 0; i < rows; i++) {
      bytes += lens[chan[i]!]!;
      offsets[i + 1] = bytes;
    }
    const data = this.bytes(bytes + 8);
    const dst = viewOf(data);
    const src = t.view;
    const so = t.offsets;
    for (let i = 0, p = 0; i < rows; i++) {
      const c = chan[i]!;
      const s0 = so[c]!;
      const l = so[c + 1]! - s0;
      copyPieces(dst, p, src, s0, l);
      p += l;
    }
    return this.utf8(offsets, data, bytes);
  }

  private email(rows: number): Column {
    const ss1 = streamSeed(this.seed, S_P_EMAIL1);
    const ss2 = streamSeed(this.seed, S_P_EMAIL2);
    const { klo, khi } = this;
    const offsets = this.offsetsFor(rows);
    const data = this.bytes(rows * 15);
    let p = 0;
    for (let i = 0; i < rows; i++) {
      p = pushString(draw(ss1, klo[i]!, khi[i]!), 7, data, p);
      data[p++] = 64; // @
      p = pushString(draw(ss2, klo[i]!, khi[i]!), 5, data, p);
      data[p] = 46; // .com
      data[p + 1] = 99;
      data[p + 2] = 111;
      data[p + 3] = 109;
      p += 4;
      offsets[i + 1] = p;
    }
    return this.utf8(offsets, data, p);
  }

  private card(rows: number): Column {
    const ss1 = streamSeed(this.seed, S_P_CARD1);
    const ss2 = streamSeed(this.seed, S_P_CARD2);
    const { klo, khi } = this;
    const offsets = this.offsetsFor(rows);
    const data = this.bytes(rows * 19);
    let p = 0;
    for (let i = 0; i < rows; i++) {
      for (let g = 0; g < 4; g++) {
        if (g === 0) chain = draw(ss1, klo[i]!, khi[i]!);
        else if (g === 2) chain = draw(ss2, klo[i]!, khi[i]!);
        let v = digitNext(10_000);
        if (g > 0) data[p++] = 32;
        for (let k = 3; k >= 0; k--) {
          const q = Math.floor(v / 10);
          data[p + k] = 48 + v - q * 10;
          v = q;
        }
        p += 4;
      }
      offsets[i + 1] = p;
    }
    return { type: 'utf8', offsets, data, validity: null };
  }

  private stringCol(rows: number, s: number, max: number): Column {
    const ss = streamSeed(this.seed, s);
    const { klo, khi } = this;
    const offsets = this.offsetsFor(rows);
    const data = this.bytes(rows * (max - 1) + 3);
    let p = 0;
    for (let i = 0; i < rows; i++) {
      p = pushString(draw(ss, klo[i]!, khi[i]!), max, data, p);
      offsets[i + 1] = p;
    }
    return this.utf8(offsets, data, p);
  }

  /** Beam's size estimate of a person without extra (untrimmed string lengths). */
  private personSize(i: number): number {
    const { klo, khi } = this;
    const seed = this.seed;
    chain = draw(streamSeed(seed, S_P_NAME), klo[i]!, khi[i]!);
    const f = digitNext(FIRST_NAMES.length);
    const name = NAMES.lens[f * LAST_NAMES.length + digitNext(LAST_NAMES.length)]!;
    const email =
      stringLen(draw(streamSeed(seed, S_P_EMAIL1), klo[i]!, khi[i]!), 7) + 1 + stringLen(draw(streamSeed(seed, S_P_EMAIL2), klo[i]!, khi[i]!), 5) + 4;
    const city = CITIES.lens[digit0(draw(streamSeed(seed, S_P_CITY), klo[i]!, khi[i]!), US_CITIES.length)]!;
    return 8 + name + email + 19 + city + 2;
  }

  private auctionSize(i: number): number {
    const { klo, khi } = this;
    const seed = this.seed;
    return 8 + stringLen(draw(streamSeed(seed, S_A_NAME), klo[i]!, khi[i]!), 20) + stringLen(draw(streamSeed(seed, S_A_DESC), klo[i]!, khi[i]!), 100) + 40;
  }

  private extra(col: 'p.extra' | 'a.extra' | 'b.extra', rows: number): Column {
    const s = col === 'p.extra' ? S_P_EXTRA : col === 'a.extra' ? S_A_EXTRA : S_B_EXTRA;
    const avg = col === 'p.extra' ? AVG_PERSON_BYTES : col === 'a.extra' ? AVG_AUCTION_BYTES : AVG_BID_BYTES;
    const ss = streamSeed(this.seed, s);
    const { klo, khi } = this;
    const h = this.tmp;
    const offsets = this.offsetsFor(rows);
    // Pass 1: sizes, so the buffer is exact.
    let bytes = 0;
    for (let i = 0; i < rows; i++) {
      const x = draw(ss, klo[i]!, khi[i]!);
      h[i] = x;
      const current = col === 'b.extra' ? BID_SIZE : col === 'p.extra' ? this.personSize(i) : this.auctionSize(i);
      bytes += extraLen(x, current, avg);
      offsets[i + 1] = bytes;
    }
    // Pass 2: letters (16 per word; the last word may spill up to 15 bytes, overwritten next).
    const buf = this.bytes(bytes + 16);
    const view = viewOf(buf);
    for (let i = 0; i < rows; i++) {
      const p = offsets[i]!;
      writeExtra(h[i]!, offsets[i + 1]! - p, view, p);
    }
    return { type: 'utf8', offsets, data: buf.subarray(0, bytes), validity: null };
  }
}

/** The kind of event `eventId` (by `eventId % 50`). */
export function nexmarkKindOf(eventId: number): NexmarkKind {
  const m = eventId % 50;
  return m < 1 ? 'person' : m < 4 ? 'auction' : 'bid';
}

