//! The test kit of the TestJob operator: what its end-to-end tests, fault tests and benchmark
//! share, so that each exists once.
//!
//! * [`tools`] finds the pinned kubectl and helm;
//! * [`wait`] polls a condition until a deadline;
//! * [`sandbox`] starts an in-process `kube_sandbox::Sandbox` on a runtime of its own;
//! * [`cluster`] adds the TestJob CRD and a ServiceAccount with the Helm chart's permissions;
//! * [`kubeconfig`] writes a kubeconfig that authenticates with a bearer token;
//! * [`operator`] runs the operator binary as a child process, logging to a file;
//! * [`watch`] and [`jobs`] create TestJobs in bulk and record what the cluster did with them.

pub mod cluster;
pub mod jobs;
pub mod kubeconfig;
pub mod operator;
pub mod sandbox;
pub mod tools;
pub mod wait;
pub mod watch;

/// The workspace's root directory (the chart, the CRD, the examples and `.tools` are there).
pub fn workspace_dir() -> &'static std::path::Path {
    // This crate is one level below the workspace root.
    std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}
