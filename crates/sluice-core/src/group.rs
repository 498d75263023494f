//! The updating (non-windowed) aggregation, Flink's GroupAggFunction with mini-batches: keyed
//! state per group that consumes inserts and retractions (the input's last `$rowkind` i32
//! column: 0 +I, 1 -U, 2 +U, 3 -D; without it every row is an insert) and returns, per batch,
//! the changes of the groups it touched, in first-touch order: +I for a new group, -U then +U
//! for a changed result, -D when all of a group's rows were retracted, nothing when unchanged.
//! MIN/MAX and COUNT DISTINCT keep the multiset of their values, so they retract exactly.
//! FIRST_VALUE / LAST_VALUE keep their non-null values in arrival order (canonical key bytes);
//! a retraction removes the value's earliest occurrence (Flink's retracting FIRST/LAST_VALUE),
//! the result is the earliest / latest still there. An append-only input keeps one value.
//!
//! The same rules, messages and state rows as `ts/engine/group-agg-spec.ts` and
//! `ts/engine/ts/group-agg.ts` (state rows: keys, `$rows`, then per aggregate its accumulator;
//! multisets as `value*count` text; with a state TTL a last `$access` i64).
//!
//! Idle state retention (Flink's `table.exec.state.ttl`, StateTtlConfig OnCreateAndWrite,
//! NeverReturnExpired, processing time): with a TTL, every row a group applies sets its last
//! access to the push's `now` (the caller's processing-time clock); a group whose last access is
//! `ttl` or more before `now` is gone (silently: no change is emitted for it), so the next row of
//! its key starts a new group (+I), and a retraction for a key without a group is dropped (as
//! Flink's GroupAggFunction does after a state clean-up), as is a retraction its group has
//! nothing of (a row from before the group expired). Expired groups leave memory at most
//! one TTL after they expired; the outputs never depend on when.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use crate::batch::{bitmap_from, BatchRef, Column, ColumnData, ColumnRef, DataType, Field, RecordBatch, Schema, SchemaRef, Utf8Builder, ValuesRef};
use crate::error::{Error, Result};
use crate::keys::{canonical_f64_bits, decode_keys, encode_key};
use crate::window::{agg_output_type, AggKind, AggSpec};

pub const ROW_KIND: &str = "$rowkind";

/// A fast hash of key bytes (the Fx hash: a rotate, xor and multiply per 8 bytes): the keys are
/// our own canonical bytes, not attacker-chosen, and SipHash measured a large share of a push.
#[derive(Default)]
struct Fx(u64);

impl Hasher for Fx {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(K);
        }
        let mut last = 0u64;
        for (i, &b) in chunks.remainder().iter().enumerate() {
            last |= (b as u64) << (8 * i);
        }
        self.0 = (self.0.rotate_left(5) ^ last ^ (bytes.len() as u64)).wrapping_mul(K);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<Fx>>;

/// f64 as an i64 whose order is the floats' total order (-0 taken as 0 before).
fn f64_ord(x: f64) -> i64 {
    let b = canonical_f64_bits(x) as i64;
    b ^ ((((b >> 63) as u64) >> 1) as i64)
}

fn f64_from_ord(o: i64) -> f64 {
    f64::from_bits((o ^ ((((o >> 63) as u64) >> 1) as i64)) as u64)
}

enum Acc {
    Count(i64),
    SumI(i64, i64),
    SumF(f64, i64),
    /// min/max: value (f64 in total-order form) -> count.
    Values(BTreeMap<i64, i64>),
    Distinct(FastMap<Vec<u8>, i64>),
    /// first/last: the live values' key bytes, in arrival order.
    Ordered(VecDeque<Vec<u8>>),
}

#[derive(Clone, PartialEq)]
enum Val {
    Null,
    I(i64),
    F(f64),
    /// A value as its canonical key bytes (first/last).
    K(Vec<u8>),
}

struct Group {
    key: Vec<u8>,
    rows: i64,
    accs: Vec<Acc>,
    /// The batch that last touched the group.
    mark: u64,
    /// The `now` of the last push that applied a row to it (with a TTL).
    access: i64,
}

pub struct GroupAggregator {
    input: Schema,
    key_fields: Vec<usize>,
    aggs: Vec<AggSpec>,
    /// The argument is f64 (sum/avg as f64; min/max values in total-order form).
    arg_f64: Vec<bool>,
    out_types: Vec<DataType>,
    updating: bool,
    out_schema: SchemaRef,
    state_schema: SchemaRef,
    index: FastMap<Vec<u8>, usize>,
    groups: Vec<Option<Group>>,
    free: Vec<usize>,
    batch_no: u64,
    /// Idle state retention in ms (0: none).
    ttl: i64,
    /// When expired groups are next removed from memory.
    next_purge: i64,
}

fn retract_missing() -> Error {
    Error::data("an updating aggregation received a retraction (-U/-D) of a group it has no row of; its input retracts rows it never inserted")
}

impl GroupAggregator {
    pub fn new(input: Schema, key_fields: Vec<usize>, aggs: Vec<AggSpec>) -> Result<GroupAggregator> {
        let updating = input.fields.last().is_some_and(|f| f.name == ROW_KIND);
        let width = input.fields.len() - usize::from(updating);
        for &k in &key_fields {
            if k >= width {
                return Err(Error::config(format!("group key field index {k} out of range")));
            }
        }
        let mut out_types = Vec::new();
        for a in &aggs {
            if a.field.is_some_and(|f| f >= width) {
                return Err(Error::config(format!("aggregate '{}': field index {} out of range", a.name, a.field.unwrap_or(0))));
            }
            out_types.push(agg_output_type(a, &input)?);
        }
        let arg_f64 = aggs.iter().map(|a| a.field.is_some_and(|f| input.fields[f].data_type == DataType::F64)).collect::<Vec<_>>();
        let mut out = Vec::new();
        let mut state = Vec::new();
        for &k in &key_fields {
            out.push(input.fields[k].clone());
            state.push(input.fields[k].clone());
        }
        state.push(Field::new("$rows", DataType::I64));
        for (k, a) in aggs.iter().enumerate() {
            out.push(Field::new(a.name.clone(), out_types[k]));
            match a.kind {
                AggKind::Count => state.push(Field::new(format!("$acc{k}"), DataType::I64)),
                AggKind::Sum | AggKind::Avg => {
                    state.push(Field::new(format!("$acc{k}"), if arg_f64[k] { DataType::F64 } else { DataType::I64 }));
                    state.push(Field::new(format!("$cnt{k}"), DataType::I64));
                }
                _ => state.push(Field::new(format!("$acc{k}"), DataType::Utf8)),
            }
        }
        out.push(Field::new(ROW_KIND, DataType::I32));
        Ok(GroupAggregator {
            input,
            key_fields,
            aggs,
            arg_f64,
            out_types,
            updating,
            out_schema: Arc::new(Schema::new(out)),
            state_schema: Arc::new(Schema::new(state)),
            index: FastMap::default(),
            groups: Vec::new(),
            free: Vec::new(),
            batch_no: 0,
            ttl: 0,
            next_purge: i64::MIN,
        })
    }

    /// Idle state retention: groups not written for `ttl_ms` (> 0) expire; the state rows get `$access`.
    pub fn with_ttl(mut self, ttl_ms: i64) -> Result<GroupAggregator> {
        if ttl_ms < 0 {
            return Err(Error::config(format!("the state TTL must be >= 0 ms, got {ttl_ms}")));
        }
        self.ttl = ttl_ms;
        if ttl_ms > 0 {
            let mut fields = self.state_schema.fields.clone();
            fields.push(Field::new("$access", DataType::I64));
            self.state_schema = Arc::new(Schema::new(fields));
        }
        Ok(self)
    }

    fn expired(&self, g: &Group, now: i64) -> bool {
        self.ttl > 0 && g.access.saturating_add(self.ttl) <= now
    }

    fn drop_group(&mut self, gi: usize) {
        if let Some(g) = self.groups[gi].take() {
            self.index.remove(&g.key);
            self.free.push(gi);
        }
    }

    pub fn groups(&self) -> usize {
        self.index.len()
    }

    fn new_accs(&self) -> Vec<Acc> {
        self.aggs
            .iter()
            .enumerate()
            .map(|(k, a)| match a.kind {
                AggKind::Count => Acc::Count(0),
                AggKind::Sum | AggKind::Avg if self.arg_f64[k] => Acc::SumF(0.0, 0),
                AggKind::Sum | AggKind::Avg => Acc::SumI(0, 0),
                AggKind::CountDistinct => Acc::Distinct(FastMap::default()),
                AggKind::First | AggKind::Last => Acc::Ordered(VecDeque::new()),
                _ => Acc::Values(BTreeMap::new()),
            })
            .collect()
    }

    fn result(&self, g: &Group) -> Option<Vec<Val>> {
        if g.rows == 0 {
            return None;
        }
        Some(
            self.aggs
                .iter()
                .zip(&g.accs)
                .enumerate()
                .map(|(k, (a, acc))| match acc {
                    Acc::Count(n) => Val::I(*n),
                    Acc::Distinct(m) => Val::I(m.len() as i64),
                    Acc::SumI(_, 0) | Acc::SumF(_, 0) => Val::Null,
                    Acc::SumI(s, n) => {
                        if a.kind == AggKind::Avg {
                            Val::F(*s as f64 / *n as f64)
                        } else {
                            Val::I(*s)
                        }
                    }
                    Acc::SumF(s, n) => Val::F(if a.kind == AggKind::Avg { *s / *n as f64 } else { *s }),
                    Acc::Values(m) => {
                        let v = if a.kind == AggKind::Min { m.keys().next() } else { m.keys().next_back() };
                        match v {
                            None => Val::Null,
                            Some(&o) if self.arg_f64[k] => Val::F(f64_from_ord(o)),
                            Some(&o) => Val::I(o),
                        }
                    }
                    Acc::Ordered(q) => match if a.kind == AggKind::First { q.front() } else { q.back() } {
                        None => Val::Null,
                        Some(b) => Val::K(b.clone()),
                    },
                })
                .collect(),
        )
    }

    /// Applies a batch at processing time `now` (ms; it matters with a TTL only); returns its
    /// changes (None when there are none).
    pub fn push(&mut self, batch: &BatchRef<'_>, now: i64) -> Result<Option<RecordBatch>> {
        self.batch_no += 1;
        let mark = self.batch_no;
        if self.ttl > 0 && now >= self.next_purge {
            // Expired groups are invisible already; this only frees their memory.
            let old: Vec<usize> = (0..self.groups.len()).filter(|&gi| self.groups[gi].as_ref().is_some_and(|g| self.expired(g, now))).collect();
            for gi in old {
                self.drop_group(gi);
            }
            self.next_purge = now.saturating_add(self.ttl);
        }
        let key_cols: Vec<ColumnRef<'_>> = self.key_fields.iter().map(|&k| batch.columns[k]).collect();
        let kinds = if self.updating {
            match batch.columns[batch.columns.len() - 1].values {
                ValuesRef::I32(v) => Some(v),
                _ => return Err(Error::config("'$rowkind' must be an i32 column")),
            }
        } else {
            None
        };
        let mut touched: Vec<(usize, Option<Vec<Val>>)> = Vec::new();
        let mut key = Vec::with_capacity(64);
        let mut vkey = Vec::with_capacity(16);
        for i in 0..batch.len {
            key.clear();
            encode_key(&key_cols, i, &mut key);
            let kind = kinds.map_or(0, |k| k[i]);
            let add = match kind {
                0 | 2 => true,
                1 | 3 => false,
                other => return Err(Error::data(format!("row {i}: '$rowkind' is {other}; it must be 0 (+I), 1 (-U), 2 (+U) or 3 (-D)"))),
            };
            let mut found = self.index.get(&key).copied();
            if let Some(gi) = found {
                if self.expired(self.groups[gi].as_ref().expect("live group"), now) {
                    self.drop_group(gi);
                    found = None;
                }
            }
            let gi = match found {
                Some(gi) => gi,
                None => {
                    if !add {
                        if self.ttl > 0 {
                            // Its group expired (or never was): dropped, as Flink's after a state clean-up.
                            continue;
                        }
                        return Err(retract_missing());
                    }
                    let g = Group { key: key.clone(), rows: 0, accs: self.new_accs(), mark: 0, access: now };
                    let gi = match self.free.pop() {
                        Some(f) => {
                            self.groups[f] = Some(g);
                            f
                        }
                        None => {
                            self.groups.push(Some(g));
                            self.groups.len() - 1
                        }
                    };
                    self.index.insert(key.clone(), gi);
                    gi
                }
            };
            let g = self.groups[gi].as_ref().expect("live group");
            if g.mark != mark {
                let before = self.result(g);
                touched.push((gi, before));
            }
            let g = self.groups[gi].as_mut().expect("live group");
            g.mark = mark;
            g.access = now;
            if !add && self.ttl > 0 && !retractable(&self.aggs, &self.arg_f64, self.updating, g, batch, i, &mut vkey) {
                // With a TTL the retracted row may predate its group's expiry: dropped (Flink tolerates these too).
                continue;
            }
            if !add && g.rows == 0 {
                return Err(retract_missing());
            }
            g.rows += if add { 1 } else { -1 };
            let d: i64 = if add { 1 } else { -1 };
            for (k, a) in self.aggs.iter().enumerate() {
                let col = a.field.map(|f| batch.columns[f]);
                if let Some(c) = &col {
                    if !c.is_valid(i) {
                        continue;
                    }
                }
                match &mut g.accs[k] {
                    Acc::Count(n) => *n += d,
                    Acc::SumI(s, n) => {
                        let x = int_at(col.as_ref().expect("sum field"), i);
                        *s = if add { s.checked_add(x) } else { s.checked_sub(x) }.ok_or_else(|| {
                            Error::overflow(format!("aggregate '{}': the i64 sum overflows; cast the argument to DOUBLE (f64) to sum it", a.name))
                        })?;
                        *n += d;
                    }
                    Acc::SumF(s, n) => {
                        let x = f64_at(col.as_ref().expect("sum field"), i);
                        if add {
                            *s += x
                        } else {
                            *s -= x
                        }
                        *n += d;
                    }
                    Acc::Values(m) => {
                        let c = col.as_ref().expect("min/max field");
                        let v = if self.arg_f64[k] { f64_ord(f64_at(c, i)) } else { int_at(c, i) };
                        if self.updating {
                            bump(m, v, d)?;
                        } else {
                            // Append-only: nothing is retracted, so the extreme value alone is kept.
                            let better = match m.keys().next() {
                                None => true,
                                Some(&cur) => (a.kind == AggKind::Min && v < cur) || (a.kind == AggKind::Max && v > cur),
                            };
                            if better {
                                m.clear();
                                m.insert(v, 1);
                            }
                        }
                    }
                    Acc::Distinct(m) => {
                        vkey.clear();
                        encode_key(std::slice::from_ref(col.as_ref().expect("distinct field")), i, &mut vkey);
                        // The key is copied only for a value not seen yet in the group.
                        let now = match m.get_mut(vkey.as_slice()) {
                            Some(e) => {
                                *e += d;
                                *e
                            }
                            None => {
                                m.insert(vkey.clone(), d);
                                d
                            }
                        };
                        if now < 0 {
                            return Err(retract_missing());
                        }
                        if now == 0 {
                            m.remove(vkey.as_slice());
                        }
                    }
                    Acc::Ordered(q) => {
                        vkey.clear();
                        encode_key(std::slice::from_ref(col.as_ref().expect("first/last field")), i, &mut vkey);
                        if !add {
                            // The value's earliest occurrence leaves (Flink's retracting FIRST/LAST_VALUE).
                            let at = q.iter().position(|b| *b == vkey).ok_or_else(|| {
                                let f = if a.kind == AggKind::First { "FIRST_VALUE" } else { "LAST_VALUE" };
                                Error::data(format!(
                                    "aggregate '{}': {f} received a retraction (-U/-D) of a value its group does not have; its input retracts rows it never inserted",
                                    a.name
                                ))
                            })?;
                            q.remove(at);
                        } else if self.updating {
                            q.push_back(vkey.clone());
                        } else if a.kind == AggKind::Last || q.is_empty() {
                            // Append-only: the first value, or the latest, alone.
                            q.clear();
                            q.push_back(vkey.clone());
                        }
                    }
                }
            }
        }
        // The changes, in first-touch order.
        let mut keys: Vec<usize> = Vec::new();
        let mut kinds_out: Vec<i32> = Vec::new();
        let mut values: Vec<Vec<Val>> = Vec::new();
        for (gi, before) in touched {
            let g = self.groups[gi].as_ref().expect("live group");
            let after = self.result(g);
            match (before, after) {
                (None, None) => {}
                (None, Some(a)) => {
                    keys.push(gi);
                    kinds_out.push(0);
                    values.push(a);
                }
                (Some(b), None) => {
                    keys.push(gi);
                    kinds_out.push(3);
                    values.push(b);
                }
                (Some(b), Some(a)) => {
                    if !same(&b, &a) {
                        keys.extend([gi, gi]);
                        kinds_out.extend([1, 2]);
                        values.push(b);
                        values.push(a);
                    }
                }
            }
        }
        let out = if keys.is_empty() {
            None
        } else {
            let key_bytes: Vec<&[u8]> = keys.iter().map(|&gi| self.groups[gi].as_ref().expect("live group").key.as_slice()).collect();
            let mut columns = decode_keys(&key_bytes, self.key_fields.iter().map(|&k| self.input.fields[k].data_type));
            for (k, t) in self.out_types.iter().enumerate() {
                if matches!(self.aggs[k].kind, AggKind::First | AggKind::Last) {
                    // Key bytes back into a column (a null result is the null tag).
                    let bytes: Vec<&[u8]> = values.iter().map(|v| if let Val::K(b) = &v[k] { b.as_slice() } else { &[0u8][..] }).collect();
                    columns.extend(decode_keys(&bytes, std::iter::once(*t)));
                } else {
                    columns.push(val_column(*t, values.iter().map(|v| v[k].clone())));
                }
            }
            let n = kinds_out.len();
            columns.push(Column::new(ColumnData::I32(kinds_out)));
            Some(RecordBatch { schema: self.out_schema.clone(), columns, len: n, event_time: None })
        };
        // Groups whose rows were all retracted leave the state.
        for gi in keys_touched_empty(&self.groups, mark) {
            let g = self.groups[gi].take().expect("live group");
            self.index.remove(&g.key);
            self.free.push(gi);
        }
        Ok(out)
    }

    /// The state as rows (see the module docs).
    pub fn snapshot(&self) -> RecordBatch {
        let live: Vec<&Group> = self.groups.iter().flatten().collect();
        let key_bytes: Vec<&[u8]> = live.iter().map(|g| g.key.as_slice()).collect();
        let mut columns = decode_keys(&key_bytes, self.key_fields.iter().map(|&k| self.input.fields[k].data_type));
        columns.push(Column::new(ColumnData::I64(live.iter().map(|g| g.rows).collect())));
        for (k, a) in self.aggs.iter().enumerate() {
            match a.kind {
                AggKind::Count => columns.push(Column::new(ColumnData::I64(
                    live.iter().map(|g| if let Acc::Count(n) = g.accs[k] { n } else { 0 }).collect(),
                ))),
                AggKind::Sum | AggKind::Avg => {
                    if self.arg_f64[k] {
                        columns.push(Column::new(ColumnData::F64(live.iter().map(|g| if let Acc::SumF(s, _) = g.accs[k] { s } else { 0.0 }).collect())));
                    } else {
                        columns.push(Column::new(ColumnData::I64(live.iter().map(|g| if let Acc::SumI(s, _) = g.accs[k] { s } else { 0 }).collect())));
                    }
                    columns.push(Column::new(ColumnData::I64(
                        live.iter()
                            .map(|g| match g.accs[k] {
                                Acc::SumF(_, n) | Acc::SumI(_, n) => n,
                                _ => 0,
                            })
                            .collect(),
                    )));
                }
                _ => {
                    let mut ub = Utf8Builder::with_capacity(live.len(), 0);
                    for g in &live {
                        let text = match &g.accs[k] {
                            Acc::Values(m) => m
                                .iter()
                                .map(|(&o, c)| if self.arg_f64[k] { format!("{}*{c}", f64_from_ord(o).to_bits() as i64) } else { format!("{o}*{c}") })
                                .collect::<Vec<_>>()
                                .join(","),
                            Acc::Distinct(m) => m.iter().map(|(b, c)| format!("{}*{c}", hex(b))).collect::<Vec<_>>().join(","),
                            Acc::Ordered(q) => q.iter().map(|b| hex(b)).collect::<Vec<_>>().join(","),
                            _ => String::new(),
                        };
                        ub.push(text.as_bytes());
                    }
                    columns.push(Column::new(ub.finish()));
                }
            }
        }
        if self.ttl > 0 {
            columns.push(Column::new(ColumnData::I64(live.iter().map(|g| g.access).collect())));
        }
        RecordBatch { schema: self.state_schema.clone(), columns, len: live.len(), event_time: None }
    }

    pub fn state_schema(&self) -> &Schema {
        &self.state_schema
    }

    /// Adds the groups of a snapshot (rows of `state_schema`).
    pub fn restore(&mut self, state: &BatchRef<'_>) -> Result<()> {
        let nk = self.key_fields.len();
        let key_cols: Vec<ColumnRef<'_>> = state.columns[..nk].to_vec();
        let bad = || Error::data("the aggregation's checkpointed state is not in the expected form; restore from a checkpoint this job wrote");
        for i in 0..state.len {
            let mut key = Vec::new();
            encode_key(&key_cols, i, &mut key);
            let mut c = nk;
            let rows = int_at(&state.columns[c], i);
            c += 1;
            let mut accs = self.new_accs();
            for (k, acc) in accs.iter_mut().enumerate() {
                match acc {
                    Acc::Count(n) => {
                        *n = int_at(&state.columns[c], i);
                        c += 1;
                    }
                    Acc::SumI(s, n) => {
                        *s = int_at(&state.columns[c], i);
                        *n = int_at(&state.columns[c + 1], i);
                        c += 2;
                    }
                    Acc::SumF(s, n) => {
                        *s = f64_at(&state.columns[c], i);
                        *n = int_at(&state.columns[c + 1], i);
                        c += 2;
                    }
                    Acc::Values(m) => {
                        for (v, cnt) in entries(utf8_at(&state.columns[c], i)).map_err(|_| bad())? {
                            let x: i64 = v.parse().map_err(|_| bad())?;
                            m.insert(if self.arg_f64[k] { f64_ord(f64::from_bits(x as u64)) } else { x }, cnt);
                        }
                        c += 1;
                    }
                    Acc::Distinct(m) => {
                        for (v, cnt) in entries(utf8_at(&state.columns[c], i)).map_err(|_| bad())? {
                            m.insert(unhex(v).ok_or_else(bad)?, cnt);
                        }
                        c += 1;
                    }
                    Acc::Ordered(q) => {
                        for v in utf8_at(&state.columns[c], i).split(',').filter(|v| !v.is_empty()) {
                            q.push_back(unhex(v).ok_or_else(bad)?);
                        }
                        c += 1;
                    }
                }
            }
            // The last access as written (a restore does not refresh it), or now-less state: never expires before its first row.
            let access = if self.ttl > 0 { int_at(&state.columns[c], i) } else { 0 };
            let gi = self.groups.len();
            self.groups.push(Some(Group { key: key.clone(), rows, accs, mark: 0, access }));
            self.index.insert(key, gi);
        }
        Ok(())
    }
}

/// Whether row `i`'s retraction finds what it retracts in group `g`: a row, and each value a
/// multiset or ordered list keeps.
fn retractable(aggs: &[AggSpec], arg_f64: &[bool], updating: bool, g: &Group, batch: &BatchRef<'_>, i: usize, vkey: &mut Vec<u8>) -> bool {
    if g.rows == 0 {
        return false;
    }
    for (k, a) in aggs.iter().enumerate() {
        let Some(c) = a.field.map(|f| batch.columns[f]) else { continue };
        if !c.is_valid(i) {
            continue;
        }
        let ok = match &g.accs[k] {
            Acc::Values(m) if updating => m.contains_key(&if arg_f64[k] { f64_ord(f64_at(&c, i)) } else { int_at(&c, i) }),
            Acc::Distinct(m) => {
                vkey.clear();
                encode_key(std::slice::from_ref(&c), i, vkey);
                m.contains_key(vkey.as_slice())
            }
            Acc::Ordered(q) => {
                vkey.clear();
                encode_key(std::slice::from_ref(&c), i, vkey);
                q.iter().any(|b| b == vkey)
            }
            _ => true,
        };
        if !ok {
            return false;
        }
    }
    true
}

fn keys_touched_empty(groups: &[Option<Group>], mark: u64) -> Vec<usize> {
    groups.iter().enumerate().filter_map(|(i, g)| g.as_ref().filter(|g| g.mark == mark && g.rows == 0).map(|_| i)).collect()
}

fn bump(m: &mut BTreeMap<i64, i64>, v: i64, d: i64) -> Result<()> {
    let e = m.entry(v).or_insert(0);
    *e += d;
    if *e < 0 {
        return Err(retract_missing());
    }
    if *e == 0 {
        m.remove(&v);
    }
    Ok(())
}

fn same(a: &[Val], b: &[Val]) -> bool {
    a.iter().zip(b).all(|(x, y)| match (x, y) {
        (Val::F(p), Val::F(q)) => p == q || (p.is_nan() && q.is_nan()),
        _ => x == y,
    })
}

fn int_at(c: &ColumnRef<'_>, i: usize) -> i64 {
    match c.values {
        ValuesRef::I32(v) => v[i] as i64,
        ValuesRef::I64(v) | ValuesRef::Timestamp(v) => v[i],
        ValuesRef::F64(v) => v[i] as i64,
        _ => 0,
    }
}

fn f64_at(c: &ColumnRef<'_>, i: usize) -> f64 {
    match c.values {
        ValuesRef::F64(v) => v[i],
        _ => int_at(c, i) as f64,
    }
}

fn utf8_at<'a>(c: &ColumnRef<'a>, i: usize) -> &'a str {
    match c.values {
        ValuesRef::Utf8 { offsets, data } => std::str::from_utf8(ColumnRef::utf8_bytes(offsets, data, i)).unwrap_or(""),
        _ => "",
    }
}

fn entries(s: &str) -> std::result::Result<Vec<(&str, i64)>, ()> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    s.split(',')
        .map(|e| {
            let (v, c) = e.rsplit_once('*').ok_or(())?;
            Ok((v, c.parse::<i64>().map_err(|_| ())?))
        })
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    (0..s.len()).step_by(2).map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect()
}

fn val_column(t: DataType, vals: impl ExactSizeIterator<Item = Val> + Clone) -> Column {
    let validity = if vals.clone().all(|v| v != Val::Null) { None } else { Some(bitmap_from(vals.clone().map(|v| v != Val::Null))) };
    let int = |v: Val| if let Val::I(x) = v { x } else { 0 };
    let data = match t {
        DataType::I32 => ColumnData::I32(vals.map(|v| int(v) as i32).collect()),
        DataType::I64 => ColumnData::I64(vals.map(int).collect()),
        DataType::Timestamp => ColumnData::Timestamp(vals.map(int).collect()),
        _ => ColumnData::F64(vals.map(|v| if let Val::F(x) = v { x } else { 0.0 }).collect()),
    };
    Column { data, validity }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_f64_order_key_orders_as_the_floats_and_round_trips() {
        let xs = [f64::NEG_INFINITY, -1e300, -2.5, -0.0, 0.0, 1e-300, 3.0, f64::INFINITY];
        for w in xs.windows(2) {
            assert!(f64_ord(w[0]) <= f64_ord(w[1]), "{} {}", w[0], w[1]);
        }
        assert_eq!(f64_ord(-0.0), f64_ord(0.0));
        for x in xs {
            assert_eq!(f64_from_ord(f64_ord(x)), if x == 0.0 { 0.0 } else { x });
        }
    }

    fn batch(keys: &[i64], vals: &[i64], kinds: &[i32]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("k", DataType::I64), Field::new("v", DataType::I64), Field::new(ROW_KIND, DataType::I32)]));
        RecordBatch {
            schema,
            columns: vec![Column::new(ColumnData::I64(keys.to_vec())), Column::new(ColumnData::I64(vals.to_vec())), Column::new(ColumnData::I32(kinds.to_vec()))],
            len: keys.len(),
            event_time: None,
        }
    }

    fn agg() -> GroupAggregator {
        let input = Schema::new(vec![Field::new("k", DataType::I64), Field::new("v", DataType::I64), Field::new(ROW_KIND, DataType::I32)]);
        GroupAggregator::new(input, vec![0], vec![AggSpec { name: "m".into(), kind: AggKind::Max, field: Some(1) }]).unwrap()
    }

    fn rows(b: &RecordBatch) -> Vec<(i64, i64, i32)> {
        match (&b.columns[0].data, &b.columns[1].data, &b.columns[2].data) {
            (ColumnData::I64(k), ColumnData::I64(v), ColumnData::I32(r)) => (0..b.len).map(|i| (k[i], v[i], r[i])).collect(),
            _ => panic!("unexpected column types"),
        }
    }

    #[test]
    fn max_under_retraction_falls_back_to_the_next_value_and_a_group_without_rows_is_deleted() {
        let mut a = agg();
        let out = a.push(&batch(&[1, 1, 2], &[5, 9, 4], &[0, 0, 0]).as_ref(), 0).unwrap().unwrap();
        assert_eq!(rows(&out), vec![(1, 9, 0), (2, 4, 0)]);
        // Retracting the 9 of key 1: its max is 5 again; key 2 loses its only row.
        let out = a.push(&batch(&[1, 2], &[9, 4], &[1, 3]).as_ref(), 0).unwrap().unwrap();
        assert_eq!(rows(&out), vec![(1, 9, 1), (1, 5, 2), (2, 4, 3)]);
        assert_eq!(a.groups(), 1);
        // The state as rows restores into a fresh aggregator that continues alike.
        let snap = a.snapshot();
        let mut b = agg();
        b.restore(&snap.as_ref()).unwrap();
        let next = batch(&[1], &[5], &[3]);
        assert_eq!(rows(&b.push(&next.as_ref(), 0).unwrap().unwrap()), rows(&a.push(&next.as_ref(), 0).unwrap().unwrap()));
        assert!(b.push(&batch(&[7], &[1], &[3]).as_ref(), 0).is_err());
    }
}
