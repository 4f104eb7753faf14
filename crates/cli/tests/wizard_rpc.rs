//! `wizard.*` over the wire: a client completes onboarding (OpenAI-compatible provider at the
//! fake, live test answered by it) and the gateway's agent then uses the new model; one wizard
//! at a time (a second client gets "wizard already running"), owned by its connection, freed
//! by cancel or by the owner's disconnect; bad answers keep the step with an error.

mod common;

use std::time::Duration;

use common::*;
use openclaw_testkit::FakeOpenAi;
use serde_json::{Value, json};

const ADMIN: &[&str] = &["operator.admin", "operator.read", "operator.write"];

async fn start_gateway() -> Gateway {
    bin();
    let home = Home::new();
    home.write_config(&token_config(&home));
    Gateway::start_in(
        home,
        &["gateway", "--port", "0"],
        &[
            ("OPENCLAW_OLLAMA_URL", "http://127.0.0.1:9"),
            ("OPENAI_API_KEY", ""),
            ("ANTHROPIC_API_KEY", ""),
            ("OPENROUTER_API_KEY", ""),
            ("GROQ_API_KEY", ""),
            ("XAI_API_KEY", ""),
        ],
    )
}

async fn next(raw: &mut Raw, session: &str, step: &str, value: Option<Value>) -> Value {
    let mut answer = json!({"stepId": step});
    if let Some(v) = value {
        answer["value"] = v;
    }
    let r = raw
        .call(
            "wizard.next",
            json!({"sessionId": session, "answer": answer}),
        )
        .await;
    assert_eq!(r["ok"], true, "{r}");
    r["payload"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_completes_onboarding_and_a_second_one_waits() {
    let fake = FakeOpenAi::start().await;
    let gw = start_gateway().await;
    let (mut a, _) = connected(&gw.url(), ADMIN).await;
    let (mut b, _) = connected(&gw.url(), ADMIN).await;

    let r = a.call("wizard.start", json!({"mode": "local"})).await;
    assert_eq!(r["ok"], true, "{r}");
    let s = r["payload"].clone();
    let sid = s["sessionId"].as_str().unwrap().to_string();
    assert_eq!(s["done"], false);
    assert_eq!(s["status"], "running");
    assert_eq!(s["step"]["id"], "intro");
    assert_eq!(s["step"]["type"], "note");

    // One wizard at a time; only its owner sees it.
    let r = b.call("wizard.start", json!({})).await;
    assert_eq!(r["ok"], false);
    assert_eq!(r["error"]["code"], "UNAVAILABLE");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("wizard already running"),
        "{r}"
    );
    assert_eq!(r["error"]["details"]["code"], "SETUP_ADMISSION_BUSY");
    let r = b.call("wizard.status", json!({"sessionId": sid})).await;
    assert_eq!(r["error"]["message"], "wizard not found");
    assert_eq!(r["error"]["details"]["code"], "WIZARD_NOT_FOUND");
    let r = a
        .call("wizard.next", json!({"sessionId": sid, "bogus": 1}))
        .await;
    assert_eq!(r["error"]["code"], "INVALID_REQUEST");

    let s = next(&mut a, &sid, "intro", None).await;
    assert_eq!(s["step"]["id"], "risk");
    let s = next(&mut a, &sid, "risk", Some(json!(true))).await;
    assert_eq!(s["step"]["id"], "provider");
    let values: Vec<&str> = s["step"]["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["value"].as_str().unwrap())
        .collect();
    assert_eq!(
        values,
        [
            "openai",
            "anthropic",
            "openrouter",
            "groq",
            "xai",
            "ollama",
            "custom",
            "skip"
        ]
    );
    let s = next(&mut a, &sid, "provider", Some(json!("custom"))).await;
    assert_eq!(s["step"]["id"], "custom.baseUrl");
    // A bad answer keeps the step and says why.
    let s = next(&mut a, &sid, "custom.baseUrl", Some(json!("not a url"))).await;
    assert_eq!(s["step"]["id"], "custom.baseUrl");
    assert_eq!(s["error"], "enter an http(s) URL");
    let s = next(&mut a, &sid, "custom.baseUrl", Some(json!(fake.url()))).await;
    assert_eq!(s["step"]["id"], "custom.compatibility");
    let s = next(&mut a, &sid, "custom.compatibility", Some(json!("openai"))).await;
    assert_eq!(s["step"]["id"], "custom.apiKey");
    assert_eq!(s["step"]["sensitive"], true);
    let s = next(&mut a, &sid, "custom.apiKey", Some(json!("sk-rpc"))).await;
    let s = if s["step"]["id"] == "custom.modelId" {
        next(&mut a, &sid, "custom.modelId", Some(json!("m1"))).await
    } else {
        s
    };
    assert_eq!(s["step"]["id"], "liveTest", "{s}");
    assert!(
        s["step"]["message"]
            .as_str()
            .unwrap()
            .contains("answered: echo: "),
        "{s}"
    );
    let model_ref = format!("custom-127-0-0-1-{}/m1", fake.addr().port());
    assert_eq!(s["preparedModelRef"], model_ref);
    let s = next(&mut a, &sid, "liveTest", None).await;
    assert_eq!(s["step"]["id"], "gateway.auth");
    let s = next(&mut a, &sid, "gateway.auth", Some(json!("token"))).await;
    assert_eq!(s["step"]["id"], "channels");
    let s = next(&mut a, &sid, "channels", Some(json!("skip"))).await;
    assert_eq!(s["step"]["id"], "confirm", "no service offer over RPC");
    let s = next(&mut a, &sid, "confirm", Some(json!(true))).await;
    assert_eq!(s["step"]["id"], "summary");
    let s = next(&mut a, &sid, "summary", None).await;
    assert_eq!(s["done"], true);
    assert_eq!(s["status"], "done");

    let cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(gw.home.config_path()).unwrap()).unwrap();
    assert_eq!(cfg["agents"]["defaults"]["model"]["primary"], model_ref);
    assert_eq!(cfg["gateway"]["auth"]["token"], TOKEN, "the token is kept");

    // The slot is free again, and the reloaded gateway answers with the new model.
    let r = b.call("wizard.start", json!({})).await;
    assert_eq!(r["ok"], true, "{r}");
    let sid_b = r["payload"]["sessionId"].as_str().unwrap().to_string();
    let r = b.call("wizard.cancel", json!({"sessionId": sid_b})).await;
    assert_eq!(r["payload"]["status"], "cancelled");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let answered = loop {
        let (mut c, _) = connected(&gw.url(), ADMIN).await;
        let key = format!("k-{}", now_ms());
        c.send(&json!({"type": "req", "id": "x", "method": "agent",
                       "params": {"message": "hi", "idempotencyKey": key}}))
            .await;
        let text = loop {
            let f = c.frame().await;
            if f["type"] == "res" && f["id"] == "x" && f["payload"]["status"] != "accepted" {
                break f["payload"]["result"]["payloads"][0]["text"].clone();
            }
        };
        // Until the reload lands the run has no model; then the fake echoes.
        if text == "echo: hi" || std::time::Instant::now() > deadline {
            break text == "echo: hi";
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(answered, "the agent uses the onboarded model");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_disconnecting_frees_the_wizard() {
    let gw = start_gateway().await;
    let (mut a, _) = connected(&gw.url(), ADMIN).await;
    let r = a.call("wizard.start", json!({})).await;
    assert_eq!(r["ok"], true, "{r}");
    drop(a);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let freed = loop {
        let (mut b, _) = connected(&gw.url(), ADMIN).await;
        if b.call("wizard.start", json!({})).await["ok"] == true {
            break true;
        }
        if std::time::Instant::now() > deadline {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(freed);
    // Read-only operators cannot drive the wizard.
    let (mut r, _) = connected(&gw.url(), &["operator.read"]).await;
    let res = r.call("wizard.start", json!({})).await;
    assert_eq!(res["error"]["code"], "FORBIDDEN", "{res}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ollama_is_offered_and_a_telegram_token_is_checked_with_get_me() {
    use openclaw_testkit::telegram::{FAKE_TOKEN, FakeReply, FakeTelegram};
    let fake = FakeOpenAi::start().await;
    let tg = FakeTelegram::start().await;
    bin();
    let home = Home::new();
    home.write_config(&token_config(&home));
    let ollama = format!("http://{}", fake.addr());
    let tg_url = tg.url();
    let gw = Gateway::start_in(
        home,
        &["gateway", "--port", "0"],
        &[
            ("OPENCLAW_OLLAMA_URL", &ollama),
            ("OPENCLAW_TELEGRAM_API_ROOT", &tg_url),
        ],
    );
    let (mut a, _) = connected(&gw.url(), ADMIN).await;
    let r = a.call("wizard.start", json!({})).await;
    let sid = r["payload"]["sessionId"].as_str().unwrap().to_string();
    assert!(
        r["payload"]["step"]["message"]
            .as_str()
            .unwrap()
            .contains(openclaw_testkit::FAKE_OLLAMA_MODEL),
        "{r}"
    );
    next(&mut a, &sid, "intro", None).await;
    let s = next(&mut a, &sid, "risk", Some(json!(true))).await;
    let ollama_opt = s["step"]["options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["value"] == "ollama")
        .unwrap()
        .clone();
    assert!(
        ollama_opt["hint"]
            .as_str()
            .unwrap()
            .contains(openclaw_testkit::FAKE_OLLAMA_MODEL),
        "{ollama_opt}"
    );
    let r = a.call("wizard.cancel", json!({"sessionId": sid})).await;
    assert_eq!(r["payload"]["status"], "cancelled");

    // The channels flow: a refused token stays on the step with Telegram's words.
    let r = a.call("wizard.start", json!({"flow": "channels"})).await;
    let sid = r["payload"]["sessionId"].as_str().unwrap().to_string();
    assert_eq!(r["payload"]["step"]["id"], "channels");
    let s = next(&mut a, &sid, "channels", Some(json!("telegram"))).await;
    assert_eq!(s["step"]["id"], "telegram.token");
    tg.inject("getMe", FakeReply::Unauthorized401);
    let s = next(&mut a, &sid, "telegram.token", Some(json!("123:wrong"))).await;
    assert_eq!(s["step"]["id"], "telegram.token");
    assert!(
        s["error"]
            .as_str()
            .unwrap()
            .starts_with("Telegram refused the token: Unauthorized"),
        "{s}"
    );
    let s = next(&mut a, &sid, "telegram.token", Some(json!(FAKE_TOKEN))).await;
    assert_eq!(s["step"]["id"], "confirm", "{s}");
    let s = next(&mut a, &sid, "confirm", Some(json!(true))).await;
    assert_eq!(s["step"]["id"], "summary");
    let s = next(&mut a, &sid, "summary", None).await;
    assert_eq!(s["status"], "done");
    let cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(gw.home.config_path()).unwrap()).unwrap();
    assert_eq!(cfg["channels"]["telegram"]["botToken"], FAKE_TOKEN);
    assert_eq!(cfg["channels"]["telegram"]["apiRoot"], tg_url);
    assert!(tg.count("getMe") >= 2);
}
