//! A minimal websocket client (RFC 6455) for the load generator: handshake, frame encoding
//! straight into a write buffer and in-place frame parsing of a read buffer.
//!
//! It is deliberately small so one call costs one socket, two buffers and one task: frames
//! are written with an all-zero mask key (valid: the server unmasks with whatever key is
//! sent), so no per-frame masking pass is needed; the server's frames are parsed where they
//! were read.

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use sha1::{Digest, Sha1};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Text frame opcode.
pub const OP_TEXT: u8 = 0x1;
/// Binary frame opcode.
pub const OP_BINARY: u8 = 0x2;
/// Close frame opcode.
pub const OP_CLOSE: u8 = 0x8;
/// Ping frame opcode.
pub const OP_PING: u8 = 0x9;
/// Pong frame opcode.
pub const OP_PONG: u8 = 0xA;
const OP_CONTINUATION: u8 = 0x0;

/// Largest frame accepted from the server.
const MAX_FRAME: u64 = 16 << 20;
/// Largest handshake response head.
const MAX_HEAD: usize = 16 << 10;
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Connects to `addr`, upgrades `path` to a websocket and returns the socket together with
/// any bytes the server sent after its handshake response.
pub async fn connect(
    addr: SocketAddr,
    path: &str,
    key_seed: u64,
    timeout: Duration,
) -> Result<(TcpStream, Vec<u8>), String> {
    let attempt = async {
        let mut s = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        s.set_nodelay(true).map_err(|e| format!("nodelay: {e}"))?;
        let mut key_bytes = [0u8; 16];
        key_bytes[..8].copy_from_slice(&key_seed.to_le_bytes());
        key_bytes[8..].copy_from_slice(&key_seed.rotate_left(29).to_be_bytes());
        let key = B64.encode(key_bytes);
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        s.write_all(req.as_bytes())
            .await
            .map_err(|e| format!("handshake write: {e}"))?;
        let mut buf = Vec::with_capacity(1024);
        let head_end = loop {
            if let Some(i) = find(&buf, b"\r\n\r\n") {
                break i + 4;
            }
            if buf.len() > MAX_HEAD {
                return Err("handshake response too large".to_owned());
            }
            let n = s
                .read_buf(&mut buf)
                .await
                .map_err(|e| format!("handshake read: {e}"))?;
            if n == 0 {
                return Err("server closed during the handshake".to_owned());
            }
        };
        check_response(&buf[..head_end], &key)?;
        Ok((s, buf[head_end..].to_vec()))
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .map_err(|_| format!("no websocket handshake within {timeout:?}"))?
}

/// The `Sec-WebSocket-Accept` value for `key`.
pub fn accept_key(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(GUID.as_bytes());
    B64.encode(h.finalize())
}

fn check_response(head: &[u8], key: &str) -> Result<(), String> {
    let head = String::from_utf8_lossy(head);
    let mut lines = head.lines();
    let status = lines.next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("101") {
        return Err(format!("upgrade refused: {status}"));
    }
    let accept = lines.find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("sec-websocket-accept")
            .then(|| v.trim().to_owned())
    });
    match accept {
        Some(a) if a == accept_key(key) => Ok(()),
        other => Err(format!("bad Sec-WebSocket-Accept {other:?}")),
    }
}

/// The first position of `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Appends one final, masked (all-zero key) client frame.
pub fn push_frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
    out.push(0x80 | opcode);
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if let Ok(len16) = u16::try_from(len) {
        out.push(0x80 | 126);
        out.extend_from_slice(&len16.to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(payload);
}

/// Appends a close frame with status 1000 (normal closure).
pub fn push_close(out: &mut Vec<u8>) {
    push_frame(out, OP_CLOSE, &1000u16.to_be_bytes());
}

/// One frame found in a read buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameInfo {
    /// FIN bit.
    pub fin: bool,
    /// Opcode.
    pub opcode: u8,
    /// Payload position within the parsed slice.
    pub payload: std::ops::Range<usize>,
    /// The masking key, when the frame was masked (servers should not mask).
    pub mask: Option<[u8; 4]>,
    /// Bytes the whole frame takes.
    pub len: usize,
}

/// Parses the frame at the start of `buf`; `Ok(None)` when it is not complete yet.
pub fn parse_frame(buf: &[u8]) -> Result<Option<FrameInfo>, String> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let fin = buf[0] & 0x80 != 0;
    if buf[0] & 0x70 != 0 {
        return Err("reserved bits set (no extension was negotiated)".to_owned());
    }
    let opcode = buf[0] & 0x0F;
    let masked = buf[1] & 0x80 != 0;
    let (len, mut pos) = match buf[1] & 0x7F {
        126 => match buf.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
            None => return Ok(None),
        },
        127 => match buf.get(2..10) {
            Some(b) => {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                (u64::from_be_bytes(a), 10)
            }
            None => return Ok(None),
        },
        n => (u64::from(n), 2),
    };
    if len > MAX_FRAME {
        return Err(format!("frame of {len} bytes is too large"));
    }
    let mask = if masked {
        let Some(m) = buf.get(pos..pos + 4) else {
            return Ok(None);
        };
        pos += 4;
        Some([m[0], m[1], m[2], m[3]])
    } else {
        None
    };
    let end = pos + len as usize;
    if buf.len() < end {
        return Ok(None);
    }
    Ok(Some(FrameInfo {
        fin,
        opcode,
        payload: pos..end,
        mask,
        len: end,
    }))
}

/// A complete message or control frame taken from the read buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Incoming<'a> {
    /// A text (or binary) message.
    Data {
        /// Opcode of the message (text or binary).
        opcode: u8,
        /// Its bytes.
        payload: &'a [u8],
    },
    /// A ping; answer with a pong carrying `payload`.
    Ping(&'a [u8]),
    /// The server's close frame.
    Close,
}

/// Reassembles frames from a growing read buffer.
#[derive(Debug, Default)]
pub struct Reader {
    /// Bytes read and not yet consumed.
    pub buf: Vec<u8>,
    pos: usize,
    fragments: Vec<u8>,
    fragment_opcode: Option<u8>,
}

impl Reader {
    /// A reader whose buffer starts with `initial` (bytes that followed the handshake).
    pub fn new(initial: Vec<u8>, capacity: usize) -> Self {
        let mut buf = initial;
        buf.reserve(capacity.saturating_sub(buf.len()));
        Self {
            buf,
            ..Self::default()
        }
    }

    /// Makes room for at least `min` more bytes at the end of the buffer, first dropping what
    /// was consumed.
    pub fn make_room(&mut self, min: usize) {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        if self.buf.capacity() - self.buf.len() < min {
            self.buf.reserve(min);
        }
    }

    /// The next complete message or control frame; `Ok(None)` when more bytes are needed.
    pub fn next(&mut self) -> Result<Option<Incoming<'_>>, String> {
        loop {
            let Some(f) = parse_frame(&self.buf[self.pos..])? else {
                return Ok(None);
            };
            let start = self.pos;
            self.pos += f.len;
            let range = start + f.payload.start..start + f.payload.end;
            if let Some(mask) = f.mask {
                for (i, b) in self.buf[range.clone()].iter_mut().enumerate() {
                    *b ^= mask[i % 4];
                }
            }
            match f.opcode {
                OP_PING => return Ok(Some(Incoming::Ping(&self.buf[range]))),
                OP_PONG => {}
                OP_CLOSE => return Ok(Some(Incoming::Close)),
                OP_TEXT | OP_BINARY if f.fin && self.fragment_opcode.is_none() => {
                    return Ok(Some(Incoming::Data {
                        opcode: f.opcode,
                        payload: &self.buf[range],
                    }));
                }
                OP_TEXT | OP_BINARY if self.fragment_opcode.is_none() => {
                    self.fragment_opcode = Some(f.opcode);
                    self.fragments.clear();
                    self.fragments.extend_from_slice(&self.buf[range]);
                }
                OP_CONTINUATION if self.fragment_opcode.is_some() => {
                    self.fragments.extend_from_slice(&self.buf[range]);
                    if self.fragments.len() as u64 > MAX_FRAME {
                        return Err("fragmented message too large".to_owned());
                    }
                    if f.fin {
                        let opcode = self.fragment_opcode.take().unwrap_or(OP_TEXT);
                        return Ok(Some(Incoming::Data {
                            opcode,
                            payload: &self.fragments,
                        }));
                    }
                }
                other => return Err(format!("unexpected frame opcode {other:#x}")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_key_matches_rfc_example() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn frames_round_trip_through_the_parser() {
        let mut out = Vec::new();
        push_frame(&mut out, OP_TEXT, b"hi");
        let long = vec![b'x'; 300];
        push_frame(&mut out, OP_TEXT, &long);
        push_close(&mut out);
        let f = parse_frame(&out).unwrap().unwrap();
        assert_eq!(
            (f.opcode, f.mask, &out[f.payload.clone()]),
            (OP_TEXT, Some([0; 4]), &b"hi"[..])
        );
        let g = parse_frame(&out[f.len..]).unwrap().unwrap();
        assert_eq!(g.payload.len(), 300);
        assert_eq!(out[f.len + 1], 0x80 | 126);
        // A partial frame needs more bytes.
        assert_eq!(parse_frame(&out[f.len..f.len + 100]).unwrap(), None);
    }

    #[test]
    fn reader_reassembles_fragments_and_controls() {
        // Server frames are unmasked: text "ab" in two fragments, a ping, then close.
        let bytes = [
            0x01, 1, b'a', 0x80, 1, b'b', 0x89, 1, b'p', 0x81, 2, b'o', b'k', 0x88, 0,
        ];
        let mut r = Reader::new(bytes[..4].to_vec(), 64);
        assert_eq!(r.next().unwrap(), None);
        r.buf.extend_from_slice(&bytes[4..]);
        assert_eq!(
            r.next().unwrap(),
            Some(Incoming::Data {
                opcode: OP_TEXT,
                payload: b"ab"
            })
        );
        assert_eq!(r.next().unwrap(), Some(Incoming::Ping(b"p")));
        assert_eq!(
            r.next().unwrap(),
            Some(Incoming::Data {
                opcode: OP_TEXT,
                payload: b"ok"
            })
        );
        assert_eq!(r.next().unwrap(), Some(Incoming::Close));
        assert_eq!(r.next().unwrap(), None);
        r.make_room(16);
        assert!(r.buf.is_empty());
        assert!(parse_frame(&[0xC1, 0]).is_err(), "RSV bits");
    }
}
