//! Server-sent event streams: the index's changes for the live list (one broadcast shared by all
//! browsers), and a running Pod's log for the job page.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{AsyncBufReadExt, Stream, StreamExt, stream};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams};
use tokio::sync::broadcast::error::RecvError;

use crate::dashboard::cache::{Change, Replay};
use crate::dashboard::serve::AppState;

/// Lines of a running Pod's log sent before following it.
pub const LOG_TAIL_LINES: i64 = 2000;
/// Bytes of log one stream sends at most; the browser keeps no more than that either.
pub const LOG_STREAM_LIMIT: usize = 4 * 1024 * 1024;

fn keep_alive() -> KeepAlive {
    // Proxies close idle connections; a comment every 15 s keeps the stream open.
    KeepAlive::new().interval(Duration::from_secs(15))
}

/// `GET /events[?since=N]`: every change of the index, as events numbered by their `id`. With
/// `since` (the number a page was rendered at) or `Last-Event-ID` (the browser reconnecting), the
/// changes after that one are sent first, so none is lost in between; when they are no longer
/// kept, one `reload` event. A browser that falls so far behind that the broadcast dropped
/// changes for it also gets `reload` and the stream ends: it reloads the page instead of the
/// server buffering without bound.
pub async fn changes(
    State(state): State<Arc<AppState>>,
    axum::extract::Query(query): axum::extract::Query<SinceQuery>,
    headers: HeaderMap,
) -> impl IntoResponse {
    let last_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let (missed, receiver) = match last_id.or(query.since) {
        None => (Some(Vec::new()), Some(state.index.subscribe().0)),
        Some(since) => match state.index.subscribe_since(since) {
            Replay::Changes(missed, receiver) => (Some(missed), Some(receiver)),
            Replay::TooOld => (None, None),
        },
    };
    let hello =
        stream::once(async { Ok::<_, Infallible>(Event::default().event("hello").data("{}")) });
    let reload = missed
        .is_none()
        .then(|| Ok(Event::default().event("reload").data("{}")));
    let missed = stream::iter(
        missed
            .unwrap_or_default()
            .into_iter()
            .map(|c| Ok(event_of(&c))),
    );
    let changes = stream::unfold(receiver, |receiver| async move {
        let mut receiver = receiver?;
        match receiver.recv().await {
            Ok(change) => Some((Ok(event_of(&change)), Some(receiver))),
            Err(RecvError::Lagged(_)) => {
                Some((Ok(Event::default().event("reload").data("{}")), None))
            }
            Err(RecvError::Closed) => None,
        }
    });
    let events = hello
        .chain(stream::iter(reload))
        .chain(missed)
        .chain(changes);
    Sse::new(events).keep_alive(keep_alive())
}

fn event_of(change: &Change) -> Event {
    Event::default()
        .id(change.seq.to_string())
        .event(change.event)
        .data(change.data.as_str())
}

/// The query of [`changes`].
#[derive(Debug, serde::Deserialize)]
pub struct SinceQuery {
    /// The number of the last change the page has.
    pub since: Option<u64>,
}

/// `GET /jobs/{namespace}/{name}/log?pod=...`: the Pod's log, its last lines then followed until
/// the container stops, one JSON-encoded line per `line` event, then `end`.
pub async fn log(
    State(state): State<Arc<AppState>>,
    Path((namespace, name)): Path<(String, String)>,
    axum::extract::Query(query): axum::extract::Query<LogQuery>,
) -> Response {
    if !state.in_scope(&namespace) {
        return state.error(StatusCode::NOT_FOUND, "Not found", "namespace not watched");
    }
    // Only the job's own runner Pods: the name is checked against the job's label selector by
    // reading the Pod, so this endpoint cannot read other Pods' logs.
    let pods: Api<Pod> = Api::namespaced(state.client.clone(), &namespace);
    let Some(pod_name) = query.pod else {
        return state.error(StatusCode::BAD_REQUEST, "Bad request", "no pod given");
    };
    let pod = match pods.get_opt(&pod_name).await {
        Ok(Some(pod)) if crate::dashboard::job::is_runner_of(&pod, &name) => pod,
        Ok(_) => return state.error(StatusCode::NOT_FOUND, "Not found", "no such runner Pod"),
        Err(error) => {
            return state.error(
                StatusCode::BAD_GATEWAY,
                "API error",
                &crate::dashboard::format::api_error(&error),
            );
        }
    };
    let waiting = !has_started(&pod);
    let params = LogParams {
        follow: true,
        tail_lines: Some(LOG_TAIL_LINES),
        ..LogParams::default()
    };
    let follow = stream::once(async move {
        if waiting {
            // A container that has not started has no log yet: wait for it (one watch of this
            // Pod, for as long as this page waits), then follow.
            let started = kube::runtime::wait::await_condition(
                pods.clone(),
                &pod_name,
                |pod: Option<&Pod>| pod.is_none_or(has_started),
            );
            let _ = tokio::time::timeout(START_WAIT, started).await;
        }
        match pods.log_stream(&pod_name, &params).await {
            Ok(reader) => log_events(reader).left_stream(),
            Err(error) => {
                let message = serde_json::to_string(&crate::dashboard::format::api_error(&error))
                    .unwrap_or_default();
                stream::iter([Ok(Event::default().event("failed").data(message))]).right_stream()
            }
        }
    })
    .flatten();
    let first = waiting.then(|| Ok(Event::default().event("waiting").data("{}")));
    let events = stream::iter(first).chain(follow);
    Sse::new(events).keep_alive(keep_alive()).into_response()
}

/// How long a log stream waits for its container to start.
const START_WAIT: Duration = Duration::from_secs(600);

/// Whether the Pod's container runs or ran (so it has a log).
fn has_started(pod: &Pod) -> bool {
    let Some(status) = pod.status.as_ref() else {
        return false;
    };
    matches!(status.phase.as_deref(), Some("Succeeded" | "Failed"))
        || status.container_statuses.iter().flatten().any(|c| {
            c.state
                .as_ref()
                .is_some_and(|s| s.running.is_some() || s.terminated.is_some())
        })
}

/// The query of [`log`].
#[derive(Debug, serde::Deserialize)]
pub struct LogQuery {
    /// The runner Pod.
    pub pod: Option<String>,
}

fn log_events(
    reader: impl futures::AsyncBufRead + Send + Unpin + 'static,
) -> impl Stream<Item = Result<Event, Infallible>> + Send {
    let lines = reader.lines();
    stream::unfold(Some((lines, 0usize)), |state| async move {
        let (mut lines, sent) = state?;
        if sent > LOG_STREAM_LIMIT {
            return Some((Ok(Event::default().event("truncated").data("{}")), None));
        }
        match lines.next().await {
            Some(Ok(line)) => {
                let data = serde_json::to_string(&line).unwrap_or_default();
                let sent = sent + line.len() + 1;
                Some((
                    Ok(Event::default().event("line").data(data)),
                    Some((lines, sent)),
                ))
            }
            Some(Err(_)) | None => Some((Ok(Event::default().event("end").data("{}")), None)),
        }
    })
}
