//! Generated reports with known counts, for tests here and end-to-end tests elsewhere (hidden
//! from the documentation: not part of the operator's behaviour).
//!
//! Case `i` (from 0) of [`sample_junit`] is named `sample.Suite{i / 1000}.test_{i}` and is
//! an error when `i % 50 == 9`, failed when `i % 10 == 3`, skipped when `i % 25 == 7`, and
//! passed otherwise (the rules never overlap); [`sample_summary`] gives the counts.

use std::fmt::Write as _;

use crate::crd::{ResultStatus, Summary};

/// Status of case `i`.
pub fn sample_status(i: usize) -> ResultStatus {
    if i % 50 == 9 {
        ResultStatus::Error
    } else if i % 10 == 3 {
        ResultStatus::Failed
    } else if i % 25 == 7 {
        ResultStatus::Skipped
    } else {
        ResultStatus::Passed
    }
}

/// Name of case `i` as the parser reports it (`classname.name`).
pub fn sample_name(i: usize) -> String {
    format!("sample.Suite{}.test_{i}", i / 1000)
}

/// Message of case `i` when it failed or errored.
pub fn sample_message(i: usize) -> String {
    format!("expected {i} but was {}", i + 1)
}

/// The summary of `cases` cases.
pub fn sample_summary(cases: usize) -> Summary {
    let mut summary = Summary::default();
    for i in 0..cases {
        summary.total += 1;
        match sample_status(i) {
            ResultStatus::Passed => summary.passed += 1,
            ResultStatus::Failed | ResultStatus::Error => summary.failed += 1,
            ResultStatus::Skipped => summary.skipped += 1,
        }
    }
    summary
}

/// A JUnit XML report of `cases` test cases in suites of 1,000 (as Surefire writes them), each
/// padded with `system-out` so that the report is about `bytes` long (at least its bare size).
pub fn sample_junit(cases: usize, bytes: usize) -> String {
    let bare = junit_with_padding(cases, 0);
    let pad = bytes.saturating_sub(bare.len()).div_ceil(cases.max(1));
    if pad == 0 {
        bare
    } else {
        junit_with_padding(cases, pad)
    }
}

fn junit_with_padding(cases: usize, pad: usize) -> String {
    let filler: String = "log line of the test run\n"
        .chars()
        .cycle()
        .take(pad)
        .collect();
    let mut xml = String::with_capacity(cases * (200 + pad) + 1024);
    let summary = sample_summary(cases);
    let _ = write!(
        xml,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"sample\" tests=\"{}\" failures=\"{}\">\n",
        summary.total, summary.failed
    );
    for i in 0..cases {
        if i % 1000 == 0 {
            if i > 0 {
                xml.push_str("  </testsuite>\n");
            }
            let _ = writeln!(
                xml,
                "  <testsuite name=\"sample.Suite{}\" tests=\"{}\">",
                i / 1000,
                (cases - i).min(1000)
            );
            xml.push_str("    <properties><property name=\"seed\" value=\"42\"/></properties>\n");
        }
        let _ = write!(
            xml,
            "    <testcase classname=\"sample.Suite{}\" name=\"test_{i}\" time=\"0.{:03}\">",
            i / 1000,
            i % 1000
        );
        match sample_status(i) {
            ResultStatus::Passed => {}
            ResultStatus::Failed => {
                let _ = write!(
                    xml,
                    "<failure message=\"{}\" type=\"AssertionError\">Traceback &lt;most recent call last&gt;\n  at line {i}</failure>",
                    sample_message(i)
                );
            }
            ResultStatus::Error => {
                let _ = write!(
                    xml,
                    "<error type=\"RuntimeError\">{}\n  in fixture setup</error>",
                    sample_message(i)
                );
            }
            ResultStatus::Skipped => xml.push_str("<skipped message=\"not on this platform\"/>"),
        }
        let _ = writeln!(
            xml,
            "<system-out><![CDATA[{filler}]]></system-out></testcase>"
        );
    }
    if cases > 0 {
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}
