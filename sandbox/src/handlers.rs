//! The HTTP face of the sandbox: discovery and OpenAPI documents, and the resource endpoints
//! (`/api/v1/...`, `/apis/G/V/...`) mapped onto the store and `ops`. Requests reach `handle`
//! authenticated and authorized by `crate::filters`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::watch as tokio_watch;
use tokio_stream::wrappers::ReceiverStream;

use crate::admission::FieldValidation;
use crate::discovery;
use crate::errors::{self, ApiError, ApiResult, bad_request, not_found, path_not_found};
use crate::kubelet::{LogError, LogOptions};
use crate::list::{ListRequest, Page};
use crate::openapi;
use crate::ops::{self, DeleteOptions, Deleted, PatchType, WriteOptions, to_view};
use crate::request::{self, Query, ResourceRequest, Verb};
use crate::resource_types::ResourceType;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::state::State;
use crate::store::StorageKey;
use crate::table;
use crate::watch::{self, Filter, Rendering, WatchRequest};

/// What every request handler shares.
#[derive(Clone)]
pub struct App {
    pub state: Arc<State>,
    pub shutdown: tokio_watch::Receiver<bool>,
}

/// Largest request body accepted (kube-apiserver's limit is 3 MiB).
const MAX_BODY: usize = 3 * 1024 * 1024;

const JSON: &str = "application/json";

fn json_response(code: u16, body: &Value, content_type: &str) -> Response {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(ct) = HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    resp
}

fn error_response(e: ApiError) -> Response {
    json_response(e.code, &e.status, JSON)
}

fn with_warnings(mut resp: Response, warnings: &[String]) -> Response {
    for w in warnings {
        let escaped = w.replace('\\', "\\\\").replace('"', "\\\"");
        if let Ok(v) = HeaderValue::from_str(&format!("299 - \"{escaped}\"")) {
            resp.headers_mut().append(header::WARNING, v);
        }
    }
    resp
}

fn text_response(code: u16, text: &str) -> Response {
    let mut resp = Response::new(Body::from(text.to_string()));
    *resp.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

pub async fn handle(
    axum::extract::State(app): axum::extract::State<App>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let query = Query::parse(parts.uri.query());
    let state = app.state.clone();
    if matches!(path.as_str(), "/healthz" | "/livez" | "/readyz") {
        return text_response(200, "ok");
    }
    let accept = header_str(&parts.headers, header::ACCEPT);
    if let Some(resp) = serve_discovery(&state, &parts.method, &path, accept) {
        return resp;
    }
    let Some(info) = request::parse(&parts.method, &path, &query) else {
        return error_response(path_not_found());
    };
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return error_response(errors::ApiError {
                code: 413,
                status: json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "the request body is too large", "reason": "RequestEntityTooLarge", "code": 413}),
            });
        }
    };
    match serve_resource(&app, &info, &query, &parts.headers, body).await {
        Ok(resp) => resp,
        Err(e) => error_response(e),
    }
}

fn serve_discovery(
    state: &State,
    method: &Method,
    path: &str,
    accept: Option<&str>,
) -> Option<Response> {
    if method != Method::GET {
        return None;
    }
    let path = path.trim_end_matches('/');
    let types = || state.types.types();
    let resp = match path {
        "/version" => json_response(200, &discovery::version_info(), JSON),
        "/api" | "/apis" => {
            let core = path == "/api";
            match discovery::aggregated_content_type(accept) {
                Some(ct) => json_response(
                    200,
                    &discovery::aggregated_discovery(&types(), core, &ct),
                    &ct,
                ),
                None if core => json_response(200, &discovery::api_versions(), JSON),
                None => json_response(200, &discovery::api_group_list(&types()), JSON),
            }
        }
        "/openapi/v2" => match openapi::openapi_v2_content_type(accept) {
            Some(ct) if ct == openapi::OPENAPI_V2_PROTOBUF => {
                let mut resp = Response::new(Body::from(openapi::openapi_v2_protobuf(&types())));
                resp.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(openapi::OPENAPI_V2_PROTOBUF),
                );
                resp
            }
            Some(_) => json_response(200, &openapi::openapi_v2_json(&types()), JSON),
            None => error_response(not_acceptable()),
        },
        "/openapi/v3" => json_response(200, &openapi::openapi_v3_index(&types()), JSON),
        _ => {
            if let Some(rest) = path.strip_prefix("/openapi/v3/") {
                return Some(match openapi::openapi_v3_document(&types(), rest) {
                    Some(doc) => json_response(200, &doc, JSON),
                    None => error_response(path_not_found()),
                });
            }
            let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
            match parts.as_slice() {
                ["api", version] => match discovery::api_resource_list(&types(), "", version) {
                    Some(list) => json_response(200, &list, JSON),
                    None => error_response(path_not_found()),
                },
                ["apis", group] => match discovery::api_group(&types(), group) {
                    Some(g) => json_response(200, &g, JSON),
                    None => error_response(path_not_found()),
                },
                ["apis", group, version] => {
                    match discovery::api_resource_list(&types(), group, version) {
                        Some(list) => json_response(200, &list, JSON),
                        None => error_response(path_not_found()),
                    }
                }
                _ => return None,
            }
        }
    };
    Some(resp)
}

fn not_acceptable() -> ApiError {
    errors::ApiError {
        code: 406,
        status: json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "only the following media types are accepted: application/json, application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
            "reason": "NotAcceptable", "code": 406}),
    }
}

fn write_options(query: &Query, headers: &HeaderMap) -> ApiResult<WriteOptions> {
    let dry_run = match query.get("dryRun") {
        None => false,
        Some("All") => true,
        Some(other) => {
            return Err(bad_request(format!(
                "Invalid dryRun value: {other:?}; supported values: \"All\""
            )));
        }
    };
    Ok(WriteOptions {
        dry_run,
        field_validation: FieldValidation::parse(query.get("fieldValidation"))?,
        field_manager: query.get("fieldManager").map(String::from),
        force: match query.get("force") {
            None => None,
            Some("1" | "t" | "T" | "TRUE" | "true" | "True") => Some(true),
            Some("0" | "f" | "F" | "FALSE" | "false" | "False") => Some(false),
            Some(other) => {
                return Err(bad_request(format!(
                    "strconv.ParseBool: parsing {other:?}: invalid syntax"
                )));
            }
        },
        user_agent: Some(
            header_str(headers, header::USER_AGENT)
                .unwrap_or_default()
                .to_string(),
        ),
    })
}

fn parse_body(headers: &HeaderMap, body: &[u8]) -> ApiResult<Value> {
    let ct = header_str(headers, header::CONTENT_TYPE).unwrap_or(JSON);
    if crate::protobuf::is_protobuf(ct) {
        // client-go's typed clients send protobuf and have no JSON fallback.
        crate::protobuf::decode_body(body).map_err(bad_request)
    } else if ct.contains("yaml") {
        serde_yaml::from_slice(body).map_err(|e| bad_request(format!("error decoding YAML: {e}")))
    } else {
        serde_json::from_slice(body).map_err(|e| {
            bad_request(format!(
                "the object provided is unrecognized: couldn't decode JSON: {e}"
            ))
        })
    }
}

fn filter_for(rt: &ResourceType, info: &ResourceRequest, query: &Query) -> ApiResult<Filter> {
    let labels = match query.get("labelSelector") {
        Some(s) => Some(LabelSelector::parse(s).map_err(bad_request)?),
        None => None,
    };
    let fields = match query.get("fieldSelector") {
        Some(s) => {
            let sel = FieldSelector::parse(s).map_err(bad_request)?;
            match &rt.custom {
                Some(custom) => {
                    let selectable: Vec<&str> = custom
                        .selectable_fields
                        .iter()
                        .map(String::as_str)
                        .collect();
                    sel.check_supported_custom(rt.namespaced, &selectable)
                }
                None => sel.check_supported(&rt.group, &rt.kind, false),
            }
            .map_err(bad_request)?;
            Some(sel)
        }
        None => None,
    };
    Ok(Filter {
        namespace: info.namespace.clone(),
        labels,
        fields,
    })
}

fn table_rendering(
    headers: &HeaderMap,
    query: &Query,
) -> ApiResult<Option<(String, table::IncludeObject)>> {
    match table::table_content_type(header_str(headers, header::ACCEPT)) {
        Some(ct) => {
            let include =
                table::parse_include_object(query.get("includeObject")).map_err(bad_request)?;
            Ok(Some((ct, include)))
        }
        None => Ok(None),
    }
}

fn parse_rv(value: Option<&str>) -> ApiResult<Option<u64>> {
    match value {
        None | Some("0") => Ok(None),
        Some(v) => v.parse::<u64>().map(Some).map_err(|_| {
            bad_request(format!(
                "resourceVersion: Invalid value: {v:?}: must be a non-negative integer"
            ))
        }),
    }
}

async fn serve_resource(
    app: &App,
    info: &ResourceRequest,
    query: &Query,
    headers: &HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let state = &app.state;
    let rt = state
        .types
        .find(&info.group, &info.version, &info.resource)
        .ok_or_else(path_not_found)?;
    if info.namespace.is_some() && !rt.namespaced {
        return Err(path_not_found());
    }
    if let Some(sub) = &info.subresource
        && !rt.has_subresource(sub)
    {
        return Err(path_not_found());
    }
    let namespace = info.namespace.clone().unwrap_or_default();
    let sub = info.subresource.as_deref();
    let name = info.name.clone().unwrap_or_default();
    match (info.verb, sub) {
        (Verb::Get, Some("log")) => serve_log(state, &rt, &namespace, &name, query),
        (Verb::Create, Some("eviction")) => {
            let eviction = parse_body(headers, &body)?;
            let opts = delete_options_from(query, &eviction["deleteOptions"])?;
            let status = crate::disruption::evict(state, &rt, &namespace, &name, &eviction, opts)?;
            let code = status["code"]
                .as_u64()
                .and_then(|c| u16::try_from(c).ok())
                .unwrap_or(201);
            Ok(json_response(code, &status, JSON))
        }
        (Verb::Get, Some("scale")) => Ok(json_response(
            200,
            &ops::scale::get(state, &rt, &namespace, &name)?,
            JSON,
        )),
        (Verb::Update, Some("scale")) => {
            let opts = write_options(query, headers)?;
            let obj = parse_body(headers, &body)?;
            let scale = ops::scale::update(state, &rt, &namespace, &name, obj, &opts)?;
            Ok(json_response(200, &scale, JSON))
        }
        (Verb::Patch, Some("scale")) => {
            let opts = write_options(query, headers)?;
            let ct = header_str(headers, header::CONTENT_TYPE).unwrap_or_default();
            let patch_type =
                PatchType::from_content_type(ct).ok_or_else(|| ops::unsupported_patch(&rt))?;
            let scale = ops::scale::patch(state, &rt, &namespace, &name, patch_type, &body, &opts)?;
            Ok(json_response(200, &scale, JSON))
        }
        (Verb::Get, None | Some("status")) => {
            let obj = state
                .store
                .get(&StorageKey::of(&rt), &namespace, &name)
                .ok_or_else(|| not_found(rt.as_ref(), &name))?;
            let view = to_view(&rt, &obj);
            if sub.is_none()
                && let Some((_, include)) = table_rendering(headers, query)?
            {
                let meta = json!({"resourceVersion": view["metadata"]["resourceVersion"]});
                let t = table::to_table(&rt, &[view], &include, meta, false, chrono::Utc::now());
                return Ok(json_response(200, &t, JSON));
            }
            Ok(json_response(200, &view, JSON))
        }
        (Verb::List, None) => serve_list(state, &rt, info, query, headers),
        (Verb::Watch, None) => serve_watch(app, rt.clone(), info, query, headers),
        (Verb::Create, None) => {
            let opts = write_options(query, headers)?;
            let obj = parse_body(headers, &body)?;
            let written = ops::create(state, &rt, info.namespace.as_deref(), obj, &opts)?;
            Ok(with_warnings(
                json_response(201, &written.object, JSON),
                &written.warnings,
            ))
        }
        (Verb::Update, None | Some("status")) => {
            let opts = write_options(query, headers)?;
            let obj = parse_body(headers, &body)?;
            let written = ops::update(state, &rt, &namespace, &name, sub, obj, &opts)?;
            Ok(with_warnings(
                json_response(200, &written.object, JSON),
                &written.warnings,
            ))
        }
        (Verb::Patch, None | Some("status")) => {
            let opts = write_options(query, headers)?;
            let ct = header_str(headers, header::CONTENT_TYPE).unwrap_or_default();
            let patch_type =
                PatchType::from_content_type(ct).ok_or_else(|| ops::unsupported_patch(&rt))?;
            let existed = state
                .store
                .get(&StorageKey::of(&rt), &namespace, &name)
                .is_some();
            let written = ops::patch(state, &rt, &namespace, &name, sub, patch_type, &body, &opts)?;
            let code = if existed { 200 } else { 201 };
            Ok(with_warnings(
                json_response(code, &written.object, JSON),
                &written.warnings,
            ))
        }
        (Verb::Delete, None) => {
            let opts = delete_options(query, headers, &body)?;
            match ops::delete(state, &rt, &namespace, &name, &opts)? {
                Deleted::Pending(obj) => Ok(json_response(200, &obj, JSON)),
                Deleted::Removed(obj) => {
                    if returns_deleted_object(&rt) {
                        Ok(json_response(200, &obj, JSON))
                    } else {
                        let uid = obj["metadata"]["uid"].as_str().unwrap_or_default();
                        Ok(json_response(
                            200,
                            &errors::delete_success(rt.as_ref(), &name, uid),
                            JSON,
                        ))
                    }
                }
            }
        }
        (Verb::DeleteCollection, None) => {
            let opts = delete_options(query, headers, &body)?;
            let filter = filter_for(&rt, info, query)?;
            let (items, _) = state
                .store
                .list(&StorageKey::of(&rt), info.namespace.as_deref());
            let mut deleted = Vec::new();
            for obj in items.iter().filter(|o| filter.matches(&rt, o)) {
                let ns = obj["metadata"]["namespace"].as_str().unwrap_or_default();
                let n = obj["metadata"]["name"].as_str().unwrap_or_default();
                match ops::delete(state, &rt, ns, n, &opts) {
                    Ok(Deleted::Pending(o) | Deleted::Removed(o)) => {
                        deleted.push(std::sync::Arc::unwrap_or_clone(o))
                    }
                    Err(e) if e.code == 404 => {}
                    Err(e) => return Err(e),
                }
            }
            let list = json!({
                "kind": rt.list_kind,
                "apiVersion": rt.api_version(),
                "metadata": {"resourceVersion": state.store.current_rv().to_string()},
                "items": deleted,
            });
            Ok(json_response(200, &list, JSON))
        }
        (verb, _) => Err(errors::method_not_supported(rt.as_ref(), verb.as_str())),
    }
}

/// Kinds whose REST storage answers a completed DELETE with the object rather than a Status.
fn returns_deleted_object(rt: &ResourceType) -> bool {
    rt.is_custom()
        || (rt.group.is_empty()
            && matches!(
                rt.plural.as_str(),
                "pods" | "services" | "serviceaccounts" | "namespaces"
            ))
}

fn delete_options(query: &Query, headers: &HeaderMap, body: &[u8]) -> ApiResult<DeleteOptions> {
    let from_body: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        parse_body(headers, body)?
    };
    delete_options_from(query, &from_body)
}

/// DeleteOptions from the query and a body's (or an Eviction's) `DeleteOptions` object.
fn delete_options_from(query: &Query, from_body: &Value) -> ApiResult<DeleteOptions> {
    let grace = match query.int("gracePeriodSeconds").map_err(bad_request)? {
        Some(g) => Some(g),
        None => from_body["gracePeriodSeconds"].as_i64(),
    };
    let mut propagation = query
        .get("propagationPolicy")
        .map(String::from)
        .or_else(|| from_body["propagationPolicy"].as_str().map(String::from));
    if propagation.is_none() {
        let orphan = query
            .get("orphanDependents")
            .map(|v| v == "true")
            .or_else(|| from_body["orphanDependents"].as_bool());
        propagation = orphan.map(|o| {
            if o {
                "Orphan".into()
            } else {
                "Background".into()
            }
        });
    }
    let dry_run = query.get("dryRun") == Some("All")
        || from_body["dryRun"]
            .as_array()
            .is_some_and(|d| d.iter().any(|v| v == "All"));
    Ok(DeleteOptions {
        grace_period_seconds: grace,
        propagation_policy: propagation,
        precondition_uid: from_body["preconditions"]["uid"].as_str().map(String::from),
        precondition_rv: from_body["preconditions"]["resourceVersion"]
            .as_str()
            .map(String::from),
        dry_run,
    })
}

fn serve_list(
    state: &State,
    rt: &Arc<ResourceType>,
    info: &ResourceRequest,
    query: &Query,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let filter = filter_for(rt, info, query)?;
    let limit = query.int("limit").map_err(bad_request)?;
    let key = StorageKey::of(rt);
    let selective = filter.labels.as_ref().is_some_and(|l| !l.is_empty())
        || filter.fields.as_ref().is_some_and(|f| !f.is_empty());
    let request = ListRequest {
        key: &key,
        namespace: info.namespace.as_deref(),
        limit,
        continue_token: query.get("continue"),
        resource_version: query.get("resourceVersion"),
        selective,
    };
    let page: Page = state
        .lists
        .page(&state.store, &request, |o| filter.matches(rt, o))?;
    let mut meta = json!({"resourceVersion": page.rv.to_string()});
    if let Some(token) = &page.continue_token {
        meta["continue"] = json!(token);
    }
    if let Some(remaining) = page.remaining {
        meta["remainingItemCount"] = json!(remaining);
    }
    let views: Vec<Value> = page.items.iter().map(|o| to_view(rt, o)).collect();
    if let Some((_, include)) = table_rendering(headers, query)? {
        let t = table::to_table(rt, &views, &include, meta, false, chrono::Utc::now());
        return Ok(json_response(200, &t, JSON));
    }
    let items: Vec<Value> = views
        .into_iter()
        .map(|mut v| {
            // Typed lists carry kind/apiVersion only on the list; custom resources keep them.
            if !rt.is_custom()
                && let Some(m) = v.as_object_mut()
            {
                m.remove("kind");
                m.remove("apiVersion");
            }
            v
        })
        .collect();
    let list = json!({
        "kind": rt.list_kind,
        "apiVersion": rt.api_version(),
        "metadata": meta,
        "items": items,
    });
    Ok(json_response(200, &list, JSON))
}

fn serve_watch(
    app: &App,
    rt: Arc<ResourceType>,
    info: &ResourceRequest,
    query: &Query,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let filter = filter_for(&rt, info, query)?;
    let send_initial_events = query.flag("sendInitialEvents");
    let allow_bookmarks = query.flag("allowWatchBookmarks");
    if send_initial_events {
        if query.get("resourceVersionMatch") != Some("NotOlderThan") {
            return Err(admission_invalid_watch(
                "resourceVersionMatch",
                "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            ));
        }
        if !allow_bookmarks {
            return Err(admission_invalid_watch(
                "allowWatchBookmarks",
                "sendInitialEvents requires setting allowWatchBookmarks to true",
            ));
        }
    }
    let timeout = query
        .int("timeoutSeconds")
        .map_err(bad_request)?
        .filter(|t| *t > 0)
        .map(|t| Duration::from_secs(t as u64));
    let rendering = match table_rendering(headers, query)? {
        Some((_, include)) => Rendering::Table(include),
        None => Rendering::Object,
    };
    let req = WatchRequest {
        rt,
        filter,
        resource_version: parse_rv(query.get("resourceVersion"))?,
        send_initial_events,
        allow_bookmarks,
        timeout,
        rendering,
    };
    let rx = watch::start(app.state.clone(), req, app.shutdown.clone())?;
    let stream = ReceiverStream::new(rx).map(Ok::<_, std::convert::Infallible>);
    let mut resp = Response::new(Body::from_stream(stream));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    Ok(resp)
}

fn admission_invalid_watch(field: &str, detail: &str) -> ApiError {
    let err = crate::schema::FieldError::forbidden(field, detail);
    ApiError {
        code: 422,
        status: json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": format!("ListOptions.meta.k8s.io \"\" is invalid: {err}"),
            "reason": "Invalid",
            "details": {"group": "meta.k8s.io", "kind": "ListOptions",
                "causes": [{"reason": err.reason(), "message": err.body(), "field": field}]},
            "code": 422,
        }),
    }
}

fn serve_log(
    state: &State,
    rt: &ResourceType,
    namespace: &str,
    name: &str,
    query: &Query,
) -> ApiResult<Response> {
    let pod = state
        .store
        .get(&StorageKey::of(rt), namespace, name)
        .ok_or_else(|| not_found(rt, name))?;
    let unscheduled = pod["spec"]["nodeName"].as_str().is_none_or(str::is_empty);
    let kubelet = state
        .kubelet
        .get()
        .ok_or_else(|| errors::internal("no node is running"))?;
    let opts = LogOptions {
        container: query.get("container").map(String::from),
        follow: query.flag("follow"),
        tail_lines: query.int("tailLines").map_err(bad_request)?,
        limit_bytes: query.int("limitBytes").map_err(bad_request)?,
        timestamps: query.flag("timestamps"),
        since_seconds: query.int("sinceSeconds").map_err(bad_request)?,
        previous: query.flag("previous"),
    };
    let stream = if unscheduled {
        crate::kubelet::Kubelet::unscheduled_logs(&pod, opts.container.as_deref())
    } else {
        kubelet.logs(namespace, name, opts)
    };
    let stream = stream.map_err(|e| match e {
        LogError::BadRequest(m) => bad_request(m),
        LogError::NotFound(m) => errors::ApiError {
            code: 404,
            status: json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": m, "reason": "NotFound", "code": 404}),
        },
    })?;
    let body = Body::from_stream(stream.map(Ok::<_, std::convert::Infallible>));
    let mut resp = Response::new(body);
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Ok(resp)
}
