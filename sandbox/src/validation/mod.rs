//! Validation of what clients write, as kube-apiserver's strategies validate it, as pure
//! functions over the (defaulted) object: `metadata` for every kind ([`meta`]) and the Pod spec
//! ([`pod`]), with apimachinery's formats ([`names`]) and resource quantities ([`quantity`]).
//! The errors are `field.Error`s ([`FieldError`]); the caller builds the 422 from them.
//!
//! What is not ported is listed in each module's documentation. Deviations in what is ported:
//! - quantities in messages are shown as written, not in Go's canonical form (`1000m`, not `1`);
//! - the pod update error ends with the list of updatable fields: Go appends `\n` and a
//!   `cmp.Diff` of its internal structs, which has no JSON counterpart;
//! - length limits say "must be no more than N characters" (`validation.MaxLenError`, 1.32–1.35);
//! - RBAC names keep the sandbox's one path-segment message; core kinds' extra finalizer rule
//!   (`validateKubeFinalizerName`) is not applied;
//! - decoding errors (a quantity that does not parse) are found after admission's namespace
//!   check, where kube-apiserver finds them first.

pub mod meta;
pub mod names;
pub mod pod;
pub mod quantity;

use serde_json::Value;

use crate::resource_types::ResourceType;
use crate::schema::FieldError;

pub use meta::NameRule;

fn is_pod(rt: &ResourceType) -> bool {
    rt.group.is_empty() && rt.plural == "pods"
}

/// The body's decoding failures kube-apiserver answers with a 400 before any validation: the
/// message after `<Kind> in version "<v>" cannot be handled as a <Kind>: `.
pub fn decode_error(rt: &ResourceType, obj: &Value) -> Option<String> {
    if is_pod(rt) {
        return pod::decode_errors(&obj["spec"]).map(|e| e.0);
    }
    None
}

/// The errors of a create (`strategy.Validate` and `ValidateObjectMetaAccessor`), name
/// generation done.
pub fn on_create(rt: &ResourceType, obj: &Value) -> Vec<FieldError> {
    let mut errs = meta::on_create(NameRule::of(rt), &obj["metadata"]);
    if is_pod(rt) {
        errs.extend(pod::spec(&obj["spec"]));
    }
    errs
}

/// `validateCommonFields` of the generic registry's `BeforeUpdate` (staging/src/k8s.io/apiserver/
/// pkg/registry/rest/update.go): `ValidateObjectMetaAccessor` with the path-segment name rule,
/// then `ValidateObjectMetaAccessorUpdate`, before the strategy's own `ValidateUpdate`. So an
/// invalid label on an update is reported by each of them, as kube-apiserver reports it.
fn common_fields(old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errs = meta::on_create(NameRule::PathSegment, &new["metadata"]);
    errs.extend(meta::on_update(&new["metadata"], &old["metadata"]));
    errs
}

/// The errors of an update of the main resource: the common fields, then the strategy. Built-in
/// kinds validate the new object in full after the metadata update rules
/// (`ValidateConfigMapUpdate` calls `ValidateConfigMap`, `ValidatePodUpdate` calls
/// `validatePodMetadataAndSpec`, …); custom resources only the update rules of their metadata
/// (their schema is checked by the caller).
pub fn on_update(rt: &ResourceType, old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errs = common_fields(old, new);
    errs.extend(meta::on_update(&new["metadata"], &old["metadata"]));
    if !rt.is_custom() {
        errs.extend(on_create(rt, new));
    }
    if is_pod(rt) {
        errs.extend(pod::update(&old["spec"], &new["spec"]));
    }
    errs
}

/// The errors of a status update: the common fields and the metadata update rules of the status
/// strategy (`ValidatePodStatusUpdate`, the custom resource status validator, …).
pub fn on_status_update(old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errs = common_fields(old, new);
    errs.extend(meta::on_update(&new["metadata"], &old["metadata"]));
    errs
}
