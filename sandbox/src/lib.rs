//! kube-sandbox: an in-memory stand-in for kube-apiserver, with a one-node scheduler and
//! kubelet, that the real kubectl, helm and kube-rs talk to over HTTPS.
//!
//! It is generic: it serves built-in kinds and whatever CustomResourceDefinitions are created,
//! and knows nothing of any particular operator. Start one in-process with [`Sandbox::start`],
//! or as a process with `kube-sandbox serve`.

pub(crate) mod admission;
pub(crate) mod apply;
pub(crate) mod auth;
pub(crate) mod bootstrap;
pub(crate) mod control;
pub(crate) mod controllers;
pub(crate) mod discovery;
pub(crate) mod errors;
pub(crate) mod events;
pub(crate) mod faults;
pub(crate) mod filters;
pub(crate) mod gofmt;
pub(crate) mod handlers;
pub(crate) mod kubeconfig;
pub(crate) mod kubelet;
pub(crate) mod list;
pub(crate) mod openapi;
pub(crate) mod ops;
pub(crate) mod patch;
pub(crate) mod protobuf;
pub(crate) mod request;
pub(crate) mod request_info;
pub(crate) mod resource_types;
pub(crate) mod schema;
pub(crate) mod selectors;
pub(crate) mod server;
pub(crate) mod state;
pub mod stats;
pub(crate) mod store;
pub(crate) mod table;
pub(crate) mod timestamp;
pub(crate) mod tls;
pub(crate) mod watch;

pub use faults::FaultConfig;
pub use kubelet::PodMode;
pub use server::{Sandbox, SandboxConfig};
pub use stats::StatsSnapshot;
