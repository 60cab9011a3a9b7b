//! Pod status the way the kubelet writes it: phase (`getPhase` in `pkg/kubelet/kubelet_pods.go`), the
//! kubelet-owned conditions (`pkg/kubelet/status/generate.go`), container statuses, QoS class and the image
//! names a container runtime reports. Everything here is a pure function of the container states.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

/// Waiting reason of a container before its pod's sandbox is up.
pub(super) const CONTAINER_CREATING: &str = "ContainerCreating";
/// Waiting reason of every container of a pod with init containers until they are done.
pub(super) const POD_INITIALIZING: &str = "PodInitializing";

/// `metav1.Time` serialisation: RFC 3339 in UTC with whole seconds.
pub(super) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Init,
    /// An init container with `restartPolicy: Always`.
    Sidecar,
    Regular,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Terminated {
    pub exit_code: i32,
    pub reason: String,
    pub message: String,
    /// `None` only for states the kubelet fills in without a container (`ContainerStatusUnknown`).
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub container_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum CState {
    Waiting { reason: String, message: String },
    Running { started_at: DateTime<Utc> },
    Terminated(Terminated),
}

impl CState {
    pub(super) fn waiting(reason: &str) -> Self {
        CState::Waiting {
            reason: reason.to_string(),
            message: String::new(),
        }
    }

    pub(super) fn is_running(&self) -> bool {
        matches!(self, CState::Running { .. })
    }
}

/// What status generation needs to know about one container.
#[derive(Debug, Clone, Copy)]
pub(super) struct ContainerView<'a> {
    pub name: &'a str,
    pub spec_image: &'a str,
    pub kind: Kind,
    pub state: &'a CState,
    pub last: Option<&'a Terminated>,
    pub restart_count: u32,
    /// The current (or, while waiting to restart, the last) container instance.
    pub container_id: Option<&'a str>,
}

impl ContainerView<'_> {
    fn ready(&self) -> bool {
        match self.kind {
            // Without readiness probes a running container is ready at once.
            Kind::Regular | Kind::Sidecar => self.state.is_running(),
            Kind::Init => matches!(self.state, CState::Terminated(t) if t.exit_code == 0),
        }
    }

    fn started(&self) -> bool {
        self.state.is_running()
    }

    /// Whether this regular container has run at all (`HasAnyRegularContainerStarted`).
    fn has_run(&self) -> bool {
        !matches!(self.state, CState::Waiting { .. }) || self.last.is_some()
    }
}

fn terminated_json(t: &Terminated) -> Value {
    let mut m = Map::new();
    m.insert("exitCode".into(), json!(t.exit_code));
    if !t.reason.is_empty() {
        m.insert("reason".into(), json!(t.reason));
    }
    if !t.message.is_empty() {
        m.insert("message".into(), json!(t.message));
    }
    m.insert(
        "startedAt".into(),
        t.started_at.map_or(Value::Null, |s| json!(rfc3339(s))),
    );
    m.insert(
        "finishedAt".into(),
        t.finished_at.map_or(Value::Null, |s| json!(rfc3339(s))),
    );
    if let Some(id) = &t.container_id {
        m.insert("containerID".into(), json!(id));
    }
    Value::Object(m)
}

fn state_json(state: &CState) -> Value {
    match state {
        CState::Waiting { reason, message } => {
            let mut m = Map::new();
            if !reason.is_empty() {
                m.insert("reason".into(), json!(reason));
            }
            if !message.is_empty() {
                m.insert("message".into(), json!(message));
            }
            json!({ "waiting": m })
        }
        CState::Running { started_at } => {
            json!({ "running": { "startedAt": rfc3339(*started_at) } })
        }
        CState::Terminated(t) => json!({ "terminated": terminated_json(t) }),
    }
}

/// One entry of `containerStatuses`/`initContainerStatuses`.
pub(super) fn container_status(v: &ContainerView<'_>) -> Value {
    // The runtime reports the resolved image once a container exists; before that the kubelet echoes the spec.
    let (image, image_id) = match v.container_id {
        Some(_) => {
            let normalized = normalize_image(v.spec_image);
            let id = image_id(&normalized);
            (normalized, id)
        }
        None => (v.spec_image.to_string(), String::new()),
    };
    let mut m = Map::new();
    m.insert("name".into(), json!(v.name));
    m.insert("image".into(), json!(image));
    m.insert("imageID".into(), json!(image_id));
    if let Some(id) = v.container_id {
        m.insert("containerID".into(), json!(id));
    }
    m.insert("ready".into(), json!(v.ready()));
    m.insert("started".into(), json!(v.started()));
    m.insert("restartCount".into(), json!(v.restart_count));
    m.insert("state".into(), state_json(v.state));
    let last = v.last.map_or_else(
        || json!({}),
        |t| json!({ "terminated": terminated_json(t) }),
    );
    m.insert("lastState".into(), last);
    Value::Object(m)
}

/// `getPhase` for the default feature set: the pod phase from its container states.
pub(super) fn pod_phase(
    views: &[ContainerView<'_>],
    restart_policy: &str,
    pod_is_terminal: bool,
) -> &'static str {
    let (mut pending_init, mut failed_init, mut pending_sidecars) = (0, 0, 0);
    let (mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for v in views {
        match (v.kind, v.state) {
            (Kind::Init, CState::Running { .. }) => pending_init += 1,
            (Kind::Init, CState::Terminated(t)) => {
                if t.exit_code != 0 {
                    failed_init += 1;
                }
            }
            (Kind::Init, CState::Waiting { .. }) => match v.last {
                Some(t) if t.exit_code != 0 => failed_init += 1,
                Some(_) => {}
                None => pending_init += 1,
            },
            (Kind::Sidecar, CState::Running { .. }) => running += 1,
            (Kind::Sidecar, CState::Terminated(_)) => {}
            (Kind::Sidecar, CState::Waiting { .. }) => {
                if v.last.is_none() {
                    pending_sidecars += 1;
                    waiting += 1;
                }
            }
            (Kind::Regular, CState::Running { .. }) => running += 1,
            (Kind::Regular, CState::Terminated(t)) => {
                stopped += 1;
                if t.exit_code == 0 {
                    succeeded += 1;
                }
            }
            (Kind::Regular, CState::Waiting { .. }) => {
                if v.last.is_some() {
                    stopped += 1;
                } else {
                    waiting += 1;
                }
            }
        }
    }
    let initialized = views.iter().any(|v| v.kind == Kind::Regular && v.has_run());
    if failed_init > 0 && restart_policy == "Never" {
        return "Failed";
    }
    if pending_init > 0 || (pending_sidecars > 0 && !initialized) || waiting > 0 {
        return "Pending";
    }
    if running > 0 {
        return "Running";
    }
    if stopped == 0 {
        return "Pending";
    }
    if pod_is_terminal {
        return if stopped == succeeded {
            "Succeeded"
        } else {
            "Failed"
        };
    }
    match restart_policy {
        "Always" => "Running",
        _ if stopped == succeeded => "Succeeded",
        "Never" => "Failed",
        _ => "Running",
    }
}

/// A kubelet-owned pod condition, before `lastTransitionTime` is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Cond {
    pub kind: &'static str,
    pub status: bool,
    pub reason: Option<String>,
    pub message: Option<String>,
}

impl Cond {
    fn new(kind: &'static str, status: bool) -> Self {
        Self {
            kind,
            status,
            reason: None,
            message: None,
        }
    }

    fn because(mut self, reason: &str, message: Option<String>) -> Self {
        self.reason = Some(reason.to_string());
        self.message = message;
        self
    }
}

/// Condition types the kubelet owns and rewrites on every status update (`PodConditionByKubelet`).
pub(super) fn is_kubelet_condition(kind: &str) -> bool {
    matches!(
        kind,
        "PodScheduled" | "Ready" | "Initialized" | "ContainersReady" | "PodReadyToStartContainers"
    )
}

/// Go's `%s` of a `[]string`.
fn go_list(names: &[&str]) -> String {
    format!("[{}]", names.join(" "))
}

/// The kubelet-owned conditions in the order the kubelet appends them.
pub(super) fn kubelet_conditions(
    views: &[ContainerView<'_>],
    phase: &str,
    sandbox_ready: bool,
    readiness_gates: &[String],
    pod_conditions: &[Value],
) -> Vec<Cond> {
    let mut out = vec![Cond::new("PodReadyToStartContainers", sandbox_ready)];

    let incomplete: Vec<&str> = views
        .iter()
        .filter(|v| match v.kind {
            Kind::Init => !v.ready(),
            Kind::Sidecar => !v.started(),
            Kind::Regular => false,
        })
        .map(|v| v.name)
        .collect();
    let initialized = if phase == "Succeeded" {
        Cond::new("Initialized", true).because("PodCompleted", None)
    } else if views.iter().any(|v| v.kind == Kind::Regular && v.has_run()) || incomplete.is_empty()
    {
        Cond::new("Initialized", true)
    } else {
        let msg = format!(
            "containers with incomplete status: {}",
            go_list(&incomplete)
        );
        Cond::new("Initialized", false).because("ContainersNotInitialized", Some(msg))
    };
    out.push(initialized);

    let unready: Vec<&str> = views
        .iter()
        .filter(|v| v.kind != Kind::Init && !v.ready())
        .map(|v| v.name)
        .collect();
    let containers_ready = match phase {
        "Succeeded" => Cond::new("ContainersReady", false).because("PodCompleted", None),
        "Failed" => Cond::new("ContainersReady", false).because("PodFailed", None),
        _ if !unready.is_empty() => {
            let msg = format!("containers with unready status: {}", go_list(&unready));
            Cond::new("ContainersReady", false).because("ContainersNotReady", Some(msg))
        }
        _ => Cond::new("ContainersReady", true),
    };
    let ready = if containers_ready.status {
        let mut unready_gates = Vec::new();
        for gate in readiness_gates {
            let found = pod_conditions
                .iter()
                .find(|c| c.get("type").and_then(Value::as_str) == Some(gate));
            match found.and_then(|c| c.get("status")).and_then(Value::as_str) {
                None => unready_gates.push(format!(
                    "corresponding condition of pod readiness gate {gate:?} does not exist."
                )),
                Some("True") => {}
                Some(other) => unready_gates.push(format!(
                    "the status of pod readiness gate {gate:?} is not \"True\", but {other}"
                )),
            }
        }
        if unready_gates.is_empty() {
            Cond::new("Ready", true)
        } else {
            Cond::new("Ready", false)
                .because("ReadinessGatesNotReady", Some(unready_gates.join(", ")))
        }
    } else {
        Cond {
            kind: "Ready",
            ..containers_ready.clone()
        }
    };
    out.push(ready);
    out.push(containers_ready);
    out.push(Cond::new("PodScheduled", true));
    out
}

/// `GetPodQOS`: BestEffort without any cpu/memory request or limit, Guaranteed when every container limits
/// both and requests equal limits, Burstable otherwise. Requests missing next to a limit count as equal to
/// it, as API defaulting would have set them.
pub(super) fn qos_class(spec: &Value) -> &'static str {
    let mut requests: [f64; 2] = [0.0; 2];
    let mut limits: [f64; 2] = [0.0; 2];
    let (mut any_request, mut any_limit) = ([false; 2], [false; 2]);
    let mut guaranteed = true;
    let containers = ["containers", "initContainers"]
        .iter()
        .filter_map(|k| spec.get(*k).and_then(Value::as_array))
        .flatten();
    for c in containers {
        let res = c.get("resources");
        let mut limited = [false; 2];
        for (i, name) in ["cpu", "memory"].iter().enumerate() {
            let limit = quantity_at(res, "limits", name).filter(|q| *q > 0.0);
            let request = quantity_at(res, "requests", name)
                .filter(|q| *q > 0.0)
                .or(limit);
            if let Some(q) = request {
                requests[i] += q;
                any_request[i] = true;
            }
            if let Some(q) = limit {
                limits[i] += q;
                any_limit[i] = true;
                limited[i] = true;
            }
        }
        if !limited.iter().all(|l| *l) {
            guaranteed = false;
        }
    }
    if !any_request.iter().any(|x| *x) && !any_limit.iter().any(|x| *x) {
        return "BestEffort";
    }
    let equal =
        (0..2).all(|i| any_request[i] == any_limit[i] && (requests[i] - limits[i]).abs() < 1e-9);
    if guaranteed && equal {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

fn quantity_at(res: Option<&Value>, section: &str, name: &str) -> Option<f64> {
    let v = res?.get(section)?.get(name)?;
    match v {
        Value::String(s) => crate::quantity::parse(s),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

/// The image reference a container runtime reports: registry and tag made explicit.
pub(super) fn normalize_image(image: &str) -> String {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let mut full = match name.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => name.to_string(),
        Some(_) => format!("docker.io/{name}"),
        None => format!("docker.io/library/{name}"),
    };
    let last = full.rsplit('/').next().unwrap_or_default();
    if digest.is_none() && !last.contains(':') {
        full.push_str(":latest");
    }
    match digest {
        Some(d) => format!("{full}@{d}"),
        None => full,
    }
}

/// `imageID` as `repo@sha256:...`; a stable made-up digest unless the reference pins one.
pub(super) fn image_id(normalized: &str) -> String {
    if let Some((repo, digest)) = normalized.split_once('@') {
        let repo = strip_tag(repo);
        return format!("{repo}@{digest}");
    }
    format!(
        "{}@sha256:{}",
        strip_tag(normalized),
        fake_digest(normalized)
    )
}

fn strip_tag(reference: &str) -> &str {
    let slash = reference.rfind('/').map_or(0, |i| i + 1);
    match reference[slash..].find(':') {
        Some(colon) => &reference[..slash + colon],
        None => reference,
    }
}

/// 64 hex digits derived from `seed`, standing in for a content digest.
pub(super) fn fake_digest(seed: &str) -> String {
    (0u8..4)
        .map(|salt| {
            let mut h = DefaultHasher::new();
            (salt, seed).hash(&mut h);
            format!("{:016x}", h.finish())
        })
        .collect()
}

/// Go's `time.Duration.String()` for whole seconds, as in the kubelet's back-off messages.
pub(super) fn go_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(code: i32) -> CState {
        CState::Terminated(Terminated {
            exit_code: code,
            reason: if code == 0 { "Completed" } else { "Error" }.into(),
            message: String::new(),
            started_at: Some(Utc::now()),
            finished_at: Some(Utc::now()),
            container_id: Some("containerd://x".into()),
        })
    }

    fn view<'a>(name: &'a str, kind: Kind, state: &'a CState) -> ContainerView<'a> {
        ContainerView {
            name,
            spec_image: "busybox",
            kind,
            state,
            last: None,
            restart_count: 0,
            container_id: Some("containerd://x"),
        }
    }

    #[test]
    fn phase_follows_get_phase() {
        let running = CState::Running {
            started_at: Utc::now(),
        };
        let waiting = CState::waiting(POD_INITIALIZING);
        let (ok, failed) = (term(0), term(3));
        let p = |views: &[ContainerView<'_>], policy| pod_phase(views, policy, false);
        assert_eq!(p(&[view("a", Kind::Regular, &running)], "Never"), "Running");
        assert_eq!(
            p(
                &[view("a", Kind::Regular, &ok), view("b", Kind::Regular, &ok)],
                "Never"
            ),
            "Succeeded"
        );
        assert_eq!(
            p(
                &[
                    view("a", Kind::Regular, &ok),
                    view("b", Kind::Regular, &failed)
                ],
                "Never"
            ),
            "Failed"
        );
        assert_eq!(
            p(&[view("a", Kind::Regular, &failed)], "OnFailure"),
            "Running"
        );
        assert_eq!(p(&[view("a", Kind::Regular, &ok)], "Always"), "Running");
        assert_eq!(
            p(
                &[
                    view("i", Kind::Init, &failed),
                    view("a", Kind::Regular, &waiting)
                ],
                "Never"
            ),
            "Failed"
        );
        assert_eq!(
            p(
                &[
                    view("i", Kind::Init, &running),
                    view("a", Kind::Regular, &waiting)
                ],
                "Never"
            ),
            "Pending"
        );
        assert_eq!(
            pod_phase(&[view("a", Kind::Regular, &ok)], "Always", true),
            "Succeeded"
        );
        assert_eq!(
            p(
                &[
                    view("s", Kind::Sidecar, &running),
                    view("a", Kind::Regular, &running)
                ],
                "Never"
            ),
            "Running"
        );
    }

    #[test]
    fn conditions_for_running_and_completed_pods() {
        let running = CState::Running {
            started_at: Utc::now(),
        };
        let views = [view("a", Kind::Regular, &running)];
        let conds = kubelet_conditions(&views, "Running", true, &[], &[]);
        let kinds: Vec<_> = conds.iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            [
                "PodReadyToStartContainers",
                "Initialized",
                "Ready",
                "ContainersReady",
                "PodScheduled"
            ]
        );
        assert!(conds.iter().all(|c| c.status));

        let done = term(0);
        let views = [view("a", Kind::Regular, &done)];
        let conds = kubelet_conditions(&views, "Succeeded", false, &[], &[]);
        let ready = conds.iter().find(|c| c.kind == "Ready").cloned();
        assert_eq!(
            ready.map(|c| (c.status, c.reason)),
            Some((false, Some("PodCompleted".into())))
        );

        let waiting = CState::waiting(POD_INITIALIZING);
        let init_running = CState::Running {
            started_at: Utc::now(),
        };
        let views = [
            view("setup", Kind::Init, &init_running),
            view("a", Kind::Regular, &waiting),
        ];
        let conds = kubelet_conditions(&views, "Pending", true, &["gate".into()], &[]);
        let init = conds.iter().find(|c| c.kind == "Initialized").cloned();
        assert_eq!(
            init.and_then(|c| c.message),
            Some("containers with incomplete status: [setup]".to_string())
        );
        let ready = conds.iter().find(|c| c.kind == "Ready").cloned();
        assert_eq!(
            ready.and_then(|c| c.message),
            Some("containers with unready status: [a]".to_string())
        );
    }

    #[test]
    fn readiness_gates_hold_ready_back() {
        let running = CState::Running {
            started_at: Utc::now(),
        };
        let views = [view("a", Kind::Regular, &running)];
        let conds = kubelet_conditions(&views, "Running", true, &["example.com/gate".into()], &[]);
        let ready = conds.iter().find(|c| c.kind == "Ready").cloned();
        assert_eq!(
            ready.map(|c| (c.status, c.reason, c.message)),
            Some((
                false,
                Some("ReadinessGatesNotReady".into()),
                Some("corresponding condition of pod readiness gate \"example.com/gate\" does not exist.".into())
            ))
        );
    }

    #[test]
    fn qos_classes() {
        assert_eq!(
            qos_class(&json!({"containers": [{"name": "a"}]})),
            "BestEffort"
        );
        let limited =
            json!({"containers": [{"resources": {"limits": {"cpu": "500m", "memory": "128Mi"}}}]});
        assert_eq!(qos_class(&limited), "Guaranteed");
        let equal = json!({"containers": [{"resources": {
            "limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1000m", "memory": "1073741824"}}}]});
        assert_eq!(qos_class(&equal), "Guaranteed");
        let burst = json!({"containers": [{"resources": {"requests": {"cpu": "100m"}}}]});
        assert_eq!(qos_class(&burst), "Burstable");
    }

    #[test]
    fn images_are_normalized_like_a_runtime_reports_them() {
        assert_eq!(
            normalize_image("busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(
            normalize_image("nginx:1.25"),
            "docker.io/library/nginx:1.25"
        );
        assert_eq!(
            normalize_image("bitnami/kubectl"),
            "docker.io/bitnami/kubectl:latest"
        );
        assert_eq!(
            normalize_image("localhost:5000/x/y:v1"),
            "localhost:5000/x/y:v1"
        );
        assert_eq!(
            normalize_image("ghcr.io/a/b@sha256:abc"),
            "ghcr.io/a/b@sha256:abc"
        );
        let id = image_id("docker.io/library/busybox:latest");
        assert!(id.starts_with("docker.io/library/busybox@sha256:"), "{id}");
        assert_eq!(id.len(), "docker.io/library/busybox@sha256:".len() + 64);
        assert_eq!(
            image_id("localhost:5000/x/y:v1@sha256:abc"),
            "localhost:5000/x/y@sha256:abc"
        );
    }

    #[test]
    fn container_status_shapes() {
        let waiting = CState::waiting(CONTAINER_CREATING);
        let mut v = view("a", Kind::Regular, &waiting);
        v.container_id = None;
        let s = container_status(&v);
        assert_eq!(s["image"], "busybox");
        assert_eq!(s["imageID"], "");
        assert_eq!(
            s["state"],
            json!({"waiting": {"reason": "ContainerCreating"}})
        );
        assert_eq!(s["lastState"], json!({}));
        assert!(s.get("containerID").is_none());

        let done = term(0);
        let s = container_status(&view("i", Kind::Init, &done));
        assert_eq!(
            (s["ready"].clone(), s["started"].clone()),
            (json!(true), json!(false))
        );
        assert_eq!(s["state"]["terminated"]["reason"], "Completed");
        assert!(s["state"]["terminated"].get("message").is_none());
    }

    #[test]
    fn go_durations() {
        assert_eq!(go_duration(Duration::from_secs(10)), "10s");
        assert_eq!(go_duration(Duration::from_secs(80)), "1m20s");
        assert_eq!(go_duration(Duration::from_secs(300)), "5m0s");
    }
}
