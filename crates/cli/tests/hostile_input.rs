//! Hostile and unusual input through the real binary: non-ASCII targets and `allowFrom`
//! entries, integer extremes in run timeouts, secrets in the config as `config.get` shows it,
//! and a log directory or log file someone else prepared. Each must get a clear answer (or be
//! handled), never a panic, and the gateway keeps serving.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;
use openclaw_testkit::FakeOpenAi;
use openclaw_testkit::telegram::{FAKE_TOKEN, FakeTelegram};
use serde_json::{Value, json};

const OP: &[&str] = &["operator.admin", "operator.read", "operator.write"];

fn channel_config(home: &Home, tg: &FakeTelegram, llm: &FakeOpenAi, allow: Value) -> Value {
    let mut cfg = token_config(home);
    cfg["gateway"]["reload"] = json!({"debounceMs": 50});
    cfg["models"] = json!({"providers": {"fake": {"baseUrl": llm.url(), "api": "openai-completions",
        "apiKey": "k", "models": [{"id": "m1"}]}}});
    cfg["agents"] =
        json!({"defaults": {"model": {"primary": "fake/m1"}, "workspace": home.path().join("ws")}});
    cfg["channels"] = json!({"telegram": {"botToken": FAKE_TOKEN, "apiRoot": tg.url(),
        "dmPolicy": "allowlist", "allowFrom": allow}});
    cfg["bindings"] = json!([{"agentId": "main", "match": {"channel": "telegram",
        "peer": {"kind": "direct", "id": "tg:@jürgen"}}}]);
    cfg
}

async fn assert_serving(gw: &Gateway) {
    let (mut raw, _) = connected(&gw.url(), OP).await;
    let h = raw.req("h", "health", None).await;
    assert_eq!(h["ok"], true, "{h}");
}

// Regression: `normalize_id` sliced bytes, so `"@jürgen"` (a `ü` across byte 3) panicked in
// `send`, in `allowFrom` at start and on reload, and in binding peers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_ascii_targets_and_allowlists_get_clear_answers() {
    let tg = FakeTelegram::start().await;
    let llm = FakeOpenAi::start().await;
    let home = Home::new();
    home.write_config(&channel_config(&home, &tg, &llm, json!(["@jürgen", "111"])));
    let mut gw = Gateway::start_in(home, &["gateway", "--port", "0"], &[]);
    let (mut raw, _) = connected(&gw.url(), OP).await;
    for (i, to) in ["@jürgen", "tg:@jürgen", "ü", "t€:1", "whatsapp:ü"]
        .iter()
        .enumerate()
    {
        let r = raw
            .req(
                &format!("s{i}"),
                "send",
                Some(json!({"channel": "telegram", "to": to, "message": "hi",
                    "idempotencyKey": format!("k{i}")})),
            )
            .await;
        assert_eq!(r["error"]["code"], "INVALID_REQUEST", "{to}: {r}");
        assert!(
            r["error"]["message"]
                .as_str()
                .unwrap()
                .contains("unknown Telegram target"),
            "{r}"
        );
    }
    let h = raw.req("h", "health", None).await;
    assert_eq!(h["ok"], true, "{h}");
    let st = raw.req("st", "channels.status", None).await;
    assert_eq!(
        st["payload"]["channelAccounts"]["telegram"][0]["accountId"], "default",
        "{st}"
    );

    // A reload that brings more non-ASCII entries applies, and the gateway keeps serving.
    let path = gw.home.config_path();
    let mut cfg: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    cfg["channels"]["telegram"]["allowFrom"] = json!(["TG:@jürgen", "€", "111"]);
    std::fs::write(&path, serde_json::to_string_pretty(&cfg).unwrap()).unwrap();
    gw.expect_line("config reload applied");
    assert_serving(&gw).await;
    assert!(
        !gw.output().contains("panicked"),
        "a task panicked:\n{}",
        gw.output()
    );
}

// Regression: `agent {timeout: u64::MAX}` overflowed `timeout + 30 s` in the handler.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extreme_run_timeouts_are_clamped() {
    let tg = FakeTelegram::start().await;
    let llm = FakeOpenAi::start().await;
    let home = Home::new();
    home.write_config(&channel_config(&home, &tg, &llm, json!(["111"])));
    let gw = Gateway::start_in(home, &["gateway", "--port", "0"], &[]);
    let (mut raw, _) = connected(&gw.url(), OP).await;
    for (id, timeout) in [("a1", json!(18446744073709551615u64)), ("a2", json!(0))] {
        raw.send(
            &json!({"type": "req", "id": id, "method": "agent", "params": {
            "message": format!("hello {id}"), "idempotencyKey": format!("run-{id}"),
            "timeout": timeout}}),
        )
        .await;
        let ack = raw.res(id).await;
        assert_eq!(ack["payload"]["status"], "accepted", "{ack}");
        let fin = raw.res(id).await;
        assert_eq!(fin["ok"], true, "{fin}");
        assert_eq!(fin["payload"]["status"], "ok", "{fin}");
    }
    let r = raw
        .req(
            "c1",
            "chat.send",
            Some(
                json!({"sessionKey": "main", "message": "hey", "idempotencyKey": "c-1",
                "timeoutMs": 18446744073709551615u64}),
            ),
        )
        .await;
    assert_eq!(r["ok"], true, "{r}");
    let r = raw
        .req(
            "l1",
            "sessions.list",
            Some(json!({"activeMinutes": 18446744073709551615u64})),
        )
        .await;
    assert_eq!(r["ok"], true, "{r}");
    assert_serving(&gw).await;
}

const SECRETS: &[&str] = &[
    TOKEN,
    "sk-envsection-1",
    "sk-envvars-2",
    "urlpass-3",
    "sk-apikey-4",
    "sk-apikey-5",
    "hdr-auth-6",
    "hdr-xkey-7",
    "cookie-8",
    "qtok-9",
    "pk-10",
    "cookie-11",
    "cred-12",
    "envsubst-13-value",
    "pass-14",
    "ph-15",
];

fn secret_config(home: &Home) -> Value {
    let mut cfg = token_config(home);
    cfg["env"] =
        json!({"OPENAI_API_KEY": "sk-envsection-1", "vars": {"GROQ_API_KEY": "sk-envvars-2"}});
    cfg["models"] = json!({"providers": {"fake": {
        "baseUrl": "http://user:urlpass-3@127.0.0.1:9/v1", "api": "openai-completions",
        "apiKey": "sk-apikey-4", "api_key": "sk-apikey-5",
        "headers": {"Authorization": "Bearer hdr-auth-6", "x-api-key": "hdr-xkey-7",
            "Cookie": "sid=cookie-8"},
        "models": [{"id": "m1"}]}}});
    cfg["mcp"] = json!({"servers": {"s": {"url": "https://127.0.0.1:9/mcp?token=qtok-9",
        "privateKey": "pk-10", "cookies": "cookie-11", "credentials": {"user": "u", "pass": "cred-12"},
        "note": "${HOSTILE_TEST_SECRET}", "dbPassword": "pass-14", "passphrase": "ph-15"}}});
    cfg
}

fn leaked(v: &Value) -> Vec<&'static str> {
    let text = v.to_string();
    SECRETS
        .iter()
        .copied()
        .filter(|s| text.contains(s))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_get_shows_no_secret_and_round_trips() {
    let home = Home::new();
    home.write_config(&secret_config(&home));
    let gw = Gateway::start_in(
        home,
        &["gateway", "--port", "0"],
        &[("HOSTILE_TEST_SECRET", "envsubst-13-value")],
    );
    for scopes in [&["operator.read"][..], OP] {
        let (mut raw, _) = connected(&gw.url(), scopes).await;
        let got = raw.req("g", "config.get", None).await;
        assert_eq!(got["ok"], true, "{got}");
        assert_eq!(leaked(&got), Vec::<&str>::new(), "{scopes:?}: {got}");
        let p = &got["payload"];
        assert_eq!(
            p["parsed"]["gateway"]["auth"]["token"],
            "__OPENCLAW_REDACTED__"
        );
        assert_eq!(
            p["parsed"]["mcp"]["servers"]["s"]["note"],
            "${HOSTILE_TEST_SECRET}"
        );
        assert_eq!(
            p["config"]["mcp"]["servers"]["s"]["note"],
            "__OPENCLAW_REDACTED__"
        );
        assert_eq!(
            p["parsed"]["models"]["providers"]["fake"]["api"],
            "openai-completions"
        );
    }

    // An admin edits what it was shown: the secrets stay on disk, none comes back.
    let (mut admin, _) = connected(&gw.url(), OP).await;
    let got = admin.req("g", "config.get", None).await["payload"].clone();
    let mut cfg = got["parsed"].clone();
    cfg["logging"]["level"] = json!("debug");
    let r = admin
        .req(
            "s",
            "config.set",
            Some(json!({"raw": cfg.to_string(), "baseHash": got["hash"]})),
        )
        .await;
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(leaked(&r), Vec::<&str>::new(), "{r}");
    let on_disk = std::fs::read_to_string(gw.home.config_path()).unwrap();
    for s in SECRETS.iter().filter(|s| **s != "envsubst-13-value") {
        assert!(on_disk.contains(s), "{s} lost on write:\n{on_disk}");
    }
    assert!(on_disk.contains("${HOSTILE_TEST_SECRET}"));
    assert!(!on_disk.contains("__OPENCLAW_REDACTED__"));

    // A marker where there is no original is refused; an invalid value made of an environment
    // secret does not echo it.
    let hash = admin.req("g2", "config.get", None).await["payload"]["hash"].clone();
    let r = admin
        .req(
            "p",
            "config.patch",
            Some(
                json!({"raw": "{gateway: {auth: {password: '__OPENCLAW_REDACTED__'}}}",
                "baseHash": hash}),
            ),
        )
        .await;
    assert_eq!(r["error"]["code"], "INVALID_REQUEST", "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("gateway.auth.password"),
        "{r}"
    );
    let r = admin
        .req(
            "p2",
            "config.patch",
            Some(json!({"raw": "{gateway: {port: '${HOSTILE_TEST_SECRET}'}}", "baseHash": hash})),
        )
        .await;
    assert_eq!(r["error"]["message"], "invalid config", "{r}");
    assert_eq!(leaked(&r), Vec::<&str>::new(), "{r}");
}

fn today_file(dir: &std::path::Path) -> std::path::PathBuf {
    dir.join(format!(
        "openclaw-{}.log",
        chrono::Local::now().format("%Y-%m-%d")
    ))
}

/// A config without `logging.file`, so daily files go to the (test-knob) default directory.
fn daily_config(home: &Home) -> Value {
    let mut cfg = token_config(home);
    cfg.as_object_mut().unwrap().remove("logging");
    cfg
}

fn wait_for_file(path: &std::path::Path) {
    wait_for_blocking(&format!("{} to appear", path.display()), || path.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_log_dir_is_refused_for_a_private_one() {
    let home = Home::new();
    home.write_config(&daily_config(&home));
    let shared = home.path().join("shared-tmp");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let knob = shared.to_str().unwrap().to_string();
    let state = home.state_dir();
    let mut gw = Gateway::start_in(
        home,
        &["gateway", "--port", "0"],
        &[("OPENCLAW_TEST_LOG_DIR", knob.as_str())],
    );
    let line = gw.expect_line("log directory");
    assert!(
        line.contains("refused") && line.contains("other users"),
        "{line}"
    );
    let fallback = state.join("logs");
    wait_for_file(&today_file(&fallback));
    assert_eq!(file_mode(&fallback), 0o700);
    assert!(
        !today_file(&shared).exists(),
        "nothing written to the shared dir"
    );
    assert_serving(&gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symlinked_log_dirs_and_files_are_not_followed() {
    let home = Home::new();
    home.write_config(&daily_config(&home));
    let victim = home.path().join(".profile");
    std::fs::write(&victim, "export PATH=/usr/bin\n").unwrap();
    // A symlinked directory is refused as a whole.
    let real = home.path().join("elsewhere");
    std::fs::create_dir(&real).unwrap();
    let link = home.path().join("linked-tmp");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let knob = link.to_str().unwrap().to_string();
    let mut gw = Gateway::start_in(
        home,
        &["gateway", "--port", "0"],
        &[("OPENCLAW_TEST_LOG_DIR", knob.as_str())],
    );
    let line = gw.expect_line("log directory");
    assert!(line.contains("symlink"), "{line}");
    assert_serving(&gw).await;
    let home = gw.into_home();
    assert_eq!(std::fs::read_dir(&real).unwrap().count(), 0);

    // A private directory whose file for today is a symlink to the victim.
    let dir = home.path().join("logs-private");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::symlink(&victim, today_file(&dir)).unwrap();
    let knob = dir.to_str().unwrap().to_string();
    let gw = Gateway::start_in(
        home,
        &["gateway", "--port", "0"],
        &[("OPENCLAW_TEST_LOG_DIR", knob.as_str())],
    );
    assert_serving(&gw).await;
    let home = gw.into_home();
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "export PATH=/usr/bin\n"
    );

    // `logging.file` pointing at a symlink.
    let file = home.path().join("gw-link.log");
    std::os::unix::fs::symlink(&victim, &file).unwrap();
    let mut cfg = token_config(&home);
    cfg["logging"]["file"] = json!(file);
    home.write_config(&cfg);
    let gw = Gateway::start_in(home, &["gateway", "--port", "0"], &[]);
    assert_serving(&gw).await;
    let _home = gw.into_home();
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "export PATH=/usr/bin\n"
    );
}
