//! The operator binary as a child process: `testjob-operator run <flags>` (or another
//! subcommand) with a kubeconfig, its output appended to a log file, killed when dropped.
//!
//! The binary is the caller's to name: integration tests of the operator crate pass
//! `env!("CARGO_BIN_EXE_testjob-operator")`; programs and tests of other crates use
//! [`built_binary`], the one cargo built into the same target directory.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::process::{Child, Command};

/// A `RUST_LOG` that shows what the operator decided about each TestJob.
pub const DEBUG_LOG: &str = "info,testjob_operator=debug";

/// The `testjob-operator` binary in the target directory of the running program: next to it
/// (`target/release/testjob-bench`), or one level up from a test (`target/debug/deps/…`).
pub fn built_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locating the running executable")?;
    let mut dir = exe
        .parent()
        .context("the running executable has no directory")?;
    if dir.ends_with("deps") {
        dir = dir.parent().unwrap_or(dir);
    }
    let binary = dir.join(format!("testjob-operator{}", std::env::consts::EXE_SUFFIX));
    if !binary.is_file() {
        bail!(
            "{} not found: build it first (cargo build --bin testjob-operator, with --release for a release build)",
            binary.display()
        );
    }
    Ok(binary)
}

/// How to start an operator process; [`OperatorCommand::spawn`] starts it.
#[derive(Clone, Debug)]
pub struct OperatorCommand {
    binary: PathBuf,
    name: String,
    log: PathBuf,
    subcommand: String,
    args: Vec<OsString>,
    kubeconfig: Option<PathBuf>,
    rust_log: String,
    pod_name: bool,
    stdout_to_log: bool,
}

impl OperatorCommand {
    /// `binary run`, called `name` in messages, appending its output to the file `log`.
    /// `RUST_LOG` is the caller's, else `info`.
    pub fn new(
        binary: impl Into<PathBuf>,
        name: impl Into<String>,
        log: impl Into<PathBuf>,
    ) -> OperatorCommand {
        OperatorCommand {
            binary: binary.into(),
            name: name.into(),
            log: log.into(),
            subcommand: "run".to_owned(),
            args: vec![],
            kubeconfig: None,
            rust_log: std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned()),
            pod_name: false,
            stdout_to_log: true,
        }
    }

    /// Another subcommand than `run`, e.g. `sandbox`.
    pub fn subcommand(mut self, subcommand: &str) -> OperatorCommand {
        subcommand.clone_into(&mut self.subcommand);
        self
    }

    /// A flag or value after the subcommand. Unless one of them is `--metrics-addr`, the
    /// process serves its endpoints on `127.0.0.1:0` (processes run in parallel: each on a port
    /// of its own).
    pub fn arg(mut self, arg: impl Into<OsString>) -> OperatorCommand {
        self.args.push(arg.into());
        self
    }

    /// Several [`OperatorCommand::arg`]s.
    pub fn args<I>(mut self, args: I) -> OperatorCommand
    where
        I: IntoIterator,
        I::Item: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// The cluster to talk to (`KUBECONFIG`), e.g. one holding a ServiceAccount token.
    pub fn kubeconfig(mut self, path: impl Into<PathBuf>) -> OperatorCommand {
        self.kubeconfig = Some(path.into());
        self
    }

    /// `RUST_LOG` for the process, e.g. [`DEBUG_LOG`].
    pub fn rust_log(mut self, filter: &str) -> OperatorCommand {
        filter.clone_into(&mut self.rust_log);
        self
    }

    /// Sets `POD_NAME` to the process's name, as a Deployment's Pod would: the operator's
    /// Lease identity is `<POD_NAME>-<random>`, so it tells which process leads.
    pub fn pod_name(mut self) -> OperatorCommand {
        self.pod_name = true;
        self
    }

    /// Logs only standard error (where the operator logs), dropping standard output (where
    /// `testjob-operator sandbox` prints what it did for people to read).
    pub fn discard_stdout(mut self) -> OperatorCommand {
        self.stdout_to_log = false;
        self
    }

    /// Starts the process.
    pub fn spawn(self) -> anyhow::Result<OperatorProcess> {
        if let Some(dir) = self.log.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening {}", self.log.display()))?;
        let mut command = Command::new(&self.binary);
        command.arg(&self.subcommand).args(&self.args);
        let has_metrics_addr = self
            .args
            .iter()
            .any(|a| a.to_string_lossy().starts_with("--metrics-addr"));
        if !has_metrics_addr {
            command.args(["--metrics-addr", "127.0.0.1:0"]);
        }
        if let Some(kubeconfig) = &self.kubeconfig {
            command.env("KUBECONFIG", kubeconfig);
        }
        if self.pod_name {
            command.env("POD_NAME", &self.name);
        }
        // The test's own Pod, if it runs in one, is not the operator's.
        command
            .env("RUST_LOG", &self.rust_log)
            .env_remove("POD_NAMESPACE")
            .stdin(Stdio::null())
            .stdout(if self.stdout_to_log {
                Stdio::from(file.try_clone()?)
            } else {
                Stdio::null()
            })
            .stderr(file)
            .kill_on_drop(true);
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        let pid = child
            .id()
            .with_context(|| format!("{} exited at once", self.name))?;
        Ok(OperatorProcess {
            name: self.name,
            child,
            pid,
            log: self.log,
        })
    }
}

/// A running operator process; killed (SIGKILL) when dropped.
pub struct OperatorProcess {
    /// Its name in messages (and its `POD_NAME` with [`OperatorCommand::pod_name`]).
    pub name: String,
    child: Child,
    pid: u32,
    log: PathBuf,
}

impl OperatorProcess {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Kills it with SIGKILL, as a crash or an OOM kill would, and reaps it.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        self.child
            .kill()
            .await
            .with_context(|| format!("killing {}", self.name))
    }

    /// Sends SIGTERM, as the kubelet does when it stops a Pod.
    pub fn terminate(&self) -> anyhow::Result<()> {
        let pid = i32::try_from(self.pid)
            .ok()
            .and_then(rustix::process::Pid::from_raw)
            .with_context(|| format!("{} has no valid pid ({})", self.name, self.pid))?;
        rustix::process::kill_process(pid, rustix::process::Signal::TERM)
            .with_context(|| format!("sending SIGTERM to {}", self.name))
    }

    /// Fails when the process has exited on its own, with the end of its log.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("{} exited with {status}\n{}", self.name, self.log_tail(40));
        }
        Ok(())
    }

    /// Waits up to `limit` for the process to exit.
    pub async fn exited(&mut self, limit: Duration) -> anyhow::Result<ExitStatus> {
        match tokio::time::timeout(limit, self.child.wait()).await {
            Ok(status) => Ok(status?),
            Err(_) => bail!(
                "{} did not exit within {limit:?}\n{}",
                self.name,
                self.log_tail(40)
            ),
        }
    }

    /// The log file.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The whole log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last `lines` lines of the log under a header naming the process, for failure
    /// messages.
    pub fn log_tail(&self, lines: usize) -> String {
        format!(
            "--- {} ({}):\n{}",
            self.name,
            self.log.display(),
            tail(&self.log, lines)
        )
    }
}

/// The last `lines` lines of the file at `path` (nothing when it cannot be read).
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, "a\nb\nc\n").unwrap();
        assert_eq!(tail(&path, 2), "b\nc");
        assert_eq!(tail(&path, 10), "a\nb\nc");
        assert_eq!(tail(&dir.path().join("missing"), 3), "");
    }

    #[tokio::test]
    async fn a_process_logs_is_checked_signalled_and_reaped() {
        // `sh` stands in for the operator: the command line and the log are what is tested.
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("logs/sh.log");
        let mut process = OperatorCommand::new("sh", "sh", &log)
            .subcommand("-c")
            .arg("echo \"$0 $* $POD_NAME $KUBECONFIG\"; echo err >&2; exec sleep 30")
            .kubeconfig("/kubeconfig")
            .pod_name()
            .spawn()
            .unwrap();
        crate::wait::poll("the log", Duration::from_secs(10), || async {
            Ok(process.log().contains("err").then_some(()))
        })
        .await
        .unwrap();
        assert!(
            process
                .log()
                .contains("--metrics-addr 127.0.0.1:0 sh /kubeconfig"),
            "{}",
            process.log()
        );
        process.check_alive().unwrap();
        process.terminate().unwrap();
        let status = process.exited(Duration::from_secs(10)).await.unwrap();
        assert!(!status.success());
        let error = process.check_alive().unwrap_err().to_string();
        assert!(error.starts_with("sh exited with"), "{error}");
        assert!(
            process.log_tail(1).ends_with("\nerr"),
            "{}",
            process.log_tail(1)
        );
    }
}
