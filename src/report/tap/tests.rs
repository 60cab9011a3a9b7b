//! TAP semantics: Test::More output, TAP 14 YAML and subtests, plans, TODO, SKIP, Bail out!,
//! truncation and bounded diagnostics.

use crate::crd::{ResultStatus, Summary};
use crate::report::{Format, Parsed, ReportError, parse};

fn tap(text: &str) -> Parsed {
    match parse(text.as_bytes(), Some(Format::Tap)) {
        Ok(parsed) => parsed,
        Err(error) => panic!("{error}"),
    }
}

fn summary(total: i32, passed: i32, failed: i32, skipped: i32) -> Summary {
    Summary {
        total,
        passed,
        failed,
        skipped,
    }
}

fn message(parsed: &Parsed) -> String {
    parsed.message.clone().unwrap_or_default()
}

/// What `perl t.t 2>&1` prints for Test::More (diagnostics interleaved from stderr).
const TEST_MORE: &str = "1..6
ok 1 - first
not ok 2 - second fails
#   Failed test 'second fails'
#   at t.t line 3.
#          got: '1'
#     expected: '2'
ok 3 # skip no db
not ok 4 - todo one # TODO not done
#   Failed (TODO) test 'todo one'
#   at t.t line 5.
# Subtest: group
    1..2
    ok 1 - inner a
    not ok 2 - inner b
    #   Failed test 'inner b'
    #   at t.t line 6.
    # Looks like you failed 1 test of 2.
not ok 5 - group
#   Failed test 'group'
#   at t.t line 6.
ok 6 - escaped \\# hash - kept
# Looks like you failed 2 tests of 6.
";

#[test]
fn test_more_output_is_counted_with_diagnostics() {
    let parsed = tap(TEST_MORE);
    assert_eq!(parsed.format, Format::Tap);
    assert_eq!(parsed.summary, summary(6, 2, 2, 2));
    let second = &parsed.results[0];
    assert_eq!(second.name, "second fails");
    assert_eq!(second.status, ResultStatus::Failed);
    assert_eq!(
        second.message.as_deref(),
        Some("Failed test 'second fails'\nat t.t line 3.\ngot: '1'\nexpected: '2'")
    );
    let group = &parsed.results[1];
    assert_eq!(group.name, "group");
    assert_eq!(
        group.message.as_deref(),
        Some("failed subtest: inner b\nFailed test 'group'\nat t.t line 6.")
    );
    let skip = parsed.results.iter().find(|r| r.name == "test 3");
    assert_eq!(
        skip.map(|r| (r.status, r.message.as_deref())),
        Some((ResultStatus::Skipped, Some("no db")))
    );
    let todo = parsed.results.iter().find(|r| r.name == "todo one");
    assert_eq!(
        todo.map(|r| (r.status, r.message.as_deref())),
        Some((ResultStatus::Skipped, Some("TODO: not done")))
    );
    assert!(
        parsed
            .results
            .iter()
            .any(|r| r.name == "escaped # hash - kept")
    );
    assert_eq!(
        message(&parsed),
        "1 TODO test failed as expected (counted as skipped)"
    );
}

#[test]
fn tap14_with_yaml_and_plan_at_the_end() {
    let parsed = tap("TAP version 14
ok 1 - a
not ok 2 - b
  ---
  message: 'expected 1, got 2'
  severity: fail
  data:
    got: 2
  ...
# Subtest: nested
    ok 1 - leaf
    1..1
ok 3 - nested
ok 4 - bonus # TODO later
not ok 5 - no yaml message
  ---
  at: file.js:3
  ...
1..5
");
    assert_eq!(parsed.summary, summary(5, 3, 2, 0));
    assert_eq!(
        parsed.results[0].message.as_deref(),
        Some("expected 1, got 2")
    );
    assert_eq!(parsed.results[1].message.as_deref(), Some("at: file.js:3"));
    assert_eq!(
        message(&parsed),
        "1 TODO test passed unexpectedly (counted as passed)"
    );
}

#[test]
fn unclosed_yaml_ends_at_the_next_test() {
    let parsed = tap("1..2\nnot ok 1 - x\n  ---\n  message: boom\nok 2 - y\n");
    assert_eq!(parsed.summary, summary(2, 1, 1, 0));
    assert_eq!(parsed.results[0].message.as_deref(), Some("boom"));
}

#[test]
fn a_plan_that_does_not_match_is_reported() {
    let parsed = tap("1..10\nok 1\nok 2\nok 3\nok 4\nok 5\nok 6\nok 7\nok 8\n");
    assert_eq!(parsed.summary, summary(8, 8, 0, 0));
    assert_eq!(message(&parsed), "TAP plan 1..10 but 8 tests ran");

    let parsed = tap("ok 1\nok 2\n");
    assert!(message(&parsed).starts_with("no TAP plan (1..N): 2 tests ran"));

    let parsed = tap("1..2\nok 1\nok 3\n");
    assert_eq!(
        message(&parsed),
        "test number 3 out of sequence (expected 2)"
    );
}

#[test]
fn skip_all_plan() {
    let parsed = tap("1..0 # SKIP no database here\n");
    assert_eq!(parsed.summary, summary(0, 0, 0, 0));
    assert_eq!(
        message(&parsed),
        "TAP plan 1..0: all tests skipped (no database here)"
    );
}

#[test]
fn bail_out_stops_and_counts_as_one_failure() {
    let parsed = tap("1..10\nok 1 - a\nok 2 - b\nBail out! database down\nok 3 - never read\n");
    assert_eq!(parsed.summary, summary(3, 2, 1, 0));
    assert_eq!(parsed.results[0].name, "Bail out!");
    assert_eq!(parsed.results[0].message.as_deref(), Some("database down"));
    assert_eq!(
        message(&parsed),
        "Bail out! database down (stopped after 2 of 10 planned tests; tests that never ran are not counted)"
    );
}

#[test]
fn truncated_mid_line_is_reported() {
    let parsed = tap("1..4\nok 1 - a\nok 2 - b\nnot o");
    assert_eq!(parsed.summary, summary(2, 2, 0, 0));
    assert_eq!(
        message(&parsed),
        "TAP plan 1..4 but 2 tests ran; report ends early (truncated?): the last line has no newline"
    );
}

#[test]
fn directives_and_descriptions() {
    let parsed = tap(
        "1..5\nok 1 - plain\nnot ok 2 # SKIPPED: not here\nok 3 -no space\nok 4 - comment # not a directive\nnot ok - unnumbered\n",
    );
    assert_eq!(parsed.summary, summary(5, 3, 1, 1));
    let names: Vec<_> = parsed.results.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "unnumbered",
            "plain",
            "test 2",
            "no space",
            "comment # not a directive"
        ]
    );
    assert_eq!(parsed.results[2].message.as_deref(), Some("not here"));
}

#[test]
fn long_diagnostics_are_bounded() {
    let mut text = String::from("1..1\nnot ok 1 - huge\n");
    for _ in 0..100_000 {
        text.push_str("# a very long diagnostic line\n");
    }
    let parsed = tap(&text);
    let message = parsed.results[0].message.as_deref().unwrap_or_default();
    assert!(message.len() <= 1024, "{}", message.len());
}

#[test]
fn not_tap_is_a_clear_error() {
    match parse(b"hello\nworld\n", Some(Format::Tap)) {
        Err(error @ ReportError::NotTap(_)) => {
            assert!(
                error.to_string().contains("no plan or test line found"),
                "{error}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn thousands_of_tests_are_counted_exactly() {
    let mut text = String::from("TAP version 13\n1..30000\n");
    for i in 1..=30000 {
        if i % 7 == 0 {
            text.push_str(&format!(
                "not ok {i} - t{i}\n  ---\n  message: m{i}\n  ...\n"
            ));
        } else {
            text.push_str(&format!("ok {i} - t{i}\n"));
        }
    }
    let parsed = tap(&text);
    assert_eq!(parsed.summary, summary(30000, 25715, 4285, 0));
    assert_eq!(parsed.results.len(), 100);
    assert_eq!(parsed.results[0].name, "t7");
    assert_eq!(parsed.results[0].message.as_deref(), Some("m7"));
    assert_eq!(parsed.omitted.failed, 4185);
    assert_eq!(parsed.message, None);
}
