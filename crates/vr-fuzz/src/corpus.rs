//! The fuzz targets by name, and replaying a corpus directory through one of them.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

/// One fuzz target; its [`name`](Self::name) is the cargo-fuzz target and corpus directory name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// [`crate::media_streams`].
    MediaStreams,
    /// [`crate::webhook`].
    Webhook,
    /// [`crate::codec`].
    Codec,
    /// [`crate::wav`].
    Wav,
}

impl Target {
    /// Every target.
    pub const ALL: [Target; 4] = [
        Target::MediaStreams,
        Target::Webhook,
        Target::Codec,
        Target::Wav,
    ];

    /// The cargo-fuzz target name, e.g. `media_streams`.
    pub const fn name(self) -> &'static str {
        match self {
            Target::MediaStreams => "media_streams",
            Target::Webhook => "webhook",
            Target::Codec => "codec",
            Target::Wav => "wav",
        }
    }

    /// The target called `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Runs the target's harness on `data` (panics when an invariant breaks).
    pub fn run(self, data: &[u8]) {
        match self {
            Target::MediaStreams => crate::media_streams(data),
            Target::Webhook => crate::webhook(data),
            Target::Codec => crate::codec(data),
            Target::Wav => crate::wav(data),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a corpus replay failed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The directory or one of its files could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// One or more inputs broke an invariant (the harness panicked).
    #[error("{} input(s) failed: {}", .0.len(), describe(.0))]
    Failed(Vec<(PathBuf, String)>),
}

fn describe(failures: &[(PathBuf, String)]) -> String {
    failures
        .iter()
        .map(|(path, message)| format!("{} ({message})", path.display()))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Runs every file in `dir` (sorted by name, hidden files skipped, no recursion) through
/// `target` and returns how many files ran. Every file runs even after a failure, and the
/// error lists each failing file with its panic message.
///
/// # Errors
/// [`ReplayError::Io`] when `dir` or a file in it cannot be read, [`ReplayError::Failed`] when
/// any input panicked.
pub fn replay_corpus(target: Target, dir: &Path) -> Result<usize, ReplayError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReplayError::Io { path, source }
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if !hidden && entry.file_type().map_err(io(&entry.path()))?.is_file() {
            files.push(entry.path());
        }
    }
    files.sort();
    let mut failures = Vec::new();
    for path in &files {
        let data = std::fs::read(path).map_err(io(path))?;
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| target.run(&data))) {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "non-string panic".to_owned());
            failures.push((path.clone(), message));
        }
    }
    if failures.is_empty() {
        Ok(files.len())
    } else {
        Err(ReplayError::Failed(failures))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in Target::ALL {
            assert_eq!(Target::from_name(t.name()), Some(t));
            assert_eq!(t.to_string(), t.name());
        }
        assert_eq!(Target::from_name("nope"), None);
    }

    #[test]
    fn missing_dir_is_an_io_error() {
        let err = replay_corpus(Target::Codec, Path::new("/nonexistent/vr-fuzz")).unwrap_err();
        assert!(matches!(err, ReplayError::Io { .. }), "{err}");
    }
}
