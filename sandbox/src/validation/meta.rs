//! `metadata` as kube-apiserver validates it for every kind (k8s.io/apimachinery
//! pkg/api/validation/objectmeta.go `ValidateObjectMetaAccessor`, `ValidateObjectMetaAccessorUpdate`;
//! pkg/apis/meta/v1/validation `ValidateLabels`): the name and generateName by the kind's name rule,
//! labels, annotations (keys and total size), ownerReferences and finalizers.

use serde_json::{Map, Value, json};

use super::names;
use crate::resource_types::ResourceType;
use crate::schema::FieldError;

/// `TotalAnnotationSizeLimitB`.
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * (1 << 10);

/// The per-kind `ValidateNameFunc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameRule {
    /// `NameIsDNSSubdomain`: most kinds, custom resources included.
    Subdomain,
    /// `NameIsDNSLabel`: namespaces.
    Label,
    /// `NameIsDNS1035Label`: services.
    Label1035,
    /// `path.ValidatePathSegmentName`: RBAC objects.
    PathSegment,
}

impl NameRule {
    pub fn of(rt: &ResourceType) -> Self {
        match (rt.group.as_str(), rt.plural.as_str()) {
            ("", "namespaces") => NameRule::Label,
            ("", "services") => NameRule::Label1035,
            ("rbac.authorization.k8s.io", _) => NameRule::PathSegment,
            _ => NameRule::Subdomain,
        }
    }

    /// The messages of the name function for `name` (`prefix`: it is a generateName).
    pub fn check(self, name: &str, prefix: bool) -> Vec<String> {
        match self {
            NameRule::Subdomain => {
                names::dns1123_subdomain(&names::mask_trailing_dash(name, prefix))
            }
            NameRule::Label => names::dns1123_label(&names::mask_trailing_dash(name, prefix)),
            NameRule::Label1035 => names::dns1035_label(&names::mask_trailing_dash(name, prefix)),
            NameRule::PathSegment => path_segment(name, prefix),
        }
    }
}

/// `path.IsValidPathSegmentName` (and `IsValidPathSegmentPrefix` for a prefix), worded as the
/// sandbox has always worded it for RBAC names.
fn path_segment(name: &str, prefix: bool) -> Vec<String> {
    let bad_whole = !prefix && (name == "." || name == "..");
    if bad_whole || name.contains('/') || name.contains('%') {
        vec!["may not contain '/' or '%' and may not be '.' or '..'".to_string()]
    } else {
        Vec::new()
    }
}

fn string_map(meta: &Value, key: &str) -> Map<String, Value> {
    meta[key].as_object().cloned().unwrap_or_default()
}

/// `ValidateLabels`: keys are qualified names, values label values; the path is the map's.
pub fn labels(map: &Map<String, Value>, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (k, v) in map {
        for msg in names::qualified_name(k) {
            errs.push(FieldError::invalid(path, json!(k), msg));
        }
        let value = v.as_str().unwrap_or_default();
        for msg in names::label_value(value) {
            errs.push(FieldError::invalid(path, json!(value), msg));
        }
    }
    errs
}

/// `ValidateAnnotations`: keys are qualified names (case-insensitively), 256 KiB in all.
fn annotations(map: &Map<String, Value>, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut total = 0;
    for (k, v) in map {
        for msg in names::qualified_name(&k.to_lowercase()) {
            errs.push(FieldError::invalid(path, json!(k), msg));
        }
        total += k.len() + v.as_str().map_or(0, str::len);
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(FieldError::too_long(
            path,
            TOTAL_ANNOTATION_SIZE_LIMIT as i64,
        ));
    }
    errs
}

/// `ValidateOwnerReferences`.
fn owner_references(refs: &[Value], path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut first_controller: Option<String> = None;
    for r in refs {
        let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
        let api_version = s("apiVersion");
        // schema.FromAPIVersionAndKind: the version is what follows the last '/', or all of it.
        let version = api_version.rsplit('/').next().unwrap_or_default();
        if version.is_empty() {
            errs.push(FieldError::invalid(
                format!("{path}.apiVersion"),
                json!(api_version),
                "version must not be empty",
            ));
        }
        for (field, value) in [("kind", s("kind")), ("name", s("name")), ("uid", s("uid"))] {
            if value.is_empty() {
                errs.push(FieldError::invalid(
                    format!("{path}.{field}"),
                    json!(value),
                    "must not be empty",
                ));
            }
        }
        if api_version == "v1" && s("kind") == "Event" {
            errs.push(FieldError::invalid(
                path,
                r.clone(),
                "/v1, Kind=Event is disallowed from being an owner",
            ));
        }
        if r["controller"].as_bool() == Some(true) {
            let current = format!("{}/{}", s("kind"), s("name"));
            match &first_controller {
                Some(first) => errs.push(FieldError::invalid(
                    path,
                    Value::Array(refs.to_vec()),
                    format!(
                        "Only one reference can have Controller set to true. Found \"true\" in references for {first} and {current}"
                    ),
                )),
                None => first_controller = Some(current),
            }
        }
    }
    errs
}

const FINALIZER_ORPHAN: &str = "orphan";
const FINALIZER_FOREGROUND: &str = "foregroundDeletion";

/// `ValidateFinalizers`.
fn finalizers(list: &[Value], path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let names: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
    for f in &names {
        for msg in names::qualified_name(f) {
            errs.push(FieldError::invalid(path, json!(f), msg));
        }
    }
    if names.contains(&FINALIZER_ORPHAN) && names.contains(&FINALIZER_FOREGROUND) {
        errs.push(FieldError::invalid(
            path,
            Value::Array(list.to_vec()),
            format!("finalizer {FINALIZER_ORPHAN} and {FINALIZER_FOREGROUND} cannot be both set"),
        ));
    }
    errs
}

/// The checks create and update share (`validateObjectMetaAccessorWithOptsCommon`, less the
/// namespace, which the write path sets from the URL).
fn common(meta: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(g) = meta["generation"].as_i64()
        && g < 0
    {
        errs.push(FieldError::invalid(
            "metadata.generation",
            json!(g),
            "must be greater than or equal to 0",
        ));
    }
    errs.extend(labels(&string_map(meta, "labels"), "metadata.labels"));
    errs.extend(annotations(
        &string_map(meta, "annotations"),
        "metadata.annotations",
    ));
    let refs = meta["ownerReferences"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    errs.extend(owner_references(&refs, "metadata.ownerReferences"));
    let fins = meta["finalizers"].as_array().cloned().unwrap_or_default();
    errs.extend(finalizers(&fins, "metadata.finalizers"));
    errs
}

/// `ValidateObjectMetaAccessor` on create (name generation already done).
pub fn on_create(rule: NameRule, meta: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let generate = meta["generateName"].as_str().unwrap_or_default();
    if !generate.is_empty() {
        for msg in rule.check(generate, true) {
            errs.push(FieldError::invalid(
                "metadata.generateName",
                json!(generate),
                msg,
            ));
        }
    }
    let name = meta["name"].as_str().unwrap_or_default();
    if name.is_empty() {
        errs.push(FieldError::required(
            "metadata.name",
            "name or generateName is required",
        ));
    } else {
        for msg in rule.check(name, false) {
            errs.push(FieldError::invalid("metadata.name", json!(name), msg));
        }
    }
    errs.extend(common(meta));
    errs
}

/// `ValidateObjectMetaAccessorUpdate`: no finalizer may be added once deletion started, and the
/// common checks of the new metadata. (Identity fields are kept from the stored object by the
/// write path, so their immutability checks cannot fail here.)
pub fn on_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if !old["deletionTimestamp"].is_null() {
        let before: Vec<&str> = old["finalizers"]
            .as_array()
            .map(|l| l.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut extra: Vec<&str> = new["finalizers"]
            .as_array()
            .map(|l| l.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        extra.retain(|f| !before.contains(f));
        extra.sort_unstable();
        extra.dedup();
        if !extra.is_empty() {
            let quoted: Vec<String> = extra.iter().map(|f| crate::gofmt::quote(f)).collect();
            errs.push(FieldError::forbidden(
                "metadata.finalizers",
                format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                    quoted.join(", ")
                ),
            ));
        }
    }
    errs.extend(common(new));
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    // objectmeta.go:
    //   field.Invalid(fldPath.Child("apiVersion"), ownerReference.APIVersion, "version must not be empty")
    //   field.Invalid(fldPath.Child("kind"), ownerReference.Kind, "must not be empty")
    //   fmt.Sprintf("Only one reference can have Controller set to true. Found \"true\" in references for %v and %v", ...)
    //   field.TooLong(fldPath, "" /*unused*/, TotalAnnotationSizeLimitB)
    //   field.Required(fldPath.Child("name"), "name or generateName is required")
    #[test]
    fn object_meta_is_validated_as_apimachinery_does() {
        let ok = json!({"name": "web", "labels": {"app": "x", "example.com/tier": ""},
                        "annotations": {"Example.com/Note": "free text!"},
                        "finalizers": ["example.com/cleanup"]});
        assert!(on_create(NameRule::Subdomain, &ok).is_empty());
        let bad = json!({"name": "Web", "generateName": "Web-",
            "labels": {"bad key!": "x", "ok": "-bad"},
            "annotations": {"a b": "x"},
            "finalizers": ["bad finalizer", "orphan", "foregroundDeletion"],
            "ownerReferences": [
                {"apiVersion": "", "kind": "A", "name": "a", "uid": "1", "controller": true},
                {"apiVersion": "v1", "kind": "", "name": "", "uid": "", "controller": true}]});
        let m = messages(&on_create(NameRule::Subdomain, &bad));
        assert!(m[0].starts_with(
            "metadata.generateName: Invalid value: \"Web-\": a lowercase RFC 1123 subdomain"
        ));
        assert!(
            m[1].starts_with(
                "metadata.name: Invalid value: \"Web\": a lowercase RFC 1123 subdomain"
            )
        );
        assert!(m[2].starts_with(
            "metadata.labels: Invalid value: \"bad key!\": name part must consist of"
        ));
        assert!(m[3].starts_with(
            "metadata.labels: Invalid value: \"-bad\": a valid label must be an empty string"
        ));
        assert!(m[4].starts_with(
            "metadata.annotations: Invalid value: \"a b\": name part must consist of"
        ));
        assert_eq!(
            m[5],
            "metadata.ownerReferences.apiVersion: Invalid value: \"\": version must not be empty"
        );
        assert_eq!(
            m[6],
            "metadata.ownerReferences.kind: Invalid value: \"\": must not be empty"
        );
        assert_eq!(
            m[7],
            "metadata.ownerReferences.name: Invalid value: \"\": must not be empty"
        );
        assert_eq!(
            m[8],
            "metadata.ownerReferences.uid: Invalid value: \"\": must not be empty"
        );
        assert!(m[9].ends_with("Only one reference can have Controller set to true. Found \"true\" in references for A/a and /"));
        assert!(
            m[10].starts_with("metadata.finalizers: Invalid value: \"bad finalizer\": name part")
        );
        assert!(m[11].ends_with("finalizer orphan and foregroundDeletion cannot be both set"));
        assert_eq!(m.len(), 12);
        assert_eq!(
            messages(&on_create(NameRule::Subdomain, &json!({}))),
            ["metadata.name: Required value: name or generateName is required"]
        );
        let big =
            json!({"name": "a", "annotations": {"k": "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT)}});
        assert_eq!(
            messages(&on_create(NameRule::Subdomain, &big)),
            ["metadata.annotations: Too long: may not be more than 262144 bytes"]
        );
        assert!(NameRule::Label1035.check("1svc", false)[0].starts_with("a DNS-1035 label"));
        assert!(NameRule::Label.check("web-", true).is_empty());
    }

    #[test]
    fn no_finalizer_is_added_to_an_object_being_deleted() {
        let old = json!({"deletionTimestamp": "x", "finalizers": ["a.io/x"]});
        let new = json!({"finalizers": ["a.io/x", "b.io/y"]});
        assert_eq!(
            messages(&on_update(&new, &old)),
            [
                "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"b.io/y\"}"
            ]
        );
        assert!(on_update(&new, &json!({"finalizers": []})).is_empty());
    }
}
