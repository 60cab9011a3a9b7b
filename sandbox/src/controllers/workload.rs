//! What the workload controllers (Deployment, ReplicaSet, Job) share: owner references, the
//! pods a controller owns, pod readiness, conditions, status writes and the controllers'
//! Events (core/v1, as `record.EventRecorder` writes them).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::ops::{self, DeleteOptions, WriteOptions};
use crate::state::State;
use crate::store::{Obj, StorageKey, meta_str};
use crate::timestamp::now_rfc3339;

pub fn pods_key() -> StorageKey {
    StorageKey::new("", "pods")
}

/// The `controller: true` owner reference of an object: (kind, name, uid).
pub fn controller_ref(obj: &Value) -> Option<(&str, &str, &str)> {
    obj["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["controller"] == true)
        .map(|r| {
            (
                r["kind"].as_str().unwrap_or_default(),
                r["name"].as_str().unwrap_or_default(),
                r["uid"].as_str().unwrap_or_default(),
            )
        })
}

/// `metav1.NewControllerRef`.
pub fn owner_ref(owner: &Value) -> Value {
    json!({
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

/// The objects under `key` in `namespace` whose controller is `owner_uid`.
pub fn owned(state: &State, key: &StorageKey, namespace: &str, owner_uid: &str) -> Vec<Obj> {
    state
        .store
        .list(key, Some(namespace))
        .0
        .into_iter()
        .filter(|o| controller_ref(o).is_some_and(|(_, _, uid)| uid == owner_uid))
        .collect()
}

pub fn deleting(obj: &Value) -> bool {
    !obj["metadata"]["deletionTimestamp"].is_null()
}

pub fn phase(pod: &Value) -> &str {
    pod["status"]["phase"].as_str().unwrap_or_default()
}

/// `controller.IsPodActive`: not finished and not being deleted.
pub fn is_active(pod: &Value) -> bool {
    !matches!(phase(pod), "Succeeded" | "Failed") && !deleting(pod)
}

fn ready_condition(pod: &Value) -> Option<&Value> {
    pod["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready" && c["status"] == "True")
}

pub fn is_ready(pod: &Value) -> bool {
    ready_condition(pod).is_some()
}

/// When a ready pod turned ready.
pub fn ready_since(pod: &Value) -> Option<DateTime<Utc>> {
    ready_condition(pod)?["lastTransitionTime"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// `podutil.IsPodAvailable`: ready for at least `min_ready_seconds`.
pub fn is_available(pod: &Value, min_ready_seconds: i64, now: DateTime<Utc>) -> bool {
    if !is_ready(pod) {
        return false;
    }
    min_ready_seconds <= 0
        || ready_since(pod).is_some_and(|t| t + chrono::Duration::seconds(min_ready_seconds) <= now)
}

pub fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

/// Sets a condition as the controllers' `SetCondition` helpers do: an unchanged status keeps
/// its transition time; the update time moves only when reason or message change, so a
/// resync that finds nothing new writes nothing.
pub fn set_condition(
    conditions: &mut Vec<Value>,
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    times: &[&str],
) {
    let now = now_rfc3339();
    let existing = conditions.iter_mut().find(|c| c["type"] == type_);
    if let Some(c) = existing {
        if c["status"] == status && c["reason"] == reason && c["message"] == message {
            return;
        }
        if c["status"] != status {
            c["lastTransitionTime"] = json!(now);
        }
        for t in times.iter().filter(|t| **t != "lastTransitionTime") {
            c[*t] = json!(now);
        }
        c["status"] = json!(status);
        c["reason"] = json!(reason);
        c["message"] = json!(message);
        return;
    }
    let mut c = json!({"type": type_, "status": status, "reason": reason, "message": message});
    for t in times {
        c[*t] = json!(now);
    }
    conditions.push(c);
}

/// Writes `status` through the status endpoint when it differs from the stored one.
pub fn write_status(state: &State, group: &str, plural: &str, obj: &Value, status: Value) {
    if obj["status"] == status {
        return;
    }
    let Some(rt) = state.types.find_resource(group, plural) else {
        return;
    };
    let mut next = obj.clone();
    next["status"] = status;
    let _ = ops::update(
        state,
        &rt,
        meta_str(obj, "namespace"),
        meta_str(obj, "name"),
        Some("status"),
        next,
        &WriteOptions::default(),
    );
}

/// Changes an object through its main endpoint (the controller's own writes).
pub fn write_object(
    state: &State,
    group: &str,
    plural: &str,
    obj: &Value,
    change: impl FnOnce(&mut Value),
) -> Option<Value> {
    let rt = state.types.find_resource(group, plural)?;
    let mut next = obj.clone();
    change(&mut next);
    if next == *obj {
        return Some(next);
    }
    ops::update(
        state,
        &rt,
        meta_str(obj, "namespace"),
        meta_str(obj, "name"),
        None,
        next,
        &WriteOptions::default(),
    )
    .ok()
    .map(|w| std::sync::Arc::unwrap_or_clone(w.object))
}

/// Creates an object owned by `owner`, returning it as stored.
pub fn create_owned(state: &State, group: &str, plural: &str, obj: Value) -> Option<Value> {
    let rt = state.types.find_resource(group, plural)?;
    let namespace = obj["metadata"]["namespace"].as_str()?.to_string();
    ops::create(state, &rt, Some(&namespace), obj, &WriteOptions::default())
        .ok()
        .map(|w| std::sync::Arc::unwrap_or_clone(w.object))
}

/// A pod made from `owner`'s template (`controller.GetPodFromTemplate`).
pub fn pod_from_template(owner: &Value, template: &Value, generate_name: &str) -> Value {
    let mut meta = template["metadata"].clone();
    if !meta.is_object() {
        meta = json!({});
    }
    meta["generateName"] = json!(generate_name);
    meta["namespace"] = owner["metadata"]["namespace"].clone();
    meta["ownerReferences"] = json!([owner_ref(owner)]);
    if let Some(map) = meta.as_object_mut() {
        map.remove("name");
        map.remove("creationTimestamp");
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template["spec"]})
}

pub fn delete(state: &State, group: &str, plural: &str, obj: &Value) -> bool {
    let Some(rt) = state.types.find_resource(group, plural) else {
        return false;
    };
    ops::delete(
        state,
        &rt,
        meta_str(obj, "namespace"),
        meta_str(obj, "name"),
        &DeleteOptions::default(),
    )
    .is_ok()
}

/// A core/v1 Event about `involved`, as a controller's `record.EventRecorder` writes it, recorded
/// through [`ops::record_event`].
pub fn record_event(
    state: &State,
    involved: &Value,
    type_: &str,
    reason: &str,
    message: &str,
    component: &str,
) {
    let namespace = match meta_str(involved, "namespace") {
        "" => "default",
        ns => ns,
    };
    let now = now_rfc3339();
    let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default();
    let event = json!({
        "metadata": {
            "name": format!("{}.{:x}", meta_str(involved, "name"), nanos),
            "namespace": namespace,
        },
        "involvedObject": {
            "kind": involved["kind"],
            "namespace": involved["metadata"]["namespace"],
            "name": involved["metadata"]["name"],
            "uid": involved["metadata"]["uid"],
            "apiVersion": involved["apiVersion"],
            "resourceVersion": involved["metadata"]["resourceVersion"],
        },
        "reason": reason,
        "message": message,
        "source": {"component": component},
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
        "type": type_,
        "eventTime": null,
        "reportingComponent": component,
        "reportingInstance": "",
    });
    // The one recorder of the sandbox's components: repeats are counted, not stored again.
    ops::record_event(state, event);
}
