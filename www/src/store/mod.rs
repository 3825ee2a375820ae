//! Where sessions live: the [`SessionStore`] trait, and the background sweeper.
//!
//! The handlers only speak to this trait, so another backend (Redis, a database) can be added
//! without touching them. Its methods return `impl Future + Send` rather than being synchronous
//! because a networked store has to await; the embedded [`MemoryStore`] simply never waits.
//!
//! The contract every store keeps:
//!
//! - ids are made by the store, 128 random bits (UUID v4); a client never chooses one, and a
//!   lookup never creates anything;
//! - a heartbeat is one atomic "extend if alive, else not found", and it also applies the
//!   per-session rate limit and keeps the client's last info;
//! - an expired session is never served, whether or not a sweep has removed it yet;
//! - time is passed in (`now`, milliseconds since the Unix epoch) from the application's clock,
//!   so expiry is tested without sleeping.

pub mod memory;
pub mod redis;

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde_json::value::RawValue;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::clock::Clock;
use crate::metrics::Metrics;

pub use memory::{MemoryStore, MemoryStoreConfig};
pub use redis::{RedisStore, RedisStoreConfig};

/// The most client info a session keeps, in bytes of JSON text.
pub const CLIENT_INFO_LIMIT: usize = 1024;

/// Why a store could not do what was asked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// No live session has this id (never existed, expired or deleted).
    #[error("session not found")]
    NotFound,
    /// The session's heartbeat budget is spent; the next one is accepted after `retry_after`.
    #[error("rate limited, retry after {retry_after:?}")]
    RateLimited {
        /// How long until the next heartbeat will be accepted.
        retry_after: Duration,
    },
    /// The store cannot serve requests (full, or its backend is down); worth trying again after
    /// `retry_after`.
    #[error("{reason}")]
    Unavailable {
        /// What is wrong, for the client and the log.
        reason: String,
        /// When trying again makes sense.
        retry_after: Duration,
    },
}

/// A snapshot of one live session. Times are milliseconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// The server-made id.
    pub id: Uuid,
    /// When it was created.
    pub created_at: u64,
    /// When it expires unless a heartbeat extends it.
    pub expires_at: u64,
    /// When the last accepted heartbeat arrived, if any did.
    pub last_heartbeat_at: Option<u64>,
    /// How many heartbeats were accepted.
    pub heartbeats: u64,
    /// The body of the last accepted heartbeat, size-limited (see [`ClientInfo`]).
    pub client_info: Option<ClientInfo>,
}

/// The body of a session's last heartbeat, as JSON text of at most [`CLIENT_INFO_LIMIT`] bytes.
///
/// A larger body is replaced by `{"truncated":true,"bytes":N}`, so a client cannot make the
/// server keep more than a kilobyte per session however large its heartbeats are. It is kept as
/// plain text (already validated as a JSON object by the extractor) so that keeping it costs one
/// copy at most, and none when it did not change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo(Box<str>);

impl ClientInfo {
    /// The text to keep for a heartbeat body: the body itself if it fits in
    /// [`CLIENT_INFO_LIMIT`] bytes, else a note of its size.
    pub fn capped(body: &str) -> Cow<'_, str> {
        if body.len() <= CLIENT_INFO_LIMIT {
            Cow::Borrowed(body)
        } else {
            Cow::Owned(Self::note(body.len()))
        }
    }

    /// The note kept instead of a body of `bytes` bytes that was not kept whole.
    pub fn note(bytes: usize) -> String {
        format!(r#"{{"truncated":true,"bytes":{bytes}}}"#)
    }

    /// Wraps JSON text that is already within the limit (as a store reads it back).
    pub fn from_stored(text: impl Into<Box<str>>) -> Self {
        Self(text.into())
    }

    /// The stored JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The stored JSON text as a raw JSON value, for an answer (`null` if a backend returned
    /// something that is not JSON).
    pub fn into_raw(self) -> Box<RawValue> {
        RawValue::from_string(self.0.into()).unwrap_or_else(|_| RawValue::NULL.to_owned())
    }
}

/// A change to a session that the live channel pushes to the sockets watching it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEvent {
    /// A heartbeat moved the session's expiry to `expires_at`.
    Extended {
        /// The session.
        id: Uuid,
        /// Its new expiry, milliseconds since the Unix epoch.
        expires_at: u64,
    },
    /// The session was deleted.
    Deleted {
        /// The session.
        id: Uuid,
    },
}

/// Where a store delivers the changes made by other instances (see [`SessionStore::listen`]).
pub trait EventSink: Send + Sync + 'static {
    /// A change happened.
    fn deliver(&self, event: SessionEvent);
    /// Changes may have been missed (the feed was down): whoever watches a session should read
    /// it again.
    fn resync(&self);
}

/// A place sessions live. All times are milliseconds since the Unix epoch, read by the caller
/// from the application's [`Clock`].
#[allow(
    clippy::len_without_is_empty,
    reason = "the size is reported (demo view, tests), never tested for emptiness"
)]
pub trait SessionStore: Send + Sync + 'static {
    /// Creates a session with a fresh random id, alive until `now` + the store's TTL.
    ///
    /// Fails with [`StoreError::Unavailable`] when the store is full or down.
    fn create(&self, now: u64) -> impl Future<Output = Result<Session, StoreError>> + Send;

    /// If the session is alive at `now`: checks its rate limit, moves its expiry to `now` + TTL,
    /// counts the heartbeat, keeps `client_info`, and returns the new expiry. All of it happens
    /// atomically; an expired session is [`StoreError::NotFound`] and is not revived.
    ///
    /// `client_info` is the heartbeat's body, a JSON object's text; the store keeps
    /// [`ClientInfo::capped`] of it.
    fn heartbeat(
        &self,
        id: Uuid,
        now: u64,
        client_info: &str,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// The session, if alive at `now`. Reading does not extend it.
    fn get(&self, id: Uuid, now: u64) -> impl Future<Output = Result<Session, StoreError>> + Send;

    /// Removes the session; [`StoreError::NotFound`] if it was not alive at `now`.
    fn delete(&self, id: Uuid, now: u64) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes the sessions expired at `now` and returns how many it removed. Its cost is in
    /// proportion to what expired, not to what is stored. A store whose backend expires keys by
    /// itself returns 0.
    fn sweep(&self, now: u64) -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// How many sessions are alive at `now`, and the newest `limit` of them, newest first (for
    /// the demo's hub view).
    fn list(
        &self,
        limit: usize,
        now: u64,
    ) -> impl Future<Output = Result<Listing, StoreError>> + Send;

    /// How many sessions are stored (expired ones not yet removed included).
    fn len(&self) -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// Whether the store can serve requests now (a readiness check).
    fn health(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Whether expired sessions must be swept by [`spawn_sweeper`] (a backend that expires keys
    /// by itself needs no sweeper).
    fn needs_sweeping(&self) -> bool;

    /// Starts delivering to `sink` the changes that other instances sharing this store make, until
    /// `stop` is cancelled; `None` for a store that only this process uses.
    fn listen(&self, sink: Arc<dyn EventSink>, stop: CancellationToken) -> Option<JoinHandle<()>>;
}

/// What [`SessionStore::list`] answers.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// How many sessions are alive.
    pub alive: usize,
    /// The newest of them, newest first.
    pub newest: Vec<Session>,
}

/// Spawns the background sweeper: every `every`, removes the expired sessions from `store`,
/// until `stop` is cancelled. A sweep that has started is always finished. Each removal is
/// counted in `metrics`.
pub fn spawn_sweeper<S: SessionStore>(
    store: Arc<S>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    every: Duration,
    stop: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every.max(Duration::from_millis(1)));
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        ticks.tick().await; // the first tick is immediate; nothing has expired yet
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                _ = ticks.tick() => {}
            }
            let started = std::time::Instant::now();
            match store.sweep(clock.now_ms()).await {
                Ok(0) => {}
                // At info level, with its wall time (runtime yields included), so an operator
                // and the benchmarks can see what a large expiry costs.
                Ok(removed) => {
                    metrics.expired(removed);
                    let ms = started.elapsed().as_secs_f64() * 1000.0;
                    tracing::info!(removed, ms, "swept {removed} sessions in {ms:.1} ms");
                }
                Err(error) => tracing::warn!(%error, "sweep failed"),
            }
        }
    })
}

/// The store chosen at start (`--store`): either implementation behind one type, so the
/// application is built once for both.
#[derive(Debug)]
pub enum AnyStore {
    /// The embedded in-memory store.
    Memory(MemoryStore),
    /// The Redis store.
    Redis(RedisStore),
}

/// Calls the same method on whichever store `$store` holds.
macro_rules! either {
    ($store:expr, $inner:ident => $call:expr) => {
        match $store {
            AnyStore::Memory($inner) => $call,
            AnyStore::Redis($inner) => $call,
        }
    };
}

impl SessionStore for AnyStore {
    async fn create(&self, now: u64) -> Result<Session, StoreError> {
        either!(self, store => store.create(now).await)
    }

    async fn heartbeat(&self, id: Uuid, now: u64, client_info: &str) -> Result<u64, StoreError> {
        either!(self, store => store.heartbeat(id, now, client_info).await)
    }

    async fn get(&self, id: Uuid, now: u64) -> Result<Session, StoreError> {
        either!(self, store => store.get(id, now).await)
    }

    async fn delete(&self, id: Uuid, now: u64) -> Result<(), StoreError> {
        either!(self, store => store.delete(id, now).await)
    }

    async fn sweep(&self, now: u64) -> Result<usize, StoreError> {
        either!(self, store => store.sweep(now).await)
    }

    async fn list(&self, limit: usize, now: u64) -> Result<Listing, StoreError> {
        either!(self, store => store.list(limit, now).await)
    }

    async fn len(&self) -> Result<usize, StoreError> {
        either!(self, store => store.len().await)
    }

    async fn health(&self) -> Result<(), StoreError> {
        either!(self, store => store.health().await)
    }

    fn needs_sweeping(&self) -> bool {
        either!(self, store => store.needs_sweeping())
    }

    fn listen(&self, sink: Arc<dyn EventSink>, stop: CancellationToken) -> Option<JoinHandle<()>> {
        either!(self, store => store.listen(sink, stop))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_info_keeps_small_bodies_and_notes_large_ones() {
        assert_eq!(ClientInfo::capped(r#"{"visible":true}"#), r#"{"visible":true}"#);

        let exactly = format!(r#"{{"a":"{}"}}"#, "x".repeat(CLIENT_INFO_LIMIT - 8));
        assert_eq!(exactly.len(), CLIENT_INFO_LIMIT);
        assert!(matches!(ClientInfo::capped(&exactly), Cow::Borrowed(kept) if kept == exactly));

        let large = format!(r#"{{"a":"{}"}}"#, "x".repeat(CLIENT_INFO_LIMIT));
        assert_eq!(
            ClientInfo::capped(&large),
            format!(r#"{{"truncated":true,"bytes":{}}}"#, CLIENT_INFO_LIMIT + 8)
        );
    }

    #[test]
    fn client_info_that_is_not_json_reads_as_null() {
        assert_eq!(ClientInfo::from_stored("{}").into_raw().get(), "{}");
        assert_eq!(ClientInfo::from_stored("{").into_raw().get(), "null");
    }
}
