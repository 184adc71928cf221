//! Per-message cost of the Media Streams hot path: parsing a 160-byte inbound media frame and
//! building an outbound one (target: well under 1 µs each).

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vr_twilio::proto::{Inbound, MediaMeta, parse_inbound, write_inbound_media, write_media};
use vr_twilio::stream::{StreamEvent, StreamState};

const SID: &str = "MZ0123456789abcdef0123456789abcdef";

fn inbound_frame() -> String {
    let audio: Vec<u8> = (0..160u8).map(|i| i.wrapping_mul(37)).collect();
    let mut out = String::new();
    write_inbound_media(
        &mut out,
        &MediaMeta {
            sequence_number: 1234,
            stream_sid: SID,
            track: "inbound",
            chunk: 1233,
            timestamp: 24_660,
        },
        &audio,
    );
    out
}

fn bench(c: &mut Criterion) {
    let frame = inbound_frame();
    let mut g = c.benchmark_group("media");
    g.throughput(Throughput::Elements(1));

    g.bench_function("parse_inbound_160", |b| {
        b.iter(|| {
            let msg = parse_inbound(black_box(&frame));
            black_box(msg.is_ok())
        })
    });

    let mut buf = Vec::with_capacity(256);
    g.bench_function("parse_and_decode_inbound_160", |b| {
        b.iter(|| {
            if let Ok(Inbound::Media(m)) = parse_inbound(black_box(&frame)) {
                let _ = m.decode_payload_into(&mut buf);
            }
            black_box(buf.len())
        })
    });

    let mut arena = BytesMut::with_capacity(16 * 1024);
    g.bench_function("parse_and_decode_to_bytes_160", |b| {
        b.iter(|| {
            if let Ok(Inbound::Media(m)) = parse_inbound(black_box(&frame)) {
                return black_box(m.decode_payload_in(&mut arena).map(|b| b.len()).ok());
            }
            None
        })
    });

    let start = r#"{"event":"start","sequenceNumber":"1","start":{"streamSid":"MZ0123456789abcdef0123456789abcdef","callSid":"CA1","tracks":["inbound"]},"streamSid":"MZ0123456789abcdef0123456789abcdef"}"#;
    let mut state = StreamState::default();
    let _ = state.handle_text(start);
    g.bench_function("stream_state_handle_media_160", |b| {
        b.iter(|| match state.handle_text(black_box(&frame)) {
            StreamEvent::Audio(a) => black_box(a.audio.len()),
            _ => 0,
        })
    });

    let audio = [0xFFu8; 160];
    let mut out = String::with_capacity(512);
    g.bench_function("build_outbound_media_160", |b| {
        b.iter(|| {
            write_media(&mut out, black_box(SID), black_box(&audio));
            black_box(out.len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
