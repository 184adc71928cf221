//! Snapshots of the server (CPU, RSS from `/proc`; `/metrics`) and of this process's CPU.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;

use super::metrics::{Metrics, scrape};
use super::procfs::{self, ProcSample};

/// What to look at.
#[derive(Debug, Clone, Copy)]
pub struct Probe {
    /// Server address (for `/metrics`).
    pub addr: SocketAddr,
    /// Server pid (for `/proc`), when known.
    pub pid: Option<u32>,
}

/// One moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// When.
    pub at: Instant,
    /// The server process, when known and alive.
    pub proc: Option<ProcSample>,
    /// The server's metrics, when they could be read.
    pub metrics: Option<Metrics>,
    /// This process's CPU seconds.
    pub self_cpu_s: f64,
    /// Busy CPU seconds of each core of the machine.
    pub cores_busy_s: Vec<f64>,
}

impl Snapshot {
    /// A metric, when metrics were read and have it.
    pub fn metric(&self, name: &str) -> Option<f64> {
        self.metrics.as_ref().and_then(|m| m.get(name))
    }
}

impl Probe {
    /// CPU and RSS only (cheap; for progress lines).
    pub fn quick(&self) -> Snapshot {
        Snapshot {
            at: Instant::now(),
            proc: self.pid.and_then(procfs::sample),
            metrics: None,
            self_cpu_s: procfs::self_cpu_s(),
            cores_busy_s: procfs::cores_busy_s(),
        }
    }

    /// CPU, RSS and metrics.
    pub async fn full(&self) -> Snapshot {
        let mut s = self.quick();
        s.metrics = scrape(self.addr).await.ok();
        s
    }

    /// Polls metrics until `vr_runtime_alive_tasks` is at most `baseline` or `timeout`
    /// passes; returns the last snapshot.
    pub async fn settle_tasks(&self, baseline: Option<f64>, timeout: Duration) -> Snapshot {
        let until = Instant::now() + timeout;
        loop {
            let s = self.full().await;
            let settled = match (baseline, s.metric("vr_runtime_alive_tasks")) {
                (Some(b), Some(t)) => t <= b,
                _ => true,
            };
            if settled || Instant::now() >= until {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// Server CPU % of one core between two snapshots.
pub fn cpu_percent(a: &Snapshot, b: &Snapshot) -> Option<f64> {
    let wall = (b.at - a.at).as_secs_f64();
    let (pa, pb) = (a.proc?, b.proc?);
    (wall > 0.0).then(|| (pb.cpu_s - pa.cpu_s) / wall * 100.0)
}

/// This process's CPU % of one core between two snapshots.
pub fn self_cpu_percent(a: &Snapshot, b: &Snapshot) -> Option<f64> {
    let wall = (b.at - a.at).as_secs_f64();
    (wall > 0.0).then(|| (b.self_cpu_s - a.self_cpu_s) / wall * 100.0)
}

/// CPU % of `core` used by processes other than the server and this one between two
/// snapshots (the server is assumed to run on `server_core` and this process on
/// `self_core`; `None` for either when unpinned).
pub fn other_percent(
    a: &Snapshot,
    b: &Snapshot,
    core: usize,
    server_core: Option<usize>,
    self_core: Option<usize>,
) -> Option<f64> {
    let wall = (b.at - a.at).as_secs_f64();
    let busy = b.cores_busy_s.get(core)? - a.cores_busy_s.get(core)?;
    let mut ours = 0.0;
    if server_core == Some(core) {
        ours += b.proc?.cpu_s - a.proc?.cpu_s;
    }
    if self_core == Some(core) {
        ours += b.self_cpu_s - a.self_cpu_s;
    }
    (wall > 0.0).then(|| ((busy - ours) / wall * 100.0).max(0.0))
}

/// CPU % (of one core) used by every process other than the server and this one between two
/// snapshots, summed over all cores.
pub fn other_percent_total(a: &Snapshot, b: &Snapshot) -> Option<f64> {
    let wall = (b.at - a.at).as_secs_f64();
    if a.cores_busy_s.is_empty() || a.cores_busy_s.len() != b.cores_busy_s.len() {
        return None;
    }
    let busy: f64 = b.cores_busy_s.iter().sum::<f64>() - a.cores_busy_s.iter().sum::<f64>();
    let server = match (a.proc, b.proc) {
        (Some(pa), Some(pb)) => pb.cpu_s - pa.cpu_s,
        _ => 0.0,
    };
    let ours = b.self_cpu_s - a.self_cpu_s;
    (wall > 0.0).then(|| ((busy - server - ours) / wall * 100.0).max(0.0))
}
