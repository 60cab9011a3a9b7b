//! Why the operator process stops: errors at start-up (configuration, a missing CRD, a port in
//! use) and the loss of leadership. Reconcile errors never end the process; they live in
//! `crate::reconcile::Error`.

use crate::config::ConfigError;

/// A reason for the operator process to stop.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Invalid operator configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),

    /// The TestJob API cannot be listed, most likely because the CRD is not installed.
    #[error(
        "cannot list TestJobs ({0}); is the CRD installed? Install it with: testjob-operator crd | kubectl apply -f -"
    )]
    CrdNotQueryable(#[source] kube::Error),

    /// The HTTP endpoints (`--metrics-addr`) could not be served.
    #[error("cannot serve /metrics, /healthz and /readyz on {addr}: {source}")]
    Http {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// Why binding failed.
        #[source]
        source: std::io::Error,
    },

    /// The HTTP client for notifications could not be built (e.g. no TLS roots).
    #[error("cannot send notifications: {0}")]
    Notify(String),

    /// This replica lost the leader-election Lease; it stops so that it never reconciles
    /// without leadership (its Pod is restarted and stands by).
    #[error("lost leadership: {0}")]
    LeadershipLost(String),
}

impl Error {
    /// A fixed name for the kind of stop, for logs and alerts.
    pub fn category(&self) -> &'static str {
        match self {
            Error::Config(_) => "Config",
            Error::CrdNotQueryable(_) => "CrdNotQueryable",
            Error::Http { .. } => "Http",
            Error::Notify(_) => "Notify",
            Error::LeadershipLost(_) => "LeadershipLost",
        }
    }
}

/// Result of the process lifecycle.
pub type Result<T, E = Error> = std::result::Result<T, E>;
