//! `cargo xtask ci`: the whole check, stage by stage, each with a time budget.

use crate::stage::{Stage, cargo_has};
use std::time::Duration;

/// Runs every stage in order and prints a summary of durations.
pub fn run(args: &[String]) -> Result<(), String> {
    if let Some(extra) = args.first() {
        return Err(format!("`ci` takes no arguments (got `{extra}`)"));
    }
    let nextest = cargo_has("nextest");
    let mut stages = vec![
        Stage::new("rustfmt", 120, "cargo", &["fmt", "--all", "--", "--check"]),
        Stage::new(
            "clippy",
            1200,
            "cargo",
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--all-features",
                "--",
                "-D",
                "warnings",
            ],
        ),
    ];
    stages.push(if nextest {
        Stage::new(
            "tests (nextest)",
            1500,
            "cargo",
            &[
                "nextest",
                "run",
                "--workspace",
                "--all-features",
                "--no-fail-fast",
                "--failure-output",
                "final",
            ],
        )
    } else {
        Stage::new(
            "tests (cargo test)",
            1500,
            "cargo",
            &["test", "--workspace", "--all-features", "--no-fail-fast"],
        )
    });
    stages.push(Stage::new(
        "load smoke",
        900,
        "cargo",
        &[
            "xtask",
            "load",
            "--calls",
            "50",
            "--seconds",
            "10",
            "--check",
            "--profile",
            "dev",
        ],
    ));
    stages.push(Stage::new(
        "soak",
        900,
        "cargo",
        &[
            "xtask",
            "soak",
            "--minutes",
            "1",
            "--calls",
            "20",
            "--check",
            "--profile",
            "dev",
        ],
    ));
    stages.push(Stage::new(
        "doctests",
        600,
        "cargo",
        &["test", "--workspace", "--all-features", "--doc"],
    ));
    stages.push(
        Stage::new(
            "docs",
            600,
            "cargo",
            &["doc", "--workspace", "--all-features", "--no-deps"],
        )
        .env("RUSTDOCFLAGS", "-D warnings"),
    );
    stages.push(Stage::new(
        "examples",
        600,
        "cargo",
        &["build", "--workspace", "--all-features", "--examples"],
    ));

    let mut summary: Vec<(&'static str, Duration)> = Vec::new();
    for stage in stages {
        let name = stage.name;
        let took = stage.run()?;
        summary.push((name, took));
    }
    println!("\nci summary:");
    let mut total = Duration::ZERO;
    for (name, took) in &summary {
        println!("  {name:<20} {:>7.1} s", took.as_secs_f64());
        total += *took;
    }
    println!("  {:<20} {:>7.1} s", "total", total.as_secs_f64());
    Ok(())
}
