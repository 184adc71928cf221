//! G.711 codecs and frame mixing: golden hashes, vectors and round-trip properties.
#![allow(clippy::unwrap_used)]

use sha2::{Digest, Sha256};
use vr_codec::{CodecError, FRAME_BYTES, SILENCE_FRAME, alaw, mix_frames, mulaw};

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn table_bytes(decode: fn(u8) -> i16) -> Vec<u8> {
    (0..=255u8).flat_map(|b| decode(b).to_le_bytes()).collect()
}

fn all_encoded(encode: fn(i16) -> u8) -> Vec<u8> {
    (i16::MIN..=i16::MAX).map(encode).collect()
}

// ---- golden hashes (B8 and the A-law contract) ----

#[test]
fn mulaw_decode_table_golden_hash() {
    assert_eq!(
        sha256(&table_bytes(mulaw::decode)),
        "3dab54339e520bb2c924826e3b72a917a2b612e9fd12fc867500f1d983a75827"
    );
    assert_eq!(mulaw::DECODE_TABLE.len(), 256);
}

#[test]
fn mulaw_encode_every_i16_golden_hash() {
    assert_eq!(
        sha256(&all_encoded(mulaw::encode)),
        "5ee7cf5f273f842d2234121e4cb0c98d6b20a99ac29026f94e05b36955b195be"
    );
}

#[test]
fn alaw_decode_table_golden_hash() {
    assert_eq!(
        sha256(&table_bytes(alaw::decode)),
        "e04788d110e58ff8c70c93b8480190d973e3b67876b6119abbaec766cc75c174"
    );
}

#[test]
fn alaw_encode_every_i16_golden_hash() {
    assert_eq!(
        sha256(&all_encoded(alaw::encode)),
        "38488f6fd710f4686360edc4d38639f96c491595ef93f8eb8d62d5e07ca6ce7b"
    );
}

#[test]
fn slice_functions_match_the_golden_hashes() {
    let all: Vec<i16> = (i16::MIN..=i16::MAX).collect();
    let mut out = vec![0u8; all.len()];
    assert_eq!(mulaw::encode_slice(&all, &mut out), Ok(65536));
    assert_eq!(
        sha256(&out),
        "5ee7cf5f273f842d2234121e4cb0c98d6b20a99ac29026f94e05b36955b195be"
    );
    alaw::encode_slice(&all, &mut out).unwrap();
    assert_eq!(
        sha256(&out),
        "38488f6fd710f4686360edc4d38639f96c491595ef93f8eb8d62d5e07ca6ce7b"
    );
    let codes: Vec<u8> = (0..=255).collect();
    let mut le = vec![0u8; 512];
    assert_eq!(mulaw::decode_le_bytes(&codes, &mut le), Ok(512));
    assert_eq!(
        sha256(&le),
        "3dab54339e520bb2c924826e3b72a917a2b612e9fd12fc867500f1d983a75827"
    );
    alaw::decode_le_bytes(&codes, &mut le).unwrap();
    assert_eq!(
        sha256(&le),
        "e04788d110e58ff8c70c93b8480190d973e3b67876b6119abbaec766cc75c174"
    );
}

// ---- μ-law vectors (B3, B5, B6, B7, protocols/README.md) ----

#[test]
fn mulaw_b3_decode_end_points() {
    assert_eq!(mulaw::decode(0xFF), 0);
    assert_eq!(mulaw::decode(0x7F), 0);
    assert_eq!(mulaw::decode(0x80), 32124);
    assert_eq!(mulaw::decode(0x00), -32124);
    assert_eq!(mulaw::decode(0xFE), 8);
    assert_eq!(mulaw::decode(0x7E), -8);
    let max = (0..=255u8).map(mulaw::decode).max().unwrap();
    let min = (0..=255u8).map(mulaw::decode).min().unwrap();
    assert_eq!((min, max), (-32124, 32124));
}

#[test]
fn mulaw_b5_encode_vectors() {
    assert_eq!(mulaw::encode(0), 0xFF);
    assert_eq!(mulaw::encode(1), 0xFF);
    assert_eq!(mulaw::encode(-1), 0x7F);
    assert_eq!(mulaw::encode(32635), 0x80);
    assert_eq!(mulaw::encode(32767), 0x80);
    assert_eq!(mulaw::encode(i16::MIN), 0x00);
}

#[test]
fn mulaw_b6_round_trip_keeps_sign() {
    for x in [100i16, 1000, 10000, 30000] {
        assert!(mulaw::decode(mulaw::encode(x)) > 0, "{x}");
        assert!(mulaw::decode(mulaw::encode(-x)) < 0, "-{x}");
    }
}

#[test]
fn mulaw_b7_encode_decode_is_identity_except_negative_zero() {
    for b in 0..=255u8 {
        let expected = if b == 0x7F { 0xFF } else { b };
        assert_eq!(mulaw::encode(mulaw::decode(b)), expected, "{b:#04x}");
    }
}

#[test]
fn mulaw_protocol_readme_vectors() {
    for (x, code, back) in [
        (0i16, 0xFFu8, 0i16),
        (100, 0xF2, 104),
        (-100, 0x72, -104),
        (1000, 0xCE, 988),
        (-1000, 0x4E, -988),
        (8000, 0xA0, 7932),
        (-8000, 0x20, -7932),
        (32767, 0x80, 32124),
        (-32768, 0x00, -32124),
    ] {
        assert_eq!(mulaw::encode(x), code, "encode {x}");
        assert_eq!(mulaw::decode(code), back, "decode {code:#04x}");
    }
}

// ---- A-law vectors (checked with Python 3.11 audioop) ----

#[test]
fn alaw_audioop_vectors() {
    for (x, code) in [
        (0i16, 0xD5u8),
        (1, 0xD5),
        (-1, 0x55),
        (-8, 0x55),
        (-9, 0x55),
        (100, 0xD3),
        (-100, 0x53),
        (1000, 0xFA),
        (-1000, 0x7A),
        (8000, 0x8A),
        (-8000, 0x0A),
        (4095, 0x9A),
        (-4096, 0x1A),
        (32767, 0xAA),
        (-32768, 0x2A),
    ] {
        assert_eq!(alaw::encode(x), code, "encode {x}");
    }
    for (code, x) in [
        (0xD5u8, 8i16),
        (0x55, -8),
        (0x2A, -32256),
        (0xAA, 32256),
        (0x80, 5504),
        (0x00, -5504),
        (0xFF, 848),
        (0x7F, -848),
    ] {
        assert_eq!(alaw::decode(code), x, "decode {code:#04x}");
    }
}

#[test]
fn alaw_encode_decode_is_identity() {
    for b in 0..=255u8 {
        assert_eq!(alaw::encode(alaw::decode(b)), b, "{b:#04x}");
    }
}

// ---- round-trip properties over every i16 ----

fn check_round_trip(
    name: &str,
    encode: fn(i16) -> u8,
    decode: fn(u8) -> i16,
    max_err: fn(i32) -> i32,
) {
    let mut prev = i32::MIN;
    for x in i16::MIN..=i16::MAX {
        let y = i32::from(decode(encode(x)));
        let x = i32::from(x);
        assert!(y >= prev, "{name}: not monotonic at {x}");
        prev = y;
        assert!((y - x).abs() <= max_err(x), "{name}: {x} -> {y}");
        if x.abs() >= 64 {
            assert_eq!(y.signum(), x.signum(), "{name}: sign of {x}");
        }
    }
}

#[test]
fn mulaw_round_trip_error_is_within_one_step() {
    // Step doubles every segment: 8 at the bottom, 1024 at the top; clipped above 32635.
    check_round_trip("mulaw", mulaw::encode, mulaw::decode, |x| {
        let m = x.abs().min(32635) + 0x84;
        let step = 8 << (31 - m.leading_zeros() as i32 - 7);
        step / 2 + (x.abs() - 32635).max(0) + 1
    });
}

#[test]
fn alaw_round_trip_error_is_within_one_step() {
    check_round_trip("alaw", alaw::encode, alaw::decode, |x| {
        let m = x.abs();
        let step = if m < 512 {
            16
        } else {
            16 << (31 - m.leading_zeros() as i32 - 8)
        };
        step / 2 + (m - 32256).max(0) + 8
    });
}

// ---- slice functions ----

#[test]
fn slices_match_per_sample_and_check_sizes() {
    let pcm: Vec<i16> = (0..1000)
        .map(|i| ((i * 7919) % 65536 - 32768) as i16)
        .collect();
    let mut codes = vec![0u8; 1200];
    assert_eq!(mulaw::encode_slice(&pcm, &mut codes), Ok(1000));
    assert!(
        codes[..1000]
            .iter()
            .zip(&pcm)
            .all(|(&c, &x)| c == mulaw::encode(x))
    );
    let mut back = vec![0i16; 1000];
    assert_eq!(mulaw::decode_slice(&codes[..1000], &mut back), Ok(1000));
    assert!(
        back.iter()
            .zip(&codes)
            .all(|(&y, &c)| y == mulaw::decode(c))
    );

    assert_eq!(
        mulaw::encode_slice(&pcm, &mut codes[..999]),
        Err(CodecError::OutputTooSmall {
            needed: 1000,
            available: 999
        })
    );
    assert_eq!(
        alaw::decode_slice(&codes, &mut back),
        Err(CodecError::OutputTooSmall {
            needed: 1200,
            available: 1000
        })
    );
    assert_eq!(mulaw::encode_slice(&[], &mut []), Ok(0));
}

#[test]
fn le_byte_functions() {
    let pcm: Vec<i16> = (-500..500).map(|i| i * 31).collect();
    let le: Vec<u8> = pcm.iter().flat_map(|x| x.to_le_bytes()).collect();
    for (enc, dec) in [
        (
            mulaw::encode_le_bytes as fn(&[u8], &mut [u8]) -> Result<usize, CodecError>,
            mulaw::decode_le_bytes as fn(&[u8], &mut [u8]) -> Result<usize, CodecError>,
        ),
        (alaw::encode_le_bytes, alaw::decode_le_bytes),
    ] {
        let mut codes = vec![0u8; pcm.len()];
        assert_eq!(enc(&le, &mut codes), Ok(pcm.len()));
        let mut out = vec![0u8; le.len()];
        assert_eq!(dec(&codes, &mut out), Ok(le.len()));
        assert_eq!(enc(&le[..3], &mut codes), Err(CodecError::OddLength(3)));
        assert_eq!(
            dec(&codes, &mut out[..10]),
            Err(CodecError::OutputTooSmall {
                needed: 2000,
                available: 10
            })
        );
        assert_eq!(
            enc(&le, &mut codes[..5]),
            Err(CodecError::OutputTooSmall {
                needed: 1000,
                available: 5
            })
        );
    }
    let mut codes = vec![0u8; pcm.len()];
    mulaw::encode_le_bytes(&le, &mut codes).unwrap();
    assert_eq!(codes, mulaw::encode_to_vec(&pcm));
    let mut out = vec![0u8; le.len()];
    mulaw::decode_le_bytes(&codes, &mut out).unwrap();
    let expected: Vec<u8> = mulaw::decode_to_vec(&codes)
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    assert_eq!(out, expected);
}

// ---- mix_frames (B9, B10) ----

fn audio_frame() -> Vec<u8> {
    (0..FRAME_BYTES)
        .map(|i| mulaw::encode(((i as i32 - 80) * 300) as i16))
        .collect()
}

#[test]
fn mix_b9_output_length_and_first_160_only() {
    let long = vec![0x80u8; 400];
    let mixed = mix_frames(&long, &SILENCE_FRAME).unwrap();
    assert_eq!(mixed.len(), FRAME_BYTES);
    assert_eq!(mixed, [0x80; FRAME_BYTES]);
}

#[test]
fn mix_b9_clamps() {
    let loud = [0x80u8; FRAME_BYTES];
    let quiet_neg = [0x00u8; FRAME_BYTES];
    assert_eq!(mix_frames(&loud, &loud).unwrap(), [0x80; FRAME_BYTES]);
    assert_eq!(
        mix_frames(&quiet_neg, &quiet_neg).unwrap(),
        [0x00; FRAME_BYTES]
    );
}

#[test]
fn mix_b10_silence_rules() {
    let audio = audio_frame();
    assert_eq!(
        mix_frames(&SILENCE_FRAME, &SILENCE_FRAME).unwrap(),
        SILENCE_FRAME
    );
    assert_ne!(mix_frames(&SILENCE_FRAME, &audio).unwrap(), SILENCE_FRAME);
    assert_ne!(mix_frames(&audio, &SILENCE_FRAME).unwrap(), SILENCE_FRAME);
}

#[test]
fn mix_is_decode_add_clamp_encode() {
    let a = audio_frame();
    let b: Vec<u8> = a.iter().rev().copied().collect();
    let mixed = mix_frames(&a, &b).unwrap();
    for i in 0..FRAME_BYTES {
        let sum = i32::from(mulaw::decode(a[i])) + i32::from(mulaw::decode(b[i]));
        assert_eq!(mixed[i], mulaw::encode(sum.clamp(-32768, 32767) as i16));
    }
}

#[test]
fn mix_short_input_is_an_error() {
    assert_eq!(
        mix_frames(&[0xFF; 100], &SILENCE_FRAME),
        Err(CodecError::ShortFrame {
            needed: 160,
            got: 100
        })
    );
    assert_eq!(
        mix_frames(&SILENCE_FRAME, &[]),
        Err(CodecError::ShortFrame {
            needed: 160,
            got: 0
        })
    );
}
