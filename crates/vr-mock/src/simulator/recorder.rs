//! Stereo recording of a simulated call: caller left, agent right, one frame per tick.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use vr_codec::{Frame, WavError, WavWriter, wav::WavLayout};

/// Writes the call as stereo μ-law WAV.
#[derive(Debug)]
pub(crate) struct Recorder {
    path: PathBuf,
    writer: WavWriter<BufWriter<File>>,
    failed: bool,
}

impl Recorder {
    pub(crate) fn create(path: &Path) -> Result<Self, WavError> {
        Ok(Self {
            path: path.to_owned(),
            writer: WavWriter::create(path, WavLayout::Stereo)?,
            failed: false,
        })
    }

    /// Appends one tick: what the caller sent and what the agent played.
    pub(crate) fn write(&mut self, caller: &Frame, agent: &Frame) {
        if self.failed {
            return;
        }
        if let Err(e) = self.writer.write_stereo(caller, agent) {
            tracing::warn!(path = %self.path.display(), "recording stopped: {e}");
            self.failed = true;
        }
    }

    pub(crate) fn finish(mut self) -> Result<PathBuf, WavError> {
        self.writer.finish()?;
        Ok(self.path)
    }
}
