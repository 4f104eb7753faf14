//! The harness for tests of the real `openclaw` binary: a temp HOME and state dir ([`Home`]),
//! a spawned gateway on an ephemeral loopback port whose port is read back from its listening
//! line ([`Gateway`]), bounded CLI runs ([`run_cli`]), and a raw WebSocket protocol session
//! ([`Raw`]) with the connect/device-signing helpers the handshake needs. The binary path comes
//! from the test crate that builds it (Cargo's `CARGO_BIN_EXE_openclaw`): see [`bin`].

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

static BIN: OnceLock<PathBuf> = OnceLock::new();

/// Names the `openclaw` binary under test (from the test crate's
/// `env!("CARGO_BIN_EXE_openclaw")`). Later calls with another path are ignored: one test
/// binary tests one build.
pub fn set_bin(path: impl Into<PathBuf>) {
    let _ = BIN.set(path.into());
}

/// The binary under test: the one given to [`set_bin`], else `CARGO_BIN_EXE_openclaw` from the
/// environment (Cargo sets it when it runs integration tests).
pub fn bin() -> &'static Path {
    BIN.get_or_init(|| match std::env::var_os("CARGO_BIN_EXE_openclaw") {
        Some(p) => PathBuf::from(p),
        None => panic!(
            "no openclaw binary: call openclaw_testkit::gateway::set_bin(env!(\"CARGO_BIN_EXE_openclaw\")) first"
        ),
    })
}

pub const TOKEN: &str = "test-token-0123456789";

/// A temp HOME with a state dir inside; removed on drop.
pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Default for Home {
    fn default() -> Self {
        Self::new()
    }
}

impl Home {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    pub fn state_dir(&self) -> PathBuf {
        self.path().join("state")
    }
    pub fn config_path(&self) -> PathBuf {
        self.state_dir().join("openclaw.json")
    }
    pub fn log_path(&self) -> PathBuf {
        self.path().join("gw.log")
    }
    /// Writes the config file (pretty JSON).
    pub fn write_config(&self, cfg: &Value) {
        std::fs::create_dir_all(self.state_dir()).unwrap();
        std::fs::write(
            self.config_path(),
            serde_json::to_string_pretty(cfg).unwrap(),
        )
        .unwrap();
    }
    /// A command for the binary with this HOME and state dir and a clean OPENCLAW_* env.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.args(args)
            .env("HOME", self.path())
            .env("OPENCLAW_STATE_DIR", self.state_dir());
        for (k, _) in std::env::vars() {
            if (k.starts_with("OPENCLAW_") || k.starts_with("CLAWDBOT_"))
                && k != "OPENCLAW_STATE_DIR"
            {
                c.env_remove(k);
            }
        }
        c
    }
}

/// The default config: local mode, token auth, log file inside HOME.
pub fn token_config(home: &Home) -> Value {
    json!({
        "gateway": {"mode": "local", "auth": {"mode": "token", "token": TOKEN}},
        "logging": {"file": home.log_path()}
    })
}

/// A running gateway process.
pub struct Gateway {
    pub child: Child,
    pub port: u16,
    pub home: Home,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Gateway {
    /// Starts with the token config and `--port 0`.
    pub fn start() -> Self {
        Self::start_with_env(&[])
    }

    /// [`Gateway::start`] with extra env (test knobs such as `OPENCLAW_…_MS`).
    pub fn start_with_env(env: &[(&str, &str)]) -> Self {
        let home = Home::new();
        home.write_config(&token_config(&home));
        Self::start_in(home, &["gateway", "--port", "0"], env)
    }

    /// Starts the binary with `args` and extra env; waits for the listening line.
    pub fn start_in(home: Home, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut cmd = home.command(args);
        for (k, v) in env {
            // An empty value removes the variable.
            if v.is_empty() {
                cmd.env_remove(k);
            } else {
                cmd.env(k, v);
            }
        }
        let (child, lines) = spawn_captured(&mut cmd);
        let mut gw = Gateway {
            child,
            port: 0,
            home,
            lines,
        };
        let line = gw
            .wait_for_line("listening on ws://", Duration::from_secs(20))
            .unwrap_or_else(|| panic!("gateway did not start; output:\n{}", gw.output()));
        let rest = &line[line.find("ws://").unwrap() + 5..];
        let addr = rest.split([',', ' ']).next().unwrap();
        gw.port = addr.rsplit(':').next().unwrap().parse().unwrap();
        gw
    }

    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    pub fn output(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// Waits (bounded) for an output line containing `pat`.
    pub fn wait_for_line(&mut self, pat: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(l) = self.lines.lock().unwrap().iter().find(|l| l.contains(pat)) {
                return Some(l.clone());
            }
            if Instant::now() > deadline {
                return None;
            }
            if let Ok(Some(_)) = self.child.try_wait() {
                // Exited: give the reader threads a moment to drain, then look once more.
                std::thread::sleep(Duration::from_millis(50));
                return self
                    .lines
                    .lock()
                    .unwrap()
                    .iter()
                    .find(|l| l.contains(pat))
                    .cloned();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits (bounded, 10 s) for a line containing `pat`; panics with the output otherwise.
    pub fn expect_line(&mut self, pat: &str) -> String {
        match self.wait_for_line(pat, Duration::from_secs(10)) {
            Some(l) => l,
            None => panic!(
                "no line containing {pat:?} within 10 s; output:\n{}",
                self.output()
            ),
        }
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
    }

    /// Waits (bounded) for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Gateway {
    /// Stops the process (if still running) and hands back its HOME, to restart on the same
    /// state.
    pub fn into_home(mut self) -> Home {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let home = std::mem::take(&mut self.home);
        drop(self);
        home
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawns `cmd` with stdout and stderr collected line by line (both streams, in arrival
/// order per stream) into the returned buffer.
pub fn spawn_captured(cmd: &mut Command) -> (Child, Arc<Mutex<Vec<String>>>) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn openclaw");
    let lines = Arc::new(Mutex::new(Vec::new()));
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let lines = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
    }
    (child, lines)
}

/// Runs the binary to completion (bounded) and returns (exit code, stdout, stderr).
pub fn run_cli(home: &Home, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = home.command(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = run_bounded(cmd, Duration::from_secs(30));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `cmd` (stdin empty, output captured) to completion; kills it and panics with what
/// it printed when it takes longer than `limit`, so a hung CLI fails the test instead of
/// hanging it.
pub fn run_bounded(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{cmd:?} did not finish within {limit:?}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What the server sent: a JSON frame, or a close.
#[derive(Debug)]
pub enum Got {
    Frame(Value),
    Close(u16, String),
    Ended,
}

/// A raw protocol session.
pub struct Raw {
    pub ws: Ws,
    /// Events that arrived while `res` waited for its answer (a broadcast may overtake the
    /// reply to the request that caused it); `event` looks here first.
    skipped: std::collections::VecDeque<Value>,
    /// Ids for [`Raw::call`].
    calls: u64,
}

pub const WAIT: Duration = Duration::from_secs(10);

impl Raw {
    /// Opens a socket and reads the challenge.
    pub async fn open(url: &str) -> (Self, Value) {
        Self::open_with(url, &[]).await
    }

    /// Opens with extra request headers (e.g. `X-Forwarded-For`, `Origin`).
    pub async fn open_with(url: &str, headers: &[(&str, &str)]) -> (Self, Value) {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = url.into_client_request().unwrap();
        for (k, v) in headers {
            req.headers_mut().insert(
                tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        let (ws, _) = tokio_tungstenite::connect_async(req)
            .await
            .expect("ws connect");
        let mut raw = Raw {
            ws,
            skipped: Default::default(),
            calls: 0,
        };
        let challenge = raw.frame().await;
        assert_eq!(challenge["event"], "connect.challenge", "{challenge}");
        (raw, challenge)
    }

    /// A session over a socket the test opened itself (e.g. with small socket buffers); the
    /// challenge is not read yet.
    pub fn from_ws(ws: Ws) -> Self {
        Raw {
            ws,
            skipped: Default::default(),
            calls: 0,
        }
    }

    pub async fn send(&mut self, v: &Value) {
        self.ws
            .send(Message::Text(v.to_string().into()))
            .await
            .unwrap();
    }

    pub async fn send_text(&mut self, t: &str) {
        self.ws
            .send(Message::Text(t.to_string().into()))
            .await
            .unwrap();
    }

    /// Next message (bounded wait).
    pub async fn next(&mut self) -> Got {
        match tokio::time::timeout(WAIT, self.ws.next()).await {
            Err(_) => panic!("no frame within {WAIT:?}"),
            Ok(None) => Got::Ended,
            Ok(Some(Err(_))) => Got::Ended,
            Ok(Some(Ok(Message::Text(t)))) => {
                if std::env::var_os("WS_DEBUG").is_some() {
                    eprintln!("<< {t}");
                }
                Got::Frame(serde_json::from_str(&t).unwrap())
            }
            Ok(Some(Ok(Message::Close(c)))) => match c {
                Some(c) => Got::Close(c.code.into(), c.reason.to_string()),
                None => Got::Close(1005, String::new()),
            },
            Ok(Some(Ok(_))) => Box::pin(self.next()).await,
        }
    }

    pub async fn frame(&mut self) -> Value {
        match self.next().await {
            Got::Frame(v) => v,
            other => panic!("expected a frame, got {other:?}"),
        }
    }

    /// The `res` with this id; events on the way are kept for `event`.
    pub async fn res(&mut self, id: &str) -> Value {
        loop {
            let f = self.frame().await;
            if f["type"] == "res" && f["id"] == id {
                return f;
            }
            if f["type"] == "event" && self.skipped.len() < 1000 {
                self.skipped.push_back(f);
            }
        }
    }

    /// The next event named `name` (first among those `res` passed over), skipping others.
    pub async fn event(&mut self, name: &str) -> Value {
        if let Some(i) = self.skipped.iter().position(|f| f["event"] == name) {
            self.skipped.drain(..i);
            return self.skipped.pop_front().unwrap();
        }
        self.skipped.clear();
        loop {
            let f = self.frame().await;
            if f["type"] == "event" && f["event"] == name {
                return f;
            }
        }
    }

    /// Skips frames until the server closes; returns (code, reason).
    pub async fn closed(&mut self) -> (u16, String) {
        loop {
            match self.next().await {
                Got::Close(c, r) => return (c, r),
                Got::Ended => return (1006, String::new()),
                Got::Frame(_) => {}
            }
        }
    }

    /// `req` with a fresh id (`call-<n>`).
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        self.calls += 1;
        let id = format!("call-{}", self.calls);
        self.req(&id, method, Some(params)).await
    }

    pub async fn req(&mut self, id: &str, method: &str, params: Option<Value>) -> Value {
        let mut f = json!({"type": "req", "id": id, "method": method});
        if let Some(p) = params {
            f["params"] = p;
        }
        self.send(&f).await;
        self.res(id).await
    }
}

/// A v4 cli connect like the official CLI sends (transcript a_cli_gateway_call_health).
pub fn connect_params(token: Option<&str>, scopes: &[&str]) -> Value {
    let mut p = json!({
        "minProtocol": 4, "maxProtocol": 4,
        "client": {"id": "cli", "version": "2026.9.6", "platform": "linux", "deviceFamily": "Linux",
                   "mode": "cli", "instanceId": "fbf2416c-a2f1-48b4-9860-131ae4823201"},
        "caps": [], "role": "operator", "scopes": scopes,
    });
    if let Some(t) = token {
        p["auth"] = json!({"token": t});
    }
    p
}

/// The permission bits of the file at `path` (`0o600` …).
pub fn file_mode(path: impl AsRef<Path>) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The strings of the JSON array `v`, which must be an array.
pub fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .filter_map(Value::as_str)
        .collect()
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

pub fn connect_frame(id: &str, params: Value) -> Value {
    json!({"type": "req", "id": id, "method": "connect", "params": params})
}

/// Opens a session and sends one `connect` request `id` with `params`; returns the session and
/// the response, whatever it is.
pub async fn try_connect(url: &str, id: &str, params: Value) -> (Raw, Value) {
    let (mut raw, _) = Raw::open(url).await;
    raw.send(&connect_frame(id, params)).await;
    let res = raw.res(id).await;
    (raw, res)
}

/// Opens, connects with the token and the given scopes, returns the session and hello-ok.
pub async fn connected(url: &str, scopes: &[&str]) -> (Raw, Value) {
    let (raw, res) = try_connect(url, "c1", connect_params(Some(TOKEN), scopes)).await;
    assert_eq!(res["ok"], true, "{res}");
    (raw, res["payload"].clone())
}

/// The `scopes` of connect `params`, as a device signature lists them.
pub fn scopes_of(params: &Value) -> Vec<&str> {
    params["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

/// Adds a v2-signed `device` block for `key` over `nonce` to connect `params` (for its `role`).
pub fn signed(params: &mut Value, key: &ed25519_dalek::SigningKey, nonce: &str, token: &str) {
    let pubkey = key.verifying_key().to_bytes();
    let id = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(pubkey));
    let scopes = scopes_of(params);
    let at = now_ms();
    let payload = format!(
        "v2|{id}|{}|{}|{}|{}|{at}|{token}|{nonce}",
        params["client"]["id"].as_str().unwrap(),
        params["client"]["mode"].as_str().unwrap(),
        params["role"].as_str().unwrap_or("operator"),
        scopes.join(",")
    );
    params["device"] = json!({
        "id": id, "publicKey": base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, pubkey),
        "signature": base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, ed25519_dalek::Signer::sign(key, payload.as_bytes()).to_bytes()),
        "signedAt": at, "nonce": nonce,
    });
}

/// A device's connect from `ip` (through a trusted proxy's `X-Forwarded-For`): asks for
/// `scopes`, presents `auth`, and proves `key` over the challenge with `signed_token` (the
/// secret in `auth`). Returns the socket and the `connect` answer.
pub async fn device_connect_from(
    url: &str,
    ip: &str,
    key: &ed25519_dalek::SigningKey,
    scopes: &[&str],
    auth: Value,
    signed_token: &str,
) -> (Raw, Value) {
    let (mut raw, ch) = Raw::open_with(url, &[("x-forwarded-for", ip)]).await;
    let nonce = ch["payload"]["nonce"].as_str().unwrap().to_string();
    let mut p = connect_params(None, scopes);
    p["auth"] = auth;
    signed(&mut p, key, &nonce, signed_token);
    raw.send(&connect_frame("c", p)).await;
    let res = raw.res("c").await;
    (raw, res)
}

/// The token config plus a default agent on a fake OpenAI-compatible provider at `fake_url`
/// (model `fake/m1`) with its workspace inside HOME.
pub fn fake_model_config(home: &Home, fake_url: &str) -> Value {
    let mut cfg = token_config(home);
    cfg["models"] = json!({"providers": {"fake": {
        "baseUrl": fake_url, "api": "openai-completions", "apiKey": "sk-test",
        "models": [{"id": "m1", "name": "Fake One"}]
    }}});
    cfg["agents"] = json!({"defaults": {"model": {"primary": "fake/m1"},
                                        "workspace": home.path().join("ws")}});
    cfg
}

/// One HTTP/1.1 request on a fresh loopback connection (`Host` defaults to `127.0.0.1:port`); returns (status, lowercased head, body).
pub fn http_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: 127.0.0.1:{port}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    std::io::Write::write_all(&mut s, req.as_bytes()).unwrap();
    let mut buf = Vec::new();
    std::io::Read::read_to_end(&mut s, &mut buf).unwrap();
    let buf = String::from_utf8_lossy(&buf).to_string();
    let (head, body) = buf.split_once("\r\n\r\n").unwrap_or((&buf, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .unwrap_or("0")
        .parse()
        .unwrap_or(0);
    (status, head.to_lowercase(), body.to_string())
}

/// A token-auth gateway that trusts a proxy on 127.0.0.1 (so `X-Forwarded-For` names the
/// client); `gateway_extra` keys are merged into `gateway`, `env` is passed to the daemon.
pub fn proxied_gateway(gateway_extra: Value, env: &[(&str, &str)]) -> Gateway {
    let home = Home::new();
    let mut cfg = token_config(&home);
    cfg["gateway"]["trustedProxies"] = json!(["127.0.0.1"]);
    for (k, v) in gateway_extra.as_object().unwrap() {
        cfg["gateway"][k] = v.clone();
    }
    home.write_config(&cfg);
    Gateway::start_in(home, &["gateway", "--port", "0"], env)
}

/// A WebSocket upgrade as if from `client` (through the trusted proxy): `Ok` when it is
/// accepted, else the HTTP status of the refusal (0 when there was none).
pub async fn upgrade_from(url: &str, client: &str) -> Result<(), u16> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert("x-forwarded-for", client.parse().unwrap());
    match tokio_tungstenite::connect_async(req).await {
        Ok(_) => Ok(()),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
        Err(_) => Err(0),
    }
}

/// The `connect` answer for a token-only client (no device) asking for admin, with `headers`
/// on the upgrade request.
pub async fn token_only_hello(url: &str, headers: &[(&str, &str)]) -> (Raw, Value) {
    let (mut raw, _) = Raw::open_with(url, headers).await;
    raw.send(&connect_frame(
        "c",
        connect_params(Some(TOKEN), &["operator.admin"]),
    ))
    .await;
    let res = raw.res("c").await;
    (raw, res)
}

/// A loopback port held for a test without listening on it: connects are refused and
/// `/proc/net/tcp` shows no listener (so the port reads as free to the gateway and the CLI),
/// yet no ephemeral bind can be handed the port while the hold lives. The gateway can still
/// bind it (its listener sets `SO_REUSEADDR`, as the hold does, and a socket that only binds
/// does not conflict). Binding port 0, reading the port and dropping the listener instead
/// races with every other test picking ports.
pub struct ReservedPort {
    fd: std::os::fd::OwnedFd,
    port: u16,
}

impl ReservedPort {
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl std::fmt::Debug for ReservedPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::os::fd::AsRawFd;
        write!(f, "ReservedPort({} fd {})", self.port, self.fd.as_raw_fd())
    }
}

/// Reserves a free 127.0.0.1 port (see [`ReservedPort`]).
pub fn reserve_port() -> ReservedPort {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    // SAFETY: plain socket calls on a descriptor we own; the structs are zero-initialised C
    // structs of the size we pass.
    unsafe {
        let raw = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(raw >= 0, "socket: {}", std::io::Error::last_os_error());
        let fd = OwnedFd::from_raw_fd(raw);
        let one: libc::c_int = 1;
        let r = libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        assert_eq!(r, 0, "SO_REUSEADDR: {}", std::io::Error::last_os_error());
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::AF_INET as libc::sa_family_t;
        addr.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
        addr.sin_port = 0;
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let r = libc::bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_in).cast(),
            len,
        );
        assert_eq!(r, 0, "bind: {}", std::io::Error::last_os_error());
        let mut bound: libc::sockaddr_in = std::mem::zeroed();
        let mut blen = len;
        let r = libc::getsockname(
            fd.as_raw_fd(),
            (&mut bound as *mut libc::sockaddr_in).cast(),
            &mut blen,
        );
        assert_eq!(r, 0, "getsockname: {}", std::io::Error::last_os_error());
        ReservedPort {
            fd,
            port: u16::from_be(bound.sin_port),
        }
    }
}

/// An HTTP answer with its header values as sent (case kept; names lowercased).
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first value of header `name` (lowercase), or "".
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A bodiless request (`GET`, `HEAD`, …) on a fresh loopback connection, keeping header values'
/// case (a CSP hash is base64) and the body's bytes.
pub fn http_get(port: u16, method: &str, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: 127.0.0.1:{port}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    std::io::Write::write_all(&mut s, req.as_bytes()).unwrap();
    let mut buf = Vec::new();
    std::io::Read::read_to_end(&mut s, &mut buf).unwrap();
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(buf.len());
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let mut body = buf[(split + 4).min(buf.len())..].to_vec();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"))
    {
        body = dechunk(&body);
    }
    HttpResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = b.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&b[..i]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = i + 2;
        out.extend_from_slice(&b[start..(start + size).min(b.len())]);
        b = &b[(start + size + 2).min(b.len())..];
    }
    out
}
