//! The REST operations of each served resource, described once and rendered as OpenAPI v3 path
//! items or Swagger 2.0 path items. Operation ids, tags and `x-kubernetes-*` extensions follow
//! kube-apiserver's route installer and the CRD OpenAPI builder.
//!
//! Two deliberate departures, both about what kubectl does with the documents:
//! - `fieldValidation` appears only on custom resources' operations: kubectl's
//!   `queryParamVerifierV3` then trusts the server with `fieldValidation=Strict`, while for
//!   built-in kinds (no strict decoding here) it validates client-side against `/openapi/v2`.
//! - Built-in PATCH operations do not list `application/strategic-merge-patch+json`: the
//!   published schemas lack `x-kubernetes-patch-merge-key`, so `kubectl apply` must fall back to
//!   its compiled-in patch metadata instead of computing list-replacing patches from OpenAPI.

use serde_json::{Map, Value, json};

use super::schemas::{
    DELETE_OPTIONS, Flavor, PATCH, STATUS, gvk, kind_schema_name, list_schema_name,
    type_schema_name,
};
use crate::resource_types::{ResourceType, Subresource};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    Get,
    Post,
    Put,
    Delete,
    Patch,
}

impl Method {
    fn key(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Post => "post",
            Method::Put => "put",
            Method::Delete => "delete",
            Method::Patch => "patch",
        }
    }
}

/// What an operation returns.
enum Output {
    Schema(String),
    Text,
}

struct Operation {
    path: String,
    method: Method,
    operation_id: String,
    description: String,
    action: &'static str,
    gvk: Value,
    query: Vec<&'static str>,
    /// Request body schema and whether it is required.
    body: Option<(String, bool)>,
    /// Status codes answered with `output` besides 200.
    extra_codes: &'static [(&'static str, &'static str)],
    output: Output,
}

const LIST_PARAMS: &[&str] = &[
    "allowWatchBookmarks",
    "continue",
    "fieldSelector",
    "labelSelector",
    "limit",
    "resourceVersion",
    "resourceVersionMatch",
    "sendInitialEvents",
    "timeoutSeconds",
    "watch",
];
const DELETE_COLLECTION_PARAMS: &[&str] = &[
    "continue",
    "dryRun",
    "fieldSelector",
    "gracePeriodSeconds",
    "ignoreStoreReadErrorWithClusterBreakingPotential",
    "labelSelector",
    "limit",
    "orphanDependents",
    "propagationPolicy",
    "resourceVersion",
    "resourceVersionMatch",
    "sendInitialEvents",
    "timeoutSeconds",
];
const DELETE_PARAMS: &[&str] = &[
    "dryRun",
    "gracePeriodSeconds",
    "ignoreStoreReadErrorWithClusterBreakingPotential",
    "orphanDependents",
    "propagationPolicy",
];
const LOG_PARAMS: &[&str] = &[
    "container",
    "follow",
    "insecureSkipTLSVerifyBackend",
    "limitBytes",
    "previous",
    "sinceSeconds",
    "stream",
    "tailLines",
    "timestamps",
];

/// Type and description of every query parameter used here.
fn query_param(name: &str) -> (&'static str, &'static str) {
    match name {
        "pretty" => (
            "string",
            "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget).",
        ),
        "allowWatchBookmarks" => (
            "boolean",
            "allowWatchBookmarks requests watch events with type \"BOOKMARK\". Servers that do not implement bookmarks may ignore this flag and bookmarks are sent at the server's discretion.",
        ),
        "continue" => (
            "string",
            "The continue option should be set when retrieving more results from the server. Its value is the continue token of the previous list call.",
        ),
        "fieldSelector" => (
            "string",
            "A selector to restrict the list of returned objects by their fields. Defaults to everything.",
        ),
        "labelSelector" => (
            "string",
            "A selector to restrict the list of returned objects by their labels. Defaults to everything.",
        ),
        "limit" => (
            "integer",
            "limit is a maximum number of responses to return for a list call. If more items exist, the server will set the `continue` field on the list metadata.",
        ),
        "resourceVersion" => (
            "string",
            "resourceVersion sets a constraint on what resource versions a request may be served from. Defaults to unset.",
        ),
        "resourceVersionMatch" => (
            "string",
            "resourceVersionMatch determines how resourceVersion is applied to list calls.",
        ),
        "sendInitialEvents" => (
            "boolean",
            "`sendInitialEvents=true` may be set together with `watch=true`. In that case, the watch stream will begin with synthetic events to produce the current state of objects in the collection, followed by a \"Bookmark\" event.",
        ),
        "timeoutSeconds" => (
            "integer",
            "Timeout for the list/watch call. This limits the duration of the call, regardless of any activity or inactivity.",
        ),
        "watch" => (
            "boolean",
            "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications. Specify resourceVersion.",
        ),
        "dryRun" => (
            "string",
            "When present, indicates that modifications should not be persisted. Valid values are: - All: all dry run stages will be processed",
        ),
        "fieldManager" => (
            "string",
            "fieldManager is a name associated with the actor or entity that is making these changes.",
        ),
        "fieldValidation" => (
            "string",
            "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore - Warn - Strict",
        ),
        "force" => (
            "boolean",
            "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.",
        ),
        "gracePeriodSeconds" => (
            "integer",
            "The duration in seconds before the object should be deleted. The value zero indicates delete immediately.",
        ),
        "ignoreStoreReadErrorWithClusterBreakingPotential" => (
            "boolean",
            "if set to true, it will trigger an unsafe deletion of the resource in case the normal deletion flow fails with a corrupt object error.",
        ),
        "orphanDependents" => (
            "boolean",
            "Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7. Should the dependent objects be orphaned.",
        ),
        "propagationPolicy" => (
            "string",
            "Whether and how garbage collection will be performed. Acceptable values are: 'Orphan', 'Background', 'Foreground'.",
        ),
        "container" => (
            "string",
            "The container for which to stream logs. Defaults to only container if there is one container in the pod.",
        ),
        "follow" => (
            "boolean",
            "Follow the log stream of the pod. Defaults to false.",
        ),
        "insecureSkipTLSVerifyBackend" => (
            "boolean",
            "insecureSkipTLSVerifyBackend indicates that the apiserver should not confirm the validity of the serving certificate of the backend it is connecting to.",
        ),
        "limitBytes" => (
            "integer",
            "If set, the number of bytes to read from the server before terminating the log output.",
        ),
        "previous" => (
            "boolean",
            "Return previous terminated container logs. Defaults to false.",
        ),
        "sinceSeconds" => (
            "integer",
            "A relative time in seconds before the current time from which to show logs.",
        ),
        "stream" => (
            "string",
            "Specify which container log stream to return to the client. Acceptable values are \"All\", \"Stdout\" and \"Stderr\".",
        ),
        "tailLines" => (
            "integer",
            "If set, the number of lines from the end of the logs to show.",
        ),
        "timestamps" => (
            "boolean",
            "If true, add an RFC3339 or RFC3339Nano timestamp at the beginning of every line of log output. Defaults to false.",
        ),
        _ => ("string", ""),
    }
}

/// apiserver's `ToValidOperationID`: drops punctuation, capitalising what follows it.
fn operation_id_part(s: &str, capitalize_first: bool) -> String {
    let mut out = String::new();
    let mut capitalize = capitalize_first;
    for (i, c) in s.chars().enumerate() {
        if c.is_alphabetic() || c == '_' || (i != 0 && c.is_ascii_digit()) {
            if capitalize {
                out.extend(c.to_uppercase());
                capitalize = false;
            } else {
                out.push(c);
            }
        } else {
            capitalize = true;
        }
    }
    out
}

/// `CoreV1`, `AppsV1`, `ExampleComV1`: what operation ids carry after the verb.
fn group_version_id(group: &str, version: &str) -> String {
    let group = if group.is_empty() { "core" } else { group };
    let trimmed = group.strip_suffix(".k8s.io").unwrap_or(group);
    format!(
        "{}{}",
        operation_id_part(trimmed, true),
        operation_id_part(version, true)
    )
}

/// `core_v1`, `apps_v1`, `exampleCom_v1`.
pub(crate) fn tag(group: &str, version: &str) -> String {
    let group = if group.is_empty() { "core" } else { group };
    let trimmed = group.strip_suffix(".k8s.io").unwrap_or(group);
    format!(
        "{}_{}",
        operation_id_part(trimmed, false),
        operation_id_part(version, false)
    )
}

/// apiserver's `GetArticleForNoun`: plurals take none.
fn article(noun: &str) -> &'static str {
    if noun.ends_with('s') && !noun.ends_with("ss") {
        return " ";
    }
    match noun.chars().next().map(|c| c.to_ascii_lowercase()) {
        Some('a' | 'e' | 'i' | 'o' | 'u') => " an ",
        _ => " a ",
    }
}

fn title_case(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn operations(t: &ResourceType) -> Vec<Operation> {
    let custom = t.is_custom();
    let prefix = if t.group.is_empty() {
        format!("/api/{}", t.version)
    } else {
        format!("/apis/{}/{}", t.group, t.version)
    };
    let gv = group_version_id(&t.group, &t.version);
    let scope = if t.namespaced { "Namespaced" } else { "" };
    let kind = &t.kind;
    let kind_schema = kind_schema_name(t);
    let list_schema = list_schema_name(t);
    let own_gvk = gvk(&t.group, &t.version, &t.kind);
    let has = |verb: &str| t.verbs.iter().any(|v| v == verb);
    let collection = if t.namespaced {
        format!("{prefix}/namespaces/{{namespace}}/{}", t.plural)
    } else {
        format!("{prefix}/{}", t.plural)
    };
    let item = format!("{collection}/{{name}}");
    let write_params: Vec<&'static str> = if custom {
        vec!["dryRun", "fieldManager", "fieldValidation"]
    } else {
        vec!["dryRun", "fieldManager"]
    };
    let patch_params: Vec<&'static str> = if custom {
        vec!["dryRun", "fieldManager", "fieldValidation", "force"]
    } else {
        vec!["dryRun", "fieldManager", "force"]
    };
    let list_description = if custom {
        format!("list objects of kind {kind}")
    } else {
        format!("list or watch objects of kind {kind}")
    };
    let op = |path: &str, method, operation_id: String, description: String, action| Operation {
        path: path.to_string(),
        method,
        operation_id,
        description,
        action,
        gvk: own_gvk.clone(),
        query: Vec::new(),
        body: None,
        extra_codes: &[],
        output: Output::Schema(kind_schema.clone()),
    };

    let mut ops = Vec::new();
    if has("list") {
        if t.namespaced {
            let mut o = op(
                &format!("{prefix}/{}", t.plural),
                Method::Get,
                format!("list{gv}{kind}ForAllNamespaces"),
                list_description.clone(),
                "list",
            );
            o.query = LIST_PARAMS.to_vec();
            o.output = Output::Schema(list_schema.clone());
            ops.push(o);
        }
        let mut o = op(
            &collection,
            Method::Get,
            format!("list{gv}{scope}{kind}"),
            list_description,
            "list",
        );
        o.query = LIST_PARAMS.to_vec();
        o.output = Output::Schema(list_schema.clone());
        ops.push(o);
    }
    if has("create") {
        let mut o = op(
            &collection,
            Method::Post,
            format!("create{gv}{scope}{kind}"),
            format!("create{}{kind}", article(kind)),
            "post",
        );
        o.query = write_params.clone();
        o.body = Some((kind_schema.clone(), true));
        o.extra_codes = &[("201", "Created"), ("202", "Accepted")];
        ops.push(o);
    }
    if has("deletecollection") {
        let mut o = op(
            &collection,
            Method::Delete,
            format!("delete{gv}Collection{scope}{kind}"),
            format!("delete collection of {kind}"),
            "deletecollection",
        );
        o.query = DELETE_COLLECTION_PARAMS.to_vec();
        o.body = Some((DELETE_OPTIONS.to_string(), false));
        o.output = Output::Schema(STATUS.to_string());
        ops.push(o);
    }
    if has("get") {
        ops.push(op(
            &item,
            Method::Get,
            format!("read{gv}{scope}{kind}"),
            format!("read the specified {kind}"),
            "get",
        ));
    }
    if has("update") {
        let mut o = op(
            &item,
            Method::Put,
            format!("replace{gv}{scope}{kind}"),
            format!("replace the specified {kind}"),
            "put",
        );
        o.query = write_params.clone();
        o.body = Some((kind_schema.clone(), true));
        o.extra_codes = &[("201", "Created")];
        ops.push(o);
    }
    if has("delete") {
        let mut o = op(
            &item,
            Method::Delete,
            format!("delete{gv}{scope}{kind}"),
            format!("delete{}{kind}", article(kind)),
            "delete",
        );
        o.query = DELETE_PARAMS.to_vec();
        o.body = Some((DELETE_OPTIONS.to_string(), false));
        o.output = Output::Schema(STATUS.to_string());
        o.extra_codes = &[("202", "Accepted")];
        ops.push(o);
    }
    if has("patch") {
        let mut o = op(
            &item,
            Method::Patch,
            format!("patch{gv}{scope}{kind}"),
            format!("partially update the specified {kind}"),
            "patch",
        );
        o.query = patch_params.clone();
        o.body = Some((PATCH.to_string(), true));
        o.extra_codes = &[("201", "Created")];
        ops.push(o);
    }
    for sub in &t.subresources {
        ops.extend(subresource_operations(
            t,
            sub,
            &item,
            &gv,
            scope,
            &write_params,
            &patch_params,
        ));
    }
    ops
}

fn subresource_operations(
    t: &ResourceType,
    sub: &Subresource,
    item: &str,
    gv: &str,
    scope: &str,
    write_params: &[&'static str],
    patch_params: &[&'static str],
) -> Vec<Operation> {
    let custom = t.is_custom();
    let path = format!("{item}/{}", sub.name);
    let kind = &t.kind;
    let suffix = title_case(&sub.name);
    let response_schema = type_schema_name(
        &sub.response_group,
        &sub.response_version,
        &sub.response_kind,
        custom,
    );
    let sub_gvk = gvk(
        &sub.response_group,
        &sub.response_version,
        &sub.response_kind,
    );
    let mut ops = Vec::new();
    for verb in &sub.verbs {
        let (method, id_verb, action, description) = match verb.as_str() {
            "get" => (
                Method::Get,
                "read",
                "get",
                format!("read {} of the specified {kind}", sub.name),
            ),
            "update" => (
                Method::Put,
                "replace",
                "put",
                format!("replace {} of the specified {kind}", sub.name),
            ),
            "patch" => (
                Method::Patch,
                "patch",
                "patch",
                format!("partially update {} of the specified {kind}", sub.name),
            ),
            "create" => (
                Method::Post,
                "create",
                "post",
                format!("create {} of{}{kind}", sub.name, article(kind)),
            ),
            _ => continue,
        };
        let mut o = Operation {
            path: path.clone(),
            method,
            operation_id: format!("{id_verb}{gv}{scope}{kind}{suffix}"),
            description,
            action,
            gvk: sub_gvk.clone(),
            query: Vec::new(),
            body: None,
            extra_codes: &[],
            output: Output::Schema(response_schema.clone()),
        };
        match method {
            Method::Put => {
                o.query = write_params.to_vec();
                o.body = Some((response_schema.clone(), true));
                o.extra_codes = &[("201", "Created")];
            }
            Method::Patch => {
                o.query = patch_params.to_vec();
                o.body = Some((PATCH.to_string(), true));
                o.extra_codes = &[("201", "Created")];
            }
            Method::Post => {
                o.query = write_params.to_vec();
                o.body = Some((response_schema.clone(), true));
                o.extra_codes = &[("201", "Created"), ("202", "Accepted")];
            }
            _ => {}
        }
        if sub.name == "log" && method == Method::Get {
            o.query = LOG_PARAMS.to_vec();
            o.output = Output::Text;
        }
        ops.push(o);
    }
    ops
}

/// Schema names the operations of `t` refer to (bodies and responses).
pub(crate) fn referenced_schemas(t: &ResourceType) -> Vec<String> {
    let mut names = Vec::new();
    for o in operations(t) {
        if let Some((body, _)) = &o.body {
            names.push(body.clone());
        }
        if let Output::Schema(name) = &o.output {
            names.push(name.clone());
        }
    }
    names.sort();
    names.dedup();
    names
}

/// Strategic merge patch is left out even for built-ins: see the module comment.
const PATCH_MEDIA_TYPES: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
];

const PRODUCES: &[&str] = &["application/json", "application/yaml"];

fn path_params(path: &str, kind: &str) -> Vec<(&'static str, String)> {
    let mut params = Vec::new();
    if path.contains("{name}") {
        params.push(("name", format!("name of the {kind}")));
    }
    if path.contains("{namespace}") {
        params.push((
            "namespace",
            "object name and auth scope, such as for teams and projects".to_string(),
        ));
    }
    params
}

/// The OpenAPI v3 `paths` entries for the served types.
pub(crate) fn v3_paths(types: &[&ResourceType]) -> Map<String, Value> {
    let mut paths = Map::new();
    for t in types {
        for o in operations(t) {
            let entry = paths.entry(o.path.clone()).or_insert_with(|| {
                let mut params: Vec<Value> = path_params(&o.path, &t.kind)
                    .into_iter()
                    .map(|(name, description)| {
                        json!({
                            "name": name,
                            "in": "path",
                            "description": description,
                            "required": true,
                            "schema": {"type": "string", "uniqueItems": true},
                        })
                    })
                    .collect();
                params.push(v3_query_param("pretty"));
                json!({"parameters": params})
            });
            if let Value::Object(item) = entry {
                item.insert(
                    o.method.key().into(),
                    v3_operation(&o, &t.group, &t.version),
                );
            }
        }
    }
    paths
}

fn v3_query_param(name: &str) -> Value {
    let (type_, description) = query_param(name);
    json!({
        "name": name,
        "in": "query",
        "description": description,
        "schema": {"type": type_, "uniqueItems": true},
    })
}

fn v3_content(schema: Value, media_types: &[&str]) -> Value {
    let content: Map<String, Value> = media_types
        .iter()
        .map(|mt| (mt.to_string(), json!({"schema": schema})))
        .collect();
    Value::Object(content)
}

fn v3_operation(o: &Operation, group: &str, version: &str) -> Value {
    let flavor = Flavor::V3;
    let mut op = Map::new();
    op.insert("tags".into(), json!([tag(group, version)]));
    op.insert("description".into(), o.description.clone().into());
    op.insert("operationId".into(), o.operation_id.clone().into());
    if !o.query.is_empty() {
        let params: Vec<Value> = o.query.iter().map(|p| v3_query_param(p)).collect();
        op.insert("parameters".into(), params.into());
    }
    if let Some((schema, required)) = &o.body {
        let media: &[&str] = if o.method == Method::Patch {
            PATCH_MEDIA_TYPES
        } else {
            &["*/*"]
        };
        let mut body = Map::new();
        body.insert(
            "content".into(),
            v3_content(flavor.reference(schema), media),
        );
        if *required {
            body.insert("required".into(), true.into());
        }
        op.insert("requestBody".into(), Value::Object(body));
    }
    let (schema, media): (Value, &[&str]) = match &o.output {
        Output::Schema(name) => (flavor.reference(name), PRODUCES),
        Output::Text => (json!({"type": "string"}), &["text/plain"]),
    };
    let mut responses = Map::new();
    responses.insert(
        "200".into(),
        json!({"description": "OK", "content": v3_content(schema.clone(), media)}),
    );
    for (code, description) in o.extra_codes {
        responses.insert(
            code.to_string(),
            json!({"description": description, "content": v3_content(schema.clone(), media)}),
        );
    }
    responses.insert("401".into(), json!({"description": "Unauthorized"}));
    op.insert("responses".into(), Value::Object(responses));
    op.insert("x-kubernetes-action".into(), o.action.into());
    op.insert("x-kubernetes-group-version-kind".into(), o.gvk.clone());
    Value::Object(op)
}

/// The Swagger 2.0 `paths` entries for the served types.
pub(crate) fn v2_paths(types: &[&ResourceType]) -> Map<String, Value> {
    let mut paths = Map::new();
    for t in types {
        for o in operations(t) {
            let entry = paths.entry(o.path.clone()).or_insert_with(|| {
                let mut params: Vec<Value> = path_params(&o.path, &t.kind)
                    .into_iter()
                    .map(|(name, description)| {
                        json!({
                            "uniqueItems": true,
                            "type": "string",
                            "description": description,
                            "name": name,
                            "in": "path",
                            "required": true,
                        })
                    })
                    .collect();
                params.push(v2_query_param("pretty"));
                json!({"parameters": params})
            });
            if let Value::Object(item) = entry {
                item.insert(
                    o.method.key().into(),
                    v2_operation(&o, &t.group, &t.version),
                );
            }
        }
    }
    paths
}

fn v2_query_param(name: &str) -> Value {
    let (type_, description) = query_param(name);
    json!({
        "uniqueItems": true,
        "type": type_,
        "description": description,
        "name": name,
        "in": "query",
    })
}

fn v2_operation(o: &Operation, group: &str, version: &str) -> Value {
    let flavor = Flavor::V2;
    let mut op = Map::new();
    op.insert("description".into(), o.description.clone().into());
    let consumes: &[&str] = if o.method == Method::Patch {
        PATCH_MEDIA_TYPES
    } else {
        &["*/*"]
    };
    op.insert("consumes".into(), json!(consumes));
    let (schema, produces): (Value, &[&str]) = match &o.output {
        Output::Schema(name) => (flavor.reference(name), PRODUCES),
        Output::Text => (json!({"type": "string"}), &["text/plain"]),
    };
    op.insert("produces".into(), json!(produces));
    op.insert("schemes".into(), json!(["https"]));
    op.insert("tags".into(), json!([tag(group, version)]));
    op.insert("operationId".into(), o.operation_id.clone().into());
    let mut params: Vec<Value> = Vec::new();
    if let Some((body, required)) = &o.body {
        params.push(json!({
            "name": "body",
            "in": "body",
            "required": required,
            "schema": flavor.reference(body),
        }));
    }
    params.extend(o.query.iter().map(|p| v2_query_param(p)));
    if !params.is_empty() {
        op.insert("parameters".into(), params.into());
    }
    let mut responses = Map::new();
    responses.insert(
        "200".into(),
        json!({"description": "OK", "schema": schema.clone()}),
    );
    for (code, description) in o.extra_codes {
        responses.insert(
            code.to_string(),
            json!({"description": description, "schema": schema.clone()}),
        );
    }
    responses.insert("401".into(), json!({"description": "Unauthorized"}));
    op.insert("responses".into(), Value::Object(responses));
    op.insert("x-kubernetes-action".into(), o.action.into());
    op.insert("x-kubernetes-group-version-kind".into(), o.gvk.clone());
    Value::Object(op)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_ids_and_tags_follow_the_apiserver() {
        assert_eq!(group_version_id("", "v1"), "CoreV1");
        assert_eq!(
            group_version_id("rbac.authorization.k8s.io", "v1"),
            "RbacAuthorizationV1"
        );
        assert_eq!(
            group_version_id("stable.example.com", "v1"),
            "StableExampleComV1"
        );
        assert_eq!(tag("", "v1"), "core_v1");
        assert_eq!(tag("events.k8s.io", "v1"), "events_v1");
        assert_eq!(
            tag("stable.example.com", "v1beta1"),
            "stableExampleCom_v1beta1"
        );
        assert_eq!(article("Endpoints"), " ");
        assert_eq!(article("Ingress"), " an ");
        assert_eq!(article("Pod"), " a ");
    }
}
