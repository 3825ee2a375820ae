//! The serve loop: graceful shutdown, and real outages on demand.
//!
//! [`serve`] runs `axum::serve` with graceful shutdown. On SIGINT or SIGTERM (see
//! [`shutdown_signal`]) it stops accepting, lets the requests in flight finish, closes idle
//! keep-alive connections at once, and returns.
//!
//! The demo outage endpoint uses the same path to take the server away for real, not with a
//! mock: when an [`OutageSwitch`] is flipped, serving stops gracefully (the outage request's own
//! 202 is delivered first), the listening socket is closed so new connections are refused, and
//! after the outage the loop binds the same address again and serves the same application with
//! the same store. A shutdown signal during an outage ends the loop at once.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How long the loop keeps trying to bind its address again after an outage.
pub const REBIND_FOR: Duration = Duration::from_secs(10);

/// Asks the serve loop to go away for a while and come back.
#[derive(Debug, Clone, Default)]
pub struct OutageSwitch(Arc<OutageInner>);

#[derive(Debug, Default)]
struct OutageInner {
    /// When the server should be back, if an outage was asked for and not yet started.
    until: Mutex<Option<Instant>>,
    notify: Notify,
}

impl OutageSwitch {
    /// Asks for an outage of `down_for`, counted from now. If one is already pending, the later
    /// end wins.
    pub fn trigger(&self, down_for: Duration) {
        let until = Instant::now() + down_for;
        {
            let mut pending = self.0.until.lock().unwrap_or_else(PoisonError::into_inner);
            *pending = Some(pending.map_or(until, |earlier| earlier.max(until)));
        }
        self.0.notify.notify_one();
    }

    /// Waits for an outage to be asked for and returns when it should end.
    async fn requested(&self) -> Instant {
        loop {
            self.0.notify.notified().await;
            let pending = self.0.until.lock().unwrap_or_else(PoisonError::into_inner).take();
            if let Some(until) = pending {
                return until;
            }
        }
    }
}

enum Stop {
    Shutdown,
    Outage(Instant),
}

/// Serves `app` on `listener` until `shutdown` is cancelled, going away and coming back on the
/// same address whenever `outages` is flipped.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    outages: OutageSwitch,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let addr = listener.local_addr()?;
    let mut listener = listener;
    loop {
        let (stop_tx, stop_rx) = oneshot::channel();
        let signal = {
            let shutdown = shutdown.clone();
            let outages = outages.clone();
            async move {
                let stop = tokio::select! {
                    () = shutdown.cancelled() => Stop::Shutdown,
                    until = outages.requested() => Stop::Outage(until),
                };
                let _ = stop_tx.send(stop);
            }
        };
        let listener_with_nodelay = listener.tap_io(|stream| {
            if let Err(error) = stream.set_nodelay(true) {
                tracing::debug!(%error, "could not set TCP_NODELAY");
            }
        });
        axum::serve(listener_with_nodelay, app.clone()).with_graceful_shutdown(signal).await?;

        let Ok(Stop::Outage(until)) = stop_rx.await else {
            tracing::info!("shut down");
            return Ok(());
        };
        tracing::info!(
            down_for_ms = until.saturating_duration_since(Instant::now()).as_millis() as u64,
            "outage: not listening"
        );
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep_until(until) => {}
        }
        listener = match rebind(addr, &shutdown).await? {
            Some(listener) => listener,
            None => return Ok(()),
        };
        tracing::info!("outage over: listening on http://{addr}");
    }
}

/// Binds `addr` again, retrying while the port is still held; `None` if shut down meanwhile.
async fn rebind(addr: SocketAddr, shutdown: &CancellationToken) -> io::Result<Option<TcpListener>> {
    let give_up = Instant::now() + REBIND_FOR;
    loop {
        match TcpListener::bind(addr).await {
            Ok(listener) => return Ok(Some(listener)),
            Err(error) if Instant::now() >= give_up => return Err(error),
            Err(error) => tracing::debug!(%error, "rebinding {addr}"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return Ok(None),
            () = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
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
