//! The live channel: a WebSocket per page on which the server pushes what happens to its session,
//! so a page learns at once that its session was revoked (signed out on another device, deleted
//! by an admin) or extended from another tab, instead of at its next heartbeat minutes later.
//!
//! # Protocol
//!
//! `GET /api/v1/session/{id}/live` upgrades to a WebSocket for a live session. The server sends
//! text frames holding one JSON object each:
//!
//! - `{"type":"extended","expires_at":"…","ttl_seconds":N}` when the socket opens, and whenever
//!   a heartbeat from any tab, device or instance extends the session;
//! - `{"type":"ended","reason":"deleted"}` or `{"type":"ended","reason":"expired"}` when the
//!   session ends (an expiry is pushed when it happens, not at the next sweep), followed by a
//!   close frame with code 1000 and reason `session deleted` or `session expired`.
//!
//! It pings every `ping_interval`; a client that has not answered two pings is closed with 1000
//! `heartbeat timeout` (browsers answer pings by themselves). A shutdown closes every socket with
//! 1001. What a client sends is read only for pongs and close frames and is otherwise ignored;
//! its messages are capped at [`MAX_CLIENT_MESSAGE`] bytes.
//!
//! # How changes reach a socket
//!
//! [`LiveHub`] keeps one `watch` channel per watched session: its value is the latest known
//! expiry and whether the session ended. The API's handlers tell the hub what they did (through
//! [`EventSink`]), and so does the store for other instances' changes (Redis pub/sub). Updates
//! only move the expiry forward and an end is final, so the same change arriving twice or out of
//! order (locally and again through Redis) does no harm. With nobody watching, telling the hub is
//! one atomic load. Each socket also sets a timer at its session's expiry and reads the store
//! then: that is how an expiry is noticed within moments, on any store.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use crate::api::ttl_seconds;
use crate::clock::{Clock, Rfc3339};
use crate::store::{EventSink, SessionEvent, SessionStore, StoreError};

/// The largest message a client may send, in bytes (client messages are ignored anyway).
pub const MAX_CLIENT_MESSAGE: usize = 1024;

/// How much unsent data one socket may hold before it is given up as not reading.
pub const MAX_WRITE_BUFFER: usize = 64 * 1024;

/// Close code: a normal closure (the session ended, or the client stopped answering pings).
pub const CLOSE_NORMAL: u16 = 1000;

/// Close code: the server is going away.
pub const CLOSE_GOING_AWAY: u16 = 1001;

/// How soon a socket reads its session again when the store said it is alive but its expiry is
/// already due (the store's clock is a little behind ours), or the store could not answer.
const RECHECK_AGAIN: Duration = Duration::from_millis(25);
const RECHECK_UNAVAILABLE: Duration = Duration::from_secs(1);

const HUB_SHARDS: usize = 16;

/// How long a closing socket waits for the client's close frame.
const CLOSE_HANDSHAKE: Duration = Duration::from_secs(1);

/// Settings of the live channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveConfig {
    /// How often each socket is pinged.
    pub ping_interval: Duration,
    /// The most sockets one session may hold at once (one per leader tab is the norm).
    pub max_per_session: usize,
    /// The most sockets the server holds at once.
    pub max_sockets: usize,
}

impl Default for LiveConfig {
    fn default() -> Self {
        Self { ping_interval: Duration::from_secs(30), max_per_session: 8, max_sockets: 100_000 }
    }
}

/// Why a session ended, as pushed to its sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EndReason {
    /// Deleted through the API (signed out, revoked).
    Deleted,
    /// Its TTL passed without a heartbeat.
    Expired,
}

impl EndReason {
    fn close_reason(self) -> &'static str {
        match self {
            Self::Deleted => "session deleted",
            Self::Expired => "session expired",
        }
    }
}

/// A message the server sends on a live socket.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum LiveMessage {
    /// The session's expiry, now.
    Extended {
        /// When it expires unless extended again.
        expires_at: Rfc3339,
        /// Seconds left, with millisecond precision.
        ttl_seconds: f64,
    },
    /// The session ended; a close frame follows.
    Ended {
        /// Why.
        reason: EndReason,
    },
}

/// Why a socket could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The session already holds its maximum of sockets.
    SessionFull,
    /// The server holds its maximum of sockets, or is shutting down.
    ServerFull,
}

/// What is known of a watched session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Known {
    expires_at: u64,
    ended: Option<EndReason>,
    /// Bumped when changes may have been missed: each socket then reads the store again.
    resyncs: u64,
}

struct Watched {
    state: watch::Sender<Known>,
    sockets: usize,
}

/// Every live socket of this process, by session; see the [module documentation](self).
pub struct LiveHub {
    shards: Box<[Mutex<HashMap<Uuid, Watched>>]>,
    /// Sessions with at least one socket: zero makes telling the hub free.
    watched: AtomicUsize,
    sockets: AtomicUsize,
    config: LiveConfig,
    closing: AtomicBool,
    /// Bumped to close every socket with 1001.
    disconnects: watch::Sender<u64>,
    tasks: TaskTracker,
}

impl std::fmt::Debug for LiveHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveHub")
            .field("sockets", &self.sockets)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl LiveHub {
    /// A hub with no sockets.
    pub fn new(config: LiveConfig) -> Self {
        Self {
            shards: (0..HUB_SHARDS).map(|_| Mutex::default()).collect(),
            watched: AtomicUsize::new(0),
            sockets: AtomicUsize::new(0),
            config,
            closing: AtomicBool::new(false),
            disconnects: watch::Sender::new(0),
            tasks: TaskTracker::new(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &LiveConfig {
        &self.config
    }

    /// How many sockets are open.
    pub fn sockets(&self) -> usize {
        self.sockets.load(Ordering::Acquire)
    }

    fn shard(&self, id: Uuid) -> MutexGuard<'_, HashMap<Uuid, Watched>> {
        let index = (id.as_u128() >> 96) as usize % HUB_SHARDS;
        self.shards[index].lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers one more socket for session `id`, which is alive until `expires_at`.
    pub fn join(self: &Arc<Self>, id: Uuid, expires_at: u64) -> Result<Subscription, Refusal> {
        if self.closing.load(Ordering::Acquire) {
            return Err(Refusal::ServerFull);
        }
        let mut shard = self.shard(id);
        if shard.get(&id).is_some_and(|watched| watched.sockets >= self.config.max_per_session) {
            return Err(Refusal::SessionFull);
        }
        if self.sockets.fetch_add(1, Ordering::AcqRel) >= self.config.max_sockets {
            self.sockets.fetch_sub(1, Ordering::AcqRel);
            return Err(Refusal::ServerFull);
        }
        let watched = shard.entry(id).or_insert_with(|| {
            self.watched.fetch_add(1, Ordering::AcqRel);
            let known = Known { expires_at, ended: None, resyncs: 0 };
            Watched { state: watch::Sender::new(known), sockets: 0 }
        });
        watched.sockets += 1;
        let known = watched.state.subscribe();
        drop(shard);
        // The caller read the session just now: its expiry is at least as recent as what we knew.
        self.extend(id, expires_at);
        Ok(Subscription {
            hub: Arc::clone(self),
            id,
            known,
            disconnects: self.disconnects.subscribe(),
        })
    }

    fn leave(&self, id: Uuid) {
        let mut shard = self.shard(id);
        if let Some(watched) = shard.get_mut(&id) {
            watched.sockets -= 1;
            if watched.sockets == 0 {
                shard.remove(&id);
                self.watched.fetch_sub(1, Ordering::AcqRel);
            }
        }
        self.sockets.fetch_sub(1, Ordering::AcqRel);
    }

    fn update(&self, id: Uuid, change: impl FnOnce(&mut Known) -> bool) {
        if self.watched.load(Ordering::Acquire) == 0 {
            return;
        }
        if let Some(watched) = self.shard(id).get(&id) {
            watched.state.send_if_modified(change);
        }
    }

    fn extend(&self, id: Uuid, expires_at: u64) {
        self.update(id, |known| {
            let later = known.ended.is_none() && expires_at > known.expires_at;
            if later {
                known.expires_at = expires_at;
            }
            later
        });
    }

    /// Closes every socket with 1001, as when the server goes away (new ones may still open).
    pub fn disconnect_all(&self) {
        self.disconnects.send_modify(|generation| *generation += 1);
    }

    /// Refuses new sockets and closes every open one with 1001.
    pub fn shut_down(&self) {
        self.closing.store(true, Ordering::Release);
        self.disconnect_all();
        self.tasks.close();
    }

    /// Waits until every socket task has ended (after [`LiveHub::shut_down`]).
    pub async fn closed(&self) {
        self.tasks.wait().await;
    }

    /// Runs a socket's task so that [`LiveHub::closed`] waits for it.
    pub fn track<F: std::future::Future>(
        &self,
        task: F,
    ) -> tokio_util::task::task_tracker::TrackedFuture<F> {
        self.tasks.track_future(task)
    }
}

impl EventSink for LiveHub {
    fn deliver(&self, event: SessionEvent) {
        match event {
            SessionEvent::Extended { id, expires_at } => self.extend(id, expires_at),
            SessionEvent::Deleted { id } => self.update(id, |known| {
                let first = known.ended.is_none();
                known.ended = Some(EndReason::Deleted);
                first
            }),
        }
    }

    fn resync(&self) {
        if self.watched.load(Ordering::Acquire) == 0 {
            return;
        }
        for shard in &self.shards {
            for watched in shard.lock().unwrap_or_else(PoisonError::into_inner).values() {
                watched.state.send_modify(|known| known.resyncs += 1);
            }
        }
    }
}

/// One socket's registration: what it learns about its session. Leaves the hub when dropped.
pub struct Subscription {
    hub: Arc<LiveHub>,
    id: Uuid,
    known: watch::Receiver<Known>,
    disconnects: watch::Receiver<u64>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.leave(self.id);
    }
}

/// What a socket's loop ended with.
enum Close {
    /// The session ended: say why, then close with 1000.
    Ended(EndReason),
    /// Close with this code and reason.
    With(u16, &'static str),
    /// The client left, or cannot be written to: nothing more to send.
    Gone,
}

/// Serves one live socket until its session ends, its client leaves or stops answering pings,
/// or the server goes away.
pub async fn run<S: SessionStore>(
    socket: WebSocket,
    mut subscription: Subscription,
    store: Arc<S>,
    clock: Arc<dyn Clock>,
) {
    let ping_every = subscription.hub.config.ping_interval;
    let id = subscription.id;
    let (mut sink, mut stream) = socket.split();
    let mut known = *subscription.known.borrow_and_update();
    let mut sends = Sender { sink: &mut sink, timeout: ping_every };
    let close = 'serve: {
        if sends.message(&extended(known.expires_at, clock.now_ms())).await.is_err() {
            break 'serve Close::Gone;
        }
        let mut pings = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
        pings.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut unanswered = 0u32;
        let mut recheck_at = due(known.expires_at, clock.as_ref());
        loop {
            tokio::select! {
                changed = subscription.known.changed() => {
                    if changed.is_err() {
                        break 'serve Close::With(CLOSE_GOING_AWAY, "server going away");
                    }
                    let now = *subscription.known.borrow_and_update();
                    if let Some(reason) = now.ended {
                        break 'serve Close::Ended(reason);
                    }
                    if now.resyncs != known.resyncs {
                        known.resyncs = now.resyncs;
                        recheck_at = Instant::now();
                    }
                    if now.expires_at > known.expires_at {
                        known.expires_at = now.expires_at;
                        recheck_at = due(known.expires_at, clock.as_ref());
                        if sends.message(&extended(known.expires_at, clock.now_ms())).await.is_err() {
                            break 'serve Close::Gone;
                        }
                    }
                }
                _ = subscription.disconnects.changed() => {
                    break 'serve Close::With(CLOSE_GOING_AWAY, "server going away");
                }
                () = tokio::time::sleep_until(recheck_at) => {
                    let now = clock.now_ms();
                    match store.get(id, now).await {
                        Ok(session) => {
                            if session.expires_at > known.expires_at {
                                known.expires_at = session.expires_at;
                                if sends.message(&extended(known.expires_at, now)).await.is_err() {
                                    break 'serve Close::Gone;
                                }
                            }
                            recheck_at = due(known.expires_at, clock.as_ref())
                                .max(Instant::now() + RECHECK_AGAIN);
                        }
                        // Gone before its expiry: deleted, and the news did not reach us.
                        Err(StoreError::NotFound) if now < known.expires_at => {
                            break 'serve Close::Ended(EndReason::Deleted);
                        }
                        Err(StoreError::NotFound) => break 'serve Close::Ended(EndReason::Expired),
                        Err(_) => recheck_at = Instant::now() + RECHECK_UNAVAILABLE,
                    }
                }
                _ = pings.tick() => {
                    if unanswered >= 2 {
                        break 'serve Close::With(CLOSE_NORMAL, "heartbeat timeout");
                    }
                    unanswered += 1;
                    if sends.frame(Message::Ping(Default::default())).await.is_err() {
                        break 'serve Close::Gone;
                    }
                }
                message = stream.next() => match message {
                    Some(Ok(Message::Pong(_))) => unanswered = 0,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => break 'serve Close::Gone,
                    Some(Ok(_)) => {}
                },
            }
        }
    };
    let (code, reason) = match close {
        Close::Gone => return,
        Close::Ended(reason) => {
            if sends.message(&LiveMessage::Ended { reason }).await.is_err() {
                return;
            }
            (CLOSE_NORMAL, reason.close_reason())
        }
        Close::With(code, reason) => (code, reason),
    };
    let frame = CloseFrame { code, reason: Utf8Bytes::from_static(reason) };
    if sends.frame(Message::Close(Some(frame))).await.is_err() {
        return;
    }
    // The closing handshake: the client answers with its own close frame (and may still answer
    // pings on the way); dropping the connection before that would reset it under the client.
    let _ = tokio::time::timeout(CLOSE_HANDSHAKE, async {
        while let Some(Ok(message)) = stream.next().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

/// Writes to a socket, giving up on a client that does not read within `timeout`.
struct Sender<'a, S> {
    sink: &'a mut S,
    timeout: Duration,
}

impl<S> Sender<'_, S>
where
    S: futures_util::Sink<Message> + Unpin,
{
    async fn frame(&mut self, frame: Message) -> Result<(), ()> {
        match tokio::time::timeout(self.timeout, self.sink.send(frame)).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(()),
        }
    }

    async fn message(&mut self, message: &LiveMessage) -> Result<(), ()> {
        let text = serde_json::to_string(message).map_err(drop)?;
        self.frame(Message::Text(text.into())).await
    }
}

fn extended(expires_at: u64, now: u64) -> LiveMessage {
    LiveMessage::Extended {
        expires_at: Rfc3339(expires_at),
        ttl_seconds: ttl_seconds(expires_at, now),
    }
}

/// The instant at which the clock reads `expires_at`.
fn due(expires_at: u64, clock: &dyn Clock) -> Instant {
    Instant::now() + Duration::from_millis(expires_at.saturating_sub(clock.now_ms()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_have_the_documented_shape() {
        let text = serde_json::to_string(&extended(1_700_000_060_000, 1_700_000_000_000)).unwrap();
        assert_eq!(
            text,
            r#"{"type":"extended","expires_at":"2023-11-14T22:14:20.000Z","ttl_seconds":60.0}"#
        );
        let text = serde_json::to_string(&LiveMessage::Ended { reason: EndReason::Expired });
        assert_eq!(text.unwrap(), r#"{"type":"ended","reason":"expired"}"#);
    }

    #[test]
    fn the_hub_caps_sockets_and_forgets_sessions_nobody_watches() {
        let hub = Arc::new(LiveHub::new(LiveConfig {
            max_per_session: 2,
            max_sockets: 3,
            ..LiveConfig::default()
        }));
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let first = hub.join(a, 10).unwrap();
        let second = hub.join(a, 10).unwrap();
        assert_eq!(hub.join(a, 10).err(), Some(Refusal::SessionFull));
        let third = hub.join(b, 10).unwrap();
        assert_eq!(hub.join(b, 10).err(), Some(Refusal::ServerFull));
        assert_eq!(hub.sockets(), 3);
        drop((first, second, third));
        assert_eq!(hub.sockets(), 0);
        assert_eq!(hub.watched.load(Ordering::Acquire), 0);
        assert!(hub.shards.iter().all(|shard| shard.lock().unwrap().is_empty()));
        hub.shut_down();
        assert_eq!(hub.join(a, 10).err(), Some(Refusal::ServerFull), "none once shutting down");
    }

    #[test]
    fn updates_only_move_forward_and_an_end_is_final() {
        let hub = Arc::new(LiveHub::new(LiveConfig::default()));
        let id = Uuid::new_v4();
        let mut subscription = hub.join(id, 100).unwrap();
        hub.deliver(SessionEvent::Extended { id, expires_at: 200 });
        hub.deliver(SessionEvent::Extended { id, expires_at: 150 });
        assert_eq!(subscription.known.borrow_and_update().expires_at, 200);
        hub.deliver(SessionEvent::Deleted { id });
        hub.deliver(SessionEvent::Extended { id, expires_at: 300 });
        let known = *subscription.known.borrow_and_update();
        assert_eq!((known.expires_at, known.ended), (200, Some(EndReason::Deleted)));
        hub.resync();
        assert_eq!(subscription.known.borrow_and_update().resyncs, 1);
    }
}
