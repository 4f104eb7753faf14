//! The one trust decision for every request and socket: who the client is (the socket peer, or
//! the client a trusted proxy names) and whether it is *local*. Local means more than a loopback
//! socket: a DNS-rebinding page reaches us over loopback too, but its `Host` is the attacker's
//! name. So a client is local only when the socket is loopback, the `Host` is a local name, and
//! no untrusted peer added forwarding headers. Everything that used to ask "is it loopback?"
//! (scopes kept for token-only clients, silent pairing, lockout exemption) asks this instead.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use axum::http::{HeaderMap, header};
use openclaw_config::GatewaySettings;

/// The resolved client of one request or socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    /// The client's address (unspecified when a trusted proxy named an unparsable hop).
    pub ip: IpAddr,
    /// A loopback socket with a local `Host` and no untrusted forwarding.
    pub local: bool,
}

const FORWARDING_HEADERS: [&str; 4] = [
    "x-forwarded-for",
    "x-real-ip",
    "forwarded",
    "x-forwarded-host",
];

/// Resolves the client behind `peer` from the request headers.
pub fn resolve(settings: &GatewaySettings, peer: IpAddr, headers: &HeaderMap) -> Client {
    let host_local = host_is_local(headers.get(header::HOST).and_then(|v| v.to_str().ok()));
    let forwarded = FORWARDING_HEADERS.iter().any(|h| headers.contains_key(*h));
    if !settings.trusted_proxies.contains(&peer) {
        return Client {
            ip: peer,
            local: peer.is_loopback() && host_local && !forwarded,
        };
    }
    let ip = forwarded_client(settings, headers).unwrap_or(peer);
    Client {
        ip,
        local: ip.is_loopback() && peer.is_loopback() && host_local,
    }
}

/// The client a trusted proxy names: walking `X-Forwarded-For` from the right, the first hop that
/// is not itself a trusted proxy. An unparsable hop ends the walk: it is the client, and since it
/// has no address it gets the unspecified one (never local, never the proxy's own address).
fn forwarded_client(settings: &GatewaySettings, headers: &HeaderMap) -> Option<IpAddr> {
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| v.to_str().unwrap_or("?"))
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.iter().rev() {
        match parse_hop(hop) {
            Some(ip) if settings.trusted_proxies.contains(&ip) => continue,
            Some(ip) => return Some(ip),
            None => return Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        }
    }
    if settings.allow_real_ip_fallback
        && let Some(v) = headers.get("x-real-ip")
    {
        return Some(
            v.to_str()
                .ok()
                .and_then(|s| parse_hop(s.trim()))
                .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        );
    }
    None
}

/// An address as proxies write it: bare, `[v6]`, `[v6]:port` or `v4:port`.
fn parse_hop(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse() {
        return Some(ip);
    }
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    let (host, port) = s.rsplit_once(':')?;
    if port.chars().all(|c| c.is_ascii_digit()) {
        return host.parse::<Ipv4Addr>().ok().map(IpAddr::V4);
    }
    None
}

/// The name part of a `Host` (or origin authority) value, lowercased, without port or brackets.
pub fn host_name(host: &str) -> String {
    let h = host.trim();
    let name = if let Some(rest) = h.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        match h.rsplit_once(':') {
            Some((n, p)) if p.chars().all(|c| c.is_ascii_digit()) && !n.contains(':') => n,
            _ => h,
        }
    };
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// `localhost`, `*.localhost`, a loopback IPv4 or `::1`. A missing `Host` counts as local: no
/// browser omits it, so it cannot be a rebinding page.
pub fn host_is_local(host: Option<&str>) -> bool {
    let Some(host) = host else {
        return true;
    };
    let name = host_name(host);
    name == "localhost"
        || name.ends_with(".localhost")
        || name.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
        || name.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback())
}

/// The address the limiters count by: IPv6 clients by their /64 (one host usually owns a whole
/// /64, so counting single addresses would let it rotate past every limit).
pub fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// Why a browser request is cross-site, if it is: `Sec-Fetch-Site: cross-site`, or an `Origin`
/// that is neither the request's own origin, a local name, nor in
/// `gateway.controlUi.allowedOrigins`. Requests without either header (curl, SDKs) pass.
pub fn cross_site(settings: &GatewaySettings, headers: &HeaderMap) -> Option<String> {
    let text = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    if text("sec-fetch-site").is_some_and(|s| s.eq_ignore_ascii_case("cross-site")) {
        return Some("cross-site request (Sec-Fetch-Site)".into());
    }
    let origin = headers.get(header::ORIGIN)?;
    let Ok(origin) = origin.to_str() else {
        return Some("unreadable Origin".into());
    };
    if origin_allowed(settings, origin, text("host")) {
        None
    } else {
        Some(format!("origin not allowed ({origin})"))
    }
}

/// Whether a browser `Origin` may talk to us: listed in `gateway.controlUi.allowedOrigins`, the
/// same authority as the `Host` it was sent to, or a local name while the `Host` is local too.
pub fn origin_allowed(settings: &GatewaySettings, origin: &str, host: Option<&str>) -> bool {
    if settings.allowed_origins.iter().any(|o| o == origin) {
        return true;
    }
    let Some(authority) = origin
        .split_once("://")
        .map(|(_, a)| a.trim_end_matches('/'))
    else {
        // `null` (sandboxed frames, file://) and anything without a scheme.
        return false;
    };
    if host.is_some_and(|h| h.eq_ignore_ascii_case(authority)) {
        return true;
    }
    host_is_local(Some(authority)) && host.is_some_and(|h| host_is_local(Some(h)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn settings(proxies: &[&str]) -> GatewaySettings {
        let loaded =
            openclaw_config::load_config(std::path::Path::new("/nonexistent/openclaw.json"))
                .unwrap();
        let mut s = openclaw_config::resolve::resolve_gateway(
            &loaded,
            &openclaw_config::RunOverrides {
                allow_unconfigured: true,
                ..Default::default()
            },
        )
        .unwrap();
        s.trusted_proxies = proxies.iter().map(|p| p.parse().unwrap()).collect();
        s
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn local_needs_a_local_host_and_no_untrusted_forwarding() {
        let s = settings(&[]);
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        for host in [
            "127.0.0.1:18789",
            "localhost:1",
            "[::1]:5",
            "LOCALHOST",
            "app.localhost",
        ] {
            assert!(resolve(&s, lo, &headers(&[("host", host)])).local, "{host}");
        }
        for host in [
            "rebind.example:18789",
            "192.168.1.2:18789",
            "127.0.0.1.evil.example",
        ] {
            assert!(
                !resolve(&s, lo, &headers(&[("host", host)])).local,
                "{host}"
            );
        }
        let fwd = headers(&[("host", "127.0.0.1"), ("x-forwarded-for", "203.0.113.9")]);
        let c = resolve(&s, lo, &fwd);
        assert!(
            !c.local,
            "forwarding headers from an untrusted peer are not local"
        );
        assert_eq!(c.ip, lo, "and are not believed either");
        let remote: IpAddr = "203.0.113.1".parse().unwrap();
        assert!(!resolve(&s, remote, &headers(&[("host", "localhost")])).local);
    }

    #[test]
    fn a_trusted_proxy_names_the_client_and_garbage_ends_the_walk() {
        let s = settings(&["127.0.0.1"]);
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let c = resolve(
            &s,
            lo,
            &headers(&[("x-forwarded-for", "198.51.100.4, 127.0.0.1")]),
        );
        assert_eq!(c.ip, "198.51.100.4".parse::<IpAddr>().unwrap());
        assert!(!c.local);
        let c = resolve(
            &s,
            lo,
            &headers(&[("x-forwarded-for", "198.51.100.4, garbage")]),
        );
        assert_eq!(
            c.ip,
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            "never skipped to the next hop"
        );
        assert!(!c.local);
        let c = resolve(
            &s,
            lo,
            &headers(&[("x-forwarded-for", "[2001:db8::1]:443")]),
        );
        assert_eq!(c.ip, "2001:db8::1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn ipv6_is_bucketed_by_64() {
        let a = bucket("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = bucket("2001:db8:1:2:bbbb::9".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, bucket("2001:db8:1:3::1".parse().unwrap()));
        assert_eq!(
            bucket("::ffff:192.0.2.1".parse().unwrap()),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn cross_site_requests_are_named() {
        let s = settings(&[]);
        assert!(cross_site(&s, &headers(&[("host", "127.0.0.1:1")])).is_none());
        assert!(cross_site(&s, &headers(&[("sec-fetch-site", "cross-site")])).is_some());
        assert!(
            cross_site(
                &s,
                &headers(&[("host", "127.0.0.1:1"), ("origin", "https://evil.example")])
            )
            .is_some()
        );
        assert!(cross_site(&s, &headers(&[("host", "127.0.0.1:1"), ("origin", "null")])).is_some());
        assert!(
            cross_site(
                &s,
                &headers(&[("host", "127.0.0.1:1"), ("origin", "http://127.0.0.1:1")])
            )
            .is_none()
        );
        assert!(
            cross_site(
                &s,
                &headers(&[
                    ("host", "gw.example:443"),
                    ("origin", "http://localhost:3000")
                ])
            )
            .is_some(),
            "a local origin is not trusted on a remote host name"
        );
    }

    #[test]
    fn any_forwarding_header_from_an_untrusted_peer_or_a_missing_host_decides_local() {
        let s = settings(&[]);
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(
            resolve(&s, lo, &HeaderMap::new()).local,
            "no Host: no browser, no rebinding"
        );
        for h in FORWARDING_HEADERS {
            let c = resolve(&s, lo, &headers(&[("host", "localhost"), (h, "127.0.0.1")]));
            assert!(!c.local, "{h} from an untrusted peer");
        }
        let v6: IpAddr = "::1".parse().unwrap();
        assert!(resolve(&s, v6, &headers(&[("host", "[::1]:18789")])).local);
    }

    #[test]
    fn a_trusted_chain_is_walked_from_the_right_past_every_trusted_hop() {
        let s = settings(&["127.0.0.1", "10.0.0.2"]);
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        // Two header lines count as one list; the rightmost untrusted hop is the client,
        // whatever the client itself claimed further left.
        let h = headers(&[
            ("x-forwarded-for", "127.0.0.1, 198.51.100.7"),
            ("x-forwarded-for", "10.0.0.2"),
        ]);
        assert_eq!(
            resolve(&s, lo, &h).ip,
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        // Only trusted hops: the proxy itself is the client.
        let c = resolve(&s, lo, &headers(&[("x-forwarded-for", "10.0.0.2")]));
        assert_eq!(c.ip, lo);
        // A loopback client named by a loopback proxy is local only with a local Host.
        let c = resolve(
            &s,
            lo,
            &headers(&[("x-forwarded-for", "127.0.0.1"), ("host", "localhost")]),
        );
        assert!(c.local);
        let c = resolve(
            &s,
            lo,
            &headers(&[("x-forwarded-for", "127.0.0.1"), ("host", "gw.example")]),
        );
        assert!(!c.local);
        // A trusted but non-loopback proxy never makes anything local.
        let c = resolve(
            &s,
            "10.0.0.2".parse().unwrap(),
            &headers(&[("x-forwarded-for", "127.0.0.1"), ("host", "localhost")]),
        );
        assert!(!c.local);
    }

    #[test]
    fn x_real_ip_is_believed_only_when_enabled_and_garbage_is_nobody() {
        let mut s = settings(&["127.0.0.1"]);
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let h = headers(&[("x-real-ip", "203.0.113.5")]);
        assert_eq!(resolve(&s, lo, &h).ip, lo, "off by default");
        s.allow_real_ip_fallback = true;
        assert_eq!(
            resolve(&s, lo, &h).ip,
            "203.0.113.5".parse::<IpAddr>().unwrap()
        );
        let c = resolve(&s, lo, &headers(&[("x-real-ip", "not an address")]));
        assert_eq!(c.ip, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        // X-Forwarded-For, when present, wins over X-Real-IP.
        let h = headers(&[
            ("x-real-ip", "203.0.113.5"),
            ("x-forwarded-for", "198.51.100.1"),
        ]);
        assert_eq!(
            resolve(&s, lo, &h).ip,
            "198.51.100.1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn hops_and_hosts_parse_as_proxies_and_browsers_write_them() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(parse_hop("192.0.2.1:8080"), Some(ip("192.0.2.1")));
        assert_eq!(parse_hop("[2001:db8::2]"), Some(ip("2001:db8::2")));
        assert_eq!(parse_hop("2001:db8::3"), Some(ip("2001:db8::3")));
        assert_eq!(parse_hop("192.0.2.1:http"), None);
        assert_eq!(parse_hop("unknown"), None);
        assert_eq!(parse_hop(""), None);
        assert_eq!(host_name(" LocalHost.:80 "), "localhost");
        assert_eq!(host_name("[::1]:443"), "::1");
        assert_eq!(
            host_name("::1"),
            "::1",
            "a bare v6 address keeps its colons"
        );
        assert!(host_is_local(Some("127.8.9.10")));
        assert!(!host_is_local(Some("0.0.0.0")));
        assert!(!host_is_local(Some("localhost.evil.example")));
        assert!(!host_is_local(Some("")));
    }

    #[test]
    fn buckets_keep_v4_and_split_v6_at_the_64_boundary() {
        let v4: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(bucket(v4), v4);
        assert_eq!(
            bucket("2001:db8:0:1:ffff:ffff:ffff:ffff".parse().unwrap()),
            "2001:db8:0:1::".parse::<IpAddr>().unwrap()
        );
        assert_ne!(
            bucket("2001:db8:0:1::1".parse().unwrap()),
            bucket("2001:db8:0:2::1".parse().unwrap())
        );
    }

    #[test]
    fn origins_are_allowed_by_list_same_authority_or_local_pairs() {
        let mut s = settings(&[]);
        s.allowed_origins = vec!["https://ui.example".into()];
        assert!(origin_allowed(&s, "https://ui.example", Some("gw.example")));
        assert!(
            !origin_allowed(&s, "https://ui.example/", Some("gw.example")),
            "exact match"
        );
        assert!(origin_allowed(
            &s,
            "https://GW.example:8443/",
            Some("gw.example:8443")
        ));
        assert!(!origin_allowed(
            &s,
            "https://gw.example",
            Some("gw.example:8443")
        ));
        assert!(origin_allowed(
            &s,
            "http://localhost:5173",
            Some("127.0.0.1:18789")
        ));
        assert!(!origin_allowed(&s, "http://localhost:5173", None));
        assert!(
            !origin_allowed(&s, "localhost:5173", Some("localhost:5173")),
            "no scheme"
        );
        assert!(!origin_allowed(&s, "null", Some("localhost")));
        let h = |o: &[u8]| {
            let mut h = headers(&[("host", "localhost")]);
            h.insert(header::ORIGIN, HeaderValue::from_bytes(o).unwrap());
            h
        };
        assert_eq!(
            cross_site(&s, &h(b"http://caf\xe9.example")).as_deref(),
            Some("unreadable Origin")
        );
        let mut same = h(b"http://localhost");
        same.insert("sec-fetch-site", HeaderValue::from_static("Cross-Site"));
        assert!(
            cross_site(&s, &same).is_some(),
            "Sec-Fetch-Site wins over an allowed origin"
        );
    }
}
