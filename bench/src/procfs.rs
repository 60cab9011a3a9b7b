//! What `/proc` says about processes and the machine: a process's CPU time and memory
//! ([`ProcUsage`]: the operator's and the benchmark's own), and the machine the run was on
//! ([`Machine`]).

use anyhow::Context as _;

/// What the machine is, for the report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Machine {
    /// CPUs available to this process.
    pub cpus: usize,
    /// `model name` of `/proc/cpuinfo`.
    pub cpu_model: String,
    /// `MemTotal` of `/proc/meminfo`, MiB.
    pub memory_mib: u64,
    /// The 1-minute load average when the run started (other work on the machine).
    pub load_average: f64,
}

impl Machine {
    /// Reads `/proc`; fields it cannot read stay empty.
    pub fn detect() -> Machine {
        let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        let cpuinfo = read("/proc/cpuinfo");
        let meminfo = read("/proc/meminfo");
        Machine {
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu_model: cpuinfo
                .lines()
                .find_map(|l| l.strip_prefix("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
                .unwrap_or_default(),
            memory_mib: meminfo
                .lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<u64>().ok())
                .map_or(0, |kib| kib / 1024),
            load_average: read("/proc/loadavg")
                .split_whitespace()
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0),
        }
    }
}

/// CPU time and memory of a process, from `/proc`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcUsage {
    /// Peak resident set size (`VmHWM`), KiB.
    pub rss_peak_kib: u64,
    /// Resident set size now (`VmRSS`), KiB.
    pub rss_kib: u64,
    /// User plus system CPU time, milliseconds.
    pub cpu_ms: u64,
}

impl ProcUsage {
    /// Reads the usage of process `pid`.
    pub fn of(pid: u32) -> anyhow::Result<ProcUsage> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .with_context(|| format!("reading /proc/{pid}/status"))?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .with_context(|| format!("reading /proc/{pid}/stat"))?;
        Ok(ProcUsage {
            rss_peak_kib: status_kib(&status, "VmHWM:").unwrap_or(0),
            rss_kib: status_kib(&status, "VmRSS:").unwrap_or(0),
            cpu_ms: stat_cpu_ms(&stat).context("parsing /proc/PID/stat")?,
        })
    }
}

/// CPU time, milliseconds, of this process's live threads named `name` (`/proc/self/task/*/comm`;
/// tokio names every thread of a runtime after its `thread_name`). The sandbox runs in this
/// process on a runtime of its own, so this separates its work from the measuring clients'.
pub fn threads_cpu_ms(name: &str) -> anyhow::Result<u64> {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").context("reading /proc/self/task")? {
        let dir = task.context("reading /proc/self/task")?.path();
        // A thread that ended since the directory was read is simply not counted.
        let (Ok(comm), Ok(stat)) = (
            std::fs::read_to_string(dir.join("comm")),
            std::fs::read_to_string(dir.join("stat")),
        ) else {
            continue;
        };
        if comm.trim_end() == name {
            total += stat_cpu_ms(&stat).context("parsing /proc/self/task/TID/stat")?;
        }
    }
    Ok(total)
}

/// A `Name:   1234 kB` line of `/proc/PID/status`.
fn status_kib(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// `utime + stime` of `/proc/PID/stat`, in milliseconds. The fields are in clock ticks of
/// `USER_HZ`, which Linux fixes at 100 for every user-space interface.
fn stat_cpu_ms(stat: &str) -> Option<u64> {
    const USER_HZ: u64 = 100;
    // The command name (field 2) is in parentheses and may contain spaces: count from after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name, `state` is field 3; utime and stime are fields 14 and 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) * 1000 / USER_HZ)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_fields() {
        let status = "Name:\tx\nVmHWM:\t   51200 kB\nVmRSS:\t   40960 kB\n";
        assert_eq!(status_kib(status, "VmHWM:"), Some(51_200));
        assert_eq!(status_kib(status, "VmRSS:"), Some(40_960));
        assert_eq!(status_kib(status, "VmSwap:"), None);
        // A command name with spaces and parentheses; utime 250 and stime 50 ticks.
        let stat = "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 5 0 0";
        assert_eq!(stat_cpu_ms(stat), Some(3_000));
        assert_eq!(stat_cpu_ms("42 (x) S 1"), None);
    }

    #[test]
    fn usage_of_this_process() {
        let usage = ProcUsage::of(std::process::id()).unwrap();
        assert!(usage.rss_peak_kib >= usage.rss_kib && usage.rss_kib > 0);
    }

    #[test]
    fn threads_by_name() {
        let busy = std::thread::Builder::new()
            .name("procfs-test".into())
            .spawn(|| {
                let start = std::time::Instant::now();
                let mut x = 0u64;
                while start.elapsed() < std::time::Duration::from_millis(200) {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
                threads_cpu_ms("procfs-test").unwrap()
            })
            .unwrap();
        // Measured from inside the thread, while it is alive: about 200 ms of CPU.
        assert!(busy.join().unwrap() >= 100);
        assert_eq!(threads_cpu_ms("no-such-thread").unwrap(), 0);
    }

    #[test]
    fn machine_is_detected() {
        let m = Machine::detect();
        assert!(m.cpus >= 1);
    }
}
