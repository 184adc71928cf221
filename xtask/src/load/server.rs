//! Building and running `vr serve` for a measurement: a free loopback port, optional CPU
//! pinning with `taskset`, logs to a file, readiness on `/healthz`, SIGTERM at the end.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::time::Instant;

use super::metrics::http_get;
use super::options::Profile;
use crate::stage::workspace_root;

/// How long the server gets to answer `/healthz`.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the server gets to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// The cargo target directory.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// Builds `vr` with `profile` and returns the binary's path.
pub fn build(profile: Profile) -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace_root())
        .args(["build", "-p", "voice-runtime", "--bin", "vr"]);
    match profile {
        Profile::Release => cmd.arg("--release"),
        Profile::Dev => cmd.args(["--profile", "dev"]),
    };
    println!("building vr ({})", profile.name());
    let status = cmd
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building vr failed ({status})"));
    }
    let bin = target_dir().join(profile.dir()).join("vr");
    if bin.exists() {
        Ok(bin)
    } else {
        Err(format!("{} was not built", bin.display()))
    }
}

/// A free loopback port (the port is released before the server binds it).
fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| format!("bind: {e}"))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("local_addr: {e}"))
}

/// A running `vr serve`; killed on drop if not stopped.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// Process id.
    pub pid: u32,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its log file (stdout and stderr).
    pub log: PathBuf,
}

impl Server {
    /// Starts `bin <subcommand> --host 127.0.0.1 --port P <args>`, on `core` when given, and
    /// waits for `/healthz`.
    pub async fn start(
        bin: &Path,
        subcommand: &str,
        args: &[String],
        core: Option<usize>,
        log: PathBuf,
    ) -> Result<Server, String> {
        let port = free_port()?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let file = File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let file2 = file
            .try_clone()
            .map_err(|e| format!("{}: {e}", log.display()))?;
        let mut cmd = match core {
            Some(c) => {
                let mut cmd = Command::new("taskset");
                cmd.args(["-c", &c.to_string()]).arg(bin);
                cmd
            }
            None => Command::new(bin),
        };
        cmd.arg(subcommand)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(args)
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(file2);
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let mut server = Server {
            pid: child.id(),
            child,
            addr,
            log,
        };
        server.wait_ready().await?;
        Ok(server)
    }

    async fn wait_ready(&mut self) -> Result<(), String> {
        let until = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "vr exited before it was ready ({status}); log:\n{}",
                    self.log_tail(20)
                ));
            }
            if let Ok((200, _)) = http_get(self.addr, "/healthz", Duration::from_secs(2)).await {
                return Ok(());
            }
            if Instant::now() > until {
                return Err(format!(
                    "vr did not answer /healthz within {READY_TIMEOUT:?}; log:\n{}",
                    self.log_tail(20)
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The last `n` lines of the log.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Sends SIGTERM and waits for the exit; returns a description of how it ended
    /// (`Err` when it had to be killed or failed).
    pub async fn stop(mut self) -> Result<String, String> {
        use nix::sys::signal::{Signal, kill};
        if let Ok(Some(status)) = self.child.try_wait() {
            return Err(format!("vr had already exited ({status})"));
        }
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.pid).unwrap_or(i32::MAX));
        kill(pid, Signal::SIGTERM).map_err(|e| format!("SIGTERM: {e}"))?;
        let until = Instant::now() + STOP_TIMEOUT;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) if status.success() => {
                    return Ok(format!("exited 0 after SIGTERM ({status})"));
                }
                Ok(Some(status)) => return Err(format!("exited badly after SIGTERM ({status})")),
                Ok(None) if Instant::now() > until => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return Err(format!(
                        "did not exit within {STOP_TIMEOUT:?} of SIGTERM; killed"
                    ));
                }
                Ok(None) => tokio::time::sleep(Duration::from_millis(50)).await,
                Err(e) => return Err(format!("wait: {e}")),
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
