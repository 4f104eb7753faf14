//! `openclaw devices list|approve|reject|remove|rename|rotate|revoke|clear`: device pairing and
//! device tokens through the running gateway (`device.pair.*`, `device.token.*`), with the
//! reference CLI's `--json` shapes and exit codes. Approving without an id only previews the
//! newest request (exit 1), as the reference does, so nothing is approved by accident.

use clap::{Args, Subcommand};
use openclaw_config::Paths;
use serde_json::{Value, json};

use crate::rpc::{Failure, Session, print_json};
use crate::table::{ago, clean, now_ms, render};
use crate::{ConnArgs, Outcome};

#[derive(Args, Debug)]
pub struct DevicesCmd {
    #[command(subcommand)]
    pub sub: DevicesSub,
}

#[derive(Subcommand, Debug)]
pub enum DevicesSub {
    /// List pending and paired devices.
    List {
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Approve a pending request; without an id (or with --latest) show the newest one and the
    /// exact command that approves it.
    Approve {
        request_id: Option<String>,
        /// Show the most recent pending request to approve explicitly.
        #[arg(long)]
        latest: bool,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Reject a pending request.
    Reject {
        request_id: String,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Remove a paired device (its connections are closed).
    Remove {
        device_id: String,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Give a paired device an operator label (≤ 64 characters).
    Rename {
        #[arg(long)]
        device: String,
        #[arg(long)]
        name: String,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Rotate a device's token for a role (prints the result as JSON).
    Rotate {
        #[arg(long)]
        device: String,
        #[arg(long)]
        role: String,
        /// Scopes for the new token (repeatable; default: the token's current scopes).
        #[arg(long = "scope", num_args = 1.., action = clap::ArgAction::Append)]
        scope: Vec<String>,
        /// Rotate with an empty scope set.
        #[arg(long, conflicts_with = "scope")]
        no_scopes: bool,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Revoke a device's token for a role (prints the result as JSON).
    Revoke {
        #[arg(long)]
        device: String,
        #[arg(long)]
        role: String,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Remove every paired device (and with --pending reject every pending request).
    Clear {
        /// Also reject all pending requests.
        #[arg(long)]
        pending: bool,
        /// Confirm the destructive clear.
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        conn: ConnArgs,
    },
}

pub async fn run(paths: &Paths, dev: bool, cmd: DevicesCmd) -> Outcome {
    let (label, json, conn) = match &cmd.sub {
        DevicesSub::List { conn } => ("devices list", conn.json, conn),
        DevicesSub::Approve { conn, .. } => ("devices approve", conn.json, conn),
        DevicesSub::Reject { conn, .. } => ("devices reject", conn.json, conn),
        DevicesSub::Remove { conn, .. } => ("devices remove", conn.json, conn),
        DevicesSub::Rename { conn, .. } => ("devices rename", conn.json, conn),
        // Token commands always answer in JSON, errors included.
        DevicesSub::Rotate { conn, .. } => ("devices rotate", true, conn),
        DevicesSub::Revoke { conn, .. } => ("devices revoke", true, conn),
        DevicesSub::Clear { conn, .. } => ("devices clear", conn.json, conn),
    };
    if let Some(outcome) = refuse_early(&cmd.sub) {
        return outcome;
    }
    let session = match Session::open(paths, dev, conn).await {
        Ok(s) => s,
        Err(f) => return f.print(label, json),
    };
    let result = dispatch(&session, &cmd.sub).await;
    session.close().await;
    match result {
        Ok(outcome) => outcome,
        Err(f) => f.print(label, json),
    }
}

/// Arguments refused before connecting, with the reference's wording.
fn refuse_early(sub: &DevicesSub) -> Option<Outcome> {
    let msg = match sub {
        DevicesSub::Clear { yes: false, .. } => "Refusing to clear pairing table without --yes",
        DevicesSub::Remove { device_id, .. } if device_id.trim().is_empty() => {
            "deviceId is required. Run openclaw devices list to choose a paired device."
        }
        DevicesSub::Reject { request_id, .. } if request_id.trim().is_empty() => {
            "requestId is required. Run openclaw devices list to choose a pending request."
        }
        DevicesSub::Rename { device, name, .. }
            if device.trim().is_empty() || name.trim().is_empty() =>
        {
            "--device and --name are required. Run openclaw devices list to choose a paired device."
        }
        DevicesSub::Rotate { device, role, .. } | DevicesSub::Revoke { device, role, .. }
            if device.trim().is_empty() || role.trim().is_empty() =>
        {
            "--device and --role are required. Run openclaw devices list to choose a paired device."
        }
        _ => return None,
    };
    eprintln!("{msg}");
    Some(Outcome::Failed)
}

async fn dispatch(s: &Session, sub: &DevicesSub) -> Result<Outcome, Failure> {
    match sub {
        DevicesSub::List { conn } => {
            let list = PairingList::from(s.call("device.pair.list", json!({})).await?);
            if conn.json {
                print_json(&list.to_json());
            } else {
                print!("{}", human_list(&list, now_ms()));
            }
            Ok(Outcome::Done)
        }
        DevicesSub::Approve {
            request_id,
            latest,
            conn,
        } => {
            let id = request_id.as_deref().map(str::trim).unwrap_or("");
            if id.is_empty() || *latest {
                let list = PairingList::from(s.call("device.pair.list", json!({})).await?);
                return Ok(preview_latest(&list, conn));
            }
            approve(s, id, conn).await
        }
        DevicesSub::Reject { request_id, conn } => {
            let r = s
                .call(
                    "device.pair.reject",
                    json!({"requestId": request_id.trim()}),
                )
                .await?;
            done(conn.json, &r, || {
                format!("Rejected {}", clean(r["deviceId"].as_str().unwrap_or("ok")))
            })
        }
        DevicesSub::Remove { device_id, conn } => {
            let id = device_id.trim();
            let r = s
                .call("device.pair.remove", json!({"deviceId": id}))
                .await?;
            done(conn.json, &r, || format!("Removed {}", clean(id)))
        }
        DevicesSub::Rename { device, name, conn } => {
            let (device, name) = (device.trim(), name.trim());
            let r = s
                .call(
                    "device.pair.rename",
                    json!({"deviceId": device, "label": name}),
                )
                .await?;
            done(conn.json, &r, || {
                format!("Renamed {} → {}", clean(device), clean(name))
            })
        }
        DevicesSub::Rotate {
            device,
            role,
            scope,
            no_scopes,
            ..
        } => {
            let mut params = json!({"deviceId": device.trim(), "role": role.trim()});
            if *no_scopes {
                params["scopes"] = json!([]);
            } else if !scope.is_empty() {
                params["scopes"] = json!(scope);
            }
            print_json(&s.call("device.token.rotate", params).await?);
            Ok(Outcome::Done)
        }
        DevicesSub::Revoke { device, role, .. } => {
            let params = json!({"deviceId": device.trim(), "role": role.trim()});
            print_json(&s.call("device.token.revoke", params).await?);
            Ok(Outcome::Done)
        }
        DevicesSub::Clear { pending, conn, .. } => clear(s, *pending, conn.json).await,
    }
}

/// JSON result or one human line.
fn done(json: bool, result: &Value, line: impl FnOnce() -> String) -> Result<Outcome, Failure> {
    if json {
        print_json(result);
    } else {
        println!("{}", line());
    }
    Ok(Outcome::Done)
}

async fn approve(s: &Session, id: &str, conn: &ConnArgs) -> Result<Outcome, Failure> {
    match s
        .call("device.pair.approve", json!({"requestId": id}))
        .await
    {
        Ok(r) => {
            let approved = r["requestId"]
                .as_str()
                .filter(|x| !x.is_empty())
                .unwrap_or(id);
            done(conn.json, &r, || {
                format!(
                    "Approved {} ({})",
                    clean(r["device"]["deviceId"].as_str().unwrap_or("ok")),
                    clean(approved)
                )
            })
        }
        Err(Failure::Gateway { code, message })
            if code == "INVALID_REQUEST"
                && message.to_lowercase().contains("unknown requestid") =>
        {
            eprintln!(
                "No pending device request matches {}. Run openclaw devices list and retry with the current request ID.",
                clean(id)
            );
            Ok(Outcome::Failed)
        }
        Err(f) => Err(f),
    }
}

/// `devices approve` without an id: show the newest request and how to approve exactly it;
/// always exit 1 (nothing was approved).
fn preview_latest(list: &PairingList, conn: &ConnArgs) -> Outcome {
    let Some(req) = latest_pending(&list.pending) else {
        eprintln!("No pending device pairing requests to approve");
        return Outcome::Failed;
    };
    let state = approval_state(req, paired_for(&list.paired, req));
    let request_id = req["requestId"].as_str().unwrap_or("");
    let command = approve_command(request_id, conn);
    if conn.json {
        print_json(&json!({
            "selected": req,
            "approvalState": state.to_json(),
            "approveCommand": command,
            "requiresAuthFlags": {
                "token": conn.token.as_deref().is_some_and(|t| !t.trim().is_empty()),
                "password": conn.password.as_deref().is_some_and(|t| !t.trim().is_empty()),
            },
        }));
        return Outcome::Failed;
    }
    println!("Selected pending device request {}", clean(request_id));
    println!("  Device: {}", pending_identity(req));
    println!("  Requested: {}", state.requested.summary());
    if let Some(a) = &state.approved {
        println!("  Approved: {}", a.summary());
    }
    if let Some(ip) = req["remoteIp"].as_str() {
        println!("  IP:     {}", clean(ip));
    }
    println!("  Note:   {}", state.kind.note());
    eprintln!("Approve this exact request with: {command}");
    if let Some(r) = auth_reminder(conn) {
        eprintln!("{r}");
    }
    Outcome::Failed
}

async fn clear(s: &Session, pending: bool, json_out: bool) -> Result<Outcome, Failure> {
    let list = PairingList::from(s.call("device.pair.list", json!({})).await?);
    let mut removed = Vec::new();
    for id in list.paired.iter().filter_map(|d| d["deviceId"].as_str()) {
        s.call("device.pair.remove", json!({"deviceId": id}))
            .await?;
        removed.push(id.to_string());
    }
    let mut rejected = Vec::new();
    if pending {
        for id in list.pending.iter().filter_map(|r| r["requestId"].as_str()) {
            match s.call("device.pair.reject", json!({"requestId": id})).await {
                Ok(_) => rejected.push(id.to_string()),
                // Removing a device drops its pending requests too.
                Err(Failure::Gateway { message, .. })
                    if message.to_lowercase().contains("unknown requestid") => {}
                Err(f) => return Err(f),
            }
        }
    }
    if json_out {
        print_json(&json!({"removedDevices": removed, "rejectedPending": rejected}));
    } else {
        println!("Cleared {}", plural(removed.len(), "paired device"));
        if pending {
            println!("Rejected {}", plural(rejected.len(), "pending request"));
        }
    }
    Ok(Outcome::Done)
}

fn plural(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// `device.pair.list`'s answer, tolerant of missing keys (as the reference parses it).
#[derive(Debug, Default)]
pub struct PairingList {
    pub pending: Vec<Value>,
    pub paired: Vec<Value>,
}

impl From<Value> for PairingList {
    fn from(v: Value) -> Self {
        let arr = |k: &str| v[k].as_array().cloned().unwrap_or_default();
        PairingList {
            pending: arr("pending"),
            paired: arr("paired"),
        }
    }
}

impl PairingList {
    fn to_json(&self) -> Value {
        json!({"pending": self.pending, "paired": self.paired})
    }
}

/// The newest pending request (largest `ts`; the first one on a tie).
pub fn latest_pending(pending: &[Value]) -> Option<&Value> {
    let ts = |r: &Value| r["ts"].as_f64().unwrap_or(0.0);
    pending
        .iter()
        .reduce(|best, r| if ts(r) > ts(best) { r } else { best })
}

/// The paired record a request is about: same device id and, when both are known, same key.
fn paired_for<'a>(paired: &'a [Value], req: &Value) -> Option<&'a Value> {
    let id = req["deviceId"]
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())?;
    let dev = paired
        .iter()
        .find(|d| d["deviceId"].as_str().map(str::trim) == Some(id))?;
    match (req["publicKey"].as_str(), dev["publicKey"].as_str()) {
        (Some(a), Some(b)) if !a.trim().is_empty() && !b.trim().is_empty() && a != b => None,
        _ => Some(dev),
    }
}

/// Roles and scopes, normalised as the reference compares them.
#[derive(Debug, Clone, PartialEq)]
pub struct Access {
    pub roles: Vec<String>,
    pub scopes: Vec<String>,
}

impl Access {
    fn summary(&self) -> String {
        let list = |v: &[String]| {
            if v.is_empty() {
                "none".to_string()
            } else {
                v.iter().map(|s| clean(s)).collect::<Vec<_>>().join(", ")
            }
        };
        format!(
            "roles: {}; scopes: {}",
            list(&self.roles),
            list(&self.scopes)
        )
    }

    fn to_json(&self) -> Value {
        json!({"roles": self.roles, "scopes": self.scopes})
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ApprovalKind {
    NewPairing,
    RoleUpgrade,
    ScopeUpgrade,
    ReApproval,
}

impl ApprovalKind {
    fn wire(self) -> &'static str {
        match self {
            ApprovalKind::NewPairing => "new-pairing",
            ApprovalKind::RoleUpgrade => "role-upgrade",
            ApprovalKind::ScopeUpgrade => "scope-upgrade",
            ApprovalKind::ReApproval => "re-approval",
        }
    }

    fn label(self) -> &'static str {
        match self {
            ApprovalKind::NewPairing => "new pairing",
            ApprovalKind::RoleUpgrade => "role upgrade",
            ApprovalKind::ScopeUpgrade => "scope upgrade",
            ApprovalKind::ReApproval => "re-approval",
        }
    }

    fn note(self) -> &'static str {
        match self {
            ApprovalKind::NewPairing => "First-time device pairing request.",
            ApprovalKind::RoleUpgrade => {
                "Already paired. Requested role exceeds the current approval, so reconnect stays blocked until you approve this upgrade."
            }
            ApprovalKind::ScopeUpgrade => {
                "Already paired. Requested scopes exceed the current approval, so reconnect stays blocked until you approve this upgrade."
            }
            ApprovalKind::ReApproval => {
                "Already paired. Approval-bound device details changed, so a fresh request was created instead of silently reusing the old approval."
            }
        }
    }
}

/// What a pending request asks for against what the device already has.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalState {
    pub kind: ApprovalKind,
    pub requested: Access,
    pub approved: Option<Access>,
}

impl ApprovalState {
    fn to_json(&self) -> Value {
        json!({
            "kind": self.kind.wire(),
            "requested": self.requested.to_json(),
            "approved": self.approved.as_ref().map(Access::to_json),
        })
    }
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        _ => Vec::new(),
    }
}

/// `roles` ∪ `role`, trimmed, unique, sorted.
fn role_list(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = strings(&v["roles"])
        .into_iter()
        .chain(strings(&v["role"]))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Trimmed, unique, sorted scopes; admin implies read and write, write implies read.
pub fn normalize_scopes(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = strings(v)
        .into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let has = |out: &[String], s: &str| out.iter().any(|x| x == s);
    if has(&out, "operator.admin") {
        out.extend(["operator.read".into(), "operator.write".into()]);
    } else if has(&out, "operator.write") {
        out.push("operator.read".into());
    }
    out.sort();
    out.dedup();
    out
}

pub fn approval_state(req: &Value, paired: Option<&Value>) -> ApprovalState {
    let requested = Access {
        roles: role_list(req),
        scopes: normalize_scopes(&req["scopes"]),
    };
    let Some(dev) = paired else {
        return ApprovalState {
            kind: ApprovalKind::NewPairing,
            requested,
            approved: None,
        };
    };
    let approved_roles = role_list(dev);
    // A role whose token is revoked no longer counts as approved.
    let tokens: Option<Vec<&Value>> = match &dev["tokens"] {
        Value::Array(a) => Some(a.iter().collect()),
        Value::Object(m) => Some(m.values().collect()),
        _ => None,
    };
    let roles = match tokens {
        None => approved_roles,
        Some(tokens) => {
            let mut live: Vec<String> = tokens
                .iter()
                .filter(|t| t["revokedAtMs"].as_f64().is_none_or(|x| x == 0.0))
                .filter_map(|t| t["role"].as_str().map(|r| r.trim().to_string()))
                .filter(|r| approved_roles.contains(r))
                .collect();
            live.sort();
            live.dedup();
            live
        }
    };
    let approved = Access {
        roles,
        scopes: normalize_scopes(&dev["scopes"]),
    };
    let covers = |have: &[String], want: &[String]| want.iter().all(|w| have.contains(w));
    let kind = if !covers(&approved.roles, &requested.roles) {
        ApprovalKind::RoleUpgrade
    } else if !covers(&approved.scopes, &requested.scopes) {
        ApprovalKind::ScopeUpgrade
    } else {
        ApprovalKind::ReApproval
    };
    ApprovalState {
        kind,
        requested,
        approved: Some(approved),
    }
}

fn pending_identity(req: &Value) -> String {
    let name = req["displayName"].as_str().map(str::trim).unwrap_or("");
    if name.is_empty() {
        clean(req["deviceId"].as_str().unwrap_or("").trim())
    } else {
        clean(name)
    }
}

/// A shell word as the reference quotes it: bare when safe, else single-quoted.
pub fn quote_arg(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_/:=.,@%+-".contains(c));
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The exact command that approves `request_id` (`group` = `devices` or `nodes`), keeping
/// `--url`, a non-default `--timeout` and `--json` (secrets are never repeated).
pub fn approve_command_for(group: &str, request_id: &str, conn: &ConnArgs) -> String {
    let mut args = vec![
        "openclaw".to_string(),
        group.to_string(),
        "approve".to_string(),
        request_id.to_string(),
    ];
    if let Some(url) = conn.url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        args.extend(["--url".to_string(), url.to_string()]);
    }
    if conn.timeout != 10_000 {
        args.extend(["--timeout".to_string(), conn.timeout.to_string()]);
    }
    if conn.json {
        args.push("--json".to_string());
    }
    args.iter()
        .map(|a| quote_arg(a))
        .collect::<Vec<_>>()
        .join(" ")
}

fn approve_command(request_id: &str, conn: &ConnArgs) -> String {
    approve_command_for("devices", request_id, conn)
}

fn auth_reminder(conn: &ConnArgs) -> Option<String> {
    let set = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
    let flags: Vec<&str> = [
        set(&conn.token).then_some("--token"),
        set(&conn.password).then_some("--password"),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!flags.is_empty()).then(|| {
        format!(
            "Reuse the same {} option{} when rerunning.",
            flags.join("/"),
            if flags.len() == 1 { "" } else { "s" }
        )
    })
}

fn token_summary(tokens: &Value) -> String {
    let list: Vec<&Value> = match tokens {
        Value::Array(a) => a.iter().collect(),
        Value::Object(m) => m.values().collect(),
        _ => Vec::new(),
    };
    if list.is_empty() {
        return "none".into();
    }
    let mut out: Vec<String> = list
        .iter()
        .map(|t| {
            let revoked = t["revokedAtMs"].as_f64().is_some_and(|x| x != 0.0);
            format!(
                "{}{}",
                clean(t["role"].as_str().unwrap_or("?")),
                if revoked { " (revoked)" } else { "" }
            )
        })
        .collect();
    out.sort();
    out.join(", ")
}

/// The human `devices list`: a Pending and a Paired table, or one line when both are empty.
pub fn human_list(list: &PairingList, now: i64) -> String {
    let mut out = String::new();
    if !list.pending.is_empty() {
        let rows: Vec<Vec<String>> = list
            .pending
            .iter()
            .map(|r| {
                let state = approval_state(r, paired_for(&list.paired, r));
                let mut status = state.kind.label().to_string();
                if r["isRepair"] == true {
                    status.push_str(", repair");
                }
                let device = match r["remoteIp"].as_str() {
                    Some(ip) => format!("{} · {}", pending_identity(r), clean(ip)),
                    None => pending_identity(r),
                };
                vec![
                    clean(r["requestId"].as_str().unwrap_or("")),
                    device,
                    state.requested.summary(),
                    state
                        .approved
                        .as_ref()
                        .map(Access::summary)
                        .unwrap_or_else(|| "none".into()),
                    r["ts"].as_i64().map(|ts| ago(now - ts)).unwrap_or_default(),
                    status,
                ]
            })
            .collect();
        out.push_str(&format!("Pending ({})\n", list.pending.len()));
        out.push_str(&render(
            &[
                "Request",
                "Device",
                "Requested",
                "Approved",
                "Age",
                "Status",
            ],
            &rows,
        ));
        out.push('\n');
    }
    if !list.paired.is_empty() {
        let rows: Vec<Vec<String>> = list
            .paired
            .iter()
            .map(|d| {
                let name = ["operatorLabel", "displayName", "clientId", "deviceId"]
                    .iter()
                    .find_map(|k| d[*k].as_str().filter(|s| !s.is_empty()))
                    .unwrap_or("");
                vec![
                    clean(name),
                    clean(d["deviceId"].as_str().unwrap_or("")),
                    strings(&d["roles"])
                        .iter()
                        .map(|s| clean(s))
                        .collect::<Vec<_>>()
                        .join(", "),
                    strings(&d["scopes"])
                        .iter()
                        .map(|s| clean(s))
                        .collect::<Vec<_>>()
                        .join(", "),
                    token_summary(&d["tokens"]),
                    clean(d["remoteIp"].as_str().unwrap_or("")),
                ]
            })
            .collect();
        out.push_str(&format!("Paired ({})\n", list.paired.len()));
        out.push_str(&render(
            &["Device", "Device ID", "Roles", "Scopes", "Tokens", "IP"],
            &rows,
        ));
        out.push('\n');
    }
    if out.is_empty() {
        out.push_str("No device pairing entries.\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference's `openclaw devices list --json` (2026.9.6), recorded.
    fn devices_list() -> Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/devices_list_cli.json"
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn conn() -> ConnArgs {
        ConnArgs {
            timeout: 10_000,
            ..ConnArgs::default()
        }
    }

    #[test]
    fn list_json_is_the_raw_result() {
        let raw = devices_list();
        let list = PairingList::from(raw.clone());
        assert_eq!(list.to_json(), raw);
        // A result with extra keys prints only pending and paired, as the reference does.
        let mut extra = raw.clone();
        extra["ts"] = json!(1);
        assert_eq!(PairingList::from(extra).to_json(), raw);
        assert_eq!(
            PairingList::from(json!({})).to_json(),
            json!({"pending": [], "paired": []})
        );
    }

    #[test]
    fn human_list_shows_the_request_and_what_it_asks() {
        let list = PairingList::from(devices_list());
        let ts = list.pending[0]["ts"].as_i64().unwrap();
        let text = human_list(&list, ts + 120_000);
        assert!(text.starts_with("Pending (1)\n"), "{text}");
        assert!(
            text.contains("4054bc06-3e1a-4b80-ba99-d44ccd6eb419"),
            "{text}"
        );
        assert!(text.contains(" · 203.0.113.5"), "{text}");
        assert!(
            text.contains("roles: operator; scopes: operator.read, operator.write"),
            "{text}"
        );
        assert!(text.contains("2m ago"), "{text}");
        assert!(text.contains("new pairing"), "{text}");
        assert_eq!(
            human_list(&PairingList::default(), 0),
            "No device pairing entries.\n"
        );
    }

    #[test]
    fn approval_state_classifies_like_the_reference() {
        let req = json!({"deviceId": "d1", "publicKey": "k", "role": "operator",
                         "roles": ["operator"], "scopes": ["operator.write"]});
        let s = approval_state(&req, None);
        assert_eq!(s.kind, ApprovalKind::NewPairing);
        assert_eq!(s.requested.scopes, ["operator.read", "operator.write"]);

        let paired = json!({"deviceId": "d1", "publicKey": "k", "roles": ["operator"],
                            "scopes": ["operator.read"],
                            "tokens": [{"role": "operator", "scopes": ["operator.read"]}]});
        assert_eq!(
            approval_state(&req, paired_for(std::slice::from_ref(&paired), &req)).kind,
            ApprovalKind::ScopeUpgrade
        );
        // A revoked token takes its role out of the approval.
        let mut revoked = paired.clone();
        revoked["scopes"] = json!(["operator.admin"]);
        revoked["tokens"][0]["revokedAtMs"] = json!(5);
        assert_eq!(
            approval_state(&req, Some(&revoked)).kind,
            ApprovalKind::RoleUpgrade
        );
        revoked["tokens"][0]["revokedAtMs"] = Value::Null;
        assert_eq!(
            approval_state(&req, Some(&revoked)).kind,
            ApprovalKind::ReApproval
        );
        // Another key is another device.
        let mut other_key = paired.clone();
        other_key["publicKey"] = json!("k2");
        assert!(paired_for(&[other_key], &req).is_none());
    }

    #[test]
    fn the_newest_request_is_selected() {
        let p = vec![
            json!({"requestId": "a", "ts": 5}),
            json!({"requestId": "b", "ts": 9}),
            json!({"requestId": "c", "ts": 9}),
            json!({"requestId": "d"}),
        ];
        assert_eq!(latest_pending(&p).unwrap()["requestId"], "b");
        assert!(latest_pending(&[]).is_none());
    }

    #[test]
    fn approve_command_keeps_url_timeout_and_json_but_no_secret() {
        let mut c = conn();
        assert_eq!(
            approve_command_for("devices", "r-1", &c),
            "openclaw devices approve r-1"
        );
        c.url = Some("ws://h:1/a b".into());
        c.timeout = 5000;
        c.json = true;
        c.token = Some("secret".into());
        assert_eq!(
            approve_command_for("nodes", "r'1", &c),
            "openclaw nodes approve 'r'\\''1' --url 'ws://h:1/a b' --timeout 5000 --json"
        );
        assert_eq!(
            auth_reminder(&c).unwrap(),
            "Reuse the same --token option when rerunning."
        );
    }

    #[test]
    fn token_summaries_name_revoked_roles() {
        assert_eq!(token_summary(&Value::Null), "none");
        assert_eq!(
            token_summary(&json!([{"role": "operator", "revokedAtMs": 3}, {"role": "node"}])),
            "node, operator (revoked)"
        );
    }
}
