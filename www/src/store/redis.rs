//! The Redis [`SessionStore`], for several `keeper-server` instances sharing their sessions and
//! keeping them across restarts.
//!
//! # Why it looks like this
//!
//! Every operation is **one atomic round trip**, so two instances can never interleave halfway
//! through one and a session is never brought back once gone:
//!
//! - create is `SET key value NX PX ttl`: it cannot overwrite a session, and Redis expires it;
//! - a heartbeat is a Lua script (sent once, then run by its SHA with `EVALSHA`, loaded again
//!   on `NOSCRIPT`) that reads the session, applies its rate limit, rewrites it with the new
//!   count, last heartbeat and client info under a new `PX`, publishes the new expiry, and
//!   returns the remaining TTL. A key that is not there (deleted, or expired by Redis) is
//!   answered "not found" and is not created;
//! - a read is a script returning the value and its `PTTL` together; a delete is a script that
//!   deletes and, if there was something to delete, publishes it.
//!
//! Expiry is Redis's own, so this store needs no sweeper. A session is one string value,
//! `created|last_heartbeat|count|tokens|client_info`, under `{prefix}session:{id}`; the client
//! info goes last because it is the only field that may hold a `|`.
//!
//! # Changes reach every instance
//!
//! The heartbeat and delete scripts publish on `{prefix}events` (`extended ID EXPIRES_AT`,
//! `deleted ID`) in the same round trip. [`SessionStore::listen`] subscribes on a connection of
//! its own and hands what arrives to the live channel; when Redis goes away it reconnects with
//! backoff and asks every watcher to read its session again, since it may have missed changes.
//!
//! # Redis down
//!
//! Each call is bounded by the configured timeout (connecting, answering, and the whole call),
//! so no request hangs on a dead Redis: it is answered 503 `ERR_STORE_UNAVAILABLE` with
//! `Retry-After: 1`. The connection manager reconnects by itself on the next call once Redis is
//! back.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Client, RedisError, Script, SetExpiry, SetOptions};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{ClientInfo, EventSink, Listing, Session, SessionEvent, SessionStore, StoreError};
use crate::clock::duration_ms;

/// What a client is told to wait when Redis cannot be reached.
pub const DOWN_RETRY_AFTER: Duration = Duration::from_secs(1);

/// How many keys the demo's listing looks at, at most.
pub const LIST_SCAN_LIMIT: usize = 10_000;

/// The longest wait between two attempts to subscribe again.
const RESUBSCRIBE_MAX_DELAY: Duration = Duration::from_secs(2);

const HEARTBEAT: &str = r"
local value = redis.call('GET', KEYS[1])
if not value then return {0, 0} end
local remaining = redis.call('PTTL', KEYS[1])
if remaining <= 0 then return {0, 0} end
local created, last, count, tokens, info = string.match(value, '^(%d+)|(%d*)|(%d+)|([^|]+)|(.*)$')
if not created then return redis.error_reply('ERR keeper: malformed session value') end
local now = tonumber(ARGV[1])
local refilled = tonumber(created)
if last ~= '' then refilled = tonumber(last) end
local rate = tonumber(ARGV[4])
local available = math.min(tonumber(tokens) + math.max(now - refilled, 0) * rate, tonumber(ARGV[3]))
if available < 1 then return {2, math.ceil((1 - available) / rate)} end
local ttl = math.max(tonumber(ARGV[2]), remaining)
local beats = tonumber(count) + 1
redis.call('SET', KEYS[1], created .. '|' .. ARGV[1] .. '|' .. string.format('%.0f', beats) .. '|'
  .. string.format('%.4f', available - 1) .. '|' .. ARGV[5], 'PX', ttl)
redis.call('PUBLISH', KEYS[2], 'extended ' .. ARGV[6] .. ' ' .. string.format('%.0f', now + ttl))
return {1, ttl}
";

const READ: &str = r"
local value = redis.call('GET', KEYS[1])
if not value then return false end
return {value, redis.call('PTTL', KEYS[1])}
";

const DELETE: &str = r"
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
redis.call('PUBLISH', KEYS[2], 'deleted ' .. ARGV[1])
return 1
";

/// Settings of a [`RedisStore`].
#[derive(Debug, Clone, PartialEq)]
pub struct RedisStoreConfig {
    /// Where Redis is, e.g. `redis://127.0.0.1:6379/0`.
    pub url: String,
    /// Put before every key and the events channel, so several applications can share a Redis.
    pub prefix: String,
    /// How long a session lives after its creation or its last heartbeat.
    pub ttl: Duration,
    /// How many heartbeats one session may send at once before the rate limit applies.
    pub heartbeat_burst: u32,
    /// How many heartbeats per second one session earns back, on average.
    pub heartbeat_rate: f64,
    /// The longest one call to Redis may take, connecting included.
    pub timeout: Duration,
}

impl RedisStoreConfig {
    /// The settings for `url` with the defaults of everything else.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: "keeper:".to_owned(),
            ttl: Duration::from_secs(20 * 60),
            heartbeat_burst: 100,
            heartbeat_rate: 10.0,
            timeout: Duration::from_millis(500),
        }
    }
}

/// The Redis session store; see the [module documentation](self).
#[derive(Clone)]
pub struct RedisStore {
    client: Client,
    connection: ConnectionManager,
    prefix: Arc<str>,
    channel: Arc<str>,
    ttl_ms: u64,
    burst: f64,
    rate_per_ms: f64,
    timeout: Duration,
    heartbeat: Arc<Script>,
    read: Arc<Script>,
    delete: Arc<Script>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store on the Redis at `config.url`. Nothing is connected yet: the first call connects,
    /// so the server starts (and answers 503) while Redis is still down.
    pub fn open(config: RedisStoreConfig) -> Result<Self, String> {
        let client = Client::open(config.url.as_str())
            .map_err(|error| format!("`{}` is not a Redis URL: {error}", config.url))?;
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.timeout))
            .set_response_timeout(Some(config.timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(10))
            .set_max_delay(Duration::from_millis(100));
        let connection = ConnectionManager::new_lazy_with_config(client.clone(), manager)
            .map_err(|error| format!("cannot set up the Redis connection: {error}"))?;
        let rate = if config.heartbeat_rate.is_finite() && config.heartbeat_rate > 0.0 {
            config.heartbeat_rate
        } else {
            f64::MIN_POSITIVE
        };
        Ok(Self {
            client,
            connection,
            channel: format!("{}events", config.prefix).into(),
            prefix: config.prefix.into(),
            ttl_ms: duration_ms(config.ttl).max(1),
            burst: f64::from(config.heartbeat_burst.max(1)),
            rate_per_ms: rate / 1000.0,
            timeout: config.timeout,
            heartbeat: Arc::new(Script::new(HEARTBEAT)),
            read: Arc::new(Script::new(READ)),
            delete: Arc::new(Script::new(DELETE)),
        })
    }

    /// The channel the scripts publish changes on.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    fn key(&self, id: Uuid) -> String {
        format!("{}session:{id}", self.prefix)
    }

    /// Runs one call to Redis within the timeout; any failure is `Unavailable`.
    async fn call<T>(
        &self,
        call: impl Future<Output = Result<T, RedisError>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(down(format!("redis: {error}"))),
            Err(_) => {
                Err(down(format!("redis did not answer within {} ms", self.timeout.as_millis())))
            }
        }
    }

    fn connection(&self) -> ConnectionManager {
        self.connection.clone()
    }

    fn parse(
        &self,
        id: Uuid,
        value: &str,
        remaining_ms: i64,
        now: u64,
    ) -> Result<Session, StoreError> {
        let malformed = || down(format!("redis: malformed session value at {}", self.key(id)));
        let mut fields = value.splitn(5, '|');
        let mut next = || fields.next().ok_or_else(malformed);
        let created_at = next()?.parse().map_err(|_| malformed())?;
        let last = next()?;
        let heartbeats = next()?.parse().map_err(|_| malformed())?;
        let _tokens = next()?;
        let info = next()?;
        let last_heartbeat_at =
            if last.is_empty() { None } else { Some(last.parse().map_err(|_| malformed())?) };
        Ok(Session {
            id,
            created_at,
            expires_at: now.saturating_add(u64::try_from(remaining_ms).unwrap_or(0)),
            last_heartbeat_at,
            heartbeats,
            client_info: (!info.is_empty()).then(|| ClientInfo::from_stored(info)),
        })
    }

    /// The keys under the prefix, at most `limit` of them.
    async fn scan(&self, limit: usize) -> Result<Vec<String>, StoreError> {
        let pattern = format!("{}session:*", self.prefix);
        let mut connection = self.connection();
        let mut cursor: u64 = 0;
        let mut keys = Vec::new();
        loop {
            let (next, batch): (u64, Vec<String>) = self
                .call(
                    redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(&pattern)
                        .arg("COUNT")
                        .arg(1000)
                        .query_async(&mut connection),
                )
                .await?;
            keys.extend(batch);
            if next == 0 || keys.len() >= limit {
                keys.truncate(limit);
                return Ok(keys);
            }
            cursor = next;
        }
    }

    async fn subscribe_loop(self, sink: Arc<dyn EventSink>, stop: CancellationToken) {
        let mut delay = Duration::from_millis(50);
        loop {
            let connected = tokio::select! {
                () = stop.cancelled() => return,
                connected = tokio::time::timeout(self.timeout, async {
                    let mut pubsub = self.client.get_async_pubsub().await?;
                    pubsub.subscribe(&*self.channel).await?;
                    Ok::<_, RedisError>(pubsub)
                }) => connected,
            };
            if let Ok(Ok(mut pubsub)) = connected {
                // Changes made while nobody listened are not replayed: watchers read again.
                sink.resync();
                delay = Duration::from_millis(50);
                tracing::debug!(channel = %self.channel, "listening for session changes");
                let mut messages = pubsub.on_message();
                loop {
                    tokio::select! {
                        () = stop.cancelled() => return,
                        message = messages.next() => match message {
                            Some(message) => match parse_event(message.get_payload_bytes()) {
                                Some(event) => sink.deliver(event),
                                None => tracing::debug!("ignored a malformed session change"),
                            },
                            None => break,
                        },
                    }
                }
                tracing::warn!("lost the Redis subscription to session changes; reconnecting");
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(jittered(delay)) => {}
            }
            delay = (delay * 2).min(RESUBSCRIBE_MAX_DELAY);
        }
    }
}

/// A random pause between half of `delay` and all of it ("equal jitter"): when Redis comes back,
/// every instance that lost its subscription would otherwise reconnect at the same instants of
/// the same doubling schedule.
fn jittered(delay: Duration) -> Duration {
    let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(fastrand::u64(ms / 2..=ms))
}

/// Parses `extended ID EXPIRES_AT` or `deleted ID`.
fn parse_event(payload: &[u8]) -> Option<SessionEvent> {
    let text = std::str::from_utf8(payload).ok()?;
    let mut words = text.split(' ');
    let kind = words.next()?;
    let id = Uuid::try_parse(words.next()?).ok()?;
    match (kind, words.next(), words.next()) {
        ("extended", Some(expires_at), None) => {
            Some(SessionEvent::Extended { id, expires_at: expires_at.parse().ok()? })
        }
        ("deleted", None, None) => Some(SessionEvent::Deleted { id }),
        _ => None,
    }
}

fn down(reason: String) -> StoreError {
    StoreError::Unavailable { reason, retry_after: DOWN_RETRY_AFTER }
}

impl SessionStore for RedisStore {
    async fn create(&self, now: u64) -> Result<Session, StoreError> {
        let options = SetOptions::default()
            .conditional_set(redis::ExistenceCheck::NX)
            .with_expiration(SetExpiry::PX(self.ttl_ms));
        let value = format!("{now}||0|{}|", self.burst);
        let mut connection = self.connection();
        loop {
            let id = Uuid::new_v4();
            let created: Option<String> =
                self.call(connection.set_options(self.key(id), &value, options.clone())).await?;
            if created.is_some() {
                return Ok(Session {
                    id,
                    created_at: now,
                    expires_at: now.saturating_add(self.ttl_ms),
                    last_heartbeat_at: None,
                    heartbeats: 0,
                    client_info: None,
                });
            }
            // A 122-bit collision: draw again.
        }
    }

    async fn heartbeat(&self, id: Uuid, now: u64, client_info: &str) -> Result<u64, StoreError> {
        let mut connection = self.connection();
        let mut invocation = self.heartbeat.key(self.key(id));
        invocation
            .key(&*self.channel)
            .arg(now)
            .arg(self.ttl_ms)
            .arg(self.burst)
            .arg(self.rate_per_ms)
            .arg(&*ClientInfo::capped(client_info))
            .arg(id.to_string());
        let (outcome, value): (i64, i64) =
            self.call(invocation.invoke_async(&mut connection)).await?;
        let value = u64::try_from(value).unwrap_or(0);
        match outcome {
            1 => Ok(now.saturating_add(value)),
            2 => Err(StoreError::RateLimited { retry_after: Duration::from_millis(value) }),
            _ => Err(StoreError::NotFound),
        }
    }

    async fn get(&self, id: Uuid, now: u64) -> Result<Session, StoreError> {
        let mut connection = self.connection();
        let found: Option<(String, i64)> =
            self.call(self.read.key(self.key(id)).invoke_async(&mut connection)).await?;
        match found {
            Some((value, remaining)) if remaining > 0 => self.parse(id, &value, remaining, now),
            _ => Err(StoreError::NotFound),
        }
    }

    async fn delete(&self, id: Uuid, _now: u64) -> Result<(), StoreError> {
        let mut connection = self.connection();
        let mut invocation = self.delete.key(self.key(id));
        invocation.key(&*self.channel).arg(id.to_string());
        let deleted: i64 = self.call(invocation.invoke_async(&mut connection)).await?;
        if deleted == 1 { Ok(()) } else { Err(StoreError::NotFound) }
    }

    async fn sweep(&self, _now: u64) -> Result<usize, StoreError> {
        Ok(0)
    }

    async fn list(&self, limit: usize, now: u64) -> Result<Listing, StoreError> {
        let keys = self.scan(LIST_SCAN_LIMIT).await?;
        let mut newest = Vec::new();
        for key in &keys {
            let Some(id) = key.rsplit(':').next().and_then(|id| Uuid::try_parse(id).ok()) else {
                continue;
            };
            match self.get(id, now).await {
                Ok(session) => newest.push(session),
                Err(StoreError::NotFound) => {}
                Err(error) => return Err(error),
            }
        }
        let alive = newest.len();
        newest.sort_unstable_by_key(|session| std::cmp::Reverse((session.created_at, session.id)));
        newest.truncate(limit);
        Ok(Listing { alive, newest })
    }

    async fn len(&self) -> Result<usize, StoreError> {
        Ok(self.scan(usize::MAX).await?.len())
    }

    async fn health(&self) -> Result<(), StoreError> {
        let mut connection = self.connection();
        self.call(redis::cmd("PING").query_async::<String>(&mut connection)).await.map(drop)
    }

    fn needs_sweeping(&self) -> bool {
        false
    }

    fn listen(&self, sink: Arc<dyn EventSink>, stop: CancellationToken) -> Option<JoinHandle<()>> {
        Some(tokio::spawn(self.clone().subscribe_loop(sink, stop)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_parse_and_anything_else_is_ignored() {
        let id = Uuid::new_v4();
        assert_eq!(
            parse_event(format!("extended {id} 1700000000000").as_bytes()),
            Some(SessionEvent::Extended { id, expires_at: 1_700_000_000_000 })
        );
        assert_eq!(
            parse_event(format!("deleted {id}").as_bytes()),
            Some(SessionEvent::Deleted { id })
        );
        for bad in [
            format!("deleted {id} 5"),
            format!("extended {id}"),
            format!("extended {id} soon"),
            "deleted nobody".to_owned(),
            String::new(),
        ] {
            assert_eq!(parse_event(bad.as_bytes()), None, "{bad}");
        }
        assert_eq!(parse_event(b"\xff"), None);
    }

    #[test]
    fn resubscribe_pauses_are_spread_over_the_upper_half_of_the_delay() {
        let delay = Duration::from_millis(800);
        let pauses: Vec<Duration> = (0..200).map(|_| jittered(delay)).collect();
        assert!(pauses.iter().all(|p| (delay / 2..=delay).contains(p)), "{pauses:?}");
        // Instances that lost Redis together must not come back in step.
        let distinct: std::collections::HashSet<_> = pauses.iter().collect();
        assert!(distinct.len() > 50, "only {} distinct pauses", distinct.len());
        assert_eq!(jittered(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn a_url_that_is_not_redis_is_refused_at_start() {
        assert!(RedisStore::open(RedisStoreConfig::new("http://127.0.0.1:1")).is_err());
    }
}
