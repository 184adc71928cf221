//! `cargo xtask bench` (placeholder until implemented).

/// Runs the command.
pub fn run(_args: &[String]) -> Result<(), String> {
    Err("`bench` is not implemented yet".into())
}
