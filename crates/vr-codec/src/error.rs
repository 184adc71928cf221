//! The codec error type.

/// Errors from the codec, frame, mixing and resampling functions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The caller's output buffer cannot hold the result.
    #[error("output buffer too small: need {needed} elements, have {available}")]
    OutputTooSmall {
        /// Elements the operation needs to write.
        needed: usize,
        /// Elements the buffer has.
        available: usize,
    },
    /// A PCM16 little-endian byte buffer has an odd number of bytes.
    #[error("PCM16 byte buffer has odd length {0}")]
    OddLength(usize),
    /// A frame is shorter than [`FRAME_BYTES`](crate::FRAME_BYTES).
    #[error("frame too short: need {needed} bytes, got {got}")]
    ShortFrame {
        /// Bytes required.
        needed: usize,
        /// Bytes given.
        got: usize,
    },
    /// A sample rate the resampler does not accept (0 or above 768 kHz).
    #[error("unsupported sample rate {0} Hz")]
    UnsupportedRate(u32),
}
