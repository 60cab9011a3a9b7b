//! The OpenAPI documents kube-apiserver publishes, derived from the served resource types:
//! `/openapi/v2` (Swagger 2.0, served to kubectl and helm as gnostic protobuf for client-side
//! validation), the `/openapi/v3` index and one OpenAPI 3.0 document per group-version (read
//! by `kubectl explain` and by kubectl's check for server-side field validation).
//!
//! Built-in kinds get their real schemas from k8s-openapi; custom resources get the CRD's
//! `openAPIV3Schema` shaped as the apiextensions OpenAPI builder publishes it.

mod proto;
mod routes;
mod schemas;

use prost::Message;
use serde_json::{Map, Value, json};

use crate::discovery::{SERVER_GIT_VERSION, parse_accept};
use crate::resource_types::ResourceType;
use schemas::{Definitions, Flavor, has_builtin_schema};

/// What `/openapi/v2` answers protobuf requests with (kube-openapi's current spelling, also
/// returned for the deprecated `...spec.v2@v1.0+protobuf` that client-go asks for).
pub const OPENAPI_V2_PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// For `GET /openapi/v2`: the content type to answer with, or `None` for 406 Not Acceptable.
/// Like kube-openapi's handler, the first clause (by preference) matching JSON or either
/// protobuf spelling wins; a missing header means `*/*`, which gets JSON.
pub fn openapi_v2_content_type(accept: Option<&str>) -> Option<&'static str> {
    let accept = accept
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .unwrap_or("*/*");
    const ACCEPTED: &[(&str, &str)] = &[
        ("json", "application/json"),
        (
            "com.github.proto-openapi.spec.v2@v1.0+protobuf",
            OPENAPI_V2_PROTOBUF,
        ),
        (
            "com.github.proto-openapi.spec.v2.v1.0+protobuf",
            OPENAPI_V2_PROTOBUF,
        ),
    ];
    parse_accept(accept).iter().find_map(|clause| {
        ACCEPTED
            .iter()
            .find(|(sub_type, _)| clause.matches("application", sub_type))
            .map(|(_, content_type)| *content_type)
    })
}

/// `GET /openapi/v2` as JSON.
pub fn openapi_v2_json(types: &[ResourceType]) -> Value {
    let mut defs = Definitions::new(Flavor::V2);
    let mut published: Vec<&ResourceType> = Vec::new();
    for t in types {
        // A built-in kind without a known schema is left out entirely: kubectl skips
        // validation of kinds it cannot find, which is safer than a guessed schema.
        if !t.is_custom() && !has_builtin_schema(&t.group, &t.version, &t.kind) {
            continue;
        }
        defs.add_kind(t);
        published.push(t);
    }
    for t in &published {
        ensure_referenced(&mut defs, t);
    }
    let mut doc = Map::new();
    doc.insert("swagger".into(), "2.0".into());
    doc.insert(
        "info".into(),
        json!({"title": "Kubernetes", "version": SERVER_GIT_VERSION}),
    );
    doc.insert("paths".into(), Value::Object(routes::v2_paths(&published)));
    doc.insert("definitions".into(), Value::Object(defs.into_map()));
    doc.insert(
        "securityDefinitions".into(),
        json!({"BearerToken": {
            "description": "Bearer Token authentication",
            "type": "apiKey",
            "name": "authorization",
            "in": "header",
        }}),
    );
    doc.insert("security".into(), json!([{"BearerToken": []}]));
    Value::Object(doc)
}

/// `GET /openapi/v2` as a gnostic `openapi_v2.Document` protobuf: the same document as
/// [`openapi_v2_json`].
pub fn openapi_v2_protobuf(types: &[ResourceType]) -> Vec<u8> {
    proto::document(&openapi_v2_json(types)).encode_to_vec()
}

/// Makes sure every schema the operations of `t` refer to is defined.
fn ensure_referenced(defs: &mut Definitions, t: &ResourceType) {
    for name in routes::referenced_schemas(t) {
        if !defs.contains(&name) && !defs.add_builtin(&name) {
            defs.add_custom(name, json!({"type": "object"}));
        }
    }
}

/// `(group, version)` of a v3 document path: `api/v1` or `apis/G/V`.
fn parse_v3_path(path: &str) -> Option<(&str, &str)> {
    let path = path.trim_matches('/');
    let mut parts = path.split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("api"), Some(version), None, None) => Some(("", version)),
        (Some("apis"), Some(group), Some(version), None) if !group.is_empty() => {
            Some((group, version))
        }
        _ => None,
    }
}

/// `GET /openapi/v3/<path>` for `path` like `api/v1` or `apis/example.com/v1`: an OpenAPI
/// 3.0 document with the group-version's operations and the schemas they use, or `None` when
/// the group-version is not served.
pub fn openapi_v3_document(types: &[ResourceType], path: &str) -> Option<Value> {
    let (group, version) = parse_v3_path(path)?;
    let served: Vec<&ResourceType> = types
        .iter()
        .filter(|t| t.group == group && t.version == version)
        .collect();
    if served.is_empty() {
        return None;
    }
    let mut defs = Definitions::new(Flavor::V3);
    for t in &served {
        defs.add_kind(t);
    }
    for t in &served {
        ensure_referenced(&mut defs, t);
    }
    let only_custom = served.iter().all(|t| t.is_custom());
    let mut components = Map::new();
    components.insert("schemas".into(), Value::Object(defs.into_map()));
    let mut doc = Map::new();
    doc.insert("openapi".into(), "3.0.0".into());
    // CRD group-versions come straight from the apiextensions builder, with its own title
    // and no security schemes.
    if only_custom {
        doc.insert(
            "info".into(),
            json!({"title": "Kubernetes CRD Swagger", "version": "v0.1.0"}),
        );
    } else {
        doc.insert(
            "info".into(),
            json!({"title": "Kubernetes", "version": SERVER_GIT_VERSION}),
        );
        components.insert(
            "securitySchemes".into(),
            json!({"BearerToken": {
                "type": "apiKey",
                "description": "Bearer Token authentication",
                "name": "authorization",
                "in": "header",
            }}),
        );
        doc.insert("security".into(), json!([{"BearerToken": []}]));
    }
    doc.insert("paths".into(), Value::Object(routes::v3_paths(&served)));
    doc.insert("components".into(), Value::Object(components));
    Some(Value::Object(doc))
}

/// The cache-busting hash of a document, as used in `?hash=` (kube-openapi uses SHA-512; any
/// stable digest of the serialized JSON serves the same purpose). A handler may compare it
/// with the request's `hash` and redirect (301) to the current URL like kube-openapi does.
pub fn openapi_v3_hash(document: &Value) -> String {
    // FNV-1a: stable across runs and platforms, unlike std's randomly keyed hashers.
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let bytes = serde_json::to_vec(document).unwrap_or_default();
    let mut lo = OFFSET;
    let mut hi = OFFSET ^ 0x5555_5555_5555_5555;
    for b in bytes {
        lo = (lo ^ u64::from(b)).wrapping_mul(PRIME);
        hi = (hi ^ u64::from(b.rotate_left(3))).wrapping_mul(PRIME);
    }
    format!("{hi:016X}{lo:016X}")
}

/// The document path (`api/v1`, `apis/G/V`) of every served group-version.
fn v3_paths(types: &[ResourceType]) -> Vec<String> {
    let mut paths: Vec<String> = types
        .iter()
        .map(|t| {
            if t.group.is_empty() {
                format!("api/{}", t.version)
            } else {
                format!("apis/{}/{}", t.group, t.version)
            }
        })
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

/// `GET /openapi/v3`: `{"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=…"}}}`.
pub fn openapi_v3_index(types: &[ResourceType]) -> Value {
    let mut paths = Map::new();
    for path in v3_paths(types) {
        if let Some(doc) = openapi_v3_document(types, &path) {
            let url = format!("/openapi/v3/{path}?hash={}", openapi_v3_hash(&doc));
            paths.insert(path, json!({"serverRelativeURL": url}));
        }
    }
    json!({"paths": paths})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource_types::{builtin_types, type_from_crd};

    fn widget_crd() -> Value {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
                "scope": "Namespaced",
                "versions": [{
                    "name": "v1", "served": true, "storage": true,
                    "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": {
                        "type": "object",
                        "description": "A widget.",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "description": "What the widget should be.",
                                "required": ["size"],
                                "properties": {
                                    "size": {"type": "integer", "minimum": 1, "maximum": 10},
                                    "port": {"x-kubernetes-int-or-string": true},
                                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                                    "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                                    "note": {"type": "string", "nullable": true, "default": "none"},
                                    "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
                                    "mode": {"type": "string", "enum": ["a", "b"]},
                                    "template": {
                                        "type": "object",
                                        "x-kubernetes-embedded-resource": true,
                                        "x-kubernetes-preserve-unknown-fields": true,
                                    },
                                },
                                "x-kubernetes-validations": [{"rule": "self.size > 0", "message": "positive"}],
                            },
                            "status": {"type": "object", "properties": {"phase": {"type": "string"}}},
                        },
                    }},
                }],
            },
        })
    }

    fn sample_types() -> Vec<ResourceType> {
        let mut types = builtin_types();
        types.push(type_from_crd(&widget_crd()).expect("valid CRD"));
        types
    }

    /// The checks kube-openapi's `proto.NewOpenAPIData` makes (kubectl aborts validation setup
    /// with an error when any fails), applied to a decoded schema.
    fn check_like_kube_openapi(
        s: &proto::Schema,
        names: &std::collections::BTreeSet<String>,
        path: &str,
    ) {
        let types = s
            .r#type
            .as_ref()
            .map(|t| t.value.clone())
            .unwrap_or_default();
        if !s.xref.is_empty() {
            let name = s
                .xref
                .strip_prefix("#/definitions/")
                .unwrap_or_else(|| panic!("{path}: non-definition ref {}", s.xref));
            assert!(names.contains(name), "{path}: unknown model {name}");
            assert!(types.is_empty(), "{path}: ref with a type");
            assert!(
                s.properties
                    .as_ref()
                    .is_none_or(|p| p.additional_properties.is_empty()),
                "{path}: ref with properties"
            );
            return;
        }
        assert!(types.len() <= 1, "{path}: several types");
        if let Some(t) = types.first() {
            assert!(
                ["object", "array", "string", "number", "integer", "boolean"].contains(&t.as_str()),
                "{path}: unknown type {t}"
            );
            if t == "array" {
                let items = s.items.as_ref().map(|i| i.schema.len()).unwrap_or(0);
                assert_eq!(items, 1, "{path}: array needs one item schema");
            }
        }
        for yaml in s.default.iter().chain(s.r#enum.iter()) {
            serde_json::from_str::<Value>(&yaml.yaml).expect("default/enum parse");
        }
        if let Some(props) = &s.properties {
            for p in &props.additional_properties {
                let sub = p.value.as_ref().expect("property schema");
                check_like_kube_openapi(sub, names, &format!("{path}.{}", p.name));
            }
        }
        if let Some(proto::AdditionalPropertiesItem {
            oneof: Some(proto::additional_properties_item::Oneof::Schema(sub)),
        }) = &s.additional_properties
        {
            check_like_kube_openapi(sub, names, path);
        }
        if let Some(items) = &s.items {
            for sub in &items.schema {
                check_like_kube_openapi(sub, names, path);
            }
        }
    }

    fn gvk_extension(extensions: &[proto::NamedAny]) -> Option<Value> {
        extensions
            .iter()
            .find(|e| e.name == "x-kubernetes-group-version-kind")
            .and_then(|e| e.value.as_ref())
            .map(|a| serde_json::from_str(&a.yaml).expect("yaml is JSON"))
    }

    #[test]
    fn v2_protobuf_round_trips_and_parses_like_kubectl() {
        let types = sample_types();
        let bytes = openapi_v2_protobuf(&types);
        let doc = proto::Document::decode(bytes.as_slice()).expect("decodes");
        assert_eq!(doc.swagger, "2.0");
        assert_eq!(
            doc.info.as_ref().map(|i| i.version.as_str()),
            Some(SERVER_GIT_VERSION)
        );
        // Same document as the JSON form.
        assert_eq!(doc, proto::document(&openapi_v2_json(&types)));

        let defs = &doc
            .definitions
            .as_ref()
            .expect("definitions")
            .additional_properties;
        let names: std::collections::BTreeSet<String> =
            defs.iter().map(|d| d.name.clone()).collect();
        for d in defs {
            check_like_kube_openapi(d.value.as_ref().expect("schema"), &names, &d.name);
        }

        let widget = defs
            .iter()
            .find(|d| d.name == "com.example.v1.Widget")
            .and_then(|d| d.value.as_ref())
            .expect("widget definition");
        assert_eq!(
            gvk_extension(&widget.vendor_extension),
            Some(json!([{"group": "example.com", "kind": "Widget", "version": "v1"}]))
        );
        let props = &widget
            .properties
            .as_ref()
            .expect("properties")
            .additional_properties;
        let prop = |name: &str| {
            props
                .iter()
                .find(|p| p.name == name)
                .and_then(|p| p.value.clone())
                .unwrap_or_else(|| panic!("property {name}"))
        };
        assert_eq!(
            prop("metadata").xref,
            "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
        );
        assert_eq!(
            prop("apiVersion").r#type.map(|t| t.value),
            Some(vec!["string".into()])
        );
        let spec = prop("spec");
        assert_eq!(spec.required, ["size"]);
        let spec_props = &spec
            .properties
            .as_ref()
            .expect("spec props")
            .additional_properties;
        let port = spec_props
            .iter()
            .find(|p| p.name == "port")
            .and_then(|p| p.value.clone());
        assert!(port.is_some_and(|p| p.r#type.is_none()));

        let list = defs
            .iter()
            .find(|d| d.name == "com.example.v1.WidgetList")
            .and_then(|d| d.value.as_ref())
            .expect("list definition");
        assert_eq!(
            gvk_extension(&list.vendor_extension),
            Some(json!([{"group": "example.com", "kind": "WidgetList", "version": "v1"}]))
        );

        // Built-in kinds are there for client-side validation, both Events included.
        for name in [
            "io.k8s.api.core.v1.Pod",
            "io.k8s.api.core.v1.Event",
            "io.k8s.api.events.v1.Event",
        ] {
            assert!(names.contains(name), "{name}");
        }
        let pod = defs
            .iter()
            .find(|d| d.name == "io.k8s.api.core.v1.Pod")
            .and_then(|d| d.value.as_ref())
            .expect("pod");
        assert_eq!(
            gvk_extension(&pod.vendor_extension),
            Some(json!([{"group": "", "kind": "Pod", "version": "v1"}]))
        );
        assert!(pod.required.is_empty());
    }

    #[test]
    fn v2_patch_operations_drive_kubectl_patch_choice() {
        let doc = openapi_v2_json(&sample_types());
        let paths = doc["paths"].as_object().expect("paths");
        let crd_patch =
            &paths["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]["patch"];
        assert_eq!(
            crd_patch["x-kubernetes-group-version-kind"]["kind"],
            "Widget"
        );
        assert!(
            crd_patch["parameters"]
                .as_array()
                .expect("params")
                .iter()
                .any(|p| p["name"] == "fieldValidation")
        );
        let pod_patch = &paths["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"];
        assert!(
            !pod_patch["consumes"]
                .as_array()
                .expect("consumes")
                .iter()
                .any(|c| c == "application/strategic-merge-patch+json")
        );
        assert!(
            !pod_patch["parameters"]
                .as_array()
                .expect("params")
                .iter()
                .any(|p| p["name"] == "fieldValidation")
        );
    }

    #[test]
    fn v3_index_lists_core_and_crd_with_stable_hashes() {
        let types = sample_types();
        let index = openapi_v3_index(&types);
        let paths = index["paths"].as_object().expect("paths");
        for key in [
            "api/v1",
            "apis/apps/v1",
            "apis/events.k8s.io/v1",
            "apis/example.com/v1",
        ] {
            let url = paths[key]["serverRelativeURL"].as_str().expect("url");
            assert!(
                url.starts_with(&format!("/openapi/v3/{key}?hash=")),
                "{url}"
            );
        }
        assert_eq!(index, openapi_v3_index(&types));

        let mut changed = widget_crd();
        changed["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["description"] =
            "Changed.".into();
        let mut types2 = builtin_types();
        types2.push(type_from_crd(&changed).expect("valid CRD"));
        let index2 = openapi_v3_index(&types2);
        assert_ne!(
            index["paths"]["apis/example.com/v1"],
            index2["paths"]["apis/example.com/v1"]
        );
        assert_eq!(index["paths"]["api/v1"], index2["paths"]["api/v1"]);
    }

    /// Every `$ref` in a v3 document points at one of its component schemas.
    fn assert_refs_resolve(doc: &Value) {
        fn walk(v: &Value, schemas: &Map<String, Value>) {
            match v {
                Value::Object(m) => {
                    if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                        let name = r.strip_prefix("#/components/schemas/").expect("v3 ref");
                        assert!(schemas.contains_key(name), "dangling {name}");
                    }
                    m.values().for_each(|x| walk(x, schemas));
                }
                Value::Array(a) => a.iter().for_each(|x| walk(x, schemas)),
                _ => {}
            }
        }
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        walk(doc, schemas);
    }

    /// What `kubectl explain` does: find the GVK on an operation of the resource's paths, the
    /// component schema carrying that GVK, then follow the field path.
    fn explain<'a>(doc: &'a Value, prefix: &str, resource: &str, fields: &[&str]) -> &'a Value {
        let candidates = [
            format!("{prefix}/{resource}"),
            format!("{prefix}/{resource}/{{name}}"),
            format!("{prefix}/namespaces/{{namespace}}/{resource}"),
            format!("{prefix}/namespaces/{{namespace}}/{resource}/{{name}}"),
        ];
        let gvk = candidates
            .iter()
            .filter_map(|p| doc["paths"].get(p))
            .flat_map(|item| ["get", "post", "put", "patch", "delete"].map(|m| &item[m]))
            .find_map(|op| op.get("x-kubernetes-group-version-kind"))
            .expect("GVK on an operation");
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        let mut schema = schemas
            .values()
            .find(|s| {
                s["x-kubernetes-group-version-kind"]
                    .as_array()
                    .is_some_and(|l| l.contains(gvk))
            })
            .expect("schema with GVK");
        let resolve = |s: &'a Value| -> &'a Value {
            let s = s["allOf"].get(0).unwrap_or(s);
            match s["$ref"].as_str() {
                Some(r) => &schemas[r.trim_start_matches("#/components/schemas/")],
                None => s,
            }
        };
        for field in fields {
            let resolved = resolve(schema);
            let resolved = resolved.get("items").map(resolve).unwrap_or(resolved);
            schema = &resolved["properties"][*field];
            assert!(!schema.is_null(), "field {field} does not exist");
        }
        schema
    }

    #[test]
    fn v3_crd_document_has_schema_gvk_and_field_validation() {
        let types = sample_types();
        let doc = openapi_v3_document(&types, "apis/example.com/v1").expect("served");
        assert_eq!(doc["openapi"], "3.0.0");
        assert_eq!(doc["info"]["title"], "Kubernetes CRD Swagger");
        assert_refs_resolve(&doc);
        let widget = &doc["components"]["schemas"]["com.example.v1.Widget"];
        assert_eq!(
            widget["x-kubernetes-group-version-kind"],
            json!([{"group": "example.com", "kind": "Widget", "version": "v1"}])
        );
        assert_eq!(widget["description"], "A widget.");
        assert_eq!(
            widget["properties"]["metadata"]["allOf"][0]["$ref"],
            "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
        );
        assert_eq!(widget["properties"]["kind"]["type"], "string");
        let spec = &widget["properties"]["spec"];
        assert_eq!(spec["properties"]["size"]["maximum"], 10);
        assert_eq!(spec["properties"]["note"]["nullable"], true);
        assert_eq!(
            spec["properties"]["port"]["anyOf"],
            json!([{"type": "integer"}, {"type": "string"}])
        );
        assert_eq!(spec["x-kubernetes-validations"][0]["rule"], "self.size > 0");
        let template = &spec["properties"]["template"];
        assert_eq!(template["properties"]["kind"]["type"], "string");
        assert_eq!(template["required"], json!(["kind", "apiVersion"]));

        let widget_gvk = json!({"group": "example.com", "kind": "Widget", "version": "v1"});
        let patches: Vec<&Value> = doc["paths"]
            .as_object()
            .expect("paths")
            .values()
            .filter_map(|item| item.get("patch"))
            .filter(|op| op["x-kubernetes-group-version-kind"] == widget_gvk)
            .collect();
        assert_eq!(patches.len(), 2, "main resource and status");
        for op in patches {
            assert!(
                op["parameters"]
                    .as_array()
                    .expect("params")
                    .iter()
                    .any(|p| p["name"] == "fieldValidation" && p["in"] == "query")
            );
            let content = op["requestBody"]["content"].as_object().expect("content");
            assert!(content.contains_key("application/merge-patch+json"));
            assert!(content.contains_key("application/apply-patch+yaml"));
        }
        let list = &doc["paths"]["/apis/example.com/v1/widgets"]["get"];
        assert_eq!(
            list["operationId"],
            "listExampleComV1WidgetForAllNamespaces"
        );
        assert_eq!(
            list["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/com.example.v1.WidgetList"
        );

        let size = explain(&doc, "/apis/example.com/v1", "widgets", &["spec", "size"]);
        assert_eq!(size["type"], "integer");
        let spec = explain(&doc, "/apis/example.com/v1", "widgets", &["spec"]);
        assert_eq!(spec["description"], "What the widget should be.");
        assert!(openapi_v3_document(&types, "apis/example.com/v2").is_none());
        assert!(openapi_v3_document(&types, "apis/example.com").is_none());
    }

    #[test]
    fn v3_core_document_explains_pods_without_field_validation() {
        let types = sample_types();
        let doc = openapi_v3_document(&types, "api/v1").expect("served");
        assert_eq!(doc["info"]["title"], "Kubernetes");
        assert_refs_resolve(&doc);
        let containers = explain(&doc, "/api/v1", "pods", &["spec", "containers"]);
        assert_eq!(containers["type"], "array");
        let image = explain(&doc, "/api/v1", "pods", &["spec", "containers", "image"]);
        assert_eq!(image["type"], "string");
        let pod = &doc["components"]["schemas"]["io.k8s.api.core.v1.Pod"];
        assert_eq!(
            pod["x-kubernetes-group-version-kind"],
            json!([{"group": "", "kind": "Pod", "version": "v1"}])
        );
        for (path, item) in doc["paths"].as_object().expect("paths") {
            if let Some(patch) = item.get("patch") {
                let params = patch["parameters"].as_array().expect("params");
                assert!(
                    !params.iter().any(|p| p["name"] == "fieldValidation"),
                    "{path}"
                );
                let content = patch["requestBody"]["content"]
                    .as_object()
                    .expect("content");
                assert!(!content.contains_key("application/strategic-merge-patch+json"));
            }
        }
        let log = &doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}/log"]["get"];
        assert_eq!(log["operationId"], "readCoreV1NamespacedPodLog");
        assert!(log["responses"]["200"]["content"]["text/plain"].is_object());
        let token =
            &doc["paths"]["/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token"]["post"];
        assert_eq!(
            token["operationId"],
            "createCoreV1NamespacedServiceAccountToken"
        );
        assert_eq!(
            token["x-kubernetes-group-version-kind"],
            json!({"group": "authentication.k8s.io", "kind": "TokenRequest", "version": "v1"})
        );
        assert!(
            doc["components"]["schemas"]["io.k8s.api.authentication.v1.TokenRequest"].is_object()
        );
        let node_list = &doc["paths"]["/api/v1/nodes"]["get"];
        assert_eq!(node_list["operationId"], "listCoreV1Node");
        assert_eq!(
            doc["paths"]["/api/v1/namespaces/{namespace}/pods"]["delete"]["operationId"],
            "deleteCoreV1CollectionNamespacedPod"
        );

        let events = openapi_v3_document(&types, "apis/events.k8s.io/v1").expect("events");
        let note = explain(&events, "/apis/events.k8s.io/v1", "events", &["note"]);
        assert_eq!(note["type"], "string");
        let core_event = explain(&doc, "/api/v1", "events", &["involvedObject"]);
        assert!(core_event.is_object());
    }

    #[test]
    fn explain_type_guesses_match_kubectl() {
        let doc = openapi_v3_document(&sample_types(), "api/v1").expect("served");
        let schemas = &doc["components"]["schemas"];
        // kubectl prints <IntOrString>/<Quantity> only for referenced schemas without a type.
        assert!(
            schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]
                .get("type")
                .is_none()
        );
        assert!(
            schemas["io.k8s.apimachinery.pkg.api.resource.Quantity"]
                .get("type")
                .is_none()
        );
    }

    #[test]
    fn content_negotiation_for_openapi() {
        // client-go's OpenAPISchema() Accept header.
        assert_eq!(
            openapi_v2_content_type(Some(
                "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
            )),
            Some(OPENAPI_V2_PROTOBUF)
        );
        assert_eq!(
            openapi_v2_content_type(Some(
                "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
            )),
            Some(OPENAPI_V2_PROTOBUF)
        );
        assert_eq!(
            openapi_v2_content_type(Some("application/json")),
            Some("application/json")
        );
        assert_eq!(openapi_v2_content_type(None), Some("application/json"));
        assert_eq!(
            openapi_v2_content_type(Some(
                "application/json;q=0.5, application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
            )),
            Some(OPENAPI_V2_PROTOBUF)
        );
        assert_eq!(openapi_v2_content_type(Some("text/html")), None);
    }

    #[test]
    fn crd_without_schema_and_with_preserved_root() {
        let mut crd = widget_crd();
        crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"] =
            json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true});
        let mut types = builtin_types();
        types.push(type_from_crd(&crd).expect("valid"));
        let v2 = openapi_v2_json(&types);
        assert_eq!(
            v2["definitions"]["com.example.v1.Widget"],
            json!({"type": "object", "x-kubernetes-group-version-kind": [{"group": "example.com", "kind": "Widget", "version": "v1"}]})
        );
        let v3 = openapi_v3_document(&types, "apis/example.com/v1").expect("served");
        assert!(
            v3["components"]["schemas"]["com.example.v1.Widget"]["properties"]["metadata"]
                .is_object()
        );

        crd["spec"]["versions"][0]
            .as_object_mut()
            .expect("version")
            .remove("schema");
        let mut types = builtin_types();
        types.push(type_from_crd(&crd).expect("valid"));
        let v3 = openapi_v3_document(&types, "apis/example.com/v1").expect("served");
        assert_eq!(
            v3["components"]["schemas"]["com.example.v1.Widget"],
            json!({"type": "object", "x-kubernetes-group-version-kind": [{"group": "example.com", "kind": "Widget", "version": "v1"}]})
        );
        assert_refs_resolve(&v3);
    }
}
