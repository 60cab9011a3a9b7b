//! The node half of the sandbox: the kubelet of its one node.
//!
//! The API server's store reports every committed pod change through [`Kubelet::observe`]. Pods the
//! scheduler bound to this node (`spec.nodeName`) are the kubelet's: every such pod gets a worker task that runs it and writes its status back
//! through [`PodStore::update_pod`], the way a kubelet's status manager does (phase, conditions, IPs,
//! container states, termination messages, `activeDeadlineSeconds`, graceful deletion). [`Kubelet::logs`]
//! serves `pods/NAME/log` with the API server's and kubelet's checks and wording; [`Kubelet::exec`] and
//! [`Kubelet::attach`] (module `stream`) are the kubelet's half of `pods/exec` and `pods/attach`.
//!
//! Two modes:
//! - [`PodMode::Exec`] runs each container's `command` + `args` as a local process in its own process group
//!   (the image is ignored, so a container without `command` fails with `StartError`). The environment holds
//!   `PATH`, `HOME`, `HOSTNAME` and the pod's variables; the working directory is `workingDir` if it exists,
//!   else a private per-pod directory; `terminationMessagePath` maps to a private file in that directory
//!   (env values equal to the path, and the path inside command/args, are rewritten to it). An `emptyDir`
//!   volume is a directory of the pod's own, shared by its containers and removed with the pod; a
//!   container's `mountPath` stands for it, so paths under a mount path in command/args, env values and
//!   `workingDir` are rewritten to it (`readOnly` is not enforced; other volume types are not provided).
//! - [`PodMode::Simulate`] runs nothing: the annotations `sandbox.kube/exit-code` (default 0),
//!   `sandbox.kube/run-seconds` (default 0 = done at once, fractions allowed; in a `restartPolicy:
//!   Always` pod without an exit code the default is to run until stopped, as a server does),
//!   `sandbox.kube/termination-message` and `sandbox.kube/log` describe each regular container; a
//!   `.<container>` suffix (`sandbox.kube/exit-code.main`) targets one container, init containers included.
//!   A simulated container stopped early (deletion, deadline) exits with 143, as if killed by SIGTERM.
//!
//! `restartPolicy` is honoured (immediate first restart, then the kubelet's 10s..5m crash-loop back-off),
//! init containers run in order before the others, and init containers with `restartPolicy: Always` run as
//! sidecars until the regular containers are done. Probes, resource limits, volumes other than exec mode's
//! `emptyDir` and ephemeral containers are not implemented; every running container counts as ready.

mod exec;
mod logbuf;
mod status;
mod stream;
mod worker;

pub use stream::{Attachment, ExecStartError, StreamError};

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::Value;
use tokio::sync::mpsc;

use worker::{PodHandle, ViewState, Worker, WorkerMsg};

/// The node's InternalIP, reported as every pod's `hostIP` (kind's default node address).
pub const HOST_IP: &str = "172.18.0.2";
/// Pod IPs come from this /16 (kind's default pod CIDR), as `10.244.X.Y`.
const POD_IP_PREFIX: &str = "10.244";
/// How long shutdown waits for processes to be reaped, and for each pod worker to wind down.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

/// How the kubelet runs containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodMode {
    /// Real local processes from `command` + `args`.
    Exec,
    /// No processes; annotations decide what each container does.
    Simulate,
}

/// What the kubelet needs from the API server's store. Implemented by the store.
pub trait PodStore: Send + Sync + 'static {
    /// Atomically mutate the stored pod `namespace/name` if it exists and has this uid: the closure gets the
    /// whole pod JSON and may change `spec.nodeName` (binding) and status. The store bumps resourceVersion and
    /// emits a MODIFIED watch event. Returns false if the pod is gone or its uid differs (then the kubelet
    /// forgets it). Never called while holding kubelet locks that `observe()` needs.
    fn update_pod(
        &self,
        namespace: &str,
        name: &str,
        uid: &str,
        mutate: &mut dyn FnMut(&mut Value),
    ) -> bool;

    /// Graceful deletion finished (containers stopped): remove the pod object for good (the store honours
    /// finalizers).
    fn finish_pod_deletion(&self, namespace: &str, name: &str, uid: &str);

    /// A ConfigMap or Secret (`resource` is `configmaps` or `secrets`) for `env`/`envFrom` references in
    /// Exec mode. Without an implementation every such reference is "not found", which leaves the
    /// container waiting with `CreateContainerConfigError` unless the reference is optional.
    fn get_object(&self, resource: &str, namespace: &str, name: &str) -> Option<Value> {
        let _ = (resource, namespace, name);
        None
    }

    /// Records an event the kubelet reports about a pod (core v1 form, see `crate::events`).
    /// Without an implementation events are dropped.
    fn record_event(&self, event: Value) {
        let _ = event;
    }
}

/// A committed pod change, as the store reports it.
#[derive(Debug, Clone)]
pub enum PodEvent {
    /// Created or updated; the full pod JSON, shared with the store (the kubelet reads it;
    /// copying every Pod change in full was a visible part of the sandbox's CPU profile).
    Applied(Arc<Value>),
    /// Removed from the store; the last pod JSON.
    Deleted(Arc<Value>),
}

/// Query parameters of `GET pods/NAME/log`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// `container`; may be omitted for single-container pods.
    pub container: Option<String>,
    /// `follow`: keep streaming until the container instance stops (or the pod goes away).
    pub follow: bool,
    /// `tailLines`: start this many lines before the end.
    pub tail_lines: Option<i64>,
    /// `limitBytes`: stop after this many bytes (timestamps included).
    pub limit_bytes: Option<i64>,
    /// `timestamps`: prefix each line with its RFC3339Nano arrival time.
    pub timestamps: bool,
    /// `sinceSeconds`: skip lines older than this.
    pub since_seconds: Option<i64>,
    /// `previous`: the log of the instance before the current one (`lastState.terminated`).
    pub previous: bool,
}

/// Why a log request failed; the text is the API server's or kubelet's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogError {
    /// 400 BadRequest.
    BadRequest(String),
    /// 404 NotFound.
    NotFound(String),
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogError::BadRequest(m) | LogError::NotFound(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for LogError {}

struct PodEntry {
    uid: String,
    tx: mpsc::UnboundedSender<WorkerMsg>,
    handle: Arc<PodHandle>,
    join: tokio::task::JoinHandle<()>,
}

/// State shared by the kubelet handle and its pod workers.
struct Shared {
    mode: PodMode,
    node_name: String,
    store: Arc<dyn PodStore>,
    runtime: tokio::runtime::Handle,
    /// Known pods by (namespace, name). `observe()` takes this lock, so it is never held across store calls.
    pods: Mutex<HashMap<(String, String), PodEntry>>,
    processes: Arc<exec::ProcessTable>,
    next_ip: AtomicU32,
    shutting_down: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The sandbox's scheduler + kubelet for one node. Cheap to clone.
#[derive(Clone)]
pub struct Kubelet {
    shared: Arc<Shared>,
}

impl fmt::Debug for Kubelet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kubelet")
            .field("mode", &self.shared.mode)
            .field("node", &self.shared.node_name)
            .finish()
    }
}

impl Kubelet {
    /// Creates the kubelet; pod workers are spawned on the current tokio runtime.
    ///
    /// # Panics
    /// When called outside a tokio runtime.
    pub fn start(mode: PodMode, node_name: &str, store: Arc<dyn PodStore>) -> Self {
        let shared = Shared {
            mode,
            node_name: node_name.to_string(),
            store,
            runtime: tokio::runtime::Handle::current(),
            pods: Mutex::new(HashMap::new()),
            processes: Arc::new(exec::ProcessTable::default()),
            next_ip: AtomicU32::new(0),
            shutting_down: AtomicBool::new(false),
        };
        Self {
            shared: Arc::new(shared),
        }
    }

    /// Called by the store after every committed pod create/update/delete. Only queues work.
    pub fn observe(&self, event: PodEvent) {
        if self.shared.shutting_down.load(Ordering::SeqCst) {
            return;
        }
        match event {
            PodEvent::Applied(pod) => self.pod_applied(pod),
            PodEvent::Deleted(pod) => {
                let Some((namespace, name, uid)) = identity(&pod) else {
                    return;
                };
                let mut pods = lock(&self.shared.pods);
                let key = (namespace, name);
                if pods.get(&key).is_some_and(|e| e.uid == uid)
                    && let Some(entry) = pods.remove(&key)
                {
                    let _ = entry.tx.send(WorkerMsg::Removed);
                }
            }
        }
    }

    fn pod_applied(&self, pod: Arc<Value>) {
        let Some((namespace, name, uid)) = identity(&pod) else {
            return;
        };
        let node = pod
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        // Unscheduled pods are the scheduler's; pods of other nodes are their kubelets'.
        if node != self.shared.node_name {
            return;
        }
        let key = (namespace, name);
        let mut pods = lock(&self.shared.pods);
        if let Some(entry) = pods.get(&key) {
            if entry.uid == uid {
                let _ = entry.tx.send(WorkerMsg::Pod(pod));
                return;
            }
            // Same name, new object: the old pod is gone even if its deletion was not reported.
            if let Some(old) = pods.remove(&key) {
                let _ = old.tx.send(WorkerMsg::Removed);
            }
        }
        let handle = Arc::new(PodHandle::new(&pod, &uid, &key.1, true));
        let (tx, rx) = mpsc::unbounded_channel();
        let worker = Worker::new(
            self.shared.clone(),
            handle.clone(),
            tx.clone(),
            pod,
            self.allocate_ip(),
        );
        let join = self.shared.runtime.spawn(worker.run(rx));
        pods.insert(
            key,
            PodEntry {
                uid,
                tx,
                handle,
                join,
            },
        );
    }

    fn allocate_ip(&self) -> String {
        let n = self.shared.next_ip.fetch_add(1, Ordering::SeqCst);
        // .0 is the network and .1 the gateway of each /24.
        format!("{POD_IP_PREFIX}.{}.{}", (n / 253) % 256, n % 253 + 2)
    }

    /// `GET pods/NAME/log`, with the API server's container checks and the kubelet's state checks.
    pub fn logs(
        &self,
        namespace: &str,
        name: &str,
        opts: LogOptions,
    ) -> Result<BoxStream<'static, Bytes>, LogError> {
        let handle = lock(&self.shared.pods)
            .get(&(namespace.to_string(), name.to_string()))
            .map(|e| e.handle.clone())
            .ok_or_else(|| LogError::NotFound(format!("pods \"{name}\" not found")))?;
        let container = select_container(&handle, opts.container.as_deref())?;
        if !handle.bound.load(Ordering::SeqCst) {
            // The API server answers an empty log for a pod not yet on a node.
            return Ok(futures::stream::empty().boxed());
        }
        let buffer = log_buffer(&handle, &container, opts.previous)?;
        let read = logbuf::ReadOptions {
            follow: opts.follow,
            tail_lines: opts.tail_lines,
            limit_bytes: opts.limit_bytes,
            timestamps: opts.timestamps,
            since: opts
                .since_seconds
                .map(|s| chrono::Utc::now() - chrono::Duration::seconds(s)),
        };
        Ok(logbuf::read(buffer, read))
    }

    /// `GET pods/NAME/log` of a pod not on a node yet: the API server checks the container name
    /// and answers an empty log (`LogLocation` returns no location without `spec.nodeName`).
    pub fn unscheduled_logs(
        pod: &Value,
        container: Option<&str>,
    ) -> Result<BoxStream<'static, Bytes>, LogError> {
        let (_, name, uid) = identity(pod).unwrap_or_default();
        let handle = PodHandle::new(pod, &uid, &name, false);
        select_container(&handle, container)?;
        Ok(futures::stream::empty().boxed())
    }

    /// Stops everything (kills all container processes) and waits for the pod workers to end.
    pub async fn shutdown(&self) {
        self.shared.shutting_down.store(true, Ordering::SeqCst);
        let entries: Vec<PodEntry> = lock(&self.shared.pods).drain().map(|(_, e)| e).collect();
        for entry in &entries {
            let _ = entry.tx.send(WorkerMsg::Shutdown);
        }
        let kills: Vec<_> = self
            .shared
            .processes
            .all()
            .into_iter()
            .filter_map(|pgid| exec::signal_group(pgid, "KILL"))
            .collect();
        for mut kill in kills {
            let _ = kill.wait().await;
        }
        let _ = tokio::time::timeout(SHUTDOWN_WAIT, self.shared.processes.wait_empty()).await;
        for entry in entries {
            let _ = tokio::time::timeout(SHUTDOWN_WAIT, entry.join).await;
        }
    }
}

fn identity(pod: &Value) -> Option<(String, String, String)> {
    let meta = pod.get("metadata")?;
    let name = meta.get("name").and_then(Value::as_str)?.to_string();
    let uid = meta.get("uid").and_then(Value::as_str)?.to_string();
    let namespace = meta
        .get("namespace")
        .and_then(Value::as_str)
        .unwrap_or("default")
        .to_string();
    Some((namespace, name, uid))
}

/// The API server's choice of container (`LogLocation` in `pkg/registry/core/pod/strategy.go`).
fn select_container(handle: &PodHandle, requested: Option<&str>) -> Result<String, LogError> {
    let name = &handle.name;
    match requested.filter(|c| !c.is_empty()) {
        Some(c) => {
            let known = [
                &handle.containers,
                &handle.init_containers,
                &handle.ephemeral_containers,
            ]
            .iter()
            .any(|list| list.iter().any(|n| n == c));
            if known {
                Ok(c.to_string())
            } else {
                Err(LogError::BadRequest(format!(
                    "container {c} is not valid for pod {name}"
                )))
            }
        }
        None => match handle.containers.as_slice() {
            [only] => Ok(only.clone()),
            [] => Err(LogError::BadRequest(format!(
                "a container name must be specified for pod {name}"
            ))),
            many => {
                let mut msg = format!(
                    "a container name must be specified for pod {name}, choose one of: [{}]",
                    many.join(" ")
                );
                if !handle.init_containers.is_empty() {
                    msg.push_str(&format!(
                        " or one of the init containers: [{}]",
                        handle.init_containers.join(" ")
                    ));
                }
                Err(LogError::BadRequest(msg))
            }
        },
    }
}

/// The kubelet's `validateContainerLogStatus`: which instance's log, or why there is none.
fn log_buffer(
    handle: &PodHandle,
    container: &str,
    previous: bool,
) -> Result<Arc<logbuf::LogBuffer>, LogError> {
    let pod = &handle.name;
    let views = lock(&handle.views);
    let Some(view) = views.iter().find(|v| v.name == container) else {
        return Err(LogError::BadRequest(format!(
            "container {container:?} in pod {pod:?} is not available"
        )));
    };
    let terminated = || {
        LogError::BadRequest(format!(
            "container {container:?} in pod {pod:?} is terminated"
        ))
    };
    if previous {
        return view.last.clone().ok_or_else(|| {
            LogError::BadRequest(format!(
                "previous terminated container {container:?} in pod {pod:?} not found"
            ))
        });
    }
    match &view.state {
        ViewState::Running => view.current.clone().ok_or_else(terminated),
        ViewState::Terminated => view
            .current
            .clone()
            .or_else(|| view.last.clone())
            .ok_or_else(terminated),
        ViewState::Waiting(reason) => view.last.clone().ok_or_else(|| {
            LogError::BadRequest(format!(
                "container {container:?} in pod {pod:?} is waiting to start: {reason}"
            ))
        }),
    }
}

#[cfg(test)]
mod testing;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod hook_tests;
