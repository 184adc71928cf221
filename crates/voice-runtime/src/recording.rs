//! `--record DIR`: one stereo WAV per call (caller left, agent right), named by its CallSid;
//! `--monitor` (`VOICE_MONITOR`): every call played live through `ffplay`.
//!
//! The CallSid comes from the peer, so it is validated as a Twilio SID (ASCII letters and
//! digits only, B149) before it names a file: no peer can steer a path. A call without a
//! valid SID is not recorded (a warning says so). Recordings are crash-safe (the header is
//! rewritten as the file grows) and finalised when the call ends; [`Recorder::finish`] waits
//! for every recording still being finalised (server shutdown).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio_util::task::TaskTracker;
use vr_codec::mixer::{FfplaySink, Mixer, MixerHandle, MixerSink, WavSink};
use vr_codec::wav::WavLayout;
use vr_session::{AudioTap, CallHandle, WeakCallHandle};

/// Longest accepted SID (Twilio's are 34 characters).
const MAX_SID_LEN: usize = 64;

/// Records calls into a directory.
#[derive(Debug, Clone)]
pub struct Recorder {
    dir: Option<Arc<PathBuf>>,
    monitor: bool,
    tracker: TaskTracker,
}

impl Recorder {
    /// Records into `dir`, creating it if needed.
    ///
    /// # Errors
    /// When the directory cannot be created.
    pub fn new(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        Self::with_monitor(Some(dir.into()), false)
    }

    /// Records into `dir` (if given) and, with `monitor`, plays every call through `ffplay`
    /// (the original's `VOICE_MONITOR`; a missing `ffplay` is a warning, not a failure).
    ///
    /// # Errors
    /// When the directory cannot be created.
    pub fn with_monitor(dir: Option<PathBuf>, monitor: bool) -> std::io::Result<Self> {
        if let Some(dir) = &dir {
            std::fs::create_dir_all(dir)?;
        }
        Ok(Self {
            dir: dir.map(Arc::new),
            monitor,
            tracker: TaskTracker::new(),
        })
    }

    /// The recording directory.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref().map(PathBuf::as_path)
    }

    /// A tap for `call` (install it with `VoiceSession::set_tap` before the call connects).
    /// The file is opened on the first audio frame, once the call's SID is known.
    pub fn tap_for(&self, call: CallHandle) -> Arc<dyn AudioTap> {
        Arc::new(CallRecording {
            call: call.downgrade(),
            recorder: self.clone(),
            mixer: OnceLock::new(),
        })
    }

    /// Waits, up to `timeout`, for every recording still being finalised.
    pub async fn finish(&self, timeout: Duration) -> bool {
        self.tracker.close();
        tokio::time::timeout(timeout, self.tracker.wait())
            .await
            .is_ok()
    }
}

/// Whether `sid` may name a file (B149: non-empty ASCII letters and digits).
pub fn is_safe_sid(sid: &str) -> bool {
    !sid.is_empty() && sid.len() <= MAX_SID_LEN && sid.bytes().all(|b| b.is_ascii_alphanumeric())
}

struct CallRecording {
    /// Weak: the tap lives in the call it records.
    call: WeakCallHandle,
    recorder: Recorder,
    mixer: OnceLock<Option<MixerHandle>>,
}

impl CallRecording {
    fn mixer(&self) -> Option<&MixerHandle> {
        self.mixer.get_or_init(|| self.open()).as_ref()
    }

    fn open(&self) -> Option<MixerHandle> {
        let call = self.call.upgrade()?;
        let info = call.info()?;
        let mut sinks: Vec<Box<dyn MixerSink>> = Vec::new();
        let mut path = None;
        if let Some(dir) = &self.recorder.dir {
            match info.call_sid.as_deref().filter(|s| is_safe_sid(s)) {
                None => tracing::warn!(
                    stream_sid = %info.stream_sid,
                    "not recording: the call has no valid CallSid (ASCII letters and digits only)"
                ),
                Some(sid) => {
                    let file = unique_path(dir, sid);
                    match WavSink::create(&file, WavLayout::Stereo) {
                        Ok(sink) => {
                            sinks.push(Box::new(sink));
                            path = Some(file);
                        }
                        Err(error) => {
                            tracing::warn!(%error, path = %file.display(), "cannot create the recording")
                        }
                    }
                }
            }
        }
        if self.recorder.monitor {
            match FfplaySink::spawn() {
                Ok(sink) => sinks.push(Box::new(sink)),
                Err(error) => tracing::warn!(%error, "cannot monitor the call"),
            }
        }
        if sinks.is_empty() {
            return None;
        }
        let path = path.map_or_else(|| "(monitor only)".to_owned(), |p| p.display().to_string());
        let mixer = match Mixer::start(sinks) {
            Ok(mixer) => mixer,
            Err(error) => {
                tracing::warn!(%error, "cannot start the recording mixer");
                return None;
            }
        };
        tracing::info!(path = %path, "recording the call");
        let finishing = mixer.clone();
        self.recorder.tracker.spawn(async move {
            call.wait_disconnected().await;
            finishing.shutdown().await;
            tracing::info!(path = %path, "recording finished");
        });
        Some(mixer)
    }
}

/// `{dir}/{sid}.wav`, or `{sid}-2.wav`, … when a file of that name exists already.
fn unique_path(dir: &Path, sid: &str) -> PathBuf {
    let first = dir.join(format!("{sid}.wav"));
    if !first.exists() {
        return first;
    }
    (2..)
        .map(|n| dir.join(format!("{sid}-{n}.wav")))
        .find(|p| !p.exists())
        .unwrap_or(first)
}

impl AudioTap for CallRecording {
    fn caller(&self, frame: &[u8]) {
        if let Some(m) = self.mixer() {
            m.write_caller(frame);
        }
    }
    fn agent(&self, frame: &[u8]) {
        if let Some(m) = self.mixer() {
            m.write_agent(frame);
        }
    }
    fn clear_agent(&self) {
        if let Some(Some(m)) = self.mixer.get() {
            m.clear_agent();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_sids_name_files() {
        assert!(is_safe_sid("CA0123456789abcdef0123456789abcdef"));
        assert!(is_safe_sid("CAMOCK0a1b2c3d"));
        for bad in [
            "",
            "../etc/passwd",
            "CA/1",
            "CA\\1",
            "CA 1",
            "CA.wav",
            "ÅC1",
            "CAMOCK_1",
        ] {
            assert!(!is_safe_sid(bad), "{bad:?}");
        }
        assert!(!is_safe_sid(&"C".repeat(65)));
    }
}
