//! Logs on stderr: text or JSON, filtered by `RUST_LOG`.

use std::io::IsTerminal;

use tracing::Level;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::fmt;
use tracing_subscriber::prelude::*;

/// Targets whose trace output dumps raw protocol traffic: tungstenite logs every client
/// handshake request with its headers (a provider's API key among them) and every frame's
/// payload. Their trace events are dropped whatever `RUST_LOG` says, so no log level shows a
/// secret; their debug output and above is kept.
const RAW_DUMP_TARGETS: [&str; 1] = ["tungstenite"];

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (structured logs).
    Json,
}

fn raw_dump(metadata: &tracing::Metadata<'_>) -> bool {
    *metadata.level() == Level::TRACE
        && RAW_DUMP_TARGETS.iter().any(|t| {
            metadata
                .target()
                .strip_prefix(t)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
        })
}

/// Installs the subscriber; `default` applies when `RUST_LOG` is unset.
pub fn init(format: LogFormat, default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let ansi = std::io::stderr().is_terminal();
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(filter_fn(|metadata| !raw_dump(metadata)));
    let _ = match format {
        LogFormat::Text => registry
            .with(fmt::layer().with_writer(std::io::stderr).with_ansi(ansi))
            .try_init(),
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_writer(std::io::stderr)
                    .with_ansi(ansi),
            )
            .try_init(),
    };
}
