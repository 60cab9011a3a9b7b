//! The create-only APIs of authentication and authorization, answered without storing anything:
//!
//! * `POST /api/v1/namespaces/NS/serviceaccounts/NAME/token` — TokenRequest (`kubectl create
//!   token`; k8s: pkg/registry/core/serviceaccount/storage/token.go);
//! * `authentication.k8s.io/v1` TokenReview and SelfSubjectReview (`kubectl auth whoami`);
//! * `authorization.k8s.io/v1` SelfSubjectAccessReview (`kubectl auth can-i`),
//!   SelfSubjectRulesReview (`kubectl auth can-i --list`), SubjectAccessReview and
//!   LocalSubjectAccessReview (k8s: pkg/registry/authorization/...).
//!
//! The request has already been authenticated and authorized (`create` on the resource) by the
//! filter chain; other methods on these paths are 405 as on kube-apiserver.

use chrono::Utc;
use http::{HeaderMap, Method, header};
use serde_json::{Map, Value, json};

use super::authn::{self, BoundObjects, ObjectClaim};
use super::{Attributes, ISSUER, RequestInfo, UserInfo, authorize, rbac};
use crate::errors::{self, ApiError, ApiResult, Qualified, bad_request, path_not_found};
use crate::gofmt;
use crate::schema::{FieldError, invalid_status};
use crate::state::State;
use crate::store::StorageKey;

/// One of the endpoints this module answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    TokenRequest,
    TokenReview,
    SelfSubjectReview,
    SelfSubjectAccessReview,
    SelfSubjectRulesReview,
    SubjectAccessReview,
    LocalSubjectAccessReview,
}

const AUTHN: &str = "authentication.k8s.io";
const AUTHZ: &str = "authorization.k8s.io";

impl Endpoint {
    fn group_kind(self) -> (&'static str, &'static str) {
        match self {
            Endpoint::TokenRequest => (AUTHN, "TokenRequest"),
            Endpoint::TokenReview => (AUTHN, "TokenReview"),
            Endpoint::SelfSubjectReview => (AUTHN, "SelfSubjectReview"),
            Endpoint::SelfSubjectAccessReview => (AUTHZ, "SelfSubjectAccessReview"),
            Endpoint::SelfSubjectRulesReview => (AUTHZ, "SelfSubjectRulesReview"),
            Endpoint::SubjectAccessReview => (AUTHZ, "SubjectAccessReview"),
            Endpoint::LocalSubjectAccessReview => (AUTHZ, "LocalSubjectAccessReview"),
        }
    }

    fn namespaced(self) -> bool {
        matches!(
            self,
            Endpoint::TokenRequest | Endpoint::LocalSubjectAccessReview
        )
    }
}

/// The endpoint a request addresses, if it is one of these.
pub fn endpoint(info: &RequestInfo) -> Option<Endpoint> {
    if !info.resource_request || info.api_version != "v1" {
        return None;
    }
    let e = match (
        info.api_group.as_str(),
        info.resource.as_str(),
        info.subresource.as_str(),
    ) {
        ("", "serviceaccounts", "token") => Endpoint::TokenRequest,
        (AUTHN, "tokenreviews", _) => Endpoint::TokenReview,
        (AUTHN, "selfsubjectreviews", _) => Endpoint::SelfSubjectReview,
        (AUTHZ, "selfsubjectaccessreviews", _) => Endpoint::SelfSubjectAccessReview,
        (AUTHZ, "selfsubjectrulesreviews", _) => Endpoint::SelfSubjectRulesReview,
        (AUTHZ, "subjectaccessreviews", _) => Endpoint::SubjectAccessReview,
        (AUTHZ, "localsubjectaccessreviews", _) => Endpoint::LocalSubjectAccessReview,
        _ => return None,
    };
    Some(e)
}

/// go-restful's answer for a method a route does not have.
fn method_not_allowed() -> ApiError {
    ApiError {
        code: 405,
        status: json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "the server does not allow this method on the requested resource",
            "reason": "MethodNotAllowed", "details": {}, "code": 405}),
    }
}

fn invalid(e: Endpoint, name: &str, errors: &[FieldError]) -> ApiError {
    let (group, kind) = e.group_kind();
    ApiError {
        code: 422,
        status: invalid_status(group, kind, name, errors),
    }
}

fn decode(e: Endpoint, headers: &HeaderMap, body: &[u8]) -> ApiResult<Value> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let mut obj: Value = if crate::protobuf::is_protobuf(ct) {
        crate::protobuf::decode_body(body).map_err(bad_request)?
    } else if ct.contains("yaml") {
        serde_yaml::from_slice(body)
            .map_err(|e| bad_request(format!("error decoding YAML: {e}")))?
    } else if ct.contains("json") || body.is_empty() {
        if body.iter().all(u8::is_ascii_whitespace) {
            json!({})
        } else {
            serde_json::from_slice(body).map_err(|e| {
                bad_request(format!(
                    "the object provided is unrecognized: couldn't decode JSON: {e}"
                ))
            })?
        }
    } else {
        return Err(errors::unsupported_media_type(&[
            "application/json",
            "application/yaml",
            crate::protobuf::CONTENT_TYPE,
        ]));
    };
    let (group, kind) = e.group_kind();
    let api_version = format!("{group}/v1");
    if !obj.is_object() {
        return Err(bad_request(format!(
            "the object provided is unrecognized (must be of type {kind})"
        )));
    }
    if let Some(v) = obj["apiVersion"].as_str()
        && v != api_version
    {
        return Err(bad_request(format!(
            "the API version in the data ({v}) does not match the expected API version ({api_version})"
        )));
    }
    if let Some(k) = obj["kind"].as_str()
        && k != kind
    {
        return Err(bad_request(format!(
            "the kind in the data ({k}) does not match the expected kind ({kind})"
        )));
    }
    if !obj["metadata"].is_object() {
        obj["metadata"] = json!({});
    }
    Ok(obj)
}

fn envelope(e: Endpoint, metadata: Value, spec: Option<Value>, status: Value) -> Value {
    let (group, kind) = e.group_kind();
    let mut out = json!({"kind": kind, "apiVersion": format!("{group}/v1"), "metadata": metadata});
    if let Some(spec) = spec {
        out["spec"] = spec;
    }
    out["status"] = status;
    out
}

/// Answers a request for `e` (already authorized) with the created object (201).
pub fn serve(
    state: &State,
    user: &UserInfo,
    e: Endpoint,
    info: &RequestInfo,
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Value> {
    // Named review paths and scope mismatches are routes that do not exist.
    let named = !info.name.is_empty();
    if (e == Endpoint::TokenRequest) != named || e.namespaced() == info.namespace.is_empty() {
        return Err(path_not_found());
    }
    if *method != Method::POST {
        return Err(method_not_allowed());
    }
    let obj = decode(e, headers, body)?;
    match e {
        Endpoint::TokenRequest => token_request(state, info, obj),
        Endpoint::TokenReview => token_review(state, obj),
        Endpoint::SelfSubjectReview => Ok(envelope(
            e,
            json!({"creationTimestamp": crate::timestamp::now_rfc3339()}),
            None,
            json!({"userInfo": user.to_json()}),
        )),
        Endpoint::SelfSubjectAccessReview => access_review(state, e, user, info, obj),
        Endpoint::SubjectAccessReview | Endpoint::LocalSubjectAccessReview => {
            access_review(state, e, user, info, obj)
        }
        Endpoint::SelfSubjectRulesReview => rules_review(state, user, obj),
    }
}

const MIN_EXPIRATION: i64 = 10 * 60;
const MAX_EXPIRATION: i64 = 1 << 32;
const DEFAULT_EXPIRATION: i64 = 60 * 60;

fn token_request(state: &State, info: &RequestInfo, req: Value) -> ApiResult<Value> {
    let (namespace, name) = (info.namespace.as_str(), info.name.as_str());
    let e = Endpoint::TokenRequest;
    let meta = &req["metadata"];
    if let Some(n) = meta["name"]
        .as_str()
        .filter(|n| !n.is_empty() && *n != name)
    {
        return Err(invalid(
            e,
            name,
            &[FieldError::invalid(
                "metadata.name",
                json!(n),
                "must match the service account name if specified",
            )],
        ));
    }
    if let Some(n) = meta["namespace"]
        .as_str()
        .filter(|n| !n.is_empty() && *n != namespace)
    {
        return Err(invalid(
            e,
            name,
            &[FieldError::invalid(
                "metadata.namespace",
                json!(n),
                "must match the service account namespace if specified",
            )],
        ));
    }
    let sa = state
        .store
        .get(&StorageKey::new("", "serviceaccounts"), namespace, name)
        .ok_or_else(|| {
            errors::not_found(
                Qualified {
                    group: "",
                    plural: "serviceaccounts",
                },
                name,
            )
        })?;
    let spec = &req["spec"];
    let audiences: Vec<String> = spec["audiences"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .filter(|a: &Vec<String>| !a.is_empty())
        .unwrap_or_else(|| vec![ISSUER.to_string()]);
    let expiration = spec["expirationSeconds"]
        .as_i64()
        .unwrap_or(DEFAULT_EXPIRATION);
    if expiration < MIN_EXPIRATION {
        return Err(invalid(
            e,
            "",
            &[FieldError::invalid(
                "spec.expirationSeconds",
                json!(expiration),
                "may not specify a duration less than 10 minutes",
            )],
        ));
    }
    if expiration > MAX_EXPIRATION {
        return Err(invalid(
            e,
            "",
            &[FieldError::invalid(
                "spec.expirationSeconds",
                json!(expiration),
                "may not specify a duration larger than 2^32 seconds",
            )],
        ));
    }
    let bound_ref = spec
        .get("boundObjectRef")
        .filter(|r| r.is_object())
        .cloned();
    let bound = match &bound_ref {
        Some(r) => bound_objects(state, namespace, name, r)?,
        None => BoundObjects::default(),
    };
    let now = Utc::now();
    let (token, expires) = authn::issue(state, &sa, &audiences, expiration, &bound, now);
    let creation = crate::timestamp::rfc3339(now);
    Ok(envelope(
        e,
        json!({"name": name, "namespace": namespace, "creationTimestamp": creation}),
        Some(json!({
            "audiences": audiences,
            "expirationSeconds": expiration,
            "boundObjectRef": bound_ref.unwrap_or(Value::Null),
        })),
        json!({
            "token": token,
            "expirationTimestamp": crate::timestamp::rfc3339(expires),
        }),
    ))
}

/// Resolves `spec.boundObjectRef` (a Pod, Secret or Node) into the claims it adds.
fn bound_objects(
    state: &State,
    namespace: &str,
    sa_name: &str,
    r: &Value,
) -> ApiResult<BoundObjects> {
    let api_version = r["apiVersion"].as_str().unwrap_or_default();
    let kind = r["kind"].as_str().unwrap_or_default();
    let name = r["name"].as_str().unwrap_or_default();
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let (plural, ns) = match (group, kind) {
        ("", "Pod") => ("pods", namespace),
        ("", "Secret") => ("secrets", namespace),
        ("", "Node") => ("nodes", ""),
        _ => {
            return Err(bad_request(format!(
                "cannot bind token to object of type {group}/{version}, Kind={kind}"
            )));
        }
    };
    let obj = state
        .store
        .get(&StorageKey::new("", plural), ns, name)
        .ok_or_else(|| errors::not_found(Qualified { group: "", plural }, name))?;
    let uid = obj["metadata"]["uid"].as_str().unwrap_or_default();
    if kind == "Pod"
        && obj["spec"]["serviceAccountName"]
            .as_str()
            .unwrap_or("default")
            != sa_name
    {
        return Err(bad_request(format!(
            "cannot bind token for serviceaccount {} to pod running with different serviceaccount name.",
            gofmt::quote(sa_name)
        )));
    }
    if let Some(wanted) = r["uid"].as_str().filter(|u| !u.is_empty())
        && wanted != uid
    {
        return Err(errors::conflict(
            Qualified {
                group: "",
                plural: kind,
            },
            name,
            &format!(
                "the UID in the bound object reference ({wanted}) does not match the UID in record. The object might have been deleted and then recreated"
            ),
        ));
    }
    let claim = ObjectClaim {
        name: name.to_string(),
        uid: uid.to_string(),
    };
    let mut bound = BoundObjects::default();
    match kind {
        "Pod" => {
            if let Some(node) = obj["spec"]["nodeName"].as_str().filter(|n| !n.is_empty()) {
                let node_uid = state
                    .store
                    .get(&StorageKey::new("", "nodes"), "", node)
                    .and_then(|n| n["metadata"]["uid"].as_str().map(String::from))
                    .unwrap_or_default();
                bound.node = Some(ObjectClaim {
                    name: node.to_string(),
                    uid: node_uid,
                });
            }
            bound.pod = Some(claim);
        }
        "Secret" => bound.secret = Some(claim),
        _ => bound.node = Some(claim),
    }
    Ok(bound)
}

fn token_review(state: &State, mut req: Value) -> ApiResult<Value> {
    let token = req["spec"]["token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if token.is_empty() {
        return Err(bad_request(format!(
            "token is required for TokenReview in {AUTHN}"
        )));
    }
    let audiences: Vec<String> = req["spec"]["audiences"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let status = match authn::authenticate_token(state, &token, &audiences) {
        Ok((user, auds)) => {
            json!({"authenticated": true, "user": user.to_json(), "audiences": auds})
        }
        Err(why) => json!({"user": {}, "error": why}),
    };
    let spec = req["spec"].take();
    Ok(envelope(
        Endpoint::TokenReview,
        json!({}),
        Some(spec),
        status,
    ))
}

/// `%#v` of authorization.NonResourceAttributes, as validation errors print it.
fn go_non_resource_attributes(v: &Value) -> String {
    format!(
        "authorization.NonResourceAttributes{{Path:{}, Verb:{}}}",
        gofmt::quote(v["path"].as_str().unwrap_or_default()),
        gofmt::quote(v["verb"].as_str().unwrap_or_default())
    )
}

/// Keeps the known, non-empty fields of a `*Attributes` object (as a round trip through the Go
/// type does).
fn clean(v: &Value, keys: &[&str]) -> Value {
    let mut out = Map::new();
    for k in keys {
        match v.get(*k) {
            Some(Value::String(s)) if !s.is_empty() => {
                out.insert(k.to_string(), json!(s));
            }
            Some(o @ Value::Object(_)) => {
                out.insert(k.to_string(), o.clone());
            }
            _ => {}
        }
    }
    Value::Object(out)
}

const RESOURCE_ATTRIBUTE_KEYS: &[&str] = &[
    "namespace",
    "verb",
    "group",
    "version",
    "resource",
    "subresource",
    "name",
    "fieldSelector",
    "labelSelector",
];

fn access_review(
    state: &State,
    e: Endpoint,
    requester: &UserInfo,
    info: &RequestInfo,
    mut req: Value,
) -> ApiResult<Value> {
    let spec = req["spec"].take();
    let resource = spec
        .get("resourceAttributes")
        .filter(|v| v.is_object())
        .map(|v| clean(v, RESOURCE_ATTRIBUTE_KEYS));
    let non_resource = spec
        .get("nonResourceAttributes")
        .filter(|v| v.is_object())
        .map(|v| clean(v, &["path", "verb"]));
    let mut errs = Vec::new();
    match (&resource, &non_resource) {
        (Some(_), Some(n)) => errs.push(FieldError::invalid_go_syntax(
            "spec.nonResourceAttributes",
            format!("&{}", go_non_resource_attributes(n)),
            "cannot be specified in combination with resourceAttributes",
        )),
        (None, None) => errs.push(FieldError::invalid(
            "spec.resourceAttributes",
            json!("null"),
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )),
        _ => {}
    }
    let mut metadata = json!({});
    let self_review = e == Endpoint::SelfSubjectAccessReview;
    let user = if self_review {
        requester.clone()
    } else {
        let groups: Vec<String> = spec["groups"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let user = UserInfo {
            username: spec["user"].as_str().unwrap_or_default().to_string(),
            uid: spec["uid"].as_str().unwrap_or_default().to_string(),
            groups,
            extra: serde_json::from_value(spec["extra"].clone()).unwrap_or_default(),
        };
        if user.username.is_empty() && user.groups.is_empty() {
            errs.push(FieldError::invalid(
                "spec.user",
                json!(user.username),
                "at least one of user or group must be specified",
            ));
        }
        user
    };
    if e == Endpoint::LocalSubjectAccessReview {
        let ns = req["metadata"]["namespace"]
            .as_str()
            .filter(|n| !n.is_empty())
            .unwrap_or(&info.namespace)
            .to_string();
        if ns != info.namespace {
            return Err(bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        if let Some(r) = &resource {
            let wanted = r["namespace"].as_str().unwrap_or_default();
            if wanted != ns {
                errs.push(FieldError::invalid(
                    "spec.resourceAttributes.namespace",
                    json!(wanted),
                    "must match metadata.namespace",
                ));
            }
        }
        if let Some(n) = &non_resource {
            errs.push(FieldError::invalid_go_syntax(
                "spec.nonResourceAttributes",
                format!("&{}", go_non_resource_attributes(n)),
                "disallowed on this kind of request",
            ));
        }
        metadata = json!({"namespace": ns});
    }
    if !errs.is_empty() {
        return Err(invalid(e, "", &errs));
    }
    let s = |v: &Value, k: &str| v[k].as_str().unwrap_or_default().to_string();
    let request = match (&resource, &non_resource) {
        (Some(r), _) => RequestInfo {
            resource_request: true,
            verb: s(r, "verb"),
            api_group: s(r, "group"),
            api_version: r["version"]
                .as_str()
                .filter(|v| !v.is_empty())
                .unwrap_or("*")
                .to_string(),
            namespace: s(r, "namespace"),
            resource: s(r, "resource"),
            subresource: s(r, "subresource"),
            name: s(r, "name"),
            path: String::new(),
        },
        (None, Some(n)) => RequestInfo {
            resource_request: false,
            verb: s(n, "verb"),
            path: s(n, "path"),
            ..Default::default()
        },
        (None, None) => return Err(invalid(e, "", &errs)),
    };
    let decision = authorize(state, &Attributes { user, request });
    let mut status = json!({"allowed": decision.allowed});
    if !decision.reason.is_empty() {
        status["reason"] = json!(decision.reason);
    }
    let mut out_spec = Map::new();
    if let Some(r) = resource {
        out_spec.insert("resourceAttributes".into(), r);
    }
    if let Some(n) = non_resource {
        out_spec.insert("nonResourceAttributes".into(), n);
    }
    if !self_review {
        for key in ["user", "groups", "extra", "uid"] {
            match &spec[key] {
                Value::String(v) if !v.is_empty() => {
                    out_spec.insert(key.into(), json!(v));
                }
                v @ (Value::Array(_) | Value::Object(_)) => {
                    out_spec.insert(key.into(), v.clone());
                }
                _ => {}
            }
        }
    }
    Ok(envelope(e, metadata, Some(Value::Object(out_spec)), status))
}

fn rules_review(state: &State, user: &UserInfo, req: Value) -> ApiResult<Value> {
    let namespace = req["spec"]["namespace"].as_str().unwrap_or_default();
    if namespace.is_empty() {
        return Err(bad_request("no namespace on request"));
    }
    let (rules, error) = rbac::rules_for(state, user, namespace);
    let mut resource_rules = Vec::new();
    let mut non_resource_rules = Vec::new();
    for r in &rules {
        if !r.resources.is_empty() {
            let mut rule = json!({"verbs": r.verbs});
            if !r.api_groups.is_empty() {
                rule["apiGroups"] = json!(r.api_groups);
            }
            rule["resources"] = json!(r.resources);
            if !r.resource_names.is_empty() {
                rule["resourceNames"] = json!(r.resource_names);
            }
            resource_rules.push(rule);
        }
        if !r.non_resource_urls.is_empty() {
            non_resource_rules
                .push(json!({"verbs": r.verbs, "nonResourceURLs": r.non_resource_urls}));
        }
    }
    let mut status = json!({
        "resourceRules": resource_rules,
        "nonResourceRules": non_resource_rules,
        "incomplete": false,
    });
    if let Some(e) = error {
        status["evaluationError"] = json!(e);
    }
    Ok(envelope(
        Endpoint::SelfSubjectRulesReview,
        json!({}),
        Some(json!({})),
        status,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Query;

    fn info(method: Method, path: &str) -> RequestInfo {
        RequestInfo::new(&method, path, &Query::default())
    }

    #[test]
    fn endpoints() {
        let i = info(
            Method::POST,
            "/api/v1/namespaces/ns/serviceaccounts/sa/token",
        );
        assert_eq!(endpoint(&i), Some(Endpoint::TokenRequest));
        let i = info(
            Method::POST,
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        );
        assert_eq!(endpoint(&i), Some(Endpoint::SelfSubjectAccessReview));
        assert_eq!(
            endpoint(&info(
                Method::GET,
                "/api/v1/namespaces/ns/serviceaccounts/sa"
            )),
            None
        );
        assert_eq!(
            endpoint(&info(Method::GET, "/apis/authorization.k8s.io/v1")),
            None
        );
    }

    #[test]
    fn attribute_cleaning() {
        let v = json!({"verb": "get", "group": "", "resource": "pods", "bogus": "x"});
        assert_eq!(
            clean(&v, RESOURCE_ATTRIBUTE_KEYS),
            json!({"verb": "get", "resource": "pods"})
        );
    }
}
