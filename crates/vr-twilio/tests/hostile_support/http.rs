//! A raw HTTP/1.1 client (one request per connection, `Connection: close`), so tests can send
//! malformed requests and no client connection pool outlives a request.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::T;

/// A response as read off the wire.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    /// The header block, lower-cased.
    pub head: String,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `head` (request line and headers, each line ending in CRLF, without the blank line;
/// `Connection: close` and, unless `head` has its own, `Content-Length` are added) and `body`.
pub async fn raw(addr: SocketAddr, head: &str, body: &[u8]) -> Reply {
    let mut req = head.to_owned();
    if !head.to_ascii_lowercase().contains("\r\ncontent-length:")
        && !head.to_ascii_lowercase().contains("\r\ntransfer-encoding:")
    {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("Connection: close\r\n\r\n");
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let mut wire = req.into_bytes();
    wire.extend_from_slice(body);
    // The server may answer (413) and close before reading the whole body.
    let _ = tcp.write_all(&wire).await;
    let mut buf = Vec::new();
    let read = tokio::time::timeout(T, async {
        let mut chunk = [0u8; 8192];
        loop {
            match tcp.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no complete HTTP answer within the timeout");
    parse(&buf)
}

fn parse(buf: &[u8]) -> Reply {
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP header block in {:?}", String::from_utf8_lossy(buf)));
    let head = String::from_utf8_lossy(&buf[..split]).to_ascii_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line: {head}"));
    let mut body = buf[split + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    Reply { status, head, body }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&raw[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        let start = eol + 2;
        out.extend_from_slice(&raw[start..start + size]);
        raw = &raw[start + size + 2..];
    }
    out
}

/// `POST path` with a `Host` of the server, the given content type and extra header lines.
pub async fn post(
    addr: SocketAddr,
    path: &str,
    content_type: Option<&str>,
    extra: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut head = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\n");
    if let Some(ct) = content_type {
        head.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    raw(addr, &head, body).await
}

pub const FORM: &str = "application/x-www-form-urlencoded";

/// A urlencoded body of `params`.
pub fn form(params: &[(&str, &str)]) -> Vec<u8> {
    serde_urlencoded::to_string(params).unwrap().into_bytes()
}
