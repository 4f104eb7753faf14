//! Supervision: a driver that panics or fails is contained, shown in status and restarted with
//! backoff; other channels keep running; cancel stops everything.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use openclaw_channels::{
    Backoff, CancelToken, ChannelDriver, ChannelError, ChannelStatus, Inbound, OutboundMessage,
    SentRef, Supervised, SupervisorConfig,
};
use openclaw_testkit::wait::wait_for;
use tokio::sync::mpsc;

/// Panics on its first `panics` runs, then fails once with an error, then runs until cancelled.
struct Flaky {
    runs: AtomicU32,
    panics: u32,
}

#[async_trait]
impl ChannelDriver for Flaky {
    fn channel(&self) -> &str {
        "test"
    }
    fn account_id(&self) -> &str {
        "default"
    }
    async fn run(
        &self,
        _sink: mpsc::Sender<Inbound>,
        cancel: CancelToken,
    ) -> Result<(), ChannelError> {
        let n = self.runs.fetch_add(1, Ordering::SeqCst);
        if n < self.panics {
            panic!("boom {n}");
        }
        if n == self.panics {
            return Err(ChannelError::Network("socket closed".into()));
        }
        cancel.cancelled().await;
        Ok(())
    }
    async fn send(&self, msg: OutboundMessage) -> Result<SentRef, ChannelError> {
        Ok(SentRef {
            chat_id: msg.chat_id,
            message_ids: vec![],
        })
    }
    async fn typing(&self, _: &str, _: Option<&str>) -> Result<(), ChannelError> {
        Ok(())
    }
    fn status(&self) -> ChannelStatus {
        ChannelStatus {
            configured: true,
            connected: true,
            ..Default::default()
        }
    }
    async fn logout(&self) -> Result<bool, ChannelError> {
        Ok(false)
    }
    fn parse_target(&self, t: &str) -> Result<(String, Option<String>), ChannelError> {
        Ok((t.to_string(), None))
    }
}

fn fast() -> SupervisorConfig {
    SupervisorConfig {
        backoff: Backoff::new(
            Duration::from_millis(10),
            Duration::from_millis(100),
            2.0,
            0.2,
        ),
        healthy_after: Duration::from_secs(60),
    }
}

#[tokio::test]
async fn panics_are_caught_reported_and_restarted() {
    let flaky = Arc::new(Flaky {
        runs: AtomicU32::new(0),
        panics: 2,
    });
    let steady = Arc::new(Flaky {
        runs: AtomicU32::new(0),
        panics: 0,
    });
    let (tx, _rx) = mpsc::channel(1);
    let shutdown = CancelToken::new();
    let a = Supervised::spawn_with(flaky.clone(), tx.clone(), shutdown.clone(), fast());
    let b = Supervised::spawn_with(steady.clone(), tx, shutdown.clone(), fast());

    wait_for("third run", || flaky.runs.load(Ordering::SeqCst) >= 4).await;
    wait_for("running again", || a.status().running).await;
    let st = a.status();
    assert_eq!(st.reconnects, 3);
    assert_eq!(
        st.last_error.as_deref(),
        Some("network error: socket closed")
    );
    assert!(st.last_error_at.is_some());
    assert!(st.connected && st.configured);
    // The other channel was never touched by the panics.
    assert_eq!(steady.runs.load(Ordering::SeqCst), 2); // one error run + the current one
    assert!(b.status().running);

    shutdown.cancel();
    a.stop().await;
    b.stop().await;
    assert!(!a.status().running && !a.status().connected);
    let json = serde_json::to_value(a.status()).unwrap();
    assert!(json.get("lastErrorAt").is_some() && json.get("reconnects").is_some());
}

#[tokio::test]
async fn panic_message_is_visible_in_status() {
    let flaky = Arc::new(Flaky {
        runs: AtomicU32::new(0),
        panics: 100,
    });
    let (tx, _rx) = mpsc::channel(1);
    let s = Supervised::spawn_with(flaky, tx, CancelToken::new(), fast());
    wait_for("panic recorded", || {
        s.status()
            .last_error
            .is_some_and(|e| e.starts_with("panic: boom"))
    })
    .await;
    s.stop().await;
}
