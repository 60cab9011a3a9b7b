//! kube-sandbox: an in-memory stand-in for kube-apiserver, with a scheduler and a
//! one-node kubelet, that the real kubectl, helm and kube-rs talk to over HTTPS.
//!
//! It is generic: it serves built-in kinds and whatever CustomResourceDefinitions are created,
//! and knows nothing of any particular operator. Start one in-process with [`Sandbox::start`],
//! or as a process with `kube-sandbox serve`. The crate's face is [`Sandbox`],
//! [`SandboxConfig`], [`PodMode`], [`FaultConfig`], [`StatsSnapshot`] and
//! [`stats::RequestCount`]; everything else is private to it.
//!
//! # Layers
//!
//! The modules stack in layers; a module imports from the layers below it and, within its own
//! layer, from modules that do not import it back, never from a layer above:
//!
//! 1. Leaves, which import nothing of the crate but other leaves: Go formatting (`gofmt`),
//!    timestamps, the token key, TLS, the kubeconfig, request routing and request info, the
//!    resource types, API errors, protobuf decoding.
//! 2. Object logic: pure functions over objects and type information, with no shared state —
//!    CRD schemas, the patch formats, server-side apply's field management (`apply`),
//!    selectors, table printing, discovery and OpenAPI documents, and the validation of what
//!    clients write (`validation`: metadata of every kind, Pods).
//! 3. State: the store, paginated lists, faults, request accounting, the node (`kubelet`,
//!    which reaches the store only through its `PodStore` trait), and `state::State`, which holds them.
//! 4. Rules that read the state: per-kind admission, authentication and authorization.
//! 5. The write path (`ops`): create, update, patch (with the server-side apply request) and
//!    delete, for HTTP handlers and the sandbox's own controllers alike.
//! 6. Drivers: the bootstrap objects, the controllers, the disruption controller with the
//!    eviction subresource, the scheduler (whose `plugins` are pure filter functions), watches,
//!    the HTTP handlers and filters, the streaming subresources (exec, attach, port-forward), and
//!    the server that starts it all.

// 1. Leaves.
pub(crate) mod errors;
pub(crate) mod events;
pub(crate) mod gofmt;
pub(crate) mod kubeconfig;
pub(crate) mod protobuf;
pub(crate) mod quantity;
pub(crate) mod request;
pub(crate) mod request_info;
pub(crate) mod resource_types;
pub(crate) mod timestamp;
pub(crate) mod tls;
pub(crate) mod tokens;

// 2. Object logic.
pub(crate) mod apply;
pub(crate) mod discovery;
pub(crate) mod openapi;
pub(crate) mod patch;
pub(crate) mod schema;
pub(crate) mod selectors;
pub(crate) mod table;
pub(crate) mod validation;

// 3. State.
pub(crate) mod faults;
pub(crate) mod kubelet;
pub(crate) mod list;
pub(crate) mod state;
pub mod stats;
pub(crate) mod store;

// 4. Rules that read the state.
pub(crate) mod admission;
pub(crate) mod auth;

// 5. The write path.
pub(crate) mod ops;

// 6. Drivers.
pub(crate) mod bootstrap;
pub(crate) mod control;
pub(crate) mod controllers;
pub(crate) mod disruption;
pub(crate) mod filters;
pub(crate) mod handlers;
pub(crate) mod scheduler;
pub(crate) mod server;
pub(crate) mod streaming;
pub(crate) mod watch;

pub use faults::FaultConfig;
pub use kubelet::PodMode;
pub use server::{Sandbox, SandboxConfig};
pub use stats::StatsSnapshot;
