//! Throughput of the G.711 slice functions over 1 MiB of input.

use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use vr_codec::resample::resample;
use vr_codec::{FRAME_BYTES, SILENCE_FRAME, alaw, mix_frames, mulaw};

const INPUT_BYTES: usize = 1 << 20;

/// A deterministic speech-like test signal: a sum of tones with a little noise.
fn pcm(samples: usize) -> Vec<i16> {
    let mut seed = 0x2545_f491_u32;
    (0..samples)
        .map(|i| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let t = i as f64 / 8000.0;
            let tone = 9000.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()
                + 4000.0 * (2.0 * std::f64::consts::PI * 1230.0 * t).sin();
            (tone + f64::from(seed % 2001) - 1000.0) as i16
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let pcm_in = pcm(INPUT_BYTES / 2);
    let law_bytes = mulaw::encode_to_vec(&pcm(INPUT_BYTES));
    let mut group = c.benchmark_group("g711");
    group.throughput(Throughput::Bytes(INPUT_BYTES as u64));

    let mut out_pcm = vec![0i16; INPUT_BYTES];
    group.bench_function("mulaw_decode_slice", |b| {
        b.iter(|| mulaw::decode_slice(black_box(&law_bytes), &mut out_pcm))
    });
    group.bench_function("alaw_decode_slice", |b| {
        b.iter(|| alaw::decode_slice(black_box(&law_bytes), &mut out_pcm))
    });

    let mut out_law = vec![0u8; INPUT_BYTES / 2];
    group.bench_function("mulaw_encode_slice", |b| {
        b.iter(|| mulaw::encode_slice(black_box(&pcm_in), &mut out_law))
    });
    group.bench_function("alaw_encode_slice", |b| {
        b.iter(|| alaw::encode_slice(black_box(&pcm_in), &mut out_law))
    });
    group.finish();
}

fn bench_mix_and_resample(c: &mut Criterion) {
    let frame = mulaw::encode_to_vec(&pcm(FRAME_BYTES));
    c.bench_function("mix_frames", |b| {
        b.iter(|| mix_frames(black_box(&frame), black_box(&SILENCE_FRAME)))
    });
    // One second of audio per iteration: the time is the real-time cost.
    let mut group = c.benchmark_group("resample_1s");
    let narrow = pcm(8000);
    group.bench_function("8000_to_16000", |b| {
        b.iter(|| resample(black_box(&narrow), 8000, 16000))
    });
    let wide = pcm(44100);
    group.bench_function("44100_to_8000", |b| {
        b.iter(|| resample(black_box(&wide), 44100, 8000))
    });
    group.finish();
}

criterion_group!(benches, bench, bench_mix_and_resample);
criterion_main!(benches);
