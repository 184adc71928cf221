//! Bad WAV input: truncated or lying headers and unsupported formats give typed errors,
//! and no byte string makes the reader panic.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use vr_codec::wav::{WavError, parse_wav, read_wav_file};

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

// ---- bad input ----

#[test]
fn bad_inputs_are_typed_errors() {
    let good = wav_bytes(1, 1, 16000, 16, &pcm16_le(&[1, 2, 3]), &[]);
    assert!(parse_wav(&good).is_ok());
    assert!(matches!(parse_wav(&[]), Err(WavError::Truncated(_))));
    assert!(matches!(
        parse_wav(b"RIFF\x04\0\0"),
        Err(WavError::Truncated(_))
    ));
    assert!(matches!(
        parse_wav(b"RIFX\x04\0\0\0WAVE"),
        Err(WavError::NotWave)
    ));
    assert!(matches!(
        parse_wav(b"RIFF\x04\0\0\0AVI "),
        Err(WavError::NotWave)
    ));
    assert!(matches!(
        parse_wav(b"RIFF\x04\0\0\0WAVE"),
        Err(WavError::MissingChunk("fmt "))
    ));
    assert!(matches!(
        parse_wav(&good[..good.len() - 1]),
        Err(WavError::ChunkOverrun { .. })
    ));
    assert!(matches!(
        parse_wav(&good[..40]),
        Err(WavError::Truncated(_))
    ));

    // Lying data size.
    let mut lying = good.clone();
    lying[40..44].copy_from_slice(&1000u32.to_le_bytes());
    match parse_wav(&lying) {
        Err(WavError::ChunkOverrun {
            chunk,
            declared,
            available,
        }) => {
            assert_eq!((chunk.as_str(), declared, available), ("data", 1000, 6));
        }
        other => panic!("{other:?}"),
    }
    // Odd PCM16 data.
    let odd = wav_bytes(1, 1, 8000, 16, &[1, 2, 3], &[]);
    assert!(matches!(
        parse_wav(&odd),
        Err(WavError::PartialSample {
            len: 3,
            block_align: 2
        })
    ));
    // Unsupported encodings.
    assert!(matches!(
        parse_wav(&wav_bytes(0x55, 1, 8000, 16, &[], &[])),
        Err(WavError::UnsupportedFormat {
            tag: 0x55,
            bits: 16
        })
    ));
    assert!(matches!(
        parse_wav(&wav_bytes(1, 1, 8000, 12, &[], &[])),
        Err(WavError::UnsupportedFormat { .. })
    ));
    // Inconsistent fmt.
    let mut bad_align = good.clone();
    bad_align[32..34].copy_from_slice(&3u16.to_le_bytes());
    assert!(matches!(
        parse_wav(&bad_align),
        Err(WavError::InvalidFormat(_))
    ));
    assert!(matches!(
        parse_wav(&wav_bytes(1, 0, 8000, 16, &[], &[])),
        Err(WavError::InvalidFormat(_))
    ));
    assert!(matches!(
        parse_wav(&wav_bytes(1, 1, 0, 16, &[], &[])),
        Err(WavError::InvalidFormat(_))
    ));
    let mut short_fmt = b"RIFF\0\0\0\0WAVEfmt \x0a\0\0\0".to_vec();
    short_fmt.extend([0u8; 10]);
    assert!(matches!(
        parse_wav(&short_fmt),
        Err(WavError::InvalidFormat(_))
    ));
    // No data chunk.
    let no_data = &good[..36];
    assert!(matches!(
        parse_wav(no_data),
        Err(WavError::MissingChunk("data"))
    ));
    // Valid header, unconvertible rate.
    let huge_rate = wav_bytes(1, 1, 4_000_000, 16, &pcm16_le(&[0; 4]), &[]);
    let audio = parse_wav(&huge_rate).unwrap();
    assert!(matches!(
        audio.to_mulaw_8k_frames(),
        Err(WavError::Codec(_))
    ));
    // A missing file.
    assert!(matches!(
        read_wav_file(temp_path("missing/none.wav")),
        Err(WavError::Io(_))
    ));
}

#[test]
fn random_and_truncated_inputs_never_panic() {
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let good = wav_bytes(1, 2, 22050, 16, &pcm16_le(&[5; 64]), &[(b"LIST", b"abc")]);
    // Every truncation.
    for n in 0..good.len() {
        let _ = parse_wav(&good[..n]);
    }
    // Random corruption of a valid file, and pure noise behind a RIFF/WAVE prefix.
    for _ in 0..20_000 {
        let mut bytes = good.clone();
        for _ in 0..(next() % 6 + 1) {
            let i = (next() % bytes.len() as u64) as usize;
            bytes[i] = next() as u8;
        }
        let _ = parse_wav(&bytes);
        let len = (next() % 96) as usize;
        let mut noise: Vec<u8> = b"RIFF\0\0\0\0WAVE".to_vec();
        noise.extend((0..len).map(|_| next() as u8));
        let _ = parse_wav(&noise);
    }
}
