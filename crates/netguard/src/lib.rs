//! Outbound HTTP to a URL someone else chose (a `send` caller's media URL, an agent reply, later
//! the agent's `web_fetch`) must never reach this host or its private network: no loopback,
//! RFC 1918 / ULA, link-local, CGNAT, unspecified, multicast, broadcast or cloud-metadata
//! addresses, including IPv4 embedded in IPv6. The address is checked **after** DNS (a resolver
//! that drops forbidden answers, so a public name pointing at 127.0.0.1 fails too), IP-literal
//! hosts (which skip the resolver) are checked explicitly, every redirect hop is checked again,
//! proxies from the environment are ignored (they would resolve the name for us), and bodies
//! are streamed under a byte cap. Its own crate because both `openclaw-channels` and
//! `openclaw-agent` use it and `openclaw-config` opens no sockets.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The URL (or a redirect, or every address its name resolves to) is not public.
    #[error("blocked: {0}")]
    Blocked(String),
    #[error("invalid URL: {0}")]
    BadUrl(String),
    #[error("{url}: body exceeds {max} bytes")]
    TooLarge { url: String, max: u64 },
    /// A non-2xx answer.
    #[error("{url}: HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{0}")]
    Network(String),
}

/// A fetched body with its declared type.
#[derive(Debug)]
pub struct Fetched {
    pub bytes: Vec<u8>,
    /// `Content-Type` without parameters, if any.
    pub content_type: Option<String>,
    /// Where the last redirect led.
    pub final_url: Url,
}

/// The policy of one kind of fetch. `Guard::default()` is what production uses.
#[derive(Debug, Clone)]
pub struct Guard {
    allow_loopback: bool,
    max_redirects: usize,
    timeout: Duration,
}

impl Default for Guard {
    fn default() -> Self {
        Guard {
            allow_loopback: false,
            max_redirects: 5,
            timeout: Duration::from_secs(120),
        }
    }
}

impl Guard {
    /// Lets loopback (only loopback) through: for tests whose "remote" server is on
    /// 127.0.0.1. Nothing in production calls this; there is deliberately no env switch.
    pub fn allowing_loopback_for_tests(mut self) -> Guard {
        self.allow_loopback = true;
        self
    }

    /// Bounds the whole request, body included.
    pub fn with_timeout(mut self, timeout: Duration) -> Guard {
        self.timeout = timeout;
        self
    }

    /// Whether `ip` may be contacted under this guard.
    pub fn permits(&self, ip: IpAddr) -> bool {
        is_public(ip) || (self.allow_loopback && is_loopback(ip))
    }

    /// Checks a URL before any connection: http(s) only, and an IP-literal host must be
    /// permitted (names are checked by the resolver once they resolve).
    pub fn check_url(&self, url: &Url) -> Result<(), FetchError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(FetchError::Blocked(format!(
                "{}: only http and https URLs may be fetched",
                redact(url)
            )));
        }
        let ip = match url.host() {
            Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
            Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
            Some(url::Host::Domain(_)) => return Ok(()),
            None => return Err(FetchError::BadUrl(format!("{}: no host", redact(url)))),
        };
        if self.permits(ip) {
            Ok(())
        } else {
            Err(FetchError::Blocked(format!(
                "{} is not a public address",
                redact(url)
            )))
        }
    }

    /// A client that enforces this guard on every connection and redirect.
    pub fn client(&self) -> Result<reqwest::Client, FetchError> {
        let guard = self.clone();
        let redirect = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > guard.max_redirects {
                return attempt.error(Refused(format!(
                    "more than {} redirects",
                    guard.max_redirects
                )));
            }
            match guard.check_url(attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(e) => attempt.error(Refused(format!("redirect {e}"))),
            }
        });
        reqwest::Client::builder()
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver {
                guard: self.clone(),
            }))
            .redirect(redirect)
            .connect_timeout(Duration::from_secs(15))
            .timeout(self.timeout)
            .build()
            .map_err(|e| FetchError::Network(format!("http client: {e}")))
    }

    /// GETs `url` and returns its body, refusing more than `max` bytes whatever the server
    /// declares (the body is read chunk by chunk and dropped past the cap).
    pub async fn fetch(&self, url: &str, max: u64) -> Result<Fetched, FetchError> {
        self.get(url, max, Overflow::Refuse, &[])
            .await
            .map(|(fetched, _)| fetched)
    }

    /// GETs `url` and returns at most the first `max` bytes of its body, and whether more
    /// was left unread (for readers of text pages, which can use a prefix). `headers` are
    /// extra request headers (`Accept`, `User-Agent`).
    pub async fn fetch_prefix(
        &self,
        url: &str,
        max: u64,
        headers: &[(&str, &str)],
    ) -> Result<(Fetched, bool), FetchError> {
        self.get(url, max, Overflow::Truncate, headers).await
    }

    async fn get(
        &self,
        url: &str,
        max: u64,
        overflow: Overflow,
        headers: &[(&str, &str)],
    ) -> Result<(Fetched, bool), FetchError> {
        let parsed = Url::parse(url).map_err(|e| FetchError::BadUrl(format!("{url}: {e}")))?;
        self.check_url(&parsed)?;
        let shown = redact(&parsed);
        let mut req = self.client()?.get(parsed);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut resp = req.send().await.map_err(|e| classify(&shown, e))?;
        if !resp.status().is_success() {
            return Err(FetchError::Status {
                url: shown,
                status: resp.status().as_u16(),
            });
        }
        if overflow == Overflow::Refuse && resp.content_length().is_some_and(|n| n > max) {
            return Err(FetchError::TooLarge { url: shown, max });
        }
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.split(';').next().unwrap_or(s).trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty());
        let final_url = resp.url().clone();
        let mut bytes = Vec::new();
        let mut truncated = false;
        while let Some(chunk) = resp.chunk().await.map_err(|e| classify(&shown, e))? {
            if (bytes.len() as u64).saturating_add(chunk.len() as u64) > max {
                if overflow == Overflow::Refuse {
                    return Err(FetchError::TooLarge { url: shown, max });
                }
                let room = usize::try_from(max)
                    .unwrap_or(usize::MAX)
                    .saturating_sub(bytes.len());
                bytes.extend_from_slice(&chunk[..room.min(chunk.len())]);
                truncated = true;
                break;
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok((
            Fetched {
                bytes,
                content_type,
                final_url,
            },
            truncated,
        ))
    }
}

/// What a fetch does with a body over its cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Overflow {
    Refuse,
    Truncate,
}

/// The URL without credentials or query (which may carry tokens), for messages and logs.
fn redact(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

/// A refusal raised inside reqwest (resolver or redirect policy), found again in its error chain.
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

fn classify(url: &str, e: reqwest::Error) -> FetchError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = source {
        if let Some(r) = s.downcast_ref::<Refused>() {
            return FetchError::Blocked(format!("{url}: {r}"));
        }
        source = s.source();
    }
    FetchError::Network(format!("{url}: {}", e.without_url()))
}

/// Resolves with the system resolver and keeps only permitted addresses.
struct GuardedResolver {
    guard: Guard,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = self.guard.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let ok: Vec<SocketAddr> = all.into_iter().filter(|a| guard.permits(a.ip())).collect();
            if ok.is_empty() {
                return Err(Box::new(Refused(format!(
                    "{host} does not resolve to a public address"
                )))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(ok.into_iter()) as Addrs)
        })
    }
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Whether `ip` is a globally routable unicast address (the only kind a fetch may reach).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0                                    // "this network", incl. 0.0.0.0
        || a == 10                              // private
        || a == 127                             // loopback
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10 (incl. 100.100.100.200 metadata)
        || (a == 169 && b == 254)               // link-local, incl. 169.254.169.254 metadata
        || (a == 172 && (16..32).contains(&b))  // private
        || (a == 192 && b == 168)               // private
        || (a == 192 && b == 0 && c == 0)       // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)       // documentation
        || (a == 198 && (b == 18 || b == 19))   // benchmarking
        || (a == 198 && b == 51 && c == 100)    // documentation
        || (a == 203 && b == 0 && c == 113)     // documentation
        || a >= 224) // multicast, reserved, 255.255.255.255 broadcast
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4); // ::ffff:a.b.c.d
    }
    if s[..6] == [0, 0, 0, 0, 0, 0] {
        return false; // ::, ::1 and the deprecated IPv4-compatible ::a.b.c.d
    }
    let embedded =
        |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded(s[6], s[7])); // NAT64 64:ff9b::/96
    }
    if s[0] == 0x2002 {
        return is_public_v4(embedded(s[1], s[2])); // 6to4 2002::/16
    }
    !((s[0] & 0xfe00) == 0xfc00                   // ULA fc00::/7, incl. fd00:ec2::254 metadata
        || (s[0] & 0xffc0) == 0xfe80              // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0              // site-local (deprecated) fec0::/10
        || (s[0] & 0xff00) == 0xff00              // multicast
        || (s[0] == 0x2001 && s[1] == 0x0db8)     // documentation
        || (s[0] == 0x2001 && s[1] == 0)          // Teredo (embeds an arbitrary IPv4)
        || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1) // local-use NAT64 64:ff9b:1::/48
        || (s[0] == 0x100 && s[1..4] == [0, 0, 0])) // discard-only 100::/64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_public_unicast_addresses_are_public() {
        for bad in [
            "127.0.0.1",
            "127.255.0.9",
            "0.0.0.0",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "100.100.100.200",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "2001::1",
        ] {
            assert!(!is_public(ip(bad)), "{bad} must not be public");
        }
        for good in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.0.1",
            "172.32.0.1",
            "169.253.1.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::",
        ] {
            assert!(is_public(ip(good)), "{good} is public");
        }
    }

    #[test]
    fn the_test_override_admits_loopback_only() {
        let g = Guard::default().allowing_loopback_for_tests();
        assert!(g.permits(ip("127.0.0.1")) && g.permits(ip("::1")));
        assert!(g.permits(ip("::ffff:127.0.0.1")));
        assert!(!g.permits(ip("10.0.0.1")) && !g.permits(ip("169.254.169.254")));
        assert!(!Guard::default().permits(ip("127.0.0.1")));
    }

    #[test]
    fn urls_are_checked_before_any_connection() {
        let g = Guard::default();
        let url = |s: &str| Url::parse(s).unwrap();
        for bad in [
            "http://127.0.0.1/",
            "http://[::1]:8080/",
            "http://2130706433/", // 127.0.0.1 as one number
            "http://0x7f.1/",
            "http://[::ffff:a9fe:a9fe]/",
            "file:///etc/passwd",
            "ftp://example.com/x",
        ] {
            assert!(
                matches!(g.check_url(&url(bad)), Err(FetchError::Blocked(_))),
                "{bad}"
            );
        }
        assert!(g.check_url(&url("https://example.com/a.png")).is_ok());
        // Credentials and query strings never reach an error message.
        let e = g
            .check_url(&url("http://user:secret@10.0.0.1/x?token=abc"))
            .unwrap_err()
            .to_string();
        assert!(!e.contains("secret") && !e.contains("abc"), "{e}");
    }
}
