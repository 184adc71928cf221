//! `wav`: a hostile WAV file (a prompt or hold-music file, or a provider's WAV output) through
//! `vr_codec::wav::parse_wav` and, when it parses, the conversion to call-ready frames.
//!
//! Checked: parsing never panics and `read_wav` agrees with `parse_wav`; a parsed file's
//! sample counts fit the input and agree between the accessors; conversion to 8 kHz μ-law
//! gives exactly `ceil(frames * 8000 / rate)` bytes (the μ-law bytes themselves for an 8 kHz
//! mono μ-law file), split into silence-padded 160-byte frames, or refuses the rate the
//! resampler documents it refuses; and μ-law audio written back with `WavWriter` parses to
//! the same bytes.

use std::io::Cursor;

use vr_codec::resample::{MAX_DECIMATION, MAX_RATE};
use vr_codec::wav::{SampleFormat, WavLayout, WavWriter, parse_wav, read_wav};
use vr_codec::{CodecError, FRAME_BYTES, MULAW_SILENCE, SAMPLE_RATE, WavAudio, WavError};

/// Conversions producing more than this many bytes are skipped, so one input cannot take
/// seconds (a 1 Hz file of a few kilobytes resamples into megabytes).
const MAX_CONVERTED_BYTES: u64 = 1 << 16;

/// Runs the `wav` target on `data`.
pub fn wav(data: &[u8]) {
    let parsed = parse_wav(data);
    match (&parsed, read_wav(Cursor::new(data))) {
        (Ok(a), Ok(b)) => assert_eq!(a, &b, "read_wav and parse_wav disagree"),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        (a, b) => panic!("read_wav and parse_wav disagree: {a:?} vs {b:?}"),
    }
    let Ok(audio) = parsed else {
        return;
    };
    check_shape(&audio, data.len());
    check_conversion(&audio);
    if let Some(bytes) = audio.mulaw_bytes() {
        check_rewrite(bytes, audio.channels());
    }
}

fn bytes_per_sample(format: SampleFormat) -> usize {
    match format {
        SampleFormat::PcmU8 | SampleFormat::Mulaw | SampleFormat::Alaw => 1,
        SampleFormat::Pcm16 => 2,
        SampleFormat::Pcm24 => 3,
        _ => 4,
    }
}

fn check_shape(audio: &WavAudio, input_len: usize) {
    let channels = usize::from(audio.channels());
    assert!(channels >= 1 && audio.sample_rate() >= 1);
    let total = audio.frames() * channels;
    assert!(
        total * bytes_per_sample(audio.format()) <= input_len,
        "{total} samples from {input_len} bytes"
    );
    assert_eq!(audio.to_pcm16().len(), total);
    assert_eq!(audio.to_mono_pcm16().len(), audio.frames());
    assert_eq!(
        audio.mulaw_bytes().map(<[u8]>::len),
        (audio.format() == SampleFormat::Mulaw).then_some(total)
    );
    let seconds = audio.frames() as f64 / f64::from(audio.sample_rate());
    assert!((audio.duration().as_secs_f64() - seconds).abs() < 1e-6);
}

fn check_conversion(audio: &WavAudio) {
    let rate = audio.sample_rate();
    if rate > MAX_RATE || rate / SAMPLE_RATE > MAX_DECIMATION {
        match audio.to_mulaw_8k_frames() {
            Err(WavError::Codec(CodecError::UnsupportedRate(r))) => assert_eq!(r, rate),
            other => panic!("{rate} Hz was not refused: {other:?}"),
        }
        return;
    }
    let frames = audio.frames() as u64;
    let expected = (frames * u64::from(SAMPLE_RATE)).div_ceil(u64::from(rate));
    if expected > MAX_CONVERTED_BYTES {
        return;
    }
    let bytes = match audio.to_mulaw_8k() {
        Ok(bytes) => bytes,
        Err(e) => panic!("cannot convert {rate} Hz: {e}"),
    };
    assert_eq!(
        bytes.len() as u64,
        expected,
        "converted length at {rate} Hz"
    );
    if audio.channels() == 1 && rate == SAMPLE_RATE {
        if let Some(raw) = audio.mulaw_bytes() {
            assert_eq!(bytes, raw, "8 kHz mono μ-law must pass through");
        }
    }
    let framed = match audio.to_mulaw_8k_frames() {
        Ok(framed) => framed,
        Err(e) => panic!("frames failed where bytes did not: {e}"),
    };
    assert_eq!(framed.len(), bytes.len().div_ceil(FRAME_BYTES));
    let joined: Vec<u8> = framed.iter().flatten().copied().collect();
    assert_eq!(&joined[..bytes.len()], bytes.as_slice());
    assert!(joined[bytes.len()..].iter().all(|&b| b == MULAW_SILENCE));
}

/// μ-law audio written back out by the recorder's writer reads back unchanged.
fn check_rewrite(bytes: &[u8], channels: u16) {
    let layout = match channels {
        1 => WavLayout::Mono,
        2 => WavLayout::Stereo,
        _ => return,
    };
    let written = (|| {
        let mut writer = WavWriter::new(Cursor::new(Vec::new()), layout)?;
        match layout {
            WavLayout::Mono => writer.write_mono(bytes)?,
            WavLayout::Stereo => {
                let left: Vec<u8> = bytes.iter().step_by(2).copied().collect();
                let right: Vec<u8> = bytes.iter().skip(1).step_by(2).copied().collect();
                writer.write_stereo(&left, &right)?;
            }
        }
        Ok::<_, WavError>(writer.into_inner()?.into_inner())
    })();
    let file = match written {
        Ok(file) => file,
        Err(e) => panic!("cannot write {} bytes back: {e}", bytes.len()),
    };
    let back = match parse_wav(&file) {
        Ok(back) => back,
        Err(e) => panic!("our own WAV does not parse: {e}"),
    };
    assert_eq!(back.channels(), channels);
    assert_eq!(back.sample_rate(), SAMPLE_RATE);
    assert_eq!(back.mulaw_bytes(), Some(bytes), "rewritten audio differs");
}

#[cfg(test)]
mod tests {
    use super::*;
    use vr_codec::wav::mulaw_header;

    #[test]
    fn own_files_and_garbage_pass() {
        let mut file = mulaw_header(1, 5).to_vec();
        file.extend_from_slice(&[0xFF, 0x7F, 0x00, 0x80, 0x12, 0x00]);
        wav(&file);
        let mut stereo = mulaw_header(2, 4).to_vec();
        stereo.extend_from_slice(&[1, 2, 3, 4]);
        wav(&stereo);
        wav(b"");
        wav(b"RIFF\0\0\0\0WAVE");
        wav(&file[..30]);
    }
}
