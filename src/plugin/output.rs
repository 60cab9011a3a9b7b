//! What `kubectl testjob` prints: kubectl-style tables (columns padded by three spaces), ages
//! as kubectl shows them, the results table and the summary line of a finished job.

use std::time::Duration;

use crate::crd::{ResultStatus, TestJob, TestResult};

/// Lays out `rows` under `header` as kubectl does: each column as wide as its widest cell plus
/// three spaces, the last one unpadded.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(width) = widths.get_mut(i) {
                *width = (*width).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let last = row.len().saturating_sub(1);
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i < last {
                let pad = widths[i].saturating_sub(cell.chars().count()) + 3;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// kubectl's age format (`k8s.io/apimachinery/pkg/util/duration.HumanDuration`).
pub fn human_duration(age: Duration) -> String {
    let seconds = age.as_secs();
    let minutes = seconds / 60;
    let hours = seconds / 3600;
    let days = hours / 24;
    if seconds < 120 {
        format!("{seconds}s")
    } else if minutes < 10 {
        match seconds % 60 {
            0 => format!("{minutes}m"),
            s => format!("{minutes}m{s}s"),
        }
    } else if minutes < 180 {
        format!("{minutes}m")
    } else if hours < 8 {
        match minutes % 60 {
            0 => format!("{hours}h"),
            m => format!("{hours}h{m}m"),
        }
    } else if hours < 48 {
        format!("{hours}h")
    } else if hours < 24 * 8 {
        match hours % 24 {
            0 => format!("{days}d"),
            h => format!("{days}d{h}h"),
        }
    } else if days < 365 * 2 {
        format!("{days}d")
    } else if days < 365 * 8 {
        match days % 365 {
            0 => format!("{}y", days / 365),
            d => format!("{}y{d}d", days / 365),
        }
    } else {
        format!("{}y", days / 365)
    }
}

/// A step's duration: `85ms`, `1.2s`, `2m5s`.
pub fn step_duration(ms: Option<i64>) -> String {
    match ms {
        None => String::new(),
        Some(ms) if ms < 1000 => format!("{ms}ms"),
        Some(ms) if ms < 60_000 => format!("{:.1}s", ms as f64 / 1000.0),
        Some(ms) => format!("{}m{}s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

/// The results table: NAME, STATUS, DURATION, MESSAGE, in status order (failures first).
pub fn results_table(results: &[TestResult]) -> String {
    // A report's results already come failures first; a results file's come in its order.
    let mut ordered: Vec<&TestResult> = results.iter().collect();
    ordered.sort_by_key(|r| !matches!(r.status, ResultStatus::Failed | ResultStatus::Error));
    let rows: Vec<Vec<String>> = ordered
        .into_iter()
        .map(|r| {
            vec![
                r.name.clone(),
                serde_json::to_value(r.status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                step_duration(r.duration_ms),
                // One line per result: a multi-line message would break the table.
                r.message
                    .as_deref()
                    .unwrap_or_default()
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            ]
        })
        .collect();
    table(&["NAME", "STATUS", "DURATION", "MESSAGE"], &rows)
}

/// The reason a job is in its phase: its Failed/Complete/Cancelled condition's, else its last
/// attempt's.
pub fn reason(job: &TestJob) -> Option<String> {
    let status = job.status.as_ref()?;
    let phase = status.phase?.as_str();
    let condition_type = match phase {
        "Succeeded" => "Complete",
        other => other,
    };
    status
        .conditions
        .iter()
        .find(|c| c.type_ == condition_type && c.status == "True")
        .map(|c| c.reason.clone())
        .filter(|r| !r.is_empty())
        .or_else(|| status.attempts.last().and_then(|a| a.reason.clone()))
}

/// The summary line, e.g. `3/5 passed, 2 failed, 0 skipped (TestsFailed)`, or the phase and
/// reason when there are no results.
pub fn summary_line(job: &TestJob) -> String {
    let status = job.status.clone().unwrap_or_default();
    let reason = reason(job).unwrap_or_else(|| {
        status
            .phase
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "Unknown".into())
    });
    let summary = status
        .summary
        .or_else(|| (!status.results.is_empty()).then(|| crate::crd::Summary::of(&status.results)));
    match summary {
        Some(s) => format!(
            "{}/{} passed, {} failed, {} skipped ({reason})",
            s.passed, s.total, s.failed, s.skipped
        ),
        None => format!("no results ({reason})"),
    }
}

/// Everything printed for a finished job: the results table (when there are results), a line
/// on results left out, the summary line and the job's message.
pub fn outcome_report(job: &TestJob) -> String {
    let status = job.status.clone().unwrap_or_default();
    let mut out = String::new();
    if !status.results.is_empty() {
        out.push_str(&results_table(&status.results));
    }
    if let Some(omitted) = status.results_omitted.filter(|o| o.total > 0) {
        out.push_str(&format!(
            "… and {} more results ({} failed) in the stored report: kubectl testjob results {} --format {}\n",
            omitted.total,
            omitted.failed,
            job.metadata.name.as_deref().unwrap_or_default(),
            status
                .report
                .as_ref()
                .map(|r| r.format.to_ascii_lowercase())
                .unwrap_or_else(|| "json".into())
        ));
    }
    out.push_str(&summary_line(job));
    out.push('\n');
    if let (Some(phase), Some(message)) = (status.phase, status.message.as_deref())
        && !message.is_empty()
    {
        out.push_str(&format!("{phase}: {message}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_pad_like_kubectl() {
        let rows = vec![vec!["a".to_owned(), "Running".to_owned()]];
        assert_eq!(
            table(&["NAME", "STATUS"], &rows),
            "NAME   STATUS\na      Running\n"
        );
    }

    #[test]
    fn ages_read_like_kubectl() {
        let s = Duration::from_secs;
        assert_eq!(human_duration(s(5)), "5s");
        assert_eq!(human_duration(s(119)), "119s");
        assert_eq!(human_duration(s(150)), "2m30s");
        assert_eq!(human_duration(s(600)), "10m");
        assert_eq!(human_duration(s(4 * 3600 + 60)), "4h1m");
        assert_eq!(human_duration(s(30 * 3600)), "30h");
        assert_eq!(human_duration(s(3 * 86400 + 3600)), "3d1h");
        assert_eq!(human_duration(s(100 * 86400)), "100d");
    }

    #[test]
    fn step_durations() {
        assert_eq!(step_duration(Some(85)), "85ms");
        assert_eq!(step_duration(Some(1250)), "1.2s");
        assert_eq!(step_duration(Some(125_000)), "2m5s");
        assert_eq!(step_duration(None), "");
    }

    #[test]
    fn summary_line_counts_and_names_the_reason() {
        let job: TestJob = serde_json::from_value(serde_json::json!({
            "apiVersion": "testjob.dev/v1alpha1", "kind": "TestJob",
            "metadata": {"name": "j"},
            "spec": {"testId": 1},
            "status": {
                "phase": "Failed",
                "summary": {"total": 5, "passed": 3, "failed": 2, "skipped": 0},
                "conditions": [{"type": "Failed", "status": "True", "reason": "TestsFailed",
                    "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}],
                "message": "2 failed",
                "results": [{"name": "pay", "status": "failed", "durationMs": 310, "message": "got 500\nmore"}]
            }
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            summary_line(&job),
            "3/5 passed, 2 failed, 0 skipped (TestsFailed)"
        );
        let report = outcome_report(&job);
        assert!(
            report.starts_with(
                "NAME   STATUS   DURATION   MESSAGE\npay    failed   310ms      got 500\n"
            ),
            "{report}"
        );
        assert!(report.ends_with("Failed: 2 failed\n"), "{report}");
    }
}
