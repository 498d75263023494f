//! Deterministic Nexmark event generator (people, auctions, bids), columnar and fast.
//!
//! Follows Apache Beam's Nexmark generator (`sources/generator/`): the 1:3:46 event mix by
//! `eventId % 50`, Beam's id formulas (`lastBase0PersonId + 1000`, `lastBase0AuctionId + 1000`),
//! hot sellers / auctions / bidders, log-uniform prices, `nextString` / `nextExtra` strings, and
//! Flink's channel / url bid fields. Instead of a `java.util.Random` seeded per event, every
//! random draw is a pure function of (seed, eventId, stream):
//!
//! `draw = murmur3_u64(eventId, seed ^ stream * 0x9E3779B9)` (u32 wrapping math)
//!
//! so any column can be generated alone (projection), any event from its id alone (seek,
//! parallel splits), and the TypeScript twin (`ts/engine/ts/nexmark.ts`) produces identical
//! bytes: only u32 integer math, integers below 2^53, and f64 `+ - * /` and floor in a fixed
//! order (no `powf`/`exp`/`round`, no FMA).
//!
//! Integers are taken from a draw `x` as mixed-radix digits: `digit(x, n) = (x * n) >> 32`,
//! keeping `x = (x * n) mod 2^32` for the next digit (n <= 2^21). Strings take several
//! characters per 32-bit word, words being `fmix32(h + k * 0x9E3779B9)` for k = 1, 2, ...
//! where `h` is the field's draw: `nextString` fields (names, descriptions, emails) 3
//! characters per word as base-338 digits (1 in 13 a space); the `extra` padding 16 letters
//! per word as two 13-bit indexes into a fixed table of 8-letter random blocks (speed: a
//! hash per 16 bytes and 8-byte copies).
//!
//! Differences from Beam, all deliberate: the record-size estimate behind `extra` uses the
//! untrimmed lengths of the random strings (so `extra` can be generated without them); the
//! `extra` letters come from the block table rather than one draw per letter; channel urls
//! are a fixed function of the channel number (Flink caches random ones per process).
//!
//! Timeline: event number `n` (the event id) happens at
//! `baseTimeMs + floor(n * 1000 / ratePerSec)`. Split `i` of `c` generates event numbers
//! `i, i + c, i + 2c, ...` below `event_count`, so the splits partition the single-generator
//! stream exactly.

use std::sync::{Arc, OnceLock};

use crate::batch::{Column, ColumnData, DataType, Field, RecordBatch, Schema, SchemaRef};
use crate::calc::Calc;
use crate::error::{Error, Result};
use crate::hash::{fmix32, murmur3_u32, murmur3_u64};
use crate::wide::{wide, Loop};

// ---------------------------------------------------------------------------------------------
// Constants (Beam's defaults)

pub const FIRST_PERSON_ID: u64 = 1000;
pub const FIRST_AUCTION_ID: u64 = 1000;
pub const FIRST_CATEGORY_ID: u64 = 10;

const PERSON_PROPORTION: u64 = 1;
const AUCTION_PROPORTION: u64 = 3;
const PROPORTION_DENOMINATOR: u64 = 50;

/// P(hot) = 1 - 1/ratio (Beam's configurable hot*Ratio defaults).
const HOT_AUCTION_RATIO: u32 = 2;
const HOT_SELLERS_RATIO: u32 = 4;
const HOT_BIDDERS_RATIO: u32 = 4;
/// Hot ids are the first (sellers, auctions) or second (bidders) of each block of 100.
const HOT_BLOCK: u64 = 100;

const NUM_ACTIVE_PEOPLE: u64 = 1000;
const NUM_IN_FLIGHT_AUCTIONS: u64 = 100;
const PERSON_ID_LEAD: u64 = 10;
const AUCTION_ID_LEAD: u64 = 10;
const NUM_CATEGORIES: u32 = 5;
/// Events until `NUM_IN_FLIGHT_AUCTIONS` more auctions exist: the auction-length horizon.
const EVENTS_FOR_AUCTIONS: u64 = NUM_IN_FLIGHT_AUCTIONS * PROPORTION_DENOMINATOR / AUCTION_PROPORTION;

const AVG_PERSON_BYTES: u32 = 200;
const AVG_AUCTION_BYTES: u32 = 500;
const AVG_BID_BYTES: u32 = 100;

const HOT_CHANNELS_RATIO: u32 = 2;
const CHANNELS_NUMBER: u32 = 10_000;
const NUM_HOT_CHANNELS: u32 = 4;

/// Largest accepted `event_count` (and split count): keeps `eventNumber * 1000` below 2^53,
/// so the TypeScript twin computes timestamps exactly.
pub const MAX_EVENT_COUNT: u64 = 1 << 43;
/// Largest accepted |base_time_ms| (same reason).
pub const MAX_BASE_TIME_MS: i64 = 1 << 47;

const GOLDEN: u32 = 0x9E37_79B9;
/// Seed of the channel/url tables: fixed, so they are the same for every generator seed (as
/// in Flink, where they are process-wide).
const URL_SEED: u32 = 0x4E58_4D4B;

// Random streams (one per field and draw).
const S_P_NAME: u32 = 1;
const S_P_EMAIL1: u32 = 2;
const S_P_EMAIL2: u32 = 3;
const S_P_CARD1: u32 = 4;
const S_P_CARD2: u32 = 5;
const S_P_CITY: u32 = 6;
const S_P_STATE: u32 = 7;
const S_P_EXTRA: u32 = 8;
const S_A_SELLER: u32 = 11;
const S_A_CATEGORY: u32 = 12;
const S_A_INITIAL: u32 = 13;
const S_A_RESERVE: u32 = 14;
const S_A_EXPIRES: u32 = 15;
const S_A_EXPIRES2: u32 = 16;
const S_A_NAME: u32 = 17;
const S_A_DESC: u32 = 18;
const S_A_EXTRA: u32 = 19;
const S_B_AUCTION: u32 = 21;
const S_B_BIDDER: u32 = 22;
const S_B_PRICE: u32 = 23;
const S_B_CHANNEL: u32 = 24;
const S_B_EXTRA: u32 = 25;

const FIRST_NAMES: [&str; 11] =
    ["Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"];
const LAST_NAMES: [&str; 9] = ["Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"];
const US_CITIES: [&str; 10] =
    ["Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"];
const US_STATES: [&str; 6] = ["AZ", "CA", "ID", "OR", "WA", "WY"];
const HOT_CHANNELS: [&str; 4] = ["Google", "Facebook", "Baidu", "Apple"];

// ---------------------------------------------------------------------------------------------
// Public types

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    Person,
    Auction,
    Bid,
}

impl EventKind {
    pub fn parse(s: &str) -> Result<EventKind> {
        match s.to_ascii_lowercase().as_str() {
            "person" => Ok(EventKind::Person),
            "auction" => Ok(EventKind::Auction),
            "bid" => Ok(EventKind::Bid),
            _ => Err(Error::config(format!("unknown Nexmark event kind '{s}'; use one of person, auction, bid"))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            EventKind::Person => "person",
            EventKind::Auction => "auction",
            EventKind::Bid => "bid",
        }
    }

    /// The kind of event `event_id` (by `event_id % 50`).
    #[inline]
    pub fn of_event(event_id: u64) -> EventKind {
        let m = event_id % PROPORTION_DENOMINATOR;
        if m < PERSON_PROPORTION {
            EventKind::Person
        } else if m < PERSON_PROPORTION + AUCTION_PROPORTION {
            EventKind::Auction
        } else {
            EventKind::Bid
        }
    }

    /// `[lo, hi)` of `eventId % 50` for this kind.
    fn residues(self) -> (u64, u64) {
        match self {
            EventKind::Person => (0, PERSON_PROPORTION),
            EventKind::Auction => (PERSON_PROPORTION, PERSON_PROPORTION + AUCTION_PROPORTION),
            EventKind::Bid => (PERSON_PROPORTION + AUCTION_PROPORTION, PROPORTION_DENOMINATOR),
        }
    }
}

#[derive(Clone, Debug)]
pub struct NexmarkConfig {
    pub seed: u32,
    /// Events of the whole timeline (all kinds, all splits).
    pub event_count: u64,
    pub rate_per_sec: u64,
    pub base_time_ms: i64,
    pub split_index: u64,
    pub split_count: u64,
}

impl Default for NexmarkConfig {
    fn default() -> Self {
        NexmarkConfig {
            seed: 42,
            event_count: 10_000_000,
            rate_per_sec: 10_000,
            base_time_ms: 1_436_918_400_000, // 2015-07-15T00:00:00Z
            split_index: 0,
            split_count: 1,
        }
    }
}

impl NexmarkConfig {
    pub fn validate(&self) -> Result<()> {
        if self.rate_per_sec == 0 || self.rate_per_sec > MAX_EVENT_COUNT {
            return Err(Error::config(format!(
                "Nexmark ratePerSec must be between 1 and {MAX_EVENT_COUNT}, got {}",
                self.rate_per_sec
            )));
        }
        if self.event_count > MAX_EVENT_COUNT {
            return Err(Error::config(format!(
                "Nexmark eventCount must be at most {MAX_EVENT_COUNT} (2^43), got {}",
                self.event_count
            )));
        }
        if self.base_time_ms.unsigned_abs() > MAX_BASE_TIME_MS as u64 {
            return Err(Error::config(format!(
                "Nexmark baseTimeMs must be within ±{MAX_BASE_TIME_MS} (2^47), got {}",
                self.base_time_ms
            )));
        }
        if self.split_count == 0 || self.split_count > MAX_EVENT_COUNT {
            return Err(Error::config(format!(
                "Nexmark splitCount must be between 1 and {MAX_EVENT_COUNT}, got {}",
                self.split_count
            )));
        }
        if self.split_index >= self.split_count {
            return Err(Error::config(format!(
                "Nexmark splitIndex must be below splitCount ({}), got {}",
                self.split_count, self.split_index
            )));
        }
        Ok(())
    }

    /// Events this split generates: event numbers `split_index + k * split_count < event_count`.
    pub fn split_event_count(&self) -> u64 {
        if self.event_count <= self.split_index {
            0
        } else {
            (self.event_count - self.split_index - 1) / self.split_count + 1
        }
    }

    /// Event time (ms) of event number `n`.
    #[inline]
    pub fn timestamp(&self, n: u64) -> i64 {
        self.base_time_ms + (n * 1000 / self.rate_per_sec) as i64
    }
}

/// The full schema of one event kind.
pub fn schema(kind: EventKind) -> Schema {
    Schema::new(
        cols_of(kind)
            .iter()
            .map(|&c| {
                let (name, t) = c.spec();
                Field::new(name, t)
            })
            .collect(),
    )
}

// ---------------------------------------------------------------------------------------------
// Columns

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Col {
    PId,
    PName,
    PEmail,
    PCard,
    PCity,
    PState,
    PDateTime,
    PExtra,
    AId,
    AItemName,
    ADescription,
    AInitialBid,
    AReserve,
    ADateTime,
    AExpires,
    ASeller,
    ACategory,
    AExtra,
    BAuction,
    BBidder,
    BPrice,
    BChannel,
    BUrl,
    BDateTime,
    BExtra,
}

const PERSON_COLS: [Col; 8] =
    [Col::PId, Col::PName, Col::PEmail, Col::PCard, Col::PCity, Col::PState, Col::PDateTime, Col::PExtra];
const AUCTION_COLS: [Col; 10] = [
    Col::AId,
    Col::AItemName,
    Col::ADescription,
    Col::AInitialBid,
    Col::AReserve,
    Col::ADateTime,
    Col::AExpires,
    Col::ASeller,
    Col::ACategory,
    Col::AExtra,
];
const BID_COLS: [Col; 7] =
    [Col::BAuction, Col::BBidder, Col::BPrice, Col::BChannel, Col::BUrl, Col::BDateTime, Col::BExtra];

fn cols_of(kind: EventKind) -> &'static [Col] {
    match kind {
        EventKind::Person => &PERSON_COLS,
        EventKind::Auction => &AUCTION_COLS,
        EventKind::Bid => &BID_COLS,
    }
}

impl Col {
    fn spec(self) -> (&'static str, DataType) {
        use DataType::*;
        match self {
            Col::PId => ("id", I64),
            Col::PName => ("name", Utf8),
            Col::PEmail => ("emailAddress", Utf8),
            Col::PCard => ("creditCard", Utf8),
            Col::PCity => ("city", Utf8),
            Col::PState => ("state", Utf8),
            Col::PDateTime | Col::ADateTime | Col::BDateTime => ("dateTime", Timestamp),
            Col::PExtra | Col::AExtra | Col::BExtra => ("extra", Utf8),
            Col::AId => ("id", I64),
            Col::AItemName => ("itemName", Utf8),
            Col::ADescription => ("description", Utf8),
            Col::AInitialBid => ("initialBid", I64),
            Col::AReserve => ("reserve", I64),
            Col::AExpires => ("expires", Timestamp),
            Col::ASeller => ("seller", I64),
            Col::ACategory => ("category", I64),
            Col::BAuction => ("auction", I64),
            Col::BBidder => ("bidder", I64),
            Col::BPrice => ("price", I64),
            Col::BChannel => ("channel", Utf8),
            Col::BUrl => ("url", Utf8),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Random draws

#[inline(always)]
fn draw(seed: u32, id: u64, stream: u32) -> u32 {
    murmur3_u64(id, seed ^ stream.wrapping_mul(GOLDEN))
}

/// `draw` of each of `ids`, on vector lanes (`wide`): the hash is most of the work of a bid's
/// auction, bidder and channel, and the rest of their work, scalar, keeps it scalar when fused.
fn draws(ids: &[u64], seed: u32, stream: u32) -> Vec<u32> {
    let mut out = vec![0; ids.len()];
    wide(Draws { ids, seed, stream, out: &mut out });
    out
}

/// The loop of `draws`, into a slice: a collecting loop is not inlined into `wide`'s copies.
struct Draws<'a> {
    ids: &'a [u64],
    seed: u32,
    stream: u32,
    out: &'a mut [u32],
}

impl Loop for Draws<'_> {
    type Out = ();
    #[inline(always)]
    fn run(self) {
        for (o, &id) in self.out.iter_mut().zip(self.ids) {
            *o = draw(self.seed, id, self.stream);
        }
    }
}

/// Next mixed-radix digit in `[0, n)` of `x` (n <= 2^21); `x` keeps the remaining fraction.
#[inline(always)]
fn digit(x: &mut u32, n: u32) -> u32 {
    let t = *x as u64 * n as u64;
    *x = t as u32;
    (t >> 32) as u32
}

/// Word `k` (k >= 1) of a string whose field draw is `h`.
#[inline(always)]
fn word(h: u32, k: u32) -> u32 {
    fmix32(h.wrapping_add(k.wrapping_mul(GOLDEN)))
}

/// Uniform in `[0, n)` for any n < 2^53 from two draws.
#[inline]
fn uniform_big(a: u32, b: u32, n: u64) -> u64 {
    if n <= 1 << 21 {
        let mut x = a;
        digit(&mut x, n as u32) as u64
    } else {
        ((((a >> 11) as u64) << 32) | b as u64) % n
    }
}

// ---------------------------------------------------------------------------------------------
// Prices: round(10^(U * 6) * 100) with a portable pow10.

/// ln 10 as an f64 (the same double as JavaScript's `Math.LN10`).
const LN10: f64 = std::f64::consts::LN_10;
const EXP_TERMS: usize = 11;

struct PriceTables {
    /// 1/k! for k < EXP_TERMS.
    coef: [f64; EXP_TERMS],
    /// 10^(m/16) for m < 96, then zeros (128 entries: an index masked to 7 bits needs no
    /// bounds check).
    pow: [f64; 128],
}

/// exp(x) for 0 <= x < ln10/16 by a fixed Horner polynomial (Taylor, 11 terms).
#[inline(always)]
fn exp_small(coef: &[f64; EXP_TERMS], x: f64) -> f64 {
    let mut acc = coef[EXP_TERMS - 1];
    let mut k = EXP_TERMS - 1;
    while k > 0 {
        k -= 1;
        acc = acc * x + coef[k];
    }
    acc
}

fn price_tables() -> &'static PriceTables {
    static T: OnceLock<PriceTables> = OnceLock::new();
    T.get_or_init(|| {
        let mut coef = [0.0; EXP_TERMS];
        let mut fact = 1.0f64;
        for (k, c) in coef.iter_mut().enumerate() {
            if k > 0 {
                fact *= k as f64;
            }
            *c = 1.0 / fact;
        }
        let root = exp_small(&coef, LN10 / 16.0); // 10^(1/16)
        let mut frac = [0.0f64; 16];
        frac[0] = 1.0;
        for j in 1..16 {
            frac[j] = frac[j - 1] * root;
        }
        let mut pow = [0.0f64; 128];
        let mut ten = 1.0f64;
        for k in 0..6 {
            for j in 0..16 {
                pow[k * 16 + j] = ten * frac[j];
            }
            ten *= 10.0;
        }
        PriceTables { coef, pow }
    })
}

/// `round(10^(6 * r / 2^32) * 100)`: log-uniform in 100 ..= 1e8. The one-row form of
/// `Prices`, which the tests hold it to.
#[cfg(test)]
fn price_from(t: &PriceTables, r: u32) -> i64 {
    let y = r as f64 * (6.0 / 4294967296.0); // exact
    let s = y * 16.0; // exact
    let m = s as usize; // floor, 0..96
    let f = s - m as f64; // exact, [0, 1)
    let e = exp_small(&t.coef, f * (LN10 / 16.0));
    // floor of a positive value: truncation (`floor()` is a libm call without SSE4.1).
    (t.pow[m] * e * 100.0 + 0.5) as i64
}

/// `price_from` of each of the draws `rs`, added into `out` (zeros or earlier prices): the
/// same operations in the same order, split into passes over blocks of rows so the polynomial,
/// a chain of 20 dependent operations a row, runs on vector lanes (`wide`) instead of one row at
/// a time (it was half the generator's time for a bid's auction, price and dateTime).
struct Prices<'a> {
    t: &'a PriceTables,
    rs: &'a [u32],
    out: &'a mut [i64],
}

impl Loop for Prices<'_> {
    type Out = ();
    #[inline(always)]
    fn run(self) {
        const B: usize = 256;
        let t = self.t;
        let mut x = [0.0f64; B];
        let mut m = [0u32; B];
        for (rs, out) in self.rs.chunks(B).zip(self.out.chunks_mut(B)) {
            let n = rs.len();
            for ((&r, x), m) in rs.iter().zip(&mut x[..n]).zip(&mut m[..n]) {
                let s = r as f64 * (6.0 / 4294967296.0) * 16.0; // exact
                // floor, 0..96 (i32: a packed conversion on vector lanes, u32 is not).
                let k = s as i32;
                *m = k as u32;
                *x = (s - k as f64) * (LN10 / 16.0);
            }
            for x in &mut x[..n] {
                *x = exp_small(&t.coef, *x);
            }
            for ((o, &e), &k) in out.iter_mut().zip(&x[..n]).zip(&m[..n]) {
                // `& 127` (pow has 128 entries): no bounds check in the loop; k < 96 anyway.
                let v = t.pow[(k & 127) as usize] * e * 100.0 + 0.5;
                // The truncation `as i64` of `price_from`: `v` is positive, so its floor.
                *o += lane_i64(v.floor());
            }
        }
    }
}

/// The prices of `ids` from the draws of each of `streams`, summed per row.
fn price_column(ids: &[u64], seed: u32, streams: &[u32]) -> Vec<i64> {
    let t = price_tables();
    let mut out = vec![0i64; ids.len()];
    for &stream in streams {
        wide(Prices { t, rs: &draws(ids, seed, stream), out: &mut out });
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Strings

/// 338 symbols: 1 in 13 is `space`, the rest uniform over a-z (Beam's nextString).
fn sym_table(space: u8) -> [u8; 338] {
    let mut t = [0u8; 338];
    for (d, s) in t.iter_mut().enumerate() {
        *s = if d < 26 { space } else { b'a' + ((d - 26) % 26) as u8 };
    }
    t
}

fn syms() -> &'static [u8; 338] {
    static T: OnceLock<[u8; 338]> = OnceLock::new();
    T.get_or_init(|| sym_table(b' '))
}

/// Untrimmed length of `nextString(maxLen)` for field draw `h`: 3 ..= maxLen - 1.
#[inline(always)]
fn string_len(h: u32, max_len: u32) -> u32 {
    let mut x = h;
    3 + digit(&mut x, max_len - 3)
}

/// Writes the untrimmed `nextString` characters for draw `h` into `buf`, returns the length.
#[inline(always)]
fn string_chars(sym: &[u8; 338], h: u32, max_len: u32, buf: &mut [u8; 128]) -> usize {
    let len = string_len(h, max_len) as usize;
    for (k, chunk) in (1u32..).zip(buf[..len].chunks_mut(3)) {
        let w = word(h, k);
        for (j, b) in chunk.iter_mut().enumerate() {
            *b = sym[((w.wrapping_mul(POW338[j]) as u64 * 338) >> 32) as usize];
        }
    }
    len
}

/// Appends Beam's `nextString(maxLen)` (trimmed of spaces) for draw `h`.
#[inline(always)]
fn push_string(out: &mut Vec<u8>, sym: &[u8; 338], h: u32, max_len: u32) {
    let mut buf = [0u8; 128];
    let len = string_chars(sym, h, max_len, &mut buf);
    let mut s = 0;
    let mut e = len;
    while s < e && buf[s] == b' ' {
        s += 1;
    }
    while e > s && buf[e - 1] == b' ' {
        e -= 1;
    }
    out.extend_from_slice(&buf[s..e]);
}

/// Length of Beam's `nextExtra(currentSize, avg)`: avg - current ± 20%, or 0.
#[inline(always)]
fn extra_len(h: u32, current: u32, avg: u32) -> u32 {
    if current > avg {
        return 0;
    }
    let desired = avg - current;
    let delta = (2 * desired + 5) / 10; // round(desired * 0.2); never a tie
    let mut x = h;
    desired - delta + if delta == 0 { 0 } else { digit(&mut x, 2 * delta) }
}

/// `26^k mod 2^32`: the state of the digit chain of a word after k base-26 digits, so
/// `digit k of w = (w * 26^k mod 2^32) * 26 >> 32` and the 6 digits are independent.
const POW26: [u32; 6] = [1, 26, 676, 17_576, 456_976, 11_881_376];
/// The same for base 338 (3 digits).
const POW338: [u32; 3] = [1, 338, 114_244];

/// Base-26 digit `k` of word `w` as a letter.
#[inline(always)]
fn letter(w: u32, k: usize) -> u8 {
    b'a' + ((w.wrapping_mul(POW26[k]) as u64 * 26) >> 32) as u8
}

/// Blocks of 8 random letters for the padding strings (`extra`): 2^13 blocks (64 KiB), each
/// 32-bit word of an extra picks two, so a row costs a hash per 16 letters and one 8-byte copy
/// per 8 letters. Fixed seed: the same table for every generator.
const EXTRA_BLOCK_BITS: u32 = 13;
const EXTRA_BLOCKS: usize = 1 << EXTRA_BLOCK_BITS;
const EXTRA_SEED: u32 = 0x4558_5452;

fn extra_blocks() -> &'static [[u8; 8]] {
    static T: OnceLock<Vec<[u8; 8]>> = OnceLock::new();
    T.get_or_init(|| {
        (0..EXTRA_BLOCKS as u32)
            .map(|b| {
                let w0 = murmur3_u32(2 * b, EXTRA_SEED);
                let w1 = murmur3_u32(2 * b + 1, EXTRA_SEED);
                let mut out = [0u8; 8];
                for (j, c) in out.iter_mut().enumerate() {
                    *c = if j < 6 { letter(w0, j) } else { letter(w1, j - 6) };
                }
                out
            })
            .collect()
    })
}

/// The padding strings (`nextExtra`) of rows whose draws are `hs` and whose other fields take
/// `current(i)` bytes: random a-z in blocks of 8 letters, two blocks per word, the last word's
/// cut to the size. In two passes, the sizes and offsets first, then every word written in place
/// into data sized once: appending block by block made the vector's length a chain of stores
/// and loads through memory, which took most of the column's time.
fn extra_column(hs: &[u32], current: impl Fn(usize) -> u32, avg: u32) -> ColumnData {
    let blocks = extra_blocks();
    let mut offsets = Vec::with_capacity(hs.len() + 1);
    let mut end = 0i32;
    offsets.push(0);
    for (i, &h) in hs.iter().enumerate() {
        end += extra_len(h, current(i), avg) as i32;
        offsets.push(end);
    }
    // A row writes whole words and may run up to 15 bytes into the next row's place, which the
    // next row then writes over; the last one into the slack, cut off at the end. Written into
    // the vector's spare capacity, not over zeros first (the zero-fill was 6% of a generator
    // producing bids with extra).
    let mut data: Vec<u8> = Vec::with_capacity(end as usize + 16);
    let spare = &mut data.spare_capacity_mut()[..end as usize + 16];
    for (&h, at) in hs.iter().zip(offsets.windows(2)) {
        let words = ((at[1] - at[0]) as usize).div_ceil(16);
        let row = &mut spare[at[0] as usize..at[0] as usize + words * 16];
        for (k, pair) in (1..).zip(row.chunks_exact_mut(16)) {
            let w = word(h, k);
            pair[..8].write_copy_of_slice(&blocks[(w >> (32 - EXTRA_BLOCK_BITS)) as usize]);
            pair[8..].write_copy_of_slice(&blocks[((w >> (32 - 2 * EXTRA_BLOCK_BITS)) as usize) & (EXTRA_BLOCKS - 1)]);
        }
    }
    // SAFETY: bytes 0..end are initialised: row i wrote from offsets[i] to at least offsets[i + 1]
    // (whole 16-byte pairs covering its length), and offsets[0] = 0, so the rows' writes cover
    // 0..end without a gap.
    unsafe { data.set_len(end as usize) };
    ColumnData::Utf8 { offsets, data }
}

/// Strings from a fixed list, each padded to `W` bytes so a copy has a constant length
/// (inlined moves instead of a `memcpy` call per row).
struct StrTable<const W: usize> {
    padded: Vec<[u8; W]>,
    lens: Vec<u32>,
}

impl<const W: usize> StrTable<W> {
    fn new() -> Self {
        StrTable { padded: Vec::new(), lens: Vec::new() }
    }
    fn push(&mut self, s: &[u8]) {
        assert!(s.len() <= W, "table string longer than {W}");
        let mut p = [0u8; W];
        p[..s.len()].copy_from_slice(s);
        self.padded.push(p);
        self.lens.push(s.len() as u32);
    }
    #[inline(always)]
    fn len_of(&self, i: usize) -> usize {
        self.lens[i] as usize
    }
}

struct Tables {
    /// "First Last", index first * 9 + last.
    names: StrTable<16>,
    cities: StrTable<16>,
    states: StrTable<16>,
    /// Index 0..4: the hot channels; 4 + n: "channel-n".
    channels: StrTable<16>,
    urls: StrTable<80>,
}

/// Flink's url: `https://www.nexmark.com/<s>/<s>/<s>/item.htm?query=1`, each `<s>` a
/// `nextString(5)` with `_` for space; 90% of the non-hot channels' urls add
/// `&channel_id=<abs(Integer.reverse(n))>`. Derived from the channel index with a fixed seed.
fn channel_url(index: u32, sym: &[u8; 338]) -> Vec<u8> {
    let mut u = b"https://www.nexmark.com/".to_vec();
    for j in 0..3u32 {
        let h = murmur3_u32(index, URL_SEED ^ (j + 1).wrapping_mul(GOLDEN));
        let mut buf = [0u8; 128];
        let len = string_chars(sym, h, 5, &mut buf);
        u.extend_from_slice(&buf[..len]);
        u.push(b'/');
    }
    u.extend_from_slice(b"item.htm?query=1");
    if index >= NUM_HOT_CHANNELS {
        let n = index - NUM_HOT_CHANNELS;
        let mut x = murmur3_u32(index, URL_SEED ^ 4u32.wrapping_mul(GOLDEN));
        if digit(&mut x, 10) > 0 {
            let id = (n.reverse_bits() as i32).wrapping_abs();
            u.extend_from_slice(format!("&channel_id={id}").as_bytes());
        }
    }
    u
}

fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(|| {
        let mut names = StrTable::new();
        for f in FIRST_NAMES {
            for l in LAST_NAMES {
                names.push(format!("{f} {l}").as_bytes());
            }
        }
        let mut cities = StrTable::new();
        for c in US_CITIES {
            cities.push(c.as_bytes());
        }
        let mut states = StrTable::new();
        for s in US_STATES {
            states.push(s.as_bytes());
        }
        let usym = sym_table(b'_');
        let mut channels = StrTable::new();
        let mut urls = StrTable::new();
        for i in 0..NUM_HOT_CHANNELS + CHANNELS_NUMBER {
            if i < NUM_HOT_CHANNELS {
                channels.push(HOT_CHANNELS[i as usize].as_bytes());
            } else {
                channels.push(format!("channel-{}", i - NUM_HOT_CHANNELS).as_bytes());
            }
            urls.push(&channel_url(i, &usym));
        }
        Tables { names, cities, states, channels, urls }
    })
}

// ---------------------------------------------------------------------------------------------
// Ids (Beam's formulas)

/// Last person id (base 0) at `event_id`; the current one for a person event.
#[inline(always)]
fn last_base0_person_id(event_id: u64) -> u64 {
    let epoch = event_id / PROPORTION_DENOMINATOR;
    let mut offset = event_id % PROPORTION_DENOMINATOR;
    if offset >= PERSON_PROPORTION {
        offset = PERSON_PROPORTION - 1;
    }
    epoch * PERSON_PROPORTION + offset
}

/// Last auction id (base 0) at `event_id`; the current one for an auction event. -1 before
/// the first auction.
#[inline(always)]
fn last_base0_auction_id(event_id: u64) -> i64 {
    let mut epoch = (event_id / PROPORTION_DENOMINATOR) as i64;
    let mut offset = (event_id % PROPORTION_DENOMINATOR) as i64;
    if offset < PERSON_PROPORTION as i64 {
        epoch -= 1;
        offset = AUCTION_PROPORTION as i64 - 1;
    } else if offset >= (PERSON_PROPORTION + AUCTION_PROPORTION) as i64 {
        offset = AUCTION_PROPORTION as i64 - 1;
    } else {
        offset -= PERSON_PROPORTION as i64;
    }
    epoch * AUCTION_PROPORTION as i64 + offset
}

/// A random active person (base 0), up to 10 ids ahead.
#[inline(always)]
fn next_base0_person_id(event_id: u64, x: &mut u32) -> u64 {
    let num_people = last_base0_person_id(event_id) + 1;
    let active = num_people.min(NUM_ACTIVE_PEOPLE);
    num_people - active + digit(x, (active + PERSON_ID_LEAD) as u32) as u64
}

/// A random in-flight auction (base 0), up to 10 ids ahead of `max`, the last auction id.
#[cfg(test)]
fn next_auction_after(max: i64, x: &mut u32) -> i64 {
    let min = (max - NUM_IN_FLIGHT_AUCTIONS as i64).max(0);
    min + digit(x, (max - min + 1 + AUCTION_ID_LEAD as i64) as u32) as i64
}

#[inline(always)]
fn person_id(id: u64) -> i64 {
    (last_base0_person_id(id) + FIRST_PERSON_ID) as i64
}

#[inline(always)]
fn auction_id(id: u64) -> i64 {
    last_base0_auction_id(id) + FIRST_AUCTION_ID as i64
}

/// A bid's auction from its draw `x`; `BidIds` computes the same on vector lanes, which the
/// tests hold to this.
#[cfg(test)]
fn bid_auction(mut x: u32, id: u64) -> i64 {
    let hot = digit(&mut x, HOT_AUCTION_RATIO) > 0;
    let last = last_base0_auction_id(id);
    let hot_id = (last / HOT_BLOCK as i64) * HOT_BLOCK as i64;
    let cold_id = next_auction_after(last, &mut x);
    (if hot { hot_id } else { cold_id }) + FIRST_AUCTION_ID as i64
}

/// A bid's bidder from its draw `x`, as `bid_auction`.
#[cfg(test)]
fn bid_bidder(mut x: u32, id: u64) -> i64 {
    let hot = digit(&mut x, HOT_BIDDERS_RATIO) > 0;
    let hot_id = (last_base0_person_id(id) / HOT_BLOCK) * HOT_BLOCK + 1;
    let cold_id = next_base0_person_id(id, &mut x);
    (if hot { hot_id } else { cold_id } + FIRST_PERSON_ID) as i64
}

/// 2^52: an integer below it is, as an f64, the bits of 2^52 plus the integer, less 2^52.
const TWO52: f64 = 4_503_599_627_370_496.0;

/// `x as f64` for x < 2^52, on vector lanes (AVX2 has no u64 -> f64 conversion).
#[inline(always)]
fn lane_f64(x: u64) -> f64 {
    f64::from_bits(TWO52.to_bits() + x) - TWO52
}

/// `f as i64` for an integral 0 <= f < 2^52, on vector lanes (AVX2 has no f64 -> i64 conversion).
#[inline(always)]
fn lane_i64(f: f64) -> i64 {
    ((f + TWO52).to_bits() - TWO52.to_bits()) as i64
}

/// `digit` on lanes: the next digit in `[0, n)` of `x` (n < 2^20), exact in f64 (x * n < 2^52,
/// and the division is by a power of two).
#[inline(always)]
fn lane_digit(x: u32, n: f64) -> f64 {
    (lane_f64(x as u64) * n * (1.0 / 4_294_967_296.0)).floor()
}

/// `event_id / PROPORTION_DENOMINATOR` and its remainder, of `f` = an event id as an f64. Exact:
/// ids are below 2^43 (`MAX_EVENT_COUNT`), so the quotient's rounding error, below 2^-10, cannot
/// carry a quotient at least 1/50 below an integer up to it.
#[inline(always)]
fn lane_epoch(f: f64) -> (f64, f64) {
    let e = (f / PROPORTION_DENOMINATOR as f64).floor();
    (e, f - e * PROPORTION_DENOMINATOR as f64)
}

/// A bid's auction or bidder (`AUCTION`) from its id: `bid_auction` and `bid_bidder`, their u64
/// divides and branches done as exact f64 operations and selects, so the loop runs on vector
/// lanes (the scalar form was most of the time of a bid's auction and bidder columns). Every
/// value is an integer below 2^52 at each step, so every f64 operation is exact.
struct BidIds<'a, const AUCTION: bool> {
    ids: &'a [u64],
    seed: u32,
    out: &'a mut [i64],
}

impl<const AUCTION: bool> Loop for BidIds<'_, AUCTION> {
    type Out = ();
    #[inline(always)]
    fn run(self) {
        let seed = self.seed;
        for (o, &id) in self.out.iter_mut().zip(self.ids) {
            let (e, off) = lane_epoch(lane_f64(id));
            *o = if AUCTION {
                let t = draw(seed, id, S_B_AUCTION) as u64 * HOT_AUCTION_RATIO as u64;
                // last_base0_auction_id
                let before = off < PERSON_PROPORTION as f64;
                let past = off >= (PERSON_PROPORTION + AUCTION_PROPORTION) as f64;
                let e = if before { e - 1.0 } else { e };
                let off = if before || past { (AUCTION_PROPORTION - 1) as f64 } else { off - PERSON_PROPORTION as f64 };
                let last = e * AUCTION_PROPORTION as f64 + off;
                // i64 division truncates: -1 (no auction yet) gives 0 (-0.0 here, the same sum).
                let hot_id = (last / HOT_BLOCK as f64).trunc() * HOT_BLOCK as f64;
                let min = (last - NUM_IN_FLIGHT_AUCTIONS as f64).max(0.0);
                let cold_id = min + lane_digit(t as u32, last - min + (1 + AUCTION_ID_LEAD) as f64);
                lane_i64(if t >> 32 > 0 { hot_id } else { cold_id } + FIRST_AUCTION_ID as f64)
            } else {
                let t = draw(seed, id, S_B_BIDDER) as u64 * HOT_BIDDERS_RATIO as u64;
                // last_base0_person_id
                let last = e * PERSON_PROPORTION as f64 + off.min((PERSON_PROPORTION - 1) as f64);
                let hot_id = (last / HOT_BLOCK as f64).floor() * HOT_BLOCK as f64 + 1.0;
                let people = last + 1.0;
                let active = people.min(NUM_ACTIVE_PEOPLE as f64);
                let cold_id = people - active + lane_digit(t as u32, active + PERSON_ID_LEAD as f64);
                lane_i64(if t >> 32 > 0 { hot_id } else { cold_id } + FIRST_PERSON_ID as f64)
            };
        }
    }
}

/// The auctions (`AUCTION`) or bidders of the bids `ids`.
fn bid_ids<const AUCTION: bool>(ids: &[u64], seed: u32) -> Vec<i64> {
    let mut out = vec![0; ids.len()];
    wide(BidIds::<AUCTION> { ids, seed, out: &mut out });
    out
}

/// Index into the channel tables.
#[inline(always)]
fn bid_channel(mut x: u32) -> usize {
    // Without a branch, as `bid_auction`: both digits are of the same remaining fraction.
    let hot = digit(&mut x, HOT_CHANNELS_RATIO) > 0;
    let (mut y, mut z) = (x, x);
    let hot_index = digit(&mut y, NUM_HOT_CHANNELS);
    let cold_index = NUM_HOT_CHANNELS + digit(&mut z, CHANNELS_NUMBER);
    std::hint::select_unpredictable(hot, hot_index, cold_index) as usize
}

#[inline(always)]
fn auction_seller(seed: u32, id: u64) -> i64 {
    let mut x = draw(seed, id, S_A_SELLER);
    let p = if digit(&mut x, HOT_SELLERS_RATIO) > 0 {
        (last_base0_person_id(id) / HOT_BLOCK) * HOT_BLOCK
    } else {
        next_base0_person_id(id, &mut x)
    };
    (p + FIRST_PERSON_ID) as i64
}

#[inline(always)]
fn auction_category(seed: u32, id: u64) -> i64 {
    let mut x = draw(seed, id, S_A_CATEGORY);
    (FIRST_CATEGORY_ID + digit(&mut x, NUM_CATEGORIES) as u64) as i64
}

#[inline(always)]
fn auction_expires(cfg: &NexmarkConfig, id: u64, ts: i64) -> i64 {
    let horizon = (cfg.timestamp(id + EVENTS_FOR_AUCTIONS) - ts) as u64;
    let n = (horizon * 2).max(1);
    let len = 1 + uniform_big(draw(cfg.seed, id, S_A_EXPIRES), draw(cfg.seed, id, S_A_EXPIRES2), n);
    ts + len as i64
}

#[inline(always)]
fn person_name_index(seed: u32, id: u64) -> usize {
    let mut x = draw(seed, id, S_P_NAME);
    let f = digit(&mut x, FIRST_NAMES.len() as u32);
    let l = digit(&mut x, LAST_NAMES.len() as u32);
    (f * LAST_NAMES.len() as u32 + l) as usize
}

#[inline(always)]
fn person_city_index(seed: u32, id: u64) -> usize {
    let mut x = draw(seed, id, S_P_CITY);
    digit(&mut x, US_CITIES.len() as u32) as usize
}

#[inline(always)]
fn person_state_index(seed: u32, id: u64) -> usize {
    let mut x = draw(seed, id, S_P_STATE);
    digit(&mut x, US_STATES.len() as u32) as usize
}

/// Beam's size estimate of a person without extra (untrimmed string lengths).
#[inline(always)]
fn person_size(t: &Tables, seed: u32, id: u64) -> u32 {
    let name = t.names.len_of(person_name_index(seed, id)) as u32;
    let email = string_len(draw(seed, id, S_P_EMAIL1), 7) + 1 + string_len(draw(seed, id, S_P_EMAIL2), 5) + 4;
    let city = t.cities.len_of(person_city_index(seed, id)) as u32;
    8 + name + email + 19 + city + 2
}

/// Beam's size estimate of an auction without extra (untrimmed string lengths).
#[inline(always)]
fn auction_size(seed: u32, id: u64) -> u32 {
    8 + string_len(draw(seed, id, S_A_NAME), 20) + string_len(draw(seed, id, S_A_DESC), 100) + 40
}

const BID_SIZE: u32 = 8 + 8 + 8 + 8;

#[inline(always)]
fn push_card(out: &mut Vec<u8>, seed: u32, id: u64) {
    let mut b = [b' '; 19];
    let mut g = 0;
    for s in [S_P_CARD1, S_P_CARD2] {
        let mut x = draw(seed, id, s);
        for _ in 0..2 {
            let mut v = digit(&mut x, 10_000);
            let p = g * 5;
            for k in (0..4).rev() {
                b[p + k] = b'0' + (v % 10) as u8;
                v /= 10;
            }
            g += 1;
        }
    }
    out.extend_from_slice(&b);
}

// ---------------------------------------------------------------------------------------------
// Generator

/// The ids and times of the events of residues `lo..hi` from `p` until `max_rows` or `total`,
/// for a kind most events are of (bids): every event is written to the next free slot and kept
/// by moving the length on, without a branch on its kind (the scan was a fifth of a bid
/// column's time with one). Slots are made in rounds of at most 2^16 rows: `max_rows` may be
/// huge. Returns the position after the scan. Not inlined: inlined next to `scan_sparse`, its
/// loop kept the clock in memory and lost its gain (so does a clock taken by reference).
#[inline(never)]
fn scan_dense(mut e: Clock, (lo, hi): (u64, u64), (mut p, total): (u64, u64), max_rows: usize, base: i64, ids: &mut Vec<u64>, ts: &mut Vec<i64>) -> u64 {
    let mut len = ids.len();
    while p < total && len < max_rows {
        let end = len + (max_rows - len).min(1 << 16);
        ids.resize(end, 0);
        ts.resize(end, 0);
        while p < total && len < end {
            ids[len] = e.n;
            ts[len] = base + e.q as i64;
            len += (e.m.wrapping_sub(lo) < hi - lo) as usize;
            e.advance();
            p += 1;
        }
        ids.truncate(len);
        ts.truncate(len);
    }
    p
}

/// `scan_dense` for a kind few events are of (persons, auctions): the branch on the kind is
/// nearly always not taken, which costs less than writing every event.
#[inline(never)]
fn scan_sparse(mut e: Clock, (lo, hi): (u64, u64), (mut p, total): (u64, u64), max_rows: usize, base: i64, ids: &mut Vec<u64>, ts: &mut Vec<i64>) -> u64 {
    while p < total && ids.len() < max_rows {
        if e.m >= lo && e.m < hi {
            ids.push(e.n);
            ts.push(base + e.q as i64);
        }
        e.advance();
        p += 1;
    }
    p
}

/// Where the scan is on the timeline: the event number, its residue in the proportions and its
/// time since the base time (`q` ms and `rem` / rate), moved on by one event of the split in
/// `advance` with additions only.
struct Clock {
    n: u64,
    m: u64,
    q: u64,
    rem: u64,
    c: u64,
    step_m: u64,
    dq: u64,
    dr: u64,
    rate: u64,
}

impl Clock {
    /// At the split's `p`-th event.
    #[inline(always)]
    fn at(cfg: &NexmarkConfig, p: u64) -> Clock {
        let (c, rate) = (cfg.split_count, cfg.rate_per_sec);
        let n = cfg.split_index + p * c;
        Clock {
            n,
            m: n % PROPORTION_DENOMINATOR,
            q: n * 1000 / rate,
            rem: n * 1000 % rate,
            c,
            step_m: c % PROPORTION_DENOMINATOR,
            dq: c * 1000 / rate,
            dr: c * 1000 % rate,
            rate,
        }
    }

    /// To the split's next event, without a branch.
    #[inline(always)]
    fn advance(&mut self) {
        self.n += self.c;
        self.m += self.step_m;
        self.m -= if self.m >= PROPORTION_DENOMINATOR { PROPORTION_DENOMINATOR } else { 0 };
        self.q += self.dq;
        self.rem += self.dr;
        let carry = self.rem >= self.rate;
        self.rem -= if carry { self.rate } else { 0 };
        self.q += carry as u64;
    }
}

/// Generates the events of one kind of one split of the timeline as record batches.
pub struct NexmarkGenerator {
    config: NexmarkConfig,
    kind: EventKind,
    cols: Vec<Col>,
    schema: SchemaRef,
    position: u64,
    total: u64,
    ids: Vec<u64>,
    filter: Option<PushedFilter>,
    /// With a filter: the highest event time the last batch scanned, dropped rows included.
    read_max: Option<i64>,
}

/// A filter applied as the rows are generated (filter pushdown): its fields are built for every
/// row scanned, the other columns for the rows it keeps only.
struct PushedFilter {
    cols: Vec<Col>,
    schema: SchemaRef,
    calc: Calc,
}

impl NexmarkGenerator {
    /// `fields`: names to produce (projection), in any order; output columns follow the full
    /// schema's order restricted to these. None = all. Unknown name = config error.
    pub fn new(config: NexmarkConfig, kind: EventKind, fields: Option<&[String]>) -> Result<Self> {
        config.validate()?;
        let cols: Vec<Col> = match fields {
            None => cols_of(kind).to_vec(),
            Some(names) => {
                check_fields(kind, names)?;
                cols_of(kind).iter().copied().filter(|c| names.iter().any(|n| n == c.spec().0)).collect()
            }
        };
        let schema = schema_of(&cols);
        let total = config.split_event_count();
        // Build the shared tables now rather than inside the first batch.
        tables();
        price_tables();
        syms();
        extra_blocks();
        Ok(NexmarkGenerator { config, kind, cols, schema, position: 0, total, ids: Vec::new(), filter: None, read_max: None })
    }

    /// Filter pushdown: batches keep only the rows for which the calc spec `spec_json` (a filter
    /// and no columns, over `fields` in the given order) is true.
    pub fn with_filter(mut self, fields: &[String], spec_json: &str) -> Result<Self> {
        check_fields(self.kind, fields)?;
        let all = cols_of(self.kind);
        let cols: Vec<Col> = fields.iter().map(|n| *all.iter().find(|c| c.spec().0 == n).expect("checked")).collect();
        let schema = schema_of(&cols);
        let calc = Calc::new(&schema, spec_json)?;
        self.filter = Some(PushedFilter { cols, schema, calc });
        Ok(self)
    }

    /// With a filter: the highest event time of the rows the last `next_batch` scanned, those
    /// it dropped included (None: none).
    pub fn read_max_event_time(&self) -> Option<i64> {
        self.read_max
    }

    pub fn output_schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    pub fn kind(&self) -> EventKind {
        self.kind
    }

    pub fn config(&self) -> &NexmarkConfig {
        &self.config
    }

    /// Events of this split consumed so far.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Events of this split in total.
    pub fn split_event_count(&self) -> u64 {
        self.total
    }

    pub fn seek(&mut self, position: u64) {
        self.position = position;
    }

    /// Scans events from the current position; keeps only events of this generator's kind;
    /// stops after `max_rows` such rows or at the end of the split. None when exhausted.
    /// `event_time` is each row's dateTime. With a filter, the rows it keeps of those (maybe
    /// none); its error, if it fails.
    pub fn next_batch(&mut self, max_rows: usize) -> Result<Option<RecordBatch>> {
        let max_rows = max_rows.max(1);
        if self.position >= self.total {
            return Ok(None);
        }
        let cfg = &self.config;
        let (lo, hi) = self.kind.residues();
        let (mut p, total) = (self.position, self.total);
        let e = Clock::at(cfg, p);
        // Rows expected, for the initial capacity (capped: `max_rows` may be huge).
        let left = (total - p).min(1 << 16) as usize;
        let expect = match self.kind {
            EventKind::Bid => max_rows.min(left),
            _ => max_rows.min(left / 8 + 16),
        };
        self.ids.clear();
        self.ids.reserve(expect);
        let mut ts: Vec<i64> = Vec::with_capacity(expect);
        let ids = &mut self.ids;
        p = if hi - lo > PROPORTION_DENOMINATOR / 2 {
            scan_dense(e, (lo, hi), (p, total), max_rows, cfg.base_time_ms, ids, &mut ts)
        } else {
            scan_sparse(e, (lo, hi), (p, total), max_rows, cfg.base_time_ms, ids, &mut ts)
        };
        self.position = p;
        if self.ids.is_empty() {
            return Ok(None);
        }
        if self.filter.is_some() {
            // Times grow with the event number, so the last is the highest.
            self.read_max = ts.last().copied();
            self.keep_filtered(&mut ts)?;
        }
        let chan = self.channels(&self.cols);
        let columns: Vec<Column> = self.cols.iter().map(|&col| Column::new(self.column(col, &ts, &chan))).collect();
        Ok(Some(RecordBatch { schema: self.schema.clone(), columns, len: self.ids.len(), event_time: Some(ts) }))
    }

    /// Channel and url share one draw: its channel numbers, when `cols` read them.
    fn channels(&self, cols: &[Col]) -> Vec<u16> {
        if cols.iter().any(|&c| c == Col::BChannel || c == Col::BUrl) {
            draws(&self.ids, self.config.seed, S_B_CHANNEL).into_iter().map(|x| bid_channel(x) as u16).collect()
        } else {
            Vec::new()
        }
    }

    /// Filter pushdown: builds the filter's fields for the rows scanned, runs it, and keeps the
    /// ids and times of the rows it keeps only, in order.
    fn keep_filtered(&mut self, ts: &mut Vec<i64>) -> Result<()> {
        let Some(f) = &self.filter else { return Ok(()) };
        let chan = self.channels(&f.cols);
        let columns: Vec<Column> = f.cols.iter().map(|&col| Column::new(self.column(col, ts, &chan))).collect();
        let batch = RecordBatch { schema: f.schema.clone(), columns, len: self.ids.len(), event_time: None };
        let Some(sel) = f.calc.select(&batch.as_ref())? else { return Ok(()) };
        for (j, &r) in sel.iter().enumerate() {
            self.ids[j] = self.ids[r as usize];
            ts[j] = ts[r as usize];
        }
        self.ids.truncate(sel.len());
        ts.truncate(sel.len());
        Ok(())
    }

    fn column(&self, col: Col, ts: &[i64], chan: &[u16]) -> ColumnData {
        let ids = &self.ids[..];
        let cfg = &self.config;
        let seed = cfg.seed;
        let t = tables();
        let rows = ids.len();
        match col {
            Col::PDateTime | Col::ADateTime | Col::BDateTime => ColumnData::Timestamp(ts.to_vec()),
            Col::PId => ColumnData::I64(ids.iter().map(|&id| person_id(id)).collect()),
            Col::AId => ColumnData::I64(ids.iter().map(|&id| auction_id(id)).collect()),
            Col::BAuction => ColumnData::I64(bid_ids::<true>(ids, seed)),
            Col::BBidder => ColumnData::I64(bid_ids::<false>(ids, seed)),
            Col::BPrice => ColumnData::I64(price_column(ids, seed, &[S_B_PRICE])),
            Col::AInitialBid => ColumnData::I64(price_column(ids, seed, &[S_A_INITIAL])),
            Col::AReserve => ColumnData::I64(price_column(ids, seed, &[S_A_INITIAL, S_A_RESERVE])),
            Col::AExpires => {
                ColumnData::Timestamp(ids.iter().zip(ts).map(|(&id, &time)| auction_expires(cfg, id, time)).collect())
            }
            Col::ASeller => ColumnData::I64(ids.iter().map(|&id| auction_seller(seed, id)).collect()),
            Col::ACategory => ColumnData::I64(ids.iter().map(|&id| auction_category(seed, id)).collect()),
            Col::PName => table_column(&t.names, rows, ids.iter().map(|&id| person_name_index(seed, id))),
            Col::PCity => table_column(&t.cities, rows, ids.iter().map(|&id| person_city_index(seed, id))),
            Col::PState => table_column(&t.states, rows, ids.iter().map(|&id| person_state_index(seed, id))),
            Col::BChannel => table_column(&t.channels, rows, chan.iter().map(|&c| c as usize)),
            Col::BUrl => table_column(&t.urls, rows, chan.iter().map(|&c| c as usize)),
            Col::PEmail => {
                let sym = syms();
                utf8_column(rows, rows * 16, |out, i| {
                    let id = ids[i];
                    push_string(out, sym, draw(seed, id, S_P_EMAIL1), 7);
                    out.push(b'@');
                    push_string(out, sym, draw(seed, id, S_P_EMAIL2), 5);
                    out.extend_from_slice(b".com");
                })
            }
            Col::PCard => utf8_column(rows, rows * 19, |out, i| push_card(out, seed, ids[i])),
            Col::AItemName => {
                let sym = syms();
                utf8_column(rows, rows * 11, |out, i| push_string(out, sym, draw(seed, ids[i], S_A_NAME), 20))
            }
            Col::ADescription => {
                let sym = syms();
                utf8_column(rows, rows * 51, |out, i| push_string(out, sym, draw(seed, ids[i], S_A_DESC), 100))
            }
            Col::PExtra => extra_column(&draws(ids, seed, S_P_EXTRA), |i| person_size(t, seed, ids[i]), AVG_PERSON_BYTES),
            Col::AExtra => extra_column(&draws(ids, seed, S_A_EXTRA), |i| auction_size(seed, ids[i]), AVG_AUCTION_BYTES),
            Col::BExtra => extra_column(&draws(ids, seed, S_B_EXTRA), |_| BID_SIZE, AVG_BID_BYTES),
        }
    }
}

/// An error naming the valid fields when `names` has one `kind` does not.
fn check_fields(kind: EventKind, names: &[String]) -> Result<()> {
    let all = cols_of(kind);
    for n in names {
        if !all.iter().any(|c| c.spec().0 == n) {
            let valid: Vec<&str> = all.iter().map(|c| c.spec().0).collect();
            return Err(Error::config(format!("unknown {} field '{n}'; valid fields are: {}", kind.name(), valid.join(", "))));
        }
    }
    Ok(())
}

fn schema_of(cols: &[Col]) -> SchemaRef {
    Arc::new(Schema::new(
        cols.iter()
            .map(|c| {
                let (n, t) = c.spec();
                Field::new(n, t)
            })
            .collect(),
    ))
}

fn table_column<const W: usize>(t: &StrTable<W>, rows: usize, idx: impl Iterator<Item = usize>) -> ColumnData {
    let mut offsets = Vec::with_capacity(rows + 1);
    let max = t.lens.iter().copied().max().unwrap_or(0) as usize;
    let mut data = Vec::with_capacity(rows * max + W);
    offsets.push(0i32);
    for i in idx {
        let end = data.len() + t.len_of(i);
        data.extend_from_slice(&t.padded[i]);
        data.truncate(end);
        offsets.push(end as i32);
    }
    ColumnData::Utf8 { offsets, data }
}

#[inline(always)]
fn utf8_column(rows: usize, bytes: usize, mut f: impl FnMut(&mut Vec<u8>, usize)) -> ColumnData {
    let mut offsets = Vec::with_capacity(rows + 1);
    let mut data = Vec::with_capacity(bytes);
    offsets.push(0i32);
    for i in 0..rows {
        f(&mut data, i);
        offsets.push(data.len() as i32);
    }
    ColumnData::Utf8 { offsets, data }
}

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::ValuesRef;

    fn cfg(event_count: u64) -> NexmarkConfig {
        NexmarkConfig { event_count, ..NexmarkConfig::default() }
    }

    fn all(config: NexmarkConfig, kind: EventKind, fields: Option<&[String]>, batch: usize) -> Vec<RecordBatch> {
        let mut g = NexmarkGenerator::new(config, kind, fields).unwrap();
        let mut out = Vec::new();
        while let Some(b) = g.next_batch(batch).unwrap() {
            out.push(b);
        }
        out
    }

    fn i64s(b: &RecordBatch, name: &str) -> Vec<i64> {
        match b.columns[b.schema.index_of(name).unwrap()].as_ref().values {
            ValuesRef::I64(v) | ValuesRef::Timestamp(v) => v.to_vec(),
            _ => panic!("{name} is not i64"),
        }
    }

    fn strs(b: &RecordBatch, name: &str) -> Vec<String> {
        match &b.columns[b.schema.index_of(name).unwrap()].data {
            ColumnData::Utf8 { offsets, data } => offsets
                .windows(2)
                .map(|w| String::from_utf8(data[w[0] as usize..w[1] as usize].to_vec()).unwrap())
                .collect(),
            _ => panic!("{name} is not utf8"),
        }
    }

    fn concat(batches: &[RecordBatch]) -> (Vec<Vec<i64>>, Vec<Vec<String>>, Vec<i64>) {
        let schema = &batches[0].schema;
        let mut ints = vec![Vec::new(); schema.len()];
        let mut texts = vec![Vec::new(); schema.len()];
        let mut et = Vec::new();
        for b in batches {
            for (k, f) in schema.fields.iter().enumerate() {
                if f.data_type == DataType::Utf8 {
                    texts[k].extend(strs(b, &f.name));
                } else {
                    ints[k].extend(i64s(b, &f.name));
                }
            }
            et.extend(b.event_time.clone().unwrap());
        }
        (ints, texts, et)
    }

    const KINDS: [EventKind; 3] = [EventKind::Person, EventKind::Auction, EventKind::Bid];

    #[test]
    fn schemas_and_kind_names() {
        let names = |k| schema(k).fields.iter().map(|f| f.name.clone()).collect::<Vec<_>>().join(",");
        assert_eq!(names(EventKind::Person), "id,name,emailAddress,creditCard,city,state,dateTime,extra");
        assert_eq!(
            names(EventKind::Auction),
            "id,itemName,description,initialBid,reserve,dateTime,expires,seller,category,extra"
        );
        assert_eq!(names(EventKind::Bid), "auction,bidder,price,channel,url,dateTime,extra");
        for k in KINDS {
            assert_eq!(EventKind::parse(k.name()).unwrap(), k);
        }
        assert!(EventKind::parse("bids").is_err());
        let bad = NexmarkGenerator::new(cfg(10), EventKind::Bid, Some(&["price".into(), "nope".into()]));
        let msg = bad.err().unwrap().message;
        assert!(msg.contains("nope") && msg.contains("auction, bidder, price"), "{msg}");
        assert!(NexmarkGenerator::new(
            NexmarkConfig { split_index: 3, split_count: 3, ..cfg(10) },
            EventKind::Bid,
            None
        )
        .is_err());
        assert!(NexmarkGenerator::new(NexmarkConfig { rate_per_sec: 0, ..cfg(10) }, EventKind::Bid, None).is_err());
    }

    #[test]
    fn deterministic_and_batch_size_independent() {
        for k in KINDS {
            let a = concat(&all(cfg(20_000), k, None, 1000));
            let b = concat(&all(cfg(20_000), k, None, 777));
            assert_eq!(a, b);
            let other = concat(&all(NexmarkConfig { seed: 7, ..cfg(20_000) }, k, None, 1000));
            assert_ne!(a.1, other.1);
        }
    }

    #[test]
    fn projection_matches_full_columns() {
        for k in KINDS {
            let full = concat(&all(cfg(20_000), k, None, 500));
            let s = schema(k);
            for f in &s.fields {
                let proj = concat(&all(cfg(20_000), k, Some(std::slice::from_ref(&f.name)), 500));
                let i = s.index_of(&f.name).unwrap();
                assert_eq!(proj.0[0], full.0[i], "{} {}", k.name(), f.name);
                assert_eq!(proj.1[0], full.1[i], "{} {}", k.name(), f.name);
                assert_eq!(proj.2, full.2);
            }
            // Any order in, schema order out.
            let g = NexmarkGenerator::new(cfg(10), k, Some(&["dateTime".into(), "extra".into()])).unwrap();
            let names: Vec<_> = g.output_schema().fields.iter().map(|f| f.name.clone()).collect();
            assert_eq!(names, vec!["dateTime", "extra"]);
        }
    }

    #[test]
    fn a_pushed_filter_keeps_the_rows_it_selects_and_reports_what_it_read() {
        // MOD(auction, 7) = 3 over [auction, channel]: the filter reads fields the output lacks.
        let spec = r#"{"name":"Calc(test)","columns":[],"filter":{"k":"call","op":"eq","t":"bool","n":false,"text":"((auction % 7) = 3)","args":[
            {"k":"call","op":"mod","t":"i64","n":false,"text":"(auction % 7)","args":[{"k":"field","i":0,"t":"i64","n":false},{"k":"lit","t":"i64","n":false,"v":"7"}]},
            {"k":"lit","t":"i64","n":false,"v":"3"}]}}"#;
        let fields: Vec<String> = vec!["price".into(), "dateTime".into()];
        let mut whole = NexmarkGenerator::new(cfg(20_000), EventKind::Bid, None).unwrap();
        let mut pushed = NexmarkGenerator::new(cfg(20_000), EventKind::Bid, Some(&fields))
            .unwrap()
            .with_filter(&["auction".into(), "channel".into()], spec)
            .unwrap();
        let mut batches = 0;
        while let Some(all) = whole.next_batch(50).unwrap() {
            let kept = pushed.next_batch(50).unwrap().unwrap();
            let keep: Vec<usize> = (0..all.len).filter(|&r| i64s(&all, "auction")[r] % 7 == 3).collect();
            let price = i64s(&all, "price");
            let et = all.event_time.clone().unwrap();
            assert_eq!(i64s(&kept, "price"), keep.iter().map(|&r| price[r]).collect::<Vec<_>>());
            assert_eq!(kept.event_time.clone().unwrap(), keep.iter().map(|&r| et[r]).collect::<Vec<_>>());
            assert_eq!(pushed.read_max_event_time(), et.iter().max().copied());
            assert_eq!(pushed.position(), whole.position());
            batches += 1;
        }
        assert!(pushed.next_batch(50).unwrap().is_none());
        assert!(batches > 100);
        let unknown = NexmarkGenerator::new(cfg(10), EventKind::Bid, None).unwrap().with_filter(&["nope".into()], spec);
        assert!(unknown.err().unwrap().message.contains("unknown bid field 'nope'"));
    }

    #[test]
    fn seek_and_position() {
        let mut g = NexmarkGenerator::new(cfg(10_000), EventKind::Bid, None).unwrap();
        let b1 = g.next_batch(100).unwrap().unwrap();
        // 100 bids: events 4..49 (46 bids), 54..99 (46), 104..111 (8): position 112.
        assert_eq!(g.position(), 112);
        let b2 = g.next_batch(100).unwrap().unwrap();
        g.seek(112);
        assert_eq!(g.next_batch(100).unwrap().unwrap(), b2);
        g.seek(0);
        assert_eq!(g.next_batch(100).unwrap().unwrap(), b1);
        g.seek(9_990);
        let tail = g.next_batch(1000).unwrap().unwrap();
        assert_eq!(tail.len, 10); // events 9990..9999: residues 40..49, all bids
        assert_eq!(g.position(), 10_000);
        assert!(g.next_batch(10).unwrap().is_none());
        g.seek(20_000);
        assert!(g.next_batch(10).unwrap().is_none());
        // Persons with a split that has none.
        let mut p = NexmarkGenerator::new(
            NexmarkConfig { split_index: 1, split_count: 50, ..cfg(10_000) },
            EventKind::Person,
            None,
        )
        .unwrap();
        assert!(p.next_batch(10).unwrap().is_none());
        assert_eq!(p.position(), 200);
    }

    #[test]
    fn splits_partition_the_events() {
        for k in KINDS {
            let whole = concat(&all(cfg(30_001), k, None, 1000));
            let mut rows: Vec<(i64, Vec<i64>, Vec<String>)> = Vec::new();
            for i in 0..3 {
                let part = all(NexmarkConfig { split_index: i, split_count: 3, ..cfg(30_001) }, k, None, 333);
                let (ints, texts, et) = concat(&part);
                for r in 0..et.len() {
                    rows.push((
                        et[r],
                        ints.iter().filter(|c| !c.is_empty()).map(|c| c[r]).collect(),
                        texts.iter().filter(|c| !c.is_empty()).map(|c| c[r].clone()).collect(),
                    ));
                }
            }
            let mut want: Vec<(i64, Vec<i64>, Vec<String>)> = (0..whole.2.len())
                .map(|r| {
                    (
                        whole.2[r],
                        whole.0.iter().filter(|c| !c.is_empty()).map(|c| c[r]).collect(),
                        whole.1.iter().filter(|c| !c.is_empty()).map(|c| c[r].clone()).collect(),
                    )
                })
                .collect();
            rows.sort();
            want.sort();
            assert_eq!(rows, want, "{}", k.name());
        }
    }

    #[test]
    fn proportions_and_timestamps() {
        let c = cfg(100_000);
        let counts: Vec<usize> =
            KINDS.iter().map(|&k| all(c.clone(), k, None, 4096).iter().map(|b| b.len).sum()).collect();
        assert_eq!(counts, vec![2_000, 6_000, 92_000]);
        // Event 0 is person 1000 at the base time; event 10_000 is 1 s later at 10k/s.
        let b = &all(c.clone(), EventKind::Person, None, 4096)[0];
        assert_eq!(i64s(b, "id")[..3], [1000, 1001, 1002]);
        assert_eq!(i64s(b, "dateTime")[..3], [1_436_918_400_000, 1_436_918_400_005, 1_436_918_400_010]);
        assert_eq!(i64s(b, "dateTime")[200], 1_436_918_400_000 + 1000);
        assert_eq!(b.event_time.as_ref().unwrap()[..], i64s(b, "dateTime")[..]);
        // Non-integral ms per event: rate 3/s.
        let slow = NexmarkConfig { rate_per_sec: 3, split_index: 1, split_count: 2, ..cfg(1000) };
        let b = &all(slow.clone(), EventKind::Bid, Some(&["dateTime".into()]), 4096)[0];
        let want: Vec<i64> = (0..1000u64).filter(|n| n % 2 == 1 && n % 50 >= 4).map(|n| slow.timestamp(n)).collect();
        assert_eq!(i64s(b, "dateTime"), want);
    }

    #[test]
    fn ids_follow_beams_formulas() {
        let c = cfg(100_000);
        let a = &all(c.clone(), EventKind::Auction, None, 100_000)[0];
        let ids = i64s(a, "id");
        // Events 1, 2, 3 are auctions 1000, 1001, 1002; 51, 52, 53 are 1003..1005.
        assert_eq!(ids[..6], [1000, 1001, 1002, 1003, 1004, 1005]);
        assert_eq!(*ids.last().unwrap(), 1000 + 6000 - 1);
        assert_eq!(last_base0_auction_id(0), -1);
        assert_eq!(last_base0_auction_id(49), 2);
        assert_eq!(last_base0_person_id(49), 0);
        assert_eq!(last_base0_person_id(50), 1);
        assert_eq!(person_id(5000), 1100);
        assert_eq!(auction_id(5003), 1302);

        let sellers = i64s(a, "seller");
        let cats = i64s(a, "category");
        let mut hot = 0;
        for (r, (&s, &cat)) in sellers.iter().zip(&cats).enumerate() {
            let ev = (r as u64 / 3) * 50 + 1 + r as u64 % 3;
            let last = last_base0_person_id(ev) as i64;
            if s == (last / 100) * 100 + 1000 {
                hot += 1;
            }
            let active = (last + 1).min(1000);
            assert!(s >= last + 1 - active + 1000 && s <= last + 10 + 1000, "seller {s} at event {ev}");
            assert!((10..15).contains(&cat));
        }
        let hot_frac = hot as f64 / sellers.len() as f64;
        assert!((0.73..0.79).contains(&hot_frac), "hot sellers {hot_frac}");
        let (expires, times) = (i64s(a, "expires"), i64s(a, "dateTime"));
        // Horizon at 10k/s: 1666 events = 166 ms; length 1 ..= 332 ms.
        for (e, t) in expires.iter().zip(&times) {
            assert!(*e > *t && *e <= *t + 332);
        }
        let (ib, rs) = (i64s(a, "initialBid"), i64s(a, "reserve"));
        assert!(ib.iter().zip(&rs).all(|(i, r)| r > i));

        let b = &all(c, EventKind::Bid, None, 100_000)[0];
        let (auctions, bidders) = (i64s(b, "auction"), i64s(b, "bidder"));
        let (mut hot_a, mut hot_b) = (0, 0);
        let mut r = 0;
        for ev in 0..100_000u64 {
            if ev % 50 < 4 {
                continue;
            }
            let la = last_base0_auction_id(ev);
            let lp = last_base0_person_id(ev) as i64;
            let (a, bd) = (auctions[r], bidders[r]);
            if a == (la / 100) * 100 + 1000 {
                hot_a += 1;
            } else {
                assert!(a >= (la - 100).max(0) + 1000 && a <= la + 10 + 1000, "auction {a} at {ev}");
            }
            if bd == (lp / 100) * 100 + 1 + 1000 {
                hot_b += 1;
            } else {
                let active = (lp + 1).min(1000);
                assert!(bd >= lp + 1 - active + 1000 && bd <= lp + 10 + 1000, "bidder {bd} at {ev}");
            }
            r += 1;
        }
        let n = auctions.len() as f64;
        assert!((0.49..0.53).contains(&(hot_a as f64 / n)), "hot auctions {}", hot_a as f64 / n);
        assert!((0.74..0.77).contains(&(hot_b as f64 / n)), "hot bidders {}", hot_b as f64 / n);
        let channels = strs(b, "channel");
        let urls = strs(b, "url");
        let hot_c = channels.iter().filter(|c| HOT_CHANNELS.contains(&c.as_str())).count() as f64 / n;
        assert!((0.49..0.51).contains(&hot_c), "hot channels {hot_c}");
        for (ch, u) in channels.iter().zip(&urls) {
            assert!(u.starts_with("https://www.nexmark.com/"));
            assert!(u.contains("item.htm?query=1"));
            if u.contains("&channel_id=") {
                assert!(ch.starts_with("channel-"));
            }
        }
    }

    #[test]
    fn prices_are_log_uniform_in_range() {
        let pt = price_tables();
        assert_eq!(price_from(pt, 0), 100);
        assert_eq!(price_from(pt, u32::MAX), 100_000_000);
        // 10^(6 * 2^31 / 2^32) * 100 = 10^3 * 100.
        assert_eq!(price_from(pt, 1 << 31), 100_000);
        let b = &all(cfg(200_000), EventKind::Bid, Some(&["price".into()]), 1 << 20)[0];
        let prices = i64s(b, "price");
        assert!(prices.iter().all(|p| (100..=100_000_000).contains(p)));
        // Log-uniform: each decade holds about 1/6 of the prices.
        for d in 0..6 {
            let lo = 100 * 10i64.pow(d);
            let frac = prices.iter().filter(|&&p| p >= lo && p < lo * 10).count() as f64 / prices.len() as f64;
            assert!((frac - 1.0 / 6.0).abs() < 0.01, "decade {d}: {frac}");
        }
        // Accuracy of the portable pow10 against the platform's.
        for r in (0..u32::MAX).step_by(9_999_991) {
            let want = (10f64.powf(r as f64 / 4294967296.0 * 6.0) * 100.0).round() as i64;
            assert!((price_from(pt, r) - want).abs() <= 1, "r {r}");
        }
    }

    #[test]
    fn bid_ids_on_lanes_are_the_scalar_formulas() {
        // The first epochs (no auction yet, fewer people than active), every offset in an
        // epoch, and ids up to the largest event count.
        let mut ids: Vec<u64> = (0..20_000).collect();
        ids.extend((0..20_000u64).map(|i| (MAX_EVENT_COUNT - 1).wrapping_sub(i.wrapping_mul(7_777_777_777)) % MAX_EVENT_COUNT));
        ids.extend((0..2_000u64).map(|i| MAX_EVENT_COUNT - 1 - i));
        for seed in [0, 42, u32::MAX] {
            let auctions = bid_ids::<true>(&ids, seed);
            let bidders = bid_ids::<false>(&ids, seed);
            for (k, &id) in ids.iter().enumerate() {
                assert_eq!(auctions[k], bid_auction(draw(seed, id, S_B_AUCTION), id), "auction of {id}, seed {seed}");
                assert_eq!(bidders[k], bid_bidder(draw(seed, id, S_B_BIDDER), id), "bidder of {id}, seed {seed}");
            }
        }
    }

    #[test]
    fn price_columns_are_price_from_of_each_row() {
        let ids: Vec<u64> = (0..1000u64).map(|i| i * 7_919 + (i << 33)).collect();
        for n in [0, 1, 255, 256, 257, 1000] {
            let ids = &ids[..n];
            let one = price_column(ids, 42, &[S_B_PRICE]);
            let two = price_column(ids, 42, &[S_A_INITIAL, S_A_RESERVE]);
            let pt = price_tables();
            for (k, &id) in ids.iter().enumerate() {
                assert_eq!(one[k], price_from(pt, draw(42, id, S_B_PRICE)), "row {k} of {n}");
                assert_eq!(two[k], price_from(pt, draw(42, id, S_A_INITIAL)) + price_from(pt, draw(42, id, S_A_RESERVE)), "row {k} of {n}");
            }
        }
    }

    #[test]
    fn extras_pad_to_average_sizes() {
        let c = cfg(200_000);
        for (k, avg) in [(EventKind::Person, 200.0), (EventKind::Auction, 500.0), (EventKind::Bid, 100.0)] {
            let b = &all(c.clone(), k, None, 1 << 20)[0];
            let mut total = 0usize;
            let mut extra_total = 0usize;
            for f in &b.schema.fields {
                match f.data_type {
                    DataType::Utf8 => {
                        let s = strs(b, &f.name);
                        let bytes: usize = s.iter().map(|x| x.len()).sum();
                        total += bytes;
                        if f.name == "extra" {
                            extra_total = bytes;
                            assert!(s.iter().all(|x| x.bytes().all(|c| c.is_ascii_lowercase())));
                        }
                    }
                    _ => total += 8 * b.len,
                }
            }
            // Beam's estimate: bids count 4 longs and no channel/url.
            if k == EventKind::Bid {
                total = 32 * b.len + extra_total;
            }
            let mean = total as f64 / b.len as f64;
            assert!((mean - avg).abs() < avg * 0.1, "{}: mean size {mean}", k.name());
        }
        for h in [0u32, 1, 999, u32::MAX] {
            let l = extra_len(h, 32, 100);
            assert!((54..82).contains(&l));
        }
        assert_eq!(extra_len(5, 600, 500), 0);
    }

    #[test]
    fn strings_look_like_beams() {
        let c = cfg(50_000);
        let p = &all(c.clone(), EventKind::Person, None, 1 << 20)[0];
        for e in strs(p, "emailAddress") {
            assert!(e.ends_with(".com") && e.contains('@'), "{e}");
        }
        for cc in strs(p, "creditCard") {
            assert_eq!(cc.len(), 19);
            assert!(cc.split(' ').all(|g| g.len() == 4 && g.bytes().all(|b| b.is_ascii_digit())));
        }
        for s in strs(p, "state") {
            assert!(US_STATES.contains(&s.as_str()));
        }
        let a = &all(c, EventKind::Auction, None, 1 << 20)[0];
        let descs = strs(a, "description");
        let chars: usize = descs.iter().map(|d| d.len()).sum();
        let spaces: usize = descs.iter().map(|d| d.bytes().filter(|&b| b == b' ').count()).sum();
        let frac = spaces as f64 / chars as f64;
        assert!((frac - 1.0 / 13.0).abs() < 0.01, "space fraction {frac}");
        for d in descs.iter().chain(strs(a, "itemName").iter()) {
            assert!(!d.starts_with(' ') && !d.ends_with(' ') && d.len() < 100);
        }
    }

    #[test]
    fn large_auction_lengths_use_two_draws() {
        // At 1 event/s the horizon is 1666 s, so the length range exceeds 2^21 ms.
        let c = NexmarkConfig { rate_per_sec: 1, ..cfg(5_000) };
        let a = &all(c, EventKind::Auction, Some(&["dateTime".into(), "expires".into()]), 1 << 20)[0];
        let (t, e) = (i64s(a, "dateTime"), i64s(a, "expires"));
        let lens: Vec<i64> = e.iter().zip(&t).map(|(e, t)| e - t).collect();
        assert!(lens.iter().all(|&l| (1..=2 * 1_666_000).contains(&l)));
        let mean = lens.iter().sum::<i64>() as f64 / lens.len() as f64;
        assert!((mean - 1_666_000.0).abs() < 100_000.0, "{mean}");
    }
}
