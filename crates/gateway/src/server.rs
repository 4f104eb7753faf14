//! Start-up and shutdown: bind the listeners (refusing clearly when the port is taken), serve
//! HTTP + WebSocket on them, run the periodic tick and health refresh, and stop cleanly on
//! SIGTERM/SIGINT (a `shutdown` event to every client, close frames, exit within 2 s).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use openclaw_protocol::events::names as ev;
use openclaw_protocol::{Shutdown, Tick};
use tokio::net::TcpListener;

use crate::StartError;
use crate::hub::Audience;
use crate::state::{AppState, ShutdownKind, now_ms};

/// Binds every address of the bind mode. The first address must bind; later ones (e.g. `::1`
/// where IPv6 is off) are best effort.
pub async fn bind(state: &AppState) -> Result<Vec<TcpListener>, StartError> {
    let mut port = state.settings.port;
    let mut out = Vec::new();
    for (i, ip) in state.settings.bind.addrs().into_iter().enumerate() {
        let addr = SocketAddr::new(ip, port);
        match TcpListener::bind(addr).await {
            Ok(l) => {
                // With `--port 0` every address shares the port the first one got.
                if let Ok(a) = l.local_addr() {
                    port = a.port();
                }
                out.push(l)
            }
            Err(e) if i == 0 => {
                if e.kind() == std::io::ErrorKind::AddrInUse {
                    return Err(StartError::PortInUse {
                        addr,
                        listeners: crate::portinfo::listeners(port),
                    });
                }
                return Err(StartError::Bind { addr, source: e });
            }
            Err(e) => {
                tracing::debug!(target: "gateway", "not listening on {addr}: {e}");
            }
        }
    }
    Ok(out)
}

/// Waits for SIGTERM or SIGINT and returns its name.
async fn wait_for_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            let _ = tokio::signal::ctrl_c().await;
            return "SIGINT";
        };
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "SIGINT"
    }
}

fn spawn_periodic(state: &Arc<AppState>) {
    let s = state.clone();
    tokio::spawn(async move {
        let period = Duration::from_millis(s.settings.tick_interval_ms);
        let mut iv = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        let mut stop = s.shutdown.subscribe();
        loop {
            tokio::select! {
                _ = iv.tick() => {
                    let payload = serde_json::to_string(&Tick { ts: now_ms() }).unwrap_or_default();
                    s.hub.broadcast(ev::TICK, &payload, None, true, Audience::Everyone);
                }
                _ = stop.changed() => return,
            }
        }
    });
    let s = state.clone();
    tokio::spawn(async move {
        let period = Duration::from_millis(s.settings.health_refresh_ms);
        let mut iv = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        let mut stop = s.shutdown.subscribe();
        loop {
            tokio::select! {
                _ = iv.tick() => {
                    let json = s.refresh_health();
                    s.hub.broadcast(ev::HEALTH, &json, Some(s.state_version()), true, Audience::Everyone);
                }
                _ = stop.changed() => return,
            }
        }
    });
}

/// Serves until a stop signal; returns after clients were told and sockets closed.
pub async fn serve(state: Arc<AppState>, listeners: Vec<TcpListener>) -> Result<(), StartError> {
    let app = crate::http::router(state.clone());
    let mut servers = Vec::new();
    for l in listeners {
        let app = app.clone();
        let mut stop = state.shutdown.subscribe();
        servers.push(tokio::spawn(async move {
            let service = app.into_make_service_with_connect_info::<SocketAddr>();
            let _ = axum::serve(l, service)
                .with_graceful_shutdown(async move {
                    let _ = stop.changed().await;
                })
                .await;
        }));
    }
    spawn_periodic(&state);
    // Compile the protocol validators now, off the accept path.
    tokio::task::spawn_blocking(openclaw_protocol::schema::warm_up);

    let sig = wait_for_signal().await;
    tracing::info!(target: "gateway", "signal {sig} received; shutting down");
    let payload = serde_json::to_string(&Shutdown {
        reason: "gateway stopping".into(),
        restart_expected_ms: None,
    })
    .unwrap_or_default();
    state
        .hub
        .broadcast(ev::SHUTDOWN, &payload, None, false, Audience::Everyone);
    state.hub.close_all(1001, "gateway shutting down");
    let _ = state.shutdown.send(Some(ShutdownKind::Stop {
        reason: sig.to_string(),
    }));
    // Give connections a moment to flush the shutdown event and close frames.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(1500);
    while state.hub.count() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for s in servers {
        let _ = tokio::time::timeout(Duration::from_millis(200), s).await;
    }
    tracing::info!(target: "gateway", "gateway stopped");
    Ok(())
}
