//! A real server on a loopback port, with a manual clock, and a small client around it; the
//! store is in memory or in the Redis the test command started (see [`Backend`]).
//!
//! Requests that need no socket ([`TestServer::send`] and the helpers on it) go to the same
//! router in-process, through `oneshot`; what is about connections (client addresses, redirects
//! followed, timeouts, WebSockets) goes over loopback ([`TestServer::send_http`], `client`,
//! `exchange`, `live`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use futures_util::StreamExt;
use keeper_server::clock::{Clock, ManualClock, SystemClock};
use keeper_server::demo::Demo;
use keeper_server::rate_limit::RateLimit;
use keeper_server::serve::{Limits, serve};
use keeper_server::store::{
    AnyStore, MemoryStore, MemoryStoreConfig, RedisStore, RedisStoreConfig, SessionStore,
};
use keeper_server::{AppConfig, AppState, app};
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use reqwest::{Client, Method};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// The TTL of test servers unless a test sets another.
pub const TTL: Duration = Duration::from_secs(20 * 60);

/// [`TTL`] in milliseconds.
pub const TTL_MS: u64 = TTL.as_millis() as u64;

/// Milliseconds since the epoch of an RFC 3339 time in a JSON answer.
#[track_caller]
pub fn ms(value: &Value) -> u64 {
    let text = value.as_str().unwrap_or_else(|| panic!("not a time: {value}"));
    assert!(text.ends_with('Z') && text.len() == 24, "RFC 3339 UTC with millis: {text}");
    let time = humantime::parse_rfc3339(text).unwrap();
    time.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

/// A create rate limit no test reaches unless it means to.
pub const UNLIMITED: RateLimit = RateLimit { burst: u32::MAX, per_second: 1e9 };

/// The environment variable naming the Redis the Redis suite runs against.
pub const REDIS_VAR: &str = "KEEPER_TEST_REDIS";

/// Where a test server keeps its sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// The in-memory store.
    Memory,
    /// A Redis and a key prefix: the test Redis with a fresh prefix ([`Backend::fresh_redis`]),
    /// or one several instances share, or a Redis the test runs itself.
    RedisAt { url: String, prefix: String },
}

impl Backend {
    /// The shared test Redis with a fresh prefix, so tests running at once do not meet.
    pub fn fresh_redis() -> Self {
        Self::RedisAt {
            url: test_redis_url(),
            prefix: format!("keeper-test:{}:", uuid::Uuid::new_v4()),
        }
    }
}

/// The URL of the Redis the test command started. Unset, the Redis suite fails: it must never
/// pass by not running.
pub fn test_redis_url() -> String {
    std::env::var(REDIS_VAR).unwrap_or_else(|_| {
        panic!(
            "{REDIS_VAR} is not set, so the Redis store's suite cannot run. scripts/test.sh starts \
             a redis-server and sets it; by hand: redis-server --port 6390 --save '' & \
             {REDIS_VAR}=redis://127.0.0.1:6390/0 cargo test -p keeper-server"
        )
    })
}

/// What a test server is started with.
pub struct Options {
    pub backend: Backend,
    pub store: MemoryStoreConfig,
    pub app: AppConfig,
    pub demo: bool,
    pub limits: Limits,
    /// Read time from the system clock instead of the manual one (for what Redis or a timer
    /// does in real time: expiry, pushes).
    pub real_time: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            backend: Backend::Memory,
            store: MemoryStoreConfig { ttl: TTL, ..MemoryStoreConfig::default() },
            // Every test client comes from 127.0.0.1: the create limit is set by its own tests.
            app: AppConfig { create_limit: UNLIMITED, ..AppConfig::default() },
            demo: false,
            limits: Limits::default(),
            real_time: false,
        }
    }
}

impl Options {
    pub fn demo() -> Self {
        Self { demo: true, ..Self::default() }
    }

    pub fn on(backend: &Backend) -> Self {
        Self { backend: backend.clone(), ..Self::default() }
    }
}

fn store_for(options: &Options) -> AnyStore {
    let (url, prefix) = match &options.backend {
        Backend::Memory => return AnyStore::Memory(MemoryStore::new(options.store.clone())),
        Backend::RedisAt { url, prefix } => (url.clone(), prefix.clone()),
    };
    let config = RedisStoreConfig {
        url,
        prefix,
        ttl: options.store.ttl,
        heartbeat_burst: options.store.heartbeat_burst,
        heartbeat_rate: options.store.heartbeat_rate,
        timeout: Duration::from_millis(500),
    };
    AnyStore::Redis(RedisStore::open(config).expect("a valid Redis URL"))
}

pub struct TestServer {
    pub base: String,
    pub addr: SocketAddr,
    pub clock: Arc<ManualClock>,
    pub state: AppState<AnyStore>,
    pub shutdown: CancellationToken,
    served: Option<JoinHandle<std::io::Result<()>>>,
    pub client: Client,
    router: Router,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::with(Options::default()).await
    }

    pub async fn on(backend: &Backend) -> Self {
        Self::with(Options::on(backend)).await
    }

    pub async fn with(options: Options) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serving(options, listener).await
    }

    /// A server on `listener` (for a restart on the same address).
    pub async fn serving(options: Options, listener: tokio::net::TcpListener) -> Self {
        let manual = Arc::new(ManualClock::starting_now());
        let clock: Arc<dyn Clock> =
            if options.real_time { Arc::new(SystemClock) } else { manual.clone() };
        let state = AppState::new(store_for(&options), clock, options.app.clone());
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        // Sweeps are driven by the tests themselves.
        let _background = state.start_background(Duration::from_secs(3600), shutdown.clone());
        let limits = options.limits;
        let demo = options.demo.then(|| Demo::new(&state));
        let router = app(state.clone(), demo.as_ref());
        let served = if let Some(demo) = demo {
            let (router, shutdown) = (router.clone(), shutdown.clone());
            tokio::spawn(async move { demo.serve(listener, router, limits, shutdown).await })
        } else {
            let router = router.clone();
            let live = Arc::clone(state.live());
            let stop = shutdown.clone();
            tokio::spawn(async move {
                let stop_live = stop.clone();
                tokio::spawn(async move {
                    stop_live.cancelled().await;
                    live.shut_down();
                });
                serve(listener, router, limits, stop.cancelled_owned()).await
            })
        };
        Self {
            base: format!("http://{addr}"),
            addr,
            clock: manual,
            state,
            shutdown,
            served: Some(served),
            client: client(),
            router,
        }
    }

    /// Whether the serve loop is still running.
    pub fn is_serving(&self) -> bool {
        self.served.as_ref().is_some_and(|served| !served.is_finished())
    }

    /// Waits for the serve loop to return (after a shutdown), at most `within`.
    pub async fn served(&mut self, within: Duration) -> std::io::Result<()> {
        let served = self.served.take().expect("the serve loop is awaited once");
        tokio::time::timeout(within, served)
            .await
            .expect("serve returned in time")
            .expect("serve did not panic")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn now(&self) -> u64 {
        self.state.now()
    }

    pub async fn len(&self) -> usize {
        self.state.store().len().await.unwrap()
    }

    /// Sends a request to the router in-process (no socket, no client address).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<axum::body::Body>,
    ) -> Reply {
        let mut request =
            axum::http::Request::builder().method(method).uri(path).header("host", "t");
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        let response = self.router.clone().oneshot(request.body(body.into()).unwrap()).await;
        let Ok(response) = response;
        let (parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).await.unwrap().to_vec();
        Reply { status: parts.status.as_u16(), headers: parts.headers, body }
    }

    /// Sends a request over loopback, following redirects, from 127.0.0.1.
    pub async fn send_http(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> Reply {
        let mut request = self.client.request(method, self.url(path)).body(body);
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        Reply::from(request.send().await.unwrap()).await
    }

    pub async fn post_json(&self, path: &str, body: &str) -> Reply {
        self.send(Method::POST, path, Some("application/json"), body.to_owned()).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None, "").await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None, "").await
    }

    /// Sends `request` verbatim on a new connection and reads the whole answer: for what a
    /// client library would not send (dot segments, hand-made chunking).
    pub async fn exchange(&self, request: &[u8]) -> String {
        let mut stream = TcpStream::connect(self.addr).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        String::from_utf8_lossy(&answer).into_owned()
    }

    /// Creates a session and returns its id.
    pub async fn create(&self) -> String {
        let reply = self.post_json("/api/v1/session", "{}").await;
        assert_eq!(reply.status, 201, "{}", reply.text());
        reply.json()["session_id"].as_str().unwrap().to_owned()
    }

    /// Opens the live channel of session `id`, from a page on `origin` if given.
    pub async fn live(&self, id: &str, origin: Option<&str>) -> Result<Live, tungstenite::Error> {
        let mut request = format!("ws://{}{}", self.addr, live_path(id)).into_client_request()?;
        if let Some(origin) = origin {
            request.headers_mut().insert("origin", origin.parse().unwrap());
        }
        let (socket, _) = tokio_tungstenite::connect_async(request).await?;
        Ok(Live(socket))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A live-channel client.
pub struct Live(pub WebSocketStream<MaybeTlsStream<TcpStream>>);

/// What a live socket received next.
#[derive(Debug)]
pub enum Received {
    Json(Value),
    Closed(Option<CloseFrame>),
    /// The connection failed (reset, broken) instead of closing.
    Failed,
}

impl Live {
    /// The next message or close frame, within `within` (pings are answered on the way).
    pub async fn next(&mut self, within: Duration) -> Received {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let message = tokio::time::timeout_at(deadline, self.0.next())
                .await
                .unwrap_or_else(|_| panic!("nothing arrived within {within:?}"));
            match message {
                Some(Ok(Message::Text(text))) => {
                    return Received::Json(serde_json::from_str(&text).expect("JSON"));
                }
                Some(Ok(Message::Close(frame))) => return Received::Closed(frame),
                Some(Ok(_)) => {}
                Some(Err(_)) => return Received::Failed,
                None => return Received::Closed(None),
            }
        }
    }

    /// The next JSON message, within `within`.
    pub async fn json(&mut self, within: Duration) -> Value {
        match self.next(within).await {
            Received::Json(value) => value,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    /// The close frame, within `within`, as (code, reason).
    pub async fn closed(&mut self, within: Duration) -> (u16, String) {
        match self.next(within).await {
            Received::Closed(Some(frame)) => (frame.code.into(), frame.reason.to_string()),
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

pub fn live_path(id: &str) -> String {
    format!("/api/v1/session/{id}/live")
}

/// A redis-server of the test's own on a free loopback port, for what the shared one must not
/// go through (being stopped); stopped when dropped.
pub struct OwnRedis {
    pub port: u16,
    child: Option<Child>,
}

impl OwnRedis {
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut redis = Self { port, child: None };
        redis.restart().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Starts it (again) and waits until it answers.
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--loglevel", "warning"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/setup.sh installs it)");
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)).await {
                let mut answer = [0u8; 7];
                if stream.write_all(b"PING\r\n").await.is_ok()
                    && stream.read_exact(&mut answer).await.is_ok()
                    && &answer == b"+PONG\r\n"
                {
                    return;
                }
            }
            assert!(tokio::time::Instant::now() < deadline, "redis-server did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills it (as a crash would).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends one Redis command on its own connection and returns the raw answer.
pub async fn redis_command(url: &str, command: &[&str]) -> String {
    let client = redis::Client::open(url).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let mut cmd = redis::cmd(command[0]);
    for arg in &command[1..] {
        cmd.arg(*arg);
    }
    let value: redis::Value = cmd.query_async(&mut connection).await.unwrap();
    format!("{value:?}")
}

pub fn client() -> Client {
    Client::builder().no_proxy().timeout(Duration::from_secs(10)).build().unwrap()
}

pub fn heartbeat_path(id: &str) -> String {
    format!("/api/v1/session/{id}/heartbeat")
}

pub fn session_path(id: &str) -> String {
    format!("/api/v1/session/{id}")
}

/// An answer, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub async fn from(response: reqwest::Response) -> Self {
        Self {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.bytes().await.unwrap().to_vec(),
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|value| value.to_str().unwrap())
    }

    /// Asserts the error envelope with this status and code; returns the message.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) -> String {
        assert_eq!(self.status, status, "body: {}", self.text());
        assert_eq!(self.header("content-type"), Some("application/json"));
        let body = self.json();
        assert_eq!(body["error"]["code"], code, "body: {}", self.text());
        assert_eq!(body.as_object().unwrap().len(), 1, "only `error`: {}", self.text());
        body["error"]["message"].as_str().expect("a message").to_owned()
    }
}

/// A fresh folder under the system's temporary folder.
pub fn temp_dir(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "keeper-server-test-{}-{}-{name}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
