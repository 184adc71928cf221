//! Taps that copy a call's audio to a recorder or monitor.

use vr_codec::mixer::MixerHandle;

/// Receives copies of a call's audio: caller frames as they arrive, agent frames as they are
/// handed to the transport (the moment they start to play, not when a provider produced them:
/// W30), and a notice when a clear discards unplayed agent audio.
pub trait AudioTap: Send + Sync {
    /// A caller frame.
    fn caller(&self, frame: &[u8]);
    /// An agent frame handed to the transport.
    fn agent(&self, frame: &[u8]);
    /// A clear discarded the agent audio still buffered.
    fn clear_agent(&self);
}

impl AudioTap for MixerHandle {
    fn caller(&self, frame: &[u8]) {
        self.write_caller(frame);
    }
    fn agent(&self, frame: &[u8]) {
        self.write_agent(frame);
    }
    fn clear_agent(&self) {
        MixerHandle::clear_agent(self);
    }
}
