//! Mark names, outcomes and waiters.

use std::time::Duration;

use rand::Rng;
use tokio::sync::oneshot;

/// How long a TTS utterance waits for its closing mark (the original's 30 s).
pub const TTS_MARK_TIMEOUT: Duration = Duration::from_secs(30);

/// Default wait for [`PendingMark::wait`] callers that have no better figure (the original's 10 s).
pub const DEFAULT_MARK_TIMEOUT: Duration = Duration::from_secs(10);

/// How a mark resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MarkOutcome {
    /// The transport echoed it: everything queued before it has played.
    Played,
    /// A clear discarded the audio before it (an echo after a clear is not proof of playback).
    Cleared,
    /// The call ended first (reported at once, not after the timeout: W2).
    Disconnected,
    /// No echo within the timeout while the call was up.
    TimedOut,
}

impl MarkOutcome {
    /// A short lower-case label for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Played => "played",
            Self::Cleared => "cleared",
            Self::Disconnected => "disconnected",
            Self::TimedOut => "timed_out",
        }
    }
}

/// The wire name for a mark: `{name}__{8 lowercase hex}` (B27), redrawn on collision.
pub fn unique_wire_name(name: &str, taken: impl Fn(&str) -> bool) -> String {
    let mut rng = rand::thread_rng();
    loop {
        let suffix: u32 = rng.r#gen();
        let candidate = format!("{name}__{suffix:08x}");
        if !taken(&candidate) {
            return candidate;
        }
    }
}

/// The logical name a wire name was made from (`a__0badf00d` → `a`).
pub fn logical_name(wire_name: &str) -> &str {
    match wire_name.rsplit_once("__") {
        Some((name, suffix))
            if suffix.len() == 8 && suffix.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            name
        }
        _ => wire_name,
    }
}

/// A mark that has been queued and not yet resolved.
pub struct PendingMark {
    pub(crate) name: String,
    pub(crate) wire_name: String,
    pub(crate) rx: oneshot::Receiver<MarkOutcome>,
    pub(crate) on_timeout: Option<Box<dyn FnOnce() + Send>>,
}

impl std::fmt::Debug for PendingMark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingMark")
            .field("name", &self.name)
            .field("wire_name", &self.wire_name)
            .finish_non_exhaustive()
    }
}

impl PendingMark {
    /// The name the bot gave.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The unique name sent on the wire.
    pub fn wire_name(&self) -> &str {
        &self.wire_name
    }

    /// Waits for the mark to resolve, at most `timeout`.
    pub async fn wait(mut self, timeout: Duration) -> MarkOutcome {
        match tokio::time::timeout(timeout, &mut self.rx).await {
            Ok(Ok(outcome)) => outcome,
            // The call's state was dropped: the call is over.
            Ok(Err(_)) => MarkOutcome::Disconnected,
            Err(_) => {
                if let Some(hook) = self.on_timeout.take() {
                    hook();
                }
                // The call may have resolved it in the same instant.
                match self.rx.try_recv() {
                    Ok(outcome) => outcome,
                    Err(_) => MarkOutcome::TimedOut,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_follow_b27() {
        let name = unique_wire_name("tts_complete", |_| false);
        let (prefix, suffix) = name.rsplit_once("__").expect("two underscores");
        assert_eq!(prefix, "tts_complete");
        assert_eq!(suffix.len(), 8);
        assert!(
            suffix
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert_eq!(logical_name(&name), "tts_complete");
    }

    #[test]
    fn collisions_are_redrawn() {
        let first = unique_wire_name("m", |_| false);
        let second = unique_wire_name("m", |c| c == first);
        assert_ne!(first, second);
    }
}
