//! `cargo xtask bench`: every criterion bench in the workspace, with criterion's own
//! arguments passed through.

use std::process::Command;

use crate::stage::workspace_root;

const HELP: &str = "usage: cargo xtask bench [CRITERION_ARGS...]

Runs `cargo bench --workspace --bench '*'` (every criterion bench target, and no libtest
harness that would choke on criterion's flags); arguments are passed to criterion after `--`:

  cargo xtask bench                      every bench
  cargo xtask bench per_frame            benches whose name matches `per_frame`
  cargo xtask bench -- --quick           a faster, rougher run (a leading `--` is optional)
  cargo xtask bench media --save-baseline main

Benches: vr-codec `codec` (G.711, mixing, resampling), vr-twilio `proto` (Media Streams
messages) and `per_frame` (one frame through the session, inbound and outbound).
Reports land in target/criterion/.
";

/// Runs the command.
pub fn run(args: &[String]) -> Result<(), String> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        print!("{HELP}");
        return Ok(());
    }
    let status = Command::new("cargo")
        .current_dir(workspace_root())
        .args(command_args(args))
        .status()
        .map_err(|e| format!("cannot run cargo bench: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("cargo bench failed ({status})"))
    }
}

fn command_args(args: &[String]) -> Vec<String> {
    let mut out: Vec<String> = ["bench", "--workspace", "--bench", "*"]
        .map(String::from)
        .to_vec();
    let extra = match args.first().map(String::as_str) {
        Some("--") => &args[1..],
        _ => args,
    };
    if !extra.is_empty() {
        out.push("--".into());
        out.extend(extra.iter().cloned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn passes_criterion_arguments_after_the_separator() {
        let base = ["bench", "--workspace", "--bench", "*"];
        assert_eq!(command_args(&[]), args(&base));
        assert_eq!(
            command_args(&args(&["per_frame", "--quick"])),
            args(&[&base[..], &["--", "per_frame", "--quick"]].concat())
        );
        assert_eq!(
            command_args(&args(&["--", "--quick"])),
            args(&[&base[..], &["--", "--quick"]].concat())
        );
    }
}
