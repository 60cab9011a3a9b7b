//! TestJob operator: runs the tests described by `TestJob` custom resources in runner Pods and
//! records their results in each TestJob's status.
//!
//! The layers, top to bottom (a module imports only from layers below it):
//! - commands: [`cli`] (and `sandbox_cmd`, the in-memory cluster of the quickstart);
//! - the process: [`operator`] (wiring, signals, leader election, HTTP endpoints);
//! - the pipeline: [`reconcile`] (read → decide → apply → status → report, one module each);
//! - building blocks, pure and unit-tested: [`crd`] (the API types), [`config`], [`policy`],
//!   [`pod`] (the runner Pod), [`status`], [`outcome`], [`results`], the run [`queue`],
//!   [`own_writes`] (what this process wrote), [`job_cache`] (the TestJob cache, which lets go
//!   of finished jobs), [`metrics`], [`health`], [`report`] (test
//!   report parsers), [`handover`] and [`archive`] (how reports travel and are kept), [`notify`];
//! - beside the operator: [`dashboard`] (the read-only web page), [`plugin`] (`kubectl testjob`),
//!   [`sidecar`] (the runner Pods' report sidecar).

pub mod archive;
pub mod cli;
pub mod config;
pub mod crd;
pub mod dashboard;
pub mod handover;
pub mod health;
pub mod job_cache;
pub mod metrics;
pub mod notify;
pub mod operator;
pub mod outcome;
pub mod own_writes;
pub mod plugin;
pub mod pod;
pub mod policy;
pub mod queue;
pub mod reconcile;
pub mod report;
pub mod results;
#[cfg(feature = "sandbox")]
pub mod sandbox_cmd;
pub mod sidecar;
pub mod status;

pub use config::Config;
pub use crd::{TestJob, TestJobSpec, TestJobStatus};
pub use reconcile::{Context, error_policy, reconcile};
