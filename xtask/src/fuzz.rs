//! `cargo xtask fuzz`: runs each cargo-fuzz target in `fuzz/` for N seconds, on stable Rust
//! (`cargo fuzz run -s none`: no sanitizer, which is what needs nightly).

use std::path::Path;
use std::process::Command;

use crate::stage::{cargo_has, workspace_root};

/// The targets in `fuzz/fuzz_targets/`, in the order they run.
const TARGETS: [&str; 4] = ["media_streams", "webhook", "codec", "wav"];

const DEFAULT_SECONDS: u64 = 60;

const HELP: &str =
    "usage: cargo xtask fuzz [--seconds N] [--target NAME] [--minimize] [-- LIBFUZZER_ARGS...]

Runs each cargo-fuzz target for N seconds (default 60) with `cargo fuzz run -s none`, which
works on the stable toolchain. Targets: media_streams, webhook, codec, wav.

  --seconds N     fuzzing time per target (libFuzzer -max_total_time); 0 skips fuzzing
  --target NAME   run only this target
  --minimize      afterwards, shrink fuzz/corpus/<target>/ to the inputs needed for its edge
                  coverage, always keeping the named seed files (names that are not a
                  40-digit hash); run it before committing a grown corpus
  -- ARGS         passed on to libFuzzer (e.g. -- -jobs=2 -max_len=8192)

New inputs that reach new code are added to fuzz/corpus/<target>/; fuzz/regressions/<target>/
is read as extra seeds. A crash stops the run and leaves its input in fuzz/artifacts/<target>/:
fix the bug, then move the input to fuzz/regressions/<target>/ so the corpus replay test
(`cargo test -p vr-fuzz`) keeps checking it.

Needs cargo-fuzz: cargo install cargo-fuzz
";

#[derive(Debug, PartialEq, Eq)]
struct Options {
    seconds: u64,
    targets: Vec<&'static str>,
    minimize: bool,
    libfuzzer: Vec<String>,
}

/// Runs the command.
pub fn run(args: &[String]) -> Result<(), String> {
    let Some(opts) = parse(args)? else {
        print!("{HELP}");
        return Ok(());
    };
    if !cargo_has("fuzz") {
        return Err(
            "cargo-fuzz is not installed; install it with `cargo install cargo-fuzz` \
             (stable Rust is enough: targets run with `-s none`)"
                .into(),
        );
    }
    let fuzz_dir = workspace_root().join("fuzz");
    let mut summary = Vec::new();
    for target in &opts.targets {
        let corpus = fuzz_dir.join("corpus").join(target);
        std::fs::create_dir_all(&corpus)
            .map_err(|e| format!("cannot create {}: {e}", corpus.display()))?;
        let before = count_files(&corpus);
        if opts.seconds > 0 {
            fuzz(&fuzz_dir, target, &opts)?;
        }
        if opts.minimize {
            minimize(&fuzz_dir, target)?;
        }
        summary.push((*target, before, count_files(&corpus)));
    }
    println!("\nfuzz summary ({} s per target):", opts.seconds);
    for (target, before, after) in summary {
        println!("  {target:<14} corpus {before} -> {after} files");
    }
    Ok(())
}

fn fuzz(fuzz_dir: &Path, target: &str, opts: &Options) -> Result<(), String> {
    println!("==> fuzzing `{target}` for {} s", opts.seconds);
    let mut command = cargo_fuzz_run(fuzz_dir, target);
    command.arg(Path::new("corpus").join(target));
    let regressions = Path::new("regressions").join(target);
    if fuzz_dir.join(&regressions).is_dir() {
        command.arg(regressions);
    }
    command
        .arg("--")
        .arg(format!("-max_total_time={}", opts.seconds))
        .args(&opts.libfuzzer);
    let status = command
        .status()
        .map_err(|e| format!("cannot run cargo fuzz: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "fuzz target `{target}` failed ({status}); a crashing input is in \
             fuzz/artifacts/{target}/ (reproduce with `cargo fuzz run -s none {target} <file>` \
             in fuzz/)"
        ))
    }
}

/// Rebuilds the corpus as its named seeds plus the fewest inputs that add edge coverage
/// (libFuzzer `-merge=1`, counters off so hit counts do not keep near-duplicates).
fn minimize(fuzz_dir: &Path, target: &str) -> Result<(), String> {
    println!("==> minimizing the `{target}` corpus");
    let corpus = fuzz_dir.join("corpus").join(target);
    // Under fuzz/target/ (ignored by git), so an interrupted run leaves the corpus alone.
    let merged = fuzz_dir.join("target").join(format!("minimizing-{target}"));
    let io = |what: &str, e: std::io::Error| format!("{what}: {e}");
    if merged.exists() {
        std::fs::remove_dir_all(&merged).map_err(|e| io("cannot clear the merge dir", e))?;
    }
    std::fs::create_dir_all(&merged).map_err(|e| io("cannot create the merge dir", e))?;
    let entries = std::fs::read_dir(&corpus).map_err(|e| io("cannot read the corpus", e))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !is_hash_name(&name.to_string_lossy()) {
            std::fs::copy(entry.path(), merged.join(&name))
                .map_err(|e| io("cannot copy a seed", e))?;
        }
    }
    let status = cargo_fuzz_run(fuzz_dir, target)
        .arg(&merged)
        .arg(&corpus)
        .args(["--", "-merge=1", "-use_counters=0"])
        .status()
        .map_err(|e| format!("cannot run cargo fuzz: {e}"))?;
    if !status.success() {
        let _ = std::fs::remove_dir_all(&merged);
        return Err(format!(
            "minimizing `{target}` failed ({status}); corpus left as it was"
        ));
    }
    std::fs::remove_dir_all(&corpus).map_err(|e| io("cannot replace the corpus", e))?;
    std::fs::rename(&merged, &corpus).map_err(|e| io("cannot replace the corpus", e))
}

/// libFuzzer names the inputs it saves by their SHA-1 (40 hex digits).
fn is_hash_name(name: &str) -> bool {
    name.len() == 40 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

fn cargo_fuzz_run(fuzz_dir: &Path, target: &str) -> Command {
    let mut command = Command::new("cargo");
    command
        .current_dir(fuzz_dir)
        .args(["fuzz", "run", "-s", "none", target]);
    command
}

/// `Ok(None)` for `--help`.
fn parse(args: &[String]) -> Result<Option<Options>, String> {
    let mut opts = Options {
        seconds: DEFAULT_SECONDS,
        targets: TARGETS.to_vec(),
        minimize: false,
        libfuzzer: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_owned())),
            _ => (arg.as_str(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| format!("`{name}` needs a value\n\n{HELP}"))
        };
        match flag {
            "-h" | "--help" => return Ok(None),
            "--seconds" => {
                let v = value("--seconds")?;
                opts.seconds = v
                    .parse()
                    .map_err(|_| format!("`--seconds` wants a whole number, got `{v}`"))?;
            }
            "--target" => {
                let v = value("--target")?;
                let target = TARGETS.iter().find(|t| **t == v).ok_or_else(|| {
                    format!(
                        "unknown fuzz target `{v}` (targets: {})",
                        TARGETS.join(", ")
                    )
                })?;
                opts.targets = vec![*target];
            }
            "--minimize" => opts.minimize = true,
            "--" => {
                opts.libfuzzer = it.by_ref().cloned().collect();
            }
            other => return Err(format!("unknown option `{other}`\n\n{HELP}")),
        }
    }
    if opts.seconds == 0 && !opts.minimize {
        return Err("`--seconds 0` only makes sense with `--minimize`".into());
    }
    Ok(Some(opts))
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| entries.filter(|e| e.is_ok()).count())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_names_are_libfuzzer_inputs() {
        assert!(is_hash_name("6c7b0c8b39ee22dae9cecb5f4a37610ca31b6a3d"));
        assert!(!is_hash_name("call"));
        assert!(!is_hash_name(
            "crash-6c7b0c8b39ee22dae9cecb5f4a37610ca31b6a3d"
        ));
    }

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn parses_seconds_target_and_passthrough() {
        let opts = parse(&args(&["--seconds", "5", "--target=wav", "--", "-jobs=2"]))
            .unwrap()
            .unwrap();
        assert_eq!(
            opts,
            Options {
                seconds: 5,
                targets: vec!["wav"],
                minimize: false,
                libfuzzer: vec!["-jobs=2".into()],
            }
        );
        let all = parse(&[]).unwrap().unwrap();
        assert_eq!(
            (all.seconds, all.targets.len(), all.minimize),
            (60, 4, false)
        );
        let only = parse(&args(&["--seconds=0", "--minimize"]))
            .unwrap()
            .unwrap();
        assert_eq!((only.seconds, only.minimize), (0, true));
    }

    #[test]
    fn refuses_bad_arguments() {
        assert!(parse(&args(&["--help"])).unwrap().is_none());
        assert!(parse(&args(&["--seconds", "0"])).is_err());
        assert!(parse(&args(&["--seconds", "-1"])).is_err());
        assert!(parse(&args(&["--seconds"])).is_err());
        assert!(parse(&args(&["--target", "nope"])).is_err());
        assert!(parse(&args(&["--bogus"])).is_err());
    }
}
