//! WAV writing (B15 header, stereo, crash safety) and reading (formats, assets, bad input).
#![allow(clippy::unwrap_used)]

use std::io::Cursor;
use std::path::PathBuf;

use vr_codec::wav::{
    HEADER_BYTES, SampleFormat, WavError, WavLayout, WavWriter, mulaw_header, parse_wav, read_wav,
    read_wav_file,
};
use vr_codec::{FRAME_BYTES, SILENCE_FRAME, alaw, mulaw};

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir()
        .join(format!("vr-codec-wav-{}", std::process::id()))
        .join(name)
}

/// Builds a WAV file from parts: fmt fields, optional extra chunks before `data`.
fn wav_bytes(
    tag: u16,
    channels: u16,
    rate: u32,
    bits: u16,
    data: &[u8],
    extra: &[(&[u8; 4], &[u8])],
) -> Vec<u8> {
    let block = channels * (bits / 8);
    let mut fmt = Vec::new();
    fmt.extend(tag.to_le_bytes());
    fmt.extend(channels.to_le_bytes());
    fmt.extend(rate.to_le_bytes());
    fmt.extend((rate * u32::from(block)).to_le_bytes());
    fmt.extend(block.to_le_bytes());
    fmt.extend(bits.to_le_bytes());
    let mut body = b"WAVE".to_vec();
    let mut chunk = |id: &[u8; 4], payload: &[u8]| {
        body.extend(id);
        body.extend((payload.len() as u32).to_le_bytes());
        body.extend(payload);
        if payload.len() % 2 == 1 {
            body.push(0);
        }
    };
    chunk(b"fmt ", &fmt);
    for (id, payload) in extra {
        chunk(id, payload);
    }
    chunk(b"data", data);
    let mut out = b"RIFF".to_vec();
    out.extend((body.len() as u32).to_le_bytes());
    out.extend(body);
    out
}

fn pcm16_le(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

// ---- writing ----

#[test]
fn b15_header_bytes_exactly() {
    let h = mulaw_header(1, 1234);
    let mut expected = Vec::new();
    expected.extend(b"RIFF");
    expected.extend((38u32 + 1234).to_le_bytes());
    expected.extend(b"WAVEfmt ");
    expected.extend(18u32.to_le_bytes());
    expected.extend(7u16.to_le_bytes());
    expected.extend(1u16.to_le_bytes());
    expected.extend(8000u32.to_le_bytes());
    expected.extend(8000u32.to_le_bytes());
    expected.extend(1u16.to_le_bytes());
    expected.extend(8u16.to_le_bytes());
    expected.extend(0u16.to_le_bytes());
    expected.extend(b"data");
    expected.extend(1234u32.to_le_bytes());
    assert_eq!(HEADER_BYTES, 46);
    assert_eq!(h.to_vec(), expected);

    let s = mulaw_header(2, 0);
    assert_eq!(&s[22..24], &2u16.to_le_bytes());
    assert_eq!(&s[28..32], &16000u32.to_le_bytes());
    assert_eq!(&s[32..34], &2u16.to_le_bytes());
}

#[test]
fn writer_starts_with_zero_size_header_and_finishes_with_real_size() {
    let mut w = WavWriter::new(Cursor::new(Vec::new()), WavLayout::Mono).unwrap();
    w.write_mono(&[0x80; 320]).unwrap();
    assert_eq!(w.data_bytes(), 320);
    let bytes = w.into_inner().unwrap().into_inner();
    assert_eq!(bytes.len(), 46 + 320);
    assert_eq!(bytes[..46], mulaw_header(1, 320));

    let fresh = WavWriter::new(Cursor::new(Vec::new()), WavLayout::Mono).unwrap();
    let bytes = fresh.into_inner().unwrap().into_inner();
    assert_eq!(bytes, mulaw_header(1, 0));
}

#[test]
fn mono_file_round_trip_creates_parent_dirs() {
    let path = temp_path("nested/dir/mono.wav");
    let _ = std::fs::remove_dir_all(temp_path("nested"));
    let audio: Vec<u8> = (0..FRAME_BYTES * 10).map(|i| (i % 251) as u8).collect();
    let mut w = WavWriter::create(&path, WavLayout::Mono).unwrap();
    for frame in audio.chunks(FRAME_BYTES) {
        w.write_mono(frame).unwrap();
    }
    w.finish().unwrap();
    assert!((w.duration().as_secs_f64() - 0.2).abs() < 1e-9);
    assert!(matches!(w.write_mono(&[0]), Err(WavError::Finished)));
    w.finish().unwrap();
    drop(w);
    let read = read_wav_file(&path).unwrap();
    assert_eq!(read.format(), SampleFormat::Mulaw);
    assert_eq!((read.channels(), read.sample_rate()), (1, 8000));
    assert_eq!(read.mulaw_bytes().unwrap(), &audio[..]);
    assert_eq!(read.to_mulaw_8k().unwrap(), audio);
}

#[test]
fn stereo_round_trip_caller_left_agent_right() {
    let caller: Vec<u8> = (0..FRAME_BYTES).map(|i| i as u8).collect();
    let agent: Vec<u8> = (0..FRAME_BYTES).map(|i| 255 - i as u8).collect();
    let mut w = WavWriter::new(Cursor::new(Vec::new()), WavLayout::Stereo).unwrap();
    w.write_stereo(&caller, &agent).unwrap();
    w.write_stereo(&SILENCE_FRAME, &agent).unwrap();
    assert!(matches!(w.write_mono(&caller), Err(WavError::Layout(_))));
    assert!(matches!(
        w.write_stereo(&caller, &agent[..10]),
        Err(WavError::Layout(_))
    ));
    let bytes = w.into_inner().unwrap().into_inner();
    assert_eq!(bytes[..46], mulaw_header(2, 640));
    let read = parse_wav(&bytes).unwrap();
    assert_eq!((read.channels(), read.frames()), (2, 320));
    let raw = read.mulaw_bytes().unwrap();
    let left: Vec<u8> = raw.iter().step_by(2).copied().collect();
    let right: Vec<u8> = raw.iter().skip(1).step_by(2).copied().collect();
    assert_eq!(&left[..160], &caller[..]);
    assert_eq!(&left[160..], &SILENCE_FRAME[..]);
    assert_eq!(&right[..160], &agent[..]);
    assert_eq!(&right[160..], &agent[..]);
}

#[test]
fn odd_length_data_is_padded() {
    let mut w = WavWriter::new(Cursor::new(Vec::new()), WavLayout::Mono).unwrap();
    w.write_mono(&[1, 2, 3]).unwrap();
    let bytes = w.into_inner().unwrap().into_inner();
    assert_eq!(bytes.len(), 46 + 4);
    assert_eq!(&bytes[4..8], &(38u32 + 3 + 1).to_le_bytes());
    assert_eq!(&bytes[42..46], &3u32.to_le_bytes());
    assert_eq!(
        parse_wav(&bytes).unwrap().mulaw_bytes().unwrap(),
        &[1, 2, 3]
    );
}

#[test]
fn header_is_rewritten_so_a_crash_leaves_a_playable_file() {
    let path = temp_path("crash.wav");
    let mut w = WavWriter::create(&path, WavLayout::Mono).unwrap();
    for _ in 0..60 {
        w.write_mono(&[0x80; FRAME_BYTES]).unwrap(); // 1.2 s
    }
    // A crash: no finish, no drop, buffered bytes lost.
    std::mem::forget(w);
    let read = read_wav_file(&path).unwrap();
    let secs = read.duration().as_secs_f64();
    assert!((0.7..=1.2).contains(&secs), "{secs}");
}

#[test]
fn dropping_an_unfinished_writer_finalises_it() {
    let path = temp_path("dropped.wav");
    let mut w = WavWriter::create(&path, WavLayout::Stereo).unwrap();
    w.write_stereo(&[0x80; 100], &[0x00; 100]).unwrap();
    drop(w);
    let read = read_wav_file(&path).unwrap();
    assert_eq!(read.frames(), 100);
}

// ---- reading ----

#[test]
fn reads_every_asset() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../assets/audio");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "wav") {
            continue;
        }
        let audio = read_wav_file(&path).unwrap();
        assert_eq!(audio.format(), SampleFormat::Mulaw, "{path:?}");
        assert_eq!(
            (audio.channels(), audio.sample_rate()),
            (1, 8000),
            "{path:?}"
        );
        let secs = audio.duration().as_secs_f64();
        assert!((1.5..3.5).contains(&secs), "{path:?}: {secs}");
        let frames = audio.to_mulaw_8k_frames().unwrap();
        let raw = audio.mulaw_bytes().unwrap();
        assert_eq!(frames.len(), raw.len().div_ceil(FRAME_BYTES));
        let flat: Vec<u8> = frames.concat();
        assert_eq!(&flat[..raw.len()], raw);
        assert!(flat[raw.len()..].iter().all(|&b| b == 0xFF));
        seen += 1;
    }
    assert!(seen >= 4, "found {seen} assets");
}

#[test]
fn reads_pcm16_written_by_hound_and_converts_to_8k_frames() {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 16000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut cursor = Cursor::new(Vec::new());
    {
        let mut w = hound::WavWriter::new(&mut cursor, spec).unwrap();
        for i in 0..16000 {
            let s = (8000.0 * (2.0 * std::f64::consts::PI * 1000.0 * f64::from(i) / 16000.0).sin())
                as i16;
            w.write_sample(s).unwrap();
            w.write_sample(s).unwrap();
        }
        w.finalize().unwrap();
    }
    let audio = read_wav(Cursor::new(cursor.into_inner())).unwrap();
    assert_eq!(audio.format(), SampleFormat::Pcm16);
    assert_eq!(
        (audio.channels(), audio.sample_rate(), audio.frames()),
        (2, 16000, 16000)
    );
    let frames = audio.to_mulaw_8k_frames().unwrap();
    assert_eq!(frames.len(), 50);
    let pcm = mulaw::decode_to_vec(&frames.concat());
    let mid = &pcm[2000..6000];
    let rms = (mid.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / mid.len() as f64).sqrt();
    let expected = 8000.0 / 2f64.sqrt();
    assert!((20.0 * (rms / expected).log10()).abs() < 0.5, "rms {rms}");
}

#[test]
fn reads_other_pcm_depths_and_float() {
    for (bits, fmt, format) in [
        (8u16, hound::SampleFormat::Int, SampleFormat::PcmU8),
        (24, hound::SampleFormat::Int, SampleFormat::Pcm24),
        (32, hound::SampleFormat::Int, SampleFormat::Pcm32),
        (32, hound::SampleFormat::Float, SampleFormat::Float32),
    ] {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 44100,
            bits_per_sample: bits,
            sample_format: fmt,
        };
        let mut cursor = Cursor::new(Vec::new());
        {
            let mut w = hound::WavWriter::new(&mut cursor, spec).unwrap();
            for i in 0..4410 {
                let x = 0.5 * (2.0 * std::f64::consts::PI * 440.0 * f64::from(i) / 44100.0).sin();
                match (fmt, bits) {
                    (hound::SampleFormat::Float, _) => w.write_sample(x as f32).unwrap(),
                    (_, 8) => w.write_sample((x * 127.0) as i8).unwrap(),
                    (_, 24) => w.write_sample((x * 8_388_607.0) as i32).unwrap(),
                    _ => w.write_sample((x * 2_147_483_647.0) as i32).unwrap(),
                }
            }
            w.finalize().unwrap();
        }
        let audio = parse_wav(&cursor.into_inner()).unwrap();
        assert_eq!(audio.format(), format, "{bits} bits");
        assert_eq!(audio.frames(), 4410);
        let peak = audio
            .to_pcm16()
            .iter()
            .map(|s| i32::from(*s).abs())
            .max()
            .unwrap();
        assert!((16000..=16700).contains(&peak), "{bits} bits: peak {peak}");
        assert_eq!(audio.to_mulaw_8k_frames().unwrap().len(), 5);
    }
}

#[test]
fn reads_alaw_and_skips_unknown_chunks_with_odd_padding() {
    let pcm: Vec<i16> = (0..800).map(|i| ((i % 100) * 300 - 15000) as i16).collect();
    let codes = alaw::encode_to_vec(&pcm);
    let bytes = wav_bytes(
        6,
        1,
        8000,
        8,
        &codes,
        &[(b"LIST", b"odd"), (b"fact", &800u32.to_le_bytes())],
    );
    let audio = parse_wav(&bytes).unwrap();
    assert_eq!(audio.format(), SampleFormat::Alaw);
    assert_eq!(audio.to_pcm16(), alaw::decode_to_vec(&codes));
    let frames = audio.to_mulaw_8k_frames().unwrap();
    assert_eq!(frames.len(), 5);
    assert_eq!(frames[0][0], mulaw::encode(alaw::decode(codes[0])));
}

#[test]
fn reads_wave_format_extensible_pcm() {
    let data = pcm16_le(&[100, -100, 200, -200]);
    let mut fmt = Vec::new();
    fmt.extend(0xFFFEu16.to_le_bytes());
    fmt.extend(1u16.to_le_bytes());
    fmt.extend(8000u32.to_le_bytes());
    fmt.extend(16000u32.to_le_bytes());
    fmt.extend(2u16.to_le_bytes());
    fmt.extend(16u16.to_le_bytes());
    fmt.extend(22u16.to_le_bytes());
    fmt.extend(16u16.to_le_bytes());
    fmt.extend(4u32.to_le_bytes());
    fmt.extend([
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B,
        0x71,
    ]);
    let mut bytes = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
    bytes.extend((fmt.len() as u32).to_le_bytes());
    bytes.extend(&fmt);
    bytes.extend(b"data");
    bytes.extend((data.len() as u32).to_le_bytes());
    bytes.extend(&data);
    let audio = parse_wav(&bytes).unwrap();
    assert_eq!(audio.format(), SampleFormat::Pcm16);
    assert_eq!(audio.to_pcm16(), vec![100, -100, 200, -200]);

    // An unknown sub-format GUID is unsupported, not misread.
    let mut odd = bytes.clone();
    odd[20 + 24 + 15] = 0x72;
    assert!(matches!(
        parse_wav(&odd),
        Err(WavError::UnsupportedFormat { .. })
    ));
}

#[test]
fn streaming_data_size_means_to_end() {
    let mut bytes = wav_bytes(7, 1, 8000, 8, &[1, 2, 3, 4], &[]);
    let n = bytes.len();
    bytes[n - 8..n - 4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(
        parse_wav(&bytes).unwrap().mulaw_bytes().unwrap(),
        &[1, 2, 3, 4]
    );
}

#[test]
fn stereo_mulaw_mixes_down_for_frames() {
    let bytes = wav_bytes(7, 2, 8000, 8, &[0x80, 0xFF, 0x00, 0xFF], &[]);
    let audio = parse_wav(&bytes).unwrap();
    assert_eq!(audio.to_mono_pcm16(), vec![32124 / 2, -32124 / 2]);
}
