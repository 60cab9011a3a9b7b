//! Server-side apply (`application/apply-patch+yaml`).
//!
//! Part 1 of the sandbox implements the create-or-merge half of it: an absent object is created
//! from the applied configuration; a present one has the configuration merged in (strategic
//! merge for built-in kinds, JSON merge for custom resources), with the `fieldManager` recorded.
//! Field ownership (removing fields a manager stops applying, conflicts between managers) is not
//! tracked yet.

use serde_json::Value;

use crate::errors::{ApiResult, bad_request};
use crate::ops::{self, WriteOptions, Written};
use crate::registry::ResourceType;
use crate::state::State;
use crate::store::StorageKey;

pub fn apply(
    state: &State,
    rt: &ResourceType,
    namespace: &str,
    name: &str,
    sub: Option<&str>,
    body: &[u8],
    opts: &WriteOptions,
) -> ApiResult<Written> {
    if opts.field_manager.as_deref().is_none_or(str::is_empty) {
        return Err(bad_request(
            "PATCH requests with apply patch type require a field manager to be specified",
        ));
    }
    let applied: Value = serde_yaml::from_slice(body)
        .map_err(|e| bad_request(format!("error decoding YAML: {e}")))?;
    if !applied.is_object() {
        return Err(bad_request("the applied configuration must be an object"));
    }
    let key = StorageKey::of(rt);
    if sub.is_none() && state.store.get(&key, namespace, name).is_none() {
        let mut obj = applied;
        obj["metadata"]["name"] = Value::String(name.to_string());
        let ns = rt.namespaced.then_some(namespace);
        return ops::create(state, rt, ns, obj, opts);
    }
    let patch_bytes = serde_json::to_vec(&applied).map_err(|e| bad_request(e.to_string()))?;
    let patch_type = if rt.is_custom() {
        ops::PatchType::Merge
    } else {
        ops::PatchType::Strategic
    };
    // Fields the caller did not apply are left as they are; `resourceVersion` in an applied
    // configuration is a precondition, as for any patch.
    ops::patch(
        state,
        rt,
        namespace,
        name,
        sub,
        patch_type,
        &patch_bytes,
        opts,
    )
}
