//! Text-side helpers of the stream-input websocket: cutting generated text into whole-word
//! pieces that end with a space, and working out from alignment (or the speaking-rate
//! estimate) which part of a streamed text the caller heard.

use serde_json::Value;

/// Bytes of 8 kHz μ-law per millisecond.
const BYTES_PER_MS: f64 = 8.0;
/// The speaking-rate estimate used when no alignment arrived (as in `vr-session`): about
/// 60 ms of audio per character.
const BYTES_PER_CHAR_ESTIMATE: u64 = 480;

/// Cuts text arriving in arbitrary pieces (an LLM's tokens) into pieces that end at a word
/// boundary with a single trailing space, as the stream-input protocol asks. A word is held
/// back until the whitespace after it arrives, so no word is ever split by an added space.
#[derive(Debug, Default)]
pub(crate) struct WordChunker {
    pending: String,
}

impl WordChunker {
    /// Adds a piece; returns the text now ready to send, if any.
    pub(crate) fn push(&mut self, piece: &str) -> Option<String> {
        self.pending.push_str(piece);
        let (cut, ws) = self
            .pending
            .char_indices()
            .rev()
            .find(|(_, c)| c.is_whitespace())?;
        let rest = self.pending.split_off(cut + ws.len_utf8());
        let ready = std::mem::replace(&mut self.pending, rest);
        finish_piece(&ready)
    }

    /// A whole text as one piece (trailing whitespace replaced by one space).
    pub(crate) fn whole(text: &str) -> Option<String> {
        finish_piece(text)
    }

    /// The text still held back, once the stream has ended.
    pub(crate) fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.pending);
        finish_piece(&rest)
    }
}

/// Trims trailing whitespace and adds exactly one space; `None` when nothing but whitespace.
fn finish_piece(text: &str) -> Option<String> {
    let body = text.trim_end();
    if body.trim_start().is_empty() {
        return None;
    }
    Some(format!("{body} "))
}

/// Where each spoken character starts in the utterance's audio, from the service's
/// `alignment` objects (either spelling), so a barge-in can say exactly what was heard.
#[derive(Debug, Default)]
pub(crate) struct AlignmentTrack {
    chars: Vec<(u64, String)>,
}

impl AlignmentTrack {
    /// Records the alignment of an audio message that starts at `offset` bytes into the
    /// utterance. Accepts `alignment`, else `normalizedAlignment` / `normalized_alignment`,
    /// with camelCase or snake_case inner fields. Malformed alignment is ignored.
    pub(crate) fn record(&mut self, message: &Value, offset: u64) {
        let Some(a) = ["alignment", "normalizedAlignment", "normalized_alignment"]
            .iter()
            .find_map(|k| message.get(*k).filter(|v| v.is_object()))
        else {
            return;
        };
        let field = |camel: &str, snake: &str| {
            a.get(camel)
                .or_else(|| a.get(snake))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        let chars = field("chars", "chars");
        let starts = field("charStartTimesMs", "char_start_times_ms");
        for (c, start) in chars.iter().zip(starts.iter()) {
            let (Some(c), Some(ms)) = (c.as_str(), start.as_f64()) else {
                continue;
            };
            let at = offset + (ms.max(0.0) * BYTES_PER_MS) as u64;
            self.chars.push((at, c.to_owned()));
        }
    }

    /// Whether any alignment arrived.
    pub(crate) fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The characters that started within the first `heard` bytes, cut back to whole words.
    pub(crate) fn heard(&self, heard: u64) -> String {
        let n = self.chars.iter().take_while(|(at, _)| *at < heard).count();
        let text: String = self.chars[..n].iter().map(|(_, c)| c.as_str()).collect();
        let next_is_boundary = self
            .chars
            .get(n)
            .is_none_or(|(_, c)| c.starts_with(char::is_whitespace));
        let cut = if next_is_boundary || text.ends_with(char::is_whitespace) {
            text.as_str()
        } else {
            text.rfind(char::is_whitespace).map_or("", |i| &text[..i])
        };
        cut.trim().to_owned()
    }
}

/// What the caller heard of `text`, given `heard` of `sent` audio bytes. With alignment the
/// answer is exact; otherwise it is proportional (the same estimate `vr-session` uses), with
/// an unfinished utterance's length estimated from its text.
pub(crate) fn heard_text(
    text: &str,
    align: &AlignmentTrack,
    heard: u64,
    sent: u64,
    complete: bool,
) -> String {
    if heard == 0 {
        return String::new();
    }
    if complete && heard >= sent {
        return text.to_owned();
    }
    if !align.is_empty() {
        return align.heard(heard);
    }
    let chars = text.chars().count() as u64;
    let expected = if complete {
        sent
    } else {
        sent.max(chars * BYTES_PER_CHAR_ESTIMATE)
    };
    if expected == 0 {
        return String::new();
    }
    if heard >= expected {
        return text.to_owned();
    }
    word_prefix(text, (chars * heard / expected) as usize)
}

/// The first `chars` characters of `text`, cut back to the last whole word.
fn word_prefix(text: &str, chars: usize) -> String {
    let end = text
        .char_indices()
        .nth(chars)
        .map_or(text.len(), |(i, _)| i);
    let head = &text[..end];
    let whole = end == text.len() || text[end..].starts_with(char::is_whitespace);
    let cut = if whole {
        head
    } else {
        head.rfind(char::is_whitespace).map_or("", |i| &head[..i])
    };
    cut.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tokens_become_whole_words_ending_in_a_space() {
        let mut c = WordChunker::default();
        assert_eq!(c.push("Hel"), None);
        assert_eq!(c.push("lo"), None);
        assert_eq!(c.push(" wor").as_deref(), Some("Hello "));
        assert_eq!(c.push("ld, how are"), Some("world, how ".to_owned()));
        assert_eq!(c.push(" you?\n"), Some("are you? ".to_owned()));
        assert_eq!(c.push("   "), None);
        assert_eq!(c.push("Fine"), None);
        assert_eq!(c.finish().as_deref(), Some("Fine "));
        assert_eq!(c.finish(), None);
    }

    #[test]
    fn a_whole_text_is_one_piece() {
        let mut c = WordChunker::default();
        assert_eq!(c.push("Hei, mitä kuuluu?"), Some("Hei, mitä ".to_owned()));
        assert_eq!(c.finish().as_deref(), Some("kuuluu? "));
    }

    #[test]
    fn alignment_in_both_spellings() {
        let mut t = AlignmentTrack::default();
        t.record(
            &json!({"audio": "x", "alignment": {"chars": ["H","i"," "], "charStartTimesMs": [0, 50, 100], "charDurationsMs": [50,50,50]}}),
            0,
        );
        t.record(
            &json!({"audio": "x", "normalized_alignment": {"chars": ["y","o","u"], "char_start_times_ms": [0, 50, 100]}}),
            1200,
        );
        assert_eq!(t.heard(0), "");
        assert_eq!(t.heard(300), "");
        assert_eq!(t.heard(401), "Hi");
        assert_eq!(t.heard(1201), "Hi");
        assert_eq!(t.heard(5000), "Hi you");
        let mut none = AlignmentTrack::default();
        none.record(&json!({"audio": "x", "alignment": null}), 0);
        assert!(none.is_empty());
    }

    #[test]
    fn estimates_without_alignment() {
        let none = AlignmentTrack::default();
        let text = "one two three four";
        assert_eq!(heard_text(text, &none, 0, 1000, true), "");
        assert_eq!(heard_text(text, &none, 1000, 1000, true), text);
        assert_eq!(heard_text(text, &none, 500, 1000, true), "one two");
        // Unfinished: 18 chars ≈ 8640 bytes expected although only 1000 were sent.
        assert_eq!(heard_text(text, &none, 1000, 1000, false), "");
        assert_eq!(heard_text(text, &none, 2000, 2000, false), "one");
        assert_eq!(word_prefix("héllo wörld", 6), "héllo");
    }
}
