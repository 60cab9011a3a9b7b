//! The ReplicaSet controller (`pkg/controller/replicaset`): keeps `spec.replicas` active pods
//! made from the template, deletes the surplus (not-ready and newest first), and reports
//! replicas, fullyLabeledReplicas, readyReplicas, availableReplicas and observedGeneration.
//!
//! Pods that become available only `minReadySeconds` after turning ready get a later sync.
//!
//! Not ported: adoption of orphaned pods matching the selector and release of pods that stop
//! matching it, the expectations cache (writes are synchronous here), `ReplicaFailure`.

use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};

use super::workload::{
    create_owned, delete, int, is_active, is_available, is_ready, owned, pod_from_template,
    pods_key, ready_since, record_event, write_status,
};
use crate::selectors::label_selector_from_json;
use crate::state::State;
use crate::store::{StorageKey, meta_str};

const COMPONENT: &str = "replicaset-controller";

pub fn key() -> StorageKey {
    StorageKey::new("apps", "replicasets")
}

/// Which pods go first when scaling down (`controller.ActivePods` ordering, reduced): not yet
/// scheduled, then not ready, then the youngest.
fn deletion_rank(pod: &Value) -> (bool, bool, std::cmp::Reverse<String>) {
    let scheduled = !pod["spec"]["nodeName"]
        .as_str()
        .unwrap_or_default()
        .is_empty();
    (
        scheduled,
        is_ready(pod),
        std::cmp::Reverse(meta_str(pod, "creationTimestamp").to_string()),
    )
}

/// Syncs one ReplicaSet; `Some(after)` when a ready pod becomes available (`minReadySeconds`)
/// only that much later.
pub fn sync(state: &State, namespace: &str, name: &str) -> Option<Duration> {
    let rs = state.store.get(&key(), namespace, name)?;
    let uid = meta_str(&rs, "uid").to_string();
    let pods = owned(state, &pods_key(), namespace, &uid);
    let mut active: Vec<&Value> = pods.iter().map(|p| &**p).filter(|p| is_active(p)).collect();
    if rs["metadata"]["deletionTimestamp"].is_null() {
        let want = int(&rs["spec"]["replicas"]);
        let have = active.len() as i64;
        if have < want {
            let generate_name = format!("{name}-");
            for _ in have..want {
                let pod = pod_from_template(&rs, &rs["spec"]["template"], &generate_name);
                match create_owned(state, "", "pods", pod) {
                    Some(created) => record_event(
                        state,
                        &rs,
                        "Normal",
                        "SuccessfulCreate",
                        &format!("Created pod: {}", meta_str(&created, "name")),
                        COMPONENT,
                    ),
                    None => break,
                }
            }
        } else if have > want {
            active.sort_by_key(|p| deletion_rank(p));
            for pod in active.iter().take((have - want) as usize) {
                if delete(state, "", "pods", pod) {
                    record_event(
                        state,
                        &rs,
                        "Normal",
                        "SuccessfulDelete",
                        &format!("Deleted pod: {}", meta_str(pod, "name")),
                        COMPONENT,
                    );
                }
            }
        }
    }
    // The status counts what is there now.
    let rs = state.store.get(&key(), namespace, name)?;
    let pods = owned(state, &pods_key(), namespace, &uid);
    let active: Vec<&Value> = pods.iter().map(|p| &**p).filter(|p| is_active(p)).collect();
    let template_labels = rs["spec"]["template"]["metadata"]["labels"].clone();
    let fully_labeled = label_selector_from_json(&json!({"matchLabels": template_labels}))
        .map(|sel| {
            active
                .iter()
                .filter(|p| {
                    p["metadata"]["labels"]
                        .as_object()
                        .is_some_and(|l| sel.matches(l))
                })
                .count()
        })
        .unwrap_or(active.len());
    let min_ready = int(&rs["spec"]["minReadySeconds"]);
    let now = Utc::now();
    let mut status = rs["status"].clone();
    if !status.is_object() {
        status = json!({});
    }
    status["replicas"] = json!(active.len());
    let counts = [
        ("fullyLabeledReplicas", fully_labeled),
        (
            "readyReplicas",
            active.iter().filter(|p| is_ready(p)).count(),
        ),
        (
            "availableReplicas",
            active
                .iter()
                .filter(|p| is_available(p, min_ready, now))
                .count(),
        ),
    ];
    for (field, n) in counts {
        // omitempty: zero counts are not written.
        match n {
            0 => {
                if let Some(m) = status.as_object_mut() {
                    m.remove(field);
                }
            }
            n => status[field] = json!(n),
        }
    }
    status["observedGeneration"] = rs["metadata"]["generation"].clone();
    write_status(state, "apps", "replicasets", &rs, status);
    active
        .iter()
        .filter(|p| is_ready(p) && !is_available(p, min_ready, now))
        .filter_map(|p| ready_since(p))
        .map(|since| since + chrono::Duration::seconds(min_ready) - now)
        .filter_map(|left| left.to_std().ok())
        .min()
        // A little after the moment, so the pod is available when looked at.
        .map(|left| left + Duration::from_millis(50))
}
