//! The sandbox's own control endpoints under `/sandbox/`, for tests and benchmarks. They need
//! the admin token (`system:masters`; 401 without a valid token, 403 for other users), speak
//! JSON, are never counted in stats and never subject to faults.
//!
//! | Method and path | Body | Answer |
//! | --- | --- | --- |
//! | `GET /sandbox/stats` | | request counts ([`crate::stats::StatsSnapshot`]) |
//! | `DELETE /sandbox/stats` | | zeroes the counts, answering what they were |
//! | `GET /sandbox/faults` | | the fault settings ([`crate::faults::FaultConfig`]) |
//! | `POST /sandbox/faults` | some of `error_rate`, `error_code` (500\|429), `retry_after_seconds`, `latency_ms`, `watch_close_after_seconds`, `pause_seconds` | changes the fields given, keeps the rest; answers the settings |
//! | `DELETE /sandbox/faults` | | turns every fault off (ending a pause); answers the settings |
//! | `POST /sandbox/watch-history` | `{"limit": N}` | keeps only the last N changes for watches, so older resourceVersions get 410 Gone; answers `{"limit": N}` |
//!
//! Errors are `Status` objects: 400 for a bad body, 404 for an unknown path, 405 for a method a
//! path does not have.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use http::{HeaderValue, Method, StatusCode, header};
use serde_json::{Value, json};

use crate::auth::{self, Attributes, MASTERS_GROUP, RequestInfo, authn};
use crate::errors::{self, ApiError, bad_request, path_not_found};
use crate::request::Query;
use crate::state::State;

const MAX_BODY: usize = 1024 * 1024;

pub fn is_control_path(path: &str) -> bool {
    path == "/sandbox" || path.starts_with("/sandbox/")
}

pub(crate) fn json_response(code: u16, body: &Value) -> Response {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

pub(crate) fn error_response(e: ApiError) -> Response {
    json_response(e.code, &e.status)
}

fn method_not_allowed() -> ApiError {
    ApiError {
        code: 405,
        status: json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "the server does not allow this method on the requested resource",
            "reason": "MethodNotAllowed", "details": {}, "code": 405}),
    }
}

fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| bad_request(format!("invalid JSON body: {e}")))
}

/// Answers a request under `/sandbox/`.
pub async fn serve(state: &Arc<State>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().trim_end_matches('/').to_string();
    let Some(user) = authn::authenticate(state, &parts.headers, &path) else {
        return error_response(errors::unauthorized());
    };
    if !user.in_group(MASTERS_GROUP) {
        let request = RequestInfo::new(&parts.method, parts.uri.path(), &Query::default());
        return error_response(auth::forbidden(&Attributes { user, request }, ""));
    }
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return error_response(bad_request("the request body is too large")),
    };
    match answer(state, &parts.method, &path, &body) {
        Ok(v) => json_response(200, &v),
        Err(e) => error_response(e),
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn answer(state: &State, method: &Method, path: &str, body: &[u8]) -> Result<Value, ApiError> {
    match (path, method) {
        ("/sandbox/stats", &Method::GET) => Ok(to_json(&state.stats.snapshot())),
        ("/sandbox/stats", &Method::DELETE) => Ok(to_json(&state.stats.reset())),
        ("/sandbox/stats", _) => Err(method_not_allowed()),
        ("/sandbox/faults", &Method::GET) => Ok(to_json(&state.faults.get())),
        ("/sandbox/faults", &Method::POST | &Method::PUT | &Method::PATCH) => {
            let patch = parse_json(body)?;
            state
                .faults
                .update(&patch)
                .map(|c| to_json(&c))
                .map_err(bad_request)
        }
        ("/sandbox/faults", &Method::DELETE) => {
            state.faults.set(Default::default()).map_err(bad_request)?;
            Ok(to_json(&state.faults.get()))
        }
        ("/sandbox/faults", _) => Err(method_not_allowed()),
        ("/sandbox/watch-history", &Method::POST | &Method::PUT) => {
            let v = parse_json(body)?;
            let limit = v["limit"]
                .as_u64()
                .filter(|l| *l > 0)
                .ok_or_else(|| bad_request("limit must be a positive integer"))?;
            state.store.set_history_limit(limit as usize);
            Ok(json!({"limit": limit}))
        }
        ("/sandbox/watch-history", _) => Err(method_not_allowed()),
        _ => Err(path_not_found()),
    }
}
