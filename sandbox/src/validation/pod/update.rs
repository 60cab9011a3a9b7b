//! The update rules of `ValidatePodUpdate` (pkg/apis/core/validation/validation.go): which
//! fields of a Pod's spec an update may change, and how.

use serde_json::{Value, json};

use super::{MAX_INT32, list, str_of};
use crate::schema::FieldError;
use crate::validation::names;

/// `updatablePodSpecFields`, joined as `ValidatePodUpdate` joins them.
const UPDATABLE_FIELDS: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// The update rules of `ValidatePodUpdate` (after the full validation of the new Pod, done by the
/// caller): no container added or removed, images still set, activeDeadlineSeconds only lowered,
/// and nothing else in the spec changed.
pub fn update(old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for part in ["containers", "initContainers"] {
        let (o, n) = (list(&old[part]), list(&new[part]));
        if o.len() != n.len() {
            errs.push(FieldError::forbidden(
                format!("spec.{part}"),
                "pod updates may not add or remove containers",
            ));
            return errs;
        }
        for (i, c) in n.iter().enumerate() {
            if str_of(c, "image").is_empty() {
                errs.push(FieldError::required(format!("spec.{part}[{i}].image"), ""));
            }
        }
    }
    let old_deadline = old["activeDeadlineSeconds"].as_i64();
    match new["activeDeadlineSeconds"].as_i64() {
        Some(n) if !(0..=MAX_INT32).contains(&n) => {
            errs.push(FieldError::invalid(
                "spec.activeDeadlineSeconds",
                json!(n),
                names::inclusive_range_error(0, MAX_INT32),
            ));
            return errs;
        }
        Some(n) if old_deadline.is_some_and(|o| o < n) => {
            errs.push(FieldError::invalid(
                "spec.activeDeadlineSeconds",
                json!(n),
                "must be less than or equal to previous value",
            ));
            return errs;
        }
        None if old_deadline.is_some() => errs.push(FieldError::invalid(
            "spec.activeDeadlineSeconds",
            Value::Null,
            "must not update from a positive integer to nil value",
        )),
        _ => {}
    }
    if munged(new, old) != *old {
        errs.push(FieldError::forbidden(
            "spec",
            format!("pod updates may not change fields other than {UPDATABLE_FIELDS}"),
        ));
    }
    errs
}

/// The new spec with the fields an update may change taken from the old one.
fn munged(new: &Value, old: &Value) -> Value {
    let mut m = new.clone();
    for part in ["containers", "initContainers"] {
        if let Some(cs) = m.get_mut(part).and_then(Value::as_array_mut) {
            for (i, c) in cs.iter_mut().enumerate() {
                match old[part][i].get("image") {
                    Some(image) => c["image"] = image.clone(),
                    None => {
                        if let Some(map) = c.as_object_mut() {
                            map.remove("image");
                        }
                    }
                }
            }
        }
    }
    let old_grace = old["terminationGracePeriodSeconds"].as_i64();
    let mut keep = vec!["activeDeadlineSeconds", "tolerations", "schedulingGates"];
    if old_grace.is_some_and(|g| g < 0) && m["terminationGracePeriodSeconds"].as_i64() == Some(1) {
        keep.push("terminationGracePeriodSeconds");
    }
    if let Some(map) = m.as_object_mut() {
        for field in keep {
            match old.get(field) {
                Some(v) => {
                    map.insert(field.to_string(), v.clone());
                }
                None => {
                    map.remove(field);
                }
            }
        }
    }
    m
}
