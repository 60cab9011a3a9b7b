//! The `scale` subresource of Deployments, ReplicaSets, StatefulSets and
//! ReplicationControllers: an `autoscaling/v1` Scale read from and written into the object's
//! `spec.replicas` (k8s: the ScaleREST storage of each kind, `scaleFromDeployment` and friends).

use serde_json::{Value, json};

use super::{PatchType, Tracking, WriteOptions, run_update, unsupported_patch};
use crate::errors::{ApiResult, bad_request, conflict_modified, not_found};
use crate::patch;
use crate::resource_types::ResourceType;
use crate::schema::{FieldError, invalid_status};
use crate::selectors::label_selector_from_json;
use crate::state::State;
use crate::store::StorageKey;

/// The selector a Scale reports, as `LabelSelectorAsSelector(...).String()` prints it (a
/// ReplicationController's is a plain label map).
fn selector_string(rt: &ResourceType, obj: &Value) -> String {
    let selector = &obj["spec"]["selector"];
    let as_label_selector = if rt.plural == "replicationcontrollers" {
        json!({"matchLabels": selector})
    } else {
        selector.clone()
    };
    label_selector_from_json(&as_label_selector)
        .map(|s| s.to_string())
        .unwrap_or_default()
}

/// The Scale of a stored object.
pub fn to_scale(rt: &ResourceType, obj: &Value) -> Value {
    let meta = &obj["metadata"];
    let mut scale = json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"],
            "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": {},
        "status": {"replicas": obj["status"]["replicas"].as_i64().unwrap_or(0)},
    });
    if let Some(replicas) = obj["spec"]["replicas"].as_i64().filter(|r| *r != 0) {
        scale["spec"]["replicas"] = json!(replicas);
    }
    let selector = selector_string(rt, obj);
    if !selector.is_empty() {
        scale["status"]["selector"] = json!(selector);
    }
    scale
}

pub fn get(state: &State, rt: &ResourceType, namespace: &str, name: &str) -> ApiResult<Value> {
    let obj = state
        .store
        .get(&StorageKey::of(rt), namespace, name)
        .ok_or_else(|| not_found(rt, name))?;
    Ok(to_scale(rt, &obj))
}

/// Writes what a new Scale asks for into the object: `spec.replicas`, after the Scale's
/// validation (`ValidateScale`) and its resourceVersion precondition.
fn write(
    state: &State,
    rt: &ResourceType,
    namespace: &str,
    name: &str,
    opts: &WriteOptions,
    new_scale: impl FnOnce(&Value) -> ApiResult<Value>,
) -> ApiResult<Value> {
    let desired = |current: &Value| {
        let scale = new_scale(&to_scale(rt, current))?;
        if !scale.is_object() {
            return Err(bad_request(
                "the object provided is unrecognized (must be of type Scale)",
            ));
        }
        if let Some(n) = scale["metadata"]["name"].as_str()
            && n != name
        {
            return Err(bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
        let replicas = match &scale["spec"]["replicas"] {
            Value::Null => 0,
            v => v.as_i64().ok_or_else(|| {
                bad_request(format!(
                    "json: cannot unmarshal {v} into Go struct field ScaleSpec.spec.replicas of type int32"
                ))
            })?,
        };
        if replicas < 0 {
            return Err(crate::errors::ApiError {
                code: 422,
                status: invalid_status(
                    "autoscaling",
                    "Scale",
                    name,
                    &[FieldError::invalid(
                        "spec.replicas",
                        json!(replicas),
                        "must be greater than or equal to 0",
                    )],
                ),
            });
        }
        let requested_rv = scale["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or_default();
        if !requested_rv.is_empty()
            && requested_rv
                != current["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap_or("")
        {
            return Err(conflict_modified(rt, name));
        }
        let mut next = current.clone();
        next["spec"]["replicas"] = json!(replicas);
        Ok(next)
    };
    let written = run_update(
        state,
        rt,
        namespace,
        name,
        opts,
        desired,
        Some("scale"),
        Tracking::Update,
    )?;
    Ok(to_scale(rt, &written.object))
}

/// PUT of a Scale.
pub fn update(
    state: &State,
    rt: &ResourceType,
    namespace: &str,
    name: &str,
    body: Value,
    opts: &WriteOptions,
) -> ApiResult<Value> {
    write(state, rt, namespace, name, opts, move |_| Ok(body))
}

/// PATCH of a Scale: the patch applies to the Scale, whose replicas are then written.
pub fn patch(
    state: &State,
    rt: &ResourceType,
    namespace: &str,
    name: &str,
    patch_type: PatchType,
    body: &[u8],
    opts: &WriteOptions,
) -> ApiResult<Value> {
    let apply = |scale: &Value| {
        match patch_type {
            PatchType::Json => patch::apply_json_patch(scale, body),
            PatchType::Merge => patch::apply_merge_patch(scale, body),
            PatchType::Strategic => {
                patch::apply_strategic_merge_patch(scale, body, "autoscaling", "Scale")
            }
            // Server-side apply of a Scale is not provided here.
            PatchType::Apply => return Err(unsupported_patch(rt)),
        }
        .map_err(super::patch::patch_error)
    };
    write(state, rt, namespace, name, opts, apply)
}
