//! Starts an in-memory kube-sandbox API server for the end-to-end tests: exec pods (runner
//! commands run as local processes) or simulated ones, default watch history.

use std::path::Path;

use kube_sandbox::{PodMode, Sandbox, SandboxConfig};

/// A running sandbox; it stops when dropped.
pub struct SandboxHandle {
    sandbox: Sandbox,
}

impl SandboxHandle {
    /// A kubeconfig file that points kubectl and kube-rs at the sandbox.
    pub fn kubeconfig_path(&self) -> &Path {
        self.sandbox.kubeconfig_path()
    }
}

/// Starts a sandbox with the given pod mode: `Simulate` pods follow their `sandbox.kube/*`
/// annotations (exit code, run time, log), for tests where timing matters.
pub async fn start_sandbox_with(pods: PodMode) -> anyhow::Result<SandboxHandle> {
    let sandbox = Sandbox::start(SandboxConfig {
        pods,
        ..Default::default()
    })
    .await?;
    Ok(SandboxHandle { sandbox })
}
