//! `cargo xtask soak` (placeholder until implemented).

/// Runs the command.
pub fn run(_args: &[String]) -> Result<(), String> {
    Err("`soak` is not implemented yet".into())
}
