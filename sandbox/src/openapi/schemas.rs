//! Schema definitions for the OpenAPI documents: built-in kinds generated once from
//! k8s-openapi's schemars support, and custom resource schemas shaped the way the
//! apiextensions-apiserver OpenAPI builder publishes them (v3 as given plus type and object
//! metadata; v2 stripped to what kubectl's swagger parser accepts).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use k8s_openapi::Resource;
use k8s_openapi::schemars::JsonSchema;
use k8s_openapi::schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};

use crate::resource_types::ResourceType;

/// The two documents spell references differently and accept different schema keywords.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flavor {
    V2,
    V3,
}

impl Flavor {
    pub fn ref_prefix(self) -> &'static str {
        match self {
            Flavor::V2 => "#/definitions/",
            Flavor::V3 => "#/components/schemas/",
        }
    }

    pub fn reference(self, name: &str) -> Value {
        json!({"$ref": format!("{}{name}", self.ref_prefix())})
    }

    /// A reference carrying its own description. OpenAPI 3 ignores `$ref` siblings, so there
    /// the reference is wrapped in `allOf`, as kube-apiserver's v3 documents do.
    pub fn described_reference(self, name: &str, description: &str) -> Value {
        match self {
            Flavor::V2 => json!({
                "$ref": format!("{}{name}", self.ref_prefix()),
                "description": description,
            }),
            Flavor::V3 => json!({
                "allOf": [self.reference(name)],
                "description": description,
            }),
        }
    }
}

pub(crate) const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
pub(crate) const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
pub(crate) const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
pub(crate) const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
pub(crate) const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";

const API_VERSION_DESCRIPTION: &str = "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
const KIND_DESCRIPTION: &str = "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";
const OBJECT_META_DESCRIPTION: &str = "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
const LIST_META_DESCRIPTION: &str = "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";
const EMBEDDED_API_VERSION_DESCRIPTION: &str = "apiVersion defines the versioned schema of this representation of an object. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
const EMBEDDED_KIND_DESCRIPTION: &str = "kind is a string value representing the type of this object. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";

/// A kind k8s-openapi knows, so its schema can be generated.
struct KnownKind {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    name: fn() -> Cow<'static, str>,
    add: fn(&mut SchemaGenerator),
}

fn add<T: JsonSchema>(generator: &mut SchemaGenerator) {
    generator.subschema_for::<T>();
}

macro_rules! known_kinds {
    ($($t:ty),* $(,)?) => {
        &[$(KnownKind {
            group: <$t as Resource>::GROUP,
            version: <$t as Resource>::VERSION,
            kind: <$t as Resource>::KIND,
            name: <$t as JsonSchema>::schema_name,
            add: add::<$t>,
        }),*]
    };
}

/// Built-in kinds whose schemas can be published. `resource_types` serves a subset; the rest are
/// here so a kind added there gets its real schema without touching this module.
static KNOWN_KINDS: &[KnownKind] = {
    use k8s_openapi::api::*;
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
    use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1 as apiregistration;
    known_kinds![
        core::v1::Namespace,
        core::v1::Node,
        core::v1::Pod,
        core::v1::Service,
        core::v1::ConfigMap,
        core::v1::Secret,
        core::v1::ServiceAccount,
        core::v1::Event,
        core::v1::Endpoints,
        core::v1::PersistentVolume,
        core::v1::PersistentVolumeClaim,
        core::v1::ReplicationController,
        core::v1::LimitRange,
        core::v1::ResourceQuota,
        core::v1::PodTemplate,
        authentication::v1::TokenRequest,
        authentication::v1::TokenReview,
        authentication::v1::SelfSubjectReview,
        authorization::v1::SubjectAccessReview,
        authorization::v1::SelfSubjectAccessReview,
        authorization::v1::LocalSubjectAccessReview,
        authorization::v1::SelfSubjectRulesReview,
        events::v1::Event,
        coordination::v1::Lease,
        apps::v1::Deployment,
        apps::v1::ReplicaSet,
        apps::v1::StatefulSet,
        apps::v1::DaemonSet,
        apps::v1::ControllerRevision,
        batch::v1::Job,
        batch::v1::CronJob,
        autoscaling::v1::Scale,
        autoscaling::v2::HorizontalPodAutoscaler,
        policy::v1::PodDisruptionBudget,
        policy::v1::Eviction,
        networking::v1::Ingress,
        networking::v1::IngressClass,
        networking::v1::NetworkPolicy,
        rbac::v1::Role,
        rbac::v1::RoleBinding,
        rbac::v1::ClusterRole,
        rbac::v1::ClusterRoleBinding,
        storage::v1::StorageClass,
        storage::v1::CSIDriver,
        storage::v1::CSINode,
        storage::v1::VolumeAttachment,
        scheduling::v1::PriorityClass,
        discovery::v1::EndpointSlice,
        admissionregistration::v1::ValidatingWebhookConfiguration,
        admissionregistration::v1::MutatingWebhookConfiguration,
        admissionregistration::v1::ValidatingAdmissionPolicy,
        admissionregistration::v1::ValidatingAdmissionPolicyBinding,
        certificates::v1::CertificateSigningRequest,
        node::v1::RuntimeClass,
        apiextensions::CustomResourceDefinition,
        apiregistration::APIService,
    ]
};

fn known_kind(group: &str, version: &str, kind: &str) -> Option<&'static KnownKind> {
    KNOWN_KINDS
        .iter()
        .find(|k| k.group == group && k.version == version && k.kind == kind)
}

/// Every known definition in one flavor, generated once per process (generation walks a few
/// hundred types).
fn builtin_definitions(flavor: Flavor) -> &'static Map<String, Value> {
    static V2: OnceLock<Map<String, Value>> = OnceLock::new();
    static V3: OnceLock<Map<String, Value>> = OnceLock::new();
    let cell = match flavor {
        Flavor::V2 => &V2,
        Flavor::V3 => &V3,
    };
    cell.get_or_init(|| generate_builtin_definitions(flavor))
}

fn generate_builtin_definitions(flavor: Flavor) -> Map<String, Value> {
    let settings = match flavor {
        // Swagger 2.0 keeps `$ref` siblings (descriptions), as kube-apiserver's v2 does.
        Flavor::V2 => SchemaSettings::draft07().with(|s| {
            s.definitions_path = "/definitions".into();
            s.meta_schema = None;
            s.transforms.clear();
        }),
        Flavor::V3 => SchemaSettings::openapi3().with(|s| s.meta_schema = None),
    };
    let mut generator = settings.into_generator();
    for known in KNOWN_KINDS {
        (known.add)(&mut generator);
    }
    {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
        add::<meta::ObjectMeta>(&mut generator);
        add::<meta::ListMeta>(&mut generator);
        add::<meta::Status>(&mut generator);
        add::<meta::DeleteOptions>(&mut generator);
        add::<meta::Patch>(&mut generator);
    }
    let mut definitions = generator.take_definitions(true);
    apply_overrides(&mut definitions, flavor);
    if flavor == Flavor::V2 {
        definitions.values_mut().for_each(sanitize_v2);
    }
    for known in KNOWN_KINDS {
        if let Some(Value::Object(schema)) = definitions.get_mut((known.name)().as_ref()) {
            // k8s-openapi requires metadata because the Rust field is not optional; the
            // published Kubernetes schemas do not, and kubectl would enforce it.
            if let Some(Value::Array(required)) = schema.get_mut("required") {
                required.retain(|r| r != "metadata");
                if required.is_empty() {
                    schema.remove("required");
                }
            }
            schema.insert(
                "x-kubernetes-group-version-kind".into(),
                gvk_list(known.group, known.version, known.kind),
            );
        }
    }
    definitions
}

/// Types whose published schemas differ from k8s-openapi's rendering; these are the shapes
/// kube-apiserver serves (kubectl explain prints `<IntOrString>`/`<Quantity>` only when the
/// referenced schema has no `type`; kubectl validation must accept any JSON for `JSON`).
fn apply_overrides(definitions: &mut Map<String, Value>, flavor: Flavor) {
    let description = |definitions: &Map<String, Value>, name: &str| {
        definitions
            .get(name)
            .and_then(|d| d.get("description"))
            .cloned()
            .unwrap_or_else(|| "".into())
    };
    let int_or_string = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
    let quantity = "io.k8s.apimachinery.pkg.api.resource.Quantity";
    let any_json = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON";
    let d = description(definitions, int_or_string);
    let value = match flavor {
        Flavor::V2 => json!({"description": d, "type": "string", "format": "int-or-string"}),
        Flavor::V3 => json!({
            "description": d,
            "format": "int-or-string",
            "oneOf": [{"type": "integer"}, {"type": "string"}],
        }),
    };
    definitions.insert(int_or_string.into(), value);
    let d = description(definitions, quantity);
    let value = match flavor {
        Flavor::V2 => json!({"description": d, "type": "string"}),
        Flavor::V3 => json!({"description": d, "oneOf": [{"type": "string"}, {"type": "number"}]}),
    };
    definitions.insert(quantity.into(), value);
    let d = description(definitions, any_json);
    definitions.insert(any_json.into(), json!({"description": d}));
}

pub(crate) fn gvk(group: &str, version: &str, kind: &str) -> Value {
    json!({"group": group, "kind": kind, "version": version})
}

pub(crate) fn gvk_list(group: &str, version: &str, kind: &str) -> Value {
    json!([gvk(group, version, kind)])
}

/// The definition name of a served kind.
pub(crate) fn kind_schema_name(t: &ResourceType) -> String {
    type_schema_name(&t.group, &t.version, &t.kind, t.is_custom())
}

/// The definition name of a kind's list.
pub(crate) fn list_schema_name(t: &ResourceType) -> String {
    type_schema_name(&t.group, &t.version, &t.list_kind, t.is_custom())
}

/// Definition name for any group/version/kind: k8s-openapi's name for known built-ins,
/// otherwise the reversed-group form the CRD builder uses (`com.example.v1.Widget`).
pub(crate) fn type_schema_name(group: &str, version: &str, kind: &str, custom: bool) -> String {
    if !custom {
        if let Some(known) = known_kind(group, version, kind) {
            return (known.name)().into_owned();
        }
        if let Some(base) = kind.strip_suffix("List")
            && let Some(known) = known_kind(group, version, base)
        {
            return format!("{}List", (known.name)());
        }
    }
    let mut parts: Vec<&str> = group.split('.').filter(|p| !p.is_empty()).collect();
    parts.reverse();
    let mut name = parts.join(".");
    if !name.is_empty() {
        name.push('.');
    }
    format!("{name}{version}.{kind}")
}

/// Whether the schema of this kind is generated from k8s-openapi (so it can be validated
/// against and explained field by field).
pub(crate) fn has_builtin_schema(group: &str, version: &str, kind: &str) -> bool {
    known_kind(group, version, kind).is_some()
}

/// Collects the definitions a document needs: `roots` plus everything they reference.
pub(crate) struct Definitions {
    flavor: Flavor,
    defs: BTreeMap<String, Value>,
}

impl Definitions {
    pub fn new(flavor: Flavor) -> Self {
        Definitions {
            flavor,
            defs: BTreeMap::new(),
        }
    }

    pub fn into_map(self) -> Map<String, Value> {
        self.defs.into_iter().collect()
    }

    /// Adds a generated built-in definition and its closure. False if it is not known.
    pub fn add_builtin(&mut self, name: &str) -> bool {
        let builtins = builtin_definitions(self.flavor);
        if !builtins.contains_key(name) {
            return false;
        }
        let mut pending = vec![name.to_string()];
        while let Some(next) = pending.pop() {
            if self.defs.contains_key(&next) {
                continue;
            }
            let Some(schema) = builtins.get(&next) else {
                continue;
            };
            collect_refs(schema, self.flavor.ref_prefix(), &mut pending);
            self.defs.insert(next, schema.clone());
        }
        true
    }

    /// Adds a definition built here, plus the built-in closure of what it references.
    pub fn add_custom(&mut self, name: String, schema: Value) {
        let mut refs = Vec::new();
        collect_refs(&schema, self.flavor.ref_prefix(), &mut refs);
        self.defs.insert(name, schema);
        for r in refs {
            self.add_builtin(&r);
        }
    }

    pub fn contains(&self, name: &str) -> bool {
        self.defs.contains_key(name)
    }

    /// Adds a served kind's schema and its list's schema.
    pub fn add_kind(&mut self, t: &ResourceType) {
        let flavor = self.flavor;
        let name = kind_schema_name(t);
        match &t.custom {
            Some(custom) => {
                let schema = crd_kind_schema(t, custom.schema.as_ref(), flavor);
                self.add_custom(name.clone(), schema);
            }
            None => {
                if !self.add_builtin(&name) && flavor == Flavor::V3 {
                    // An unknown built-in still needs a schema carrying its GVK for explain.
                    self.add_custom(name.clone(), fallback_kind_schema(t, flavor));
                }
            }
        }
        if self.contains(&name) {
            let list = list_schema(t, &name, flavor);
            self.add_custom(list_schema_name(t), list);
        }
    }
}

fn collect_refs(schema: &Value, prefix: &str, out: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            for (key, value) in map {
                if key == "$ref"
                    && let Some(name) = value.as_str().and_then(|r| r.strip_prefix(prefix))
                {
                    out.push(name.to_string());
                } else {
                    collect_refs(value, prefix, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, prefix, out)),
        _ => {}
    }
}

fn type_meta_properties(props: &mut Map<String, Value>) {
    props.insert(
        "apiVersion".into(),
        json!({"description": API_VERSION_DESCRIPTION, "type": "string"}),
    );
    props.insert(
        "kind".into(),
        json!({"description": KIND_DESCRIPTION, "type": "string"}),
    );
}

fn fallback_kind_schema(t: &ResourceType, flavor: Flavor) -> Value {
    let mut props = Map::new();
    type_meta_properties(&mut props);
    props.insert(
        "metadata".into(),
        flavor.described_reference(OBJECT_META, OBJECT_META_DESCRIPTION),
    );
    json!({
        "type": "object",
        "properties": props,
        "x-kubernetes-preserve-unknown-fields": true,
        "x-kubernetes-group-version-kind": gvk_list(&t.group, &t.version, &t.kind),
    })
}

fn list_schema(t: &ResourceType, item_name: &str, flavor: Flavor) -> Value {
    let mut props = Map::new();
    type_meta_properties(&mut props);
    props.insert(
        "items".into(),
        json!({
            "description": format!("List of {}. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md", t.plural),
            "type": "array",
            "items": flavor.reference(item_name),
        }),
    );
    props.insert(
        "metadata".into(),
        flavor.described_reference(LIST_META, LIST_META_DESCRIPTION),
    );
    json!({
        "description": format!("{} is a list of {}", t.list_kind, t.kind),
        "type": "object",
        "required": ["items"],
        "properties": props,
        "x-kubernetes-group-version-kind": gvk_list(&t.group, &t.version, &t.list_kind),
    })
}

/// A custom resource's published schema, as the apiextensions OpenAPI builder makes it.
fn crd_kind_schema(t: &ResourceType, schema: Option<&Value>, flavor: Flavor) -> Value {
    let gvk_ext = gvk_list(&t.group, &t.version, &t.kind);
    let Some(Value::Object(schema)) = schema else {
        // Without a schema kubectl must not assume anything about the fields.
        return json!({"type": "object", "x-kubernetes-group-version-kind": gvk_ext});
    };
    let mut schema = Value::Object(schema.clone());
    let preserve_root = is_true(&schema, "x-kubernetes-preserve-unknown-fields");
    if flavor == Flavor::V2 && preserve_root {
        // Any declared property would make kubectl reject the unknown rest.
        return json!({"type": "object", "x-kubernetes-group-version-kind": gvk_ext});
    }
    match flavor {
        Flavor::V3 => unfold(&mut schema),
        Flavor::V2 => {
            to_openapi_v2(&mut schema);
            sanitize_v2(&mut schema);
        }
    }
    if let Value::Object(map) = &mut schema {
        let props = map
            .entry("properties")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(props) = props {
            props.insert(
                "metadata".into(),
                flavor.described_reference(OBJECT_META, OBJECT_META_DESCRIPTION),
            );
            type_meta_properties(props);
        }
        add_embedded_properties(map, flavor);
        map.insert("x-kubernetes-group-version-kind".into(), gvk_ext);
    }
    schema
}

fn is_true(schema: &Value, key: &str) -> bool {
    schema.get(key).and_then(Value::as_bool) == Some(true)
}

/// Applies `f` to every direct subschema that structural schemas allow (properties,
/// additionalProperties, items).
fn for_each_subschema(map: &mut Map<String, Value>, mut f: impl FnMut(&mut Value)) {
    if let Some(Value::Object(props)) = map.get_mut("properties") {
        props.values_mut().for_each(&mut f);
    }
    if let Some(additional) = map.get_mut("additionalProperties")
        && additional.is_object()
    {
        f(additional);
    }
    if let Some(items) = map.get_mut("items") {
        match items {
            Value::Array(list) => list.iter_mut().for_each(&mut f),
            other => f(other),
        }
    }
}

/// Structural `Unfold`: int-or-string fields gain the `anyOf` that spells out both types.
fn unfold(schema: &mut Value) {
    let Value::Object(map) = schema else {
        return;
    };
    for_each_subschema(map, unfold);
    if map
        .get("x-kubernetes-int-or-string")
        .and_then(Value::as_bool)
        != Some(true)
    {
        return;
    }
    let int_or_string = json!([{"type": "integer"}, {"type": "string"}]);
    match map.remove("anyOf") {
        None => {
            map.insert("anyOf".into(), int_or_string);
        }
        Some(existing) => {
            let mut all_of = vec![json!({"anyOf": int_or_string}), json!({"anyOf": existing})];
            if let Some(Value::Array(previous)) = map.remove("allOf") {
                all_of.extend(previous);
            }
            map.insert("allOf".into(), all_of.into());
        }
    }
}

/// apiextensions `ToStructuralOpenAPIV2`: drops what kubectl's v2 parser cannot cope with.
/// Nullable fields lose their type and stop being required.
fn to_openapi_v2(schema: &mut Value) {
    let Value::Object(map) = schema else {
        return;
    };
    // Decided on the children's `nullable` before the recursion removes it.
    let nullable_fields: BTreeSet<String> = match map.get("properties") {
        Some(Value::Object(props)) => props
            .iter()
            .filter(|(_, p)| p.get("nullable").and_then(Value::as_bool) == Some(true))
            .map(|(k, _)| k.clone())
            .collect(),
        _ => BTreeSet::new(),
    };
    if map
        .get("additionalProperties")
        .and_then(|a| a.get("nullable"))
        .and_then(Value::as_bool)
        == Some(true)
    {
        map.remove("required");
    }
    if !nullable_fields.is_empty()
        && let Some(Value::Array(required)) = map.get_mut("required")
    {
        required.retain(|r| r.as_str().is_none_or(|r| !nullable_fields.contains(r)));
    }
    for_each_subschema(map, to_openapi_v2);
    for key in ["allOf", "oneOf", "anyOf", "not"] {
        map.remove(key);
    }
    if map.remove("nullable").and_then(|v| v.as_bool()) == Some(true) {
        map.remove("type");
        map.remove("items");
        map.remove("properties");
    }
    let preserve = map
        .get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        == Some(true);
    if preserve {
        map.remove("items");
        map.remove("properties");
    }
    let type_ = map.get("type").and_then(Value::as_str).map(str::to_string);
    if type_.as_deref() == Some("array") && !map.contains_key("items") {
        map.remove("type");
    }
    if preserve && type_.as_deref() == Some("object") {
        map.remove("type");
    }
}

/// Keywords a gnostic `openapi_v2.Schema` can carry; the rest would be lost in protobuf.
const V2_SCHEMA_KEYS: &[&str] = &[
    "$ref",
    "format",
    "title",
    "description",
    "default",
    "multipleOf",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "maxProperties",
    "minProperties",
    "required",
    "enum",
    "additionalProperties",
    "type",
    "items",
    "allOf",
    "properties",
    "discriminator",
    "readOnly",
    "xml",
    "externalDocs",
    "example",
];

/// Makes a schema parseable by kube-openapi's `proto.NewOpenAPIData` (kubectl validation):
/// exactly one type, arrays with one item schema, nothing beside a `$ref` that it rejects,
/// only keywords Swagger 2.0 has.
pub(crate) fn sanitize_v2(schema: &mut Value) {
    let Value::Object(map) = schema else {
        return;
    };
    map.retain(|k, _| k.starts_with("x-") || V2_SCHEMA_KEYS.contains(&k.as_str()));
    if let Some(Value::Array(items)) = map.get("items") {
        match items.as_slice() {
            [one] => {
                let one = one.clone();
                map.insert("items".into(), one);
            }
            _ => {
                map.remove("items");
            }
        }
    }
    match map.get("type") {
        Some(Value::String(t)) if t == "null" => {
            map.remove("type");
        }
        Some(Value::String(_)) | None => {}
        Some(_) => {
            map.remove("type");
        }
    }
    if map.get("type").and_then(Value::as_str) == Some("array") && !map.contains_key("items") {
        map.remove("type");
    }
    if map.contains_key("$ref") {
        map.remove("type");
        map.remove("properties");
    }
    if let Some(Value::Object(props)) = map.get_mut("properties") {
        props.values_mut().for_each(sanitize_v2);
    }
    if let Some(additional) = map.get_mut("additionalProperties") {
        sanitize_v2(additional);
    }
    if let Some(items) = map.get_mut("items") {
        sanitize_v2(items);
    }
    if let Some(Value::Array(all_of)) = map.get_mut("allOf") {
        all_of.iter_mut().for_each(sanitize_v2);
    }
}

/// `x-kubernetes-embedded-resource` objects get apiVersion, kind and metadata, as the builder
/// adds them (not in v2 where unknown fields are preserved).
fn add_embedded_properties(map: &mut Map<String, Value>, flavor: Flavor) {
    for_each_subschema(map, |sub| {
        if let Value::Object(sub) = sub {
            add_embedded_properties(sub, flavor);
        }
    });
    let is = |key: &str| map.get(key).and_then(Value::as_bool) == Some(true);
    if flavor == Flavor::V2 && is("x-kubernetes-preserve-unknown-fields") {
        return;
    }
    if !is("x-kubernetes-embedded-resource") {
        return;
    }
    let props = map
        .entry("properties")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(props) = props {
        props.insert(
            "apiVersion".into(),
            json!({"description": EMBEDDED_API_VERSION_DESCRIPTION, "type": "string"}),
        );
        props.insert(
            "kind".into(),
            json!({"description": EMBEDDED_KIND_DESCRIPTION, "type": "string"}),
        );
        props.insert(
            "metadata".into(),
            flavor.described_reference(OBJECT_META, OBJECT_META_DESCRIPTION),
        );
    }
    let required = map
        .entry("required")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(required) = required {
        for key in ["kind", "apiVersion"] {
            if !required.iter().any(|r| r == key) {
                required.push(key.into());
            }
        }
    }
}

#[cfg(test)]
mod tests;
