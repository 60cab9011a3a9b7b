//! An in-process `kube_sandbox::Sandbox` for a test or a benchmark, on a tokio runtime of its
//! own, with a private directory for its kubeconfig and the logs of the processes run against it.
//!
//! The runtime of its own: the sandbox's request handlers can keep worker threads busy (writes
//! serialise on its store), and the test's or the benchmark's watchers, whose timestamps may be
//! the measurements, must not wait for them.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use kube_sandbox::{FaultConfig, PodMode, Sandbox, SandboxConfig};

/// The name of every thread of the sandbox's runtime (the benchmark reads their CPU time).
pub const SANDBOX_THREAD_NAME: &str = "sandbox";

/// Set (to anything) to keep the sandbox's directory, with the operators' logs, after a test.
pub const KEEP_LOGS_ENV: &str = "TESTJOB_KEEP_LOGS";

/// Whether [`KEEP_LOGS_ENV`] asks to keep the logs.
pub fn keep_logs_asked() -> bool {
    std::env::var_os(KEEP_LOGS_ENV).is_some()
}

/// How to start a [`TestSandbox`].
#[derive(Clone, Debug)]
pub struct SandboxOptions {
    /// How runner Pods run: `Exec` runs their commands as local processes, `Simulate` follows
    /// their `sandbox.kube/*` annotations (exit code, run time, log).
    pub pods: PodMode,
    /// How many changes the sandbox keeps for watches to resume from.
    pub watch_history: usize,
    /// Faults injected from the start.
    pub faults: FaultConfig,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        let config = SandboxConfig::default();
        SandboxOptions {
            pods: config.pods,
            watch_history: config.watch_history,
            faults: config.faults,
        }
    }
}

impl SandboxOptions {
    /// The defaults, with Pods run in `pods` mode.
    pub fn with_pods(pods: PodMode) -> SandboxOptions {
        SandboxOptions {
            pods,
            ..SandboxOptions::default()
        }
    }
}

/// A running sandbox; it stops when dropped (or, gracefully, with [`TestSandbox::shutdown`]).
pub struct TestSandbox {
    sandbox: Sandbox,
    // Dropped after the sandbox, whose tasks it runs.
    runtime: SandboxRuntime,
    dir: tempfile::TempDir,
}

/// The sandbox's runtime, shut down without blocking when dropped (async code must not block).
struct SandboxRuntime(Option<tokio::runtime::Runtime>);

impl Drop for SandboxRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

impl TestSandbox {
    /// Starts a sandbox; its admin kubeconfig is `admin.kubeconfig` in [`TestSandbox::dir`].
    pub async fn start(options: SandboxOptions) -> anyhow::Result<TestSandbox> {
        let dir = tempfile::Builder::new()
            .prefix("testjob-sandbox-")
            .tempdir()
            .context("creating the sandbox's directory")?;
        // Wrapped at once, so that an early return drops it without blocking.
        let runtime = SandboxRuntime(Some(
            tokio::runtime::Builder::new_multi_thread()
                .thread_name(SANDBOX_THREAD_NAME)
                // Idle blocking threads stay (parked) instead of ending after 10 s, so that
                // their CPU time stays in `/proc/self/task` for the benchmark to count.
                .thread_keep_alive(std::time::Duration::from_secs(24 * 3600))
                .enable_all()
                .build()
                .context("starting the sandbox's runtime")?,
        ));
        let handle = runtime
            .0
            .as_ref()
            .map(|r| r.handle().clone())
            .context("the sandbox's runtime is gone")?;
        let config = SandboxConfig {
            pods: options.pods,
            watch_history: options.watch_history,
            kubeconfig: Some(dir.path().join("admin.kubeconfig")),
            faults: options.faults,
            ..SandboxConfig::default()
        };
        let sandbox = handle
            .spawn(Sandbox::start(config))
            .await
            .context("the sandbox's start panicked")?
            .context("starting the sandbox")?;
        Ok(TestSandbox {
            sandbox,
            runtime,
            dir,
        })
    }

    /// The sandbox, for its faults, watch history and request counts.
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// The admin kubeconfig (kubectl, helm and kube-rs clients with every permission).
    pub fn kubeconfig_path(&self) -> &Path {
        self.sandbox.kubeconfig_path()
    }

    /// A new admin client with a connection pool of its own (so that a watcher's traffic does
    /// not queue behind another task's requests).
    pub async fn client(&self) -> anyhow::Result<kube::Client> {
        self.sandbox.client().await
    }

    /// A private directory that lives as long as the sandbox (logs and kubeconfigs go here).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Keeps [`TestSandbox::dir`] when the sandbox is dropped; returns its path.
    pub fn keep_dir(&mut self) -> PathBuf {
        self.dir.disable_cleanup(true);
        self.dir.path().to_path_buf()
    }

    /// Stops the sandbox (ending watches and Pods) and its runtime.
    pub async fn shutdown(self) {
        let TestSandbox {
            sandbox,
            runtime,
            dir,
        } = self;
        sandbox.shutdown().await;
        drop(runtime);
        drop(dir);
    }
}
