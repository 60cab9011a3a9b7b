//! The Deployment controller (`pkg/controller/deployment`): one ReplicaSet per pod template,
//! named `<deployment>-<pod-template-hash>`, revisions in `deployment.kubernetes.io/revision`,
//! the RollingUpdate (maxSurge / maxUnavailable) and Recreate strategies, old ReplicaSets
//! cleaned up beyond `revisionHistoryLimit`, and the status kubectl's `rollout status` and
//! helm's `--wait` read: replicas, updated/ready/available/unavailable replicas,
//! observedGeneration and the Available / Progressing conditions with the controller's
//! reasons and messages.
//!
//! Not ported: proportional scaling of several active ReplicaSets during a rollout,
//! `progressDeadlineSeconds` (ProgressDeadlineExceeded needs a clock the sandbox does not
//! run), hash collisions.

use serde_json::{Map, Value, json};

use super::replicaset;
use super::workload::{
    create_owned, delete, int, owned, record_event, set_condition, write_object, write_status,
};
use crate::state::State;
use crate::store::{Obj, StorageKey, meta_str};

const COMPONENT: &str = "deployment-controller";
pub const REVISION: &str = "deployment.kubernetes.io/revision";
const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
const HASH_LABEL: &str = "pod-template-hash";
/// Annotations of a Deployment not copied to its ReplicaSets (`skipCopyAnnotation`).
const NOT_COPIED: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    "deployment.kubernetes.io/revision-history",
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
];

pub fn key() -> StorageKey {
    StorageKey::new("apps", "deployments")
}

/// FNV-1a, 32 bits, over `bytes` (what `hash/fnv.New32a` computes).
fn fnv32a(hash: &mut u32, bytes: &[u8]) {
    for b in bytes {
        *hash ^= u32::from(*b);
        *hash = hash.wrapping_mul(16_777_619);
    }
}

/// Feeds a JSON value with sorted keys, so equal templates hash equally.
fn feed(hash: &mut u32, v: &Value) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            fnv32a(hash, b"{");
            for k in keys {
                fnv32a(hash, k.as_bytes());
                fnv32a(hash, b":");
                feed(hash, &map[k]);
                fnv32a(hash, b",");
            }
            fnv32a(hash, b"}");
        }
        Value::Array(items) => {
            fnv32a(hash, b"[");
            for item in items {
                feed(hash, item);
                fnv32a(hash, b",");
            }
            fnv32a(hash, b"]");
        }
        other => fnv32a(hash, other.to_string().as_bytes()),
    }
}

/// The `pod-template-hash` of a template (`controller.ComputeHash`: FNV-32a of the template and
/// the collision count, printed in decimal and encoded with `rand.SafeEncodeString`). The
/// template is hashed as JSON rather than Go's `spew` dump, so values differ from a real
/// cluster's, but they look alike and change exactly when the template does.
pub fn template_hash(template: &Value, collision_count: i64) -> String {
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut hash = 0x811c_9dc5_u32;
    feed(&mut hash, template);
    if collision_count > 0 {
        fnv32a(&mut hash, collision_count.to_string().as_bytes());
    }
    hash.to_string()
        .bytes()
        .map(|b| ALPHANUMS[usize::from(b) % ALPHANUMS.len()] as char)
        .collect()
}

/// A template without the `pod-template-hash` label (`EqualIgnoreHash`).
fn without_hash(template: &Value) -> Value {
    let mut t = template.clone();
    if let Some(labels) = t["metadata"]["labels"].as_object_mut() {
        labels.remove(HASH_LABEL);
        if labels.is_empty()
            && let Some(meta) = t["metadata"].as_object_mut()
        {
            meta.remove("labels");
        }
    }
    t
}

fn revision(rs: &Value) -> i64 {
    rs["metadata"]["annotations"][REVISION]
        .as_str()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// An int-or-percent of `total` (`intstr.GetScaledValueFromIntOrPercent`).
fn scaled(v: &Value, total: i64, round_up: bool) -> i64 {
    match v {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(s) => {
            let pct: i64 = s.trim_end_matches('%').parse().unwrap_or(0);
            if round_up {
                (pct * total + 99) / 100
            } else {
                pct * total / 100
            }
        }
        _ => 0,
    }
}

/// maxSurge and maxUnavailable resolved against the replicas (`ResolveFenceposts`).
fn fenceposts(d: &Value) -> (i64, i64) {
    let replicas = int(&d["spec"]["replicas"]);
    let ru = &d["spec"]["strategy"]["rollingUpdate"];
    if d["spec"]["strategy"]["type"] != "RollingUpdate" {
        return (0, 0);
    }
    let surge = scaled(&ru["maxSurge"], replicas, true);
    let unavailable = scaled(&ru["maxUnavailable"], replicas, false);
    if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    }
}

fn annotations_for_rs(d: &Value, rev: i64) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(a) = d["metadata"]["annotations"].as_object() {
        for (k, v) in a.iter().filter(|(k, _)| !NOT_COPIED.contains(&k.as_str())) {
            out.insert(k.clone(), v.clone());
        }
    }
    let replicas = int(&d["spec"]["replicas"]);
    out.insert(REVISION.into(), json!(rev.to_string()));
    out.insert(DESIRED_REPLICAS.into(), json!(replicas.to_string()));
    out.insert(
        MAX_REPLICAS.into(),
        json!((replicas + fenceposts(d).0).to_string()),
    );
    out
}

/// Sets a ReplicaSet's replicas (and the deployment annotations), with the controller's event.
fn scale_rs(state: &State, d: &Value, rs: &Value, to: i64, rev: Option<i64>) -> Option<Value> {
    let from = int(&rs["spec"]["replicas"]);
    let written = write_object(state, "apps", "replicasets", rs, |next| {
        next["spec"]["replicas"] = json!(to);
        if let Some(rev) = rev {
            let annotations = annotations_for_rs(d, rev);
            let target = &mut next["metadata"]["annotations"];
            if !target.is_object() {
                *target = json!({});
            }
            for (k, v) in annotations {
                target[k] = v;
            }
        } else {
            let replicas = int(&d["spec"]["replicas"]);
            next["metadata"]["annotations"][DESIRED_REPLICAS] = json!(replicas.to_string());
            next["metadata"]["annotations"][MAX_REPLICAS] =
                json!((replicas + fenceposts(d).0).to_string());
        }
    })?;
    if from != to {
        let op = if from < to { "up" } else { "down" };
        record_event(
            state,
            d,
            "Normal",
            "ScalingReplicaSet",
            &format!(
                "Scaled {op} replica set {} from {from} to {to}",
                meta_str(rs, "name")
            ),
            COMPONENT,
        );
    }
    Some(written)
}

fn sorted_by_age(mut sets: Vec<Obj>) -> Vec<Obj> {
    sets.sort_by(|a, b| {
        meta_str(a, "creationTimestamp")
            .cmp(meta_str(b, "creationTimestamp"))
            .then_with(|| meta_str(a, "name").cmp(meta_str(b, "name")))
    });
    sets
}

pub fn sync(state: &State, namespace: &str, name: &str) {
    let Some(d) = state.store.get(&key(), namespace, name) else {
        return;
    };
    if !d["metadata"]["deletionTimestamp"].is_null() {
        return;
    }
    let uid = meta_str(&d, "uid").to_string();
    let template = d["spec"]["template"].clone();
    let all = sorted_by_age(owned(state, &replicaset::key(), namespace, &uid));
    let (new, old): (Vec<Obj>, Vec<Obj>) = all
        .into_iter()
        .partition(|rs| without_hash(&rs["spec"]["template"]) == template);
    let max_old_revision = old.iter().map(|rs| revision(rs)).max().unwrap_or(0);
    let paused = d["spec"]["paused"] == true;
    let replicas = int(&d["spec"]["replicas"]);
    let (surge, max_unavailable) = fenceposts(&d);
    let recreate = d["spec"]["strategy"]["type"] == "Recreate";
    let old_active: i64 = old.iter().map(|rs| int(&rs["spec"]["replicas"])).sum();
    let mut created = None;
    let new_rs = match new.into_iter().next() {
        Some(rs) => {
            let rev = revision(&rs);
            let want_rev = if rev <= max_old_revision {
                Some(max_old_revision + 1)
            } else {
                None
            };
            let target = if paused || recreate || old_active > 0 {
                int(&rs["spec"]["replicas"])
            } else {
                replicas
            };
            if want_rev.is_some() || !paused {
                scale_rs(state, &d, &rs, target, want_rev.or(Some(rev)))
            } else {
                Some((*rs).clone())
            }
        }
        None if paused => None,
        None => {
            let collisions = int(&d["status"]["collisionCount"]);
            let hash = template_hash(&template, collisions);
            let mut t = template.clone();
            t["metadata"]["labels"][HASH_LABEL] = json!(hash);
            let mut selector = d["spec"]["selector"].clone();
            selector["matchLabels"][HASH_LABEL] = json!(hash);
            let initial = if recreate || old_active > 0 {
                0
            } else {
                replicas
            };
            let rs_name = format!("{name}-{hash}");
            let rs = json!({
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": rs_name,
                    "namespace": namespace,
                    "labels": t["metadata"]["labels"],
                    "annotations": annotations_for_rs(&d, max_old_revision + 1),
                    "ownerReferences": [super::workload::owner_ref(&d)],
                },
                "spec": {
                    "replicas": initial,
                    "minReadySeconds": d["spec"]["minReadySeconds"].as_i64().unwrap_or(0),
                    "selector": selector,
                    "template": t,
                },
            });
            let stored = create_owned(state, "apps", "replicasets", rs);
            if let Some(rs) = &stored {
                created = Some(meta_str(rs, "name").to_string());
                if initial > 0 {
                    record_event(
                        state,
                        &d,
                        "Normal",
                        "ScalingReplicaSet",
                        &format!("Scaled up replica set {rs_name} from 0 to {initial}"),
                        COMPONENT,
                    );
                }
            }
            stored
        }
    };
    if !paused && let Some(new_rs) = &new_rs {
        if recreate {
            for rs in old.iter().filter(|rs| int(&rs["spec"]["replicas"]) > 0) {
                scale_rs(state, &d, rs, 0, None);
            }
            let old_pods_left = old.iter().any(|rs| {
                !owned(
                    state,
                    &super::workload::pods_key(),
                    namespace,
                    meta_str(rs, "uid"),
                )
                .is_empty()
            });
            if !old_pods_left {
                scale_rs(state, &d, new_rs, replicas, None);
            }
        } else {
            roll(state, &d, new_rs, &old, replicas, surge, max_unavailable);
        }
    }
    cleanup(state, &d, &uid, namespace);
    let Some(d) = state.store.get(&key(), namespace, name) else {
        return;
    };
    if let Some(new_rs) = &new_rs {
        let rev = state
            .store
            .get(&replicaset::key(), namespace, meta_str(new_rs, "name"))
            .map(|rs| revision(&rs))
            .unwrap_or_else(|| revision(new_rs));
        let rev = rev.to_string();
        if d["metadata"]["annotations"][REVISION].as_str() != Some(rev.as_str()) {
            write_object(state, "apps", "deployments", &d, |next| {
                next["metadata"]["annotations"][REVISION] = json!(rev);
            });
        }
    }
    let Some(d) = state.store.get(&key(), namespace, name) else {
        return;
    };
    sync_status(
        state,
        &d,
        new_rs.as_ref(),
        created.as_deref(),
        max_unavailable,
    );
}

/// One step of a rolling update: `reconcileNewReplicaSet`, then `reconcileOldReplicaSets`.
fn roll(
    state: &State,
    d: &Value,
    new_rs: &Value,
    old: &[Obj],
    replicas: i64,
    surge: i64,
    max_unavailable: i64,
) {
    let new_spec = int(&new_rs["spec"]["replicas"]);
    let old_spec: i64 = old.iter().map(|rs| int(&rs["spec"]["replicas"])).sum();
    let new_spec = if new_spec > replicas {
        scale_rs(state, d, new_rs, replicas, None);
        replicas
    } else if new_spec < replicas {
        let max_total = replicas + surge;
        let current = new_spec + old_spec;
        if current < max_total {
            let to = (new_spec + (max_total - current)).min(replicas);
            scale_rs(state, d, new_rs, to, None);
            // Scaling up is one step; the old ones go on a later sync.
            return;
        }
        new_spec
    } else {
        new_spec
    };
    if old_spec == 0 {
        return;
    }
    let min_available = replicas - max_unavailable;
    let new_available = int(&new_rs["status"]["availableReplicas"]);
    let new_unavailable = (new_spec - new_available).max(0);
    let mut max_scaled_down = new_spec + old_spec - min_available - new_unavailable;
    if max_scaled_down <= 0 {
        return;
    }
    let mut specs: Vec<i64> = old.iter().map(|rs| int(&rs["spec"]["replicas"])).collect();
    // cleanupUnhealthyReplicas: unavailable old pods go first.
    for (i, rs) in old.iter().enumerate() {
        let unhealthy = (specs[i] - int(&rs["status"]["availableReplicas"])).max(0);
        let down = unhealthy.min(max_scaled_down);
        specs[i] -= down;
        max_scaled_down -= down;
    }
    // scaleDownOldReplicaSetsForRollingUpdate: then as many as availability allows.
    let available: i64 = new_available
        + old
            .iter()
            .map(|rs| int(&rs["status"]["availableReplicas"]))
            .sum::<i64>();
    let mut may_go = available - min_available;
    for (i, rs) in old.iter().enumerate() {
        let old_available = int(&rs["status"]["availableReplicas"]).min(specs[i]);
        let down = old_available.min(may_go.max(0)).min(specs[i]);
        specs[i] -= down;
        may_go -= down;
        if specs[i] != int(&rs["spec"]["replicas"]) {
            scale_rs(state, d, rs, specs[i], None);
        }
    }
}

/// Old ReplicaSets beyond `revisionHistoryLimit` go once they are scaled to zero.
fn cleanup(state: &State, d: &Value, uid: &str, namespace: &str) {
    let limit = d["spec"]["revisionHistoryLimit"].as_i64().unwrap_or(10);
    let template = &d["spec"]["template"];
    let mut old: Vec<Obj> = owned(state, &replicaset::key(), namespace, uid)
        .into_iter()
        .filter(|rs| without_hash(&rs["spec"]["template"]) != *template)
        .filter(|rs| {
            int(&rs["spec"]["replicas"]) == 0
                && int(&rs["status"]["replicas"]) == 0
                && rs["metadata"]["deletionTimestamp"].is_null()
        })
        .collect();
    old.sort_by_key(|rs| revision(rs));
    let surplus = old.len() as i64 - limit;
    for rs in old.iter().take(surplus.max(0) as usize) {
        delete(state, "apps", "replicasets", rs);
    }
}

fn sync_status(
    state: &State,
    d: &Value,
    new_rs: Option<&Value>,
    created: Option<&str>,
    max_unavailable: i64,
) {
    let namespace = meta_str(d, "namespace");
    let sets = owned(state, &replicaset::key(), namespace, meta_str(d, "uid"));
    let new_name = new_rs.map(|rs| meta_str(rs, "name").to_string());
    let sum = |field: &str| -> i64 { sets.iter().map(|rs| int(&rs["status"][field])).sum() };
    let replicas = int(&d["spec"]["replicas"]);
    let updated = sets
        .iter()
        .find(|rs| Some(meta_str(rs, "name")) == new_name.as_deref())
        .map(|rs| int(&rs["status"]["replicas"]))
        .unwrap_or(0);
    let (total, ready, available) = (
        sum("replicas"),
        sum("readyReplicas"),
        sum("availableReplicas"),
    );
    let old = &d["status"];
    let mut status = json!({"observedGeneration": d["metadata"]["generation"]});
    for (field, n) in [
        ("replicas", total),
        ("updatedReplicas", updated),
        ("readyReplicas", ready),
        ("availableReplicas", available),
        ("unavailableReplicas", (replicas - available).max(0)),
    ] {
        if n != 0 {
            status[field] = json!(n);
        }
    }
    if let Some(c) = old.get("collisionCount") {
        status["collisionCount"] = c.clone();
    }
    let mut conditions: Vec<Value> = old["conditions"].as_array().cloned().unwrap_or_default();
    let times = ["lastUpdateTime", "lastTransitionTime"];
    if available >= replicas - max_unavailable {
        set_condition(
            &mut conditions,
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
            &times,
        );
    } else {
        set_condition(
            &mut conditions,
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            &times,
        );
    }
    let progressing = conditions
        .iter()
        .find(|c| c["type"] == "Progressing")
        .cloned();
    if d["spec"]["paused"] == true {
        set_condition(
            &mut conditions,
            "Progressing",
            "Unknown",
            "DeploymentPaused",
            "Deployment is paused",
            &times,
        );
    } else if let Some(rs_name) = &new_name {
        let complete = updated == replicas && total == replicas && available == replicas;
        let was_paused = progressing
            .as_ref()
            .is_some_and(|c| c["reason"] == "DeploymentPaused");
        let (reason, message) = if complete {
            (
                "NewReplicaSetAvailable",
                format!("ReplicaSet \"{rs_name}\" has successfully progressed."),
            )
        } else if was_paused {
            ("DeploymentResumed", "Deployment is resumed".to_string())
        } else if let Some(created) = created {
            (
                "NewReplicaSetCreated",
                format!("Created new replica set \"{created}\""),
            )
        } else if progressing.is_none() {
            (
                "FoundNewReplicaSet",
                format!("Found new replica set \"{rs_name}\""),
            )
        } else {
            (
                "ReplicaSetUpdated",
                format!("ReplicaSet \"{rs_name}\" is progressing."),
            )
        };
        set_condition(
            &mut conditions,
            "Progressing",
            "True",
            reason,
            &message,
            &times,
        );
    }
    // The controller keeps Available before Progressing.
    conditions.sort_by_key(|c| c["type"] != "Available");
    status["conditions"] = json!(conditions);
    write_status(state, "apps", "deployments", d, status);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_look_like_the_controllers() {
        let t =
            json!({"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "a"}]}});
        let h = template_hash(&t, 0);
        assert!(!h.is_empty() && h.len() <= 10, "{h}");
        assert!(h.chars().all(|c| "456789bcdf".contains(c)), "{h}");
        assert_eq!(h, template_hash(&t, 0));
        assert_ne!(h, template_hash(&t, 1));
    }

    #[test]
    fn percentages_round_as_the_fenceposts_do() {
        let d = |surge: Value, unavailable: Value| {
            json!({"spec": {"replicas": 3, "strategy": {"type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}}})
        };
        assert_eq!(fenceposts(&d(json!("25%"), json!("25%"))), (1, 0));
        assert_eq!(fenceposts(&d(json!(0), json!(0))), (0, 1));
        assert_eq!(fenceposts(&d(json!(2), json!("50%"))), (2, 1));
    }
}
