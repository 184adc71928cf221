//! `--flood`: one call sends media frames as fast as the server takes them, with a bounded
//! number in flight (echo bot: frames not yet echoed; otherwise bytes not yet written), then
//! `stop` and a clean close.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::Instant;

use super::call::{End, SharedTotals};
use super::twilio::{self, Ids, ServerMsg};
use super::ws::{self, Incoming, OP_TEXT, Reader};

/// Frames one echo call may have sent and not yet seen echoed.
const WINDOW: u64 = 256;
/// Bytes one call may have queued and not yet written.
const MAX_QUEUED: usize = 64 << 10;
/// Frames produced per turn before other calls run.
const BATCH: u64 = 32;
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// One flooding call.
#[derive(Debug, Clone)]
pub struct FloodSpec {
    /// Server address.
    pub addr: SocketAddr,
    /// Websocket path.
    pub path: String,
    /// When to connect.
    pub connect_at: Instant,
    /// When to stop sending.
    pub until: Instant,
    /// Whether the bot echoes frames (bounds frames in flight).
    pub echo: bool,
    /// Seed for ids.
    pub seed: u64,
    /// Frame body (base64 of bytes 6..160).
    pub body: std::rc::Rc<Bodies>,
}

/// The frame body the flood sends.
pub type Bodies = super::talkers::Bodies;

/// Runs one flooding call.
pub async fn run(spec: FloodSpec, totals: SharedTotals) -> End {
    tokio::time::sleep_until(spec.connect_at).await;
    totals.borrow_mut().connecting += 1;
    let (stream, initial) =
        match ws::connect(spec.addr, &spec.path, spec.seed, Duration::from_secs(15)).await {
            Ok(c) => c,
            Err(e) => return record(&totals, End::Failed(e)),
        };
    {
        let mut t = totals.borrow_mut();
        t.connected += 1;
        t.live += 1;
    }
    let end = match flood(&spec, &stream, Reader::new(initial, 64 << 10), &totals).await {
        Ok(end) => end,
        Err(e) => End::Failed(e),
    };
    totals.borrow_mut().live -= 1;
    record(&totals, end)
}

fn record(totals: &SharedTotals, end: End) -> End {
    let mut t = totals.borrow_mut();
    match &end {
        End::Completed => t.completed += 1,
        End::ServerHangup => t.server_hangups += 1,
        End::Failed(e) => {
            t.failed += 1;
            if t.errors.len() < 10 {
                t.errors.push(e.clone());
            }
        }
    }
    end
}

struct Out {
    buf: Vec<u8>,
    pos: usize,
}

impl Out {
    fn pending(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn flush(&mut self, stream: &TcpStream) -> io::Result<()> {
        while self.pos < self.buf.len() {
            match stream.try_write(&self.buf[self.pos..]) {
                Ok(n) => self.pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > MAX_QUEUED {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        Ok(())
    }
}

async fn flood(
    spec: &FloodSpec,
    stream: &TcpStream,
    mut reader: Reader,
    totals: &SharedTotals,
) -> Result<End, String> {
    let ids = Ids::from_seed(spec.seed);
    let mut out = Out {
        buf: Vec::with_capacity(MAX_QUEUED + 4096),
        pos: 0,
    };
    let mut scratch = Vec::with_capacity(512);
    ws::push_frame(&mut out.buf, OP_TEXT, twilio::CONNECTED.as_bytes());
    ws::push_frame(&mut out.buf, OP_TEXT, twilio::start_json(&ids).as_bytes());
    let mut seq = 1u64;
    let mut sent = 0u64;
    let mut echoed = 0u64;
    let mut closing_until: Option<Instant> = None;
    let tag = twilio::tag_b64(0);
    let wakeup = tokio::time::sleep_until(spec.until);
    tokio::pin!(wakeup);
    loop {
        let now = Instant::now();
        if closing_until.is_none() && now >= spec.until {
            seq += 1;
            twilio::write_stop(&mut scratch, &ids, seq);
            ws::push_frame(&mut out.buf, OP_TEXT, &scratch);
            ws::push_close(&mut out.buf);
            closing_until = Some(now + CLOSE_TIMEOUT);
            wakeup.as_mut().reset(now + CLOSE_TIMEOUT);
        }
        if let Some(until) = closing_until
            && now >= until
        {
            return Err(format!(
                "the server did not close within {CLOSE_TIMEOUT:?} of our stop"
            ));
        }
        let room = |sent: u64, echoed: u64, out: &Out| {
            closing_until.is_none()
                && (!spec.echo || sent - echoed < WINDOW)
                && out.pending() < MAX_QUEUED
        };
        let mut produced = 0;
        while produced < BATCH && room(sent, echoed, &out) {
            seq += 1;
            twilio::write_media(
                &mut scratch,
                &ids.stream_sid,
                seq,
                sent + 1,
                sent * 20,
                &tag,
                &spec.body.silence,
            );
            ws::push_frame(&mut out.buf, OP_TEXT, &scratch);
            sent += 1;
            produced += 1;
        }
        totals.borrow_mut().frames_sent += produced;
        out.flush(stream).map_err(|e| format!("write: {e}"))?;
        let more = room(sent, echoed, &out);
        let pending = out.pending() > 0;
        tokio::select! {
            biased;
            r = stream.readable() => {
                r.map_err(|e| format!("read: {e}"))?;
                reader.make_room(16 << 10);
                match stream.try_read_buf(&mut reader.buf) {
                    Ok(0) => {
                        return Ok(if closing_until.is_some() { End::Completed } else {
                            End::Failed("the server dropped the connection".to_owned())
                        });
                    }
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) if closing_until.is_some() => { let _ = e; return Ok(End::Completed); }
                    Err(e) => return Err(format!("read: {e}")),
                }
                let mut n = 0;
                while let Some(incoming) = reader.next()? {
                    match incoming {
                        Incoming::Data { payload, .. } => {
                            if spec.echo && matches!(twilio::scan(payload), ServerMsg::Media(_)) {
                                n += 1;
                            }
                        }
                        Incoming::Ping(p) => {
                            let p = p.to_vec();
                            ws::push_frame(&mut out.buf, ws::OP_PONG, &p);
                        }
                        Incoming::Close => {
                            totals.borrow_mut().frames_echoed += n;
                            if closing_until.is_some() {
                                return Ok(End::Completed);
                            }
                            ws::push_close(&mut out.buf);
                            let _ = out.flush(stream);
                            return Ok(End::ServerHangup);
                        }
                    }
                }
                echoed += n;
                totals.borrow_mut().frames_echoed += n;
            }
            r = stream.writable(), if pending => {
                r.map_err(|e| format!("write: {e}"))?;
            }
            () = &mut wakeup => {}
            () = tokio::task::yield_now(), if more && !pending => {}
        }
    }
}
