//! kube-sandbox: an in-memory stand-in for kube-apiserver, with a one-node scheduler and
//! kubelet, that the real kubectl, helm and kube-rs talk to over HTTPS.
//!
//! It is generic: it serves built-in kinds and whatever CustomResourceDefinitions are created,
//! and knows nothing of any particular operator. Start one in-process with [`Sandbox::start`],
//! or as a process with `kube-sandbox serve`.

pub mod admission;
pub mod apply;
pub mod auth;
pub mod bootstrap;
pub mod control;
pub mod controllers;
pub mod discovery;
pub mod errors;
pub mod events;
pub mod faults;
pub mod filters;
pub mod gofmt;
pub mod handlers;
pub mod kubeconfig;
pub mod kubelet;
pub mod list;
pub mod openapi;
pub mod ops;
pub mod patch;
pub mod protobuf;
pub mod registry;
pub mod request;
pub mod request_info;
pub mod schema;
pub mod selectors;
pub mod server;
pub mod state;
pub mod stats;
pub mod store;
pub mod table;
pub mod timestamp;
pub mod tls;
pub mod watch;

pub use faults::FaultConfig;
pub use kubelet::PodMode;
pub use server::{Sandbox, SandboxConfig};
pub use stats::StatsSnapshot;
