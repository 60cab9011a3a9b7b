//! What the operator keeps of an attempt once its Pod may go (see [`crate::archive`]): the full
//! stored report, served for download at `/jobs/{ns}/{name}/report`, and the kept tail of the
//! runner's log, shown on the job page after the Pod was deleted.
//!
//! Both live in the ConfigMap `<pod>-report`. The dashboard reads only the ConfigMap that
//! `status.report` (or the current Pod's name) points to, only in the job's own namespace, and
//! only when the TestJob owns it (its ownerReference carries the job's uid): a user who can write
//! a TestJob's status could otherwise point the dashboard at any ConfigMap it may read.

use std::io::Read as _;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use kube::{Resource as _, ResourceExt};

use crate::archive::LOG_KEY;
use crate::crd::{ReportStatus, TestJob};
use crate::dashboard::format::api_error;
use crate::dashboard::serve::AppState;

/// The largest report served: what a runner may write (README, "Reports of any size").
pub const MAX_REPORT_BYTES: usize = 16 << 20;
/// The largest kept log shown: the operator keeps 64 KiB; anything larger was not its doing.
pub const MAX_LOG_BYTES: usize = 2 * crate::archive::LOG_TAIL_BYTES;

/// Why a stored report cannot be served.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// The ConfigMap is not owned by this TestJob (another object's, or forged).
    NotOwned,
    /// The ConfigMap has no value under the key.
    Missing,
    /// The value (or what it gunzips to) is larger than [`MAX_REPORT_BYTES`].
    TooLarge,
    /// A compressed value that is not gzip.
    Damaged(String),
}

impl Refused {
    fn status(&self) -> StatusCode {
        match self {
            Refused::NotOwned | Refused::Missing => StatusCode::NOT_FOUND,
            Refused::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Refused::Damaged(_) => StatusCode::BAD_GATEWAY,
        }
    }

    fn detail(&self) -> String {
        match self {
            Refused::NotOwned => "the report's ConfigMap does not belong to this TestJob".into(),
            Refused::Missing => "the report's ConfigMap does not hold it (any more)".into(),
            Refused::TooLarge => {
                format!("the stored report is larger than {MAX_REPORT_BYTES} bytes")
            }
            Refused::Damaged(why) => format!("the stored report cannot be unpacked: {why}"),
        }
    }
}

/// Whether the TestJob with uid `job_uid` owns `config_map` (as the operator's archive does).
pub fn owned_by(config_map: &ConfigMap, job_uid: &str) -> bool {
    !job_uid.is_empty()
        && config_map.owner_references().iter().any(|owner| {
            owner.uid == job_uid
                && owner.kind == TestJob::kind(&())
                && owner.api_version == TestJob::api_version(&())
        })
}

/// The report `status` describes, as the runner wrote it, from `config_map`, which the TestJob
/// with uid `job_uid` must own.
pub fn stored_report(
    config_map: &ConfigMap,
    status: &ReportStatus,
    job_uid: &str,
) -> Result<Vec<u8>, Refused> {
    if !owned_by(config_map, job_uid) {
        return Err(Refused::NotOwned);
    }
    if status.compressed {
        let gzipped = config_map
            .binary_data
            .as_ref()
            .and_then(|data| data.get(&status.key))
            .ok_or(Refused::Missing)?;
        if gzipped.0.len() > MAX_REPORT_BYTES {
            return Err(Refused::TooLarge);
        }
        // Bounded: a small gzip can unpack to far more than it says.
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(&gzipped.0[..])
            .take(MAX_REPORT_BYTES as u64 + 1)
            .read_to_end(&mut raw)
            .map_err(|e| Refused::Damaged(e.to_string()))?;
        if raw.len() > MAX_REPORT_BYTES {
            return Err(Refused::TooLarge);
        }
        Ok(raw)
    } else {
        let text = config_map
            .data
            .as_ref()
            .and_then(|data| data.get(&status.key))
            .ok_or(Refused::Missing)?;
        if text.len() > MAX_REPORT_BYTES {
            return Err(Refused::TooLarge);
        }
        Ok(text.as_bytes().to_vec())
    }
}

/// The kept log in `config_map`, when the TestJob with uid `job_uid` owns it and it holds one of
/// a sane size.
pub fn kept_log(config_map: &ConfigMap, job_uid: &str) -> Option<String> {
    if !owned_by(config_map, job_uid) {
        return None;
    }
    let log = config_map.data.as_ref()?.get(LOG_KEY)?;
    (log.len() <= MAX_LOG_BYTES).then(|| log.clone())
}

/// The file extension and Content-Type of a report format.
pub fn file_type(format: &str) -> (&'static str, &'static str) {
    match format {
        "JUnit" => ("xml", "application/xml"),
        "TAP" => ("tap", "text/plain; charset=utf-8"),
        "JSON" => ("json", "application/json"),
        _ => ("txt", "application/octet-stream"),
    }
}

/// The download's file name: `<job>-report.<ext>`, with only characters a Kubernetes name may
/// have (so it needs no quoting rules beyond the quotes).
pub fn file_name(job_name: &str, format: &str) -> String {
    let safe: String = job_name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        .collect();
    format!("{safe}-report.{}", file_type(format).0)
}

/// `GET /jobs/{namespace}/{name}/report`: the stored report of the job's current attempt.
pub async fn download(
    State(state): State<Arc<AppState>>,
    Path((namespace, name)): Path<(String, String)>,
) -> Response {
    let not_found = |detail: String| state.error(StatusCode::NOT_FOUND, "Not found", &detail);
    if !state.in_scope(&namespace) {
        return not_found(format!(
            "this dashboard does not show namespace {namespace}"
        ));
    }
    let jobs: Api<TestJob> = Api::namespaced(state.client.clone(), &namespace);
    let job = match jobs.get_opt(&name).await {
        Ok(Some(job)) => job,
        Ok(None) => return not_found(format!("no TestJob {name} in namespace {namespace}")),
        Err(error) => {
            return state.error(StatusCode::BAD_GATEWAY, "API error", &api_error(&error));
        }
    };
    let Some(report) = job.status.as_ref().and_then(|s| s.report.clone()) else {
        return not_found(format!("TestJob {name} has no stored report"));
    };
    let uid = job.uid().unwrap_or_default();
    // Only the job's own namespace, only the name its status gives.
    let config_maps: Api<ConfigMap> = Api::namespaced(state.client.clone(), &namespace);
    let config_map = match config_maps.get_opt(&report.config_map).await {
        Ok(Some(config_map)) => config_map,
        Ok(None) => return not_found(format!("the ConfigMap {} is gone", report.config_map)),
        Err(error) => {
            return state.error(StatusCode::BAD_GATEWAY, "API error", &api_error(&error));
        }
    };
    match stored_report(&config_map, &report, &uid) {
        Ok(bytes) => attachment(bytes, &name, &report.format),
        Err(refused) => state.error(refused.status(), "Report not available", &refused.detail()),
    }
}

fn attachment(bytes: Vec<u8>, job_name: &str, format: &str) -> Response {
    let disposition = format!("attachment; filename=\"{}\"", file_name(job_name, format));
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(file_type(format).1),
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
