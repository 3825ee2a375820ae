//! The embedded in-memory [`SessionStore`]: sharded, with a lazy expiry index.
//!
//! # Layout
//!
//! Sessions are spread over [`SHARDS`] shards, each a `Mutex` around a hash map and an expiry
//! index, so concurrent requests for different sessions rarely meet on a lock and no lock is ever
//! held across an `.await`. The shard is picked from bits 96 to 101 of the id (in its fourth byte).
//!
//! The maps hash with [`IdHasher`], which folds the id's two 64-bit halves with one XOR instead of
//! running SipHash. That is safe here because every stored key is a UUID v4 the server drew from
//! the OS random generator: nobody can choose keys that collide, and a client-chosen lookup id
//! only probes the table, whose shape is set by the random stored keys. The shard bits lie in the
//! middle of the hash, away from both the low bits hashbrown uses to pick a bucket and the top
//! seven bits it keeps as a tag, so sharding does not skew either.
//!
//! An entry is compact (56 bytes next to its 16-byte key): times as `u64` milliseconds, the
//! second its index record is filed under, the heartbeat count as `u32`, the rate-limit tokens as
//! `f32`, and the client info as an optional boxed string of at most 1 KiB. A heartbeat whose body
//! equals the kept client info (the keeper's `{}` every time) keeps the old box: no allocation.
//!
//! # Limits
//!
//! The store holds at most `max_sessions` sessions and at most `memory_budget` bytes, counted as
//! [`SESSION_BYTES`] per session plus the bytes of its client info: a client that sends a
//! kilobyte with every heartbeat costs what it costs, and cannot push the store past its budget.
//! A create beyond either limit fails with `Unavailable` (a 503 with `Retry-After`); a heartbeat
//! is never refused for memory, it keeps a short note of the body instead of the body.
//!
//! # Expiry
//!
//! Every read checks `expires_at` against `now`, so an expired session is never served, and a
//! read that finds one expired removes it at once. The background sweep removes the rest.
//!
//! The sweep must cost in proportion to what expired, not to what is stored, so each shard keeps
//! an expiry index, `BTreeMap<second, Vec<id>>`, and it is maintained **lazily**:
//!
//! - a create adds the id under the second of its expiry: each session has exactly one index
//!   record, and that record's second is never later than the session's real expiry; the entry
//!   remembers that second, so a delete removes its record at once and leaves nothing behind;
//! - a heartbeat only moves the entry's `expires_at` forward (O(1), no index write);
//! - a sweep at `now` pops the records of the seconds up to `now`, and for each id removes the
//!   session if it really expired, drops the record if the session is already gone, or else
//!   re-inserts the record under the second of its current expiry.
//!
//! A session heartbeated a thousand times thus costs one index write per sweep that reaches it,
//! not one per heartbeat. A sweep works shard by shard in chunks of [`SWEEP_CHUNK`] records, taking
//! the shard's lock once per chunk and yielding to the runtime between chunks, so heartbeats keep
//! flowing while a million sessions expire at once. Between two chunks no record is held outside
//! the index, so dropping a sweep midway loses nothing.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{ClientInfo, EventSink, Listing, Session, SessionStore, StoreError};
use crate::clock::duration_ms;

/// How many shards the store has (a power of two).
pub const SHARDS: usize = 64;

/// How many index records a sweep handles per lock of a shard.
pub const SWEEP_CHUNK: usize = 1024;

/// The width of an expiry-index bucket, in milliseconds.
const BUCKET_MS: u64 = 1000;

/// `last_heartbeat_at` of a session that has had none.
const NEVER: u64 = u64::MAX;

/// What one session costs in memory before its client info, in bytes, as counted against the
/// memory budget: measured at 1,000,000 sessions (map, index and allocator included).
pub const SESSION_BYTES: usize = 160;

/// What a client is told to wait when the store is full: sessions only leave by expiry or
/// deletion, so there is no point in retrying at once.
pub const FULL_RETRY_AFTER: Duration = Duration::from_secs(30);

/// Settings of a [`MemoryStore`].
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryStoreConfig {
    /// How long a session lives after its creation or its last heartbeat.
    pub ttl: Duration,
    /// The most sessions the store holds; creating more fails with `Unavailable`.
    pub max_sessions: usize,
    /// The most bytes the sessions may take, counted as [`SESSION_BYTES`] each plus their client
    /// info; creating more fails with `Unavailable`.
    pub memory_budget: usize,
    /// How many heartbeats one session may send at once before the rate limit applies.
    pub heartbeat_burst: u32,
    /// How many heartbeats per second one session earns back, on average.
    pub heartbeat_rate: f64,
}

impl Default for MemoryStoreConfig {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(20 * 60),
            max_sessions: 5_000_000,
            memory_budget: 1024 * 1024 * 1024,
            heartbeat_burst: 100,
            heartbeat_rate: 10.0,
        }
    }
}

/// The embedded session store; see the [module documentation](self) for its design.
#[derive(Debug)]
pub struct MemoryStore {
    shards: Box<[Padded]>,
    len: AtomicUsize,
    /// Bytes counted against the budget: [`SESSION_BYTES`] per session plus client info.
    bytes: AtomicUsize,
    ttl_ms: u64,
    max_sessions: usize,
    memory_budget: usize,
    burst: f64,
    /// Tokens earned per millisecond.
    rate_per_ms: f64,
}

/// A shard on its own cache lines, so neighbouring locks do not contend through false sharing.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Padded(Mutex<Shard>);

#[derive(Debug, Default)]
struct Shard {
    sessions: HashMap<u128, Entry, BuildHasherDefault<IdHasher>>,
    /// Second of expiry → ids; one record per session, never later than its real expiry.
    index: BTreeMap<u64, Vec<u128>>,
}

#[derive(Debug)]
struct Entry {
    created_at: u64,
    expires_at: u64,
    /// The second its index record is filed under.
    indexed: u64,
    /// [`NEVER`] until the first accepted heartbeat; also the rate bucket's last refill.
    last_heartbeat_at: u64,
    heartbeats: u32,
    /// The rate bucket's tokens as of `last_heartbeat_at` (or `created_at`).
    tokens: f32,
    client_info: Option<ClientInfo>,
}

impl Entry {
    fn is_expired(&self, now: u64) -> bool {
        self.expires_at <= now
    }

    /// What this session counts against the memory budget.
    fn bytes(&self) -> usize {
        SESSION_BYTES + self.client_info.as_ref().map_or(0, |info| info.as_str().len())
    }

    fn snapshot(&self, key: u128) -> Session {
        Session {
            id: Uuid::from_u128(key),
            created_at: self.created_at,
            expires_at: self.expires_at,
            last_heartbeat_at: (self.last_heartbeat_at != NEVER).then_some(self.last_heartbeat_at),
            heartbeats: u64::from(self.heartbeats),
            client_info: self.client_info.clone(),
        }
    }
}

/// A hasher for keys that are already uniformly random (server-made UUID v4 as `u128`): it XORs
/// the two halves. See the [module documentation](self) for why this is safe here.
#[derive(Debug, Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u128(&mut self, key: u128) {
        self.0 = (key as u64) ^ ((key >> 64) as u64);
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not used for `u128` keys; a simple multiplicative mix keeps it correct for anything else.
        for byte in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(*byte)).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }
}

fn bucket_of(expires_at: u64) -> u64 {
    expires_at / BUCKET_MS
}

fn shard_of(key: u128) -> usize {
    (key >> 96) as usize % SHARDS
}

impl MemoryStore {
    /// An empty store with these settings.
    pub fn new(config: MemoryStoreConfig) -> Self {
        let rate = if config.heartbeat_rate.is_finite() && config.heartbeat_rate > 0.0 {
            config.heartbeat_rate
        } else {
            f64::MIN_POSITIVE
        };
        Self {
            shards: (0..SHARDS).map(|_| Padded::default()).collect(),
            len: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
            ttl_ms: duration_ms(config.ttl),
            max_sessions: config.max_sessions,
            memory_budget: config.memory_budget,
            burst: f64::from(config.heartbeat_burst.max(1)),
            rate_per_ms: rate / 1000.0,
        }
    }

    fn lock(&self, index: usize) -> MutexGuard<'_, Shard> {
        // No code panics while holding a shard lock; if one ever did, its data is still sound.
        self.shards[index].0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_for(&self, key: u128) -> MutexGuard<'_, Shard> {
        self.lock(shard_of(key))
    }

    /// Counts one more session, unless the store is full (in sessions or in bytes).
    fn reserve(&self) -> Result<(), StoreError> {
        if self.len.fetch_add(1, Ordering::AcqRel) >= self.max_sessions {
            self.len.fetch_sub(1, Ordering::AcqRel);
            return Err(full(format!(
                "the store holds its maximum of {} sessions",
                self.max_sessions
            )));
        }
        if !self.claim(SESSION_BYTES) {
            self.len.fetch_sub(1, Ordering::AcqRel);
            return Err(full(format!(
                "the store holds its memory budget of {} bytes",
                self.memory_budget
            )));
        }
        Ok(())
    }

    /// Counts `bytes` more against the budget, unless that would exceed it.
    fn claim(&self, bytes: usize) -> bool {
        if self.bytes.fetch_add(bytes, Ordering::AcqRel).saturating_add(bytes) > self.memory_budget
        {
            self.bytes.fetch_sub(bytes, Ordering::AcqRel);
            return false;
        }
        true
    }

    fn release(&self, bytes: usize) {
        if bytes > 0 {
            self.bytes.fetch_sub(bytes, Ordering::AcqRel);
        }
    }

    /// Uncounts removed sessions: `count` of them, holding `bytes` in all.
    fn forget(&self, count: usize, bytes: usize) {
        if count > 0 {
            self.len.fetch_sub(count, Ordering::AcqRel);
        }
        self.release(bytes);
    }

    /// Bytes counted against the budget (for tests and the benchmarks).
    pub fn counted_bytes(&self) -> usize {
        self.bytes.load(Ordering::Acquire)
    }

    /// Looks up a live session, removing it if it has expired.
    fn with_live<T>(
        &self,
        id: Uuid,
        now: u64,
        then: impl FnOnce(&mut Entry) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let key = id.as_u128();
        let mut shard = self.lock_for(key);
        let entry = shard.sessions.get_mut(&key).ok_or(StoreError::NotFound)?;
        if entry.is_expired(now) {
            let removed = remove(&mut shard, key);
            drop(shard);
            self.forget(1, removed.map_or(0, |entry| entry.bytes()));
            return Err(StoreError::NotFound);
        }
        then(entry)
    }

    fn create_now(&self, now: u64) -> Result<Session, StoreError> {
        self.reserve()?;
        let expires_at = now.saturating_add(self.ttl_ms);
        let entry = Entry {
            created_at: now,
            expires_at,
            indexed: bucket_of(expires_at),
            last_heartbeat_at: NEVER,
            heartbeats: 0,
            tokens: self.burst as f32,
            client_info: None,
        };
        loop {
            let key = Uuid::new_v4().as_u128();
            let mut shard = self.lock_for(key);
            if shard.sessions.contains_key(&key) {
                continue; // a 122-bit collision: draw again
            }
            let session = entry.snapshot(key);
            shard.sessions.insert(key, entry);
            shard.index.entry(bucket_of(expires_at)).or_default().push(key);
            return Ok(session);
        }
    }

    fn heartbeat_now(&self, id: Uuid, now: u64, client_info: &str) -> Result<u64, StoreError> {
        self.with_live(id, now, |entry| {
            let last_refill = if entry.last_heartbeat_at == NEVER {
                entry.created_at
            } else {
                entry.last_heartbeat_at
            };
            let earned = now.saturating_sub(last_refill) as f64 * self.rate_per_ms;
            let tokens = (f64::from(entry.tokens) + earned).min(self.burst);
            if tokens < 1.0 {
                // Nothing is written: recomputing from the same refill time later gives the same
                // tokens, so a refused heartbeat costs the client nothing more.
                let wait_ms = (1.0 - tokens) / self.rate_per_ms;
                let retry_after =
                    Duration::try_from_secs_f64(wait_ms / 1000.0).unwrap_or(Duration::MAX);
                return Err(StoreError::RateLimited { retry_after });
            }
            entry.tokens = (tokens - 1.0) as f32;
            entry.last_heartbeat_at = now;
            entry.heartbeats = entry.heartbeats.saturating_add(1);
            // Never shortened (a wall clock stepping back), which keeps the index record at or
            // before the real expiry, as the lazy index requires.
            entry.expires_at = entry.expires_at.max(now.saturating_add(self.ttl_ms));
            self.keep_client_info(entry, client_info);
            Ok(entry.expires_at)
        })
    }

    /// Keeps `body` (capped) as the entry's client info: the old box when the text is the same,
    /// a short note of its size when the budget has no room for it.
    fn keep_client_info(&self, entry: &mut Entry, body: &str) {
        let capped = ClientInfo::capped(body);
        if entry.client_info.as_ref().is_some_and(|kept| kept.as_str() == capped) {
            return;
        }
        self.release(entry.client_info.as_ref().map_or(0, |kept| kept.as_str().len()));
        let kept = if self.claim(capped.len()) {
            capped.into_owned()
        } else {
            // A note is a few dozen bytes: counted even past the budget, which only refuses
            // new sessions, never a heartbeat.
            let note = ClientInfo::note(body.len());
            self.bytes.fetch_add(note.len(), Ordering::AcqRel);
            note
        };
        entry.client_info = Some(ClientInfo::from_stored(kept));
    }

    fn delete_now(&self, id: Uuid, now: u64) -> Result<(), StoreError> {
        let key = id.as_u128();
        let removed = remove(&mut self.lock_for(key), key);
        match removed {
            None => Err(StoreError::NotFound),
            Some(entry) => {
                self.forget(1, entry.bytes());
                if entry.is_expired(now) { Err(StoreError::NotFound) } else { Ok(()) }
            }
        }
    }

    /// Handles up to [`SWEEP_CHUNK`] due index records of one shard under one lock.
    /// Returns how many sessions it removed, the bytes they held, and whether due records remain.
    fn sweep_chunk(&self, shard_index: usize, now: u64) -> (usize, usize, bool) {
        let now_bucket = bucket_of(now);
        let mut guard = self.lock(shard_index);
        let Shard { sessions, index } = &mut *guard;
        let mut removed = 0;
        let mut bytes = 0;
        let mut budget = SWEEP_CHUNK;
        while let Some(mut first) = index.first_entry() {
            let bucket = *first.key();
            if bucket > now_bucket {
                return (removed, bytes, false);
            }
            if budget == 0 {
                return (removed, bytes, true);
            }
            if bucket == now_bucket {
                // The current second: some of it has expired, the rest stays where it is.
                let mut moved = Vec::new();
                first.get_mut().retain(|key| match sessions.get(key) {
                    None => false,
                    Some(entry) if entry.is_expired(now) => {
                        bytes += entry.bytes();
                        sessions.remove(key);
                        removed += 1;
                        false
                    }
                    Some(entry) if bucket_of(entry.expires_at) == now_bucket => true,
                    Some(_) => {
                        moved.push(*key);
                        false
                    }
                });
                if first.get().is_empty() {
                    first.remove();
                }
                for key in moved {
                    reindex(sessions, index, key);
                }
                return (removed, bytes, false);
            }
            let records = first.get_mut();
            let batch = records.split_off(records.len().saturating_sub(budget));
            if records.is_empty() {
                first.remove();
            }
            budget -= batch.len();
            for key in batch {
                match sessions.get(&key) {
                    None => {}
                    Some(entry) if entry.is_expired(now) => {
                        bytes += entry.bytes();
                        sessions.remove(&key);
                        removed += 1;
                    }
                    // Alive, so its expiry is at `now_bucket` or later: it cannot come back
                    // into the buckets this sweep is draining.
                    Some(_) => reindex(sessions, index, key),
                }
            }
        }
        (removed, bytes, false)
    }

    /// Gives memory back after a shard lost most of its sessions.
    fn shrink(&self, shard_index: usize) {
        let mut shard = self.lock(shard_index);
        let (len, capacity) = (shard.sessions.len(), shard.sessions.capacity());
        if capacity > 1024 && len < capacity / 4 {
            shard.sessions.shrink_to(len * 2);
        }
    }

    fn list_now(&self, limit: usize, now: u64) -> Listing {
        let mut total = 0;
        let mut newest: Vec<Session> = Vec::new();
        for shard_index in 0..SHARDS {
            let shard = self.lock(shard_index);
            let mut alive: Vec<(u64, u128)> = shard
                .sessions
                .iter()
                .filter(|(_, entry)| !entry.is_expired(now))
                .map(|(key, entry)| (entry.created_at, *key))
                .collect();
            total += alive.len();
            if alive.len() > limit {
                alive.select_nth_unstable_by(limit, |a, b| b.cmp(a));
                alive.truncate(limit);
            }
            newest.extend(
                alive
                    .into_iter()
                    .filter_map(|(_, key)| shard.sessions.get(&key).map(|e| e.snapshot(key))),
            );
        }
        newest.sort_unstable_by_key(|session| Reverse((session.created_at, session.id)));
        newest.truncate(limit);
        Listing { alive: total, newest }
    }

    /// How many index records the store holds (one per session).
    #[cfg(test)]
    fn index_records(&self) -> usize {
        (0..SHARDS).map(|i| self.lock(i).index.values().map(Vec::len).sum::<usize>()).sum()
    }
}

/// Files `key` under the second of its entry's current expiry.
fn reindex(
    sessions: &mut HashMap<u128, Entry, BuildHasherDefault<IdHasher>>,
    index: &mut BTreeMap<u64, Vec<u128>>,
    key: u128,
) {
    if let Some(entry) = sessions.get_mut(&key) {
        entry.indexed = bucket_of(entry.expires_at);
        index.entry(entry.indexed).or_default().push(key);
    }
}

/// Removes a session and its index record.
fn remove(shard: &mut Shard, key: u128) -> Option<Entry> {
    let entry = shard.sessions.remove(&key)?;
    if let Some(records) = shard.index.get_mut(&entry.indexed) {
        if let Some(at) = records.iter().position(|record| *record == key) {
            records.swap_remove(at);
        }
        if records.is_empty() {
            shard.index.remove(&entry.indexed);
        }
    }
    Some(entry)
}

impl SessionStore for MemoryStore {
    async fn create(&self, now: u64) -> Result<Session, StoreError> {
        self.create_now(now)
    }

    async fn heartbeat(&self, id: Uuid, now: u64, client_info: &str) -> Result<u64, StoreError> {
        self.heartbeat_now(id, now, client_info)
    }

    async fn get(&self, id: Uuid, now: u64) -> Result<Session, StoreError> {
        self.with_live(id, now, |entry| Ok(entry.snapshot(id.as_u128())))
    }

    async fn delete(&self, id: Uuid, now: u64) -> Result<(), StoreError> {
        self.delete_now(id, now)
    }

    async fn sweep(&self, now: u64) -> Result<usize, StoreError> {
        let mut total = 0;
        for shard_index in 0..SHARDS {
            let mut swept = 0;
            loop {
                let (removed, bytes, more) = self.sweep_chunk(shard_index, now);
                self.forget(removed, bytes);
                swept += removed;
                if !more {
                    break;
                }
                tokio::task::yield_now().await;
            }
            if swept > 0 {
                self.shrink(shard_index);
                tokio::task::yield_now().await;
            }
            total += swept;
        }
        Ok(total)
    }

    async fn list(&self, limit: usize, now: u64) -> Result<Listing, StoreError> {
        Ok(self.list_now(limit, now))
    }

    async fn len(&self) -> Result<usize, StoreError> {
        Ok(self.len.load(Ordering::Acquire))
    }

    async fn health(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn needs_sweeping(&self) -> bool {
        true
    }

    fn listen(&self, _: Arc<dyn EventSink>, _: CancellationToken) -> Option<JoinHandle<()>> {
        None
    }
}

fn full(reason: String) -> StoreError {
    StoreError::Unavailable { reason, retry_after: FULL_RETRY_AFTER }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(60);
    const T0: u64 = 1_700_000_000_000;

    fn store() -> MemoryStore {
        MemoryStore::new(MemoryStoreConfig { ttl: TTL, ..MemoryStoreConfig::default() })
    }

    fn kept(json: &str) -> Option<ClientInfo> {
        Some(ClientInfo::from_stored(json))
    }

    #[tokio::test]
    async fn create_get_heartbeat_delete() {
        let store = store();
        let created = store.create(T0).await.unwrap();
        assert_eq!(created.id.get_version_num(), 4);
        assert_eq!(created.expires_at, T0 + 60_000);
        assert_eq!(created.last_heartbeat_at, None);
        assert_eq!(store.get(created.id, T0 + 10).await.unwrap(), created);

        let expires = store.heartbeat(created.id, T0 + 5_000, "{\"a\":1}").await.unwrap();
        assert_eq!(expires, T0 + 65_000);
        let read = store.get(created.id, T0 + 6_000).await.unwrap();
        assert_eq!(read.expires_at, T0 + 65_000, "reading does not extend");
        assert_eq!(read.last_heartbeat_at, Some(T0 + 5_000));
        assert_eq!(read.heartbeats, 1);
        assert_eq!(read.client_info, kept("{\"a\":1}"));

        store.delete(created.id, T0 + 7_000).await.unwrap();
        assert_eq!(store.get(created.id, T0 + 7_000).await, Err(StoreError::NotFound));
        assert_eq!(store.heartbeat(created.id, T0 + 7_000, "{}").await, Err(StoreError::NotFound));
        assert_eq!(store.delete(created.id, T0 + 7_000).await, Err(StoreError::NotFound));
        assert_eq!(store.len().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn expired_sessions_are_never_served_and_removed_on_read() {
        let store = store();
        let session = store.create(T0).await.unwrap();
        let expiry = session.expires_at;
        assert!(store.get(session.id, expiry - 1).await.is_ok());
        assert_eq!(store.heartbeat(session.id, expiry, "{}").await, Err(StoreError::NotFound));
        assert_eq!(store.len().await.unwrap(), 0);
        assert_eq!(
            store.get(session.id, expiry - 1).await,
            Err(StoreError::NotFound),
            "not revived"
        );
    }

    #[tokio::test]
    async fn heartbeats_do_not_write_the_index_and_sweeps_reindex_lazily() {
        let store = store();
        let a = store.create(T0).await.unwrap().id;
        let b = store.create(T0).await.unwrap().id;
        assert_eq!(store.index_records(), 2);

        for step in 1..=50 {
            store.heartbeat(a, T0 + step * 1_000, "{}").await.unwrap();
        }
        assert_eq!(store.index_records(), 2, "a heartbeat writes no index record");

        // b expires at T0+60s; a was extended to T0+110s.
        assert_eq!(store.sweep(T0 + 60_000).await.unwrap(), 1);
        assert_eq!(store.get(b, T0 + 60_000).await, Err(StoreError::NotFound));
        assert!(store.get(a, T0 + 60_000).await.is_ok());
        assert_eq!(store.index_records(), 1, "a was re-filed once, under its new expiry");
        assert_eq!(store.sweep(T0 + 109_999).await.unwrap(), 0);
        assert_eq!(store.sweep(T0 + 110_000).await.unwrap(), 1);
        assert_eq!(store.index_records(), 0);
        assert_eq!(store.len().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn sweep_removes_exactly_the_expired_including_the_current_second() {
        let store = store();
        let mut early = Vec::new();
        for offset in [0, 100, 200, 300] {
            early.push(store.create(T0 + offset).await.unwrap().id);
        }
        let late = store.create(T0 + 900).await.unwrap().id;
        // now is inside the second where all five expire: four have, one has not.
        let now = T0 + 60_300;
        assert_eq!(bucket_of(now), bucket_of(T0 + 60_900));
        assert_eq!(store.sweep(now).await.unwrap(), 4);
        assert_eq!(store.len().await.unwrap(), 1);
        assert!(store.get(late, now).await.is_ok());
        assert_eq!(store.index_records(), 1);
        assert_eq!(store.sweep(now).await.unwrap(), 0, "a second sweep finds nothing");
        assert_eq!(store.sweep(T0 + 60_900).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn sweep_works_in_chunks_across_many_sessions() {
        let store = store();
        let n = SHARDS * SWEEP_CHUNK * 2 + 7;
        let mut keep = Vec::new();
        for i in 0..n {
            let session = store.create(T0 + (i % 3000) as u64).await.unwrap();
            if i % 10 == 0 {
                keep.push(session.id);
            }
        }
        for id in &keep {
            store.heartbeat(*id, T0 + 30_000, "{}").await.unwrap();
        }
        let removed = store.sweep(T0 + 63_000).await.unwrap();
        assert_eq!(removed, n - keep.len());
        assert_eq!(store.len().await.unwrap(), keep.len());
        assert_eq!(store.index_records(), keep.len());
        assert_eq!(store.sweep(T0 + 90_000).await.unwrap(), keep.len());
    }

    #[tokio::test]
    async fn deleted_sessions_leave_no_index_record() {
        let store = store();
        let ids: Vec<Uuid> = futures_util::future::join_all((0..100).map(|_| store.create(T0)))
            .await
            .into_iter()
            .map(|created| created.unwrap().id)
            .collect();
        let heartbeated = ids[0];
        store.heartbeat(heartbeated, T0 + 30_000, "{}").await.unwrap();
        store.sweep(T0 + 60_000).await.unwrap(); // re-files the heartbeated one
        assert_eq!(store.index_records(), 1);
        store.delete(heartbeated, T0 + 60_000).await.unwrap();
        assert_eq!(store.index_records(), 0, "the re-filed record went with it");

        let store = self::store();
        let id = store.create(T0).await.unwrap().id;
        store.delete(id, T0).await.unwrap();
        assert_eq!(store.index_records(), 0);
        assert_eq!(store.counted_bytes(), 0);
    }

    #[tokio::test]
    async fn the_memory_budget_counts_client_info_and_refuses_creates_not_heartbeats() {
        let store = MemoryStore::new(MemoryStoreConfig {
            ttl: TTL,
            memory_budget: 3 * SESSION_BYTES + 500,
            ..MemoryStoreConfig::default()
        });
        let a = store.create(T0).await.unwrap().id;
        let b = store.create(T0).await.unwrap().id;
        assert_eq!(store.counted_bytes(), 2 * SESSION_BYTES);
        let body = format!(r#"{{"p":"{}"}}"#, "x".repeat(500));
        store.heartbeat(a, T0, &body).await.unwrap();
        assert_eq!(store.counted_bytes(), 2 * SESSION_BYTES + body.len());
        // No room for a third session now, though the session count is far from its maximum.
        let refused = store.create(T0).await;
        assert!(
            matches!(&refused, Err(StoreError::Unavailable { retry_after, .. }) if *retry_after == FULL_RETRY_AFTER),
            "{refused:?}"
        );
        // A heartbeat whose body does not fit keeps a note, and is accepted.
        store.heartbeat(b, T0, &body).await.unwrap();
        let note = ClientInfo::note(body.len());
        assert_eq!(store.get(b, T0).await.unwrap().client_info, kept(&note));
        // Smaller client info gives bytes back; a delete gives back the rest.
        store.heartbeat(a, T0 + 1, "{}").await.unwrap();
        assert!(store.create(T0).await.is_ok());
        for id in [a, b] {
            store.delete(id, T0).await.unwrap();
        }
        assert_eq!(store.counted_bytes(), SESSION_BYTES);
    }

    #[tokio::test]
    async fn an_unchanged_client_info_keeps_its_allocation() {
        let store = store();
        let id = store.create(T0).await.unwrap().id;
        store.heartbeat(id, T0, "{}").await.unwrap();
        let address = |store: &MemoryStore| {
            let shard = store.lock_for(id.as_u128());
            shard.sessions[&id.as_u128()].client_info.as_ref().unwrap().as_str().as_ptr()
        };
        let first = address(&store);
        store.heartbeat(id, T0 + 1, "{}").await.unwrap();
        assert_eq!(address(&store), first, "the same box");
        store.heartbeat(id, T0 + 2, r#"{"a":1}"#).await.unwrap();
        assert_ne!(address(&store), first);
    }

    #[tokio::test]
    async fn rate_bucket_allows_a_burst_then_the_refill_rate() {
        let store = MemoryStore::new(MemoryStoreConfig {
            ttl: TTL,
            heartbeat_burst: 5,
            heartbeat_rate: 10.0,
            ..MemoryStoreConfig::default()
        });
        let id = store.create(T0).await.unwrap().id;
        for _ in 0..5 {
            store.heartbeat(id, T0, "{}").await.unwrap();
        }
        let refused = store.heartbeat(id, T0, "{\"refused\":true}").await;
        assert_eq!(
            refused,
            Err(StoreError::RateLimited { retry_after: Duration::from_millis(100) })
        );
        let session = store.get(id, T0).await.unwrap();
        assert_eq!(session.heartbeats, 5, "a refused heartbeat is not counted");
        assert_eq!(session.client_info, kept("{}"), "nor kept");

        // 10 per second: one token back after 100 ms, not before.
        assert!(store.heartbeat(id, T0 + 99, "{}").await.is_err());
        assert!(store.heartbeat(id, T0 + 100, "{}").await.is_ok());
        assert!(store.heartbeat(id, T0 + 100, "{}").await.is_err());
        // A long pause refills up to the burst, no more.
        for _ in 0..5 {
            store.heartbeat(id, T0 + 60_000, "{}").await.unwrap();
        }
        assert!(store.heartbeat(id, T0 + 60_000, "{}").await.is_err());
    }

    #[tokio::test]
    async fn a_full_store_is_unavailable() {
        let store =
            MemoryStore::new(MemoryStoreConfig { max_sessions: 2, ..MemoryStoreConfig::default() });
        let first = store.create(T0).await.unwrap().id;
        store.create(T0).await.unwrap();
        assert!(matches!(store.create(T0).await, Err(StoreError::Unavailable { .. })));
        assert_eq!(store.len().await.unwrap(), 2);
        store.delete(first, T0).await.unwrap();
        assert!(store.create(T0).await.is_ok());
    }

    #[tokio::test]
    async fn list_is_newest_first_and_alive_only() {
        let store = store();
        let mut ids = Vec::new();
        for i in 0..200u64 {
            ids.push(store.create(T0 + i * 10).await.unwrap().id);
        }
        let listing = store.list(100, T0 + 60_000 + 500).await.unwrap();
        // the first 51 (created up to T0+500) have expired
        assert_eq!(listing.alive, 149);
        let listed = listing.newest;
        assert_eq!(listed.len(), 100);
        assert_eq!(listed[0].id, ids[199]);
        assert_eq!(listed[99].id, ids[100]);
        assert!(listed.windows(2).all(|w| w[0].created_at > w[1].created_at));
        let listed = store.list(1000, T0 + 60_000 + 500).await.unwrap().newest;
        assert_eq!(listed.len(), 149);
    }

    #[test]
    fn shard_and_hash_bits_do_not_overlap() {
        let key = Uuid::new_v4().as_u128();
        let mut hasher = IdHasher::default();
        hasher.write_u128(key);
        let moved = key ^ (0x3f << 96); // flip exactly the shard bits
        let mut other = IdHasher::default();
        other.write_u128(moved);
        let diff = hasher.finish() ^ other.finish();
        assert_eq!(diff & 0xfe00_0000_ffff_ffff, 0, "shard bits stay out of low and tag bits");
        assert_ne!(shard_of(key), shard_of(moved));
    }
}
