//! The queue view (with `--max-running`): jobs holding a run slot against the limit, and the
//! waiting jobs in the order the controller starts them ([`crate::queue::start_order_key`]).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use maud::{Markup, html};
use serde::Serialize;

use crate::crd::Phase;
use crate::dashboard::cache::{Index, Row};
use crate::dashboard::format::{human_duration, now};
use crate::dashboard::serve::AppState;
use crate::dashboard::views::{PageKind, job_href, layout, phase_badge};
use crate::queue::start_order_key;

/// Running and waiting jobs.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueView {
    /// `--max-running` (0: none).
    pub limit: usize,
    /// `--default-priority`, the priority of jobs that set none.
    pub default_priority: i32,
    /// Jobs Running, longest running first.
    pub running: Vec<Row>,
    /// Jobs waiting, first to start first.
    pub waiting: Vec<Row>,
}

/// The queue as the index knows it.
pub fn queue_view(index: &Index, limit: usize, default_priority: i32) -> QueueView {
    let (mut running, mut waiting) = index.with_rows(|rows, _| {
        let mut running = Vec::new();
        let mut waiting = Vec::new();
        for row in rows {
            if row.phase == Phase::Running {
                running.push(row.clone());
            } else if row.waiting {
                waiting.push(row.clone());
            }
        }
        (running, waiting)
    });
    running.sort_by_key(|r| (r.started.unwrap_or(r.created), r.created));
    waiting.sort_by_cached_key(|r| {
        start_order_key(
            r.priority.unwrap_or(default_priority),
            Some(r.created),
            r.namespace.clone(),
            r.name.clone(),
        )
    });
    QueueView {
        limit,
        default_priority,
        running,
        waiting,
    }
}

/// `GET /api/queue`: the queue as JSON, for the page's live refresh.
pub async fn api(State(state): State<Arc<AppState>>) -> Json<QueueView> {
    Json(queue_view(
        &state.index,
        state.settings.max_running,
        state.settings.default_priority,
    ))
}

/// `GET /queue`.
pub async fn page(State(state): State<Arc<AppState>>) -> Markup {
    let view = queue_view(
        &state.index,
        state.settings.max_running,
        state.settings.default_priority,
    );
    let now = now();
    let limit = if view.limit == 0 {
        "no limit (the operator runs without --max-running)".to_string()
    } else {
        view.limit.to_string()
    };
    let body = html! {
        h1 { "Queue" }
        p.queue-summary {
            "Running " b #q-running { (view.running.len()) } " of " (limit)
            " · " b #q-waiting { (view.waiting.len()) } " waiting"
        }
        section.card {
            h2 { "Waiting, in start order" }
            div.scroll { table #queue-waiting {
                thead { tr { th { "#" } th { "Namespace" } th { "Name" } th { "Test" } th { "Priority" } th { "Age" } } }
                tbody { @for (i, row) in view.waiting.iter().enumerate() {
                    tr data-uid=(row.uid) {
                        td { (i + 1) }
                        td { (row.namespace) }
                        td { a href=(job_href(&row.namespace, &row.name)) { (row.name) } }
                        td { (row.test_id) }
                        td { (row.priority.unwrap_or(state.settings.default_priority)) }
                        td data-ts=(row.created) { (human_duration(now - row.created)) }
                    }
                } }
            } }
        }
        section.card {
            h2 { "Running" }
            div.scroll { table #queue-running {
                thead { tr { th { "Namespace" } th { "Name" } th { "Test" } th { "Status" } th { "Running for" } } }
                tbody { @for row in &view.running {
                    tr data-uid=(row.uid) {
                        td { (row.namespace) }
                        td { a href=(job_href(&row.namespace, &row.name)) { (row.name) } }
                        td { (row.test_id) }
                        td { (phase_badge(row.phase)) }
                        td data-ts=(row.started.unwrap_or(row.created)) { (human_duration(now - row.started.unwrap_or(row.created))) }
                    }
                } }
            } }
        }
    };
    layout(&state.chrome, PageKind::Queue, "Queue", body)
}
