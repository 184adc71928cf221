//! `codec`: G.711 in both laws (per sample and over slices), frame splitting, frame mixing
//! and the streaming resampler, on arbitrary samples, rates and chunk sizes.
//!
//! Input layout: a rate selector for each side of the resampler (one byte, plus four bytes of
//! arbitrary rate when the byte is 0xF0 or above), one byte of chunk-size seed, then the
//! payload, read both as μ-law/A-law bytes and as little-endian `i16` samples.
//!
//! Checked: every code decodes to a value the encoder maps back to the same value; encoding
//! is monotonic with bounded error and keeps the sign; the slice functions agree with the
//! per-sample ones and refuse short buffers and odd lengths; frames split into
//! `ceil(len / 160)` frames padded with silence; mixing with silence is the identity (up to
//! μ-law's two zeros) and mixing is symmetric; streaming the resampler in arbitrary chunks
//! gives exactly the one-shot result and the documented length (twice, so `flush` resets),
//! and equal rates pass samples through.

use std::cell::RefCell;
use std::collections::HashMap;

use vr_codec::resample::{MAX_DECIMATION, MAX_RATE, resample};
use vr_codec::{
    CodecError, FRAME_BYTES, MULAW_SILENCE, Resampler, SILENCE_FRAME, alaw, frame, mix_frames,
    mulaw, split_frames,
};

use crate::input::{Input, samples};

/// Rates real files and providers use, plus edge cases; chosen by a selector byte.
const RATES: [u32; 16] = [
    8000, 16000, 44_100, 48_000, 22_050, 11_025, 24_000, 32_000, 96_000, 8001, 44_101, 1, 7, 0,
    MAX_RATE, 1000,
];

/// Upper bound on resampler output per input, so one input cannot take seconds.
const MAX_OUTPUT_SAMPLES: u64 = 1 << 15;

/// The largest quantisation step of either law (top segment) bounds the coding error; μ-law
/// also clips at 32635, which loses less than that.
const MAX_CODING_ERROR: i32 = 1024;

/// Runs the `codec` target on `data`.
pub fn codec(data: &[u8]) {
    let mut input = Input::new(data);
    let in_rate = rate(&mut input);
    let out_rate = rate(&mut input);
    let chunk_seed = input.u8();
    let payload = input.rest();
    let pcm = samples(payload);

    for law in &LAWS {
        check_law(law, payload, &pcm);
    }
    check_frames(payload);
    check_resampler(in_rate, out_rate, chunk_seed, &pcm);
}

fn rate(input: &mut Input<'_>) -> u32 {
    let selector = input.u8();
    if selector >= 0xF0 {
        input.u32()
    } else {
        RATES[usize::from(selector) % RATES.len()]
    }
}

/// One law's functions.
struct Law {
    name: &'static str,
    encode: fn(i16) -> u8,
    decode: fn(u8) -> i16,
    encode_slice: fn(&[i16], &mut [u8]) -> Result<usize, CodecError>,
    decode_slice: fn(&[u8], &mut [i16]) -> Result<usize, CodecError>,
    encode_le_bytes: fn(&[u8], &mut [u8]) -> Result<usize, CodecError>,
    decode_le_bytes: fn(&[u8], &mut [u8]) -> Result<usize, CodecError>,
    encode_to_vec: fn(&[i16]) -> Vec<u8>,
    decode_to_vec: fn(&[u8]) -> Vec<i16>,
}

const LAWS: [Law; 2] = [
    Law {
        name: "mulaw",
        encode: mulaw::encode,
        decode: mulaw::decode,
        encode_slice: mulaw::encode_slice,
        decode_slice: mulaw::decode_slice,
        encode_le_bytes: mulaw::encode_le_bytes,
        decode_le_bytes: mulaw::decode_le_bytes,
        encode_to_vec: mulaw::encode_to_vec,
        decode_to_vec: mulaw::decode_to_vec,
    },
    Law {
        name: "alaw",
        encode: alaw::encode,
        decode: alaw::decode,
        encode_slice: alaw::encode_slice,
        decode_slice: alaw::decode_slice,
        encode_le_bytes: alaw::encode_le_bytes,
        decode_le_bytes: alaw::decode_le_bytes,
        encode_to_vec: alaw::encode_to_vec,
        decode_to_vec: alaw::decode_to_vec,
    },
];

fn check_law(law: &Law, bytes: &[u8], pcm: &[i16]) {
    let name = law.name;
    for &code in bytes {
        let x = (law.decode)(code);
        assert_eq!((law.decode)((law.encode)(x)), x, "{name}: code {code:#04x}");
    }
    for pair in pcm.windows(2) {
        let (lo, hi) = (pair[0].min(pair[1]), pair[0].max(pair[1]));
        let (dlo, dhi) = (
            (law.decode)((law.encode)(lo)),
            (law.decode)((law.encode)(hi)),
        );
        assert!(dlo <= dhi, "{name}: not monotonic at {lo}, {hi}");
    }
    for &x in pcm {
        let y = (law.decode)((law.encode)(x));
        let error = (i32::from(y) - i32::from(x)).abs();
        assert!(error <= MAX_CODING_ERROR, "{name}: {x} came back as {y}");
        assert!(
            i32::from(x).signum() * i32::from(y).signum() >= 0,
            "{name}: {x} changed sign to {y}"
        );
    }

    // Slices agree with samples; short buffers and odd lengths are refused.
    let encoded = (law.encode_to_vec)(pcm);
    assert_eq!(encoded.len(), pcm.len());
    assert!(encoded.iter().zip(pcm).all(|(&c, &x)| c == (law.encode)(x)));
    let mut out = vec![0u8; pcm.len()];
    assert_eq!((law.encode_slice)(pcm, &mut out), Ok(pcm.len()));
    assert_eq!(out, encoded, "{name}: encode_slice");
    if let Some(short) = pcm.len().checked_sub(1) {
        let err = (law.encode_slice)(pcm, &mut out[..short]);
        assert!(
            matches!(err, Err(CodecError::OutputTooSmall { .. })),
            "{err:?}"
        );
    }
    let even = &bytes[..bytes.len() & !1];
    let mut le = vec![0u8; bytes.len()];
    assert_eq!((law.encode_le_bytes)(even, &mut le), Ok(pcm.len()));
    assert_eq!(
        &le[..pcm.len()],
        encoded.as_slice(),
        "{name}: encode_le_bytes"
    );
    if bytes.len() % 2 == 1 {
        assert_eq!(
            (law.encode_le_bytes)(bytes, &mut le),
            Err(CodecError::OddLength(bytes.len()))
        );
    }

    let decoded = (law.decode_to_vec)(bytes);
    let mut out = vec![0i16; bytes.len()];
    assert_eq!((law.decode_slice)(bytes, &mut out), Ok(bytes.len()));
    assert_eq!(out, decoded, "{name}: decode_slice");
    let mut le = vec![0u8; bytes.len() * 2];
    assert_eq!((law.decode_le_bytes)(bytes, &mut le), Ok(bytes.len() * 2));
    assert_eq!(samples(&le), decoded, "{name}: decode_le_bytes");
    if !bytes.is_empty() {
        let err = (law.decode_le_bytes)(bytes, &mut le[..bytes.len() * 2 - 1]);
        assert!(
            matches!(err, Err(CodecError::OutputTooSmall { .. })),
            "{err:?}"
        );
        let err = (law.decode_slice)(bytes, &mut out[..bytes.len() - 1]);
        assert!(
            matches!(err, Err(CodecError::OutputTooSmall { .. })),
            "{err:?}"
        );
    }
}

fn check_frames(bytes: &[u8]) {
    let frames: Vec<_> = split_frames(bytes).collect();
    assert_eq!(frames.len(), bytes.len().div_ceil(FRAME_BYTES));
    assert_eq!(frames.len(), frame::frame_count(bytes.len()));
    let joined: Vec<u8> = frames.iter().flatten().copied().collect();
    assert_eq!(&joined[..bytes.len()], bytes);
    assert!(joined[bytes.len()..].iter().all(|&b| b == MULAW_SILENCE));

    let (a, b) = bytes.split_at(bytes.len() / 2);
    match (mix_frames(a, b), mix_frames(b, a)) {
        (Ok(ab), Ok(ba)) => {
            assert!(a.len() >= FRAME_BYTES && b.len() >= FRAME_BYTES);
            assert_eq!(ab, ba, "mixing is not symmetric");
        }
        (Err(e), Err(_)) => {
            assert!(a.len() < FRAME_BYTES || b.len() < FRAME_BYTES, "{e}");
            assert!(matches!(e, CodecError::ShortFrame { .. }), "{e}");
        }
        (x, y) => panic!("mixing disagrees with itself: {x:?} vs {y:?}"),
    }
    for frame in &frames {
        let mixed = match mix_frames(frame, &SILENCE_FRAME) {
            Ok(mixed) => mixed,
            Err(e) => panic!("mixing whole frames failed: {e}"),
        };
        for (&m, &f) in mixed.iter().zip(frame) {
            assert_eq!(m, mulaw::encode(mulaw::decode(f)), "silence is not neutral");
        }
    }
}

thread_local! {
    /// Filter designs by rate pair: designing one can take milliseconds (512 phases of
    /// thousands of taps), which would dominate every run on the same pair.
    static DESIGNS: RefCell<HashMap<(u32, u32), Resampler>> = RefCell::new(HashMap::new());
}

/// A fresh resampler for the pair, and whether it was designed just now.
fn fresh_resampler(in_rate: u32, out_rate: u32) -> Result<(Resampler, bool), CodecError> {
    DESIGNS.with(|designs| {
        let mut designs = designs.borrow_mut();
        if let Some(r) = designs.get(&(in_rate, out_rate)) {
            return Ok((r.clone(), false));
        }
        let r = Resampler::new(in_rate, out_rate)?;
        if designs.len() >= 64 {
            designs.clear();
        }
        designs.insert((in_rate, out_rate), r.clone());
        Ok((r, true))
    })
}

fn check_resampler(in_rate: u32, out_rate: u32, chunk_seed: u8, pcm: &[i16]) {
    let (mut resampler, new) = match fresh_resampler(in_rate, out_rate) {
        Ok(r) => r,
        Err(e) => {
            assert_eq!(
                e,
                CodecError::UnsupportedRate(refused_rate(in_rate, out_rate))
            );
            return;
        }
    };
    assert!(rate_ok(in_rate) && rate_ok(out_rate) && in_rate / out_rate <= MAX_DECIMATION);
    assert_eq!(resampler.in_rate(), in_rate);
    assert_eq!(resampler.out_rate(), out_rate);
    assert_eq!(resampler.latency() == 0, in_rate == out_rate);

    // Bound the work: upsampling from 1 Hz would turn a few samples into millions.
    let max_in = MAX_OUTPUT_SAMPLES * u64::from(in_rate) / u64::from(out_rate);
    let n = pcm.len().min(usize::try_from(max_in).unwrap_or(usize::MAX));
    let pcm = &pcm[..n];

    let expected = (n as u64 * u64::from(out_rate)).div_ceil(u64::from(in_rate));
    let mut whole = Vec::new();
    let mut one_shot = resampler.clone();
    one_shot.process(pcm, &mut whole);
    one_shot.flush(&mut whole);
    assert_eq!(
        whole.len() as u64,
        expected,
        "{in_rate} -> {out_rate}, {n} samples"
    );
    if in_rate == out_rate {
        assert_eq!(whole, pcm, "equal rates must pass samples through");
    }
    if new {
        // The whole-buffer helper designs its own filter: only worth it once per pair.
        assert_eq!(resample(pcm, in_rate, out_rate).as_ref(), Ok(&whole));
    }

    // The same stream fed in uneven chunks gives the same samples, and flush resets.
    for _round in 0..2 {
        let mut streamed = Vec::with_capacity(whole.len());
        let mut rest = pcm;
        let mut seed = u32::from(chunk_seed);
        while !rest.is_empty() {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let size = (seed >> 16) as usize % 400;
            let (chunk, tail) = rest.split_at(size.min(rest.len()));
            resampler.process(chunk, &mut streamed);
            rest = tail;
        }
        resampler.flush(&mut streamed);
        assert_eq!(
            streamed, whole,
            "chunked output differs ({in_rate} -> {out_rate})"
        );
    }
}

fn rate_ok(rate: u32) -> bool {
    (1..=MAX_RATE).contains(&rate)
}

/// The rate `Resampler::new` must name when it refuses a pair.
fn refused_rate(in_rate: u32, out_rate: u32) -> u32 {
    if !rate_ok(in_rate) {
        in_rate
    } else if !rate_ok(out_rate) {
        out_rate
    } else {
        assert!(
            in_rate / out_rate > MAX_DECIMATION,
            "refused {in_rate} -> {out_rate}"
        );
        in_rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_and_edge_inputs_pass() {
        codec(b"");
        codec(&[0, 1, 7]);
        let mut data = vec![2, 0, 9];
        data.extend((0..=255u8).cycle().take(1000));
        codec(&data);
        // Arbitrary rates: 1 Hz to 8 kHz (bounded work), and a refused 0 Hz.
        codec(&[0xF0, 1, 0, 0, 0, 0, 3, 1, 2, 3, 4]);
        codec(&[0xF0, 0, 0, 0, 0, 0, 3, 1, 2]);
    }
}
