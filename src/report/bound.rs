//! The bounding rule for `status.results`: at most [`Limits::max_entries`] results, failures and
//! errors first (each group in report order), names and messages cut on UTF-8 boundaries with a
//! `…` marker so that the results serialise to at most [`Limits::max_json_bytes`] of JSON, with
//! counts of what was left out.
//!
//! Messages share the JSON budget: failures' and errors' messages are all cut to the same cap,
//! the largest in `0..=max_message_bytes` that fits (so a few failures keep up to 1 KiB each and
//! 100 keep a short line each), and the other messages (skip reasons) get what room is left after
//! that. When the results do not fit even without messages, names are cut the same way down to
//! [`MIN_NAME_BYTES`], and only then are entries dropped from the end (and counted as omitted).

use std::io;

use crate::crd::{ResultStatus, Summary, TestResult};
use crate::results::truncate_bytes;

use super::Omitted;

/// Names are never cut shorter than this while entries can still be dropped instead.
pub const MIN_NAME_BYTES: usize = 24;

/// How much of a report's results goes into `status.results`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most entries kept.
    pub max_entries: usize,
    /// Longest name kept, in bytes.
    pub max_name_bytes: usize,
    /// Longest message kept, in bytes.
    pub max_message_bytes: usize,
    /// Most bytes of the JSON of all kept results (the rest of the 16 KiB status needs room).
    pub max_json_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 100,
            max_name_bytes: 256,
            max_message_bytes: 1024,
            max_json_bytes: 10 * 1024,
        }
    }
}

/// Counts every result pushed and keeps the ones [`bound`] would keep, so that a streaming parser
/// holds at most `2 × max_entries` cut results whatever the report's size.
#[derive(Debug)]
pub struct Bounder {
    limits: Limits,
    summary: Summary,
    failures: Vec<TestResult>,
    others: Vec<TestResult>,
    omitted: Omitted,
}

impl Bounder {
    /// An empty bounder.
    pub fn new(limits: Limits) -> Self {
        Bounder {
            limits,
            summary: Summary::default(),
            failures: Vec::new(),
            others: Vec::new(),
            omitted: Omitted::default(),
        }
    }

    /// Counts `result` and keeps it (cut) while there is room for its group.
    pub fn push(&mut self, mut result: TestResult) {
        let summary = &mut self.summary;
        summary.total = summary.total.saturating_add(1);
        let failure = match result.status {
            ResultStatus::Passed => {
                summary.passed = summary.passed.saturating_add(1);
                false
            }
            ResultStatus::Skipped => {
                summary.skipped = summary.skipped.saturating_add(1);
                false
            }
            ResultStatus::Failed | ResultStatus::Error => {
                summary.failed = summary.failed.saturating_add(1);
                true
            }
        };
        let group = if failure {
            &mut self.failures
        } else {
            &mut self.others
        };
        if group.len() >= self.limits.max_entries {
            count(&mut self.omitted, result.status);
            return;
        }
        cut_in_place(
            &mut result,
            self.limits.max_name_bytes,
            self.limits.max_message_bytes,
        );
        group.push(result);
    }

    /// Forgets everything pushed so far (a JSON report's last `results` wins).
    pub(crate) fn reset(&mut self) {
        *self = Bounder::new(self.limits.clone());
    }

    /// The counts so far.
    pub fn summary(&self) -> Summary {
        self.summary
    }

    /// The kept results (failures and errors first, fitted to the JSON budget), what was left
    /// out, and the counts of everything pushed.
    pub fn finish(self) -> (Vec<TestResult>, Omitted, Summary) {
        let Bounder {
            limits,
            summary,
            failures,
            others,
            mut omitted,
        } = self;
        let mut kept = failures;
        for result in others {
            if kept.len() < limits.max_entries {
                kept.push(result);
            } else {
                count(&mut omitted, result.status);
            }
        }
        let kept = fit(kept, &limits, &mut omitted);
        (kept, omitted, summary)
    }
}

/// The bounding rule over any results: what [`Bounder`] keeps of them, and what it left out.
pub fn bound(
    results: impl Iterator<Item = TestResult>,
    limits: &Limits,
) -> (Vec<TestResult>, Omitted) {
    let mut bounder = Bounder::new(limits.clone());
    results.for_each(|result| bounder.push(result));
    let (kept, omitted, _) = bounder.finish();
    (kept, omitted)
}

fn count(omitted: &mut Omitted, status: ResultStatus) {
    let field = match status {
        ResultStatus::Passed => &mut omitted.passed,
        ResultStatus::Failed => &mut omitted.failed,
        ResultStatus::Skipped => &mut omitted.skipped,
        ResultStatus::Error => &mut omitted.error,
    };
    *field = field.saturating_add(1);
}

/// Cuts a result's name and message (a cap of 0 drops the message).
fn cut_in_place(result: &mut TestResult, name_cap: usize, message_cap: usize) {
    if result.name.len() > name_cap {
        result.name = truncate_bytes(&result.name, name_cap);
    }
    if message_cap == 0 {
        result.message = None;
    } else if let Some(message) = &mut result.message
        && message.len() > message_cap
    {
        *message = truncate_bytes(message, message_cap);
    }
}

fn is_failure(result: &TestResult) -> bool {
    matches!(result.status, ResultStatus::Failed | ResultStatus::Error)
}

/// Caps for one cut of the kept results.
#[derive(Clone, Copy)]
struct Caps {
    name: usize,
    /// For failures' and errors' messages.
    failure: usize,
    /// For the other messages (skip reasons …), which yield their room to failures first.
    other: usize,
}

fn cut(results: &[TestResult], caps: Caps) -> Vec<TestResult> {
    results
        .iter()
        .map(|result| {
            let mut result = result.clone();
            let message_cap = if is_failure(&result) {
                caps.failure
            } else {
                caps.other
            };
            cut_in_place(&mut result, caps.name, message_cap);
            result
        })
        .collect()
}

/// Size of the JSON of `results`, without building it.
pub(crate) fn json_len(results: &[TestResult]) -> usize {
    struct Counter(usize);
    impl io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Serialising plain structs into a counter cannot fail; an error would only over-count.
    match serde_json::to_writer(&mut counter, results) {
        Ok(()) => counter.0,
        Err(_) => usize::MAX,
    }
}

/// The largest cap in `low..=high` for which `fits(cap)` holds, assuming `fits` is monotone and
/// holds at `low`.
fn largest(low: usize, high: usize, fits: impl Fn(usize) -> bool) -> usize {
    let (mut good, mut bad) = (low, high + 1);
    while bad - good > 1 {
        let mid = good + (bad - good) / 2;
        if fits(mid) {
            good = mid;
        } else {
            bad = mid;
        }
    }
    good
}

/// Cuts `kept` to the JSON budget (see the module documentation).
fn fit(kept: Vec<TestResult>, limits: &Limits, omitted: &mut Omitted) -> Vec<TestResult> {
    let budget = limits.max_json_bytes;
    let fits = |caps: Caps| json_len(&cut(&kept, caps)) <= budget;
    if json_len(&kept) <= budget {
        return kept;
    }
    let max = limits.max_message_bytes;
    let name = limits.max_name_bytes;
    let bare = Caps {
        name,
        failure: 0,
        other: 0,
    };
    if fits(bare) {
        let failure = largest(0, max, |cap| {
            fits(Caps {
                failure: cap,
                ..bare
            })
        });
        let other = if failure == max {
            largest(0, max, |cap| {
                fits(Caps {
                    failure,
                    other: cap,
                    ..bare
                })
            })
        } else {
            0
        };
        return cut(
            &kept,
            Caps {
                name,
                failure,
                other,
            },
        );
    }
    let min_name = MIN_NAME_BYTES.min(name);
    let shortest = Caps {
        name: min_name,
        ..bare
    };
    if fits(shortest) {
        let name = largest(min_name, name, |cap| fits(Caps { name: cap, ..bare }));
        return cut(&kept, Caps { name, ..bare });
    }
    let mut kept = cut(&kept, shortest);
    while json_len(&kept) > budget {
        match kept.pop() {
            Some(dropped) => count(omitted, dropped.status),
            None => break,
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &str, status: ResultStatus, message: Option<&str>) -> TestResult {
        TestResult {
            name: name.to_owned(),
            status,
            duration_ms: Some(12),
            message: message.map(str::to_owned),
        }
    }

    #[test]
    fn failures_and_errors_come_first_in_report_order() {
        let input = vec![
            result("p1", ResultStatus::Passed, None),
            result("f1", ResultStatus::Failed, Some("boom")),
            result("s1", ResultStatus::Skipped, None),
            result("e1", ResultStatus::Error, Some("setup")),
            result("p2", ResultStatus::Passed, None),
        ];
        let (kept, omitted) = bound(input.into_iter(), &Limits::default());
        let names: Vec<_> = kept.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["f1", "e1", "p1", "s1", "p2"]);
        assert_eq!(omitted, Omitted::default());
        assert_eq!(kept[0].message.as_deref(), Some("boom"));
    }

    #[test]
    fn at_most_max_entries_with_counts_of_the_rest() {
        let input = (0..150)
            .map(|i| result(&format!("p{i}"), ResultStatus::Passed, None))
            .chain((0..120).map(|i| result(&format!("f{i}"), ResultStatus::Failed, None)))
            .chain((0..5).map(|i| result(&format!("e{i}"), ResultStatus::Error, None)))
            .chain((0..7).map(|i| result(&format!("s{i}"), ResultStatus::Skipped, None)));
        let mut bounder = Bounder::new(Limits::default());
        input.for_each(|r| bounder.push(r));
        let (kept, omitted, summary) = bounder.finish();
        assert_eq!(kept.len(), 100);
        assert!(kept.iter().all(|r| r.status == ResultStatus::Failed));
        assert_eq!(kept[0].name, "f0");
        assert_eq!(
            omitted,
            Omitted {
                passed: 150,
                failed: 20,
                skipped: 7,
                error: 5
            }
        );
        assert_eq!(
            summary,
            Summary {
                total: 282,
                passed: 150,
                failed: 125,
                skipped: 7
            }
        );
        assert_eq!(summary.total, kept.len() as i32 + omitted.total());
    }

    #[test]
    fn few_failures_keep_a_kibibyte_of_message() {
        let long = "x".repeat(5000);
        let (kept, _) = bound(
            (0..3).map(|i| result(&format!("f{i}"), ResultStatus::Failed, Some(&long))),
            &Limits::default(),
        );
        for r in &kept {
            let message = r.message.as_deref().unwrap_or_default();
            assert!(
                message.len() <= 1024 && message.len() > 1000,
                "{}",
                message.len()
            );
            assert!(message.ends_with('…'));
        }
    }

    #[test]
    fn pathological_results_stay_under_the_json_budget() {
        let message = "é".repeat(512 * 1024); // 1 MiB, two bytes per character
        let name = "n".repeat(10 * 1024);
        let (kept, omitted) = bound(
            (0..100).map(|_| result(&name, ResultStatus::Failed, Some(&message))),
            &Limits::default(),
        );
        let json = serde_json::to_string(&kept).unwrap();
        assert!(json.len() <= 10 * 1024, "{} bytes", json.len());
        assert_eq!(kept.len() as i32 + omitted.total(), 100);
        assert!(kept.len() >= 50, "kept only {}", kept.len());
        for r in &kept {
            assert!(r.name.len() <= 256 && r.name.ends_with('…'));
        }
    }

    #[test]
    fn escapes_count_against_the_budget() {
        // Control characters serialise as six bytes each (`\u0001`).
        let nasty = "\u{1}".repeat(300);
        let (kept, omitted) = bound(
            (0..100).map(|_| result(&nasty, ResultStatus::Error, Some(&nasty))),
            &Limits::default(),
        );
        let json = serde_json::to_string(&kept).unwrap();
        assert!(json.len() <= 10 * 1024, "{} bytes", json.len());
        assert_eq!(kept.len() as i32 + omitted.total(), 100);
        assert_eq!(omitted.error, 100 - kept.len() as i32);
    }

    #[test]
    fn failures_messages_get_the_room_before_skip_reasons() {
        let reason = "r".repeat(1000);
        let failure = "f".repeat(100);
        let input = (0..10)
            .map(|i| result(&format!("f{i}"), ResultStatus::Failed, Some(&failure)))
            .chain((0..90).map(|i| result(&format!("s{i}"), ResultStatus::Skipped, Some(&reason))));
        let (kept, _) = bound(input, &Limits::default());
        assert!(serde_json::to_string(&kept).unwrap().len() <= 10 * 1024);
        assert!(
            kept[..10]
                .iter()
                .all(|r| r.message.as_deref() == Some(failure.as_str()))
        );
        assert!(
            kept[10..]
                .iter()
                .all(|r| r.message.as_ref().is_none_or(|m| m.len() < 100))
        );
    }

    #[test]
    fn cuts_respect_utf8_boundaries() {
        let (kept, _) = bound(
            std::iter::once(result(&"日本".repeat(200), ResultStatus::Failed, None)),
            &Limits::default(),
        );
        assert!(kept[0].name.len() <= 256 && kept[0].name.ends_with('…'));
    }
}
