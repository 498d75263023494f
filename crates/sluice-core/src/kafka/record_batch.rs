//! Kafka record batches (message format v2, KIP-98) of a fetch response, straight into columns.
//!
//! The source's fetch hands over a partition's raw record-set bytes; this reads its batches
//! (decompressing gzip, snappy, lz4 and zstd), skips control batches and, under
//! read_committed, the records of aborted transactions by the Java consumer's rule, and
//! appends each record to a [`RecordSet`]: offsets, timestamps, keys, values laid out as lines
//! for the JSON/CSV decoders, headers as JSON text. No record becomes an object anywhere. The
//! TypeScript engine builds the same `RecordSet` from the JavaScript client's parse
//! (`ts/connectors/kafka/records.ts`, `recordSetOf`), and both go through the same decoding.
//!
//! The framing is read here rather than with the `kafka-protocol` crate: its decoder makes a
//! `Record` with an `IndexMap` of headers per record (the per-record objects this module exists
//! to avoid) and builds zstd from C; the format is fixed and small, the codecs are crates.

use std::io::Read;

use crate::text::is_valid_utf8_at;
use crate::{Error, Result};

/// Per-record flags in [`RecordSet::flags`] (the TypeScript side reads the same bits).
pub const VALUE_NULL: u8 = 1;
/// JSON: only whitespace; CSV and raw: no bytes.
pub const VALUE_EMPTY: u8 = 2;
pub const KEY_NOT_UTF8: u8 = 4;
pub const HEADER_NOT_UTF8: u8 = 8;
/// The value holds a line feed (JSON: replaced by a space in `values`, original in `originals`).
pub const VALUE_HAS_LF: u8 = 16;
pub const KEY_NULL: u8 = 32;
/// Raw values only: not UTF-8.
pub const VALUE_NOT_UTF8: u8 = 64;

/// How values are laid out and checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    Json,
    Csv,
    Raw,
}

/// What to collect besides offsets, timestamps and values.
#[derive(Clone, Copy, Debug)]
pub struct Wanted {
    pub kind: ValueKind,
    pub keys: bool,
    pub headers: bool,
}

/// Records of one fetch, column by column.
#[derive(Debug, Default)]
pub struct RecordSet {
    pub offsets: Vec<i64>,
    pub timestamps: Vec<i64>,
    pub flags: Vec<u8>,
    /// Each non-null value followed by a line feed; value i is `values[value_ends[i]..value_ends[i+1]-1]`
    /// (a null value takes no bytes).
    pub values: Vec<u8>,
    pub value_ends: Vec<i32>,
    /// JSON values that held line feeds, as they were (for dead letters): record index, bytes.
    pub originals: Vec<(u32, Vec<u8>)>,
    /// Key i is `keys[key_ends[i]..key_ends[i+1]]` (when wanted).
    pub keys: Vec<u8>,
    pub key_ends: Vec<i32>,
    /// Headers of record i as JSON `[[key, value], ...]` (when wanted), as `JSON.stringify` writes it.
    pub headers: Vec<u8>,
    pub header_ends: Vec<i32>,
    /// The offset after everything looked at (past control and aborted records).
    pub next: i64,
}

impl RecordSet {
    pub fn len(&self) -> usize {
        self.offsets.len()
    }
    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }
}

/// An aborted transaction of the fetch response: its producer and first offset.
#[derive(Clone, Copy, Debug)]
pub struct AbortedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
}

const TIMESTAMP_TYPE: i16 = 1 << 3;
const IS_TRANSACTIONAL: i16 = 1 << 4;
const IS_CONTROL: i16 = 1 << 5;
/// baseOffset .. recordsCount.
const HEADER: usize = 61;

struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

fn truncated() -> Error {
    Error::data("a Kafka record batch ends inside a record (corrupt data from the broker?); check the topic with kafka-dump-log")
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.b.len() - self.at < n {
            return Err(truncated());
        }
        let s = &self.b[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }
    fn i8(&mut self) -> Result<i8> {
        Ok(self.take(1)?[0] as i8)
    }
    fn varlong(&mut self) -> Result<i64> {
        let mut v: u64 = 0;
        let mut shift = 0;
        loop {
            let byte = *self.b.get(self.at).ok_or_else(truncated)?;
            self.at += 1;
            if shift > 63 {
                return Err(Error::data("a Kafka record holds a varint longer than 10 bytes (corrupt data?)"));
            }
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }
    fn varint(&mut self) -> Result<i32> {
        let v = self.varlong()?;
        i32::try_from(v).map_err(|_| Error::data("a Kafka record holds a varint out of the int32 range (corrupt data?)"))
    }
    /// A length-prefixed byte string (-1: null).
    fn bytes(&mut self) -> Result<Option<&'a [u8]>> {
        let n = self.varint()?;
        if n < 0 {
            return Ok(None);
        }
        self.take(n as usize).map(Some)
    }
}

fn be_i64(b: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}
fn be_i32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}
fn be_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes(b[at..at + 2].try_into().expect("2 bytes"))
}

/// The records part of a compressed batch, decompressed.
fn decompress(codec: i16, data: &[u8]) -> Result<Vec<u8>> {
    let fail = |name: &str, e: &dyn std::fmt::Display| Error::data(format!("a Kafka record batch compressed with {name} does not decompress: {e}; check the producer"));
    let mut out = Vec::with_capacity(data.len() * 4);
    match codec {
        1 => {
            flate2::read::MultiGzDecoder::new(data).read_to_end(&mut out).map_err(|e| fail("gzip", &e))?;
        }
        2 => {
            // Kafka's Java producer writes snappy in xerial's framing (magic, version, then
            // length-prefixed blocks); other clients write one raw snappy block.
            const XERIAL: &[u8] = b"\x82SNAPPY\x00";
            let mut dec = snap::raw::Decoder::new();
            if data.len() >= 16 && &data[..8] == XERIAL {
                let mut at = 16;
                while at < data.len() {
                    if data.len() - at < 4 {
                        return Err(fail("snappy", &"a block length is cut off"));
                    }
                    let n = be_i32(data, at) as usize;
                    at += 4;
                    let block = data.get(at..at + n).ok_or_else(|| fail("snappy", &"a block is cut off"))?;
                    out.extend_from_slice(&dec.decompress_vec(block).map_err(|e| fail("snappy", &e))?);
                    at += n;
                }
            } else {
                out = dec.decompress_vec(data).map_err(|e| fail("snappy", &e))?;
            }
        }
        3 => {
            lz4_flex::frame::FrameDecoder::new(data).read_to_end(&mut out).map_err(|e| fail("lz4", &e))?;
        }
        4 => {
            let mut src = data;
            while !src.is_empty() {
                let mut dec = ruzstd::decoding::StreamingDecoder::new(&mut src).map_err(|e| fail("zstd", &e))?;
                dec.read_to_end(&mut out).map_err(|e| fail("zstd", &e))?;
            }
        }
        c => return Err(Error::data(format!("a Kafka record batch uses compression codec {c}, which is unknown (0-4 are none, gzip, snappy, lz4, zstd)"))),
    }
    Ok(out)
}

/// `JSON.stringify` of a string (the text is UTF-8 already): the same escapes, byte for byte.
fn json_string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            c if c < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(c >> 4) as usize]);
                out.push(HEX[(c & 15) as usize]);
            }
            c => out.push(c),
        }
    }
    out.push(b'"');
}

fn json_blank(v: &[u8]) -> bool {
    v.iter().all(|&c| c == b' ' || c == b'\t' || c == b'\n' || c == b'\r')
}

impl RecordSet {
    fn start(&mut self, wanted: &Wanted) {
        if self.value_ends.is_empty() {
            self.value_ends.push(0);
            if wanted.keys {
                self.key_ends.push(0);
            }
            if wanted.headers {
                self.header_ends.push(0);
            }
        }
    }

    /// One record; `rec` is positioned after its length, `end` is where it ends.
    fn push(&mut self, wanted: &Wanted, offset: i64, timestamp: i64, rec: &mut Cursor<'_>, end: usize) -> Result<()> {
        let mut flags = 0u8;
        let key = rec.bytes()?;
        let value = rec.bytes()?;
        match value {
            None => flags |= VALUE_NULL,
            Some(v) => {
                let from = self.values.len();
                self.values.extend_from_slice(v);
                let has_lf = memchr::memchr(b'\n', v).is_some();
                match wanted.kind {
                    ValueKind::Json => {
                        if json_blank(v) {
                            flags |= VALUE_EMPTY;
                        }
                        if has_lf {
                            // A line feed in valid JSON is whitespace: one record stays one line.
                            flags |= VALUE_HAS_LF;
                            for c in &mut self.values[from..] {
                                if *c == b'\n' {
                                    *c = b' ';
                                }
                            }
                            self.originals.push((self.offsets.len() as u32, v.to_vec()));
                        }
                    }
                    ValueKind::Csv => {
                        if v.is_empty() {
                            flags |= VALUE_EMPTY;
                        }
                        if has_lf {
                            flags |= VALUE_HAS_LF;
                        }
                    }
                    ValueKind::Raw => {
                        if is_valid_utf8_at(v).is_err() {
                            flags |= VALUE_NOT_UTF8;
                        }
                    }
                }
                self.values.push(b'\n');
            }
        }
        self.value_ends.push(self.values.len() as i32);
        if wanted.keys {
            match key {
                None => flags |= KEY_NULL,
                Some(k) => {
                    if is_valid_utf8_at(k).is_err() {
                        flags |= KEY_NOT_UTF8;
                    }
                    self.keys.extend_from_slice(k);
                }
            }
            self.key_ends.push(self.keys.len() as i32);
        }
        if wanted.headers {
            let n = rec.varint()?;
            self.headers.push(b'[');
            for h in 0..n.max(0) {
                let k = rec.bytes()?;
                let v = rec.bytes()?;
                if h > 0 {
                    self.headers.push(b',');
                }
                self.headers.push(b'[');
                for (i, part) in [k, v].into_iter().enumerate() {
                    if i > 0 {
                        self.headers.push(b',');
                    }
                    match part {
                        None => self.headers.extend_from_slice(b"null"),
                        Some(p) => {
                            if is_valid_utf8_at(p).is_err() {
                                flags |= HEADER_NOT_UTF8;
                            }
                            json_string(&mut self.headers, p);
                        }
                    }
                }
                self.headers.push(b']');
            }
            self.headers.push(b']');
            self.header_ends.push(self.headers.len() as i32);
        }
        if rec.at > end {
            return Err(truncated());
        }
        self.offsets.push(offset);
        self.timestamps.push(timestamp);
        self.flags.push(flags);
        Ok(())
    }
}

/// The records of a partition's fetched record set from `from` on and before `stop`, aborted
/// transactions skipped (`aborted` empty under read_uncommitted). A batch cut off at the end
/// (the broker sends whole batches up to its size limit, then part of the next) is left for
/// the next fetch. `next` is the position after what was looked at: past control batches and
/// aborted records too, so a restore never reads them again. (The rule of `takeRecords` in
/// records.ts, which the TypeScript engine runs on the client's parse.)
pub fn take_records(bytes: &[u8], aborted: &[AbortedTxn], from: i64, stop: Option<i64>, wanted: &Wanted) -> Result<RecordSet> {
    // The values are at most the record set's size when uncompressed: one allocation.
    let mut set = RecordSet { next: from, values: Vec::with_capacity(bytes.len()), ..RecordSet::default() };
    set.start(wanted);
    // Kafka's rule: an aborted transaction's records lie between its first offset and its abort marker.
    let mut pending: Vec<AbortedTxn> = aborted.to_vec();
    pending.sort_by_key(|a| a.first_offset);
    let mut pending = pending.into_iter().peekable();
    let mut aborted_producers: Vec<i64> = Vec::new();
    let mut at = 0usize;
    while bytes.len() - at >= 12 {
        let length = be_i32(bytes, at + 8);
        if length < 0 || bytes.len() - at - 12 < length as usize {
            break; // the trailing partial batch
        }
        let batch = &bytes[at..at + 12 + length as usize];
        at += batch.len();
        if batch.len() < HEADER {
            return Err(Error::data(format!("a Kafka record batch of {} bytes is shorter than its header (corrupt data?)", batch.len())));
        }
        let magic = batch[16] as i8;
        if magic != 2 {
            return Err(Error::data(format!("a Kafka record batch has format version (magic) {magic}; Sluice reads version 2 (Kafka 0.11 and later), so upgrade the topic's data (Kafka 4 brokers store only version 2)")));
        }
        let base_offset = be_i64(batch, 0);
        let attributes = be_i16(batch, 21);
        let last = base_offset + i64::from(be_i32(batch, 23));
        let base_timestamp = be_i64(batch, 27);
        // LogAppendTime topics: every record's timestamp is the batch's (the broker's) max timestamp.
        let log_append_time = attributes & TIMESTAMP_TYPE != 0;
        let max_timestamp = be_i64(batch, 35);
        let producer_id = be_i64(batch, 43);
        let count = be_i32(batch, 57);
        if last < from {
            continue;
        }
        // The CRC-32C of everything after it, checked as the Java consumer does (check.crcs).
        let stored = u32::from_be_bytes(batch[17..21].try_into().expect("4 bytes"));
        let computed = crc32c::crc32c(&batch[21..]);
        if stored != computed {
            return Err(Error::data(format!("the record batch at offset {base_offset} fails its CRC-32C check (stored {stored}, computed {computed}): the data was corrupted on the broker or on the way; check the topic with kafka-dump-log")));
        }
        while let Some(a) = pending.next_if(|a| a.first_offset <= last) {
            aborted_producers.push(a.producer_id);
        }
        let records_bytes: std::borrow::Cow<'_, [u8]> = match attributes & 7 {
            0 => std::borrow::Cow::Borrowed(&batch[HEADER..]),
            codec => std::borrow::Cow::Owned(decompress(codec, &batch[HEADER..])?),
        };
        if attributes & IS_CONTROL != 0 {
            // A control record's key: version (int16), type (int16: 0 abort, 1 commit).
            let mut c = Cursor { b: &records_bytes, at: 0 };
            if count > 0 {
                c.varint()?;
                c.i8()?;
                c.varlong()?;
                c.varint()?;
                if let Some(k) = c.bytes()? {
                    if k.len() >= 4 && be_i16(k, 2) == 0 {
                        aborted_producers.retain(|&p| p != producer_id);
                    }
                }
            }
            if matches!(stop, Some(s) if base_offset >= s) {
                break;
            }
            set.next = set.next.max(last + 1);
            continue;
        }
        let skip = attributes & IS_TRANSACTIONAL != 0 && aborted_producers.contains(&producer_id);
        let mut c = Cursor { b: &records_bytes, at: 0 };
        for _ in 0..count.max(0) {
            let len = c.varint()?;
            if len < 0 {
                return Err(truncated());
            }
            let end = c.at + len as usize;
            if end > records_bytes.len() {
                return Err(truncated());
            }
            c.i8()?; // attributes (unused)
            let ts_delta = c.varlong()?;
            let offset = base_offset + i64::from(c.varint()?);
            if offset < from {
                c.at = end;
                continue;
            }
            if matches!(stop, Some(s) if offset >= s) {
                return Ok(set);
            }
            if !skip {
                let timestamp = if log_append_time { max_timestamp } else { base_timestamp + ts_delta };
                set.push(wanted, offset, timestamp, &mut c, end)?;
            }
            c.at = end;
            set.next = offset + 1;
        }
        if stop.is_none_or(|s| last < s) {
            set.next = set.next.max(last + 1);
        }
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(out: &mut Vec<u8>, v: i64) {
        let mut z = ((v << 1) ^ (v >> 63)) as u64;
        loop {
            if z < 0x80 {
                out.push(z as u8);
                return;
            }
            out.push((z as u8 & 0x7f) | 0x80);
            z >>= 7;
        }
    }

    fn bytes(out: &mut Vec<u8>, b: Option<&[u8]>) {
        match b {
            None => varint(out, -1),
            Some(b) => {
                varint(out, b.len() as i64);
                out.extend_from_slice(b);
            }
        }
    }

    /// A test record: key, value, headers.
    type Rec<'a> = (Option<&'a [u8]>, Option<&'a [u8]>, &'a [(&'a [u8], &'a [u8])]);

    /// One uncompressed batch.
    fn batch(base: i64, attributes: i16, producer: i64, records: &[Rec<'_>]) -> Vec<u8> {
        let mut recs = Vec::new();
        for (i, (k, v, hs)) in records.iter().enumerate() {
            let mut r = vec![0u8];
            varint(&mut r, i as i64 * 10); // timestamp delta
            varint(&mut r, i as i64);
            bytes(&mut r, *k);
            bytes(&mut r, *v);
            varint(&mut r, hs.len() as i64);
            for (hk, hv) in hs.iter() {
                bytes(&mut r, Some(hk));
                bytes(&mut r, Some(hv));
            }
            varint(&mut recs, r.len() as i64);
            recs.extend_from_slice(&r);
        }
        let mut b = Vec::new();
        b.extend_from_slice(&base.to_be_bytes());
        b.extend_from_slice(&0i32.to_be_bytes()); // length, set below
        b.extend_from_slice(&0i32.to_be_bytes());
        b.push(2);
        b.extend_from_slice(&0u32.to_be_bytes());
        b.extend_from_slice(&attributes.to_be_bytes());
        b.extend_from_slice(&(records.len() as i32 - 1).to_be_bytes());
        b.extend_from_slice(&1000i64.to_be_bytes());
        b.extend_from_slice(&1000i64.to_be_bytes());
        b.extend_from_slice(&producer.to_be_bytes());
        b.extend_from_slice(&0i16.to_be_bytes());
        b.extend_from_slice(&0i32.to_be_bytes());
        b.extend_from_slice(&(records.len() as i32).to_be_bytes());
        b.extend_from_slice(&recs);
        seal(&mut b);
        b
    }

    /// Sets a batch's length and CRC.
    fn seal(b: &mut [u8]) {
        let len = (b.len() - 12) as i32;
        b[8..12].copy_from_slice(&len.to_be_bytes());
        let crc = crc32c::crc32c(&b[21..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
    }

    const JSON: Wanted = Wanted { kind: ValueKind::Json, keys: true, headers: true };

    #[test]
    fn reads_records_keys_headers_and_leaves_a_cut_off_batch() {
        let mut set = batch(5, 0, -1, &[(Some(b"k"), Some(b"{\"a\":\n1}"), &[(b"h", b"q\"\x01")]), (None, None, &[])]);
        let whole = set.len();
        set.extend_from_slice(&batch(7, 0, -1, &[(None, Some(b"{}"), &[])])[..20]);
        let r = take_records(&set, &[], 0, None, &JSON).unwrap();
        assert_eq!(r.offsets, [5, 6]);
        assert_eq!(r.timestamps, [1000, 1010]);
        assert_eq!(r.flags, [VALUE_HAS_LF, VALUE_NULL | KEY_NULL]);
        assert_eq!(r.values, b"{\"a\": 1}\n");
        assert_eq!(r.value_ends, [0, 9, 9]);
        assert_eq!(r.originals, [(0, b"{\"a\":\n1}".to_vec())]);
        assert_eq!(r.keys, b"k");
        assert_eq!(std::str::from_utf8(&r.headers).unwrap(), "[[\"h\",\"q\\\"\\u0001\"]][]");
        assert_eq!(r.next, 7, "the cut-off batch at offset 7 is read by the next fetch");
        assert!(whole < set.len());
    }

    #[test]
    fn skips_aborted_transactions_and_control_batches() {
        let txn = IS_TRANSACTIONAL;
        let abort_key: &[u8] = &[0, 0, 0, 0];
        let commit_key: &[u8] = &[0, 0, 0, 1];
        let mut set = Vec::new();
        set.extend(batch(0, txn, 9, &[(None, Some(b"{\"x\":0}"), &[]), (None, Some(b"{\"x\":1}"), &[])]));
        set.extend(batch(2, txn | IS_CONTROL, 9, &[(Some(abort_key), Some(b""), &[])]));
        set.extend(batch(3, txn, 9, &[(None, Some(b"{\"x\":3}"), &[])]));
        set.extend(batch(4, txn | IS_CONTROL, 9, &[(Some(commit_key), Some(b""), &[])]));
        let committed = take_records(&set, &[AbortedTxn { producer_id: 9, first_offset: 0 }], 0, None, &JSON).unwrap();
        assert_eq!(committed.offsets, [3]);
        assert_eq!(committed.next, 5);
        let all = take_records(&set, &[], 0, None, &JSON).unwrap();
        assert_eq!(all.offsets, [0, 1, 3]);
        let stopped = take_records(&set, &[], 1, Some(3), &JSON).unwrap();
        assert_eq!((stopped.offsets.as_slice(), stopped.next), ([1].as_slice(), 3));
    }

    #[test]
    fn decompresses_each_codec() {
        use std::io::Write;
        let plain = batch(0, 0, -1, &[(None, Some(b"{\"x\":1}"), &[]), (None, Some(b"{\"x\":2}"), &[])]);
        let records = &plain[HEADER..];
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(records).unwrap();
        let mut lz = lz4_flex::frame::FrameEncoder::new(Vec::new());
        lz.write_all(records).unwrap();
        let raw_snappy = snap::raw::Encoder::new().compress_vec(records).unwrap();
        let mut xerial = b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01".to_vec();
        xerial.extend_from_slice(&(raw_snappy.len() as i32).to_be_bytes());
        xerial.extend_from_slice(&raw_snappy);
        for (codec, body) in [(1i16, gz.finish().unwrap()), (2, raw_snappy.clone()), (2, xerial), (3, lz.finish().unwrap())] {
            let mut b = plain[..HEADER].to_vec();
            b[21..23].copy_from_slice(&codec.to_be_bytes());
            b.extend_from_slice(&body);
            seal(&mut b);
            let r = take_records(&b, &[], 0, None, &JSON).unwrap();
            assert_eq!(r.values, b"{\"x\":1}\n{\"x\":2}\n", "codec {codec}");
        }
    }

    #[test]
    fn a_corrupted_batch_fails_its_crc_check() {
        let mut b = batch(3, 0, -1, &[(None, Some(b"{\"x\":1}"), &[])]);
        let last = b.len() - 2;
        b[last] ^= 1;
        let e = take_records(&b, &[], 0, None, &JSON).unwrap_err();
        assert!(e.message.starts_with("the record batch at offset 3 fails its CRC-32C check"), "{}", e.message);
    }
}
