//! Writing G.711 μ-law WAV recordings.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

use super::error::WavError;
use crate::SAMPLE_RATE;

/// Length of the header [`WavWriter`] writes (B15).
pub const HEADER_BYTES: usize = 46;

/// The size fields are rewritten after at most this much audio (and on finish).
pub const HEADER_INTERVAL: Duration = Duration::from_millis(500);

/// Largest data size a RIFF header can describe with our 46-byte header and a pad byte.
const MAX_DATA: u64 = u32::MAX as u64 - 38 - 1;

/// Channel layout of a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WavLayout {
    /// One channel: the mixed call.
    #[default]
    Mono,
    /// Two channels: caller left, agent right.
    Stereo,
}

impl WavLayout {
    /// Number of channels.
    pub const fn channels(self) -> u16 {
        match self {
            Self::Mono => 1,
            Self::Stereo => 2,
        }
    }
}

/// The 46-byte μ-law WAV header (B15) for `channels` channels at 8 kHz and `data_len`
/// bytes of audio: `fmt ` of 18 bytes (format 7, cbSize 0), no `fact` chunk.
pub fn mulaw_header(channels: u16, data_len: u32) -> [u8; HEADER_BYTES] {
    let mut h = [0u8; HEADER_BYTES];
    let block_align = channels;
    let byte_rate = SAMPLE_RATE * u32::from(channels);
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&38u32.saturating_add(data_len).to_le_bytes());
    h[8..12].copy_from_slice(b"WAVE");
    h[12..16].copy_from_slice(b"fmt ");
    h[16..20].copy_from_slice(&18u32.to_le_bytes());
    h[20..22].copy_from_slice(&7u16.to_le_bytes());
    h[22..24].copy_from_slice(&channels.to_le_bytes());
    h[24..28].copy_from_slice(&SAMPLE_RATE.to_le_bytes());
    h[28..32].copy_from_slice(&byte_rate.to_le_bytes());
    h[32..34].copy_from_slice(&block_align.to_le_bytes());
    h[34..36].copy_from_slice(&8u16.to_le_bytes());
    h[36..38].copy_from_slice(&0u16.to_le_bytes());
    h[38..42].copy_from_slice(b"data");
    h[42..46].copy_from_slice(&data_len.to_le_bytes());
    h
}

/// Writes an 8 kHz μ-law WAV, mono or stereo (caller left, agent right).
///
/// The header is written at creation with data size 0 and rewritten after every
/// [`HEADER_INTERVAL`] of audio and on [`finish`](Self::finish), so the file stays playable
/// if the process dies. Dropping an unfinished writer finishes it on a best-effort basis.
///
/// ```
/// use std::io::Cursor;
/// use vr_codec::wav::{WavLayout, WavWriter, parse_wav};
///
/// let mut w = WavWriter::new(Cursor::new(Vec::new()), WavLayout::Stereo)?;
/// w.write_stereo(&[0xFF; 160], &[0x80; 160])?;
/// let bytes = w.into_inner()?.into_inner();
/// let audio = parse_wav(&bytes)?;
/// assert_eq!((audio.channels(), audio.frames()), (2, 160));
/// # Ok::<(), vr_codec::WavError>(())
/// ```
#[derive(Debug)]
pub struct WavWriter<W: Write + Seek> {
    inner: Option<W>,
    layout: WavLayout,
    start: u64,
    data_bytes: u64,
    since_header: u64,
    interval_bytes: u64,
    finished: bool,
}

impl WavWriter<BufWriter<File>> {
    /// Creates (or truncates) the file at `path`, making parent directories as needed.
    ///
    /// # Errors
    /// I/O errors creating the directories or the file.
    pub fn create(path: impl AsRef<Path>, layout: WavLayout) -> Result<Self, WavError> {
        let path = path.as_ref();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        Self::new(BufWriter::new(File::create(path)?), layout)
    }
}

impl<W: Write + Seek> WavWriter<W> {
    /// Starts a recording at the stream's current position by writing the header.
    ///
    /// # Errors
    /// I/O errors.
    pub fn new(mut inner: W, layout: WavLayout) -> Result<Self, WavError> {
        let start = inner.stream_position()?;
        inner.write_all(&mulaw_header(layout.channels(), 0))?;
        inner.flush()?;
        let interval_bytes = interval_bytes(HEADER_INTERVAL, layout);
        Ok(Self {
            inner: Some(inner),
            layout,
            start,
            data_bytes: 0,
            since_header: 0,
            interval_bytes,
            finished: false,
        })
    }

    /// Changes how much audio may pass between header rewrites (at least one sample).
    pub fn set_header_interval(&mut self, interval: Duration) {
        self.interval_bytes = interval_bytes(interval, self.layout);
    }

    /// The channel layout.
    pub fn layout(&self) -> WavLayout {
        self.layout
    }

    /// Bytes of audio written so far.
    pub fn data_bytes(&self) -> u64 {
        self.data_bytes
    }

    /// Playing time written so far.
    pub fn duration(&self) -> Duration {
        let per_second = u64::from(SAMPLE_RATE) * u64::from(self.layout.channels());
        Duration::from_secs_f64(self.data_bytes as f64 / per_second as f64)
    }

    /// Appends mono μ-law bytes.
    ///
    /// # Errors
    /// [`WavError::Layout`] on a stereo writer, [`WavError::Finished`], [`WavError::TooLarge`]
    /// past the RIFF size limit, and I/O errors.
    pub fn write_mono(&mut self, mulaw: &[u8]) -> Result<(), WavError> {
        if self.layout != WavLayout::Mono {
            return Err(WavError::Layout("write_mono on a stereo writer"));
        }
        self.reserve(mulaw.len())?;
        self.io()?.write_all(mulaw)?;
        self.advance(mulaw.len())
    }

    /// Appends one stretch of stereo audio: `caller` goes left, `agent` right.
    ///
    /// # Errors
    /// [`WavError::Layout`] on a mono writer or when the two sides differ in length, and the
    /// errors of [`write_mono`](Self::write_mono).
    pub fn write_stereo(&mut self, caller: &[u8], agent: &[u8]) -> Result<(), WavError> {
        if self.layout != WavLayout::Stereo {
            return Err(WavError::Layout("write_stereo on a mono writer"));
        }
        if caller.len() != agent.len() {
            return Err(WavError::Layout("stereo sides differ in length"));
        }
        let total = caller.len() * 2;
        self.reserve(total)?;
        let mut buf = [0u8; 512];
        for (c, a) in caller.chunks(256).zip(agent.chunks(256)) {
            for ((pair, &l), &r) in buf.chunks_exact_mut(2).zip(c).zip(a) {
                pair[0] = l;
                pair[1] = r;
            }
            self.io()?.write_all(&buf[..c.len() * 2])?;
        }
        self.advance(total)
    }

    /// Rewrites the RIFF and data sizes for what has been written and flushes.
    ///
    /// # Errors
    /// [`WavError::Finished`] and I/O errors.
    pub fn update_header(&mut self) -> Result<(), WavError> {
        let (start, data) = (self.start, self.data_len_u32());
        let w = self.io()?;
        write_sizes(w, start, data, 0)?;
        self.since_header = 0;
        Ok(())
    }

    /// Pads odd-length data, writes the final header and flushes. Later writes fail with
    /// [`WavError::Finished`]; finishing twice is a no-op.
    ///
    /// # Errors
    /// I/O errors.
    pub fn finish(&mut self) -> Result<(), WavError> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        let (start, data) = (self.start, self.data_len_u32());
        let Some(w) = self.inner.as_mut() else {
            return Ok(());
        };
        let pad = u32::from(data % 2 == 1);
        if pad == 1 {
            w.write_all(&[0])?;
        }
        write_sizes(w, start, data, pad)
    }

    /// Finishes the file and returns the underlying stream.
    ///
    /// # Errors
    /// As [`finish`](Self::finish); [`WavError::Finished`] if the stream was already taken.
    pub fn into_inner(mut self) -> Result<W, WavError> {
        self.finish()?;
        self.inner.take().ok_or(WavError::Finished)
    }

    fn io(&mut self) -> Result<&mut W, WavError> {
        if self.finished {
            return Err(WavError::Finished);
        }
        self.inner.as_mut().ok_or(WavError::Finished)
    }

    fn reserve(&self, len: usize) -> Result<(), WavError> {
        let total = self.data_bytes.saturating_add(len as u64);
        if total > MAX_DATA {
            return Err(WavError::TooLarge(total));
        }
        Ok(())
    }

    fn advance(&mut self, len: usize) -> Result<(), WavError> {
        self.data_bytes += len as u64;
        self.since_header += len as u64;
        if self.since_header >= self.interval_bytes {
            self.update_header()?;
        }
        Ok(())
    }

    fn data_len_u32(&self) -> u32 {
        // `reserve` keeps data_bytes <= MAX_DATA < u32::MAX.
        u32::try_from(self.data_bytes).unwrap_or(u32::MAX)
    }
}

impl<W: Write + Seek> Drop for WavWriter<W> {
    fn drop(&mut self) {
        if !self.finished && self.inner.is_some() {
            if let Err(e) = self.finish() {
                tracing::warn!(error = %e, "WAV writer dropped unfinished and could not finalise its header");
            }
        }
    }
}

fn interval_bytes(interval: Duration, layout: WavLayout) -> u64 {
    let per_second = u64::from(SAMPLE_RATE) * u64::from(layout.channels());
    ((interval.as_secs_f64() * per_second as f64) as u64).max(1)
}

/// Writes the RIFF size (`38 + data + pad`) and the data size, then returns to the end.
fn write_sizes<W: Write + Seek>(
    w: &mut W,
    start: u64,
    data: u32,
    pad: u32,
) -> Result<(), WavError> {
    let end = w.stream_position()?;
    let riff = 38u32.saturating_add(data).saturating_add(pad);
    w.seek(SeekFrom::Start(start + 4))?;
    w.write_all(&riff.to_le_bytes())?;
    w.seek(SeekFrom::Start(start + 42))?;
    w.write_all(&data.to_le_bytes())?;
    w.seek(SeekFrom::Start(end))?;
    w.flush()?;
    Ok(())
}
