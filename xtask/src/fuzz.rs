//! `cargo xtask fuzz` (placeholder until implemented).

/// Runs the command.
pub fn run(_args: &[String]) -> Result<(), String> {
    Err("`fuzz` is not implemented yet".into())
}
