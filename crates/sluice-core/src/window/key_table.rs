//! Window state's key table: one id per distinct key (an integer key column kept inline, any
//! other key as canonical bytes in an arena), found by open addressing. Used by the session
//! and count window aggregators.

use super::acc::pick;
use crate::batch::{Column, DataType};
use crate::hash::{murmur3_32, murmur3_u64};
use crate::keys::{bytes_eq, decode_keys, int_key_column};

const NONE: u32 = u32::MAX;
pub(crate) const EMPTY_SLOT: u64 = u64::MAX;
const HASH_SEED: u32 = 0x5e55_1000;

/// A row's key: an integer (value, valid), or canonical bytes in the caller's scratch buffer.
pub(crate) enum KeyRef {
    Int(i64, bool),
    Bytes,
}

pub(crate) enum KeyData {
    /// The key value is in the entry.
    Int { col: usize, dtype: DataType },
    Bytes { arena: Vec<u8>, spans: Vec<(usize, u32)>, cols: Vec<(usize, DataType)>, scratch: Vec<u8> },
}

/// One key: its value (int keys), hash and first open session, in one cache line.
#[derive(Clone, Copy)]
pub(crate) struct KeyEntry {
    pub key: i64,
    pub hash: u32,
    /// Free for the user of the table (sessions: the first open session of the key).
    pub head: u32,
    pub valid: bool,
}

/// Keys by id, each with the head of its session list.
pub(crate) struct KeyTable {
    pub data: KeyData,
    pub entries: Vec<KeyEntry>,
    /// Open addressing: (hash << 32 | key id).
    pub index: Vec<u64>,
    /// Keys in use (sessions: with at least one open session).
    pub live: usize,
}

impl KeyTable {
    pub(crate) fn new(key_types: Vec<(usize, DataType)>) -> KeyTable {
        let data = match key_types.as_slice() {
            [(col, t @ (DataType::I32 | DataType::I64 | DataType::Timestamp))] => KeyData::Int { col: *col, dtype: *t },
            _ => KeyData::Bytes { arena: Vec::new(), spans: Vec::new(), cols: key_types, scratch: Vec::new() },
        };
        KeyTable { data, entries: vec![], index: vec![EMPTY_SLOT; 1024], live: 0 }
    }

    /// The key's hash and its id, if present.
    #[inline]
    pub(crate) fn find(&self, key: &KeyRef, scratch: &[u8]) -> (u32, Option<u32>) {
        let h = match key {
            KeyRef::Int(k, ok) => murmur3_u64(*k as u64, HASH_SEED) ^ (!ok as u32),
            KeyRef::Bytes => murmur3_32(scratch, HASH_SEED),
        };
        let mask = self.index.len() - 1;
        let mut slot = h as usize & mask;
        loop {
            let e = self.index[slot];
            if e == EMPTY_SLOT {
                return (h, None);
            }
            if (e >> 32) as u32 == h {
                let kid = e as u32;
                let same = match (&self.data, key) {
                    (KeyData::Int { .. }, KeyRef::Int(k, ok)) => {
                        let e = &self.entries[kid as usize];
                        e.key == *k && e.valid == *ok
                    }
                    (KeyData::Bytes { arena, spans, .. }, KeyRef::Bytes) => {
                        let (s, l) = spans[kid as usize];
                        bytes_eq(&arena[s..s + l as usize], scratch)
                    }
                    _ => false,
                };
                if same {
                    return (h, Some(kid));
                }
            }
            slot = (slot + 1) & mask;
        }
    }

    /// Adds a key not present (`h` from [`KeyTable::find`]); returns its id.
    pub(crate) fn insert(&mut self, h: u32, key: &KeyRef, scratch: &[u8]) -> u32 {
        match (&mut self.data, key) {
            (KeyData::Int { .. }, &KeyRef::Int(k, ok)) => self.push(h, k, ok),
            (KeyData::Bytes { arena, spans, .. }, KeyRef::Bytes) => {
                spans.push((arena.len(), scratch.len() as u32));
                arena.extend_from_slice(scratch);
                self.push(h, 0, true)
            }
            _ => unreachable!(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn bytes(&self) -> usize {
        let data = match &self.data {
            KeyData::Int { .. } => 0,
            KeyData::Bytes { arena, spans, .. } => arena.capacity() + spans.capacity() * 16,
        };
        data + self.entries.capacity() * std::mem::size_of::<KeyEntry>() + self.index.capacity() * 8
    }

    pub(crate) fn push(&mut self, h: u32, key: i64, valid: bool) -> u32 {
        let kid = self.entries.len() as u32;
        self.entries.push(KeyEntry { key, hash: h, head: NONE, valid });
        if self.entries.len() * 2 > self.index.len() {
            self.rehash(self.index.len() * 2);
        } else {
            let mask = self.index.len() - 1;
            let mut slot = h as usize & mask;
            while self.index[slot] != EMPTY_SLOT {
                slot = (slot + 1) & mask;
            }
            self.index[slot] = ((h as u64) << 32) | kid as u64;
        }
        kid
    }

    pub(crate) fn rehash(&mut self, cap: usize) {
        let mut index = vec![EMPTY_SLOT; cap];
        let mask = cap - 1;
        for (kid, e) in self.entries.iter().enumerate() {
            let h = e.hash;
            let mut slot = h as usize & mask;
            while index[slot] != EMPTY_SLOT {
                slot = (slot + 1) & mask;
            }
            index[slot] = ((h as u64) << 32) | kid as u64;
        }
        self.index = index;
    }

    pub(crate) fn emit(&self, kids: impl ExactSizeIterator<Item = u32> + Clone) -> Vec<Column> {
        match &self.data {
            KeyData::Int { dtype, .. } => {
                vec![int_key_column(*dtype, kids.map(|k| (self.entries[k as usize].key, self.entries[k as usize].valid)))]
            }
            KeyData::Bytes { arena, spans, cols, .. } => {
                let keys: Vec<&[u8]> = kids
                    .map(|k| {
                        let (s, l) = spans[k as usize];
                        &arena[s..s + l as usize]
                    })
                    .collect();
                decode_keys(&keys, cols.iter().map(|c| c.1))
            }
        }
    }

    /// Keeps the keys that have open sessions; returns old id -> new id.
    pub(crate) fn compact(&mut self) -> Vec<u32> {
        let mut remap = vec![NONE; self.len()];
        let keep: Vec<usize> = (0..self.len()).filter(|&k| self.entries[k].head != NONE).collect();
        for (new, &k) in keep.iter().enumerate() {
            remap[k] = new as u32;
        }
        match &mut self.data {
            KeyData::Int { .. } => {}
            KeyData::Bytes { arena, spans, .. } => {
                let mut na = Vec::new();
                let mut ns = Vec::with_capacity(keep.len());
                for &k in &keep {
                    let (s, l) = spans[k];
                    ns.push((na.len(), l));
                    na.extend_from_slice(&arena[s..s + l as usize]);
                }
                *arena = na;
                *spans = ns;
            }
        }
        pick(&mut self.entries, &keep);
        let cap = (keep.len() * 2).next_power_of_two().max(1024);
        self.rehash(cap);
        self.live = keep.len();
        remap
    }
}
