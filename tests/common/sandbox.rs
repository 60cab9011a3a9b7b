//! Starts an in-memory kube-sandbox API server for the end-to-end tests: exec pods (runner
//! commands run as local processes), default watch history.

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

/// Starts a sandbox.
pub async fn start_sandbox() -> anyhow::Result<SandboxHandle> {
    let sandbox = Sandbox::start(SandboxConfig {
        pods: PodMode::Exec,
        ..Default::default()
    })
    .await?;
    Ok(SandboxHandle { sandbox })
}
