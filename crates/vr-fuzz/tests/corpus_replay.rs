//! Replays the committed fuzz corpus and every saved crash through its target, as ordinary
//! tests: no fuzzer needed. A missing or empty corpus directory fails, so the corpus cannot
//! silently disappear.

use std::path::PathBuf;

use vr_fuzz::{Target, replay_corpus};

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn replay(target: Target) {
    let corpus = fuzz_dir().join("corpus").join(target.name());
    let files = replay_corpus(target, &corpus).unwrap_or_else(|e| panic!("{target}: {e}"));
    assert!(files > 0, "{target}: {} is empty", corpus.display());
    let regressions = fuzz_dir().join("regressions").join(target.name());
    let fixed = if regressions.is_dir() {
        replay_corpus(target, &regressions).unwrap_or_else(|e| panic!("{target}: {e}"))
    } else {
        0
    };
    println!("{target}: replayed {files} corpus file(s) and {fixed} regression(s)");
}

#[test]
fn media_streams_corpus() {
    replay(Target::MediaStreams);
}

#[test]
fn webhook_corpus() {
    replay(Target::Webhook);
}

#[test]
fn codec_corpus() {
    replay(Target::Codec);
}

#[test]
fn wav_corpus() {
    replay(Target::Wav);
}

#[test]
fn every_target_has_a_test_here() {
    // Adding a target without a corpus test above would leave it unreplayed.
    assert_eq!(Target::ALL.len(), 4);
}
