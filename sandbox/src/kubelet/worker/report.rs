//! Status reporting for a pod worker: what the pod status should say (`desired_status`), when to write it,
//! and the write itself (keeping conditions the kubelet does not own).

use std::sync::atomic::Ordering;

use chrono::Utc;
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use super::super::HOST_IP;
use super::super::status::{self, CState, ContainerView, Kind, Terminated};
use super::{LogView, STATUS_DEBOUNCE, Slot, ViewState, Worker, i64_at, is_terminal_phase};

impl Worker {
    pub(super) fn publish(&self) {
        let views = self
            .slots
            .iter()
            .map(|s| {
                if s.crash_looping() {
                    LogView {
                        name: s.name.clone(),
                        state: ViewState::Waiting("CrashLoopBackOff".into()),
                        current: None,
                        last: s.log.clone(),
                        running: None,
                    }
                } else {
                    let state = match &s.state {
                        CState::Waiting { reason, .. } => ViewState::Waiting(reason.clone()),
                        CState::Running { .. } => ViewState::Running,
                        CState::Terminated(_) => ViewState::Terminated,
                    };
                    let last = if s.last.is_some() {
                        s.prev_log.clone()
                    } else {
                        None
                    };
                    LogView {
                        name: s.name.clone(),
                        state,
                        current: s.log.clone(),
                        last,
                        running: s.running.clone(),
                    }
                }
            })
            .collect();
        *self.handle.views.lock().unwrap_or_else(|p| p.into_inner()) = views;
    }

    pub(super) fn phase(&self, views: &[ContainerView<'_>]) -> &'static str {
        if self.deadline_exceeded {
            return "Failed";
        }
        let phase = status::pod_phase(views, self.restart_policy(), self.terminal);
        if self.terminal && !is_terminal_phase(phase) {
            "Failed"
        } else {
            phase
        }
    }

    /// The status fields the kubelet owns, as they should be now.
    pub(super) fn desired_status(&self) -> Value {
        let shown: Vec<(CState, Option<Terminated>)> = self.slots.iter().map(Slot::shown).collect();
        let views: Vec<ContainerView<'_>> = self
            .slots
            .iter()
            .zip(shown.iter())
            .map(|(s, (state, last))| view(s, state, last.as_ref()))
            .collect();
        let phase = self.phase(&views);
        let any_running = self.slots.iter().any(|s| s.state.is_running());
        let gates: Vec<String> = self
            .pod
            .pointer("/spec/readinessGates")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|g| {
                g.get("conditionType")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .collect();
        let pod_conditions = self
            .pod
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        // The sandbox (and its network) is torn down once a terminal pod has nothing left running.
        let sandbox_ready = !self.terminal || any_running;
        let conds =
            status::kubelet_conditions(&views, phase, sandbox_ready, &gates, &pod_conditions);
        let generation = i64_at(&self.pod, "/metadata/generation");
        let now = status::rfc3339(Utc::now());
        let conditions: Vec<Value> = conds
            .iter()
            .map(|c| {
                let ltt = match self.cond_times.get(c.kind) {
                    Some((st, t)) if *st == c.status => t.clone(),
                    _ => existing_transition(&pod_conditions, c.kind, c.status)
                        .unwrap_or_else(|| now.clone()),
                };
                let mut m = Map::new();
                m.insert("type".into(), json!(c.kind));
                m.insert(
                    "status".into(),
                    json!(if c.status { "True" } else { "False" }),
                );
                m.insert("lastProbeTime".into(), Value::Null);
                m.insert("lastTransitionTime".into(), json!(ltt));
                if let Some(r) = &c.reason {
                    m.insert("reason".into(), json!(r));
                }
                if let Some(msg) = &c.message {
                    m.insert("message".into(), json!(msg));
                }
                if let Some(g) = generation {
                    m.insert("observedGeneration".into(), json!(g));
                }
                Value::Object(m)
            })
            .collect();
        let init: Vec<Value> = views
            .iter()
            .filter(|v| v.kind != Kind::Regular)
            .map(status::container_status)
            .collect();
        let mut regular: Vec<&ContainerView<'_>> =
            views.iter().filter(|v| v.kind == Kind::Regular).collect();
        regular.sort_by(|a, b| a.name.cmp(b.name));
        let regular: Vec<Value> = regular.into_iter().map(status::container_status).collect();

        let mut s = Map::new();
        s.insert("phase".into(), json!(phase));
        s.insert("conditions".into(), Value::Array(conditions));
        s.insert("hostIP".into(), json!(HOST_IP));
        s.insert("hostIPs".into(), json!([{ "ip": HOST_IP }]));
        s.insert("podIP".into(), json!(self.pod_ip));
        s.insert("podIPs".into(), json!([{ "ip": self.pod_ip }]));
        if let Some(t) = self.start_time {
            s.insert("startTime".into(), json!(status::rfc3339(t)));
        }
        if !init.is_empty() {
            s.insert("initContainerStatuses".into(), Value::Array(init));
        }
        s.insert("containerStatuses".into(), Value::Array(regular));
        s.insert(
            "qosClass".into(),
            json!(status::qos_class(
                self.pod.get("spec").unwrap_or(&Value::Null)
            )),
        );
        if self.deadline_exceeded {
            s.insert("reason".into(), json!("DeadlineExceeded"));
            s.insert(
                "message".into(),
                json!("Pod was active on the node longer than the specified deadline"),
            );
        }
        if let Some(g) = generation {
            s.insert("observedGeneration".into(), json!(g));
        }
        Value::Object(s)
    }

    /// Writes the status when it changed and has settled for the debounce interval.
    pub(super) fn sync_status(&mut self) {
        if self.passive {
            return;
        }
        let desired = self.desired_status();
        if self.written.as_ref() == Some(&comparable(&desired)) {
            self.dirty_since = None;
            return;
        }
        let now = Instant::now();
        let since = *self.dirty_since.get_or_insert(now);
        if now >= since + STATUS_DEBOUNCE {
            self.write_status(desired);
        }
    }

    /// Binds the pod if needed and writes `status`; false (and the pod forgotten) if the store refused.
    pub(super) fn write_status(&mut self, status: Value) -> bool {
        let node = self.shared.node_name.clone();
        let mut bound_elsewhere = false;
        let mut mutate = |pod: &mut Value| {
            let Some(root) = pod.as_object_mut() else {
                return;
            };
            let Some(spec) = ensure_object(root, "spec") else {
                return;
            };
            // The scheduler binds; a pod that is not (or no longer) this node's is not ours.
            if spec.get("nodeName").and_then(Value::as_str) != Some(node.as_str()) {
                bound_elsewhere = true;
                return;
            }
            let Some(current) = ensure_object(root, "status") else {
                return;
            };
            let mut conditions: Vec<Value> = current
                .get("conditions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|c| {
                    !c.get("type")
                        .and_then(Value::as_str)
                        .is_some_and(status::is_kubelet_condition)
                })
                .cloned()
                .collect();
            for (k, v) in status.as_object().into_iter().flatten() {
                if k == "conditions" {
                    conditions.extend(v.as_array().into_iter().flatten().cloned());
                } else {
                    current.insert(k.clone(), v.clone());
                }
            }
            current.insert("conditions".into(), Value::Array(conditions));
        };
        let ok = self.shared.store.update_pod(
            &self.namespace,
            &self.handle.name,
            &self.handle.uid,
            &mut mutate,
        );
        if !ok || bound_elsewhere {
            self.forget();
            return false;
        }
        for c in status
            .get("conditions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let kind = c.get("type").and_then(Value::as_str).unwrap_or_default();
            let st = c.get("status").and_then(Value::as_str) == Some("True");
            let ltt = c
                .get("lastTransitionTime")
                .and_then(Value::as_str)
                .unwrap_or_default();
            self.cond_times
                .insert(kind.to_string(), (st, ltt.to_string()));
        }
        self.written = Some(comparable(&status));
        self.dirty_since = None;
        self.handle.bound.store(true, Ordering::SeqCst);
        true
    }
}

/// The object under `key`, created (or replacing a non-object) if needed.
fn ensure_object<'a>(
    parent: &'a mut Map<String, Value>,
    key: &str,
) -> Option<&'a mut Map<String, Value>> {
    let entry = parent.entry(key.to_string()).or_insert_with(|| json!({}));
    if !entry.is_object() {
        *entry = json!({});
    }
    entry.as_object_mut()
}

/// Status without `lastTransitionTime`s, for telling whether anything changed.
pub(super) fn comparable(status: &Value) -> Value {
    let mut s = status.clone();
    if let Some(conds) = s.get_mut("conditions").and_then(Value::as_array_mut) {
        for c in conds {
            if let Some(m) = c.as_object_mut() {
                m.remove("lastTransitionTime");
            }
        }
    }
    s
}

/// `lastTransitionTime` of a condition already on the pod with the same status (e.g. `PodScheduled` set by
/// whoever bound it).
fn existing_transition(conditions: &[Value], kind: &str, status: bool) -> Option<String> {
    let c = conditions
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))?;
    let same =
        c.get("status").and_then(Value::as_str) == Some(if status { "True" } else { "False" });
    same.then(|| {
        c.get("lastTransitionTime")
            .and_then(Value::as_str)
            .map(str::to_string)
    })
    .flatten()
}

pub(super) fn view<'a>(
    slot: &'a Slot,
    state: &'a CState,
    last: Option<&'a Terminated>,
) -> ContainerView<'a> {
    ContainerView {
        name: &slot.name,
        spec_image: slot
            .spec
            .get("image")
            .and_then(Value::as_str)
            .unwrap_or_default(),
        kind: slot.kind,
        state,
        last,
        restart_count: slot.restart_count,
        container_id: slot.container_id.as_deref(),
    }
}
