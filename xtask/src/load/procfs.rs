//! Process and machine facts from `/proc`: CPU time, resident memory, the CPU model.

use serde::Serialize;

/// CPU time and resident memory of one process at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ProcSample {
    /// User + system CPU seconds since the process started.
    pub cpu_s: f64,
    /// Resident set size (KiB).
    pub rss_kib: u64,
}

/// User + system clock ticks from the text of `/proc/<pid>/stat`.
///
/// The command name (field 2) is in parentheses and may hold spaces or parentheses, so the
/// fields are counted from the last `)`.
pub fn parse_stat_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // After `)`: state(3) ppid(4) … utime(14) stime(15).
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// `VmRSS` (KiB) from the text of `/proc/<pid>/status`.
pub fn parse_status_rss_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// The first `model name` of `/proc/cpuinfo` text.
pub fn parse_cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|l| {
        let (key, value) = l.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim().to_owned())
    })
}

/// Busy clock ticks per CPU (`cpu0`, `cpu1`, …, in order) from the text of `/proc/stat`:
/// everything but idle and iowait.
pub fn parse_proc_stat_busy(stat: &str) -> Vec<u64> {
    stat.lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .take(8)
                .enumerate()
                .filter(|(i, _)| *i != 3 && *i != 4) // idle, iowait
                .filter_map(|(_, v)| v.parse::<u64>().ok())
                .sum()
        })
        .collect()
}

/// Busy CPU seconds of each CPU since boot (empty when `/proc/stat` is unreadable).
pub fn cores_busy_s() -> Vec<f64> {
    let ticks = clock_ticks();
    std::fs::read_to_string("/proc/stat")
        .map(|t| {
            parse_proc_stat_busy(&t)
                .into_iter()
                .map(|b| b as f64 / ticks)
                .collect()
        })
        .unwrap_or_default()
}

/// Clock ticks per second for `/proc` CPU times.
fn clock_ticks() -> f64 {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK) {
        Ok(Some(t)) if t > 0 => t as f64,
        _ => 100.0,
    }
}

/// Reads `pid`'s CPU time and RSS; `None` once the process is gone.
pub fn sample(pid: u32) -> Option<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some(ProcSample {
        cpu_s: parse_stat_ticks(&stat)? as f64 / clock_ticks(),
        rss_kib: parse_status_rss_kib(&status)?,
    })
}

/// This process's user + system CPU seconds (all its threads), from `getrusage`.
pub fn self_cpu_s() -> f64 {
    use nix::sys::resource::{UsageWho, getrusage};
    match getrusage(UsageWho::RUSAGE_SELF) {
        Ok(u) => {
            let tv = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
            tv(u.user_time()) + tv(u.system_time())
        }
        Err(_) => 0.0,
    }
}

/// The machine: online CPUs and the CPU model.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// CPUs of the machine (`cpuN` lines of `/proc/stat`, whatever this process's affinity).
    pub nproc: usize,
    /// `model name` from `/proc/cpuinfo`.
    pub cpu_model: Option<String>,
}

impl Machine {
    /// Reads the facts.
    pub fn detect() -> Self {
        Self {
            nproc: match cores_busy_s().len() {
                0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
                n => n,
            },
            cpu_model: std::fs::read_to_string("/proc/cpuinfo")
                .ok()
                .and_then(|t| parse_cpu_model(&t)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_counted_after_the_command_name() {
        let stat = "4242 (vr serve) (x)) S 1 4242 4242 0 -1 4194560 1234 0 0 0 \
                    250 75 0 0 20 0 3 0 123456 1000000 2500 18446744073709551615";
        assert_eq!(parse_stat_ticks(stat), Some(325));
        assert_eq!(parse_stat_ticks("garbage"), None);
    }

    #[test]
    fn rss_and_model() {
        let status = "Name:\tvr\nVmPeak:\t  9999 kB\nVmRSS:\t   12345 kB\nThreads:\t3\n";
        assert_eq!(parse_status_rss_kib(status), Some(12345));
        assert_eq!(parse_status_rss_kib("Name: x\n"), None);
        let cpuinfo = "processor\t: 0\nvendor_id\t: X\nmodel name\t: Some CPU @ 2.0GHz\n";
        assert_eq!(
            parse_cpu_model(cpuinfo).as_deref(),
            Some("Some CPU @ 2.0GHz")
        );
    }

    #[test]
    fn proc_stat_busy_per_cpu() {
        let stat = "cpu  10 0 10 1000 5 0 0 0 0 0\ncpu0 4 1 3 500 2 1 1 0 0 0\n\
                    cpu1 6 0 7 500 3 0 0 2 0 0\nintr 123\n";
        assert_eq!(parse_proc_stat_busy(stat), vec![10, 15]);
        assert!(!cores_busy_s().is_empty());
    }

    #[test]
    fn own_process_is_readable() {
        let s = sample(std::process::id()).expect("own /proc entry");
        assert!(s.rss_kib > 0);
        assert!(s.cpu_s >= 0.0);
    }
}
