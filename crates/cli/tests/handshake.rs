//! The handshake against the real binary: v3 and v4 clients (frames from the recorded
//! transcripts), token and password auth, every socket-level refusal with its close code,
//! schema rejections naming the path, scopes, and device identity with pairing and tokens.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A recorded connect frame from the reference transcripts, with the redacted token filled in.
fn recorded_connect(key: &str) -> Value {
    let text = fixture("handshake_verbatim.json").replace("<TOKEN>", TOKEN);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert!(v[key].is_object(), "no {key:?} in handshake_verbatim.json");
    v[key].clone()
}

#[tokio::test]
async fn v4_cli_handshake_matches_reference_shape() {
    let gw = Gateway::start();
    let frame = recorded_connect("connect req (c2s, openclaw CLI gateway call)");
    let (mut raw, challenge) = Raw::open(&gw.url()).await;
    assert!(challenge["payload"]["nonce"].as_str().unwrap().len() >= 32);
    assert!(challenge["payload"]["ts"].as_u64().is_some());
    assert!(challenge.get("seq").is_none(), "challenge carries no seq");
    raw.send(&frame).await;
    let res = raw.res(frame["id"].as_str().unwrap()).await;
    assert_eq!(res["ok"], true, "{res}");
    let hello = &res["payload"];
    assert_eq!(hello["type"], "hello-ok");
    assert_eq!(hello["protocol"], 4);
    for k in ["version", "buildId", "bootId", "connId"] {
        assert!(
            hello["server"][k].is_string(),
            "server.{k} missing: {hello}"
        );
    }
    assert!(
        hello["server"].get("host").is_none(),
        "v4 server has no host"
    );
    assert_eq!(hello["auth"]["method"], "token");
    assert_eq!(hello["auth"]["role"], "operator");
    assert_eq!(hello["auth"]["scopes"], json!(["operator.read"]));
    assert_eq!(hello["policy"]["maxPayload"], 26214400);
    assert_eq!(hello["policy"]["maxBufferedBytes"], 52428800);
    assert!(hello["policy"]["tickIntervalMs"].as_u64().unwrap() > 0);
    let methods: Vec<&str> = hello["features"]["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    for m in [
        "health",
        "status",
        "system-presence",
        "system-event",
        "last-heartbeat",
    ] {
        assert!(methods.contains(&m), "{m} not advertised");
    }
    assert!(
        !methods.contains(&"tools.effective"),
        "only implemented methods are advertised"
    );
    let snap = &hello["snapshot"];
    assert!(
        snap["presence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["reason"] == "self")
    );
    assert!(snap["stateVersion"]["presence"].as_u64().is_some());
    assert_eq!(snap["sessionDefaults"]["mainSessionKey"], "agent:main:main");
    assert!(
        snap.get("configPath").is_none(),
        "admin-only field hidden from read scope"
    );
    // A health event follows hello-ok with seq 1, then the health res.
    let ev = raw.event("health").await;
    assert_eq!(ev["seq"], 1);
    assert!(ev["stateVersion"]["health"].as_u64().is_some());
    let h = raw.req("h1", "health", None).await;
    assert_eq!(h["ok"], true);
    assert_eq!(h["payload"]["ok"], true);
    assert_eq!(h["payload"]["defaultAgentId"], "main");
}

#[tokio::test]
async fn v3_client_gets_v3_hello() {
    let gw = Gateway::start();
    let mut params = connect_params(Some(TOKEN), &["operator.admin"]);
    params["minProtocol"] = json!(3);
    params["maxProtocol"] = json!(3);
    let (_raw, res) = try_connect(&gw.url(), "c3", params).await;
    let hello = &res["payload"];
    assert_eq!(hello["protocol"], 3, "{res}");
    assert!(hello["server"]["host"].is_string());
    assert!(hello["server"].get("bootId").is_none());
    assert!(
        hello.get("auth").is_none(),
        "v3 sends auth only with a device token"
    );
    assert!(
        hello["snapshot"]["configPath"].is_string(),
        "admin sees configPath"
    );
    assert!(hello["snapshot"]["stateDir"].is_string());
}

#[tokio::test]
async fn range_3_to_5_negotiates_4_and_mismatch_closes_1002() {
    let gw = Gateway::start();
    let mut p = connect_params(Some(TOKEN), &[]);
    p["minProtocol"] = json!(3);
    p["maxProtocol"] = json!(5);
    let (_, res) = try_connect(&gw.url(), "c", p).await;
    assert_eq!(res["payload"]["protocol"], 4);

    for (min, max) in [(5, 6), (1, 2)] {
        let mut p = connect_params(Some(TOKEN), &[]);
        p["minProtocol"] = json!(min);
        p["maxProtocol"] = json!(max);
        let (mut raw, res) = try_connect(&gw.url(), "c", p).await;
        assert_eq!(res["ok"], false);
        assert_eq!(res["error"]["code"], "INVALID_REQUEST");
        assert_eq!(res["error"]["message"], "protocol mismatch");
        let d = &res["error"]["details"];
        assert_eq!(d["code"], "PROTOCOL_MISMATCH");
        assert_eq!(d["clientMinProtocol"], min);
        assert_eq!(d["clientMaxProtocol"], max);
        assert_eq!(d["expectedProtocol"], 4);
        assert_eq!(d["minimumProbeProtocol"], 3);
        assert_eq!(raw.closed().await, (1002, "protocol mismatch".into()));
    }
}

#[tokio::test]
async fn token_auth_accepts_and_rejects() {
    let gw = Gateway::start();
    connected(&gw.url(), &["operator.read"]).await;

    let (mut raw, res) = try_connect(
        &gw.url(),
        "c",
        connect_params(Some("wrong-token"), &["operator.read"]),
    )
    .await;
    let msg = "unauthorized: gateway token mismatch (use this gateway's gateway.auth.token or pair the device)";
    assert_eq!(res["error"]["code"], "INVALID_REQUEST");
    assert_eq!(res["error"]["message"], msg);
    assert_eq!(res["error"]["details"]["code"], "AUTH_TOKEN_MISMATCH");
    assert_eq!(
        res["error"]["details"]["recommendedNextStep"],
        "update_auth_credentials"
    );
    assert_eq!(raw.closed().await, (1008, msg.into()));

    // No credentials and no device identity.
    let (mut raw, res) =
        try_connect(&gw.url(), "c", connect_params(None, &["operator.read"])).await;
    assert_eq!(res["error"]["code"], "NOT_PAIRED");
    assert_eq!(res["error"]["message"], "device identity required");
    assert_eq!(res["error"]["details"]["code"], "DEVICE_IDENTITY_REQUIRED");
    assert_eq!(
        raw.closed().await,
        (1008, "device identity required".into())
    );

    // The right token still works right after failures (tarpit, no loopback lockout).
    connected(&gw.url(), &["operator.read"]).await;
}

#[tokio::test]
async fn password_auth() {
    let home = Home::new();
    home.write_config(&json!({"gateway": {"mode": "local", "auth": {"mode": "password", "password": "pw-secret-1"}},
                               "logging": {"file": home.log_path()}}));
    let gw = Gateway::start_in(home, &["gateway", "--port", "0"], &[]);
    let mut p = connect_params(None, &["operator.read"]);
    p["auth"] = json!({"password": "pw-secret-1"});
    let (_raw, res) = try_connect(&gw.url(), "c", p.clone()).await;
    assert_eq!(res["ok"], true, "{res}");
    assert_eq!(res["payload"]["auth"]["method"], "password");

    p["auth"] = json!({"password": "nope"});
    let (mut raw, res) = try_connect(&gw.url(), "c", p).await;
    assert_eq!(res["error"]["details"]["code"], "AUTH_PASSWORD_MISMATCH");
    assert_eq!(raw.closed().await.0, 1008);
}

#[tokio::test]
async fn token_from_cli_flag_and_env() {
    let home = Home::new();
    home.write_config(&json!({"gateway": {"mode": "local"}, "logging": {"file": home.log_path()}}));
    let gw = Gateway::start_in(home, &["gateway", "--port", "0", "--token", TOKEN], &[]);
    connected(&gw.url(), &[]).await;
    drop(gw);
    let home = Home::new();
    home.write_config(&json!({"gateway": {"mode": "local"}, "logging": {"file": home.log_path()}}));
    let gw = Gateway::start_in(
        home,
        &["gateway", "--port", "0"],
        &[("OPENCLAW_GATEWAY_TOKEN", TOKEN)],
    );
    connected(&gw.url(), &[]).await;
}

#[tokio::test]
async fn malformed_first_frames_close_as_reference() {
    let gw = Gateway::start();
    // Not JSON → close 1000, no res.
    let (mut raw, _) = Raw::open(&gw.url()).await;
    raw.send_text("hello").await;
    assert_eq!(raw.closed().await, (1000, String::new()));
    // JSON but not a req → 1008 "invalid request frame".
    let (mut raw, _) = Raw::open(&gw.url()).await;
    raw.send(&json!({"hello": "world"})).await;
    assert_eq!(raw.closed().await, (1008, "invalid request frame".into()));
    // First req is not connect → res + 1008.
    let (mut raw, _) = Raw::open(&gw.url()).await;
    raw.send(&json!({"type": "req", "id": "h1", "method": "health", "params": {}}))
        .await;
    let res = raw.res("h1").await;
    let msg = "invalid handshake: first request must be connect";
    assert_eq!(res["error"]["message"], msg);
    assert_eq!(raw.closed().await, (1008, msg.into()));
    // Over the 64 KiB pre-connect cap → 1009.
    let (mut raw, _) = Raw::open(&gw.url()).await;
    raw.send_text(&format!("{{\"pad\":\"{}\"}}", "x".repeat(70 * 1024)))
        .await;
    assert_eq!(raw.closed().await.0, 1009);
}

#[tokio::test]
async fn connect_params_schema_errors_name_the_path() {
    let gw = Gateway::start();
    let cases = [
        (
            json!({"client": {"id": "not-a-known-client", "version": "1", "platform": "linux", "mode": "cli"}}),
            "invalid connect params: at /client/id: must be equal to one of the allowed values",
        ),
        (
            json!({"bogus": 1}),
            "invalid connect params: at root: unexpected property 'bogus'",
        ),
    ];
    for (patch, msg) in cases {
        let mut p = connect_params(Some(TOKEN), &[]);
        for (k, v) in patch.as_object().unwrap() {
            p[k] = v.clone();
        }
        let (mut raw, res) = try_connect(&gw.url(), "c", p).await;
        assert_eq!(res["error"]["code"], "INVALID_REQUEST");
        assert_eq!(res["error"]["message"], msg);
        assert_eq!(raw.closed().await, (1008, msg.into()));
    }
    let mut p = connect_params(Some(TOKEN), &[]);
    p.as_object_mut().unwrap().remove("client");
    let (_, res) = try_connect(&gw.url(), "c", p).await;
    assert_eq!(
        res["error"]["message"],
        "invalid connect params: must have required property 'client'"
    );
    // Role outside operator/node.
    let mut p = connect_params(Some(TOKEN), &[]);
    p["role"] = json!("root");
    let (mut raw, res) = try_connect(&gw.url(), "c", p).await;
    assert_eq!(res["error"]["message"], "invalid role");
    assert_eq!(raw.closed().await.0, 1008);
}

#[tokio::test]
async fn after_hello_bad_frames_get_errors_and_socket_stays_open() {
    let gw = Gateway::start();
    let (mut raw, _) = connected(&gw.url(), &["operator.read"]).await;
    raw.send_text("not json").await;
    raw.send(&json!({"type": "req"})).await;
    let r = raw.res("invalid").await;
    assert_eq!(r["error"]["code"], "INVALID_REQUEST");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("invalid request frame: must have required property 'id'"),
        "{r}"
    );
    // Unknown method with read scope: admin required first (scope before lookup).
    let r = raw.req("u1", "no.such.method", Some(json!({}))).await;
    assert_eq!(r["error"]["code"], "FORBIDDEN");
    assert_eq!(r["error"]["message"], "missing scope: operator.admin");
    assert_eq!(r["error"]["details"]["code"], "MISSING_SCOPE");
    // Params schema errors name the path.
    let r = raw.req("s1", "status", Some(json!({"bogus": 1}))).await;
    assert_eq!(
        r["error"]["message"],
        "invalid status params: at root: unexpected property 'bogus'"
    );
    // health ignores its params.
    assert_eq!(
        raw.req("s3", "health", Some(json!("str"))).await["ok"],
        true
    );
    // Second connect without admin → FORBIDDEN.
    let r = raw
        .req("c2", "connect", Some(connect_params(Some(TOKEN), &[])))
        .await;
    assert_eq!(r["error"]["code"], "FORBIDDEN");
    // Duplicate ids are both answered.
    raw.send(&json!({"type": "req", "id": "dup", "method": "health"}))
        .await;
    raw.send(&json!({"type": "req", "id": "dup", "method": "health"}))
        .await;
    raw.res("dup").await;
    raw.res("dup").await;

    let (mut admin, hello) = connected(&gw.url(), &["operator.admin"]).await;
    assert!(hello["snapshot"]["configPath"].is_string());
    let r = admin.req("u1", "no.such.method", None).await;
    assert_eq!(r["error"]["message"], "unknown method: no.such.method");
    let r = admin
        .req("c2", "connect", Some(connect_params(Some(TOKEN), &[])))
        .await;
    assert_eq!(
        r["error"]["message"],
        "connect is only valid as the first request"
    );
    let r = admin
        .req("e1", "system-event", Some(json!({"text": 5})))
        .await;
    assert_eq!(
        r["error"]["message"],
        "invalid system-event params: at /text: must be string"
    );
}

#[tokio::test]
async fn pipelined_connect_and_health_answer_in_order() {
    let gw = Gateway::start();
    let (mut raw, _) = Raw::open(&gw.url()).await;
    raw.send(&connect_frame(
        "c1",
        connect_params(Some(TOKEN), &["operator.read"]),
    ))
    .await;
    raw.send(&json!({"type": "req", "id": "h1", "method": "health", "params": {}}))
        .await;
    let first = raw.frame().await;
    assert_eq!(first["id"], "c1");
    raw.res("h1").await;
}

#[tokio::test]
async fn probe_clients_get_no_scopes() {
    let gw = Gateway::start();
    let mut p = connect_params(Some(TOKEN), &["operator.read"]);
    p["client"]["mode"] = json!("probe");
    p["minProtocol"] = json!(3);
    let (mut raw, res) = try_connect(&gw.url(), "c", p).await;
    assert_eq!(res["payload"]["auth"]["scopes"], json!([]));
    let r = raw.req("s", "status", None).await;
    assert_eq!(r["error"]["code"], "FORBIDDEN");
    assert_eq!(raw.req("h", "health", None).await["ok"], true);
}

struct Device {
    key: SigningKey,
}

impl Device {
    fn new(seed: u8) -> Self {
        Self {
            key: SigningKey::from_bytes(&[seed; 32]),
        }
    }
    fn public(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.key.verifying_key().to_bytes())
    }
    fn id(&self) -> String {
        hex::encode(Sha256::digest(self.key.verifying_key().to_bytes()))
    }
    /// Opens a session and sends `connect` with `params` signed by this device over the
    /// challenge's nonce (and `token`); returns the session and the response.
    async fn connect(&self, url: &str, mut params: Value, token: &str) -> (Raw, Value) {
        let (mut raw, ch) = Raw::open(url).await;
        let nonce = ch["payload"]["nonce"].as_str().unwrap().to_string();
        self.sign(&mut params, &nonce, token, now_ms());
        raw.send(&connect_frame("c", params)).await;
        let res = raw.res("c").await;
        (raw, res)
    }

    /// Adds a v3-signed device block to connect params.
    fn sign(&self, params: &mut Value, nonce: &str, token: &str, signed_at: u64) {
        let scopes = scopes_of(params);
        let payload = format!(
            "v3|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}",
            self.id(),
            params["client"]["id"].as_str().unwrap(),
            params["client"]["mode"].as_str().unwrap(),
            params["role"].as_str().unwrap_or("operator"),
            scopes.join(","),
            signed_at,
            token,
            nonce,
            params["client"]["platform"]
                .as_str()
                .unwrap()
                .to_lowercase(),
            params["client"]["deviceFamily"]
                .as_str()
                .unwrap_or("")
                .to_lowercase(),
        );
        let sig = self.key.sign(payload.as_bytes());
        params["device"] = json!({
            "id": self.id(), "publicKey": self.public(),
            "signature": URL_SAFE_NO_PAD.encode(sig.to_bytes()),
            "signedAt": signed_at, "nonce": nonce,
        });
    }
}

#[tokio::test]
async fn device_identity_pairs_on_loopback_and_issues_a_token() {
    let gw = Gateway::start();
    let dev = Device::new(7);
    let scopes = ["operator.admin", "operator.pairing"];

    // Token + device: loopback auto-approves and a device token is issued.
    let (_, res) = dev
        .connect(&gw.url(), connect_params(Some(TOKEN), &scopes), TOKEN)
        .await;
    assert_eq!(res["ok"], true, "{res}");
    let device_token = res["payload"]["auth"]["deviceToken"]
        .as_str()
        .expect("device token issued")
        .to_string();
    assert!(res["payload"]["auth"]["issuedAtMs"].as_u64().is_some());

    // The paired store is on disk with 0600.
    let paired = gw.home.state_dir().join("devices/paired.json");
    let stored: Value = serde_json::from_str(&std::fs::read_to_string(&paired).unwrap()).unwrap();
    assert_eq!(stored[dev.id()]["publicKey"], dev.public());
    assert!(!std::fs::read_to_string(&paired).unwrap().is_empty());
    assert_eq!(file_mode(&paired), 0o600);

    // Later: the device token alone authenticates.
    let mut p = connect_params(None, &scopes);
    p["auth"] = json!({"deviceToken": device_token});
    let (_, res) = dev.connect(&gw.url(), p, &device_token).await;
    assert_eq!(res["ok"], true, "{res}");
    assert_eq!(res["payload"]["auth"]["method"], "device-token");

    // A wrong device token is refused.
    let mut p = connect_params(None, &scopes);
    p["auth"] = json!({"deviceToken": "not-the-token"});
    let (mut raw, res) = dev.connect(&gw.url(), p, "not-the-token").await;
    assert_eq!(res["ok"], false);
    assert_eq!(raw.closed().await.0, 1008);
}

/// A corrupt `devices/paired.json` is set aside byte for byte (`paired.json.corrupt-<ts>`), not
/// emptied by the next store write; the gateway keeps serving and pairs the device afresh.
#[tokio::test]
async fn a_corrupt_paired_json_is_set_aside_not_emptied() {
    let home = Home::new();
    home.write_config(&token_config(&home));
    let devices = home.state_dir().join("devices");
    std::fs::create_dir_all(&devices).unwrap();
    let garbage: Vec<u8> = b"{\"dev1\": {\"publicKey\": \"k\", trailing \xff\x00 garbage"
        .iter()
        .copied()
        .chain((0u8..=255).rev())
        .collect();
    std::fs::write(devices.join("paired.json"), &garbage).unwrap();
    let gw = Gateway::start_in(home, &["gateway", "--port", "0"], &[]);
    let dev = Device::new(11);
    let scopes = ["operator.admin"];
    let (_, res) = dev
        .connect(&gw.url(), connect_params(Some(TOKEN), &scopes), TOKEN)
        .await;
    assert_eq!(res["ok"], true, "{res}");
    assert!(res["payload"]["auth"]["deviceToken"].as_str().is_some());

    let aside: Vec<std::path::PathBuf> = std::fs::read_dir(&devices)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("paired.json.corrupt-"))
        })
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(std::fs::read(&aside[0]).unwrap(), garbage);
    let stored: Value =
        serde_json::from_slice(&std::fs::read(devices.join("paired.json")).unwrap()).unwrap();
    assert_eq!(stored[dev.id()]["publicKey"], dev.public());
    assert!(gw.output().contains("paired.json"), "{}", gw.output());
}

#[tokio::test]
async fn device_proof_failures() {
    let gw = Gateway::start();
    let dev = Device::new(9);
    type Mutate<'a> = Box<dyn Fn(&mut Value, &str) + 'a>;
    let cases: Vec<(&str, Mutate)> = vec![
        (
            "device nonce mismatch",
            Box::new(|p: &mut Value, _n: &str| dev.sign(p, "other-nonce", TOKEN, now_ms())),
        ),
        (
            "device signature expired",
            Box::new(|p: &mut Value, n: &str| dev.sign(p, n, TOKEN, now_ms() - 10 * 60 * 1000)),
        ),
        (
            "device signature invalid",
            Box::new(|p: &mut Value, n: &str| dev.sign(p, n, "other-token", now_ms())),
        ),
        (
            "device identity mismatch",
            Box::new(|p: &mut Value, n: &str| {
                dev.sign(p, n, TOKEN, now_ms());
                p["device"]["id"] = json!("00".repeat(32));
            }),
        ),
        (
            "device nonce required",
            Box::new(|p: &mut Value, n: &str| {
                dev.sign(p, n, TOKEN, now_ms());
                p["device"].as_object_mut().unwrap().remove("nonce");
            }),
        ),
    ];
    for (msg, mutate) in cases {
        let (mut raw, ch) = Raw::open(&gw.url()).await;
        let nonce = ch["payload"]["nonce"].as_str().unwrap().to_string();
        let mut p = connect_params(Some(TOKEN), &["operator.read"]);
        mutate(&mut p, &nonce);
        raw.send(&connect_frame("c", p)).await;
        let res = raw.res("c").await;
        assert_eq!(res["error"]["message"], msg, "{res}");
        assert!(
            res["error"]["details"]["code"]
                .as_str()
                .unwrap()
                .starts_with("DEVICE_AUTH_")
        );
        assert_eq!(raw.closed().await, (1008, msg.to_string()));
    }
}

#[tokio::test]
async fn handshake_timeout_closes_silent_sockets() {
    let gw = Gateway::start_with_env(&[("OPENCLAW_HANDSHAKE_TIMEOUT_MS", "300")]);
    let (mut raw, _) = Raw::open(&gw.url()).await;
    assert_eq!(raw.closed().await, (1000, String::new()));
}
