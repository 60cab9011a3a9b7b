//! The results protocol: what a runner writes to `$TESTJOB_RESULTS_FILE`, and how the controller
//! reads it back from the terminated container's `state.terminated.message`.
//!
//! The runner writes `{"results": [{"name": ..., "status": "passed|failed|skipped|error",
//! "durationMs": ..., "message": ...}], "message": "..."}`. Everything here is defensive: the text
//! comes from arbitrary user code, so any shape problem becomes a [`ReportProblem`] with a clear
//! description, never a panic or an error that would stall the controller.

use std::fmt;

use serde_json::{Map, Value};

use crate::crd::{ResultStatus, TestResult};

/// The most bytes the kubelet copies from a termination message file; longer files are cut.
pub const MAX_RESULTS_BYTES: usize = 4096;
/// Longest step name kept in status.
const MAX_NAME_CHARS: usize = 256;
/// Longest per-step or overall message kept in status.
const MAX_MESSAGE_CHARS: usize = 1024;
/// How much of unreadable output is quoted back in the status message.
const PREVIEW_CHARS: usize = 120;

/// What the controller made of a runner's results file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunnerReport {
    /// Well-formed results, in the order the runner wrote them.
    pub results: Vec<TestResult>,
    /// The runner's own summary message, if it wrote one.
    pub message: Option<String>,
    /// Why the file could not be (fully) used, if it could not.
    pub problem: Option<ReportProblem>,
}

/// A results file that could not be (fully) read.
#[derive(Clone, Debug, PartialEq)]
pub enum ReportProblem {
    /// Empty or absent.
    Missing,
    /// At or over [`MAX_RESULTS_BYTES`]; a real kubelet cuts the file there, so it cannot be trusted.
    Oversized {
        /// Size of the text seen by the controller.
        bytes: usize,
    },
    /// Not JSON at all.
    InvalidJson {
        /// The parser's complaint.
        error: String,
        /// The start of the text, for the user to recognise it.
        preview: String,
    },
    /// Valid JSON but not an object with the expected fields.
    WrongShape {
        /// What was wrong.
        detail: String,
    },
    /// Some entries of `results` were unusable and were dropped.
    MalformedEntries {
        /// How many were dropped.
        ignored: usize,
        /// Why the first one was dropped.
        first_error: String,
    },
}

impl fmt::Display for ReportProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReportProblem::Missing => f.write_str("no results file was written"),
            ReportProblem::Oversized { bytes } if *bytes > MAX_RESULTS_BYTES => write!(
                f,
                "the results file is too large ({bytes} bytes; the limit is {MAX_RESULTS_BYTES} bytes), so its results were ignored"
            ),
            ReportProblem::Oversized { .. } => write!(
                f,
                "the results file reached the {MAX_RESULTS_BYTES}-byte limit and was cut off, so its results were ignored"
            ),
            ReportProblem::InvalidJson { error, preview } => write!(
                f,
                "the results file is not valid JSON ({error}); it starts with {preview:?}"
            ),
            ReportProblem::WrongShape { detail } => {
                write!(f, "the results file has the wrong shape: {detail}")
            }
            ReportProblem::MalformedEntries {
                ignored,
                first_error,
            } => write!(
                f,
                "{ignored} malformed result entr{} ignored ({first_error})",
                if *ignored == 1 { "y was" } else { "ies were" }
            ),
        }
    }
}

/// Parses the termination message of the runner container.
pub fn parse_report(raw: Option<&str>) -> RunnerReport {
    let text = raw.unwrap_or_default();
    if text.trim().is_empty() {
        return problem(ReportProblem::Missing);
    }
    if text.len() > MAX_RESULTS_BYTES {
        return problem(ReportProblem::Oversized { bytes: text.len() });
    }
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        // A file cut at exactly the kubelet limit is almost certainly a truncated big file.
        Err(_) if text.len() == MAX_RESULTS_BYTES => {
            return problem(ReportProblem::Oversized { bytes: text.len() });
        }
        Err(error) => {
            return problem(ReportProblem::InvalidJson {
                error: error.to_string(),
                preview: preview(text),
            });
        }
    };
    let Value::Object(object) = value else {
        return problem(ReportProblem::WrongShape {
            detail: format!(
                "expected an object like {{\"results\": [...]}}, got {}",
                json_type(&value)
            ),
        });
    };
    parse_object(&object)
}

fn parse_object(object: &Map<String, Value>) -> RunnerReport {
    let message = match object.get("message") {
        Some(Value::String(m)) if !m.trim().is_empty() => {
            Some(truncate(m.trim(), MAX_MESSAGE_CHARS))
        }
        _ => None,
    };
    let entries = match object.get("results") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(entries)) => entries.as_slice(),
        Some(other) => {
            return RunnerReport {
                results: vec![],
                message,
                problem: Some(ReportProblem::WrongShape {
                    detail: format!("\"results\" must be a list, got {}", json_type(other)),
                }),
            };
        }
    };
    let mut results = Vec::with_capacity(entries.len());
    let mut ignored = 0;
    let mut first_error = None;
    for (index, entry) in entries.iter().enumerate() {
        match parse_entry(entry) {
            Ok(result) => results.push(result),
            Err(error) => {
                ignored += 1;
                first_error.get_or_insert_with(|| format!("entry {}: {error}", index + 1));
            }
        }
    }
    let problem = first_error.map(|first_error| ReportProblem::MalformedEntries {
        ignored,
        first_error,
    });
    RunnerReport {
        results,
        message,
        problem,
    }
}

/// Reads one entry of `results`; also used by [`crate::report`] for JSON reports of any size.
pub(crate) fn parse_entry(entry: &Value) -> Result<TestResult, String> {
    let Value::Object(entry) = entry else {
        return Err(format!("expected an object, got {}", json_type(entry)));
    };
    let name = match entry.get("name") {
        Some(Value::String(name)) if !name.trim().is_empty() => {
            truncate(name.trim(), MAX_NAME_CHARS)
        }
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err("\"name\" must be a non-empty string".to_owned()),
    };
    let status = match entry.get("status").and_then(Value::as_str) {
        Some(s) => parse_status(s).ok_or_else(|| {
            format!("\"status\" must be passed, failed, skipped or error, got {s:?}")
        })?,
        None => return Err("\"status\" must be passed, failed, skipped or error".to_owned()),
    };
    // Durations are informative only, so a bad one is dropped rather than failing the entry.
    let duration_ms = entry
        .get("durationMs")
        .and_then(Value::as_f64)
        .filter(|ms| ms.is_finite() && *ms >= 0.0 && *ms < i64::MAX as f64)
        .map(|ms| ms.round() as i64);
    let message = match entry.get("message") {
        Some(Value::String(m)) if !m.is_empty() => Some(truncate(m, MAX_MESSAGE_CHARS)),
        _ => None,
    };
    Ok(TestResult {
        name,
        status,
        duration_ms,
        message,
    })
}

fn parse_status(s: &str) -> Option<ResultStatus> {
    match s.trim().to_ascii_lowercase().as_str() {
        "passed" => Some(ResultStatus::Passed),
        "failed" => Some(ResultStatus::Failed),
        "skipped" => Some(ResultStatus::Skipped),
        "error" => Some(ResultStatus::Error),
        _ => None,
    }
}

fn problem(problem: ReportProblem) -> RunnerReport {
    RunnerReport {
        problem: Some(problem),
        ..RunnerReport::default()
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The first characters of `text` on one line, for quoting in a status message.
pub fn preview(text: &str) -> String {
    let one_line: String = text
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    truncate(&one_line, PREVIEW_CHARS)
}

/// The last characters of `text` on one line (log tails are most useful at the end).
pub fn tail(text: &str) -> String {
    let one_line: String = text
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let count = one_line.chars().count();
    if count <= PREVIEW_CHARS {
        one_line
    } else {
        let skipped: String = one_line.chars().skip(count - PREVIEW_CHARS).collect();
        format!("…{skipped}")
    }
}

/// Cuts `text` to at most `max` characters, marking the cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

/// Cuts `text` to at most `max` bytes on a character boundary, marking the cut.
pub fn truncate_bytes(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let marker = '…';
    let room = max.saturating_sub(marker.len_utf8());
    let end = (0..=room)
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    format!("{}{marker}", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_report_is_read_in_order() {
        let report = parse_report(Some(
            r#"{"results":[
                {"name":"login","status":"passed","durationMs":120},
                {"name":"pay","status":"FAILED","message":"expected 200, got 500"},
                {"name":"refund","status":"skipped"},
                {"name":"audit","status":"error","durationMs":1.6}
            ],"message":"3 of 4 ran"}"#,
        ));
        assert_eq!(report.problem, None);
        assert_eq!(report.message.as_deref(), Some("3 of 4 ran"));
        let names: Vec<_> = report.results.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["login", "pay", "refund", "audit"]);
        assert_eq!(report.results[0].duration_ms, Some(120));
        assert_eq!(report.results[1].status, ResultStatus::Failed);
        assert_eq!(
            report.results[1].message.as_deref(),
            Some("expected 200, got 500")
        );
        assert_eq!(report.results[3].duration_ms, Some(2));
    }

    #[test]
    fn missing_or_blank_is_missing() {
        assert_eq!(parse_report(None).problem, Some(ReportProblem::Missing));
        assert_eq!(
            parse_report(Some("  \n")).problem,
            Some(ReportProblem::Missing)
        );
        assert!(
            ReportProblem::Missing
                .to_string()
                .contains("no results file")
        );
    }

    #[test]
    fn garbage_is_invalid_json_with_a_preview() {
        let report = parse_report(Some("this is not json\x07 at all"));
        match report.problem {
            Some(ReportProblem::InvalidJson { ref preview, .. }) => {
                assert_eq!(preview, "this is not json  at all");
            }
            ref other => panic!("unexpected {other:?}"),
        }
        assert!(report.results.is_empty());
        let text = report.problem.map(|p| p.to_string()).unwrap_or_default();
        assert!(text.contains("not valid JSON"), "{text}");
    }

    #[test]
    fn oversized_is_rejected_before_parsing() {
        let big = format!(
            r#"{{"results":[],"message":"{}"}}"#,
            "x".repeat(MAX_RESULTS_BYTES)
        );
        let report = parse_report(Some(&big));
        assert_eq!(
            report.problem,
            Some(ReportProblem::Oversized { bytes: big.len() })
        );
        assert!(
            report
                .problem
                .map(|p| p.to_string())
                .unwrap_or_default()
                .contains("4096")
        );
    }

    #[test]
    fn text_cut_at_the_kubelet_limit_counts_as_oversized() {
        let cut = format!(r#"{{"results":[{}"#, " ".repeat(MAX_RESULTS_BYTES - 12));
        assert_eq!(cut.len(), MAX_RESULTS_BYTES);
        let problem = parse_report(Some(&cut)).problem;
        assert_eq!(
            problem,
            Some(ReportProblem::Oversized {
                bytes: MAX_RESULTS_BYTES
            })
        );
        let text = problem.map(|p| p.to_string()).unwrap_or_default();
        assert!(text.contains("4096-byte limit and was cut off"), "{text}");
    }

    #[test]
    fn wrong_shapes_are_described() {
        let array = parse_report(Some("[1,2]"));
        assert!(
            matches!(array.problem, Some(ReportProblem::WrongShape { ref detail }) if detail.contains("got a list"))
        );
        let results_not_list = parse_report(Some(r#"{"results":"all good","message":"hi"}"#));
        assert_eq!(results_not_list.message.as_deref(), Some("hi"));
        assert!(
            matches!(results_not_list.problem, Some(ReportProblem::WrongShape { ref detail }) if detail.contains("\"results\" must be a list"))
        );
    }

    #[test]
    fn malformed_entries_are_dropped_and_counted() {
        let report = parse_report(Some(
            r#"{"results":[{"name":"ok","status":"passed"},{"status":"passed"},{"name":"x","status":"meh"},7]}"#,
        ));
        assert_eq!(report.results.len(), 1);
        match report.problem {
            Some(ReportProblem::MalformedEntries {
                ignored,
                ref first_error,
            }) => {
                assert_eq!(ignored, 3);
                assert!(first_error.starts_with("entry 2:"), "{first_error}");
            }
            ref other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn empty_object_has_no_results_and_no_problem() {
        assert_eq!(parse_report(Some("{}")), RunnerReport::default());
    }

    #[test]
    fn bad_durations_are_dropped_not_fatal() {
        let report = parse_report(Some(
            r#"{"results":[{"name":"a","status":"passed","durationMs":-5},{"name":"b","status":"passed","durationMs":"fast"}]}"#,
        ));
        assert_eq!(report.problem, None);
        assert!(report.results.iter().all(|r| r.duration_ms.is_none()));
    }

    #[test]
    fn long_fields_are_truncated() {
        let long = "n".repeat(1000);
        let report = parse_report(Some(&format!(
            r#"{{"results":[{{"name":"{long}","status":"passed"}}]}}"#
        )));
        assert_eq!(report.results[0].name.chars().count(), MAX_NAME_CHARS);
        assert!(report.results[0].name.ends_with('…'));
    }

    #[test]
    fn truncate_bytes_respects_char_boundaries() {
        assert_eq!(truncate_bytes("short", 10), "short");
        let cut = truncate_bytes(&"é".repeat(600), 1024);
        assert!(cut.len() <= 1024 && cut.ends_with('…'), "{}", cut.len());
    }

    #[test]
    fn tail_keeps_the_end() {
        let text = format!("{}END", "a".repeat(500));
        let t = tail(&text);
        assert!(t.starts_with('…') && t.ends_with("END"));
        assert_eq!(tail("short\nlog"), "short log");
    }
}
