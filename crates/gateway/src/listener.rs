//! The accept loop of one listening socket, written out (rather than `axum::serve`) for the
//! limits a daemon on the open network needs: a cap on open connections (over it, new sockets are
//! closed at once, so a flood costs no file descriptors beyond the cap), a header-read timeout (a
//! slowloris client that dribbles its request line is cut off), and a graceful end of keep-alive
//! connections at shutdown. A WebSocket keeps its connection slot after the upgrade: the slot
//! travels with the request (see [`ConnSlot`]) into the socket's task.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::state::AppState;

/// One open TCP connection's place under the connection cap; released when the last holder (the
/// HTTP connection task, or a WebSocket task after an upgrade) drops it.
#[derive(Clone)]
pub struct ConnSlot {
    _permit: Arc<OwnedSemaphorePermit>,
}

fn env_u64(name: &str, default: u64) -> u64 {
    openclaw_config::env::var(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Open connections allowed per generation (`OPENCLAW_MAX_CONNECTIONS`).
pub fn max_connections() -> usize {
    env_u64("MAX_CONNECTIONS", 4096) as usize
}

/// Time a client has to send a complete request head (`OPENCLAW_HTTP_HEADER_TIMEOUT_MS`).
fn header_timeout() -> Duration {
    Duration::from_millis(env_u64("HTTP_HEADER_TIMEOUT_MS", 10_000).max(1))
}

/// Serves `app` on `listener` until the generation's shutdown signal.
pub async fn serve(listener: tokio::net::TcpListener, app: Router, state: Arc<AppState>) {
    let mut stop = state.shutdown.subscribe();
    let header_timeout = header_timeout();
    let mut refused_logged = std::time::Instant::now() - Duration::from_secs(60);
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(target: "gateway", "accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let Ok(permit) = state.connections.clone().try_acquire_owned() else {
            if refused_logged.elapsed() > Duration::from_secs(10) {
                refused_logged = std::time::Instant::now();
                tracing::warn!(target: "gateway", "connection limit reached ({}); refusing new connections", max_connections());
            }
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let slot = ConnSlot {
            _permit: Arc::new(permit),
        };
        let app = app.clone();
        let mut stop = state.shutdown.subscribe();
        tokio::spawn(async move {
            let request_slot = slot.clone();
            let svc = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                    req.extensions_mut().insert(request_slot.clone());
                    let mut app = app.clone();
                    async move { tower_service::Service::call(&mut app, req).await }
                },
            );
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), svc)
                .with_upgrades();
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(target: "http", "connection from {peer} ended: {e}");
                    }
                }
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(1), conn).await;
                }
            }
            drop(slot);
        });
    }
}

/// A semaphore sized for [`max_connections`].
pub fn connection_cap() -> Arc<Semaphore> {
    Arc::new(Semaphore::new(max_connections()))
}

/// Raises this process's soft open-files limit to its hard limit: every connection is a file
/// descriptor, and the usual soft default (1024) would make `accept` fail (EMFILE) long before
/// [`max_connections`]. Returns the soft limit now in force (`None` if it cannot be read).
pub fn raise_nofile_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read/write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return None;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
    }
    let soft = lim.rlim_cur;
    let wanted = max_connections() as u64 + 64;
    if soft < wanted {
        tracing::warn!(
            target: "gateway",
            "open-files limit {soft} is below the connection cap {} (+64 for files): raise `ulimit -n` or lower OPENCLAW_MAX_CONNECTIONS",
            max_connections()
        );
    }
    Some(soft)
}
