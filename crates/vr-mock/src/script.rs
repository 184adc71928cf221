//! Scripted lines for [`MockStt`](crate::MockStt)'s script mode: one line per speech segment.
//!
//! A script comes from code ([`Script::from_lines`]) or a text file ([`Script::from_file`]):
//! one line per entry, blank lines skipped, lines starting with `#` are comments.

use std::collections::VecDeque;
use std::path::Path;

/// An ordered list of lines to commit, consumed from the front.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Script {
    lines: VecDeque<String>,
}

impl Script {
    /// A script of the given lines, in order (blank lines are skipped; no comment handling).
    pub fn from_lines<I, S>(lines: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            lines: lines
                .into_iter()
                .map(Into::into)
                .filter(|l| !l.trim().is_empty())
                .collect(),
        }
    }

    /// Parses script text: one line per entry, trimmed, blank lines and `#` comments skipped.
    pub fn parse(text: &str) -> Self {
        Self {
            lines: text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned)
                .collect(),
        }
    }

    /// Reads and parses a script file (see [`Script::parse`]).
    ///
    /// # Errors
    /// I/O errors reading the file, and files that are not UTF-8.
    pub fn from_file(path: impl AsRef<Path>) -> std::io::Result<Self> {
        Ok(Self::parse(&std::fs::read_to_string(path)?))
    }

    /// Takes the next line, if any is left.
    pub fn next_line(&mut self) -> Option<String> {
        self.lines.pop_front()
    }

    /// The next line, without taking it.
    pub fn peek(&self) -> Option<&str> {
        self.lines.front().map(String::as_str)
    }

    /// Lines not yet committed.
    pub fn remaining(&self) -> usize {
        self.lines.len()
    }

    /// Whether every line has been used.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_skips_comments_and_blank_lines() {
        let mut s = Script::parse("# greeting\n hello there \n\n#x\nbye\n");
        assert_eq!(s.remaining(), 2);
        assert_eq!(s.next_line().as_deref(), Some("hello there"));
        assert_eq!(s.next_line().as_deref(), Some("bye"));
        assert!(s.next_line().is_none());
        assert!(s.is_empty());
    }

    #[test]
    fn from_lines_keeps_order() {
        let mut s = Script::from_lines(["a", " ", "b"]);
        assert_eq!(s.next_line().as_deref(), Some("a"));
        assert_eq!(s.next_line().as_deref(), Some("b"));
    }
}
