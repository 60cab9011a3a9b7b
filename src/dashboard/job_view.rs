//! HTML of the job page. Everything shown is escaped by maud; the results filter, the live log
//! and the live status are `app.js`'s work, driven by `data-*` attributes.

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use maud::{Markup, html};

use crate::crd::{AttemptStatus, Phase, ReportStatus, ResultStatus, Summary, TestJob, TestResult};
use crate::dashboard::format::{human_duration, now, run_time};
use crate::dashboard::job::{JobData, Log, attempt_of, event_time};
use crate::dashboard::views::{
    Chrome, PageKind, duration_text, encode, job_href, layout, phase_badge,
};

fn age(time: Option<&Time>) -> Markup {
    match time {
        Some(t) => {
            let secs = t.0.as_second();
            html! { time datetime=(t.0.to_string()) title=(t.0.to_string()) data-ts=(secs) { (human_duration(now() - secs)) " ago" } }
        }
        None => html! { "–" },
    }
}

fn result_class(status: ResultStatus) -> &'static str {
    match status {
        ResultStatus::Passed => "phase phase-succeeded",
        ResultStatus::Failed => "phase phase-failed",
        ResultStatus::Error => "phase phase-failed",
        ResultStatus::Skipped => "phase phase-cancelled",
    }
}

fn result_label(status: ResultStatus) -> &'static str {
    match status {
        ResultStatus::Passed => "passed",
        ResultStatus::Failed => "failed",
        ResultStatus::Error => "error",
        ResultStatus::Skipped => "skipped",
    }
}

/// Failures first (failed and error), then the rest, each in the runner's order.
fn failures_first(results: &[TestResult]) -> Vec<&TestResult> {
    let mut sorted: Vec<&TestResult> = results.iter().collect();
    sorted.sort_by_key(|r| !matches!(r.status, ResultStatus::Failed | ResultStatus::Error));
    sorted
}

fn spec_section(job: &TestJob) -> Markup {
    let spec = &job.spec;
    let runner = spec.runner.as_ref();
    let list = |v: Option<&Vec<String>>| v.map(|v| serde_json::to_string(v).unwrap_or_default());
    html! {
        section.card {
            h2 { "Spec" }
            dl.grid {
                dt { "Test" } dd { (spec.test_id) }
                dt { "Runner image" } dd { (runner.and_then(|r| r.image.as_deref()).unwrap_or("operator default")) }
                dt { "Command" } dd.mono { (list(runner.and_then(|r| r.command.as_ref())).unwrap_or_else(|| "operator default".into())) }
                @if let Some(args) = list(runner.and_then(|r| r.args.as_ref())) { dt { "Args" } dd.mono { (args) } }
                @if let Some(sa) = runner.and_then(|r| r.service_account_name.as_deref()) { dt { "Service account" } dd { (sa) } }
                dt { "Timeout" } dd { (spec.timeout_seconds.map_or("operator default".to_string(), |s| format!("{s}s"))) }
                dt { "Retries" } dd { (spec.retries.map_or("operator default".to_string(), |r| r.to_string())) }
                dt { "Priority" } dd { (spec.priority.map_or("operator default".to_string(), |p| p.to_string())) }
                dt { "Pod cleanup" } dd { (spec.pod_cleanup.map_or("operator default", |p| p.as_str())) }
                dt { "TTL after finished" } dd { (spec.ttl_seconds_after_finished.map_or("keep".to_string(), |s| format!("{s}s"))) }
                @if spec.is_cancelled() { dt { "Cancel" } dd { "requested" } }
            }
        }
    }
}

/// Every count of a summary, e.g. `12/14 passed · 1 failed · 1 skipped`.
fn summary_text(summary: &Summary) -> String {
    format!(
        "{} · {} failed · {} skipped",
        summary.display(),
        summary.failed,
        summary.skipped
    )
}

/// A size as people read it: `512 B`, `3.4 KiB`, `1.2 MiB`.
fn size_text(bytes: i64) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes.max(0) as f64;
    if b < KIB {
        format!("{bytes} B")
    } else if b < KIB * KIB {
        format!("{:.1} KiB", b / KIB)
    } else {
        format!("{:.1} MiB", b / KIB / KIB)
    }
}

/// The download link of the stored report, with its format and size.
fn report_link(job: &TestJob, report: &ReportStatus) -> Markup {
    let href = format!(
        "{}/report",
        job_href(&job.namespace().unwrap_or_default(), &job.name_any())
    );
    html! {
        a #report-link href=(href) { "Download report" }
        " " span #report-info.muted { "(" (report.format) ", " (size_text(report.bytes)) ")" }
        @if report.truncated {
            " " span.error { "kept cut to fit a ConfigMap: the download is its first part" }
        }
    }
}

fn status_section(job: &TestJob) -> Markup {
    let status = job.status.clone().unwrap_or_default();
    let phase = status.phase.unwrap_or(Phase::Pending);
    let started = status.start_time.as_ref().map(|t| t.0.as_second());
    html! {
        section.card {
            h2 { "Status" }
            dl.grid {
                dt { "Phase" } dd { (phase_badge(phase)) @if status.phase.is_none() { " (not picked up yet)" } }
                dt { "Result" } dd { (status.result.as_deref().unwrap_or("–")) }
                @if let Some(summary) = &status.summary { dt { "Summary" } dd #summary { (summary_text(summary)) } }
                @if let Some(report) = &status.report { dt { "Report" } dd { (report_link(job, report)) } }
                dt { "Attempt" } dd { (status.attempt.map_or("–".to_string(), |a| a.to_string())) }
                dt { "Runner Pod" } dd.mono { (status.pod_name.as_deref().unwrap_or("–")) }
                dt { "Exit code" } dd { (status.exit_code.map_or("–".to_string(), |c| c.to_string())) }
                dt { "Created" } dd { (age(job.metadata.creation_timestamp.as_ref())) }
                dt { "Started" } dd { (age(status.start_time.as_ref())) }
                dt { "Completed" } dd { (age(status.completion_time.as_ref())) }
                dt { "Duration" } dd.duration data-start=[(status.duration.is_none() && phase == Phase::Running).then_some(started).flatten()] {
                    (duration_text(status.duration.as_deref(), started, phase))
                }
                @if let Some(next) = status.next_attempt_time.as_ref() { dt { "Next attempt" } dd { (next.0.to_string()) } }
            }
            @if let Some(message) = &status.message {
                h3 { "Message" }
                pre #message.message { (message) }
            }
            @if !status.conditions.is_empty() {
                h3 { "Conditions" }
                div.scroll { table {
                    thead { tr { th { "Type" } th { "Status" } th { "Reason" } th { "Message" } th { "Changed" } } }
                    tbody { @for c in &status.conditions {
                        tr class={ "cond-" (c.status.to_lowercase()) } {
                            td { (c.type_) } td { (c.status) } td { (c.reason) } td { (c.message) } td { (age(Some(&c.last_transition_time))) }
                        }
                    } }
                } }
            }
        }
    }
}

/// When an attempt ended, how long it ran.
fn attempt_duration(attempt: &AttemptStatus) -> String {
    match (&attempt.start_time, &attempt.completion_time) {
        (Some(start), Some(end)) => run_time(start.0.as_second(), end.0.as_second()),
        _ => "–".to_string(),
    }
}

/// `status.attempts` (every attempt, also those whose Pod is gone), with the phase of each
/// attempt's Pod while it exists.
fn status_attempts(attempts: &[AttemptStatus], pods: &[Pod]) -> Markup {
    html! {
        div.scroll { table #attempts {
            thead { tr { th { "Attempt" } th { "Phase" } th { "Reason" } th { "Exit code" } th { "Result" } th { "Started" } th { "Duration" } th { "Pod" } th { "Pod phase" } } }
            tbody { @for a in attempts {
                @let pod = a.pod_name.as_deref().and_then(|name| pods.iter().find(|p| p.name_any() == name));
                tr {
                    td { (a.attempt) }
                    td { @match a.phase { Some(phase) => (phase_badge(phase)), None => "–" } }
                    td { (a.reason.as_deref().unwrap_or("–")) }
                    td { (a.exit_code.map_or("–".to_string(), |c| c.to_string())) }
                    td { (a.summary.as_ref().map_or("–".to_string(), Summary::display)) }
                    td { (age(a.start_time.as_ref())) }
                    td { (attempt_duration(a)) }
                    td.mono { (a.pod_name.as_deref().unwrap_or("–")) }
                    td { @match pod {
                        Some(pod) => (pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("–")),
                        None => span.muted { "deleted" },
                    } }
                }
            } }
        } }
    }
}

fn pods_table(pods: &[Pod]) -> Markup {
    html! {
        div.scroll { table {
            thead { tr { th { "Attempt" } th { "Pod" } th { "Pod phase" } th { "Exit code" } th { "Created" } } }
            tbody { @for pod in pods {
                @let status = pod.status.as_ref();
                @let terminated = status
                    .and_then(|s| s.container_statuses.as_ref())
                    .and_then(|c| c.first())
                    .and_then(|c| c.state.as_ref())
                    .and_then(|s| s.terminated.as_ref());
                tr {
                    td { (attempt_of(pod)) }
                    td.mono { (pod.name_any()) }
                    td { (status.and_then(|s| s.phase.as_deref()).unwrap_or("–")) }
                    td { (terminated.map_or("–".to_string(), |t| t.exit_code.to_string())) }
                    td { (age(pod.metadata.creation_timestamp.as_ref())) }
                }
            } }
        } }
    }
}

fn attempts_section(attempts: &[AttemptStatus], pods: &[Pod]) -> Markup {
    html! {
        section.card {
            h2 { "Attempts" }
            @if !attempts.is_empty() {
                (status_attempts(attempts, pods))
            } @else if pods.is_empty() {
                p.muted { "No runner Pods exist (none started yet, or they were cleaned up)." }
            } @else {
                (pods_table(pods))
            }
        }
    }
}

fn results_section(results: &[TestResult], omitted: Option<&Summary>) -> Markup {
    html! {
        section.card {
            h2 { "Results" }
            @if let Some(omitted) = omitted.filter(|o| o.total > 0) {
                p.muted #results-omitted {
                    "Showing " (results.len()) " results, failures first; " (omitted.total)
                    " more are left out of the status (" (omitted.passed) " passed, " (omitted.failed)
                    " failed, " (omitted.skipped) " skipped): the stored report has them all."
                }
            }
            @if results.is_empty() {
                p.muted { "No results reported." }
            } @else {
                input #results-filter type="search" placeholder="search results" aria-label="search results";
                div.scroll { table #results {
                    thead { tr { th { "Status" } th { "Step" } th { "Duration" } th { "Message" } } }
                    tbody { @for r in failures_first(results) {
                        tr data-status=(result_label(r.status)) {
                            td { span class=(result_class(r.status)) { (result_label(r.status)) } }
                            td { (r.name) }
                            td { (r.duration_ms.map_or(String::new(), |ms| format!("{ms} ms"))) }
                            td.msg { (r.message.as_deref().unwrap_or("")) }
                        }
                    } }
                } }
            }
        }
    }
}

fn log_section(data: &JobData) -> Markup {
    let job = &data.job;
    let (ns, name) = (job.namespace().unwrap_or_default(), job.name_any());
    html! {
        section.card {
            h2 { "Log" }
            @match &data.log {
                Log::NoPodYet => p.muted { "No runner Pod yet." },
                Log::PodDeleted(pod) => p.muted #log-gone { "Log no longer available: the runner Pod " code { (pod) } " was deleted." },
                Log::Kept(pod, text) => {
                    p.muted #log-kept { "Kept log (last 64 KiB): the runner Pod " code { (pod) } " was deleted." }
                    pre #log.log { (text) }
                }
                Log::Live(pod) => {
                    p.muted { "Pod " code { (pod) } " · " span #log-state { "following" } }
                    pre #log.log data-stream={ (job_href(&ns, &name)) "/log?pod=" (encode(pod)) } {}
                }
                Log::Text(pod, text) => {
                    p.muted { "Pod " code { (pod) } " (last lines, at most 256 KiB)" }
                    pre #log.log { (text) }
                }
                Log::Failed(pod, error) => p.error { "Cannot read the log of " code { (pod) } ": " (error) },
            }
        }
    }
}

fn events_section(data: &JobData) -> Markup {
    html! {
        section.card {
            h2 { "Events" }
            @match &data.events {
                Err(error) => p.error { "Cannot list events: " (error) },
                Ok(events) if events.is_empty() => p.muted { "No events." },
                Ok(events) => div.scroll { table {
                    thead { tr { th { "Type" } th { "Reason" } th { "Age" } th { "Count" } th { "Message" } } }
                    tbody { @for e in events {
                        tr class=[(e.type_.as_deref() == Some("Warning")).then_some("warning")] {
                            td { (e.type_.as_deref().unwrap_or("")) }
                            td { (e.reason.as_deref().unwrap_or("")) }
                            td data-ts=(event_time(e)) { (human_duration(now() - event_time(e))) }
                            td { (e.count.unwrap_or(1)) }
                            td.msg { (e.message.as_deref().unwrap_or("")) }
                        }
                    } }
                } },
            }
        }
    }
}

/// The job page.
pub fn page(chrome: &Chrome, data: &JobData) -> Markup {
    let job = &data.job;
    let name = job.name_any();
    let status = job.status.as_ref();
    let phase = job
        .status
        .as_ref()
        .and_then(|s| s.phase)
        .unwrap_or(Phase::Pending);
    let body = html! {
        p.crumbs { a href="/" { "← all jobs" } " · namespace " (job.namespace().unwrap_or_default()) }
        h1 #job-title data-uid=[job.metadata.uid.as_deref()] data-phase=(phase.as_str()) {
            (name) " " (phase_badge(phase))
        }
        div.columns {
            (status_section(job))
            (spec_section(job))
        }
        (results_section(
            status.map_or(&[][..], |s| &s.results[..]),
            status.and_then(|s| s.results_omitted.as_ref()),
        ))
        (log_section(data))
        (attempts_section(status.map_or(&[][..], |s| &s.attempts[..]), &data.pods))
        (events_section(data))
    };
    layout(chrome, PageKind::Job, &name, body)
}
