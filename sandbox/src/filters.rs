//! The request pipeline in front of the API handlers, in kube-apiserver's filter order where it
//! matters to clients: (faults: pause, latency) → authentication (401) → (faults: injected
//! 500/429) → impersonation → authorization (403) → the authentication/authorization APIs or
//! the resource handlers. Every answer is counted in the stats; watch streams are counted event
//! by event and cut short when the watch-close fault is set. The connect subresources of pods
//! (exec, attach, port-forward) go to `crate::streaming` after authorization. `/sandbox/`
//! control endpoints bypass all of it.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use futures::StreamExt;
use http::{HeaderValue, StatusCode, header};

use crate::auth::{self, Attributes, RequestInfo, UserInfo, api, authn};
use crate::control::{self, error_response, json_response};
use crate::errors::{self, bad_request};
use crate::gofmt;
use crate::handlers::{self, App};
use crate::request::Query;
use crate::state::State;
use crate::streaming;

/// Largest request body the authentication APIs accept (kube-apiserver's limit is 3 MiB).
const MAX_BODY: usize = 3 * 1024 * 1024;

/// The router's entry point.
pub async fn handle(
    axum::extract::State(app): axum::extract::State<App>,
    req: Request,
) -> Response {
    let state = app.state.clone();
    if control::is_control_path(req.uri().path()) {
        return control::serve(&state, req).await;
    }
    state.faults.before_request().await;
    let query = Query::parse(req.uri().query());
    let info = RequestInfo::new(req.method(), req.uri().path(), &query);
    let Some(user) = authn::authenticate(&state, req.headers(), req.uri().path()) else {
        return counted(&state, &info, "", error_response(errors::unauthorized()));
    };
    if let Some((e, retry_after)) = state.faults.injected_error() {
        let mut resp = error_response(e);
        if let Some(secs) = retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        return counted(&state, &info, &user.username, resp);
    }
    let user = match authn::impersonate(&state, &user, req.headers()) {
        Ok(None) => user,
        Ok(Some(impersonated)) => impersonated,
        Err(authn::ImpersonationError::Forbidden(e)) => {
            return counted(&state, &info, &user.username, error_response(e));
        }
        Err(authn::ImpersonationError::Internal(msg)) => {
            let uri = req.uri().to_string();
            return counted(
                &state,
                &info,
                &user.username,
                internal_error_text(&uri, &msg),
            );
        }
    };
    let attrs = Attributes {
        user,
        request: info,
    };
    let decision = auth::authorize(&state, &attrs);
    if !decision.allowed {
        let resp = error_response(auth::forbidden(&attrs, &decision.reason));
        return counted(&state, &attrs.request, &attrs.user.username, resp);
    }
    if streaming::is_streaming(&attrs.request) {
        // KEP-4006's compound check (AuthorizePodWebsocketUpgradeCreatePermission, beta and on
        // by default since 1.35): "clients must be authorized to **create** Pod subresources
        // even when triggering their creation using a WebSocket" — the WebSocket upgrade is a
        // GET, so `get` alone would otherwise open exec, attach and port-forward.
        if attrs.request.verb != "create" {
            let create = Attributes {
                user: attrs.user.clone(),
                request: RequestInfo {
                    verb: "create".into(),
                    ..attrs.request.clone()
                },
            };
            let decision = auth::authorize(&state, &create);
            if !decision.allowed {
                let resp = error_response(auth::forbidden(&create, &decision.reason));
                return counted(&state, &attrs.request, &attrs.user.username, resp);
            }
        }
        let resp = streaming::serve(&state, &attrs.request, req).await;
        return counted(&state, &attrs.request, &attrs.user.username, resp);
    }
    let Attributes {
        user,
        request: info,
    } = attrs;
    let resp = match api::endpoint(&info) {
        Some(endpoint) => serve_auth_api(&state, &user, endpoint, &info, req).await,
        None => handlers::handle(axum::extract::State(app), req).await,
    };
    let resp = if info.verb == "watch" && resp.status() == StatusCode::OK {
        watched(&state, resp, state.faults.watch_close_after())
    } else {
        resp
    };
    counted(&state, &info, &user.username, resp)
}

fn counted(state: &State, info: &RequestInfo, user: &str, resp: Response) -> Response {
    state.stats.record(info, user, resp.status().as_u16());
    resp
}

/// `responsewriters.InternalError`: plain text, as `http.Error` writes it.
fn internal_error_text(uri: &str, msg: &str) -> Response {
    let mut resp = Response::new(Body::from(format!(
        "Internal Server Error: {}: {msg}\n",
        gofmt::quote(uri)
    )));
    *resp.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

async fn serve_auth_api(
    state: &State,
    user: &UserInfo,
    endpoint: api::Endpoint,
    info: &RequestInfo,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return error_response(bad_request("the request body is too large")),
    };
    match api::serve(
        state,
        user,
        endpoint,
        info,
        &parts.method,
        &parts.headers,
        &body,
    ) {
        Ok(obj) => json_response(201, &obj),
        Err(e) => error_response(e),
    }
}

/// Counts a watch stream's events as they are sent, and ends it after `close_after`.
fn watched(state: &Arc<State>, resp: Response, close_after: Option<Duration>) -> Response {
    let (parts, body) = resp.into_parts();
    let counting = state.clone();
    let events = body.into_data_stream().inspect(move |chunk| {
        if let Ok(bytes) = chunk {
            counting.stats.record_watch_events(bytes);
        }
    });
    let body = match close_after {
        Some(after) => Body::from_stream(events.take_until(tokio::time::sleep(after))),
        None => Body::from_stream(events),
    };
    Response::from_parts(parts, body)
}
