//! The TestJob operator's benchmark, `testjob-bench` ([`run`]): an in-process sandbox with
//! simulated Pods and the operator binary as a child process (both from `testjob-testkit`),
//! TestJobs created in bulk, and what came of them. [`capacity`] measures what the API server
//! can take; [`measure`] turns observations into figures, which [`report`] judges against the
//! goals and [`chart`] draws; [`procfs`] reads CPU time and memory from `/proc`; [`load`] runs the
//! load curve (jobs at a fixed arrival rate) and [`storage`] measures what finished jobs store.

pub mod args;
pub mod capacity;
pub mod chart;
pub mod load;
pub mod measure;
pub mod procfs;
pub mod report;
pub mod reports;
pub mod run;
pub mod storage;
