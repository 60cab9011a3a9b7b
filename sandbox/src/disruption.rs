//! PodDisruptionBudgets at work: the disruption controller's status (`pkg/controller/disruption`)
//! and the `pods/eviction` subresource that honours it (`pkg/registry/core/pod/storage/eviction.go`).
//!
//! The status is computed simply: the expected Pods are the budget's matching Pods (the real
//! controller asks their controllers' scale for percentages and `maxUnavailable`), healthy ones
//! are Ready, not being deleted and not just evicted (`disruptedPods`); percentages round up.
//! It is recomputed whenever a Pod or budget of the namespace changes.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::errors::{ApiError, ApiResult, bad_request, not_found};
use crate::ops::{self, DeleteOptions};
use crate::resource_types::ResourceType;
use crate::selectors::label_selector_from_json;
use crate::state::State;
use crate::store::{Since, StorageKey, meta_str};

/// How long an eviction's entry in `disruptedPods` keeps the Pod out of the healthy count
/// (`DeletionTimeout` of the disruption controller).
const DELETION_TIMEOUT_SECONDS: i64 = 120;

fn pods_key() -> StorageKey {
    StorageKey::new("", "pods")
}

fn pdbs_key() -> StorageKey {
    StorageKey::new("policy", "poddisruptionbudgets")
}

/// Whether the budget selects the Pod; a null or empty selector selects nothing here.
fn selects(pdb: &Value, pod: &Value) -> bool {
    let sel = &pdb["spec"]["selector"];
    let empty = sel.is_null()
        || (sel["matchLabels"].as_object().is_none_or(|m| m.is_empty())
            && sel["matchExpressions"]
                .as_array()
                .is_none_or(|e| e.is_empty()));
    if empty || meta_str(pdb, "namespace") != meta_str(pod, "namespace") {
        return false;
    }
    let labels = pod["metadata"]["labels"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    label_selector_from_json(sel).is_ok_and(|s| s.matches(&labels))
}

fn is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

/// An int-or-percent against `total`, rounded up (`GetScaledValueFromIntOrPercent(.., true)`).
fn scaled(v: &Value, total: i64) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => {
            let p: i64 = s.strip_suffix('%')?.parse().ok()?;
            Some((p * total + 99) / 100)
        }
        _ => None,
    }
}

/// The budget's status for these Pods of its namespace, as of `now`.
pub fn status(pdb: &Value, pods: &[Arc<Value>], now: DateTime<Utc>) -> Value {
    let matching: Vec<&Value> = pods
        .iter()
        .map(|p| &**p)
        .filter(|p| selects(pdb, p))
        .collect();
    let mut disrupted = serde_json::Map::new();
    for (name, at) in pdb["status"]["disruptedPods"]
        .as_object()
        .into_iter()
        .flatten()
    {
        let fresh = at
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .is_some_and(|t| {
                now - t.with_timezone(&Utc) < Duration::seconds(DELETION_TIMEOUT_SECONDS)
            });
        let pending = matching
            .iter()
            .any(|p| meta_str(p, "name") == name && p["metadata"]["deletionTimestamp"].is_null());
        if fresh && pending {
            disrupted.insert(name.clone(), at.clone());
        }
    }
    let expected = matching.len() as i64;
    let healthy = matching
        .iter()
        .filter(|p| {
            is_ready(p)
                && p["metadata"]["deletionTimestamp"].is_null()
                && !disrupted.contains_key(meta_str(p, "name"))
        })
        .count() as i64;
    let spec = &pdb["spec"];
    let desired = if let Some(min) = scaled(&spec["minAvailable"], expected) {
        min
    } else if let Some(max) = scaled(&spec["maxUnavailable"], expected) {
        (expected - max).max(0)
    } else {
        // Defaulting gives `minAvailable: 1` when neither is set.
        1
    };
    let allowed = (healthy - desired).max(0);
    let mut status = json!({
        "observedGeneration": pdb["metadata"]["generation"].as_i64().unwrap_or(1),
        "disruptionsAllowed": allowed,
        "currentHealthy": healthy,
        "desiredHealthy": desired,
        "expectedPods": expected,
    });
    if !disrupted.is_empty() {
        status["disruptedPods"] = Value::Object(disrupted);
    }
    status["conditions"] = json!([allowed_condition(pdb, allowed > 0, now)]);
    status
}

/// `UpdateDisruptionAllowedCondition` (component-helpers/apps/poddisruptionbudget).
fn allowed_condition(pdb: &Value, allowed: bool, now: DateTime<Utc>) -> Value {
    let (st, reason) = if allowed {
        ("True", "SufficientPods")
    } else {
        ("False", "InsufficientPods")
    };
    let old = pdb["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "DisruptionAllowed");
    let since = match old {
        Some(c) if c["status"] == st => c["lastTransitionTime"].clone(),
        _ => json!(crate::timestamp::rfc3339(now)),
    };
    json!({"type": "DisruptionAllowed", "status": st, "reason": reason, "message": "",
        "lastTransitionTime": since,
        "observedGeneration": pdb["metadata"]["generation"].as_i64().unwrap_or(1)})
}

/// Writes the status of every budget of `namespace` that changed.
fn sync_namespace(state: &State, namespace: &str) {
    let pdbs = state.store.list(&pdbs_key(), Some(namespace)).0;
    if pdbs.is_empty() {
        return;
    }
    let pods = state.store.list(&pods_key(), Some(namespace)).0;
    let now = Utc::now();
    for pdb in pdbs {
        let _ = state
            .store
            .update::<()>(&pdbs_key(), namespace, meta_str(&pdb, "name"), |cur| {
                let next_status = status(cur, &pods, now);
                if cur["status"] == next_status {
                    return Ok(None);
                }
                let mut next = (**cur).clone();
                next["status"] = next_status;
                Ok(Some(next))
            });
    }
}

/// The disruption controller: runs until `shutdown` turns true.
pub async fn run(state: Arc<State>, mut shutdown: watch::Receiver<bool>) {
    // Woken by the writes it reads only: Pods and PodDisruptionBudgets.
    let mut pods_changed = state.store.subscribe_to(&pods_key());
    let mut others_changed = state.store.subscribe_to(&pdbs_key());
    let mut cursor = 0;
    loop {
        let mut namespaces = BTreeSet::new();
        match state.store.changes_since(cursor) {
            Since::Changes(changes) => {
                for change in changes {
                    cursor = change.rv;
                    if change.key == pods_key() || change.key == pdbs_key() {
                        namespaces.insert(change.namespace.clone());
                    }
                }
            }
            Since::Expired { .. } => {
                cursor = state.store.current_rv();
                for pdb in state.store.list(&pdbs_key(), None).0 {
                    namespaces.insert(meta_str(&pdb, "namespace").to_string());
                }
            }
        }
        for ns in &namespaces {
            sync_namespace(&state, ns);
        }
        tokio::select! {
            res = pods_changed.changed() => if res.is_err() { return },
            res = others_changed.changed() => if res.is_err() { return },
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
    }
}

/// `errors.NewTooManyRequests` with a `DisruptionBudget` cause.
fn too_many_requests(retry_after: i64, cause: String) -> ApiError {
    let mut details = json!({"causes": [{"reason": "DisruptionBudget", "message": cause}]});
    if retry_after > 0 {
        details["retryAfterSeconds"] = json!(retry_after);
    }
    ApiError {
        code: 429,
        status: json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "Cannot evict pod as it would violate the pod's disruption budget.",
            "reason": "TooManyRequests", "details": details, "code": 429}),
    }
}

fn success() -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201})
}

/// `POST pods/NAME/eviction`: deletes the Pod (gracefully, with the Eviction's `deleteOptions`)
/// unless a PodDisruptionBudget forbids it. Answers with the Status to send.
pub fn evict(
    state: &State,
    pods: &ResourceType,
    namespace: &str,
    name: &str,
    eviction: &Value,
    mut opts: DeleteOptions,
) -> ApiResult<Value> {
    if meta_str(eviction, "name") != name {
        return Err(bad_request(
            "name in URL does not match name in Eviction object",
        ));
    }
    let pod = state
        .store
        .get(&pods_key(), namespace, name)
        .ok_or_else(|| not_found(pods, name))?;
    let phase = pod["status"]["phase"].as_str().unwrap_or_default();
    let deleting = !pod["metadata"]["deletionTimestamp"].is_null();
    // canIgnorePDB: terminal, pending or already deleting Pods are deleted at once.
    if matches!(phase, "Succeeded" | "Failed" | "Pending") || deleting {
        if !matches!(phase, "Succeeded" | "Failed") && !deleting && opts.precondition_rv.is_none() {
            opts.precondition_rv = Some(meta_str(&pod, "resourceVersion").to_string());
        }
        ops::delete(state, pods, namespace, name, &opts)?;
        return Ok(success());
    }
    let pdbs: Vec<_> = state
        .store
        .list(&pdbs_key(), Some(namespace))
        .0
        .into_iter()
        .filter(|b| selects(b, &pod))
        .collect();
    if pdbs.len() > 1 {
        return Ok(
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
            "code": 500}),
        );
    }
    if let Some(pdb) = pdbs.first() {
        let st = &pdb["status"];
        let (current, desired) = (
            st["currentHealthy"].as_i64().unwrap_or(0),
            st["desiredHealthy"].as_i64().unwrap_or(0),
        );
        if !is_ready(&pod) && current >= desired && desired > 0 {
            // An unready Pod does not count as healthy: no budget is spent on it.
            opts.precondition_rv = Some(meta_str(&pod, "resourceVersion").to_string());
        } else {
            check_and_decrement(state, pdb, name, opts.dry_run)?;
        }
    }
    ops::delete(state, pods, namespace, name, &opts)?;
    Ok(success())
}

/// `checkAndDecrement`: spends one allowed disruption and records the Pod in `disruptedPods`.
fn check_and_decrement(state: &State, pdb: &Value, pod: &str, dry_run: bool) -> ApiResult<()> {
    let pdb_name = meta_str(pdb, "name").to_string();
    let namespace = meta_str(pdb, "namespace").to_string();
    let outcome = state
        .store
        .update(&pdbs_key(), &namespace, &pdb_name, |cur| {
            let st = &cur["status"];
            let generation = cur["metadata"]["generation"].as_i64().unwrap_or(1);
            if st["observedGeneration"].as_i64().unwrap_or(0) < generation {
                return Err(too_many_requests(
                    10,
                    format!("The disruption budget {pdb_name} is still being processed by the server."),
                ));
            }
            let allowed = st["disruptionsAllowed"].as_i64().unwrap_or(0);
            if allowed <= 0 {
                return Err(too_many_requests(
                    0,
                    format!(
                        "The disruption budget {pdb_name} needs {} healthy pods and has {} currently",
                        st["desiredHealthy"].as_i64().unwrap_or(0),
                        st["currentHealthy"].as_i64().unwrap_or(0)
                    ),
                ));
            }
            if dry_run {
                return Ok(None);
            }
            let now = Utc::now();
            let mut next = (**cur).clone();
            next["status"]["disruptionsAllowed"] = json!(allowed - 1);
            if allowed - 1 == 0 {
                next["status"]["conditions"] = json!([allowed_condition(cur, false, now)]);
            }
            next["status"]["disruptedPods"][pod] = json!(crate::timestamp::rfc3339(now));
            Ok(Some(next))
        });
    outcome.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, ready: bool) -> Arc<Value> {
        Arc::new(json!({
            "metadata": {"name": name, "namespace": "ns", "labels": {"app": "a"}},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]},
        }))
    }

    fn pdb(spec: Value) -> Value {
        let mut spec = spec;
        spec["selector"] = json!({"matchLabels": {"app": "a"}});
        json!({"metadata": {"name": "b", "namespace": "ns", "generation": 2}, "spec": spec})
    }

    #[test]
    fn budgets_count_ready_pods() {
        let pods = [pod("p1", true), pod("p2", true), pod("p3", false)];
        let now = Utc::now();
        let s = status(&pdb(json!({"minAvailable": 1})), &pods, now);
        assert_eq!(
            (
                s["expectedPods"].clone(),
                s["currentHealthy"].clone(),
                s["desiredHealthy"].clone(),
                s["disruptionsAllowed"].clone()
            ),
            (json!(3), json!(2), json!(1), json!(1))
        );
        assert_eq!(s["observedGeneration"], 2);
        assert_eq!(s["conditions"][0]["reason"], "SufficientPods");
        let s = status(&pdb(json!({"maxUnavailable": "50%"})), &pods, now);
        assert_eq!(s["desiredHealthy"], 1, "3 - ceil(1.5)");
        let s = status(&pdb(json!({"minAvailable": "100%"})), &pods, now);
        assert_eq!(s["disruptionsAllowed"], 0);
        assert_eq!(s["conditions"][0]["reason"], "InsufficientPods");
        let mut evicted = pdb(json!({"minAvailable": 1}));
        evicted["status"]["disruptedPods"] = json!({"p1": crate::timestamp::rfc3339(now)});
        let s = status(&evicted, &pods, now);
        assert_eq!(s["currentHealthy"], 1, "a just-evicted pod is not healthy");
        let nothing =
            json!({"metadata": {"name": "b", "namespace": "ns"}, "spec": {"selector": {}}});
        assert_eq!(
            status(&nothing, &pods, now)["expectedPods"],
            0,
            "an empty selector selects nothing"
        );
    }
}
