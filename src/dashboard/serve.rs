//! The dashboard's HTTP server: routes, security headers, and starting the TestJob watch.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Router, middleware};
use kube::{Api, Client};
use maud::Markup;
use tokio::net::TcpListener;
use tracing::info;

use crate::crd::TestJob;
use crate::dashboard::args::DashboardArgs;
use crate::dashboard::cache::{self, Index};
use crate::dashboard::list::{ListQuery, list};
use crate::dashboard::views::{self, Chrome};
use crate::dashboard::{assets, job, queue, report, sse};

/// The Content-Security-Policy of every response: only this server's own script, styles and
/// images, no inline script or style, no framing, no form posts elsewhere.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// What the dashboard shows and how.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The watched namespace (None: all).
    pub namespace: Option<String>,
    /// The operator's `--max-running` (0: no queue view).
    pub max_running: usize,
    /// The operator's `--default-priority`.
    pub default_priority: i32,
    /// Rows per page of the list.
    pub page_size: usize,
}

impl From<&DashboardArgs> for Settings {
    fn from(args: &DashboardArgs) -> Self {
        Settings {
            namespace: args.namespace.clone(),
            max_running: args.max_running,
            default_priority: args.default_priority,
            page_size: usize::from(args.page_size),
        }
    }
}

/// What the handlers share.
pub struct AppState {
    /// For the job pages' reads.
    pub client: Client,
    /// The list's rows.
    pub index: Arc<Index>,
    /// The flags.
    pub settings: Settings,
    /// The layout's data.
    pub chrome: Chrome,
}

impl AppState {
    /// The TestJob API of the watched scope.
    pub fn jobs(&self) -> Api<TestJob> {
        match &self.settings.namespace {
            Some(ns) => Api::namespaced(self.client.clone(), ns),
            None => Api::all(self.client.clone()),
        }
    }

    /// Whether `namespace` is in the watched scope.
    pub fn in_scope(&self, namespace: &str) -> bool {
        self.settings
            .namespace
            .as_deref()
            .is_none_or(|ns| ns == namespace)
    }

    /// An HTML error response.
    pub fn error(&self, status: StatusCode, title: &str, detail: &str) -> Response {
        (status, views::error_page(&self.chrome, title, detail)).into_response()
    }
}

/// A running dashboard.
#[derive(Debug)]
pub struct Dashboard {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The server task; it ends only on an I/O error.
    pub server: tokio::task::JoinHandle<std::io::Result<()>>,
    /// The watch task.
    pub watch: tokio::task::JoinHandle<()>,
}

impl Dashboard {
    /// Starts the watch and serves on `listener`.
    pub fn start(
        client: Client,
        settings: Settings,
        listener: TcpListener,
    ) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let index = Arc::new(Index::default());
        let chrome = Chrome {
            namespace: settings.namespace.clone(),
            max_running: settings.max_running,
        };
        let state = Arc::new(AppState {
            client,
            index: index.clone(),
            settings,
            chrome,
        });
        let watch = tokio::spawn(cache::follow(state.jobs(), index));
        let app = router(state);
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Dashboard {
            addr,
            server,
            watch,
        })
    }

    /// The dashboard's URL.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

/// `testjob-operator dashboard`: serves until the process is stopped.
pub async fn run(client: Client, args: DashboardArgs) -> anyhow::Result<()> {
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let dashboard = Dashboard::start(client, Settings::from(&args), listener)?;
    info!(url = %dashboard.url(), "dashboard serving");
    println!("dashboard: {}", dashboard.url());
    tokio::select! {
        served = dashboard.server => served.context("the dashboard server task failed")?.context("serving the dashboard"),
        _ = shutdown_signal() => Ok(()),
    }
}

/// All routes, with the security headers on every response.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(list_page))
        .route("/jobs/{namespace}/{name}", get(job::page))
        .route("/jobs/{namespace}/{name}/log", get(sse::log))
        .route("/jobs/{namespace}/{name}/report", get(report::download))
        .route("/queue", get(queue::page))
        .route("/api/queue", get(queue::api))
        .route("/events", get(sse::changes))
        .route("/static/{file}", get(assets::serve))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .layer(middleware::map_response(security_headers))
        .with_state(state)
}

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

async fn list_page(State(state): State<Arc<AppState>>, Query(query): Query<ListQuery>) -> Markup {
    let page = list(&state.index, &query, state.settings.page_size);
    views::list_page(&state.chrome, &page)
}

async fn readyz(State(state): State<Arc<AppState>>) -> (StatusCode, &'static str) {
    if state.index.synced() {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "listing TestJobs")
    }
}

/// Ctrl-C or SIGTERM (what Kubernetes sends a Pod that stops).
async fn shutdown_signal() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
