//! 20 ms frames of 8 kHz μ-law audio.

use std::time::Duration;

/// Bytes in one frame: 20 ms of 8 kHz 8-bit μ-law mono.
pub const FRAME_BYTES: usize = 160;

/// Samples per second of telephone audio.
pub const SAMPLE_RATE: u32 = 8000;

/// The duration of one frame.
pub const FRAME_DURATION: Duration = Duration::from_millis(20);

/// The μ-law byte for silence (+0).
pub const MULAW_SILENCE: u8 = 0xFF;

/// One frame of μ-law silence.
pub const SILENCE_FRAME: Frame = [MULAW_SILENCE; FRAME_BYTES];

/// One 20 ms frame of μ-law audio.
pub type Frame = [u8; FRAME_BYTES];

/// Splits a μ-law byte stream into frames, padding a trailing partial frame with
/// [`MULAW_SILENCE`] (B11). An empty input gives no frames.
///
/// ```
/// let frames: Vec<_> = vr_codec::split_frames(&[0u8; 200]).collect();
/// assert_eq!(frames.len(), 2);
/// assert_eq!(frames[1][39], 0);
/// assert_eq!(frames[1][40], 0xFF);
/// ```
pub fn split_frames(bytes: &[u8]) -> impl ExactSizeIterator<Item = Frame> + '_ {
    bytes.chunks(FRAME_BYTES).map(|chunk| {
        let mut frame = SILENCE_FRAME;
        frame[..chunk.len()].copy_from_slice(chunk);
        frame
    })
}

/// The number of whole-or-partial frames `len` bytes split into.
pub const fn frame_count(len: usize) -> usize {
    len.div_ceil(FRAME_BYTES)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn constants() {
        assert_eq!(FRAME_BYTES, 160);
        assert_eq!(FRAME_DURATION, Duration::from_millis(20));
        assert!(SILENCE_FRAME.iter().all(|&b| b == 0xFF));
        assert_eq!(
            FRAME_DURATION.as_secs_f64() * f64::from(SAMPLE_RATE),
            FRAME_BYTES as f64
        );
    }

    #[test]
    fn split_counts() {
        assert_eq!(split_frames(&[]).count(), 0);
        assert_eq!(split_frames(&[1; 160]).count(), 1);
        assert_eq!(split_frames(&[1; 640]).count(), 4);
        let f: Vec<_> = split_frames(&[7; 100]).collect();
        assert_eq!(f.len(), 1);
        assert!(f[0][..100].iter().all(|&b| b == 7));
        assert!(f[0][100..].iter().all(|&b| b == 0xFF));
        assert_eq!(frame_count(161), 2);
    }
}
