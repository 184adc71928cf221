//! `cargo xtask load` (placeholder until implemented).

/// Runs the command.
pub fn run(_args: &[String]) -> Result<(), String> {
    Err("`load` is not implemented yet".into())
}
