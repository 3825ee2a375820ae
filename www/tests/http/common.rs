//! A real server on a loopback port, with a manual clock, and a small HTTP client around it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use keeper_server::clock::{Clock, ManualClock};
use keeper_server::serve::serve;
use keeper_server::store::{MemoryStore, MemoryStoreConfig, SessionStore};
use keeper_server::{AppConfig, AppState, app};
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use reqwest::{Client, Method};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The TTL of test servers unless a test sets another.
pub const TTL: Duration = Duration::from_secs(20 * 60);

/// What a test server is started with.
pub struct Options {
    pub store: MemoryStoreConfig,
    pub app: AppConfig,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            store: MemoryStoreConfig { ttl: TTL, ..MemoryStoreConfig::default() },
            app: AppConfig::default(),
        }
    }
}

impl Options {
    pub fn demo() -> Self {
        let mut options = Self::default();
        options.app.demo = true;
        options
    }
}

pub struct TestServer {
    pub base: String,
    pub addr: SocketAddr,
    pub clock: Arc<ManualClock>,
    pub state: AppState<MemoryStore>,
    pub shutdown: CancellationToken,
    served: Option<JoinHandle<std::io::Result<()>>>,
    pub client: Client,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::with(Options::default()).await
    }

    pub async fn with(options: Options) -> Self {
        let clock = Arc::new(ManualClock::starting_now());
        let state = AppState::new(MemoryStore::new(options.store), clock.clone(), options.app);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let served = Some(tokio::spawn(serve(
            listener,
            app(state.clone()),
            state.outages().clone(),
            shutdown.clone(),
        )));
        Self {
            base: format!("http://{addr}"),
            addr,
            clock,
            state,
            shutdown,
            served,
            client: client(),
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
        self.clock.now_ms()
    }

    pub async fn len(&self) -> usize {
        self.state.store().len().await.unwrap()
    }

    pub async fn send(
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
        let mut stream = tokio::net::TcpStream::connect(self.addr).await.unwrap();
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
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
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
