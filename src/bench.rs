//! Measuring the operator and breaking it on purpose: the `testjob-bench` program ([`run`]) and
//! the fault tests (`tests/e2e_faults.rs`) share this harness. [`cluster`] starts an in-process
//! sandbox with simulated Pods, the CRD and a ServiceAccount for the operator, and runs the
//! operator binary as a child process; [`jobs`] creates TestJobs in bulk and watches what
//! happens to them; [`capacity`] measures what the API server can take; [`measure`] turns
//! observations into figures, which [`report`] judges against the goals and [`chart`] draws.

pub mod capacity;
pub mod chart;
pub mod cluster;
pub mod jobs;
pub mod measure;
pub mod report;
pub mod run;
