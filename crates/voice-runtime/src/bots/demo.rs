//! The demo bot, exactly as documented so users and tests can rely on it:
//!
//! 1. On connect it says [`GREETING`].
//! 2. For each committed transcript T it says "You said: T".
//! 3. For a DTMF digit d it says "You pressed d".
//! 4. When T contains "goodbye" (any case) it also says [`GOODBYE`] and hangs up once that
//!    utterance's mark has played.
//! 5. Barge-in: a partial or committed transcript while it is speaking clears the playback
//!    and stops the utterance at once.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use vr_session::{CallHandle, SessionEvent, SpeakOutcome, Transcript, TranscriptKind, TtsProvider};
use vr_twilio::server::Bot;

use crate::conversation::{Line, Observer};

/// What the bot says when the call connects.
pub const GREETING: &str = "Hello! Say something and I will repeat it.";
/// What the bot says before hanging up.
pub const GOODBYE: &str = "Goodbye!";

/// The demo bot. One value serves every call.
#[derive(Clone)]
pub struct DemoBot {
    tts: Arc<dyn TtsProvider>,
    observer: Option<Observer>,
}

impl std::fmt::Debug for DemoBot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoBot")
            .field("observer", &self.observer)
            .finish_non_exhaustive()
    }
}

impl DemoBot {
    /// A demo bot speaking through `tts`.
    pub fn new(tts: Arc<dyn TtsProvider>) -> Self {
        Self {
            tts,
            observer: None,
        }
    }

    /// Reports the conversation to `observer`.
    pub fn with_observer(mut self, observer: Observer) -> Self {
        self.observer = Some(observer);
        self
    }
}

impl Bot for DemoBot {
    fn run(&self, call: CallHandle) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        Box::pin(Conversation::new(call, self.tts.clone(), self.observer.clone()).run())
    }
}

struct Say {
    text: String,
    hangup_after: bool,
}

type Speaking = Pin<Box<dyn Future<Output = SpeakOutcome> + Send>>;

struct Conversation {
    call: CallHandle,
    tts: Arc<dyn TtsProvider>,
    observer: Option<Observer>,
    queue: VecDeque<Say>,
    /// Set once "goodbye" was heard: nothing more is queued or interrupted.
    ending: bool,
}

impl Conversation {
    fn new(call: CallHandle, tts: Arc<dyn TtsProvider>, observer: Option<Observer>) -> Self {
        Self {
            call,
            tts,
            observer,
            queue: VecDeque::new(),
            ending: false,
        }
    }

    fn report(&self, line: Line) {
        if let Some(o) = &self.observer {
            o.line(line);
        }
    }

    fn queue(&mut self, text: String, hangup_after: bool) {
        self.queue.push_back(Say { text, hangup_after });
    }

    fn start_next(&mut self) -> Option<(Speaking, bool)> {
        let say = self.queue.pop_front()?;
        self.report(Line::BotSays(say.text.clone()));
        let (call, tts) = (self.call.clone(), self.tts.clone());
        let speaking: Speaking = Box::pin(async move { call.speak(tts.as_ref(), &say.text).await });
        Some((speaking, say.hangup_after))
    }

    async fn run(mut self) {
        let mut events = self.call.events();
        self.queue(GREETING.to_owned(), false);
        let mut current: Option<(Speaking, bool)> = None;
        loop {
            if current.is_none() {
                current = self.start_next();
            }
            tokio::select! {
                event = events.next() => match event {
                    Some(SessionEvent::Transcript(t)) => self.on_transcript(t, current.is_some()),
                    Some(SessionEvent::Dtmf(digit)) if !self.ending => {
                        self.report(Line::CallerPressed(digit.clone()));
                        self.queue(format!("You pressed {digit}"), false);
                    }
                    Some(SessionEvent::Disconnected(_)) | None => break,
                    Some(_) => {}
                },
                (outcome, hangup_after) = finish(&mut current), if current.is_some() => {
                    current = None;
                    if self.on_spoken(&outcome, hangup_after) {
                        break;
                    }
                }
            }
        }
    }

    /// Handles a finished utterance; true when the bot hung up.
    fn on_spoken(&mut self, outcome: &SpeakOutcome, hangup_after: bool) -> bool {
        if outcome.interrupted() {
            self.report(Line::BotInterrupted {
                heard: outcome.heard.clone(),
            });
        }
        if let Some(error) = outcome.error() {
            tracing::warn!(%error, "demo bot: speaking failed");
        }
        if hangup_after {
            self.report(Line::BotHungUp);
            let _ = self.call.hangup();
            return true;
        }
        false
    }

    fn on_transcript(&mut self, t: Transcript, speaking: bool) {
        if self.ending {
            return;
        }
        if speaking || self.call.is_speaking() {
            // Barge-in: the caller talks over the bot; stop at once, drop what was queued.
            let _ = self.call.barge_in();
            self.queue.clear();
        }
        if t.kind == TranscriptKind::Committed {
            if let Some(o) = &self.observer {
                o.caller_said(&t.text);
            }
            self.queue(format!("You said: {}", t.text), false);
            if t.text.to_lowercase().contains("goodbye") {
                self.queue(GOODBYE.to_owned(), true);
                self.ending = true;
            }
        }
    }
}

/// The current utterance's outcome; pending forever when nothing is being said.
async fn finish(current: &mut Option<(Speaking, bool)>) -> (SpeakOutcome, bool) {
    match current {
        Some((speaking, hangup_after)) => (speaking.as_mut().await, *hangup_after),
        None => std::future::pending().await,
    }
}
