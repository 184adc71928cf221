//! Project automation. `cargo xtask ci` is the one test command; CI runs exactly it.

mod bench;
mod ci;
mod fuzz;
mod load;
mod soak;
mod stage;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <command> [options]

commands:
  ci      rustfmt check, clippy (-D warnings), tests, doctests, docs, examples, load smoke, soak
  bench   criterion benches (codec, Media Streams protocol, session per-frame path)
  load    N simulated real-time Twilio calls against `vr serve` (see `cargo xtask load --help`)
  fuzz    runs every cargo-fuzz target for N seconds (`cargo xtask fuzz --seconds N`)
  soak    calls in a loop against `vr serve` for M minutes (see `cargo xtask soak --help`)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = args.get(1..).unwrap_or_default();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci::run(rest),
        Some("bench") => bench::run(rest),
        Some("load") => load::run(rest),
        Some("fuzz") => fuzz::run(rest),
        Some("soak") => soak::run(rest),
        Some(load::baseline::SUBCOMMAND) => load::baseline::run(rest),
        Some("-h" | "--help" | "help") | None => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(format!("unknown command `{other}`\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}
