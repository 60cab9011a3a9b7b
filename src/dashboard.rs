//! `testjob-operator dashboard`: a live, read-only web page listing TestJobs, with a page per job
//! and a queue view.
//!
//! One TestJob watch feeds a compact in-memory index ([`cache`]); every browser gets the index's
//! changes over server-sent events from one broadcast channel ([`sse`]), so the API server sees
//! one watch whatever the number of browsers, and nothing polls. The job page reads the TestJob,
//! its Pods, their log and its events fresh on each request ([`job`]); the attempt's stored
//! report and kept log come from the ConfigMap the TestJob owns ([`report`]). Pages are
//! server-side templates that escape everything they interpolate ([`views`]); the little
//! JavaScript that keeps them live is served from `/static/` ([`assets`]) under a
//! Content-Security-Policy that forbids inline scripts and styles. Nothing here writes to the API.

pub mod args;
mod assets;
pub mod cache;
pub mod format;
mod job;
mod job_view;
pub mod list;
pub mod queue;
mod report;
mod serve;
mod sse;
pub mod views;

pub use args::DashboardArgs;
pub use serve::{CSP, Dashboard, Settings, run};

#[cfg(test)]
mod tests;
