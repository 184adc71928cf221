//! `GET /metrics`: Prometheus text exposition of the server's counters.
//!
//! Written by hand: the format is a few lines of text, and the counters already live in
//! atomics ([`vr_twilio::server::ServerStats`], the registry, the runtime), so no metrics
//! crate sits on the per-frame path.

use std::fmt::Write as _;

use vr_session::counters::END_REASONS;
use vr_session::latency::HistogramSnapshot;
use vr_session::{ErrorKind, ServerCounters, TurnLatency};
use vr_twilio::server::VoiceServer;
use vr_twilio::stream::IgnoreReason;

/// The Prometheus content type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Renders every metric of `server`, the calls' turn latencies and counters, and the current
/// tokio runtime's tasks.
pub fn render(server: &VoiceServer, latency: &TurnLatency, counters: &ServerCounters) -> String {
    let stats = server.stats();
    let mut out = String::with_capacity(2048);
    let mut gauge = |name: &str, help: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    };
    gauge(
        "vr_live_calls",
        "Calls connected right now.",
        server.registry().len() as u64,
    );
    let alive = tokio::runtime::Handle::try_current()
        .map(|h| h.metrics().num_alive_tasks() as u64)
        .unwrap_or(0);
    gauge(
        "vr_runtime_alive_tasks",
        "Tokio tasks alive in the server runtime.",
        alive,
    );
    let mut counter = |name: &str, help: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
        );
    };
    counter(
        "vr_streams_opened_total",
        "Media Streams websockets accepted.",
        stats.streams_opened(),
    );
    counter(
        "vr_streams_closed_total",
        "Media Streams websockets finished.",
        stats.streams_closed(),
    );
    counter(
        "vr_frames_in_total",
        "Inbound caller audio frames handed to calls.",
        stats.frames_in(),
    );
    counter(
        "vr_frames_out_total",
        "Outbound media messages written to sockets.",
        stats.frames_out(),
    );
    counter(
        "vr_idle_timeouts_total",
        "Streams ended by the idle timeout.",
        stats.idle_timeouts(),
    );
    counter(
        "vr_signature_rejections_total",
        "Requests refused for a missing or invalid X-Twilio-Signature.",
        stats.signature_rejections(),
    );
    counter(
        "vr_inbound_frames_dropped_total",
        "Caller frames dropped (oldest first) because a call's recogniser fell behind.",
        counters.inbound_dropped(),
    );
    write_labelled(
        &mut out,
        ("vr_errors_total", "Errors on calls, by kind.", "kind"),
        ErrorKind::ALL.map(|k| (k.as_str(), counters.errors(k))),
    );
    write_labelled(
        &mut out,
        ("vr_calls_ended_total", "Calls ended, by reason.", "reason"),
        END_REASONS.map(|r| (r, counters.ended(r))),
    );
    write_labelled(
        &mut out,
        (
            "vr_ignored_frames_total",
            "Inbound websocket messages ignored, by reason.",
            "reason",
        ),
        IgnoreReason::ALL
            .iter()
            .map(|r| (r.as_str(), stats.ignored(*r))),
    );
    for (name, help, histogram) in [
        (
            "vr_turn_commit_to_event_seconds",
            "A committed transcript from the recogniser to the bot's event.",
            &latency.commit_to_event,
        ),
        (
            "vr_turn_speak_to_first_byte_seconds",
            "A speak request to the provider's first audio byte.",
            &latency.speak_to_first_byte,
        ),
        (
            "vr_turn_first_byte_to_first_frame_seconds",
            "The provider's first audio byte to the first frame handed to the transport.",
            &latency.first_byte_to_first_frame,
        ),
    ] {
        write_histogram(&mut out, name, help, &histogram.snapshot());
    }
    out
}

/// One counter family with a label: `(name, help, label name)` and `(label value, count)`s.
fn write_labelled<'a>(
    out: &mut String,
    (name, help, label): (&str, &str, &str),
    values: impl IntoIterator<Item = (&'a str, u64)>,
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    for (value, count) in values {
        let _ = writeln!(out, "{name}{{{label}=\"{value}\"}} {count}");
    }
}

fn write_histogram(out: &mut String, name: &str, help: &str, h: &HistogramSnapshot) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
    for (bound, cumulative) in &h.buckets {
        let le = bound.map_or_else(|| "+Inf".to_owned(), |d| format!("{}", d.as_secs_f64()));
        let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
    }
    let _ = writeln!(
        out,
        "{name}_sum {}\n{name}_count {}",
        h.sum.as_secs_f64(),
        h.count
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_labels_are_snake_case() {
        for reason in IgnoreReason::ALL {
            let label = reason.as_str();
            assert!(!label.is_empty());
            assert!(
                label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{label}"
            );
        }
    }
}
