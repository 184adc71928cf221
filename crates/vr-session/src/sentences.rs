//! Gathers streamed text pieces into sentences for providers that take whole texts.

/// Splits text arriving in pieces at sentence ends (`.`, `!`, `?`, `…` or a newline followed
/// by whitespace).
#[derive(Debug, Default)]
pub struct SentenceSplitter {
    buffer: String,
}

impl SentenceSplitter {
    /// Adds a piece; returns the sentences it completed, trimmed and non-empty.
    pub fn push(&mut self, piece: &str) -> Vec<String> {
        self.buffer.push_str(piece);
        let mut out = Vec::new();
        while let Some(end) = self.sentence_end() {
            let rest = self.buffer.split_off(end);
            let sentence = std::mem::replace(&mut self.buffer, rest);
            let trimmed = sentence.trim();
            if !trimmed.is_empty() {
                out.push(trimmed.to_owned());
            }
        }
        out
    }

    /// Whatever is left once the stream has ended.
    pub fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.buffer);
        let trimmed = rest.trim();
        (!trimmed.is_empty()).then(|| trimmed.to_owned())
    }

    /// Byte index just past a sentence end that is followed by whitespace.
    fn sentence_end(&self) -> Option<usize> {
        let mut chars = self.buffer.char_indices().peekable();
        while let Some((_, c)) = chars.next() {
            let is_end = matches!(c, '.' | '!' | '?' | '…' | '\n');
            if is_end
                && let Some(&(j, next)) = chars.peek()
                && next.is_whitespace()
            {
                return Some(j);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_sentence_ends_across_pieces() {
        let mut s = SentenceSplitter::default();
        assert!(s.push("Hello the").is_empty());
        assert_eq!(s.push("re. How are"), vec!["Hello there."]);
        assert_eq!(s.push(" you? Fine"), vec!["How are you?"]);
        assert_eq!(s.finish().as_deref(), Some("Fine"));
        assert_eq!(s.finish(), None);
    }

    #[test]
    fn keeps_decimals_together() {
        let mut s = SentenceSplitter::default();
        assert!(s.push("It costs 3.50 euros").is_empty());
        assert_eq!(s.finish().as_deref(), Some("It costs 3.50 euros"));
    }
}
