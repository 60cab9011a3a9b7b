//! One task per pod, like the kubelet's pod workers: it starts the containers (init containers first, in
//! order), restarts them by `restartPolicy`, enforces `activeDeadlineSeconds`, stops them on deletion, and
//! writes the pod status whenever what it would report changes. Writes are debounced briefly so that a
//! container that exits at once is reported in the same write that binds the pod.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::time::Instant;

use super::logbuf::LogBuffer;
use super::status::{self, CState, ContainerView, Kind, Terminated};
use super::stream::RunningContainer;
use super::{PodMode, Shared, exec};
use report::{comparable, view};

mod hook;
mod report;
mod start;

/// Long enough for a quickly exiting container to be reported together with the binding, short enough to
/// go unnoticed.
const STATUS_DEBOUNCE: Duration = Duration::from_millis(25);
/// The kubelet's crash-loop back-off: the first restart is immediate, then 10s doubling up to 5m.
const INITIAL_BACKOFF: Duration = Duration::from_secs(10);
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// A container that ran this long has its back-off forgotten.
const BACKOFF_RESET_AFTER: Duration = Duration::from_secs(600);
/// How often a container blocked by `CreateContainerConfigError` is retried.
const CONFIG_RETRY: Duration = Duration::from_secs(2);
const DEFAULT_GRACE_SECONDS: i64 = 30;
/// `kubecontainer.MaxContainerTerminationMessageLogLines` / `...LogLength`.
const FALLBACK_LOG_LINES: usize = 80;
const FALLBACK_LOG_BYTES: usize = 2048;
/// Annotations that drive `Simulate` mode; a `.<container>` suffix targets one container.
const ANNOTATION_PREFIX: &str = "sandbox.kube/";

pub(super) enum WorkerMsg {
    /// The pod as committed by the store (created or updated).
    Pod(Arc<Value>),
    /// The pod object is gone: kill what runs and forget it.
    Removed,
    Shutdown,
    Exited {
        slot: usize,
        instance: u64,
        exit_code: i32,
        finished_at: DateTime<Utc>,
    },
    /// A container's postStart hook ended.
    HookDone {
        slot: usize,
        instance: u64,
        result: hook::HookResult,
    },
}

/// What `pods/log` sees of one container.
#[derive(Debug, Clone)]
pub(super) struct LogView {
    pub name: String,
    pub state: ViewState,
    pub current: Option<Arc<LogBuffer>>,
    /// The instance behind `lastState.terminated`, if any.
    pub last: Option<Arc<LogBuffer>>,
    /// What exec and attach reach of the current instance (exec mode).
    pub running: Option<Arc<RunningContainer>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ViewState {
    Waiting(String),
    Running,
    Terminated,
}

/// The part of a pod's runtime state shared with `Kubelet::logs`.
#[derive(Debug)]
pub(super) struct PodHandle {
    pub uid: String,
    pub name: String,
    pub containers: Vec<String>,
    pub init_containers: Vec<String>,
    pub ephemeral_containers: Vec<String>,
    /// Whether the pod has `spec.nodeName` (until then the API server serves an empty log).
    pub bound: AtomicBool,
    pub views: Mutex<Vec<LogView>>,
}

fn names(pod: &Value, key: &str) -> Vec<String> {
    pod.pointer(&format!("/spec/{key}"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_string))
        .collect()
}

impl PodHandle {
    pub(super) fn new(pod: &Value, uid: &str, name: &str, bound: bool) -> Self {
        let init_containers = names(pod, "initContainers");
        let containers = names(pod, "containers");
        let reason = if init_containers.is_empty() {
            status::CONTAINER_CREATING
        } else {
            status::POD_INITIALIZING
        };
        let views = init_containers
            .iter()
            .chain(containers.iter())
            .map(|n| LogView {
                name: n.clone(),
                state: ViewState::Waiting(reason.into()),
                current: None,
                last: None,
                running: None,
            })
            .collect();
        Self {
            uid: uid.to_string(),
            name: name.to_string(),
            ephemeral_containers: names(pod, "ephemeralContainers"),
            containers,
            init_containers,
            bound: AtomicBool::new(bound),
            views: Mutex::new(views),
        }
    }
}

struct Slot {
    name: String,
    kind: Kind,
    spec: Value,
    state: CState,
    /// `lastState.terminated`: the instance before the current one.
    last: Option<Terminated>,
    restart_count: u32,
    /// Bumped per started instance; exit reports of older instances are ignored.
    instance: u64,
    container_id: Option<String>,
    log: Option<Arc<LogBuffer>>,
    prev_log: Option<Arc<LogBuffer>>,
    pgid: Option<u32>,
    started: Option<Instant>,
    sim_end: Option<Instant>,
    /// A pending restart (or configuration retry).
    restart_at: Option<Instant>,
    /// Set while a restart waits out its back-off: the status then shows `CrashLoopBackOff`.
    crash_message: Option<String>,
    backoff: Duration,
    term_sent: bool,
    kill_sent: bool,
    message_file: Option<PathBuf>,
    running: Option<Arc<RunningContainer>>,
    /// The postStart hook of the current instance, while it runs.
    hook: Option<hook::PendingHook>,
    /// SIGKILL for this container alone at this instant (a failed postStart hook killed it).
    kill_by: Option<Instant>,
}

impl Slot {
    fn new(spec: &Value, kind: Kind, waiting_reason: &str) -> Self {
        Self {
            name: spec
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            kind,
            spec: spec.clone(),
            state: CState::waiting(waiting_reason),
            last: None,
            restart_count: 0,
            instance: 0,
            container_id: None,
            log: None,
            prev_log: None,
            pgid: None,
            started: None,
            sim_end: None,
            restart_at: None,
            crash_message: None,
            backoff: Duration::ZERO,
            term_sent: false,
            kill_sent: false,
            message_file: None,
            running: None,
            hook: None,
            kill_by: None,
        }
    }

    fn crash_looping(&self) -> bool {
        self.restart_at.is_some()
            && self.crash_message.is_some()
            && matches!(self.state, CState::Terminated(_))
    }

    /// The state and last state the API shows.
    fn shown(&self) -> (CState, Option<Terminated>) {
        if let Some(hook) = &self.hook {
            return (hook.shown.clone(), self.last.clone());
        }
        match (&self.state, &self.crash_message) {
            (CState::Terminated(t), Some(msg)) if self.restart_at.is_some() => (
                CState::Waiting {
                    reason: "CrashLoopBackOff".into(),
                    message: msg.clone(),
                },
                Some(t.clone()),
            ),
            _ => (self.state.clone(), self.last.clone()),
        }
    }
}

pub(super) struct Worker {
    shared: Arc<Shared>,
    handle: Arc<PodHandle>,
    tx: UnboundedSender<WorkerMsg>,
    namespace: String,
    pod: Arc<Value>,
    pod_ip: String,
    slots: Vec<Slot>,
    pod_dir: Option<tempfile::TempDir>,
    start_time: Option<DateTime<Utc>>,
    start_instant: Option<Instant>,
    /// The pod was already terminal when first seen: nothing to run, nothing to write.
    passive: bool,
    /// No more container starts: the pod reached its final phase or its containers were stopped.
    terminal: bool,
    deadline_exceeded: bool,
    deletion_seen: bool,
    /// Stopping containers; SIGKILL follows at this instant.
    kill_at: Option<Instant>,
    done: bool,
    written: Option<Value>,
    dirty_since: Option<Instant>,
    /// Per condition type: the status last written and its `lastTransitionTime`.
    cond_times: HashMap<String, (bool, String)>,
}

fn is_terminal_phase(phase: &str) -> bool {
    phase == "Succeeded" || phase == "Failed"
}

fn i64_at(v: &Value, pointer: &str) -> Option<i64> {
    v.pointer(pointer).and_then(Value::as_i64)
}

fn new_container_id() -> String {
    format!(
        "containerd://{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

impl Worker {
    pub(super) fn new(
        shared: Arc<Shared>,
        handle: Arc<PodHandle>,
        tx: UnboundedSender<WorkerMsg>,
        pod: Arc<Value>,
        pod_ip: String,
    ) -> Self {
        let has_init = pod
            .pointer("/spec/initContainers")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
        let reason = if has_init {
            status::POD_INITIALIZING
        } else {
            status::CONTAINER_CREATING
        };
        let mut slots = Vec::new();
        for spec in pod
            .pointer("/spec/initContainers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let sidecar = spec.get("restartPolicy").and_then(Value::as_str) == Some("Always");
            slots.push(Slot::new(
                spec,
                if sidecar { Kind::Sidecar } else { Kind::Init },
                reason,
            ));
        }
        for spec in pod
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            slots.push(Slot::new(spec, Kind::Regular, reason));
        }
        let phase = pod
            .pointer("/status/phase")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let passive = is_terminal_phase(phase);
        let namespace = pod
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("default")
            .to_string();
        let deletion_seen = pod
            .pointer("/metadata/deletionTimestamp")
            .is_some_and(|v| !v.is_null());
        Self {
            shared,
            handle,
            tx,
            namespace,
            pod,
            pod_ip,
            slots,
            pod_dir: None,
            start_time: None,
            start_instant: None,
            passive,
            terminal: passive,
            deadline_exceeded: false,
            deletion_seen,
            kill_at: None,
            done: false,
            written: None,
            dirty_since: None,
            cond_times: HashMap::new(),
        }
    }

    pub(super) async fn run(mut self, mut rx: UnboundedReceiver<WorkerMsg>) {
        loop {
            self.reconcile();
            if self.done {
                break;
            }
            self.publish();
            self.sync_status();
            if self.done {
                break;
            }
            let wake = self.next_wakeup();
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(msg) => self.on_msg(msg),
                    None => self.abandon(),
                },
                () = sleep_until(wake) => {}
            }
            while let Ok(msg) = rx.try_recv() {
                self.on_msg(msg);
            }
            if self.done {
                break;
            }
        }
    }

    fn name(&self) -> &str {
        &self.handle.name
    }

    fn restart_policy(&self) -> &str {
        self.pod
            .pointer("/spec/restartPolicy")
            .and_then(Value::as_str)
            .unwrap_or("Always")
    }

    fn grace_seconds(&self) -> i64 {
        i64_at(&self.pod, "/spec/terminationGracePeriodSeconds").unwrap_or(DEFAULT_GRACE_SECONDS)
    }

    fn on_msg(&mut self, msg: WorkerMsg) {
        match msg {
            WorkerMsg::Pod(pod) => {
                if pod.pointer("/metadata/uid").and_then(Value::as_str)
                    != Some(self.handle.uid.as_str())
                {
                    return;
                }
                if pod
                    .pointer("/metadata/deletionTimestamp")
                    .is_some_and(|v| !v.is_null())
                {
                    self.deletion_seen = true;
                }
                self.pod = pod;
            }
            WorkerMsg::Removed | WorkerMsg::Shutdown => self.abandon(),
            WorkerMsg::Exited {
                slot,
                instance,
                exit_code,
                finished_at,
            } => {
                let current = self
                    .slots
                    .get(slot)
                    .is_some_and(|s| s.instance == instance && s.state.is_running());
                if current {
                    self.finish_instance(slot, exit_code, finished_at);
                }
            }
            WorkerMsg::HookDone {
                slot,
                instance,
                result,
            } => self.hook_done(slot, instance, result),
        }
    }

    /// Drives the pod one step: deadlines, deletion, stopping, starting.
    fn reconcile(&mut self) {
        if self.done {
            return;
        }
        let now = Instant::now();
        for i in 0..self.slots.len() {
            if self.slots[i].state.is_running()
                && self.slots[i].sim_end.is_some_and(|end| end <= now)
            {
                let code = self
                    .annotation("exit-code", i)
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                self.finish_instance(i, code, Utc::now());
            }
            let slot = &mut self.slots[i];
            if slot.state.is_running()
                && !slot.kill_sent
                && slot.kill_by.is_some_and(|at| at <= now)
            {
                slot.kill_sent = true;
                if let Some(pgid) = slot.pgid {
                    exec::signal_group(pgid, "KILL");
                }
            }
        }
        if self.deletion_seen {
            let ever_started = self.slots.iter().any(|s| s.instance > 0);
            if !ever_started || self.terminal {
                self.finish_deletion();
                return;
            }
            let grace = i64_at(&self.pod, "/metadata/deletionGracePeriodSeconds")
                .unwrap_or(self.grace_seconds());
            self.begin_stop(grace);
        }
        if !self.terminal && !self.deadline_exceeded && self.deadline().is_some_and(|d| d <= now) {
            self.deadline_exceeded = true;
            self.begin_stop(self.grace_seconds());
        }
        if self.kill_at.is_none() && !self.terminal {
            if self.start_time.is_none() {
                self.start_time = Some(Utc::now());
                self.start_instant = Some(now);
            }
            // Each pass starts what is due; simulated containers may finish at once and unblock the next.
            for _ in 0..64 {
                if !self.start_due(now) {
                    break;
                }
            }
            self.check_completion();
        }
        if self.kill_at.is_some() && !self.terminal {
            self.drive_stop(now);
        }
        if self.deletion_seen && self.terminal {
            self.finish_deletion();
        }
    }

    fn deadline(&self) -> Option<Instant> {
        let seconds = i64_at(&self.pod, "/spec/activeDeadlineSeconds")?;
        Some(self.start_instant? + Duration::from_secs(u64::try_from(seconds).unwrap_or(0)))
    }

    /// Starts every container that is due; returns whether anything was started.
    fn start_due(&mut self, now: Instant) -> bool {
        let mut progress = false;
        for i in 0..self.slots.len() {
            if self.in_hook() {
                // The pod worker waits for a postStart hook before it starts anything else.
                return progress;
            }
            let due = self.is_due(i, now);
            let succeeded =
                matches!(&self.slots[i].state, CState::Terminated(t) if t.exit_code == 0);
            let kind = self.slots[i].kind;
            if kind == Kind::Init && succeeded {
                continue;
            }
            if due {
                self.start(i);
                progress = true;
            }
            if kind == Kind::Init {
                // Init containers run one at a time, in order.
                return progress;
            }
        }
        progress
    }

    fn is_due(&self, i: usize, now: Instant) -> bool {
        let slot = &self.slots[i];
        match (&slot.state, slot.restart_at) {
            (CState::Running { .. }, _) => false,
            (_, Some(at)) => at <= now,
            (CState::Waiting { .. }, None) => slot.instance == 0,
            (CState::Terminated(_), None) => false,
        }
    }

    fn should_restart(&self, kind: Kind, exit_code: i32) -> bool {
        match (kind, self.restart_policy()) {
            (Kind::Sidecar, _) => true,
            (_, "Never") => false,
            (_, "OnFailure") => exit_code != 0,
            (Kind::Init, _) => exit_code != 0,
            (Kind::Regular, _) => true,
        }
    }

    /// A running instance exited with `exit_code`: record it, as the runtime and kubelet would report it.
    fn finish_instance(&mut self, i: usize, exit_code: i32, finished_at: DateTime<Utc>) {
        self.kill_hook(i);
        self.slots[i].kill_by = None;
        let written = match self.shared.mode {
            PodMode::Exec => self.slots[i]
                .message_file
                .as_deref()
                .map(exec::read_termination_message),
            PodMode::Simulate => self
                .annotation("termination-message", i)
                .map(|m| exec::clamp_message(&m)),
        };
        let slot = &mut self.slots[i];
        let mut message = written.unwrap_or_default();
        let policy = slot
            .spec
            .get("terminationMessagePolicy")
            .and_then(Value::as_str);
        if message.is_empty() && exit_code != 0 && policy == Some("FallbackToLogsOnError") {
            message = slot
                .log
                .as_ref()
                .map(|l| l.tail_text(FALLBACK_LOG_LINES, FALLBACK_LOG_BYTES))
                .unwrap_or_default();
        }
        let started_at = match &slot.state {
            CState::Running { started_at } => Some(*started_at),
            _ => None,
        };
        slot.state = CState::Terminated(Terminated {
            exit_code,
            reason: if exit_code == 0 { "Completed" } else { "Error" }.into(),
            message,
            started_at,
            finished_at: Some(finished_at),
            container_id: slot.container_id.clone(),
        });
        slot.pgid = None;
        slot.running = None;
        slot.sim_end = None;
        if let Some(log) = &slot.log {
            log.close();
        }
        self.schedule_restart(i);
    }

    fn schedule_restart(&mut self, i: usize) {
        if self.kill_at.is_some() || self.terminal {
            return;
        }
        let CState::Terminated(t) = &self.slots[i].state else {
            return;
        };
        if !self.should_restart(self.slots[i].kind, t.exit_code) {
            return;
        }
        let pod_ref = format!("{}_{}({})", self.name(), self.namespace, self.handle.uid);
        let slot = &mut self.slots[i];
        if slot
            .started
            .is_some_and(|s| s.elapsed() >= BACKOFF_RESET_AFTER)
        {
            slot.backoff = Duration::ZERO;
        }
        let delay = slot.backoff;
        slot.backoff = if delay.is_zero() {
            INITIAL_BACKOFF
        } else {
            (delay * 2).min(MAX_BACKOFF)
        };
        slot.restart_at = Some(Instant::now() + delay);
        if !delay.is_zero() {
            // kuberuntime_manager.go: "Back-off restarting failed container %s in pod %s".
            let message = format!(
                "Back-off restarting failed container {} in pod {pod_ref}",
                slot.name
            );
            self.event(Some(i), "Warning", "BackOff", message);
        }
        let slot = &mut self.slots[i];
        slot.crash_message = (!delay.is_zero()).then(|| {
            format!(
                "back-off {} restarting failed container={} pod={pod_ref}",
                status::go_duration(delay),
                slot.name
            )
        });
    }

    /// Natural completion: every regular container is done for good (or an init container failed for good).
    fn check_completion(&mut self) {
        let shown: Vec<(CState, Option<Terminated>)> = self.slots.iter().map(Slot::shown).collect();
        let views: Vec<ContainerView<'_>> = self
            .slots
            .iter()
            .zip(shown.iter())
            .filter(|(s, _)| s.kind != Kind::Sidecar)
            .map(|(s, (state, last))| view(s, state, last.as_ref()))
            .collect();
        let pending = self
            .slots
            .iter()
            .any(|s| s.restart_at.is_some() && s.kind != Kind::Sidecar);
        if pending || !is_terminal_phase(status::pod_phase(&views, self.restart_policy(), false)) {
            return;
        }
        if self.slots.iter().any(|s| s.state.is_running()) {
            // Sidecars are stopped once the main containers are done.
            self.begin_stop(self.grace_seconds());
        } else {
            self.terminal = true;
            self.cancel_restarts();
        }
    }

    fn cancel_restarts(&mut self) {
        for slot in &mut self.slots {
            slot.restart_at = None;
            slot.crash_message = None;
        }
    }

    fn begin_stop(&mut self, grace_seconds: i64) {
        let at = Instant::now() + Duration::from_secs(u64::try_from(grace_seconds).unwrap_or(0));
        self.kill_at = Some(self.kill_at.map_or(at, |existing| existing.min(at)));
        self.cancel_restarts();
    }

    /// Signals running containers (SIGTERM, then SIGKILL at the deadline); once none runs, the pod is final.
    fn drive_stop(&mut self, now: Instant) {
        let kill_due = self.kill_at.is_some_and(|at| at <= now);
        for i in 0..self.slots.len() {
            if !self.slots[i].state.is_running() {
                continue;
            }
            self.kill_hook(i);
            match self.slots[i].pgid {
                Some(pgid) => {
                    let slot = &mut self.slots[i];
                    if !slot.term_sent {
                        slot.term_sent = true;
                        exec::signal_group(pgid, "TERM");
                        let message = format!("Stopping container {}", slot.name);
                        self.event(Some(i), "Normal", "Killing", message);
                    }
                    let slot = &mut self.slots[i];
                    if kill_due && !slot.kill_sent {
                        slot.kill_sent = true;
                        exec::signal_group(pgid, "KILL");
                    }
                }
                // A simulated process dies of SIGTERM at once.
                None => {
                    let message = format!("Stopping container {}", self.slots[i].name);
                    self.event(Some(i), "Normal", "Killing", message);
                    self.finish_instance(i, 143, Utc::now());
                }
            }
        }
        if self.slots.iter().any(|s| s.state.is_running()) {
            return;
        }
        self.terminal = true;
        // `TerminatePod`: once initialized, containers that never reported a result count as failed.
        if self
            .slots
            .iter()
            .any(|s| s.kind == Kind::Regular && s.instance > 0)
        {
            for slot in &mut self.slots {
                if matches!(slot.state, CState::Waiting { .. }) {
                    slot.state = CState::Terminated(Terminated {
                        exit_code: 137,
                        reason: "ContainerStatusUnknown".into(),
                        message: "The container could not be located when the pod was terminated"
                            .into(),
                        started_at: None,
                        finished_at: None,
                        container_id: None,
                    });
                }
            }
        }
    }

    fn finish_deletion(&mut self) {
        if !self.passive && self.slots.iter().any(|s| s.instance > 0) {
            let desired = self.desired_status();
            if self.written.as_ref() != Some(&comparable(&desired)) && !self.write_status(desired) {
                return;
            }
        }
        self.publish();
        tracing::debug!(namespace = %self.namespace, pod = %self.handle.name, "pod stopped, finishing its deletion");
        self.shared
            .store
            .finish_pod_deletion(&self.namespace, self.name(), &self.handle.uid);
        self.done = true;
    }

    /// Stops everything at once and forgets the pod (object removed, or shutdown).
    fn abandon(&mut self) {
        for slot in &mut self.slots {
            let hook = slot.hook.take().and_then(|h| h.pgid);
            for pgid in slot.pgid.take().into_iter().chain(hook) {
                exec::signal_group(pgid, "KILL");
            }
            for log in [&slot.log, &slot.prev_log].into_iter().flatten() {
                log.close();
            }
        }
        self.done = true;
    }

    /// The store no longer has this pod (or it was bound elsewhere): forget it.
    fn forget(&mut self) {
        tracing::debug!(namespace = %self.namespace, pod = %self.handle.name, "pod gone from the store, forgetting it");
        self.abandon();
        let mut pods = self.shared.pods.lock().unwrap_or_else(|p| p.into_inner());
        let key = (self.namespace.clone(), self.handle.name.clone());
        if pods.get(&key).is_some_and(|e| e.uid == self.handle.uid) {
            pods.remove(&key);
        }
    }

    fn next_wakeup(&self) -> Option<Instant> {
        let mut times: Vec<Instant> = Vec::new();
        times.extend(self.dirty_since.map(|d| d + STATUS_DEBOUNCE));
        if !self.terminal && !self.deadline_exceeded {
            times.extend(self.deadline());
        }
        if self
            .slots
            .iter()
            .any(|s| s.state.is_running() && !s.kill_sent)
        {
            times.extend(self.kill_at);
        }
        for slot in &self.slots {
            times.extend(slot.restart_at);
            times.extend(slot.sim_end);
            if slot.state.is_running() && !slot.kill_sent {
                times.extend(slot.kill_by);
            }
        }
        times.into_iter().min()
    }
}

impl Worker {
    /// Records an event as the kubelet's recorder does, about a container (`i`) or the pod.
    pub(super) fn event(&self, i: Option<usize>, type_: &str, reason: &str, message: String) {
        let field_path = i.and_then(|i| self.slots.get(i)).map(|s| {
            let list = if s.kind == Kind::Regular {
                "containers"
            } else {
                "initContainers"
            };
            format!("spec.{list}{{{}}}", s.name)
        });
        let ev = crate::events::PodEvent {
            pod: &self.pod,
            field_path,
            type_,
            reason,
            action: "",
            message,
        };
        let reporter = crate::events::Reporter::Kubelet {
            node: &self.shared.node_name,
        };
        self.shared
            .store
            .record_event(crate::events::pod_event(&ev, reporter, Utc::now()));
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
