//! The soak of issue 19 as CI runs it: two minutes of mixed traffic (connection waves,
//! `health`/`status`, `chat.send`, streamed `/v1/chat/completions`, Telegram DMs through the
//! fake Bot API, a cron job, node invokes) against the debug gateway, judged by the bench's
//! criteria: RSS flat within its band after warm-up, fds and tasks back to the baseline once
//! the clients left, no traffic errors. `OPENCLAW_SOAK_MINUTES` shortens or lengthens it.

use std::path::PathBuf;

use openclaw_bench::soak::{self, Options};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_traffic_leaves_memory_flat_and_no_fd_or_task_behind() {
    let minutes = std::env::var("OPENCLAW_SOAK_MINUTES")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|m| *m > 0.0)
        .unwrap_or(2.0);
    let mut opts = Options::new(PathBuf::from(env!("CARGO_BIN_EXE_openclaw")), minutes);
    opts.out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("soak");
    let report = soak::run(&opts).await.expect("the soak ran");
    eprintln!("{}", report.line);
    eprintln!(
        "samples: {}, plot: {}",
        report.json_path.display(),
        report.svg_path.display()
    );
    assert!(report.json_path.is_file() && report.svg_path.is_file());
    let l = &report.line;
    // Each criterion on its own, so a failure names it.
    assert_eq!(
        l["errors_total"], 0,
        "traffic errors: {}",
        l["error_samples"]
    );
    assert!(
        l["rss_band_mib"].as_f64().unwrap_or(f64::MAX) <= soak::RSS_BAND_MAX_MIB,
        "RSS band: {l}"
    );
    let fds_own = |k: &str, u: &str| l[k].as_i64().unwrap_or(0) - l[u].as_i64().unwrap_or(0);
    assert!(
        (fds_own("fds_end", "fds_upstream_end") - fds_own("fds_start", "fds_upstream_start")).abs()
            <= soak::FD_TOLERANCE,
        "fds not back to the baseline: {l}"
    );
    assert_eq!(l["end_stats"]["connections"], 1, "{l}");
    assert!(report.pass, "soak failed: {:?}", report.reasons);
}

/// The soak's instrument: `gateway.runtimeStats` is admin-only, takes no params, and counts
/// what it claims (this connection, tasks, empty queues on an idle gateway).
#[tokio::test]
async fn runtime_stats_counts_connections_and_is_admin_only() {
    use openclaw_testkit::gateway::{Gateway, connected};
    use serde_json::json;
    let gw = Gateway::start();
    let (mut admin, hello) = connected(&gw.url(), &["operator.admin"]).await;
    assert!(
        openclaw_testkit::gateway::strings(&hello["features"]["methods"])
            .contains(&"gateway.runtimeStats")
    );
    let (_other, _) = connected(&gw.url(), &["operator.read"]).await;
    let r = admin.call("gateway.runtimeStats", json!({})).await;
    assert_eq!(r["ok"], true, "{r}");
    let p = &r["payload"];
    assert_eq!(p["connections"], 2, "{p}");
    assert!(p["tasks"].as_u64().is_some_and(|t| t > 0), "{p}");
    for k in [
        "queuedBytes",
        "runsActive",
        "runsQueued",
        "runsTracked",
        "inboxPending",
        "cronRunning",
        "jobs",
    ] {
        assert_eq!(p[k], 0, "{k} in {p}");
    }
    let r = admin.call("gateway.runtimeStats", json!({"x": 1})).await;
    assert_eq!(r["error"]["code"], "INVALID_REQUEST", "{r}");
    assert_eq!(
        r["error"]["message"],
        "invalid gateway.runtimeStats params: at root: unexpected property 'x'"
    );
    let (mut reader, _) = connected(&gw.url(), &["operator.read"]).await;
    let r = reader.call("gateway.runtimeStats", json!({})).await;
    assert_eq!(
        r["error"]["message"], "missing scope: operator.admin",
        "{r}"
    );
}
