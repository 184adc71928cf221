//! Process set-up for a fair measurement: CPU pinning and the open-files limit.

use std::process::{Command, Stdio};

/// Pins the calling thread (and threads it starts later) to `core`.
pub fn pin_self(core: usize) -> Result<(), String> {
    use nix::sched::{CpuSet, sched_setaffinity};
    let mut set = CpuSet::new();
    set.set(core).map_err(|e| format!("cpu {core}: {e}"))?;
    sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
        .map_err(|e| format!("sched_setaffinity({core}): {e}"))
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the new soft limit.
pub fn raise_nofile() -> Result<u64, String> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(|e| format!("getrlimit: {e}"))?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard).map_err(|e| format!("setrlimit: {e}"))?;
    }
    Ok(hard.max(soft))
}

/// Whether `taskset` can be run.
pub fn taskset_available() -> bool {
    Command::new("taskset")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Set in the environment of a release re-run so it does not re-run itself again.
const RELEASE_GUARD: &str = "XTASK_LOAD_RELEASE";

/// A debug build of xtask is a slow load generator: with `--profile release`, build xtask in
/// release and replace this process with it (same arguments). Returns only when no re-run
/// is needed (already optimised, or already re-run).
pub fn rerun_optimised(command: &str, args: &[String]) -> Result<(), String> {
    use std::os::unix::process::CommandExt;
    if !cfg!(debug_assertions) || std::env::var_os(RELEASE_GUARD).is_some() {
        return Ok(());
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    println!("building the load generator (xtask) in release");
    let status = Command::new(cargo)
        .current_dir(crate::stage::workspace_root())
        .args(["build", "--release", "-p", "xtask"])
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building xtask in release failed ({status})"));
    }
    let exe = super::server::target_dir().join("release").join("xtask");
    let err = Command::new(&exe)
        .arg(command)
        .args(args)
        .env(RELEASE_GUARD, "1")
        .exec();
    Err(format!("cannot run {}: {err}", exe.display()))
}
