//! The WAV error type.

use crate::CodecError;

/// Errors reading or writing WAV files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WavError {
    /// An I/O error from the underlying file or stream.
    #[error("WAV I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The input does not start with a RIFF/WAVE header.
    #[error("not a RIFF/WAVE file")]
    NotWave,
    /// The input ends inside a header or chunk header.
    #[error("truncated WAV: input ends inside the {0}")]
    Truncated(&'static str),
    /// A chunk declares more bytes than the input holds (a truncated file or a lying header).
    #[error("WAV chunk `{chunk}` declares {declared} bytes but only {available} remain")]
    ChunkOverrun {
        /// The chunk id.
        chunk: String,
        /// Size the chunk header declares.
        declared: u64,
        /// Bytes actually present.
        available: u64,
    },
    /// A required chunk is absent.
    #[error("WAV file has no `{0}` chunk")]
    MissingChunk(&'static str),
    /// The `fmt ` chunk is inconsistent or malformed.
    #[error("invalid WAV format chunk: {0}")]
    InvalidFormat(String),
    /// A valid but unsupported encoding.
    #[error("unsupported WAV encoding: format tag {tag:#06x} with {bits} bits per sample")]
    UnsupportedFormat {
        /// The format tag (for `WAVE_FORMAT_EXTENSIBLE`, the sub-format's tag).
        tag: u16,
        /// Bits per sample.
        bits: u16,
    },
    /// The data chunk does not hold a whole number of sample frames.
    #[error("WAV data length {len} is not a multiple of the block size {block_align}")]
    PartialSample {
        /// Data length in bytes.
        len: usize,
        /// Bytes per sample frame.
        block_align: usize,
    },
    /// The input or the recording exceeds the size limit.
    #[error("WAV too large: {0} bytes")]
    TooLarge(u64),
    /// A write does not match the writer's channel layout.
    #[error("WAV writer layout mismatch: {0}")]
    Layout(&'static str),
    /// The writer was already finished.
    #[error("WAV writer already finished")]
    Finished,
    /// A codec or resampling error during conversion.
    #[error(transparent)]
    Codec(#[from] CodecError),
}
