//! What kube-apiserver's per-kind strategies and defaulting do on writes: defaults of built-in
//! kinds (pods, namespaces, secrets, CRDs), the validation of `crate::validation` (metadata of
//! every kind, Pods) run at the point the strategies run it, and the schema pipeline of custom
//! resources (defaults → prune → validate, CEL included).

mod workloads;

pub use workloads::SERVICE_CIDR;

use base64::Engine;
use serde_json::{Map, Value, json};

use crate::errors::{ApiError, ApiResult, bad_request};
use crate::resource_types::{ResourceType, type_from_crd};
use crate::schema::{CompiledSchema, FieldError, invalid_status, resolve_field_path};
use crate::state::State;
use crate::timestamp::now_rfc3339;
use crate::validation;

/// How unknown fields are treated (`fieldValidation` query parameter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    Warn,
    Strict,
}

impl FieldValidation {
    pub fn parse(value: Option<&str>) -> ApiResult<Self> {
        match value {
            None | Some("Warn") => Ok(FieldValidation::Warn),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some(other) => Err(bad_request(format!(
                "fieldValidation must be one of Ignore, Warn, Strict, got {other:?}"
            ))),
        }
    }
}

pub fn invalid(rt: &ResourceType, name: &str, errors: &[FieldError]) -> ApiError {
    ApiError {
        code: 422,
        status: invalid_status(&rt.group, &rt.kind, name, errors),
    }
}

/// Whether `generation` is kept for this kind (kinds with a spec the user drives).
pub fn tracks_generation(rt: &ResourceType) -> bool {
    rt.is_custom()
        || matches!(
            (rt.group.as_str(), rt.plural.as_str()),
            ("", "pods" | "replicationcontrollers")
                | ("apps", _)
                | ("batch", _)
                | ("autoscaling", "horizontalpodautoscalers")
                | ("networking.k8s.io", "ingresses" | "networkpolicies")
                | ("apiextensions.k8s.io", "customresourcedefinitions")
        )
}

/// Whether the main endpoint keeps the stored status (the kind has a status subresource).
pub fn status_is_subresource(rt: &ResourceType) -> bool {
    rt.has_subresource("status")
}

/// The 400 of a body the decoder refuses (`<Kind> in version "<v>" cannot be handled as a <Kind>: …`).
fn decode_check(rt: &ResourceType, obj: &Value) -> ApiResult<()> {
    match validation::decode_error(rt, obj) {
        Some(why) => Err(bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: {why}",
            rt.kind, rt.version, rt.kind
        ))),
        None => Ok(()),
    }
}

fn name_of(obj: &Value) -> String {
    obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Kind-specific work on create, after generic metadata handling: defaults, validation, the
/// kind's own steps. Built-in kinds answer their validation errors here; for custom resources
/// the metadata errors are returned, to be reported with the schema's ([`custom_resource`]).
pub fn on_create(state: &State, rt: &ResourceType, obj: &mut Value) -> ApiResult<Vec<FieldError>> {
    if status_is_subresource(rt)
        && let Some(map) = obj.as_object_mut()
    {
        map.remove("status");
    }
    decode_check(rt, obj)?;
    let is_pod = rt.group.is_empty() && rt.plural == "pods";
    if is_pod {
        default_pod(obj);
        workloads::drop_nulls(obj);
    }
    let errors = validation::on_create(rt, obj);
    if rt.is_custom() {
        return Ok(errors);
    }
    if !errors.is_empty() {
        return Err(invalid(rt, &name_of(obj), &errors));
    }
    workloads::on_create(state, rt, obj)?;
    match (rt.group.as_str(), rt.plural.as_str()) {
        ("", "pods") => {}
        ("", "namespaces") => {
            let name = obj["metadata"]["name"].clone();
            obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
            obj["spec"]["finalizers"] = json!(["kubernetes"]);
            obj["status"] = json!({"phase": "Active"});
        }
        ("", "secrets") => {
            if obj["type"].as_str().is_none_or(str::is_empty) {
                obj["type"] = json!("Opaque");
            }
            normalize_secret(rt, obj)?
        }
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            establish_crd(state, rt, obj)?;
            add_finalizer(obj, CRD_CLEANUP_FINALIZER);
        }
        _ => {}
    }
    // Last, so what defaulting indexed into existence as `null` goes too.
    if !rt.is_custom() {
        workloads::drop_nulls(obj);
    }
    Ok(Vec::new())
}

/// Kind-specific rules on update. `sub` is `Some("status")` for the status endpoint.
pub fn on_update(
    state: &State,
    rt: &ResourceType,
    old: &Value,
    new: &mut Value,
    sub: Option<&str>,
) -> ApiResult<Vec<FieldError>> {
    if status_is_subresource(rt) {
        if sub == Some("status") {
            // The status endpoint changes only status (and labels/annotations are kept as stored).
            let status = new.get("status").cloned();
            let mut kept = old.clone();
            kept["metadata"]["resourceVersion"] = new["metadata"]["resourceVersion"].clone();
            match status {
                Some(s) => kept["status"] = s,
                None => {
                    if let Some(map) = kept.as_object_mut() {
                        map.remove("status");
                    }
                }
            }
            *new = kept;
        } else {
            match old.get("status") {
                Some(s) => new["status"] = s.clone(),
                None => {
                    if let Some(map) = new.as_object_mut() {
                        map.remove("status");
                    }
                }
            }
        }
    }
    if sub.is_none() {
        decode_check(rt, new)?;
        if rt.group.is_empty() && rt.plural == "pods" {
            // The decoder defaults the new object before the strategy compares it with the old
            // (which was stored without the `null`s defaulting indexes into existence).
            default_pod_spec(new);
            workloads::drop_nulls(new);
        }
    }
    let errors = match sub {
        None => validation::on_update(rt, old, new),
        Some(_) => validation::on_status_update(old, new),
    };
    if rt.is_custom() {
        return Ok(errors);
    }
    if !errors.is_empty() {
        return Err(invalid(rt, &name_of(new), &errors));
    }
    workloads::on_update(state, rt, old, new, sub)?;
    match (rt.group.as_str(), rt.plural.as_str()) {
        ("", "secrets") => normalize_secret(rt, new)?,
        ("", "namespaces") => {
            // spec.finalizers are the namespace controller's, set only through /finalize.
            new["spec"] = old["spec"].clone();
        }
        ("apiextensions.k8s.io", "customresourcedefinitions") if sub.is_none() => {
            establish_crd(state, rt, new)?;
        }
        _ => {}
    }
    if !rt.is_custom() {
        workloads::drop_nulls(new);
    }
    Ok(Vec::new())
}

pub const CRD_CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

pub fn add_finalizer(obj: &mut Value, finalizer: &str) {
    let list = &mut obj["metadata"]["finalizers"];
    if !list.is_array() {
        *list = json!([]);
    }
    if let Some(items) = list.as_array_mut()
        && !items.iter().any(|f| f == finalizer)
    {
        items.push(json!(finalizer));
    }
}

/// Checks a CRD, computes its status as the CRD controllers would, and serves its type at once
/// (so a custom resource applied right after its CRD is accepted).
fn establish_crd(state: &State, rt: &ResourceType, crd: &mut Value) -> ApiResult<()> {
    let name = crd["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let served = type_from_crd(crd)
        .map_err(|msg| invalid(rt, &name, &[FieldError::invalid_omit_value("spec", &msg)]))?;
    let expected_name = format!("{}.{}", served.plural, served.group);
    if name != expected_name {
        return Err(invalid(
            rt,
            &name,
            &[FieldError::invalid(
                "metadata.name",
                json!(name),
                "must be spec.names.plural+\".\"+spec.group",
            )],
        ));
    }
    let schema = match served.custom.as_ref().and_then(|c| c.schema.as_ref()) {
        Some(s) => Some(CompiledSchema::new(s).map_err(|msg| {
            invalid(
                rt,
                &name,
                &[FieldError::invalid_omit_value(
                    "spec.validation.openAPIV3Schema",
                    &msg,
                )],
            )
        })?),
        None => None,
    };
    let errors = selectable_field_errors(crd, schema.as_ref());
    if !errors.is_empty() {
        return Err(invalid(rt, &name, &errors));
    }
    let now = now_rfc3339();
    let keep_time = |kind: &str| -> String {
        crd["status"]["conditions"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["type"] == kind))
            .and_then(|c| c["lastTransitionTime"].as_str().map(String::from))
            .unwrap_or_else(|| now.clone())
    };
    let status = json!({
        "acceptedNames": {
            "kind": served.kind,
            "listKind": served.list_kind,
            "plural": served.plural,
            "singular": served.singular,
            "shortNames": served.short_names,
            "categories": served.categories,
        },
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "lastTransitionTime": keep_time("NamesAccepted"),
             "reason": "NoConflicts", "message": "no conflicts found"},
            {"type": "Established", "status": "True", "lastTransitionTime": keep_time("Established"),
             "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"},
        ],
        "storedVersions": [served.version],
    });
    crd["status"] = status;
    if crd["metadata"]["deletionTimestamp"].is_null() {
        state.types.register(served, schema);
    }
    Ok(())
}

/// Most `selectableFields` of one version (apiextensions validation `MaxSelectableFields`).
const MAX_SELECTABLE_FIELDS: usize = 8;

/// `ValidateCustomResourceSelectableFields` (apiextensions-apiserver
/// pkg/apis/apiextensions/validation/validation.go) for each version of `crd`: a path without
/// array notation to a `string`, `boolean` or `integer` field outside `metadata`, no duplicates,
/// at most eight. Versions are checked against the served schema (one served version here).
fn selectable_field_errors(crd: &Value, schema: Option<&CompiledSchema>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let versions = crd["spec"]["versions"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    for (v, version) in versions.iter().enumerate() {
        let Some(fields) = version["selectableFields"]
            .as_array()
            .filter(|f| !f.is_empty())
        else {
            continue;
        };
        let base = format!("spec.versions[{v}].selectableFields");
        let Some(schema) = schema.filter(|_| version["served"].as_bool() == Some(true)) else {
            errors.push(FieldError::invalid(
                &base,
                json!(""),
                "may only be set when `version.schema.openAPIV3Schema` is not included",
            ));
            continue;
        };
        let mut unique = std::collections::BTreeSet::new();
        for (i, field) in fields.iter().enumerate() {
            let at = format!("{base}[{i}].jsonPath");
            let json_path = field["jsonPath"].as_str().unwrap_or_default();
            if json_path.is_empty() {
                errors.push(FieldError::required(&at, ""));
                continue;
            }
            let (path, found) = match resolve_field_path(json_path, schema.root(), false) {
                Ok(resolved) => resolved,
                Err(why) => {
                    errors.push(FieldError::invalid(
                        &at,
                        json!(json_path),
                        format!("is an invalid path: {why}"),
                    ));
                    continue;
                }
            };
            let rendered = path.render();
            if rendered.split(['.', '[']).next() == Some("metadata") {
                errors.push(FieldError::invalid(
                    &at,
                    json!(json_path),
                    "must not point to fields in metadata",
                ));
            }
            if !found
                .is_some_and(|s| matches!(s.type_name.as_str(), "string" | "boolean" | "integer"))
            {
                errors.push(FieldError::invalid(
                    &at,
                    json!(json_path),
                    "must point to a field of type string, boolean or integer. Enum string fields and strings with formats are allowed.",
                ));
            }
            if !unique.insert(rendered) {
                errors.push(FieldError::duplicate(&at, Some(json!(json_path))));
            }
        }
        if unique.len() > MAX_SELECTABLE_FIELDS {
            errors.push(FieldError::too_many(
                &base,
                unique.len() as i64,
                MAX_SELECTABLE_FIELDS as i64,
            ));
        }
    }
    errors
}

/// The pod defaults kubectl and controllers read back (k8s: pkg/apis/core/v1/defaults.go and the
/// ServiceAccount admission plugin).
fn default_pod(pod: &mut Value) {
    default_pod_spec(pod);
    let qos = pod_qos(&pod["spec"]);
    pod["status"] = json!({"phase": "Pending", "qosClass": qos});
}

/// The defaults of the spec (pkg/apis/core/v1/defaults.go, `SetDefaults_PodSpec` and the
/// container, port and probe defaults).
fn default_pod_spec(pod: &mut Value) {
    let spec = &mut pod["spec"];
    let defaults = [
        ("restartPolicy", json!("Always")),
        ("terminationGracePeriodSeconds", json!(30)),
        ("dnsPolicy", json!("ClusterFirst")),
        ("securityContext", json!({})),
        ("schedulerName", json!("default-scheduler")),
        ("enableServiceLinks", json!(true)),
        ("priority", json!(0)),
        ("preemptionPolicy", json!("PreemptLowerPriority")),
        ("serviceAccountName", json!("default")),
    ];
    for (field, value) in defaults {
        if spec[field].is_null() {
            spec[field] = value;
        }
    }
    spec["serviceAccount"] = spec["serviceAccountName"].clone();
    for list in ["initContainers", "containers"] {
        if let Some(containers) = spec[list].as_array_mut() {
            for c in containers {
                default_container(c);
            }
        }
    }
}

fn default_container(c: &mut Value) {
    if c["terminationMessagePath"].is_null() {
        c["terminationMessagePath"] = json!("/dev/termination-log");
    }
    if c["terminationMessagePolicy"].is_null() {
        c["terminationMessagePolicy"] = json!("File");
    }
    if c["imagePullPolicy"].is_null() {
        let image = c["image"].as_str().unwrap_or_default();
        let tag = image
            .rsplit_once('/')
            .map_or(image, |(_, last)| last)
            .split_once(':')
            .map(|(_, t)| t);
        let always = !image.contains('@') && matches!(tag, None | Some("latest"));
        c["imagePullPolicy"] = json!(if always { "Always" } else { "IfNotPresent" });
    }
    if c["resources"].is_null() {
        c["resources"] = json!({});
    }
    if let Some(ports) = c["ports"].as_array_mut() {
        for p in ports {
            if p["protocol"].is_null() {
                p["protocol"] = json!("TCP");
            }
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = c.get_mut(probe) {
            default_probe(p);
        }
    }
}

/// `SetDefaults_Probe` and `SetDefaults_HTTPGetAction`.
fn default_probe(probe: &mut Value) {
    if !probe.is_object() {
        return;
    }
    for (field, value) in [
        ("timeoutSeconds", 1),
        ("periodSeconds", 10),
        ("successThreshold", 1),
        ("failureThreshold", 3),
    ] {
        if probe[field].as_i64().unwrap_or(0) == 0 {
            probe[field] = json!(value);
        }
    }
    if let Some(http) = probe.get_mut("httpGet").filter(|h| h.is_object()) {
        if http["path"].as_str().is_none_or(str::is_empty) {
            http["path"] = json!("/");
        }
        if http["scheme"].as_str().is_none_or(str::is_empty) {
            http["scheme"] = json!("HTTP");
        }
    }
}

/// QoS class as pkg/apis/core/helper/qos computes it, for cpu and memory.
fn pod_qos(spec: &Value) -> &'static str {
    let containers: Vec<&Value> = ["initContainers", "containers"]
        .iter()
        .filter_map(|l| spec[*l].as_array())
        .flatten()
        .collect();
    let mut any = false;
    let mut guaranteed = true;
    for c in &containers {
        let requests = &c["resources"]["requests"];
        let limits = &c["resources"]["limits"];
        for res in ["cpu", "memory"] {
            if !requests[res].is_null() || !limits[res].is_null() {
                any = true;
            }
            let limit = &limits[res];
            let request = if requests[res].is_null() {
                limit
            } else {
                &requests[res]
            };
            if limit.is_null() || request != limit {
                guaranteed = false;
            }
        }
    }
    match (any, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}

/// Folds `stringData` into `data` and checks `data` is base64, as the secret strategy does.
fn normalize_secret(rt: &ResourceType, secret: &mut Value) -> ApiResult<()> {
    let name = secret["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if let Some(Value::Object(string_data)) =
        secret.as_object_mut().and_then(|m| m.remove("stringData"))
    {
        let engine = base64::engine::general_purpose::STANDARD;
        if !secret["data"].is_object() {
            secret["data"] = Value::Object(Map::new());
        }
        for (k, v) in string_data {
            let text = v.as_str().unwrap_or_default().to_string();
            secret["data"][k] = json!(engine.encode(text));
        }
    }
    if let Some(data) = secret["data"].as_object() {
        for (k, v) in data {
            let ok = v
                .as_str()
                .is_some_and(|s| base64::engine::general_purpose::STANDARD.decode(s).is_ok());
            if !ok && !v.is_null() {
                return Err(bad_request(format!(
                    "Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data at input byte 0 (data[{k:?}] of {name})"
                )));
            }
        }
    }
    let _ = rt;
    Ok(())
}

/// Defaults, pruning and validation of a custom resource against its CRD's schema. Returns the
/// warnings to send (unknown fields under `fieldValidation=Warn`).
pub fn custom_resource(
    state: &State,
    rt: &ResourceType,
    obj: &mut Value,
    old: Option<&Value>,
    field_validation: FieldValidation,
    status_only: bool,
    prior: Vec<FieldError>,
) -> ApiResult<Vec<String>> {
    let Some(schema) = state.types.schema(&rt.group, &rt.plural) else {
        return if prior.is_empty() {
            Ok(Vec::new())
        } else {
            Err(invalid(rt, &name_of(obj), &prior))
        };
    };
    schema.apply_defaults(obj);
    let unknown = schema.prune(obj);
    let mut warnings = Vec::new();
    if !unknown.is_empty() {
        let listed: Vec<String> = unknown
            .iter()
            .map(|f| format!("unknown field \"{}\"", f.trim_start_matches('.')))
            .collect();
        match field_validation {
            FieldValidation::Strict => {
                return Err(bad_request(format!(
                    "{} in version \"{}\" cannot be handled as a {}: strict decoding error: {}",
                    rt.kind,
                    rt.version,
                    rt.kind,
                    listed.join(", ")
                )));
            }
            FieldValidation::Warn => warnings = listed,
            FieldValidation::Ignore => {}
        }
    }
    let name = obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut errors = prior;
    let found = match old {
        Some(old) if status_only => schema.validate_status(obj, old, &errors),
        _ => schema.validate_with_prior(obj, old, &errors),
    };
    errors.extend(found);
    if errors.is_empty() {
        Ok(warnings)
    } else {
        Err(invalid(rt, &name, &errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crd(selectable: Value) -> Value {
        json!({"spec": {"versions": [{
            "name": "v1", "served": true, "storage": true,
            "selectableFields": selectable,
            "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                "spec": {"type": "object", "properties": {
                    "color": {"type": "string", "enum": ["red", "blue"]},
                    "size": {"type": "integer"},
                    "on": {"type": "boolean"},
                    "either": {"x-kubernetes-int-or-string": true},
                    "nested": {"type": "object", "properties": {"deep": {"type": "string"}}},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                }},
                "metadata": {"type": "object", "properties": {"name": {"type": "string"}}},
            }}},
        }]}})
    }

    fn errors(selectable: Value) -> Vec<String> {
        let crd = crd(selectable);
        let schema = CompiledSchema::new(&crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
            .expect("schema");
        selectable_field_errors(&crd, Some(&schema))
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    // The messages of apiextensions-apiserver's ValidateCustomResourceSelectableFields and
    // cel.ValidFieldPath (pkg/apis/apiextensions/validation/validation.go:
    //   field.Invalid(..., "must point to a field of type string, boolean or integer. Enum string fields and strings with formats are allowed.")
    //   field.Invalid(..., "must not point to fields in metadata")
    //   field.Invalid(..., fmt.Sprintf("is an invalid path: %v", err))
    //   field.TooMany(fldPath, uniqueSelectableFieldCount, MaxSelectableFields)   // MaxSelectableFields = 8
    // pkg/apiserver/schema/cel/validation.go: "does not refer to a valid field",
    //   "array notation is not allowed", "expected [ or . but got: %s").
    #[test]
    fn selectable_fields_are_validated_as_kube_apiserver_does() {
        assert!(
            errors(
                json!([{"jsonPath": ".spec.color"}, {"jsonPath": ".spec.size"},
                          {"jsonPath": ".spec.on"}, {"jsonPath": ".spec.nested.deep"},
                          {"jsonPath": ".spec.labels.team"}])
            )
            .is_empty()
        );
        let base = "spec.versions[0].selectableFields";
        assert_eq!(
            errors(json!([{"jsonPath": ".spec.either"}])),
            [format!(
                "{base}[0].jsonPath: Invalid value: \".spec.either\": must point to a field of type string, boolean or integer. Enum string fields and strings with formats are allowed."
            )]
        );
        assert_eq!(
            errors(json!([{"jsonPath": ".spec.nested"}, {"jsonPath": ".spec.tags"}])).len(),
            2
        );
        assert_eq!(
            errors(json!([{"jsonPath": ".spec.missing"}])),
            [format!(
                "{base}[0].jsonPath: Invalid value: \".spec.missing\": is an invalid path: does not refer to a valid field"
            )]
        );
        assert_eq!(
            errors(json!([{"jsonPath": "spec.color"}])),
            [format!(
                "{base}[0].jsonPath: Invalid value: \"spec.color\": is an invalid path: expected [ or . but got: spec"
            )]
        );
        assert_eq!(
            errors(json!([{"jsonPath": ".spec['color']"}])),
            [format!(
                "{base}[0].jsonPath: Invalid value: \".spec['color']\": is an invalid path: array notation is not allowed"
            )]
        );
        assert!(
            errors(json!([{"jsonPath": ".metadata.name"}]))[0]
                .ends_with("must not point to fields in metadata"),
        );
        assert_eq!(
            errors(json!([{"jsonPath": ".spec.color"}, {"jsonPath": ".spec.color"}])),
            [format!(
                "{base}[1].jsonPath: Duplicate value: \".spec.color\""
            )]
        );
        assert_eq!(
            errors(json!([{"jsonPath": ""}])),
            [format!("{base}[0].jsonPath: Required value")]
        );
        let nine: Vec<Value> = (0..9)
            .map(|i| json!({"jsonPath": format!(".spec.labels.k{i}")}))
            .collect();
        assert_eq!(
            errors(Value::Array(nine)),
            [format!("{base}: Too many: 9: must have at most 8 items")]
        );
    }
}
