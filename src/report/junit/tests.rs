//! JUnit XML semantics: pytest and Surefire shapes, naming, messages, nesting, false counts,
//! entities that must never be expanded, truncation, and a generated 1 MiB report of 5,000 cases.

use crate::crd::{ResultStatus, Summary};
use crate::report::{Format, Parsed, ReportError, parse};

fn junit(xml: &str) -> Parsed {
    match parse(xml.as_bytes(), Some(Format::JUnit)) {
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

const PYTEST: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<testsuites name="pytest tests"><testsuite name="pytest" errors="1" failures="1" skipped="1" tests="4" time="0.05" timestamp="2026-12-03T08:00:00" hostname="h">
<testcase classname="tests.test_suite" name="test_ok[1]" time="0.001"><properties><property name="k" value="v"/></properties></testcase>
<testcase classname="tests.test_suite" name="test_bad[2]" time="1.5"><failure message="assert 2 == 3">def test_bad(n):
&gt;       assert n == 3
E       assert 2 == 3</failure><system-out>lots of output</system-out></testcase>
<testcase classname="tests.test_suite" name="test_skip" time="0.000"><skipped type="pytest.skip" message="not today">tests/test_suite.py:9: not today</skipped></testcase>
<testcase classname="tests.test_suite" name="test_fixture" time="0.002"><error message="failed on setup with &quot;RuntimeError: db down&quot;">@pytest.fixture
E   RuntimeError: db down</error></testcase>
</testsuite></testsuites>"#;

#[test]
fn pytest_report_is_counted_and_named() {
    let parsed = junit(PYTEST);
    assert_eq!(parsed.format, Format::JUnit);
    assert_eq!(parsed.summary, summary(4, 1, 2, 1));
    assert_eq!(parsed.message, None);
    let names: Vec<_> = parsed.results.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "tests.test_suite.test_bad[2]",
            "tests.test_suite.test_fixture",
            "tests.test_suite.test_ok[1]",
            "tests.test_suite.test_skip"
        ]
    );
    let bad = &parsed.results[0];
    assert_eq!(bad.status, ResultStatus::Failed);
    assert_eq!(bad.message.as_deref(), Some("assert 2 == 3"));
    assert_eq!(bad.duration_ms, Some(1500));
    let fixture = &parsed.results[1];
    assert_eq!(fixture.status, ResultStatus::Error);
    assert_eq!(
        fixture.message.as_deref(),
        Some("failed on setup with \"RuntimeError: db down\"")
    );
    assert_eq!(parsed.results[3].message.as_deref(), Some("not today"));
}

#[test]
fn text_is_the_message_without_a_message_attribute() {
    let parsed = junit(
        r#"<testsuite tests="2"><testcase classname="a.B" name="c"><failure type="java.lang.AssertionError">  expected:&lt;1&gt; but was:&lt;2&gt;
	at a.B.c(B.java:10) &amp; more &#x263A;</failure></testcase>
<testcase name="d"><error type="java.lang.NullPointerException"/></testcase></testsuite>"#,
    );
    assert_eq!(parsed.summary, summary(2, 0, 2, 0));
    assert_eq!(
        parsed.results[0].message.as_deref(),
        Some("expected:<1> but was:<2>\n\tat a.B.c(B.java:10) & more ☺")
    );
    assert_eq!(parsed.results[1].name, "d");
    assert_eq!(
        parsed.results[1].message.as_deref(),
        Some("java.lang.NullPointerException")
    );
}

#[test]
fn nested_suites_and_surefire_details() {
    let parsed = junit(
        r#"<?xml version="1.0"?>
<!-- generated -->
<testsuites>
  <testsuite name="outer">
    <testsuite name="inner"><testcase classname="x.Y" name="a" time="1,234.5"/>
      <testcase classname="x.Y" name="b"><flakyFailure message="first try"/></testcase>
    </testsuite>
    <testcase classname="jest suite" name="jest suite renders"/>
    <system-err>noise</system-err>
  </testsuite>
</testsuites>"#,
    );
    assert_eq!(parsed.summary, summary(3, 3, 0, 0));
    assert_eq!(parsed.results[0].duration_ms, Some(1_234_500));
    assert_eq!(parsed.results[1].message, None);
    assert_eq!(parsed.results[2].name, "jest suite renders");
}

#[test]
fn failure_wins_over_skip_and_first_failure_keeps_its_message() {
    let parsed = junit(
        r#"<testsuite><testcase name="t"><skipped/><failure message="one"/><error message="two"/></testcase></testsuite>"#,
    );
    assert_eq!(parsed.results[0].status, ResultStatus::Failed);
    assert_eq!(parsed.results[0].message.as_deref(), Some("one"));
}

#[test]
fn a_false_tests_attribute_is_mentioned_not_trusted() {
    let parsed = junit(
        r#"<testsuites tests="1000000000" failures="999"><testsuite tests="1000000000"><testcase name="a"/><testcase name="b"/><testcase name="c"><failure/></testcase></testsuite></testsuites>"#,
    );
    assert_eq!(parsed.summary, summary(3, 2, 1, 0));
    let message = parsed.message.unwrap_or_default();
    assert!(
        message.contains("says tests=\"1000000000\" but has 3 test cases"),
        "{message}"
    );
}

#[test]
fn suites_claims_are_summed_when_the_root_has_none() {
    let parsed = junit(
        r#"<testsuites><testsuite tests="1"><testcase name="a"/></testsuite><testsuite tests="2"><testcase name="b"/><testcase name="c"/></testsuite></testsuites>"#,
    );
    assert_eq!(parsed.summary.total, 3);
    assert_eq!(parsed.message, None);
}

#[test]
fn billion_laughs_is_not_expanded() {
    let mut xml =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n");
    for i in 1..10 {
        let prev = if i == 1 {
            "lol".to_owned()
        } else {
            format!("lol{}", i - 1)
        };
        xml.push_str(&format!(
            " <!ENTITY lol{i} \"{}\">\n",
            format!("&{prev};").repeat(10)
        ));
    }
    xml.push_str(
        "]>\n<testsuite><testcase name=\"&lol9;\"><failure>&lol9;</failure></testcase></testsuite>",
    );
    let parsed = junit(&xml);
    assert_eq!(parsed.summary, summary(1, 0, 1, 0));
    assert_eq!(parsed.results[0].name, "&lol9;");
    assert_eq!(parsed.results[0].message.as_deref(), Some("&lol9;"));
    assert!(
        parsed
            .message
            .unwrap_or_default()
            .contains("DOCTYPE was ignored"),
    );
}

#[test]
fn external_entities_are_never_read() {
    for target in ["file:///etc/passwd", "http://127.0.0.1:1/"] {
        let xml = format!(
            "<?xml version=\"1.0\"?>\n<!DOCTYPE r [<!ENTITY xxe SYSTEM \"{target}\">]>\n<testsuite><testcase name=\"t&xxe;\"><failure message=\"&xxe;\">&xxe;</failure></testcase></testsuite>"
        );
        let parsed = junit(&xml);
        let everything = format!("{:?}", parsed);
        assert!(!everything.contains("root:"), "{everything}");
        assert_eq!(parsed.results[0].name, "t&xxe;");
        assert_eq!(parsed.results[0].message.as_deref(), Some("&xxe;"));
    }
}

#[test]
fn truncated_report_counts_complete_cases_and_says_so() {
    let xml = crate::report::samples::sample_junit(20, 0);
    let cut = &xml[..xml.find("name=\"test_12\"").unwrap_or(0) + 8];
    let parsed = junit(cut);
    assert_eq!(parsed.summary.total, 12);
    let message = parsed.message.unwrap_or_default();
    assert!(
        message.contains("report ends early (truncated?)"),
        "{message}"
    );
    assert!(message.contains("12 complete test cases"), "{message}");

    // Cut between elements rather than inside a tag.
    let cut = &xml[..xml
        .find("<testcase classname=\"sample.Suite0\" name=\"test_5\"")
        .unwrap_or(0)];
    let parsed = junit(cut);
    assert_eq!(parsed.summary.total, 5);
    assert!(
        parsed
            .message
            .unwrap_or_default()
            .contains("report ends early (truncated?)")
    );
}

#[test]
fn not_junit_is_a_clear_error() {
    let cases = [
        ("<html><body>hi</body></html>", "root element is <html>"),
        ("ok 1 - not xml", "does not start with '<'"),
        ("<testsuite><testcase></testsuite>", "at byte"),
        (
            "<?xml version=\"1.0\"?><!-- nothing -->",
            "no <testsuites> or <testsuite>",
        ),
    ];
    for (xml, expected) in cases {
        match parse(xml.as_bytes(), Some(Format::JUnit)) {
            Err(error @ ReportError::NotJUnit(_)) => {
                let text = error.to_string();
                assert!(text.starts_with("not a JUnit XML report: "), "{text}");
                assert!(text.contains(expected), "{xml}: {text}");
            }
            other => panic!("{xml}: {other:?}"),
        }
    }
}

#[test]
fn sample_of_5000_cases_is_counted_exactly() {
    use crate::report::samples::{sample_junit, sample_message, sample_name, sample_summary};
    let xml = sample_junit(5000, 1024 * 1024);
    assert!(
        xml.len() >= 1024 * 1024 && xml.len() < 1100 * 1024,
        "{}",
        xml.len()
    );
    let parsed = junit(&xml);
    assert_eq!(parsed.summary, sample_summary(5000));
    assert_eq!(parsed.summary, summary(5000, 4200, 600, 200));
    assert_eq!(parsed.message, None);
    assert_eq!(parsed.results.len(), 100);
    assert!(
        parsed
            .results
            .iter()
            .all(|r| r.status != ResultStatus::Passed)
    );
    assert_eq!(parsed.results[0].name, sample_name(3));
    assert_eq!(parsed.results[1].name, sample_name(9));
    assert_eq!(parsed.results[1].status, ResultStatus::Error);
    // A hundred failures share the 10 KiB budget, so each message keeps a prefix.
    let kept = parsed.results[1].message.as_deref().unwrap_or_default();
    assert!(kept.len() >= 8, "{kept:?}");
    assert!(
        sample_message(9).starts_with(kept.trim_end_matches('…')),
        "{kept:?}"
    );
    assert!(
        serde_json::to_string(&parsed.results)
            .unwrap_or_default()
            .len()
            <= 10 * 1024
    );
    assert_eq!(
        parsed.omitted.total() + parsed.results.len() as i32,
        parsed.summary.total
    );
    assert_eq!(parsed.omitted.passed, 4200);
    assert_eq!(parsed.omitted.skipped, 200);
}

#[test]
fn concatenated_reports_are_all_counted() {
    use crate::report::samples::{sample_junit, sample_summary};
    let both = format!("{}{}", sample_junit(30, 0), sample_junit(20, 0));
    let parsed = junit(&both);
    let (a, b) = (sample_summary(30), sample_summary(20));
    assert_eq!(parsed.summary.total, a.total + b.total);
    assert_eq!(parsed.summary.failed, a.failed + b.failed);
    assert_eq!(parsed.message, None);
}

#[test]
fn cut_inside_a_failure_says_so() {
    let parsed =
        junit("<testsuite><testcase name=\"a\"/><testcase name=\"b\"><failure message=\"x\">trace");
    assert_eq!(parsed.summary.total, 1);
    let message = parsed.message.unwrap_or_default();
    assert!(
        message.starts_with("report ends early (truncated?) at byte 76 inside a <testcase>"),
        "{message}"
    );
}
