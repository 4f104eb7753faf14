//! Minimal Telegram Bot API client over reqwest: `POST {apiRoot}/bot{token}/{method}` with JSON or
//! multipart, file downloads with a size cap, and one mapping of Bot API failures to
//! `ChannelError` (401, 409, 429 `retry_after`, 4xx, 5xx, network, non-JSON or oversized bodies).

use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use std::io::Write;

use crate::CappedFile;
use crate::types::ChannelError;

/// The largest Bot API answer read (a full `getUpdates` batch of 100 updates is far below it).
const MAX_API_BODY: usize = 16 * 1024 * 1024;

/// A Bot API endpoint for one token. The token never appears in errors or logs.
#[derive(Clone)]
pub struct BotApi {
    client: reqwest::Client,
    api_root: String,
    token: String,
}

impl BotApi {
    pub fn new(api_root: &str, token: &str) -> Result<BotApi, ChannelError> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| ChannelError::Other(format!("http client: {e}")))?;
        Ok(BotApi {
            client,
            api_root: api_root.trim_end_matches('/').to_string(),
            token: token.to_string(),
        })
    }

    fn method_url(&self, method: &str) -> String {
        format!("{}/bot{}/{}", self.api_root, self.token, method)
    }

    /// Calls `method` with a JSON body; `timeout` bounds the whole request.
    pub async fn call(
        &self,
        method: &str,
        body: &Value,
        timeout: Duration,
    ) -> Result<Value, ChannelError> {
        self.send(method, timeout, |r| r.json(body)).await
    }

    /// Calls `method` with a multipart form (uploads).
    pub async fn call_multipart(
        &self,
        method: &str,
        form: reqwest::multipart::Form,
        timeout: Duration,
    ) -> Result<Value, ChannelError> {
        self.send(method, timeout, |r| r.multipart(form)).await
    }

    /// POSTs `method` with the body `with` attaches, under `timeout`.
    async fn send(
        &self,
        method: &str,
        timeout: Duration,
        with: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<Value, ChannelError> {
        let req = self.client.post(self.method_url(method)).timeout(timeout);
        let resp = with(req)
            .send()
            .await
            .map_err(|e| self.net_err(method, e))?;
        self.finish(method, resp).await
    }

    fn net_err(&self, method: &str, e: reqwest::Error) -> ChannelError {
        // reqwest errors may carry the URL, which contains the token: strip it.
        let msg = e.without_url().to_string();
        ChannelError::Network(format!("{method}: {msg}"))
    }

    /// The body of an API answer, refused past [`MAX_API_BODY`]: a broken or hostile endpoint
    /// sending an endless body must not grow the gateway's memory without bound.
    async fn body_capped(
        &self,
        method: &str,
        mut resp: reqwest::Response,
    ) -> Result<Vec<u8>, ChannelError> {
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.net_err(method, e))? {
            if bytes.len() + chunk.len() > MAX_API_BODY {
                return Err(ChannelError::Api(format!(
                    "{method}: Bot API answer larger than {} MiB; ignored",
                    MAX_API_BODY / (1024 * 1024)
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }

    async fn finish(&self, method: &str, resp: reqwest::Response) -> Result<Value, ChannelError> {
        let status = resp.status();
        let bytes = self.body_capped(method, resp).await?;
        let parsed: Option<Value> = serde_json::from_slice(&bytes).ok();
        let Some(v) = parsed.filter(Value::is_object) else {
            if status.is_server_error() {
                return Err(ChannelError::Network(format!(
                    "{method}: HTTP {}",
                    status.as_u16()
                )));
            }
            return Err(ChannelError::Api(format!(
                "{method}: invalid JSON from Bot API (HTTP {})",
                status.as_u16()
            )));
        };
        if v.get("ok").and_then(Value::as_bool) == Some(true) {
            return Ok(v.get("result").cloned().unwrap_or(Value::Null));
        }
        let code = v
            .get("error_code")
            .and_then(Value::as_u64)
            .unwrap_or(status.as_u16() as u64);
        let desc = v
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("unknown error")
            .to_string();
        Err(match code {
            401 => ChannelError::Unauthorized(format!("{method} returned 401: {desc}")),
            409 => ChannelError::Conflict(format!("{method}: {desc}")),
            429 => {
                let secs = v
                    .pointer("/parameters/retry_after")
                    .and_then(Value::as_u64)
                    .unwrap_or(1);
                ChannelError::RateLimited {
                    retry_after: Duration::from_secs(secs),
                }
            }
            500..=599 => ChannelError::Network(format!("{method}: HTTP {code}: {desc}")),
            _ => ChannelError::Api(format!("{method}: {code}: {desc}")),
        })
    }

    /// Streams `file_path` (from `getFile`) into a fresh `dest` ([`crate::CappedFile`]),
    /// refusing more than `max_bytes` whatever the headers say; nothing is left on failure.
    pub async fn download(
        &self,
        file_path: &str,
        dest: &Path,
        max_bytes: u64,
    ) -> Result<u64, ChannelError> {
        let url = format!("{}/file/bot{}/{}", self.api_root, self.token, file_path);
        let resp = self
            .client
            .get(url)
            .timeout(Duration::from_secs(120))
            .send()
            .await
            .map_err(|e| self.net_err("download", e))?;
        if !resp.status().is_success() {
            return Err(ChannelError::Api(format!(
                "download: HTTP {}",
                resp.status().as_u16()
            )));
        }
        let too_large = || ChannelError::TooLarge(format!("file exceeds {max_bytes} bytes"));
        if resp.content_length().is_some_and(|n| n > max_bytes) {
            return Err(too_large());
        }
        let mut file = CappedFile::create(dest, max_bytes)?;
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.net_err("download", e))?;
            file.write_all(&chunk).map_err(|e| {
                if crate::is_too_large(&e) {
                    too_large()
                } else {
                    ChannelError::Io(format!("download: {e}"))
                }
            })?;
        }
        Ok(file.finish()?)
    }
}
