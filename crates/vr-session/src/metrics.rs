//! Per-call counters and timings, readable at any time and logged when the call ends.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::marks::MarkOutcome;

/// Live counters of one call. All updates are relaxed atomics: no lock on the frame path.
#[derive(Debug, Default)]
pub struct CallMetrics {
    frames_in: AtomicU64,
    frames_out: AtomicU64,
    bytes_out: AtomicU64,
    inbound_dropped: AtomicU64,
    marks_played: AtomicU64,
    marks_cleared: AtomicU64,
    marks_disconnected: AtomicU64,
    marks_timed_out: AtomicU64,
    clears: AtomicU64,
    dtmf: AtomicU64,
    unknown_marks: AtomicU64,
    timings: Mutex<Timings>,
}

#[derive(Debug, Default, Clone)]
struct Timings {
    first_byte: Vec<Duration>,
    first_frame: Vec<Duration>,
    mark_round_trip: Vec<Duration>,
}

/// Keep at most this many samples of each timing per call (a call has a few dozen turns).
const MAX_TIMING_SAMPLES: usize = 256;

fn push_sample(v: &mut Vec<Duration>, d: Duration) {
    if v.len() < MAX_TIMING_SAMPLES {
        v.push(d);
    }
}

/// A copy of a call's counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Caller frames received from the transport.
    pub frames_in: u64,
    /// Audio messages handed to the transport.
    pub frames_out: u64,
    /// Audio bytes handed to the transport.
    pub bytes_out: u64,
    /// Caller frames dropped because the speech-to-text side fell behind.
    pub inbound_dropped: u64,
    /// Marks that played.
    pub marks_played: u64,
    /// Marks discarded by a clear.
    pub marks_cleared: u64,
    /// Marks released by the end of the call.
    pub marks_disconnected: u64,
    /// Marks that timed out.
    pub marks_timed_out: u64,
    /// Clears sent.
    pub clears: u64,
    /// DTMF digits received.
    pub dtmf: u64,
    /// Mark echoes that matched no pending mark.
    pub unknown_marks: u64,
    /// Speak request → first provider byte, per utterance.
    pub first_byte: Vec<Duration>,
    /// Speak request → first frame handed to the transport, per utterance.
    pub first_frame: Vec<Duration>,
    /// Mark sent on the wire → echo received, per played mark.
    pub mark_round_trip: Vec<Duration>,
}

impl CallMetrics {
    pub(crate) fn frame_in(&self) {
        self.frames_in.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn frame_out(&self, bytes: usize) {
        self.frames_out.fetch_add(1, Ordering::Relaxed);
        self.bytes_out.fetch_add(bytes as u64, Ordering::Relaxed);
    }
    pub(crate) fn inbound_drop(&self) {
        self.inbound_dropped.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn clear(&self) {
        self.clears.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn dtmf(&self) {
        self.dtmf.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn unknown_mark(&self) {
        self.unknown_marks.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn mark(&self, outcome: MarkOutcome) {
        let counter = match outcome {
            MarkOutcome::Played => &self.marks_played,
            MarkOutcome::Cleared => &self.marks_cleared,
            MarkOutcome::Disconnected => &self.marks_disconnected,
            MarkOutcome::TimedOut => &self.marks_timed_out,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
    fn timings(&self) -> std::sync::MutexGuard<'_, Timings> {
        self.timings.lock().unwrap_or_else(|p| p.into_inner())
    }
    pub(crate) fn first_byte(&self, d: Duration) {
        push_sample(&mut self.timings().first_byte, d);
    }
    pub(crate) fn first_frame(&self, d: Duration) {
        push_sample(&mut self.timings().first_frame, d);
    }
    pub(crate) fn mark_round_trip(&self, d: Duration) {
        push_sample(&mut self.timings().mark_round_trip, d);
    }

    /// Reads every counter.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let t = self.timings().clone();
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        MetricsSnapshot {
            frames_in: get(&self.frames_in),
            frames_out: get(&self.frames_out),
            bytes_out: get(&self.bytes_out),
            inbound_dropped: get(&self.inbound_dropped),
            marks_played: get(&self.marks_played),
            marks_cleared: get(&self.marks_cleared),
            marks_disconnected: get(&self.marks_disconnected),
            marks_timed_out: get(&self.marks_timed_out),
            clears: get(&self.clears),
            dtmf: get(&self.dtmf),
            unknown_marks: get(&self.unknown_marks),
            first_byte: t.first_byte,
            first_frame: t.first_frame,
            mark_round_trip: t.mark_round_trip,
        }
    }
}
