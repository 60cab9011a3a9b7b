//! The operator's HTTP endpoints: `/metrics` (OpenMetrics), `/healthz` (the process is alive)
//! and `/readyz` (caches synced and, with leader election, leading or standing by healthily).

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Router,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use tokio::{net::TcpListener, task::JoinHandle};
use tracing::{info, warn};

use super::error::{Error, Result};
use crate::{health::Health, metrics::Metrics};

#[derive(Clone)]
struct AppState {
    metrics: Arc<Metrics>,
    health: Arc<Health>,
}

/// The routes, for serving or for tests.
pub fn router(metrics: Arc<Metrics>, health: Arc<Health>) -> Router {
    Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz_handler))
        .with_state(AppState { metrics, health })
}

async fn metrics_handler(State(state): State<AppState>) -> Response {
    match state.metrics.encode() {
        Ok(text) => ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "cannot encode metrics\n").into_response(),
    }
}

async fn readyz_handler(State(state): State<AppState>) -> Response {
    match state.health.readiness() {
        Ok(what) => (StatusCode::OK, format!("ok: {what}\n")).into_response(),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        )
            .into_response(),
    }
}

/// Binds `addr` and serves the endpoints until the returned task is aborted.
pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
) -> Result<JoinHandle<()>> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Http { addr, source })?;
    let local = listener.local_addr().unwrap_or(addr);
    info!(addr = %local, "serving /metrics, /healthz and /readyz");
    let app = router(metrics, health);
    Ok(tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            warn!(%error, "the HTTP server stopped");
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One request through the router, as (status, content type, body).
    async fn get(app: Router, path: &str) -> (StatusCode, String, String) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let (status, headers, body) = raw_get(addr, path).await;
        server.abort();
        let content_type = headers
            .lines()
            .find_map(|l| l.strip_prefix("content-type: "))
            .unwrap_or_default()
            .to_owned();
        (status, content_type, body)
    }

    async fn raw_get(addr: SocketAddr, path: &str) -> (StatusCode, String, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut response = String::new();
        stream.read_to_string(&mut response).await.expect("read");
        let (head, body) = response.split_once("\r\n\r\n").expect("a response");
        let code: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .expect("a status code");
        (
            StatusCode::from_u16(code).expect("valid"),
            head.to_ascii_lowercase(),
            body.to_owned(),
        )
    }

    #[tokio::test]
    async fn endpoints_answer_with_status_and_content_type() {
        let metrics = Arc::new(Metrics::new());
        let health = Arc::new(Health::new(false));
        let app = || router(metrics.clone(), health.clone());

        let (status, content_type, body) = get(app(), "/metrics").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type, crate::metrics::CONTENT_TYPE);
        assert!(body.contains("# TYPE testjob_finished counter"), "{body}");
        assert!(body.ends_with("# EOF\n"), "{body}");

        assert_eq!(get(app(), "/healthz").await.0, StatusCode::OK);
        let (status, _, body) = get(app(), "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("caches not synced"), "{body}");
        health.set_synced(true);
        assert_eq!(get(app(), "/readyz").await.0, StatusCode::OK);
        assert_eq!(get(app(), "/nope").await.0, StatusCode::NOT_FOUND);
    }
}
