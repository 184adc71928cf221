//! A mixer sink that records the call to a μ-law WAV file.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use super::core::MixedFrame;
use super::sink::{MixerSink, SinkError};
use crate::wav::{WavLayout, WavWriter};

/// Records the call: mono (the mix) or stereo (caller left, agent right, silence on a side
/// whose FIFO was empty). The header is kept current while recording (see [`WavWriter`]).
#[derive(Debug)]
pub struct WavSink {
    writer: WavWriter<BufWriter<File>>,
    path: PathBuf,
}

impl WavSink {
    /// Creates the file (and its parent directories) and writes the header (B15).
    ///
    /// # Errors
    /// [`SinkError::Wav`] when the file cannot be created.
    pub fn create(path: impl AsRef<Path>, layout: WavLayout) -> Result<Self, SinkError> {
        let path = path.as_ref().to_path_buf();
        let writer = WavWriter::create(&path, layout)?;
        Ok(Self { writer, path })
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl MixerSink for WavSink {
    fn write(&mut self, frame: &MixedFrame) -> Result<(), SinkError> {
        match self.writer.layout() {
            WavLayout::Mono => self.writer.write_mono(&frame.mono)?,
            WavLayout::Stereo => self
                .writer
                .write_stereo(frame.caller_or_silence(), frame.agent_or_silence())?,
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        self.writer.finish()?;
        tracing::info!(
            path = %self.path.display(),
            duration_s = self.writer.duration().as_secs_f64(),
            "recording saved"
        );
        Ok(())
    }

    fn name(&self) -> &str {
        "wav"
    }
}
