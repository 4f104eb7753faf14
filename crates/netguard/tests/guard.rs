//! The fetch guard against real sockets, loopback only: forbidden targets are refused before
//! any connection is made, redirects are checked hop by hop, and bodies are capped.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use openclaw_netguard::{FetchError, Guard};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Proves a listener was never connected to: we connect ourselves and send a marker; connections
/// are accepted in arrival order, so if the first one accepted is ours, nothing came before it.
async fn assert_never_connected(listener: &TcpListener) {
    let addr = listener.local_addr().unwrap();
    let mut ours = TcpStream::connect(addr).await.unwrap();
    ours.write_all(b"MARKER").await.unwrap();
    let (mut first, _) = listener.accept().await.unwrap();
    let mut buf = [0u8; 6];
    first.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"MARKER", "something connected before the marker");
}

/// A loopback HTTP/1.1 server answering every request with `response`; counts connections.
async fn serve(response: String) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            h.fetch_add(1, Ordering::SeqCst);
            let response = response.clone();
            tokio::spawn(async move {
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = s.write_all(response.as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    });
    (addr, hits)
}

#[tokio::test]
async fn loopback_targets_are_refused_before_any_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let guard = Guard::default();
    for url in [
        format!("http://127.0.0.1:{port}/x"),
        format!("http://localhost:{port}/x"), // a name: refused by the resolver after DNS
        format!("http://[::ffff:127.0.0.1]:{port}/x"),
    ] {
        let err = guard.fetch(&url, 1000).await.unwrap_err();
        assert!(matches!(err, FetchError::Blocked(_)), "{url}: {err}");
    }
    assert_never_connected(&listener).await;

    // IPv6 loopback, when the host has it.
    if let Ok(v6) = TcpListener::bind("[::1]:0").await {
        let port = v6.local_addr().unwrap().port();
        let err = guard
            .fetch(&format!("http://[::1]:{port}/"), 1000)
            .await
            .unwrap_err();
        assert!(matches!(err, FetchError::Blocked(_)), "{err}");
        assert_never_connected(&v6).await;
    }
}

#[tokio::test]
async fn every_redirect_hop_is_checked() {
    let guard = Guard::default().allowing_loopback_for_tests();
    for target in [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://[fd00:ec2::254]/",
        "http://[::ffff:a9fe:a9fe]/",
        "http://100.64.0.1/", // CGNAT
    ] {
        let (addr, hits) = serve(format!(
            "HTTP/1.1 302 Found\r\nLocation: {target}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ))
        .await;
        let err = guard
            .fetch(&format!("http://{addr}/start"), 1000)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, FetchError::Blocked(m) if m.contains("redirect")),
            "{target}: {err}"
        );
        assert_eq!(hits.load(Ordering::SeqCst), 1);
    }

    // Permitted hops are followed; a name in a hop goes through the guarded resolver.
    let (inner, inner_hits) =
        serve("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".into()).await;
    let (outer, _) = serve(format!(
        "HTTP/1.1 302 Found\r\nLocation: http://localhost:{}/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        inner.port()
    ))
    .await;
    let fetched = guard
        .fetch(&format!("http://{outer}/"), 1000)
        .await
        .unwrap();
    assert_eq!(fetched.bytes, b"ok", "loopback allowed for tests follows");
    assert_eq!(inner_hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn bodies_are_capped_whatever_the_server_declares() {
    let guard = Guard::default().allowing_loopback_for_tests();
    // No Content-Length: only the stream can tell.
    let (addr, _) = serve(format!(
        "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nConnection: close\r\n\r\n{}",
        "x".repeat(5000)
    ))
    .await;
    let err = guard
        .fetch(&format!("http://{addr}/a.png"), 4096)
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::TooLarge { .. }), "{err}");
    let ok = guard
        .fetch(&format!("http://{addr}/a.png"), 5000)
        .await
        .unwrap();
    assert_eq!(
        (ok.bytes.len(), ok.content_type.as_deref()),
        (5000, Some("image/png"))
    );
    // A declared length over the cap is refused without reading.
    let (addr, _) =
        serve("HTTP/1.1 200 OK\r\nContent-Length: 999999\r\nConnection: close\r\n\r\nshort".into())
            .await;
    let err = guard
        .fetch(&format!("http://{addr}/"), 1000)
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::TooLarge { .. }), "{err}");
}
