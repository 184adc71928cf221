//! One 20 ms frame through the session's per-frame path, carried the way the server's stream
//! task carries it (figures are per frame):
//!
//! - inbound: a Media Streams `media` text message → `StreamState::handle_text` →
//!   `TransportLink::push_inbound` → the frame read from the STT provider's `AudioReceiver`;
//! - outbound: a 160-byte TTS chunk → `CallHandle::send_audio` → `TransportLink::next_outbound`
//!   → the outbound `media` text message built by `StreamState::media`.
//!
//! Both run on a current-thread tokio runtime, so the figures are the CPU cost of the path
//! without cross-thread wake-ups; the WebSocket read and write themselves are not included.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vr_session::{
    AudioReceiver, CallInfo, DisconnectReason, Outbound, SttError, SttEventSink, SttProvider,
    TransportLink, VoiceSession,
};
use vr_twilio::proto::{MediaMeta, write_inbound_media};
use vr_twilio::stream::{StreamEvent, StreamState, Track};

const SID: &str = "MZ0123456789abcdef0123456789abcdef";

/// Frames pushed before letting the STT drain: well under the inbound queue (500), so none
/// are dropped.
const BATCH: u64 = 64;

/// An STT provider that reads and counts every frame, as a real one would before sending it.
struct DrainingStt {
    frames: Arc<AtomicU64>,
    started: Arc<AtomicBool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

#[async_trait]
impl SttProvider for DrainingStt {
    fn name(&self) -> &str {
        "draining"
    }

    async fn start(&mut self, mut audio: AudioReceiver, _: SttEventSink) -> Result<(), SttError> {
        let frames = self.frames.clone();
        self.task = Some(tokio::spawn(async move {
            while let Some(frame) = audio.recv().await {
                black_box(frame.len());
                frames.fetch_add(1, Ordering::Release);
            }
        }));
        self.started.store(true, Ordering::Release);
        Ok(())
    }

    async fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

struct Call {
    link: TransportLink,
    proto: StreamState,
    frames: Arc<AtomicU64>,
}

/// A session with a draining STT, attached as the server attaches it after `start`.
async fn connect() -> Call {
    let frames = Arc::new(AtomicU64::new(0));
    let started = Arc::new(AtomicBool::new(false));
    let session = VoiceSession::new();
    let (f, s) = (frames.clone(), started.clone());
    session.set_stt_factory(Some(Arc::new(move || {
        Ok(Box::new(DrainingStt {
            frames: f.clone(),
            started: s.clone(),
            task: None,
        }) as Box<dyn SttProvider>)
    })));
    let mut proto = StreamState::default();
    let start = format!(
        r#"{{"event":"start","sequenceNumber":"1","start":{{"streamSid":"{SID}","callSid":"CA1","tracks":["inbound"],"mediaFormat":{{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}},"streamSid":"{SID}"}}"#
    );
    let StreamEvent::Started(info) = proto.handle_text(&start) else {
        panic!("start was not accepted");
    };
    let link = session
        .attach(CallInfo {
            call_sid: info.call_sid,
            stream_sid: info.stream_sid,
            ..CallInfo::default()
        })
        .expect("attach");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !started.load(Ordering::Acquire) {
        assert!(Instant::now() < deadline, "the STT did not start");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Call {
        link,
        proto,
        frames,
    }
}

fn media_frame() -> String {
    let audio: Vec<u8> = (0..160u8).map(|i| i.wrapping_mul(37)).collect();
    let mut out = String::new();
    write_inbound_media(
        &mut out,
        &MediaMeta {
            sequence_number: 2,
            stream_sid: SID,
            track: "inbound",
            chunk: 1,
            timestamp: 0,
        },
        &audio,
    );
    out
}

/// Lets the STT task run until it has read `target` frames in total.
async fn drained(frames: &AtomicU64, target: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while frames.load(Ordering::Acquire) < target {
        assert!(Instant::now() < deadline, "the STT stopped reading");
        tokio::task::yield_now().await;
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut call = rt.block_on(connect());
    let frame = media_frame();
    let mut g = c.benchmark_group("per_frame");
    g.throughput(Throughput::Elements(1));

    g.bench_function("inbound_media_text_to_stt_receiver", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let base = call.frames.load(Ordering::Acquire);
                let started = Instant::now();
                let mut pushed = 0;
                while pushed < iters {
                    let batch = (iters - pushed).min(BATCH);
                    for _ in 0..batch {
                        match call.proto.handle_text(black_box(&frame)) {
                            StreamEvent::Audio(f) if f.track != Track::Outbound => {
                                call.link.push_inbound(f.audio)
                            }
                            other => panic!("unexpected {other:?}"),
                        }
                    }
                    pushed += batch;
                    drained(&call.frames, base + pushed).await;
                }
                started.elapsed()
            })
        })
    });

    let chunk = Bytes::from(vec![0xFFu8; 160]);
    let handle = call.link.call();
    g.bench_function("outbound_tts_chunk_to_media_text", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut buf = String::new();
                let started = Instant::now();
                for _ in 0..iters {
                    handle
                        .send_audio(black_box(chunk.clone()))
                        .await
                        .expect("send_audio");
                    let Some(Outbound::Media(audio)) = call.link.next_outbound().await else {
                        panic!("no media came out");
                    };
                    buf.clear();
                    call.proto.media(&audio, &mut buf).expect("media");
                    // The server moves the text into the WebSocket message, as here.
                    black_box(std::mem::take(&mut buf));
                }
                started.elapsed()
            })
        })
    });
    g.finish();

    let metrics = call.link.call().metrics();
    assert_eq!(metrics.inbound_dropped, 0, "the STT fell behind");
    assert_eq!(metrics.frames_in, call.frames.load(Ordering::Acquire));
    rt.block_on(call.link.close(DisconnectReason::RemoteStop));
}

criterion_group!(benches, bench);
criterion_main!(benches);
