//! One simulated Twilio call in one task: connect, `connected` + `start`, a 20 ms frame
//! schedule, Twilio's play-out of the bot's audio (marks echoed when their audio has
//! played, `clear` releases them at once), then `stop` and a clean close.
//!
//! What the caller says is decided by a [`Talker`]; the driver keeps the socket, the timer
//! and the statistics. One socket, one timer and two buffers per call.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::rc::Rc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::Instant;

use super::histogram::Histogram;
use super::twilio::{self, Ids, ServerMsg, TAG_MAX};
use super::ws::{self, Incoming, OP_TEXT, Reader};

/// Frame period.
pub const FRAME: Duration = Duration::from_millis(20);
/// How long a finished echo call waits for its last echoes before `stop`.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);
/// How long to wait for the server's close after ours.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// Connect + handshake timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Reads per wake-up before other calls get a turn.
const READS_PER_WAKE: usize = 4;
/// Initial read buffer.
const READ_BUFFER: usize = 4096;

/// What the caller does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next<'a> {
    /// Send this frame: the base64 of payload bytes 6..160 (the tag is added in front).
    Frame(&'a str),
    /// Send `stop` and close.
    Hangup,
}

/// Something the bot did, told to the [`Talker`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BotEvent {
    /// Audio arrived.
    Audio,
    /// A mark was echoed because its audio finished playing.
    MarkPlayed,
    /// The bot cleared its audio (barge-in).
    Clear,
}

/// What a [`Talker`] may look at.
#[derive(Debug, Clone, Copy)]
pub struct View {
    /// Now.
    pub now: Instant,
    /// When the call's first frame was due.
    pub started: Instant,
    /// Frames sent so far.
    pub frames_sent: u64,
    /// When the bot's buffered audio will have played (≤ now when it is silent).
    pub playing_until: Instant,
}

impl View {
    /// Whether bot audio is playing now.
    pub fn bot_talking(&self) -> bool {
        self.playing_until > self.now
    }
}

/// The caller's behaviour.
pub trait Talker {
    /// Called every 20 ms: the next frame, or hang up.
    fn next(&mut self, view: &View) -> Next<'_>;
    /// Called when the bot does something.
    fn on_bot(&mut self, _event: BotEvent, _view: &View) {}
}

/// Counters shared by every call of a run (one thread, so a `RefCell`).
#[derive(Debug, Default)]
pub struct Totals {
    /// Calls whose connect has begun.
    pub connecting: u64,
    /// Calls whose stream started.
    pub connected: u64,
    /// Calls connected and not yet ended.
    pub live: u64,
    /// Calls that ran their full time and closed cleanly.
    pub completed: u64,
    /// Calls the server hung up.
    pub server_hangups: u64,
    /// Calls that failed (connect, reset, protocol, timeout).
    pub failed: u64,
    /// Media frames sent.
    pub frames_sent: u64,
    /// Our frames echoed back (echo bot).
    pub frames_echoed: u64,
    /// Bot frames that carried no tag of ours or an unexpected one (echo bot).
    pub echo_unmatched: u64,
    /// Media messages from the bot.
    pub bot_media: u64,
    /// Bot audio received (ms).
    pub bot_audio_ms: u64,
    /// Marks received from the bot.
    pub marks_received: u64,
    /// Marks echoed after play-out.
    pub marks_played: u64,
    /// Marks echoed at once because of a `clear`.
    pub marks_cleared: u64,
    /// `clear` messages.
    pub clears: u64,
    /// Other server messages.
    pub other_messages: u64,
    /// Frames sent after a call's last mark echo, in calls the server hung up: the server
    /// may close before reading them, so they are not counted as lost.
    pub frames_in_flight_at_hangup: u64,
    /// Echo latency (µs): echo arrival − send.
    pub echo_latency: Histogram,
    /// The same, only echoes arriving in the steady window (all calls up, none ended yet).
    pub echo_latency_steady: Histogram,
    /// The same since the last progress line.
    pub echo_latency_interval: Histogram,
    /// Whether the steady window is open (set by the run's main loop).
    pub steady: bool,
    /// Mark play-out error (µs): echo time − the time its audio finished playing.
    pub mark_error: Histogram,
    /// Send lag (µs): how late each frame left after its 20 ms slot (generator health).
    pub send_lag: Histogram,
    /// The first few failure messages.
    pub errors: Vec<String>,
}

/// Shared totals handle.
pub type SharedTotals = Rc<RefCell<Totals>>;

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// We hung up and the server closed cleanly.
    Completed,
    /// The server closed the stream first.
    ServerHangup,
    /// It failed.
    Failed(String),
}

/// Where and when one call runs.
#[derive(Debug, Clone)]
pub struct CallSpec {
    /// Server address.
    pub addr: SocketAddr,
    /// Websocket path (`/voice`).
    pub path: String,
    /// When to connect.
    pub connect_at: Instant,
    /// The frame grid: frames are due at `epoch + phase + k × 20 ms`.
    pub epoch: Instant,
    /// This call's offset in the grid (spreads calls over the 20 ms period).
    pub phase: Duration,
    /// Whether the bot echoes our frames (match echoes, drain before `stop`).
    pub echo: bool,
    /// Seed for ids and the handshake key.
    pub seed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Talking,
    Draining { until: Instant },
    Closing { until: Instant },
    Done,
}

struct Call<'t> {
    spec: CallSpec,
    ids: Ids,
    totals: SharedTotals,
    talker: &'t mut dyn Talker,
    phase: Phase,
    seq: u64,
    frames: u64,
    started: Instant,
    next_due: Instant,
    wbuf: Vec<u8>,
    wpos: usize,
    scratch: Vec<u8>,
    in_flight: VecDeque<(u32, Instant)>,
    cursor: Instant,
    pending_marks: VecDeque<(String, Instant)>,
    frames_since_mark_echo: u64,
    sent_stop: bool,
    server_closed: bool,
    end: Option<End>,
}

/// Runs one call to its end. Never panics on peer input; every wait has a timeout.
pub async fn run(spec: CallSpec, talker: &mut dyn Talker, totals: SharedTotals) -> End {
    tokio::time::sleep_until(spec.connect_at).await;
    totals.borrow_mut().connecting += 1;
    let connected = ws::connect(spec.addr, &spec.path, spec.seed, CONNECT_TIMEOUT).await;
    let (stream, initial) = match connected {
        Ok(c) => c,
        Err(e) => return fail(&totals, e),
    };
    let now = Instant::now();
    let grid = spec.epoch + spec.phase;
    let first_due = if grid >= now {
        grid
    } else {
        let periods = (now - grid).as_nanos().div_ceil(FRAME.as_nanos());
        grid + FRAME * u32::try_from(periods).unwrap_or(u32::MAX)
    };
    let mut call = Call {
        ids: Ids::from_seed(spec.seed),
        spec,
        totals: totals.clone(),
        talker,
        phase: Phase::Talking,
        seq: 1,
        frames: 0,
        started: first_due,
        next_due: first_due,
        wbuf: Vec::with_capacity(1024),
        wpos: 0,
        scratch: Vec::with_capacity(512),
        in_flight: VecDeque::new(),
        cursor: now,
        pending_marks: VecDeque::new(),
        frames_since_mark_echo: 0,
        sent_stop: false,
        server_closed: false,
        end: None,
    };
    call.send_text_str(twilio::CONNECTED);
    let start = twilio::start_json(&call.ids);
    call.send_text_str(&start);
    {
        let mut t = totals.borrow_mut();
        t.connected += 1;
        t.live += 1;
    }
    let result = call.drive(&stream, Reader::new(initial, READ_BUFFER)).await;
    let end = match result {
        Ok(()) => call.end.take().unwrap_or(End::Completed),
        Err(e) => End::Failed(e),
    };
    let mut t = totals.borrow_mut();
    t.live -= 1;
    match &end {
        End::Completed => t.completed += 1,
        End::ServerHangup => {
            t.server_hangups += 1;
            t.frames_in_flight_at_hangup += call.frames_since_mark_echo;
        }
        End::Failed(e) => {
            t.failed += 1;
            if t.errors.len() < 10 {
                t.errors.push(e.clone());
            }
        }
    }
    end
}

fn fail(totals: &SharedTotals, e: String) -> End {
    let mut t = totals.borrow_mut();
    t.failed += 1;
    if t.errors.len() < 10 {
        t.errors.push(e.clone());
    }
    End::Failed(e)
}

impl Call<'_> {
    async fn drive(&mut self, stream: &TcpStream, mut reader: Reader) -> Result<(), String> {
        self.flush(stream).map_err(|e| format!("write: {e}"))?;
        // Bytes that came with the handshake response.
        self.handle_frames(&mut reader)?;
        let mut sleep = pin!(tokio::time::sleep_until(self.next_due));
        while self.phase != Phase::Done {
            let deadline = self.deadline();
            if let Some(d) = deadline
                && d != sleep.deadline()
            {
                sleep.as_mut().reset(d);
            }
            let pending_write = self.wpos < self.wbuf.len();
            tokio::select! {
                r = stream.readable() => {
                    r.map_err(|e| format!("read: {e}"))?;
                    self.read(stream, &mut reader)?;
                }
                r = stream.writable(), if pending_write => {
                    r.map_err(|e| format!("write: {e}"))?;
                }
                () = &mut sleep, if deadline.is_some() => self.on_timer(Instant::now()),
            }
            self.flush(stream).map_err(|e| format!("write: {e}"))?;
        }
        Ok(())
    }

    fn deadline(&self) -> Option<Instant> {
        let mark = self.pending_marks.front().map(|(_, due)| *due);
        let phase = match self.phase {
            Phase::Talking => Some(self.next_due),
            Phase::Draining { until } | Phase::Closing { until } => Some(until),
            Phase::Done => None,
        };
        match (mark, phase) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn view(&self, now: Instant) -> View {
        View {
            now,
            started: self.started,
            frames_sent: self.frames,
            playing_until: self.cursor,
        }
    }

    fn read(&mut self, stream: &TcpStream, reader: &mut Reader) -> Result<(), String> {
        for _ in 0..READS_PER_WAKE {
            reader.make_room(READ_BUFFER);
            match stream.try_read_buf(&mut reader.buf) {
                Ok(0) => {
                    self.on_eof();
                    return Ok(());
                }
                Ok(_) => self.handle_frames(reader)?,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => {
                    if self.sent_stop {
                        // A reset after our stop still ends the call as we asked.
                        self.finish(End::Completed);
                        return Ok(());
                    }
                    return Err(format!("read: {e}"));
                }
            }
            if self.phase == Phase::Done {
                return Ok(());
            }
        }
        Ok(())
    }

    fn on_eof(&mut self) {
        if self.sent_stop {
            self.finish(End::Completed);
        } else if self.server_closed {
            self.finish(End::ServerHangup);
        } else {
            self.finish(End::Failed(
                "the server dropped the connection without a close frame".to_owned(),
            ));
        }
    }

    fn finish(&mut self, end: End) {
        if self.end.is_none() {
            self.end = Some(end);
        }
        self.phase = Phase::Done;
    }

    fn handle_frames(&mut self, reader: &mut Reader) -> Result<(), String> {
        while let Some(incoming) = reader.next()? {
            match incoming {
                Incoming::Data { payload, .. } => {
                    let now = Instant::now();
                    match twilio::scan(payload) {
                        ServerMsg::Media(b64) => self.on_media(b64, now),
                        ServerMsg::Mark(name) => self.on_mark(&name, now),
                        ServerMsg::Clear => self.on_clear(now),
                        ServerMsg::Other => self.totals.borrow_mut().other_messages += 1,
                    }
                }
                Incoming::Ping(p) => {
                    if !self.server_closed {
                        let p = p.to_vec();
                        ws::push_frame(&mut self.wbuf, ws::OP_PONG, &p);
                    }
                }
                Incoming::Close => {
                    self.server_closed = true;
                    if self.sent_stop {
                        self.finish(End::Completed);
                    } else {
                        ws::push_close(&mut self.wbuf);
                        self.finish(End::ServerHangup);
                    }
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    fn on_media(&mut self, b64: &[u8], now: Instant) {
        let bytes = twilio::decoded_len(b64) as u64;
        let audio = Duration::from_micros(bytes * 125);
        self.cursor = self.cursor.max(now) + audio;
        let mut t = self.totals.borrow_mut();
        t.bot_media += 1;
        t.bot_audio_ms += bytes / 8;
        if self.spec.echo {
            match twilio::untag(b64) {
                Some(tag) => {
                    // Echoes come back in order; older frames still waiting were skipped.
                    while self.in_flight.front().is_some_and(|(s, _)| *s < tag) {
                        self.in_flight.pop_front();
                    }
                    match self.in_flight.front() {
                        Some((s, sent)) if *s == tag => {
                            let us = (now - *sent).as_micros() as u64;
                            t.echo_latency.record(us);
                            t.echo_latency_interval.record(us);
                            if t.steady {
                                t.echo_latency_steady.record(us);
                            }
                            t.frames_echoed += 1;
                            self.in_flight.pop_front();
                        }
                        _ => t.echo_unmatched += 1,
                    }
                }
                None => t.echo_unmatched += 1,
            }
        }
        drop(t);
        let view = self.view(now);
        self.talker.on_bot(BotEvent::Audio, &view);
        if matches!(self.phase, Phase::Draining { .. }) && self.in_flight.is_empty() {
            self.send_stop(now);
        }
    }

    fn on_mark(&mut self, name: &str, now: Instant) {
        self.totals.borrow_mut().marks_received += 1;
        if self.pending_marks.is_empty() && self.cursor <= now {
            self.totals.borrow_mut().mark_error.record(0);
            self.echo_mark(name, now, true);
        } else {
            self.pending_marks
                .push_back((name.to_owned(), self.cursor.max(now)));
        }
    }

    fn on_clear(&mut self, now: Instant) {
        self.totals.borrow_mut().clears += 1;
        while let Some((name, _)) = self.pending_marks.pop_front() {
            self.echo_mark(&name, now, false);
        }
        self.cursor = now;
        let view = self.view(now);
        self.talker.on_bot(BotEvent::Clear, &view);
    }

    fn echo_mark(&mut self, name: &str, now: Instant, played: bool) {
        if self.sent_stop || self.server_closed {
            return;
        }
        self.seq += 1;
        twilio::write_mark(&mut self.scratch, &self.ids.stream_sid, self.seq, name);
        ws::push_frame(&mut self.wbuf, OP_TEXT, &self.scratch);
        self.frames_since_mark_echo = 0;
        {
            let mut t = self.totals.borrow_mut();
            if played {
                t.marks_played += 1;
            } else {
                t.marks_cleared += 1;
            }
        }
        if played {
            let view = self.view(now);
            self.talker.on_bot(BotEvent::MarkPlayed, &view);
        }
    }

    fn on_timer(&mut self, now: Instant) {
        while let Some((_, due)) = self.pending_marks.front() {
            if *due > now {
                break;
            }
            let due = *due;
            if let Some((name, _)) = self.pending_marks.pop_front() {
                self.totals
                    .borrow_mut()
                    .mark_error
                    .record((now - due).as_micros() as u64);
                self.echo_mark(&name, now, true);
            }
        }
        match self.phase {
            Phase::Talking => self.send_due_frames(now),
            Phase::Draining { until } => {
                if self.in_flight.is_empty() || now >= until {
                    self.send_stop(now);
                }
            }
            Phase::Closing { until } if now >= until => {
                self.finish(End::Failed(format!(
                    "the server did not close within {CLOSE_TIMEOUT:?} of our stop"
                )));
            }
            Phase::Closing { .. } | Phase::Done => {}
        }
    }

    fn send_due_frames(&mut self, now: Instant) {
        while self.next_due <= now {
            let view = self.view(now);
            let body = match self.talker.next(&view) {
                Next::Frame(body) => body,
                Next::Hangup => {
                    if self.spec.echo && !self.in_flight.is_empty() {
                        self.phase = Phase::Draining {
                            until: now + DRAIN_TIMEOUT,
                        };
                    } else {
                        self.send_stop(now);
                    }
                    return;
                }
            };
            self.seq += 1;
            let index = self.frames;
            let tag = twilio::tag_b64((index & u64::from(TAG_MAX)) as u32);
            twilio::write_media(
                &mut self.scratch,
                &self.ids.stream_sid,
                self.seq,
                index + 1,
                index * 20,
                &tag,
                body,
            );
            ws::push_frame(&mut self.wbuf, OP_TEXT, &self.scratch);
            self.frames += 1;
            self.frames_since_mark_echo += 1;
            if self.spec.echo {
                self.in_flight
                    .push_back(((index & u64::from(TAG_MAX)) as u32, now));
            }
            let mut t = self.totals.borrow_mut();
            t.frames_sent += 1;
            t.send_lag.record((now - self.next_due).as_micros() as u64);
            drop(t);
            self.next_due += FRAME;
        }
    }

    fn send_stop(&mut self, now: Instant) {
        self.seq += 1;
        twilio::write_stop(&mut self.scratch, &self.ids, self.seq);
        ws::push_frame(&mut self.wbuf, OP_TEXT, &self.scratch);
        ws::push_close(&mut self.wbuf);
        self.sent_stop = true;
        // Twilio sends nothing after `stop`: marks still waiting are never echoed.
        self.pending_marks.clear();
        self.phase = Phase::Closing {
            until: now + CLOSE_TIMEOUT,
        };
    }

    fn send_text_str(&mut self, text: &str) {
        ws::push_frame(&mut self.wbuf, OP_TEXT, text.as_bytes());
    }

    fn flush(&mut self, stream: &TcpStream) -> io::Result<()> {
        while self.wpos < self.wbuf.len() {
            match stream.try_write(&self.wbuf[self.wpos..]) {
                Ok(n) => self.wpos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if self.phase == Phase::Done || self.sent_stop => {
                    // The peer is gone after the end; nothing left to say.
                    let _ = e;
                    self.wbuf.clear();
                    self.wpos = 0;
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
        self.wbuf.clear();
        self.wpos = 0;
        Ok(())
    }
}
