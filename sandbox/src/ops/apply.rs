//! The server-side apply request (`PATCH` with `application/apply-patch+yaml`): checks the
//! patch options and the applied configuration, lets `crate::apply` merge it into the live
//! object with its field management, and stores the outcome through the write path of
//! [`super`] (creating the object when it does not exist yet).

use serde_json::Value;

use super::{Tracking, WriteOptions, Written, create_tracked, update_from_current};
use crate::apply::{Endpoint, apply_object, gvk_string};
use crate::errors::{ApiError, ApiResult, bad_request, not_found};
use crate::resource_types::ResourceType;
use crate::schema::{FieldError, invalid_status};
use crate::state::State;
use crate::store::StorageKey;

/// PATCH with `application/apply-patch+yaml`: creates the object when absent (not through
/// a subresource), applies to it otherwise.
pub(super) fn apply(
    state: &State,
    rt: &ResourceType,
    namespace: &str,
    name: &str,
    sub: Option<&str>,
    body: &[u8],
    opts: &WriteOptions,
) -> ApiResult<Written> {
    let Some(manager) = opts.field_manager.clone().filter(|m| !m.is_empty()) else {
        return Err(missing_manager());
    };
    let config: Value = match serde_yaml::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => v,
        Ok(other) => {
            return Err(bad_request(format!(
                "error decoding patch: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                crate::gofmt::json_kind(&other)
            )));
        }
        Err(e) => return Err(bad_request(format!("error decoding patch: {e}"))),
    };
    let api_version = config["apiVersion"].as_str().unwrap_or_default();
    let kind = config["kind"].as_str().unwrap_or_default();
    if api_version != rt.api_version() || kind != rt.kind {
        return Err(bad_request(format!(
            "invalid object type: {}",
            gvk_string(api_version, kind)
        )));
    }
    let force = opts.force.unwrap_or(false);
    let ep = Endpoint::new(rt, sub);
    let key = StorageKey::of(rt);
    if state.store.get(&key, namespace, name).is_none() {
        if sub.is_some() {
            return Err(not_found(rt, name));
        }
        let obj = apply_object(None, &config, &manager, force, &ep)?;
        let obj_name = obj["metadata"]["name"].as_str().unwrap_or_default();
        if obj_name.is_empty() {
            return Err(bad_request(format!(
                "the name of the object ({name} based on URL) was undeterminable: name must be provided"
            )));
        }
        if obj_name != name {
            return Err(bad_request(format!(
                "the name of the object ({obj_name}) does not match the name on the URL ({name})"
            )));
        }
        let ns = rt.namespaced.then_some(namespace);
        // The object carries the managed fields the apply computed.
        return create_tracked(state, rt, ns, clean(rt, obj), opts, Tracking::Applied);
    }
    update_from_current(
        state,
        rt,
        namespace,
        name,
        sub,
        opts,
        Tracking::Applied,
        |current| {
            let obj = apply_object(Some(current), &config, &manager, force, &ep)?;
            Ok(clean(rt, obj))
        },
    )
}

/// Built-in kinds are typed in kube-apiserver: a field removed down to `null` is gone.
fn clean(rt: &ResourceType, mut obj: Value) -> Value {
    fn drop_nulls(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.retain(|_, child| !child.is_null());
                m.values_mut().for_each(drop_nulls);
            }
            Value::Array(items) => items.iter_mut().for_each(drop_nulls),
            _ => {}
        }
    }
    if !rt.is_custom() {
        drop_nulls(&mut obj);
    }
    obj
}

/// The 422 for an apply without `fieldManager` (`ValidatePatchOptions`).
fn missing_manager() -> ApiError {
    ApiError {
        code: 422,
        status: invalid_status(
            "meta.k8s.io",
            "PatchOptions",
            "",
            &[FieldError::required(
                "fieldManager",
                "is required for apply patch",
            )],
        ),
    }
}

/// The 422 for `force` on a patch that is not an apply.
pub(super) fn force_not_allowed() -> ApiError {
    ApiError {
        code: 422,
        status: invalid_status(
            "meta.k8s.io",
            "PatchOptions",
            "",
            &[FieldError::forbidden(
                "force",
                "may not be specified for non-apply patch",
            )],
        ),
    }
}
