//! TestJob operator: runs the tests described by `TestJob` custom resources in runner Pods and
//! records their results in each TestJob's status.
//!
//! One reconcile is a pipeline: read the TestJob and the runner Pod of its current attempt →
//! decide what to do ([`decide::decide`], pure) → apply it (create or adopt the Pod built by
//! [`pod::build_runner_pod`], pure) → write the status built by [`status`] (pure) with
//! optimistic concurrency. [`controller`] wires this into a kube-runtime `Controller`.

pub mod cli;
pub mod config;
pub mod controller;
pub mod crd;
pub mod dashboard;
pub mod decide;
pub mod http;
pub mod leader;
pub mod metrics;
pub mod outcome;
pub mod pod;
pub mod queue;
pub mod report;
pub mod results;
#[cfg(feature = "sandbox")]
pub mod sandbox_cmd;
pub mod status;

pub use config::Config;
pub use controller::{Context, error_policy, reconcile};
pub use crd::{TestJob, TestJobSpec, TestJobStatus};

/// Everything that can go wrong in the operator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Kubernetes API call failed.
    #[error("Kubernetes API error: {0}")]
    Kube(#[from] kube::Error),

    /// The TestJob API cannot be listed, most likely because the CRD is not installed.
    #[error(
        "cannot list TestJobs ({0}); is the CRD installed? Install it with: testjob-operator crd | kubectl apply -f -"
    )]
    CrdNotQueryable(#[source] kube::Error),

    /// A TestJob without a namespace (TestJobs are namespaced, so the API never sends one).
    #[error("TestJob has no namespace")]
    MissingNamespace,

    /// A TestJob without a UID, so no owner reference can point at it.
    #[error("TestJob has no UID")]
    MissingUid,

    /// The runner Pod was reported as existing but could not be read back.
    #[error("runner Pod {0} already exists but disappeared before it could be read")]
    PodVanished(String),

    /// Invalid operator configuration.
    #[error("invalid configuration: {0}")]
    Config(String),

    /// The CRD could not be rendered as YAML.
    #[error("rendering the CRD as YAML: {0}")]
    CrdYaml(#[source] serde_yaml::Error),

    /// The HTTP endpoints (`--metrics-addr`) could not be served.
    #[error("cannot serve /metrics, /healthz and /readyz on {addr}: {source}")]
    Http {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// Why binding failed.
        #[source]
        source: std::io::Error,
    },

    /// This replica lost the leader-election Lease; it stops so that it never reconciles
    /// without leadership (its Pod is restarted and stands by).
    #[error("lost leadership: {0}")]
    LeadershipLost(String),
}

/// Result with the operator's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
