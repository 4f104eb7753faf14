//! `openclaw devices …` against the real gateway: a remote device (Ed25519 identity, made
//! remote by a trusted proxy's `X-Forwarded-For`, so nothing leaves loopback) is refused with
//! `NOT_PAIRED` and a request id, shows up in `devices list --json`, is admitted by
//! `devices approve <id>` with the scopes it asked for (no restart, and after a kill -9), and
//! is cut off on its next connect by `devices revoke` / `devices remove`.

mod common;

use common::*;
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};

const REMOTE_IP: &str = "203.0.113.5";
const ASKED: [&str; 2] = ["operator.read", "operator.write"];

/// A connect from `REMOTE_IP` (through the trusted proxy) with the shared token, asking for
/// `scopes` and proving `key`; returns the answer.
async fn remote_connect(url: &str, key: &SigningKey, scopes: &[&str]) -> Value {
    remote_connect_as(url, key, scopes, json!({"token": TOKEN}), TOKEN).await
}

/// Like [`remote_connect`] with `auth` as given; `signed_token` is the token in the proof.
async fn remote_connect_as(
    url: &str,
    key: &SigningKey,
    scopes: &[&str],
    auth: Value,
    signed_token: &str,
) -> Value {
    device_connect_from(url, REMOTE_IP, key, scopes, auth, signed_token)
        .await
        .1
}

/// A connect that presents only the device token the gateway issued.
async fn device_token_connect(url: &str, key: &SigningKey, device_token: &str) -> Value {
    remote_connect_as(
        url,
        key,
        &ASKED,
        json!({"deviceToken": device_token}),
        device_token,
    )
    .await
}

fn device_id(key: &SigningKey) -> String {
    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        key.verifying_key().to_bytes(),
    ))
}

/// Runs `openclaw devices <args>` against `gw`.
fn devices(gw: &Gateway, args: &[&str]) -> (i32, String, String) {
    let port = gw.port.to_string();
    let mut full = vec!["devices"];
    full.extend_from_slice(args);
    run_cli(&gw.home, &full, &[("OPENCLAW_GATEWAY_PORT", port.as_str())])
}

fn json_of(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// The request id of a `NOT_PAIRED` refusal.
fn request_id(res: &Value) -> String {
    assert_eq!(res["ok"], false, "{res}");
    assert_eq!(res["error"]["code"], "NOT_PAIRED", "{res}");
    res["error"]["details"]["requestId"]
        .as_str()
        .unwrap_or_else(|| panic!("no requestId: {res}"))
        .to_string()
}

fn sorted_strings(v: &Value) -> Vec<String> {
    let mut s: Vec<String> = v
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect();
    s.sort();
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_device_is_listed_approved_and_revoked_through_the_cli() {
    let gw = proxied_gateway(json!({}), &[]);
    let key = SigningKey::from_bytes(&[21; 32]);
    let id = device_id(&key);

    let rid = request_id(&remote_connect(&gw.url(), &key, &ASKED).await);

    // The list is the raw `device.pair.list` result: exactly `pending` and `paired`.
    let (code, out, err) = devices(&gw, &["list", "--json"]);
    assert_eq!(code, 0, "{err}");
    let list = json_of(&out);
    let keys: Vec<&String> = list.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["paired", "pending"], "{list}");
    let req = &list["pending"][0];
    assert_eq!(req["requestId"], rid.as_str(), "{list}");
    assert_eq!(req["deviceId"], id.as_str(), "{list}");
    assert_eq!(req["remoteIp"], REMOTE_IP, "{list}");
    assert_eq!(req["clientId"], "cli", "{list}");
    assert_eq!(req["role"], "operator", "{list}");
    assert_eq!(sorted_strings(&req["scopes"]), ASKED, "{list}");
    assert!(
        req["publicKey"].is_string() && req["ts"].is_number(),
        "{list}"
    );

    // The human list names the request and what it asks for.
    let (code, out, _) = devices(&gw, &["list"]);
    assert_eq!(code, 0);
    assert!(out.contains("Pending (1)") && out.contains(&rid), "{out}");
    assert!(out.contains("new pairing"), "{out}");

    // Without an id nothing is approved: the newest request is shown with the exact command.
    let (code, out, err) = devices(&gw, &["approve"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains(&format!("Selected pending device request {rid}")),
        "{out}"
    );
    assert!(
        err.contains(&format!("openclaw devices approve {rid}")),
        "{err}"
    );
    let (code, out, _) = devices(&gw, &["approve", "--latest", "--json"]);
    assert_eq!(code, 1);
    let preview = json_of(&out);
    assert_eq!(preview["selected"]["requestId"], rid.as_str());
    assert_eq!(preview["approvalState"]["kind"], "new-pairing");
    let (_, out, _) = devices(&gw, &["list", "--json"]);
    assert_eq!(json_of(&out)["pending"][0]["requestId"], rid.as_str());

    // An unknown id: one clear line, exit 1.
    let (code, _, err) = devices(&gw, &["approve", "no-such-request"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("No pending device request matches no-such-request"),
        "{err}"
    );

    let (code, out, err) = devices(&gw, &["approve", &rid, "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let approved = json_of(&out);
    assert_eq!(approved["requestId"], rid.as_str(), "{approved}");
    assert_eq!(approved["device"]["deviceId"], id.as_str(), "{approved}");

    // Admitted at once, with what it asked for and no more.
    let res = remote_connect(&gw.url(), &key, &ASKED).await;
    assert_eq!(res["ok"], true, "{res}");
    assert_eq!(
        sorted_strings(&res["payload"]["auth"]["scopes"]),
        ASKED,
        "{res}"
    );

    let (_, out, _) = devices(&gw, &["list", "--json"]);
    let list = json_of(&out);
    assert_eq!(list["pending"], json!([]), "{list}");
    assert_eq!(list["paired"][0]["deviceId"], id.as_str(), "{list}");
    assert!(
        !out.contains("\"token\":"),
        "paired entries are redacted: {out}"
    );

    // The approval is on disk before the answer: it survives a kill -9.
    let home = gw.into_home();
    let gw = Gateway::start_in(home, &["gateway", "--port", "0"], &[]);
    let res = remote_connect(&gw.url(), &key, &ASKED).await;
    assert_eq!(res["ok"], true, "{res}");
    // From now on the device speaks with its own token, as a paired app does.
    let device_token = res["payload"]["auth"]["deviceToken"]
        .as_str()
        .unwrap_or_else(|| panic!("no device token: {res}"))
        .to_string();
    let res = device_token_connect(&gw.url(), &key, &device_token).await;
    assert_eq!(res["ok"], true, "{res}");

    let (code, out, err) = devices(&gw, &["rename", "--device", &id, "--name", "Laptop"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), format!("Renamed {id} → Laptop"));

    // Rotate and revoke always answer in JSON.
    // Rotating from another connection withholds the new token, and the old one stops working.
    let (code, out, err) = devices(&gw, &["rotate", "--device", &id, "--role", "operator"]);
    assert_eq!(code, 0, "{err}");
    let rotated = json_of(&out);
    assert_eq!(rotated["deviceId"], id.as_str(), "{rotated}");
    assert_eq!(rotated["role"], "operator", "{rotated}");
    assert_eq!(
        rotated["tokenDelivery"], "withheld-cross-device",
        "{rotated}"
    );
    let res = device_token_connect(&gw.url(), &key, &device_token).await;
    assert_eq!(res["ok"], false, "the rotated-away token is refused: {res}");
    let res = remote_connect(&gw.url(), &key, &ASKED).await;
    let device_token = res["payload"]["auth"]["deviceToken"]
        .as_str()
        .unwrap_or_else(|| panic!("no device token: {res}"))
        .to_string();
    let (code, out, _) = devices(&gw, &["revoke", "--device", &id, "--role", "operator"]);
    assert_eq!(code, 0, "{out}");
    let revoked = json_of(&out);
    assert_eq!(revoked["deviceId"], id.as_str(), "{revoked}");
    assert!(revoked["revokedAtMs"].is_number(), "{revoked}");

    let res = device_token_connect(&gw.url(), &key, &device_token).await;
    assert_eq!(res["ok"], false, "a revoked token is cut off: {res}");

    let (code, out, _) = devices(&gw, &["revoke", "--device", "nope", "--role", "operator"]);
    assert_eq!(code, 1);
    assert_eq!(json_of(&out)["error"]["type"], "cli_error", "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_reject_and_clear_cut_devices_off() {
    let gw = proxied_gateway(json!({}), &[]);
    let kept = SigningKey::from_bytes(&[22; 32]);
    let rid = request_id(&remote_connect(&gw.url(), &kept, &ASKED).await);
    let (code, _, err) = devices(&gw, &["approve", &rid]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(remote_connect(&gw.url(), &kept, &ASKED).await["ok"], true);

    let (code, out, err) = devices(&gw, &["remove", &device_id(&kept)]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), format!("Removed {}", device_id(&kept)));
    // Asking again is a new request (left pending here).
    let again = request_id(&remote_connect(&gw.url(), &kept, &ASKED).await);

    let (code, _, err) = devices(&gw, &["remove", "no-such-device"]);
    assert_eq!(code, 1);
    assert!(err.contains("devices remove failed:"), "{err}");

    // A rejected request is gone; asking again makes a new one.
    let other = SigningKey::from_bytes(&[23; 32]);
    let rid = request_id(&remote_connect(&gw.url(), &other, &["operator.read"]).await);
    let (code, out, err) = devices(&gw, &["reject", &rid]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), format!("Rejected {}", device_id(&other)));
    let (_, out, _) = devices(&gw, &["list", "--json"]);
    assert!(!out.contains(&rid), "{out}");

    let (code, _, err) = devices(&gw, &["clear"]);
    assert_eq!(code, 1);
    assert!(err.contains("without --yes"), "{err}");

    // Pair one device, leave one pending, clear both.
    let rid = request_id(&remote_connect(&gw.url(), &other, &["operator.read"]).await);
    assert_eq!(devices(&gw, &["approve", &rid]).0, 0);
    let third = SigningKey::from_bytes(&[24; 32]);
    let pending = request_id(&remote_connect(&gw.url(), &third, &["operator.read"]).await);
    let (code, out, err) = devices(&gw, &["clear", "--yes", "--pending", "--json"]);
    assert_eq!(code, 0, "{err}");
    let cleared = json_of(&out);
    assert_eq!(
        cleared["removedDevices"],
        json!([device_id(&other)]),
        "{cleared}"
    );
    let mut rejected = sorted_strings(&cleared["rejectedPending"]);
    let mut expected = vec![again, pending];
    rejected.sort();
    expected.sort();
    assert_eq!(rejected, expected, "{cleared}");
    let (_, out, _) = devices(&gw, &["list", "--json"]);
    assert_eq!(json_of(&out), json!({"pending": [], "paired": []}));
    let (code, out, _) = devices(&gw, &["list"]);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), "No device pairing entries.");
}

/// Needs no gateway methods: a gateway that is not there is one line (or one JSON object).
#[test]
fn an_unreachable_gateway_is_one_line_and_exit_1() {
    let home = Home::new();
    let port = reserve_port();
    let p = port.port().to_string();
    let env = [("OPENCLAW_GATEWAY_PORT", p.as_str())];
    let (code, out, err) = run_cli(&home, &["devices", "list"], &env);
    assert_eq!(code, 1, "{out}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("devices list failed: Gateway not reachable"),
        "{err}"
    );
    let (code, out, _) = run_cli(&home, &["devices", "list", "--json"], &env);
    assert_eq!(code, 1);
    let v = json_of(&out);
    assert_eq!(v["ok"], false);
    assert_eq!(v["error"]["type"], "gateway_transport_error", "{v}");
    assert_eq!(v["gateway"]["url"], format!("ws://127.0.0.1:{p}"), "{v}");
    // Refused before connecting.
    let (code, _, err) = run_cli(&home, &["devices", "clear"], &env);
    assert_eq!(code, 1);
    assert_eq!(err.trim(), "Refusing to clear pairing table without --yes");
}
