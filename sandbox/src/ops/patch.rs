//! The PATCH request: the patch formats by Content-Type, which a kind accepts, and the JSON,
//! merge and strategic merge patches (`crate::patch`) stored through the update path of
//! [`super`]; server-side apply goes to [`super::apply`].

use serde_json::json;

use super::{Tracking, WriteOptions, Written, apply, update_from_current};
use crate::errors::{ApiError, ApiResult, unsupported_media_type};
use crate::patch;
use crate::resource_types::ResourceType;
use crate::state::State;

/// The patch formats kube-apiserver accepts, by Content-Type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    Json,
    Merge,
    Strategic,
    Apply,
}

impl PatchType {
    pub fn from_content_type(ct: &str) -> Option<Self> {
        let base = ct.split(';').next().unwrap_or_default().trim();
        match base {
            "application/json-patch+json" => Some(PatchType::Json),
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::Strategic),
            // CBOR apply bodies need a feature gate that is off by default (415 like any
            // unknown type).
            "application/apply-patch+yaml" => Some(PatchType::Apply),
            _ => None,
        }
    }
}

fn accepted_patch_types(rt: &ResourceType) -> Vec<&'static str> {
    let mut types = vec![
        "application/json-patch+json",
        "application/merge-patch+json",
    ];
    if !rt.is_custom() {
        types.push("application/strategic-merge-patch+json");
    }
    types.push("application/apply-patch+yaml");
    types
}

pub fn unsupported_patch(rt: &ResourceType) -> ApiError {
    unsupported_media_type(&accepted_patch_types(rt))
}

pub(super) fn patch_error(e: patch::PatchError) -> ApiError {
    let mut status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": e.message, "code": e.code});
    if !e.reason.is_empty() {
        status["reason"] = json!(e.reason);
    }
    if e.detail.is_some() {
        status["details"] = json!({});
    }
    ApiError {
        code: e.code,
        status,
    }
}

/// PATCH of an object or its status. Server-side apply creates the object when it is absent.
#[allow(clippy::too_many_arguments)]
pub fn patch(
    state: &State,
    rt: &ResourceType,
    namespace: &str,
    name: &str,
    sub: Option<&str>,
    patch_type: PatchType,
    body: &[u8],
    opts: &WriteOptions,
) -> ApiResult<Written> {
    if patch_type == PatchType::Strategic && rt.is_custom() {
        return Err(unsupported_patch(rt));
    }
    if patch_type == PatchType::Apply {
        return apply::apply(state, rt, namespace, name, sub, body, opts);
    }
    if opts.force.is_some() {
        return Err(apply::force_not_allowed());
    }
    let (group, kind) = (rt.group.clone(), rt.kind.clone());
    update_from_current(
        state,
        rt,
        namespace,
        name,
        sub,
        opts,
        Tracking::Update,
        |current| {
            match patch_type {
                PatchType::Json => patch::apply_json_patch(current, body),
                PatchType::Merge => patch::apply_merge_patch(current, body),
                PatchType::Strategic => {
                    patch::apply_strategic_merge_patch(current, body, &group, &kind)
                }
                PatchType::Apply => {
                    return Err(crate::errors::internal(
                        "apply patches are handled separately",
                    ));
                }
            }
            .map_err(patch_error)
        },
    )
}
