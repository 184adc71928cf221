//! A CI stage: one command with a time budget and a printed duration.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One step of `cargo xtask ci`.
pub struct Stage {
    pub name: &'static str,
    pub budget: Duration,
    pub command: Command,
}

impl Stage {
    pub fn new(name: &'static str, budget_secs: u64, program: &str, args: &[&str]) -> Self {
        let mut command = Command::new(program);
        command.args(args).current_dir(workspace_root());
        Stage {
            name,
            budget: Duration::from_secs(budget_secs),
            command,
        }
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.command.env(key, value);
        self
    }

    /// Runs the stage, killing it when it outlives its budget.
    pub fn run(mut self) -> Result<Duration, String> {
        println!("==> {} (budget {} s)", self.name, self.budget.as_secs());
        let started = Instant::now();
        let mut child = self
            .command
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("{}: cannot start: {e}", self.name))?;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    let took = started.elapsed();
                    println!("<== {} took {:.1} s", self.name, took.as_secs_f64());
                    return if status.success() {
                        Ok(took)
                    } else {
                        Err(format!("stage `{}` failed ({status})", self.name))
                    };
                }
                Ok(None) if started.elapsed() > self.budget => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "stage `{}` went over its budget of {} s",
                        self.name,
                        self.budget.as_secs()
                    ));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(100)),
                Err(e) => return Err(format!("{}: wait failed: {e}", self.name)),
            }
        }
    }
}

/// The workspace root (the parent of this crate's manifest directory).
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// Whether `cargo <sub>` is installed (e.g. `nextest`).
pub fn cargo_has(sub: &str) -> bool {
    Command::new("cargo")
        .args([sub, "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}
