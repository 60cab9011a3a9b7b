//! The job page: the TestJob, its runner Pods, the current Pod's log (or the log the operator
//! kept once the Pod is gone) and the job's events, read fresh from the API on each request (a
//! job page is rare next to the list, and must be exact).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use k8s_openapi::api::core::v1::{ConfigMap, Event, Pod};
use kube::ResourceExt;
use kube::api::{Api, ListParams, LogParams};

use tracing::debug;

use crate::archive::config_map_name;
use crate::crd::TestJob;
use crate::dashboard::serve::AppState;
use crate::dashboard::{job_view, report};
use crate::pod::pod_selector;

/// Lines of a finished Pod's log shown on the page.
pub const LOG_TAIL_LINES: i64 = 5000;
/// Bytes of a finished Pod's log shown on the page at most.
pub const LOG_LIMIT_BYTES: i64 = 256 * 1024;

/// The log part of the page.
#[derive(Debug)]
pub enum Log {
    /// The job has no runner Pod yet.
    NoPodYet,
    /// The runner Pod is gone (cleaned up after success, or deleted) and no log was kept.
    PodDeleted(String),
    /// The runner Pod is gone; the operator kept its log's tail (`keepLogs`): Pod, log.
    Kept(String, String),
    /// The Pod runs: the page follows its log over `/jobs/{ns}/{name}/log?pod=...`.
    Live(String),
    /// The finished Pod's log (its end, at most [`LOG_LIMIT_BYTES`]).
    Text(String, String),
    /// The log could not be read.
    Failed(String, String),
}

/// Everything the page shows.
#[derive(Debug)]
pub struct JobData {
    /// The TestJob.
    pub job: TestJob,
    /// Its runner Pods, oldest attempt first.
    pub pods: Vec<Pod>,
    /// The current attempt's log.
    pub log: Log,
    /// Its events, oldest first (or why they could not be read).
    pub events: Result<Vec<Event>, String>,
}

/// Whether `pod` is a runner Pod of the TestJob called `job_name` (its controller owner).
pub fn is_runner_of(pod: &Pod, job_name: &str) -> bool {
    pod.owner_references().iter().any(|owner| {
        owner.controller == Some(true) && owner.kind == "TestJob" && owner.name == job_name
    })
}

/// `GET /jobs/{namespace}/{name}`.
pub async fn page(
    State(state): State<Arc<AppState>>,
    Path((namespace, name)): Path<(String, String)>,
) -> Response {
    if !state.in_scope(&namespace) {
        return state.error(
            StatusCode::NOT_FOUND,
            "Not found",
            &format!("this dashboard does not show namespace {namespace}"),
        );
    }
    let jobs: Api<TestJob> = Api::namespaced(state.client.clone(), &namespace);
    let job = match jobs.get_opt(&name).await {
        Ok(Some(job)) => job,
        Ok(None) => {
            return state.error(
                StatusCode::NOT_FOUND,
                "Not found",
                &format!("no TestJob {name} in namespace {namespace}"),
            );
        }
        Err(error) => {
            return state.error(
                StatusCode::BAD_GATEWAY,
                "API error",
                &crate::dashboard::format::api_error(&error),
            );
        }
    };
    let data = load(&state, &namespace, job).await;
    job_view::page(&state.chrome, &data).into_response()
}

async fn load(state: &AppState, namespace: &str, job: TestJob) -> JobData {
    let name = job.name_any();
    let pods_api: Api<Pod> = Api::namespaced(state.client.clone(), namespace);
    let events_api: Api<Event> = Api::namespaced(state.client.clone(), namespace);
    let pod_params = ListParams::default().labels(&pod_selector(&name));
    let event_params = ListParams::default().fields(&format!(
        "involvedObject.kind=TestJob,involvedObject.name={name}"
    ));
    let pods = pods_api.list(&pod_params);
    let events = events_api.list(&event_params);
    let (pods, events) = tokio::join!(pods, events);
    let mut pods: Vec<Pod> = pods
        .map(|list| list.items)
        .unwrap_or_default()
        .into_iter()
        .filter(|pod| is_runner_of(pod, &name))
        .collect();
    pods.sort_by_key(attempt_of);
    let events = events
        .map(|list| {
            let mut items = list.items;
            items.sort_by_key(event_time);
            items
        })
        .map_err(|e| crate::dashboard::format::api_error(&e));
    let current = job.status.as_ref().and_then(|s| s.pod_name.clone());
    let log = match current {
        None => Log::NoPodYet,
        Some(pod_name) => match pods.iter().find(|p| p.name_any() == pod_name) {
            None => kept_log(state, namespace, &job, pod_name).await,
            Some(pod) if is_running(pod) => Log::Live(pod_name),
            Some(_) => {
                let params = LogParams {
                    tail_lines: Some(LOG_TAIL_LINES),
                    limit_bytes: Some(LOG_LIMIT_BYTES),
                    ..LogParams::default()
                };
                match pods_api.logs(&pod_name, &params).await {
                    Ok(text) => Log::Text(pod_name, text),
                    Err(error) => {
                        Log::Failed(pod_name, crate::dashboard::format::api_error(&error))
                    }
                }
            }
        },
    };
    JobData {
        job,
        pods,
        log,
        events,
    }
}

/// The log the operator kept of the deleted Pod `pod_name`, in the ConfigMap it keeps the
/// attempt in, when the job owns that ConfigMap. Any failure to read it (none kept, no RBAC)
/// leaves the page saying the log is gone, as it was before logs were kept.
async fn kept_log(state: &AppState, namespace: &str, job: &TestJob, pod_name: String) -> Log {
    let config_maps: Api<ConfigMap> = Api::namespaced(state.client.clone(), namespace);
    let uid = job.uid().unwrap_or_default();
    match config_maps.get_opt(&config_map_name(&pod_name)).await {
        Ok(Some(config_map)) => match report::kept_log(&config_map, &uid) {
            Some(log) => Log::Kept(pod_name, log),
            None => Log::PodDeleted(pod_name),
        },
        Ok(None) => Log::PodDeleted(pod_name),
        Err(error) => {
            debug!(%error, pod = %pod_name, "cannot read the kept log");
            Log::PodDeleted(pod_name)
        }
    }
}

fn is_running(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    matches!(phase, None | Some("Pending") | Some("Running"))
}

/// The attempt a runner Pod belongs to, from its label.
pub fn attempt_of(pod: &Pod) -> i32 {
    pod.labels()
        .get(crate::pod::ATTEMPT_LABEL)
        .and_then(|a| a.parse().ok())
        .unwrap_or(0)
}

/// When an event last happened, in Unix seconds.
pub fn event_time(event: &Event) -> i64 {
    event
        .last_timestamp
        .as_ref()
        .or(event.first_timestamp.as_ref())
        .map(|t| t.0.as_second())
        .or_else(|| event.event_time.as_ref().map(|t| t.0.as_second()))
        .or_else(|| {
            event
                .metadata
                .creation_timestamp
                .as_ref()
                .map(|t| t.0.as_second())
        })
        .unwrap_or(0)
}
