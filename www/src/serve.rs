//! The serve loop: accepting connections, with limits that no client can starve, and a graceful
//! shutdown that ends in bounded time.
//!
//! `axum::serve` runs hyper without a timer, so hyper's own header timeout never fires, and it has
//! no cap on connections and no shutdown deadline. [`serve`] drives hyper's HTTP/1.1 connections
//! itself, with:
//!
//! - **a header-read timeout** ([`Limits::header_read_timeout`]): hyper, given tokio's timer,
//!   closes a connection whose request head is not complete in time, counted from when it starts
//!   waiting for one, which also covers an idle keep-alive connection between requests (a client
//!   sending a header line every few seconds is closed as surely as a silent one);
//! - **an idle timeout** ([`Limits::idle_timeout`]): a connection on which no byte moves either
//!   way for that long is closed, whatever hyper or the application is waiting for: a client
//!   that stops reading its answer, or stalls its body, or a live socket gone quiet (its pings
//!   keep a healthy one busy);
//! - **a cap on connections** ([`Limits::max_connections`]): beyond it a new connection is
//!   answered `503 ERR_SERVER_BUSY` with `Retry-After` and closed at once, so the process keeps
//!   file descriptors for the connections it has ([`raise_fd_limit`] lifts the soft limit at
//!   start);
//! - **a shutdown deadline** ([`Limits::shutdown_deadline`]): on shutdown it stops accepting,
//!   lets each connection finish its request in flight and closes idle ones at once; whatever is
//!   still open when the deadline passes is dropped.
//!
//! Malformed HTTP (a head that does not parse, too large, a bad URI) is answered by hyper itself,
//! with the right status (400, 414, 431) and no body, before any of our code runs: hyper 1 has no
//! hook to give those the JSON envelope.
//!
//! A WebSocket upgrade leaves hyper: the live channel closes its sockets itself on shutdown (see
//! [`crate::live`]), under the same idle timeout.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::Service;

use crate::error::ApiError;

/// The largest request head hyper buffers, in bytes (cookies included); a larger one gets 431.
pub const MAX_HEAD_BYTES: usize = 32 * 1024;

/// How long a refused connection is given to take its 503.
const REFUSE_WITHIN: Duration = Duration::from_secs(1);

/// The limits of [`serve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How long a connection may take to send a complete request head, counted from when the
    /// server starts waiting for it (so also how long a keep-alive connection may stay idle).
    pub header_read_timeout: Duration,
    /// How long a connection may go without a byte moving either way.
    pub idle_timeout: Duration,
    /// The most connections served at once.
    pub max_connections: usize,
    /// How long a graceful shutdown may take before the remaining connections are dropped.
    pub shutdown_deadline: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 10_000,
            shutdown_deadline: Duration::from_secs(10),
        }
    }
}

/// Raises the soft limit on open files to the hard limit; returns the limit now in force.
pub fn raise_fd_limit() -> Option<u64> {
    rlimit::increase_nofile_limit(u64::MAX).ok()
}

/// Serves `app` on `listener` within `limits` until `shutdown` completes, then shuts down
/// gracefully within [`Limits::shutdown_deadline`] and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(MAX_HEAD_BYTES);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let connections = TaskTracker::new();
    let finish = CancellationToken::new();
    let abandon = CancellationToken::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(error).await;
                    continue;
                }
            },
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            connections.spawn(refuse(stream));
            continue;
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
        let connection = Connection {
            peer,
            app: app.clone(),
            builder: builder.clone(),
            idle_timeout: limits.idle_timeout,
            _slot: slot,
        };
        connections.spawn(connection.serve(stream, finish.clone(), abandon.clone()));
    }
    drop(listener);
    finish.cancel();
    connections.close();
    if tokio::time::timeout(limits.shutdown_deadline, connections.wait()).await.is_err() {
        tracing::warn!(
            open = connections.len(),
            "the shutdown deadline passed: closing the connections still open"
        );
        abandon.cancel();
        connections.wait().await;
    }
    tracing::info!("shut down");
    Ok(())
}

/// Backs off after an accept error that is not the client's: out of file descriptors, say.
async fn accept_failed(error: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(error.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        return;
    }
    tracing::warn!(%error, "accepting a connection failed");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Answers a connection over the cap with a 503 and closes it.
async fn refuse(mut stream: TcpStream) {
    let error = ApiError::ServerBusy { retry_after: Duration::from_secs(1) };
    let body = serde_json::json!({"error": {"code": error.code(), "message": error.to_string()}})
        .to_string();
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
         x-content-type-options: nosniff\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(REFUSE_WITHIN, async {
        stream.write_all(answer.as_bytes()).await?;
        stream.shutdown().await?;
        // Read what the client sent until it closes, so closing does not reset the connection
        // before the client has read the answer.
        let mut sink = [0u8; 1024];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<_, io::Error>(())
    })
    .await;
}

/// One accepted connection and what serving it needs.
struct Connection {
    peer: SocketAddr,
    app: Router,
    builder: http1::Builder,
    idle_timeout: Duration,
    /// Its place under the cap, given back when the connection ends.
    _slot: OwnedSemaphorePermit,
}

impl Connection {
    async fn serve(self, stream: TcpStream, finish: CancellationToken, abandon: CancellationToken) {
        let Self { peer, app, builder, idle_timeout, _slot } = self;
        let io = TokioIo::new(IdleTimeout::new(stream, idle_timeout));
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            Service::call(&mut app.clone(), request)
        });
        let connection = builder.serve_connection(io, service).with_upgrades();
        let mut connection = std::pin::pin!(connection);
        tokio::select! {
            served = connection.as_mut() => {
                if let Err(error) = served {
                    tracing::debug!(%error, %peer, "connection ended with an error");
                }
                return;
            }
            () = finish.cancelled() => {}
            () = abandon.cancelled() => return,
        }
        connection.as_mut().graceful_shutdown();
        tokio::select! {
            _ = connection.as_mut() => {}
            () = abandon.cancelled() => {}
        }
    }
}

/// A stream that fails with `TimedOut` once no byte has moved either way for `limit`.
///
/// Each read or write that moves bytes only records the time; the timer is reset only when it
/// fires early, so a busy connection costs no timer work per request.
pub struct IdleTimeout<T> {
    inner: T,
    limit: Duration,
    last_moved: Instant,
    timer: Pin<Box<Sleep>>,
}

impl<T> IdleTimeout<T> {
    /// Wraps `inner`, which has just been opened.
    pub fn new(inner: T, limit: Duration) -> Self {
        let now = Instant::now();
        Self {
            inner,
            limit,
            last_moved: now,
            timer: Box::pin(tokio::time::sleep_until(now + limit)),
        }
    }

    /// Called when the inner stream is not ready: fails once the connection has been idle for
    /// the limit, else makes sure the timer will wake the task then.
    fn check(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        while self.timer.as_mut().poll(cx).is_ready() {
            let deadline = self.last_moved + self.limit;
            if deadline <= Instant::now() {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "connection idle"));
            }
            self.timer.as_mut().reset(deadline);
        }
        Ok(())
    }

    fn moved(&mut self, bytes: usize) {
        if bytes > 0 {
            self.last_moved = Instant::now();
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for IdleTimeout<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                this.moved(buf.filled().len() - before);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => {
                this.check(cx)?;
                Poll::Pending
            }
        }
    }
}

impl<T: AsyncWrite + Unpin> IdleTimeout<T> {
    fn written(
        &mut self,
        cx: &mut Context<'_>,
        written: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        match written {
            Poll::Ready(Ok(bytes)) => {
                self.moved(bytes);
                Poll::Ready(Ok(bytes))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => {
                self.check(cx)?;
                Poll::Pending
            }
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for IdleTimeout<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.written(cx, written)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.written(cx, written)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Pending => {
                this.check(cx)?;
                Poll::Pending
            }
            ready => ready,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::duplex;

    #[tokio::test(start_paused = true)]
    async fn a_stream_with_no_bytes_moving_times_out_and_activity_pushes_it_back() {
        let (client, server) = duplex(64);
        let mut server = IdleTimeout::new(server, Duration::from_secs(10));
        let mut client = client;
        let mut buf = [0u8; 8];
        tokio::time::advance(Duration::from_secs(6)).await;
        client.write_all(b"hi").await.unwrap();
        assert_eq!(server.read(&mut buf).await.unwrap(), 2);
        // Six seconds later it has been idle for six, not twelve: still open.
        let read = tokio::time::timeout(Duration::from_secs(6), server.read(&mut buf)).await;
        assert!(read.is_err(), "still waiting");
        let started = Instant::now();
        let error = server.read(&mut buf).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(4), "ten seconds after the last bytes");
    }
}
