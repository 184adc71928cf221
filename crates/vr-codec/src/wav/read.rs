//! Parsing RIFF/WAVE files.

use std::io::Read;
use std::path::Path;

use super::audio::{SampleFormat, Samples, WavAudio};
use super::error::WavError;

/// Largest WAV input accepted by [`read_wav`] and [`read_wav_file`] (1 GiB).
pub const MAX_WAV_BYTES: u64 = 1 << 30;

/// Data chunk size written by streaming writers that cannot seek back: "until the end".
const STREAMING_SIZE: u32 = u32::MAX;

/// The tail shared by every `KSDATAFORMAT_SUBTYPE_*` GUID after its leading format tag.
const GUID_TAIL: [u8; 14] = [
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
];

/// Reads and parses a WAV file.
///
/// # Errors
/// I/O errors, inputs over [`MAX_WAV_BYTES`], and everything [`parse_wav`] rejects.
pub fn read_wav_file(path: impl AsRef<Path>) -> Result<WavAudio, WavError> {
    read_wav(std::fs::File::open(path)?)
}

/// Reads a whole WAV stream into memory and parses it.
///
/// # Errors
/// I/O errors, inputs over [`MAX_WAV_BYTES`], and everything [`parse_wav`] rejects.
pub fn read_wav<R: Read>(reader: R) -> Result<WavAudio, WavError> {
    let mut bytes = Vec::new();
    reader.take(MAX_WAV_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_WAV_BYTES {
        return Err(WavError::TooLarge(bytes.len() as u64));
    }
    parse_wav(&bytes)
}

/// Parses a WAV file held in memory.
///
/// Unknown chunks (`LIST`, `fact`, `cue `, …) are skipped, odd-sized chunks are followed by
/// their pad byte, and a data size of `0xFFFFFFFF` (written by streaming encoders) means
/// "to the end of the input". Any other size that runs past the end is an error.
///
/// # Errors
/// A typed [`WavError`] for anything that is not a well-formed, supported WAV file.
pub fn parse_wav(bytes: &[u8]) -> Result<WavAudio, WavError> {
    if bytes.len() < 12 {
        return Err(if bytes.len() >= 4 && &bytes[..4] != b"RIFF" {
            WavError::NotWave
        } else {
            WavError::Truncated("RIFF header")
        });
    }
    if &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(WavError::NotWave);
    }
    let mut fmt: Option<Fmt> = None;
    let mut data: Option<&[u8]> = None;
    let mut pos = 12usize;
    while fmt.is_none() || data.is_none() {
        let remaining = bytes.len() - pos;
        if remaining == 0 {
            break;
        }
        if remaining < 8 {
            return Err(WavError::Truncated("chunk header"));
        }
        let id = &bytes[pos..pos + 4];
        let size = u32_at(bytes, pos + 4);
        let body_start = pos + 8;
        let available = bytes.len() - body_start;
        let len = if id == b"data" && size == STREAMING_SIZE {
            available
        } else if size as usize > available {
            return Err(WavError::ChunkOverrun {
                chunk: String::from_utf8_lossy(id).into_owned(),
                declared: u64::from(size),
                available: available as u64,
            });
        } else {
            size as usize
        };
        let body = &bytes[body_start..body_start + len];
        match id {
            b"fmt " if fmt.is_none() => fmt = Some(parse_fmt(body)?),
            b"data" if data.is_none() => data = Some(body),
            _ => {}
        }
        // Skip the body and its pad byte (if present; a missing final pad is tolerated).
        pos = (body_start + len + (len & 1)).min(bytes.len());
    }
    let fmt = fmt.ok_or(WavError::MissingChunk("fmt "))?;
    let data = data.ok_or(WavError::MissingChunk("data"))?;
    let block_align = usize::from(fmt.block_align);
    if data.len() % block_align != 0 {
        return Err(WavError::PartialSample {
            len: data.len(),
            block_align,
        });
    }
    Ok(WavAudio::from_parts(
        fmt.sample_rate,
        fmt.channels,
        fmt.format,
        decode_samples(fmt.format, data),
    ))
}

#[derive(Debug, Clone, Copy)]
struct Fmt {
    format: SampleFormat,
    channels: u16,
    sample_rate: u32,
    block_align: u16,
}

fn parse_fmt(body: &[u8]) -> Result<Fmt, WavError> {
    if body.len() < 16 {
        return Err(WavError::InvalidFormat(format!(
            "fmt chunk is {} bytes, needs at least 16",
            body.len()
        )));
    }
    let mut tag = u16_at(body, 0);
    let channels = u16_at(body, 2);
    let sample_rate = u32_at(body, 4);
    let block_align = u16_at(body, 12);
    let bits = u16_at(body, 14);
    if tag == 0xFFFE {
        // WAVE_FORMAT_EXTENSIBLE: cbSize (2), valid bits (2), channel mask (4), GUID (16).
        if body.len() < 40 {
            return Err(WavError::InvalidFormat(format!(
                "extensible fmt chunk is {} bytes, needs 40",
                body.len()
            )));
        }
        let guid = &body[24..40];
        if guid[2..] != GUID_TAIL {
            return Err(WavError::UnsupportedFormat { tag, bits });
        }
        tag = u16_at(guid, 0);
    }
    if channels == 0 {
        return Err(WavError::InvalidFormat("0 channels".into()));
    }
    if sample_rate == 0 {
        return Err(WavError::InvalidFormat("sample rate 0".into()));
    }
    let format = match (tag, bits) {
        (1, 8) => SampleFormat::PcmU8,
        (1, 16) => SampleFormat::Pcm16,
        (1, 24) => SampleFormat::Pcm24,
        (1, 32) => SampleFormat::Pcm32,
        (3, 32) => SampleFormat::Float32,
        (6, 8) => SampleFormat::Alaw,
        (7, 8) => SampleFormat::Mulaw,
        _ => return Err(WavError::UnsupportedFormat { tag, bits }),
    };
    let expected = u32::from(channels) * u32::from(bits / 8);
    if u32::from(block_align) != expected {
        return Err(WavError::InvalidFormat(format!(
            "block align {block_align} does not match {channels} channel(s) of {bits} bits"
        )));
    }
    Ok(Fmt {
        format,
        channels,
        sample_rate,
        block_align,
    })
}

fn decode_samples(format: SampleFormat, data: &[u8]) -> Samples {
    match format {
        SampleFormat::Mulaw => Samples::Mulaw(data.to_vec()),
        SampleFormat::Alaw => Samples::Alaw(data.to_vec()),
        SampleFormat::PcmU8 => {
            Samples::Linear(data.iter().map(|&b| (i16::from(b) - 128) << 8).collect())
        }
        SampleFormat::Pcm16 => Samples::Linear(
            data.chunks_exact(2)
                .map(|c| i16::from_le_bytes([c[0], c[1]]))
                .collect(),
        ),
        // Keep the top 16 bits of wider integer samples.
        SampleFormat::Pcm24 => Samples::Linear(
            data.chunks_exact(3)
                .map(|c| i16::from_le_bytes([c[1], c[2]]))
                .collect(),
        ),
        SampleFormat::Pcm32 => Samples::Linear(
            data.chunks_exact(4)
                .map(|c| i16::from_le_bytes([c[2], c[3]]))
                .collect(),
        ),
        SampleFormat::Float32 => Samples::Linear(
            data.chunks_exact(4)
                .map(|c| {
                    let x = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                    let x = if x.is_nan() { 0.0 } else { x };
                    // Clamped into range; `as` from f32 saturates anyway.
                    (x * 32767.0).round().clamp(-32768.0, 32767.0) as i16
                })
                .collect(),
        ),
    }
}

/// Callers guarantee `at + 2 <= bytes.len()`.
fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

/// Callers guarantee `at + 4 <= bytes.len()`.
fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}
