//! Enforces the pre-auth frame limit (64 KiB) at the byte layer, under the WebSocket library.
//! The library's own message cap has to be the post-auth `maxPayload` (25 MiB) and cannot be
//! changed on a live stream, so without this a client that never authenticates could make us
//! buffer 25 MiB per socket. The guard reads frame headers as the bytes go by (it never buffers
//! payload) and fails the read as soon as a header announces more than the limit for the current
//! message; the connection then answers close 1009. After `connect` succeeds, the guard is
//! switched off and costs one atomic load per read.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Shared between the guard (inside the WebSocket stream) and the connection task.
#[derive(Debug)]
pub struct Limit {
    /// Largest data payload per message; 0 = off.
    max: AtomicUsize,
    tripped: AtomicBool,
}

impl Limit {
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            max: AtomicUsize::new(max),
            tripped: AtomicBool::new(false),
        })
    }

    /// Stops checking (the client authenticated; the library's `maxPayload` applies).
    pub fn lift(&self) {
        self.max.store(0, Ordering::Relaxed);
    }

    /// Whether a read failed because a frame was over the limit.
    pub fn tripped(&self) -> bool {
        self.tripped.load(Ordering::Relaxed)
    }
}

/// An `AsyncRead + AsyncWrite` that watches client frame headers (RFC 6455 §5.2).
pub struct FrameGuard<S> {
    inner: S,
    limit: Arc<Limit>,
    header: [u8; 14],
    header_len: usize,
    /// Payload bytes of the current frame still to pass.
    payload_left: u64,
    /// Data payload seen in the current (possibly fragmented) message.
    message_bytes: u64,
}

impl<S> FrameGuard<S> {
    pub fn new(inner: S, limit: Arc<Limit>) -> Self {
        Self {
            inner,
            limit,
            header: [0; 14],
            header_len: 0,
            payload_left: 0,
            message_bytes: 0,
        }
    }

    /// Header length once the first two bytes are known.
    fn header_needed(&self) -> usize {
        let b1 = self.header[1];
        let ext = match b1 & 0x7f {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        2 + ext + if b1 & 0x80 != 0 { 4 } else { 0 }
    }

    /// Scans newly read bytes; `Err` when a frame goes over `max`.
    fn scan(&mut self, mut data: &[u8], max: u64) -> io::Result<()> {
        while !data.is_empty() {
            if self.payload_left > 0 {
                let n = (self.payload_left.min(data.len() as u64)) as usize;
                self.payload_left -= n as u64;
                data = &data[n..];
                continue;
            }
            self.header[self.header_len] = data[0];
            self.header_len += 1;
            data = &data[1..];
            if self.header_len < 2 || self.header_len < self.header_needed() {
                continue;
            }
            let b0 = self.header[0];
            let len = match self.header[1] & 0x7f {
                126 => u64::from(u16::from_be_bytes([self.header[2], self.header[3]])),
                127 => {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(&self.header[2..10]);
                    u64::from_be_bytes(b)
                }
                n => u64::from(n),
            };
            self.header_len = 0;
            self.payload_left = len;
            let opcode = b0 & 0x0f;
            if opcode < 8 {
                self.message_bytes = self.message_bytes.saturating_add(len);
                if self.message_bytes > max {
                    self.limit.tripped.store(true, Ordering::Relaxed);
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "frame over the pre-auth limit",
                    ));
                }
                if b0 & 0x80 != 0 {
                    self.message_bytes = 0;
                }
            }
        }
        Ok(())
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for FrameGuard<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let max = self.limit.max.load(Ordering::Relaxed);
        if self.limit.tripped() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "frame over the pre-auth limit",
            )));
        }
        let before = buf.filled().len();
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) if max > 0 => {
                Poll::Ready(this.scan(&buf.filled()[before..], max as u64))
            }
            other => other,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for FrameGuard<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(fin: bool, opcode: u8, len: usize) -> Vec<u8> {
        let mut f = vec![if fin { 0x80 } else { 0 } | opcode];
        match len {
            0..=125 => f.push(0x80 | len as u8),
            126..=65535 => {
                f.push(0x80 | 126);
                f.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => {
                f.push(0x80 | 127);
                f.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        f.extend_from_slice(&[1, 2, 3, 4]);
        f.extend(std::iter::repeat_n(b'x', len.min(70_000)));
        f
    }

    fn guard() -> FrameGuard<tokio::io::Empty> {
        FrameGuard::new(tokio::io::empty(), Limit::new(65_536))
    }

    #[test]
    fn frames_up_to_the_limit_pass_byte_by_byte() {
        let mut g = guard();
        let mut bytes = frame(true, 1, 65_536);
        bytes.extend(frame(true, 9, 4));
        bytes.extend(frame(true, 1, 10));
        for b in bytes.chunks(1) {
            g.scan(b, 65_536).unwrap();
        }
        assert!(!g.limit.tripped());
    }

    #[test]
    fn an_oversize_header_trips_before_its_payload() {
        let mut g = guard();
        let f = frame(true, 1, 25 * 1024 * 1024);
        assert!(g.scan(&f[..14], 65_536).is_err());
        assert!(g.limit.tripped());
    }

    #[test]
    fn fragments_count_towards_one_message() {
        let mut g = guard();
        g.scan(&frame(false, 1, 40_000), 65_536).unwrap();
        g.scan(&frame(true, 9, 0), 65_536).unwrap();
        assert!(g.scan(&frame(true, 0, 40_000), 65_536).is_err());
    }
}
