//! Mixer sinks that pipe the mono mix into a process: the `ffplay` live monitor.

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::core::MixedFrame;
use super::sink::{MixerSink, SinkError};
use crate::Frame;

/// The `ffplay` arguments of the original monitor (B14).
pub const FFPLAY_ARGS: [&str; 10] = [
    "-nodisp",
    "-probesize",
    "32",
    "-fflags",
    "nobuffer",
    "-f",
    "mulaw",
    "-ar",
    "8000",
    "-",
];

/// The error text when `ffplay` is missing (B13).
pub const FFPLAY_NOT_FOUND: &str =
    "ffplay not found — install ffmpeg to use AudioMixer: https://ffmpeg.org/download.html";

/// Frames buffered between the mixer and the pipe writer thread (1 s).
const QUEUE_FRAMES: usize = 50;
/// How long shutdown waits for the writer to close the pipe before signalling.
const CLOSE_WAIT: Duration = Duration::from_millis(500);
/// How long shutdown waits after SIGTERM before killing (B19).
const TERM_WAIT: Duration = Duration::from_secs(2);
/// How long shutdown waits after killing (B19).
const KILL_WAIT: Duration = Duration::from_secs(1);

/// Pipes the mono mix into a child process's standard input.
///
/// A writer thread owns the pipe, so a stalled process never blocks the mixer: up to one
/// second of frames is queued and later frames are dropped while the queue is full. When
/// the pipe breaks, the next [`write`](MixerSink::write) fails and the mixer disables this
/// sink. [`finish`](MixerSink::finish) closes standard input, sends SIGTERM, waits up to
/// 2 s, then kills and waits up to 1 s (B19). Dropping an unfinished sink kills the child.
#[derive(Debug)]
pub struct PipeSink {
    name: String,
    child: Option<Child>,
    tx: Option<SyncSender<Frame>>,
    writer: Option<JoinHandle<std::io::Result<()>>>,
    dropped: u64,
}

impl PipeSink {
    /// Spawns `command` with standard input piped and its output discarded.
    ///
    /// # Errors
    /// [`SinkError::Spawn`] when the process cannot be started.
    pub fn spawn(name: impl Into<String>, mut command: Command) -> Result<Self, SinkError> {
        let name = name.into();
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = command.spawn().map_err(|source| SinkError::Spawn {
            program: command.get_program().to_string_lossy().into_owned(),
            source,
        })?;
        let Some(stdin) = child.stdin.take() else {
            // Stdio::piped() always yields a handle; treat its absence as a broken pipe.
            let _ = child.kill();
            let _ = child.wait();
            return Err(SinkError::BrokenPipe(name));
        };
        let (tx, rx) = mpsc::sync_channel::<Frame>(QUEUE_FRAMES);
        let writer = std::thread::Builder::new()
            .name(format!("vr-codec-{name}"))
            .spawn(move || pump(stdin, rx))
            .map_err(|source| SinkError::Spawn {
                program: format!("{name} writer thread"),
                source,
            })?;
        Ok(Self {
            name,
            child: Some(child),
            tx: Some(tx),
            writer: Some(writer),
            dropped: 0,
        })
    }

    /// Frames dropped because the process did not keep up.
    pub fn dropped_frames(&self) -> u64 {
        self.dropped
    }

    fn stop_child(&mut self) -> Result<(), SinkError> {
        // 1. Close stdin: the writer drains its queue, then drops the pipe.
        self.tx = None;
        wait_thread(&self.writer, CLOSE_WAIT);
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        // 2. Terminate, wait up to 2 s; 3. kill, wait up to 1 s.
        if child.try_wait()?.is_none() {
            terminate(&mut child);
            if wait_child(&mut child, TERM_WAIT)?.is_none() {
                tracing::warn!(sink = %self.name, "process ignored SIGTERM; killing it");
                child.kill()?;
                if wait_child(&mut child, KILL_WAIT)?.is_none() {
                    tracing::warn!(sink = %self.name, "process did not exit after kill");
                }
            }
        }
        // The pipe is closed now, so the writer ends promptly; never block on it.
        wait_thread(&self.writer, KILL_WAIT);
        if let Some(w) = self.writer.take().filter(JoinHandle::is_finished) {
            let _ = w.join();
        }
        Ok(())
    }
}

impl MixerSink for PipeSink {
    fn write(&mut self, frame: &MixedFrame) -> Result<(), SinkError> {
        let Some(tx) = &self.tx else {
            return Err(SinkError::BrokenPipe(self.name.clone()));
        };
        match tx.try_send(frame.mono) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                self.dropped += 1;
                Ok(())
            }
            Err(TrySendError::Disconnected(_)) => {
                self.tx = None;
                Err(SinkError::BrokenPipe(self.name.clone()))
            }
        }
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        self.stop_child()
    }

    fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for PipeSink {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn pump(mut stdin: ChildStdin, rx: mpsc::Receiver<Frame>) -> std::io::Result<()> {
    for frame in rx {
        stdin.write_all(&frame)?;
    }
    Ok(())
}

fn wait_thread(handle: &Option<JoinHandle<std::io::Result<()>>>, limit: Duration) {
    let deadline = Instant::now() + limit;
    while handle.as_ref().is_some_and(|h| !h.is_finished()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn wait_child(
    child: &mut Child,
    limit: Duration,
) -> std::io::Result<Option<std::process::ExitStatus>> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(unix)]
fn terminate(child: &mut Child) {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    match i32::try_from(child.id()) {
        Ok(pid) => {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
        Err(_) => {
            let _ = child.kill();
        }
    }
}

#[cfg(not(unix))]
fn terminate(child: &mut Child) {
    let _ = child.kill();
}

/// The live monitor: plays the mono mix through `ffplay` (B14).
#[derive(Debug)]
pub struct FfplaySink {
    inner: PipeSink,
}

impl FfplaySink {
    /// Starts `ffplay` found on `PATH`.
    ///
    /// # Errors
    /// [`SinkError::FfplayNotFound`] (the B13 message) when it is not installed, before
    /// anything is spawned; [`SinkError::Spawn`] when it cannot be started.
    pub fn spawn() -> Result<Self, SinkError> {
        Self::spawn_in_path(&std::env::var_os("PATH").unwrap_or_default())
    }

    /// Starts `ffplay` found on the given search path (a `PATH`-style list).
    ///
    /// # Errors
    /// As [`spawn`](Self::spawn).
    pub fn spawn_in_path(search_path: &OsStr) -> Result<Self, SinkError> {
        let program = find_program("ffplay", search_path).ok_or(SinkError::FfplayNotFound)?;
        Self::spawn_program(&program)
    }

    /// Starts the given `ffplay` binary with the monitor arguments.
    ///
    /// # Errors
    /// [`SinkError::Spawn`] when it cannot be started.
    pub fn spawn_program(program: &Path) -> Result<Self, SinkError> {
        let mut command = Command::new(program);
        command.args(FFPLAY_ARGS);
        Ok(Self {
            inner: PipeSink::spawn("ffplay", command)?,
        })
    }
}

impl MixerSink for FfplaySink {
    fn write(&mut self, frame: &MixedFrame) -> Result<(), SinkError> {
        self.inner.write(frame)
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        self.inner.finish()
    }

    fn name(&self) -> &str {
        self.inner.name()
    }
}

/// Finds an executable file named `name` in a `PATH`-style list.
fn find_program(name: &str, search_path: &OsStr) -> Option<PathBuf> {
    std::env::split_paths(search_path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file() || path.with_extension("exe").is_file()
}
