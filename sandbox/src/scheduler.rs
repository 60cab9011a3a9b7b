//! The scheduler: binds Pods without a node to a Node that passes kube-scheduler's default
//! Filter plugins ([`plugins`]), and reports as kube-scheduler does — `PodScheduled` True and a
//! `Scheduled` event on success; `PodScheduled=False` (reason `Unschedulable`) and a
//! `FailedScheduling` event with the FitError message when no node fits.
//!
//! Like the controllers it reads the store's change history from its own cursor. A Pod that
//! did not fit waits, as in kube-scheduler's unschedulable queue, until something that could
//! change the answer happens: a Node is added, changed or removed; a bound Pod ends or goes
//! away (freeing resources); the Pod's own spec or labels change; or five minutes pass
//! (`podMaxInUnschedulablePodsDuration`). Pods for another `schedulerName` and Pods with
//! `schedulingGates` are left alone.
//!
//! It also does the node lifecycle controller's part that scheduling shows: a cordoned Node
//! (`spec.unschedulable`) carries the `node.kubernetes.io/unschedulable:NoSchedule` taint, and
//! loses it when uncordoned (`doNoScheduleTaintingPass`).

pub(crate) mod plugins;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::events::{self, PodEvent, Reporter};
use crate::ops;
use crate::state::State;
use crate::store::{Change, ChangeType, Since, StorageKey, meta_str};
use plugins::{NodeInfo, Rejection};

/// `podMaxInUnschedulablePodsDuration`: unschedulable Pods are retried at least this often.
const RETRY_UNSCHEDULABLE: Duration = Duration::from_secs(300);
const SCHEDULER_NAME: &str = "default-scheduler";

fn pods_key() -> StorageKey {
    StorageKey::new("", "pods")
}

fn nodes_key() -> StorageKey {
    StorageKey::new("", "nodes")
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn is_terminal(pod: &Value) -> bool {
    matches!(str_at(pod, "/status/phase"), "Succeeded" | "Failed")
}

/// A Pod this scheduler should place now.
fn wants_scheduling(pod: &Value) -> bool {
    let scheduler = str_at(pod, "/spec/schedulerName");
    str_at(pod, "/spec/nodeName").is_empty()
        && pod
            .pointer("/metadata/deletionTimestamp")
            .is_none_or(Value::is_null)
        && (scheduler.is_empty() || scheduler == SCHEDULER_NAME)
        && pod
            .pointer("/spec/schedulingGates")
            .and_then(Value::as_array)
            .is_none_or(|g| g.is_empty())
        && !is_terminal(pod)
}

/// What of a Pod can change whether it fits (`isPodUpdated` ignores status and bookkeeping).
fn signature(pod: &Value) -> Value {
    json!([
        pod["spec"],
        pod["metadata"]["labels"],
        pod["metadata"]["annotations"]
    ])
}

#[derive(Default)]
struct Queue {
    /// Pods to try in the next pass, by (namespace, name).
    active: HashSet<(String, String)>,
    /// Pods whose last attempt failed: uid → their signature then.
    unschedulable: HashMap<String, ((String, String), Value)>,
    /// Try every unschedulable Pod again.
    flush: bool,
}

impl Queue {
    fn on_change(&mut self, change: &Change) {
        let obj = &change.object;
        if change.key == nodes_key() {
            self.flush = true;
            return;
        }
        if change.key != pods_key() {
            return;
        }
        let id = (change.namespace.clone(), change.name.clone());
        let uid = meta_str(obj, "uid").to_string();
        let bound = !str_at(obj, "/spec/nodeName").is_empty();
        match change.change_type {
            ChangeType::Deleted => {
                self.unschedulable.remove(&uid);
                if bound && !is_terminal(obj) {
                    self.flush = true;
                }
            }
            ChangeType::Added | ChangeType::Modified => {
                if bound {
                    let was_terminal = change.old.as_deref().is_some_and(is_terminal);
                    if is_terminal(obj) && !was_terminal {
                        self.flush = true;
                    }
                    self.unschedulable.remove(&uid);
                } else if wants_scheduling(obj) {
                    let unchanged = self
                        .unschedulable
                        .get(&uid)
                        .is_some_and(|(_, sig)| *sig == signature(obj));
                    if !unchanged {
                        self.active.insert(id);
                    }
                } else {
                    self.unschedulable.remove(&uid);
                }
            }
        }
    }

    /// The Pods to try now, emptying the queue.
    fn take(&mut self) -> Vec<(String, String)> {
        let mut out: HashSet<(String, String)> = std::mem::take(&mut self.active);
        if std::mem::take(&mut self.flush) {
            out.extend(self.unschedulable.values().map(|(id, _)| id.clone()));
        }
        out.into_iter().collect()
    }
}

/// Runs until `shutdown` turns true.
pub async fn run(state: Arc<State>, mut shutdown: watch::Receiver<bool>) {
    // Woken by the writes it reads only: Pods and Nodes.
    let mut pods_changed = state.store.subscribe_to(&pods_key());
    let mut others_changed = state.store.subscribe_to(&nodes_key());
    let mut cursor = 0;
    let mut queue = Queue::default();
    let mut retry = tokio::time::interval(RETRY_UNSCHEDULABLE);
    retry.tick().await;
    loop {
        match state.store.changes_since(cursor) {
            Since::Changes(changes) => {
                for change in changes {
                    cursor = change.rv;
                    if change.key == nodes_key() && change.change_type != ChangeType::Deleted {
                        sync_unschedulable_taint(&state, &change.object);
                    }
                    queue.on_change(&change);
                }
            }
            Since::Expired { .. } => {
                cursor = state.store.current_rv();
                for pod in state.store.list(&pods_key(), None).0 {
                    if wants_scheduling(&pod) {
                        queue.active.insert((
                            meta_str(&pod, "namespace").to_string(),
                            meta_str(&pod, "name").to_string(),
                        ));
                    }
                }
                for node in state.store.list(&nodes_key(), None).0 {
                    sync_unschedulable_taint(&state, &node);
                }
                queue.flush = true;
            }
        }
        schedule_pass(&state, &mut queue);
        tokio::select! {
            res = pods_changed.changed() => if res.is_err() { return },
            res = others_changed.changed() => if res.is_err() { return },
            _ = retry.tick() => queue.flush = true,
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
    }
}

/// The node lifecycle controller's `node.kubernetes.io/unschedulable:NoSchedule` taint follows
/// `spec.unschedulable`.
fn sync_unschedulable_taint(state: &State, node: &Value) {
    let cordoned = node
        .pointer("/spec/unschedulable")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let has = |n: &Value| {
        n.pointer("/spec/taints")
            .and_then(Value::as_array)
            .is_some_and(|t| {
                t.iter().any(|t| {
                    t["key"] == plugins::TAINT_UNSCHEDULABLE && t["effect"] == "NoSchedule"
                })
            })
    };
    if cordoned == has(node) || !node["metadata"]["deletionTimestamp"].is_null() {
        return;
    }
    let name = meta_str(node, "name").to_string();
    let _ = state.store.update::<()>(&nodes_key(), "", &name, |cur| {
        let cordoned = cur
            .pointer("/spec/unschedulable")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if cordoned == has(cur) {
            return Ok(None);
        }
        let mut next = (**cur).clone();
        let mut taints: Vec<Value> = next["spec"]["taints"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|t| !(t["key"] == plugins::TAINT_UNSCHEDULABLE && t["effect"] == "NoSchedule"))
            .collect();
        if cordoned {
            taints.push(json!({"key": plugins::TAINT_UNSCHEDULABLE, "effect": "NoSchedule"}));
        }
        match next["spec"].as_object_mut() {
            Some(spec) if taints.is_empty() => {
                spec.remove("taints");
            }
            Some(spec) => {
                spec.insert("taints".into(), Value::Array(taints));
            }
            None => return Ok(None),
        }
        Ok(Some(next))
    });
}

/// One scheduling pass over the queued Pods, highest priority first, then oldest first
/// (PrioritySort), each placed against the nodes as the previous placements left them.
fn schedule_pass(state: &State, queue: &mut Queue) {
    let ids = queue.take();
    if ids.is_empty() {
        return;
    }
    let mut pending: Vec<Arc<Value>> = ids
        .iter()
        .filter_map(|(ns, name)| state.store.get(&pods_key(), ns, name))
        .filter(|p| wants_scheduling(p))
        .collect();
    pending.sort_by(|a, b| {
        let prio = |p: &Value| {
            p.pointer("/spec/priority")
                .and_then(Value::as_i64)
                .unwrap_or(0)
        };
        prio(b).cmp(&prio(a)).then_with(|| {
            str_at(a, "/metadata/creationTimestamp").cmp(str_at(b, "/metadata/creationTimestamp"))
        })
    });
    let nodes = state.store.list(&nodes_key(), None).0;
    // The Pods bound to each node, shared with the store (not copied): a pass sees every
    // running Pod, and copying them all on each pass cost more than scheduling.
    let mut assigned: HashMap<&str, Vec<&Value>> = HashMap::new();
    let pods = state.store.list(&pods_key(), None).0;
    for pod in &pods {
        let node = str_at(pod, "/spec/nodeName");
        if !node.is_empty() && !is_terminal(pod) {
            assigned.entry(node).or_default().push(pod);
        }
    }
    // Each node's totals are summed once per pass and grow as the pass binds Pods to it, as
    // the scheduler's snapshot assumes each Pod it binds (`assume`).
    let mut infos: Vec<NodeInfo> = nodes
        .iter()
        .map(|node| {
            NodeInfo::new(
                node,
                assigned
                    .get(meta_str(node, "name"))
                    .into_iter()
                    .flatten()
                    .copied(),
            )
        })
        .collect();
    for pod in pending {
        let request = plugins::pod_requests(&pod);
        let mut rejections: Vec<Rejection> = Vec::new();
        let mut best: Option<(i64, usize)> = None;
        for (i, info) in infos.iter().enumerate() {
            match plugins::filter(&pod, &request, info) {
                Ok(()) => {
                    let score = plugins::score(&request, info);
                    let better = best.as_ref().is_none_or(|(s, b)| {
                        score > *s || (score == *s && info.name() < infos[*b].name())
                    });
                    if better {
                        best = Some((score, i));
                    }
                }
                Err(r) => rejections.push(r),
            }
        }
        let uid = meta_str(&pod, "uid").to_string();
        let id = (
            meta_str(&pod, "namespace").to_string(),
            meta_str(&pod, "name").to_string(),
        );
        match best {
            Some((_, i)) => {
                queue.unschedulable.remove(&uid);
                let node = infos[i].name().to_string();
                if let Some(bound) = bind(state, &pod, &node) {
                    infos[i].add_pod(&bound);
                }
            }
            None => {
                let message = plugins::failure_message(&pod, &rejections);
                queue.unschedulable.insert(uid, (id, signature(&pod)));
                report_failure(state, &pod, &message);
            }
        }
    }
}

fn upsert_condition(pod: &mut Value, condition: Value) -> bool {
    let now = crate::timestamp::now_rfc3339();
    if !pod["status"].is_object() {
        pod["status"] = json!({});
    }
    let conditions = pod["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let old = conditions
        .iter()
        .find(|c| c["type"] == condition["type"])
        .cloned();
    let mut condition = condition;
    // `UpdatePodCondition`: the transition time moves only when the status does.
    condition["lastTransitionTime"] = match &old {
        Some(o) if o["status"] == condition["status"] => o["lastTransitionTime"].clone(),
        _ => json!(now),
    };
    if let Some(o) = &old {
        let same = ["status", "reason", "message"]
            .iter()
            .all(|k| o[*k] == condition[*k]);
        if same {
            return false;
        }
    }
    let mut next: Vec<Value> = conditions
        .into_iter()
        .filter(|c| c["type"] != condition["type"])
        .collect();
    next.push(condition);
    pod["status"]["conditions"] = Value::Array(next);
    true
}

fn observed_generation(condition: &mut Value, pod: &Value) {
    if let Some(g) = pod.pointer("/metadata/generation").and_then(Value::as_i64) {
        condition["observedGeneration"] = json!(g);
    }
}

/// The Binding's effect (`assignPod` in the pod registry): `spec.nodeName` and
/// `PodScheduled=True`; then the `Scheduled` event. Returns the bound Pod.
fn bind(state: &State, pod: &Value, node: &str) -> Option<Arc<Value>> {
    let uid = meta_str(pod, "uid").to_string();
    let (ns, name) = (meta_str(pod, "namespace"), meta_str(pod, "name"));
    let outcome = state.store.update::<()>(&pods_key(), ns, name, |cur| {
        if meta_str(cur, "uid") != uid || !wants_scheduling(cur) {
            return Err(());
        }
        let mut next = (**cur).clone();
        next["spec"]["nodeName"] = json!(node);
        let mut cond = json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null});
        observed_generation(&mut cond, cur);
        upsert_condition(&mut next, cond);
        Ok(Some(next))
    });
    let Ok(Some(crate::store::Updated::Written(bound))) = outcome else {
        return None;
    };
    let event = PodEvent {
        pod: &bound,
        field_path: None,
        type_: "Normal",
        reason: "Scheduled",
        action: "Binding",
        // schedule_one.go: "Successfully assigned %v/%v to %v".
        message: format!("Successfully assigned {ns}/{name} to {node}"),
    };
    ops::record_event(
        state,
        events::pod_event(
            &event,
            Reporter::Scheduler {
                host: &state.node_name,
            },
            Utc::now(),
        ),
    );
    Some(bound)
}

/// `handleSchedulingFailure`: the `FailedScheduling` event and the `PodScheduled` condition.
fn report_failure(state: &State, pod: &Value, message: &str) {
    let uid = meta_str(pod, "uid").to_string();
    let (ns, name) = (meta_str(pod, "namespace"), meta_str(pod, "name"));
    let event = PodEvent {
        pod,
        field_path: None,
        type_: "Warning",
        reason: "FailedScheduling",
        action: "Scheduling",
        message: message.to_string(),
    };
    ops::record_event(
        state,
        events::pod_event(
            &event,
            Reporter::Scheduler {
                host: &state.node_name,
            },
            Utc::now(),
        ),
    );
    let _ = state.store.update::<()>(&pods_key(), ns, name, |cur| {
        if meta_str(cur, "uid") != uid || !wants_scheduling(cur) {
            return Ok(None);
        }
        let mut next = (**cur).clone();
        let mut cond = json!({"type": "PodScheduled", "status": "False", "lastProbeTime": null,
            "reason": "Unschedulable", "message": message});
        observed_generation(&mut cond, cur);
        Ok(upsert_condition(&mut next, cond).then_some(next))
    });
}
