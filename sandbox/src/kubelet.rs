//! The node half of the sandbox: a scheduler and kubelet for the single node.
//!
//! The API server's store reports every committed pod change through [`Kubelet::observe`]. Pods without a
//! node are bound to this node; every pod on it gets a worker task that runs it and writes its status back
//! through [`PodStore::update_pod`], the way a kubelet's status manager does (phase, conditions, IPs,
//! container states, termination messages, `activeDeadlineSeconds`, graceful deletion). [`Kubelet::logs`]
//! serves `pods/NAME/log` with the API server's and kubelet's checks and wording.
//!
//! Two modes:
//! - [`PodMode::Exec`] runs each container's `command` + `args` as a local process in its own process group
//!   (the image is ignored, so a container without `command` fails with `StartError`). The environment holds
//!   `PATH`, `HOME`, `HOSTNAME` and the pod's variables; the working directory is `workingDir` if it exists,
//!   else a private per-pod directory; `terminationMessagePath` maps to a private file in that directory
//!   (env values equal to the path, and the path inside command/args, are rewritten to it).
//! - [`PodMode::Simulate`] runs nothing: the annotations `sandbox.kube/exit-code` (default 0),
//!   `sandbox.kube/run-seconds` (default 0 = done at once, fractions allowed),
//!   `sandbox.kube/termination-message` and `sandbox.kube/log` describe each regular container; a
//!   `.<container>` suffix (`sandbox.kube/exit-code.main`) targets one container, init containers included.
//!   A simulated container stopped early (deletion, deadline) exits with 143, as if killed by SIGTERM.
//!
//! `restartPolicy` is honoured (immediate first restart, then the kubelet's 10s..5m crash-loop back-off),
//! init containers run in order before the others, and init containers with `restartPolicy: Always` run as
//! sidecars until the regular containers are done. Probes, resource limits, volumes and ephemeral
//! containers are not implemented; every running container counts as ready.

mod exec;
mod logbuf;
mod status;
mod worker;

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
}

/// A committed pod change, as the store reports it.
#[derive(Debug, Clone)]
pub enum PodEvent {
    /// Created or updated; the full pod JSON.
    Applied(Value),
    /// Removed from the store; the last pod JSON.
    Deleted(Value),
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

    fn pod_applied(&self, pod: Value) {
        let Some((namespace, name, uid)) = identity(&pod) else {
            return;
        };
        let node = pod
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !node.is_empty() && node != self.shared.node_name {
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
        let handle = Arc::new(PodHandle::new(&pod, &uid, &key.1, !node.is_empty()));
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
mod tests {
    use super::testing::*;
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn exec_pod_fails_with_exit_code_termination_message_and_log() {
        let store = MemStore::start(PodMode::Exec);
        let mut pod = exec_pod("accept", "echo hi; echo done > $MSG; exit 3");
        pod["spec"]["containers"][0]["env"] =
            json!([{"name": "MSG", "value": "/dev/termination-log"}]);
        store.create(pod);
        let p = store
            .wait_for("accept", "Failed", |p| phase(p) == "Failed")
            .await;

        assert_eq!(p["spec"]["nodeName"], "sandbox");
        let t = &main_status(&p)["state"]["terminated"];
        assert_eq!(t["exitCode"], 3);
        assert_eq!(t["reason"], "Error");
        // Verbatim file content, as the kubelet reports it.
        assert_eq!(t["message"], "done\n");
        assert!(
            t["containerID"]
                .as_str()
                .is_some_and(|id| id.starts_with("containerd://"))
        );
        assert!(t["startedAt"].is_string() && t["finishedAt"].is_string());
        assert_eq!(main_status(&p)["image"], "docker.io/library/busybox:latest");
        assert_eq!(main_status(&p)["ready"], false);
        assert_eq!(condition(&p, "PodScheduled")["status"], "True");
        assert_eq!(condition(&p, "Ready")["reason"], "PodFailed");
        assert_eq!(
            condition(&p, "PodReadyToStartContainers")["status"],
            "False"
        );
        assert!(condition(&p, "Initialized")["lastTransitionTime"].is_string());
        assert_eq!(p["status"]["hostIP"], HOST_IP);
        assert!(
            p["status"]["podIP"]
                .as_str()
                .is_some_and(|ip| ip.starts_with("10.244."))
        );
        assert_eq!(p["status"]["podIPs"][0]["ip"], p["status"]["podIP"]);
        assert_eq!(p["status"]["qosClass"], "BestEffort");
        assert!(p["status"]["startTime"].is_string());
        assert!(store.writes() <= 2, "{} status writes", store.writes());
        assert_eq!(
            logs(&store, "accept", LogOptions::default()).await,
            Ok("hi\n".to_string())
        );
    }

    #[tokio::test]
    async fn fallback_to_logs_on_error_uses_the_log_tail_only_without_a_message_file() {
        let store = MemStore::start(PodMode::Exec);
        let container = |name: &str, script: &str| {
            json!({"name": name, "image": "busybox", "command": ["sh", "-c", script],
                   "terminationMessagePolicy": "FallbackToLogsOnError"})
        };
        let pod = json!({"metadata": {"name": "fallback"}, "spec": {"restartPolicy": "Never", "containers": [
            container("fails", "echo first; sleep 0.1; echo oops >&2; exit 1"),
            container("file", "echo noise; echo from file > /dev/termination-log; exit 1"),
            container("ok", "echo fine"),
        ]}});
        store.create(pod);
        let p = store
            .wait_for("fallback", "Failed", |p| phase(p) == "Failed")
            .await;
        let statuses = p["status"]["containerStatuses"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let names: Vec<&str> = statuses.iter().filter_map(|s| s["name"].as_str()).collect();
        assert_eq!(names, ["fails", "file", "ok"]);
        assert_eq!(
            statuses[0]["state"]["terminated"]["message"],
            "first\noops\n"
        );
        assert_eq!(statuses[1]["state"]["terminated"]["message"], "from file\n");
        assert!(statuses[2]["state"]["terminated"].get("message").is_none());
        assert_eq!(statuses[2]["state"]["terminated"]["reason"], "Completed");

        assert_eq!(
            logs(&store, "fallback", LogOptions::default()).await,
            Err(LogError::BadRequest(
                "a container name must be specified for pod fallback, choose one of: [fails file ok]".into()
            ))
        );
        assert_eq!(
            logs(&store, "fallback", container_opts("nope")).await,
            Err(LogError::BadRequest(
                "container nope is not valid for pod fallback".into()
            ))
        );
        assert_eq!(
            logs(&store, "fallback", container_opts("fails")).await,
            Ok("first\noops\n".into())
        );
    }

    #[tokio::test]
    async fn env_field_refs_and_variable_expansion() {
        let store = MemStore::start(PodMode::Exec);
        let mut pod = exec_pod(
            "envpod",
            "echo \"$POD_NAME|$POD_NAMESPACE|$POD_UID|$NODE|$POD_IP|$SA|$GREETING\"; echo '$(GREETING)' '$$(GREETING)'",
        );
        pod["spec"]["serviceAccountName"] = json!("runner");
        let field = |path: &str| json!({"fieldRef": {"fieldPath": path}});
        pod["spec"]["containers"][0]["env"] = json!([
            {"name": "POD_NAME", "valueFrom": field("metadata.name")},
            {"name": "POD_NAMESPACE", "valueFrom": field("metadata.namespace")},
            {"name": "POD_UID", "valueFrom": field("metadata.uid")},
            {"name": "NODE", "valueFrom": field("spec.nodeName")},
            {"name": "POD_IP", "valueFrom": field("status.podIP")},
            {"name": "SA", "valueFrom": field("spec.serviceAccountName")},
            {"name": "GREETING", "value": "hi-$(POD_NAME)"},
        ]);
        let uid = store.create(pod);
        let p = store
            .wait_for("envpod", "Succeeded", |p| phase(p) == "Succeeded")
            .await;
        let ip = p["status"]["podIP"].as_str().unwrap_or_default();
        let expected =
            format!("envpod|default|{uid}|sandbox|{ip}|runner|hi-envpod\nhi-envpod $(GREETING)\n");
        assert_eq!(
            logs(&store, "envpod", LogOptions::default()).await,
            Ok(expected)
        );
        assert_eq!(condition(&p, "Ready")["reason"], "PodCompleted");
        assert_eq!(condition(&p, "Initialized")["reason"], "PodCompleted");
    }

    #[tokio::test]
    async fn simulated_instant_pod_is_bound_and_finished_in_one_write() {
        let store = MemStore::start(PodMode::Simulate);
        let annotations = json!({
            "sandbox.kube/log": "line1\nline2\n",
            "sandbox.kube/termination-message": "bye",
        });
        store.create(sim_pod("instant", annotations));
        let p = store
            .wait_for("instant", "Succeeded", |p| phase(p) == "Succeeded")
            .await;
        assert_eq!(store.writes(), 1);
        assert_eq!(p["spec"]["nodeName"], "sandbox");
        let t = &main_status(&p)["state"]["terminated"];
        assert_eq!(
            (
                t["exitCode"].clone(),
                t["reason"].clone(),
                t["message"].clone()
            ),
            (json!(0), json!("Completed"), json!("bye"))
        );
        assert_eq!(
            logs(&store, "instant", LogOptions::default()).await,
            Ok("line1\nline2\n".into())
        );
        let tail = LogOptions {
            tail_lines: Some(1),
            ..Default::default()
        };
        assert_eq!(logs(&store, "instant", tail).await, Ok("line2\n".into()));
        let limited = LogOptions {
            limit_bytes: Some(3),
            ..Default::default()
        };
        assert_eq!(logs(&store, "instant", limited).await, Ok("lin".into()));
        assert_eq!(
            logs(
                &store,
                "instant",
                LogOptions {
                    previous: true,
                    ..Default::default()
                }
            )
            .await,
            Err(LogError::BadRequest(
                "previous terminated container \"main\" in pod \"instant\" not found".into()
            ))
        );

        // A finished pod is deleted at once, without another status write.
        store.delete("instant", 30);
        store.wait_finished("instant").await;
        assert_eq!(store.writes(), 1);
        assert_eq!(
            logs(&store, "instant", LogOptions::default()).await,
            Err(LogError::NotFound("pods \"instant\" not found".into()))
        );
    }

    #[tokio::test]
    async fn simulated_failure_falls_back_to_the_log() {
        let store = MemStore::start(PodMode::Simulate);
        let mut pod = sim_pod(
            "simfail",
            json!({"sandbox.kube/exit-code": "2", "sandbox.kube/log": "boom\n"}),
        );
        pod["spec"]["containers"][0]["terminationMessagePolicy"] = json!("FallbackToLogsOnError");
        store.create(pod);
        let p = store
            .wait_for("simfail", "Failed", |p| phase(p) == "Failed")
            .await;
        let t = &main_status(&p)["state"]["terminated"];
        assert_eq!(
            (
                t["exitCode"].clone(),
                t["reason"].clone(),
                t["message"].clone()
            ),
            (json!(2), json!("Error"), json!("boom\n"))
        );
    }

    #[tokio::test]
    async fn simulated_pod_runs_for_run_seconds_and_follow_ends_at_exit() {
        let store = MemStore::start(PodMode::Simulate);
        let annotations =
            json!({"sandbox.kube/run-seconds": "0.5", "sandbox.kube/log": "working\n"});
        store.create(sim_pod("timed", annotations));
        let p = store
            .wait_for("timed", "Running", |p| phase(p) == "Running")
            .await;
        assert!(main_status(&p)["state"]["running"]["startedAt"].is_string());
        assert_eq!(
            (
                main_status(&p)["ready"].clone(),
                main_status(&p)["started"].clone()
            ),
            (json!(true), json!(true))
        );
        assert_eq!(condition(&p, "Ready")["status"], "True");
        let follow = LogOptions {
            follow: true,
            ..Default::default()
        };
        assert_eq!(logs(&store, "timed", follow).await, Ok("working\n".into()));
        let p = store
            .wait_for("timed", "Succeeded", |p| phase(p) == "Succeeded")
            .await;
        assert_eq!(main_status(&p)["state"]["terminated"]["exitCode"], 0);
        assert_eq!(store.writes(), 2);
    }

    #[tokio::test]
    async fn simulated_init_containers_and_sidecars() {
        let store = MemStore::start(PodMode::Simulate);
        let pod = json!({
            "metadata": {"name": "sidecar", "annotations": {
                "sandbox.kube/log.setup": "setting up\n",
                "sandbox.kube/run-seconds": "0.3",
            }},
            "spec": {"restartPolicy": "Never",
                "initContainers": [
                    {"name": "setup", "image": "busybox"},
                    {"name": "proxy", "image": "envoy", "restartPolicy": "Always"},
                ],
                "containers": [{"name": "main", "image": "busybox"}]}
        });
        store.create(pod);
        let p = store
            .wait_for("sidecar", "Running", |p| phase(p) == "Running")
            .await;
        let init = p["status"]["initContainerStatuses"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(init[0]["state"]["terminated"]["reason"], "Completed");
        assert!(init[1]["state"]["running"].is_object());
        assert_eq!(init[1]["ready"], true);
        let p = store
            .wait_for("sidecar", "Succeeded", |p| phase(p) == "Succeeded")
            .await;
        // The sidecar was stopped after `main` finished; its exit code does not fail the pod.
        assert_eq!(
            p["status"]["initContainerStatuses"][1]["state"]["terminated"]["exitCode"],
            143
        );
        assert_eq!(
            logs(&store, "sidecar", container_opts("setup")).await,
            Ok("setting up\n".into())
        );
    }

    #[tokio::test]
    async fn lowered_active_deadline_fails_a_running_exec_pod_and_keeps_its_logs() {
        let store = MemStore::start(PodMode::Exec);
        let mut pod = exec_pod("deadline", "echo started; sleep 1000");
        pod["spec"]["activeDeadlineSeconds"] = json!(600);
        store.create(pod);
        store
            .wait_for("deadline", "Running", |p| phase(p) == "Running")
            .await;
        store.commit("deadline", |p| {
            p["spec"]["activeDeadlineSeconds"] = json!(1)
        });
        let p = store
            .wait_for("deadline", "terminated after the deadline", |p| {
                phase(p) == "Failed" && main_status(p)["state"]["terminated"].is_object()
            })
            .await;
        assert_eq!(p["status"]["reason"], "DeadlineExceeded");
        assert_eq!(
            p["status"]["message"],
            "Pod was active on the node longer than the specified deadline"
        );
        assert_eq!(main_status(&p)["state"]["terminated"]["exitCode"], 143);
        assert_eq!(condition(&p, "Ready")["reason"], "PodFailed");
        assert_eq!(
            logs(&store, "deadline", LogOptions::default()).await,
            Ok("started\n".into())
        );
        assert!(store.kubelet().shared.processes.all().is_empty());
    }

    #[tokio::test]
    async fn graceful_deletion_terminates_the_process_group() {
        let store = MemStore::start(PodMode::Exec);
        let mut pod = exec_pod("sleeper", "");
        pod["spec"]["containers"][0]["command"] = json!(["sleep", "1000"]);
        store.create(pod);
        store
            .wait_for("sleeper", "Running", |p| phase(p) == "Running")
            .await;
        let pgids = store.kubelet().shared.processes.all();
        assert_eq!(pgids.len(), 1);
        store.delete("sleeper", 30);
        // Well before the 30s grace period: SIGTERM did it.
        let last = store.wait_finished("sleeper").await;
        assert_eq!(phase(&last), "Failed");
        assert_eq!(main_status(&last)["state"]["terminated"]["exitCode"], 143);
        assert!(store.get("sleeper").is_none());
        assert_eq!(live_members(pgids[0]), 0, "process group still alive");
    }

    #[tokio::test]
    async fn deletion_escalates_to_sigkill_after_the_grace_period() {
        let store = MemStore::start(PodMode::Exec);
        store.create(exec_pod("stubborn", "trap '' TERM; echo ready; sleep 1000"));
        store
            .wait_for("stubborn", "Running", |p| phase(p) == "Running")
            .await;
        store.delete("stubborn", 1);
        let last = store.wait_finished("stubborn").await;
        assert_eq!(main_status(&last)["state"]["terminated"]["exitCode"], 137);
    }

    #[tokio::test]
    async fn follow_stream_ends_when_the_container_exits() {
        let store = MemStore::start(PodMode::Exec);
        store.create(exec_pod("follow", "echo a; sleep 0.5; echo b"));
        store
            .wait_for("follow", "Running", |p| phase(p) == "Running")
            .await;
        let follow = LogOptions {
            follow: true,
            ..Default::default()
        };
        assert_eq!(logs(&store, "follow", follow).await, Ok("a\nb\n".into()));
        let stamped = LogOptions {
            timestamps: true,
            ..Default::default()
        };
        let out = logs(&store, "follow", stamped).await.unwrap_or_default();
        let first = out.lines().next().unwrap_or_default();
        assert!(
            first.ends_with("Z a") && first.len() == "2006-01-02T15:04:05.000000000Z a".len(),
            "{out}"
        );
    }

    #[tokio::test]
    async fn init_containers_run_first_and_waiting_containers_have_no_logs() {
        let store = MemStore::start(PodMode::Exec);
        let gate = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let go = gate.path().join("go");
        let hold = format!("while [ ! -f {} ]; do sleep 0.05; done", go.display());
        let pod = json!({"metadata": {"name": "init"}, "spec": {"restartPolicy": "Never",
            "initContainers": [
                {"name": "prepare", "image": "busybox", "command": ["sh", "-c", "echo init > shared.txt"]},
                {"name": "hold", "image": "busybox", "command": ["sh", "-c", hold]},
            ],
            "containers": [{"name": "main", "image": "busybox", "command": ["cat", "shared.txt"]}]}});
        store.create(pod);
        let p = store
            .wait_for("init", "hold running", |p| {
                p["status"]["initContainerStatuses"][1]["state"]["running"].is_object()
            })
            .await;
        assert_eq!(phase(&p), "Pending");
        assert_eq!(
            condition(&p, "Initialized")["message"],
            "containers with incomplete status: [hold]"
        );
        assert_eq!(
            main_status(&p)["state"]["waiting"]["reason"],
            "PodInitializing"
        );
        assert_eq!(
            p["status"]["initContainerStatuses"][0]["state"]["terminated"]["reason"],
            "Completed"
        );
        assert_eq!(p["status"]["initContainerStatuses"][0]["ready"], true);
        assert_eq!(
            logs(&store, "init", container_opts("main")).await,
            Err(LogError::BadRequest(
                "container \"main\" in pod \"init\" is waiting to start: PodInitializing".into()
            ))
        );
        std::fs::write(&go, "").unwrap_or_else(|e| panic!("{e}"));
        let p = store
            .wait_for("init", "Succeeded", |p| phase(p) == "Succeeded")
            .await;
        // `main` saw what `prepare` wrote: same pod directory, and strictly after it.
        assert_eq!(
            logs(&store, "init", container_opts("main")).await,
            Ok("init\n".into())
        );
        assert_eq!(
            logs(&store, "init", container_opts("prepare")).await,
            Ok("".into())
        );
        assert_eq!(
            p["status"]["initContainerStatuses"]
                .as_array()
                .map(Vec::len),
            Some(2)
        );
    }

    #[tokio::test]
    async fn a_container_without_command_fails_to_start() {
        let store = MemStore::start(PodMode::Exec);
        store.create(sim_pod("nocmd", json!({})));
        let p = store
            .wait_for("nocmd", "Failed", |p| phase(p) == "Failed")
            .await;
        let t = &main_status(&p)["state"]["terminated"];
        assert_eq!(
            (t["exitCode"].clone(), t["reason"].clone()),
            (json!(128), json!("StartError"))
        );
        assert!(
            t["message"]
                .as_str()
                .is_some_and(|m| m.contains("without `command`")),
            "{t}"
        );
    }

    #[tokio::test]
    async fn on_failure_restarts_then_backs_off() {
        let store = MemStore::start(PodMode::Exec);
        let mut pod = exec_pod("crash", "echo run; exit 1");
        pod["spec"]["restartPolicy"] = json!("OnFailure");
        store.create(pod);
        let p = store
            .wait_for("crash", "CrashLoopBackOff", |p| {
                main_status(p)["state"]["waiting"]["reason"] == "CrashLoopBackOff"
            })
            .await;
        assert_eq!(phase(&p), "Running");
        assert_eq!(main_status(&p)["restartCount"], 1);
        assert_eq!(main_status(&p)["lastState"]["terminated"]["exitCode"], 1);
        let msg = main_status(&p)["state"]["waiting"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            msg.starts_with("back-off 10s restarting failed container=main pod=crash_default("),
            "{msg}"
        );
        assert_eq!(
            logs(&store, "crash", LogOptions::default()).await,
            Ok("run\n".into())
        );
        let previous = LogOptions {
            previous: true,
            ..Default::default()
        };
        assert_eq!(logs(&store, "crash", previous).await, Ok("run\n".into()));

        store.delete("crash", 30);
        let last = store.wait_finished("crash").await;
        assert_eq!(phase(&last), "Failed");
        assert_eq!(main_status(&last)["state"]["terminated"]["exitCode"], 1);
    }

    #[tokio::test]
    async fn missing_config_map_blocks_the_container_until_it_exists() {
        let store = MemStore::start(PodMode::Exec);
        let mut pod = exec_pod("cfg", "echo $VALUE");
        pod["spec"]["containers"][0]["env"] = json!([{"name": "VALUE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "v"}}}]);
        store.create(pod);
        let p = store
            .wait_for("cfg", "CreateContainerConfigError", |p| {
                main_status(p)["state"]["waiting"]["reason"] == "CreateContainerConfigError"
            })
            .await;
        assert_eq!(
            main_status(&p)["state"]["waiting"]["message"],
            "configmap \"settings\" not found"
        );
        assert_eq!(phase(&p), "Pending");
        lock(&store.objects).insert(
            ("configmaps".into(), "settings".into()),
            json!({"data": {"v": "42"}}),
        );
        store
            .wait_for("cfg", "Succeeded", |p| phase(p) == "Succeeded")
            .await;
        assert_eq!(
            logs(&store, "cfg", LogOptions::default()).await,
            Ok("42\n".into())
        );
    }

    #[tokio::test]
    async fn removed_pods_are_forgotten_and_their_processes_killed() {
        let store = MemStore::start(PodMode::Exec);
        store.create(exec_pod("gone", "sleep 1000"));
        store
            .wait_for("gone", "Running", |p| phase(p) == "Running")
            .await;
        store.delete("gone", 0);
        assert_eq!(
            logs(&store, "gone", LogOptions::default()).await,
            Err(LogError::NotFound("pods \"gone\" not found".into()))
        );
        let wait = async {
            while !store.kubelet().shared.processes.all().is_empty() {
                tokio::task::yield_now().await;
            }
        };
        assert!(
            tokio::time::timeout(WAIT, wait).await.is_ok(),
            "process outlived its pod"
        );
    }

    #[tokio::test]
    async fn shutdown_kills_running_containers() {
        let store = MemStore::start(PodMode::Exec);
        store.create(exec_pod("longrun", "sleep 1000"));
        store
            .wait_for("longrun", "Running", |p| phase(p) == "Running")
            .await;
        let pgids = store.kubelet().shared.processes.all();
        store.kubelet().shutdown().await;
        assert_eq!(live_members(pgids[0]), 0, "process group still alive");
    }

    #[tokio::test]
    async fn pods_bound_elsewhere_are_ignored() {
        let store = MemStore::start(PodMode::Simulate);
        let mut pod = sim_pod("other", json!({}));
        pod["spec"]["nodeName"] = json!("node-2");
        store.create(pod);
        store.create(sim_pod("mine", json!({})));
        store
            .wait_for("mine", "Succeeded", |p| phase(p) == "Succeeded")
            .await;
        assert!(
            store
                .get("other")
                .is_some_and(|p| p.get("status").is_none())
        );
        assert_eq!(store.writes(), 1);
    }
}
