//! Resampler frequency response and streaming behaviour.
#![allow(clippy::unwrap_used)]

use vr_codec::resample::resample;
use vr_codec::{CodecError, Resampler};

fn tone(freq: f64, rate: u32, seconds: f64, amplitude: f64) -> Vec<i16> {
    let n = (f64::from(rate) * seconds) as usize;
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            (amplitude * (2.0 * std::f64::consts::PI * freq * t).sin()).round() as i16
        })
        .collect()
}

/// RMS of the middle half (away from the filter's start-up and end).
fn mid_rms(x: &[i16]) -> f64 {
    let mid = &x[x.len() / 4..3 * x.len() / 4];
    (mid.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / mid.len() as f64).sqrt()
}

/// Amplitude of the `freq` component in the middle half (single-bin DFT).
fn mid_amplitude(x: &[i16], rate: u32, freq: f64) -> f64 {
    let mid = &x[x.len() / 4..3 * x.len() / 4];
    let (mut re, mut im) = (0.0, 0.0);
    for (i, &s) in mid.iter().enumerate() {
        let ph = 2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate);
        re += f64::from(s) * ph.cos();
        im += f64::from(s) * ph.sin();
    }
    2.0 * (re * re + im * im).sqrt() / mid.len() as f64
}

fn db(ratio: f64) -> f64 {
    20.0 * ratio.log10()
}

#[test]
fn tone_1k_survives_16k_to_8k() {
    let input = tone(1000.0, 16000, 1.0, 10000.0);
    let out = resample(&input, 16000, 8000).unwrap();
    assert_eq!(out.len(), 8000);
    let change = db(mid_rms(&out) / mid_rms(&input));
    assert!(change.abs() < 1.0, "1 kHz changed by {change:.2} dB");
    assert!(change.abs() < 0.1, "1 kHz changed by {change:.2} dB");
}

#[test]
fn tone_5k_is_removed_16k_to_8k() {
    let input = tone(5000.0, 16000, 1.0, 10000.0);
    let out = resample(&input, 16000, 8000).unwrap();
    let down = db(mid_rms(&out).max(0.5) / mid_rms(&input));
    assert!(down <= -40.0, "5 kHz only {down:.1} dB down");
}

#[test]
fn upsampler_8k_to_16k_keeps_1k_and_has_no_image() {
    let input = tone(1000.0, 8000, 1.0, 10000.0);
    let out = resample(&input, 8000, 16000).unwrap();
    assert_eq!(out.len(), 16000);
    let kept = db(mid_amplitude(&out, 16000, 1000.0) / 10000.0);
    assert!(kept.abs() < 0.2, "1 kHz changed by {kept:.2} dB");
    let image = db(mid_amplitude(&out, 16000, 7000.0) / 10000.0);
    assert!(image < -60.0, "7 kHz image only {image:.1} dB down");
}

#[test]
fn common_rates_to_8k() {
    for rate in [11025u32, 22050, 24000, 32000, 44100, 48000, 96000] {
        let pass = resample(&tone(1000.0, rate, 1.0, 10000.0), rate, 8000).unwrap();
        assert_eq!(pass.len(), 8000, "{rate}");
        let kept = db(mid_amplitude(&pass, 8000, 1000.0) / 10000.0);
        assert!(kept.abs() < 0.2, "{rate}: 1 kHz changed by {kept:.2} dB");
        // 4.6 kHz is above the 8 kHz output's Nyquist and would alias to 3.4 kHz.
        if f64::from(rate) / 2.0 > 4600.0 {
            let stop = resample(&tone(4600.0, rate, 1.0, 10000.0), rate, 8000).unwrap();
            let down = db(mid_rms(&stop).max(0.5) / (10000.0 / 2f64.sqrt()));
            assert!(down <= -40.0, "{rate}: 4.6 kHz only {down:.1} dB down");
        }
    }
}

#[test]
fn streaming_frame_by_frame_equals_one_shot() {
    let input = tone(700.0, 8000, 0.5, 8000.0);
    for out_rate in [16000u32, 44100, 11025] {
        let whole = resample(&input, 8000, out_rate).unwrap();
        let mut r = Resampler::new(8000, out_rate).unwrap();
        let mut streamed = Vec::new();
        for frame in input.chunks(160) {
            r.process(frame, &mut streamed);
        }
        r.flush(&mut streamed);
        assert_eq!(streamed, whole, "8000->{out_rate}");
    }
}

#[test]
fn streaming_latency_is_bounded() {
    let mut r = Resampler::new(8000, 16000).unwrap();
    let mut out = Vec::new();
    for _ in 0..10 {
        r.process(&[0; 160], &mut out);
    }
    // Everything but the look-ahead is out already.
    let pending = 3200 - out.len();
    assert!(pending <= 2 * r.latency() + 2, "pending {pending}");
    r.flush(&mut out);
    assert_eq!(out.len(), 3200);
    assert_eq!(r.in_rate(), 8000);
    assert_eq!(r.out_rate(), 16000);
}

#[test]
fn clipping_input_does_not_overflow() {
    let square: Vec<i16> = (0..8000)
        .map(|i| {
            if (i / 20) % 2 == 0 {
                i16::MAX
            } else {
                i16::MIN
            }
        })
        .collect();
    let out = resample(&square, 16000, 8000).unwrap();
    assert_eq!(out.len(), 4000);
    let out = resample(&square, 8000, 48000).unwrap();
    assert_eq!(out.len(), 48000);
}

#[test]
fn invalid_rates_are_errors() {
    assert_eq!(
        resample(&[1, 2, 3], 0, 8000),
        Err(CodecError::UnsupportedRate(0))
    );
    assert_eq!(
        Resampler::new(8000, 800_000).unwrap_err(),
        CodecError::UnsupportedRate(800_000)
    );
}

#[test]
fn empty_input() {
    assert_eq!(resample(&[], 16000, 8000).unwrap(), Vec::<i16>::new());
    let mut r = Resampler::new(16000, 8000).unwrap();
    let mut out = Vec::new();
    r.flush(&mut out);
    assert!(out.is_empty());
}
