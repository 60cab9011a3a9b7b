//! The bad-input corpus of issue 12 (size cap, invalid UTF-8, binary garbage, deep JSON …), format
//! detection, and the JSON report rules compared with the termination-message path.

use super::*;
use crate::crd::ResultStatus;
use crate::results::parse_report;

fn ok(bytes: &[u8], format: Option<Format>) -> Parsed {
    match parse(bytes, format) {
        Ok(parsed) => parsed,
        Err(error) => panic!("{error}"),
    }
}

fn err(bytes: &[u8], format: Option<Format>) -> ReportError {
    match parse(bytes, format) {
        Ok(parsed) => panic!("parsed {parsed:?}"),
        Err(error) => error,
    }
}

#[test]
fn detection_rules() {
    let cases: [(&[u8], Option<Format>); 17] = [
        (b"  {\"results\":[]}", Some(Format::Json)),
        (b"[1]", Some(Format::Json)),
        (
            b"\xef\xbb\xbf<?xml version=\"1.0\"?><testsuites/>",
            Some(Format::JUnit),
        ),
        (b"\n<testsuite/>", Some(Format::JUnit)),
        (b"<html/>", Some(Format::JUnit)),
        (b"TAP version 14\n1..1\nok 1\n", Some(Format::Tap)),
        (b"1..3\nok 1\n", Some(Format::Tap)),
        (b"ok 1 - fine\n", Some(Format::Tap)),
        (b"not ok\n", Some(Format::Tap)),
        (
            b"# comment first\n# Subtest: x\n    ok 1\nok 1 - x\n",
            Some(Format::Tap),
        ),
        (b"Bail out! no db\n", Some(Format::Tap)),
        (b"warning: something\n1..2\nok 1\n", Some(Format::Tap)),
        (b"okay then\n", None),
        (b"1..x\n", None),
        (b"hello world", None),
        (b"\x00\x01\x02", None),
        (b"   \n\t", None),
    ];
    for (bytes, expected) in cases {
        assert_eq!(
            detect(bytes),
            expected,
            "{:?}",
            String::from_utf8_lossy(bytes)
        );
    }
}

#[test]
fn over_the_size_cap_is_refused_before_parsing() {
    let big = vec![b' '; MAX_REPORT_BYTES + 1];
    let error = err(&big, None);
    assert_eq!(
        error,
        ReportError::TooLarge {
            bytes: MAX_REPORT_BYTES + 1,
            max: MAX_REPORT_BYTES
        }
    );
    assert!(
        error.to_string().contains("too large (16777217 bytes"),
        "{error}"
    );
}

#[test]
fn invalid_utf8_says_where() {
    let error = err(b"1..1\nok 1 - caf\xe9\n", None);
    assert_eq!(error, ReportError::InvalidUtf8 { at: 15 });
    assert_eq!(
        error.to_string(),
        "invalid UTF-8 at byte 15: a report must be UTF-8 text"
    );
}

#[test]
fn binary_garbage_is_refused_clearly() {
    // Pseudo-random bytes: almost surely invalid UTF-8.
    let mut state = 0x2545_f491_u32;
    let garbage: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state >> 24) as u8
        })
        .collect();
    assert!(matches!(
        err(&garbage, None),
        ReportError::InvalidUtf8 { .. }
    ));
    // Control characters are valid UTF-8 but no format.
    let error = err(b"\x00\x01\x02\x7fELF\x02\x01", None);
    assert_eq!(
        error.to_string(),
        "unrecognised report format (first bytes: \"\\0\\u{1}\\u{2}\\u{7f}ELF\\u{2}\\u{1}\"); expected JUnit XML, TAP or JSON"
    );
    for format in [Format::Json, Format::JUnit, Format::Tap] {
        assert!(parse(b"\x00\x01\x02\x7fELF", Some(format)).is_err());
        assert!(parse(&garbage, Some(format)).is_err());
    }
}

#[test]
fn empty_is_refused() {
    assert_eq!(err(b"", None), ReportError::Empty);
    assert_eq!(err(b" \n\n", Some(Format::Tap)), ReportError::Empty);
}

#[test]
fn json_nested_10000_deep_is_a_clear_error_not_a_crash() {
    let deep = |inner: &str| format!("{}{inner}{}", "[".repeat(10_000), "]".repeat(10_000));
    // At the top level: not an object (skipped iteratively, so no recursion at all).
    let error = err(deep("").as_bytes(), None);
    assert_eq!(
        error.to_string(),
        "not a JSON report: expected an object like {\"results\": [...]}, got a list"
    );
    // Inside fields that are skipped or kept only by type: still read without recursion.
    let report = format!(
        r#"{{"extra":{},"results":[{{"name":"a","status":"passed","x":{}}},{{"name":{},"status":"failed"}}],"message":{}}}"#,
        deep(""),
        deep(""),
        deep(""),
        deep("")
    );
    let parsed = ok(report.as_bytes(), None);
    assert_eq!(parsed.summary.total, 1);
    assert!(parsed.message.unwrap_or_default().contains(
        "1 malformed result entry was ignored (entry 2: \"name\" must be a non-empty string)"
    ));
    // Objects nested deeply inside an entry: skipped too, the entry is malformed.
    let objects = format!(
        r#"{{"results":[{}1{}]}}"#,
        "{\"a\":[".repeat(5_000),
        "]}".repeat(5_000)
    );
    let parsed = ok(objects.as_bytes(), None);
    assert_eq!(parsed.summary.total, 0);
    assert!(
        parsed
            .message
            .unwrap_or_default()
            .contains("1 malformed result entry")
    );
    // And for TAP and JUnit, depth is just text or a counter.
    let xml = format!(
        "<testsuite>{}<testcase name=\"deep\"/>{}</testsuite>",
        "<x>".repeat(10_000),
        "</x>".repeat(10_000)
    );
    assert_eq!(ok(xml.as_bytes(), None).summary.total, 1);
}

#[test]
fn json_follows_the_results_rules_at_any_size() {
    let small = r#"{"results":[
        {"name":"login","status":"passed","durationMs":120},
        {"name":"pay","status":"FAILED","message":"expected 200, got 500"},
        {"name":"refund","status":"skipped"},
        {"name":"  audit  ","status":"error","durationMs":1.6,"extra":{"a":[1,2]}},
        {"status":"passed"}
    ],"message":"  3 of 4 ran "}"#;
    let parsed = ok(small.as_bytes(), None);
    let today = parse_report(Some(small));
    let mut expected = today.results.clone();
    expected.sort_by_key(|r| !matches!(r.status, ResultStatus::Failed | ResultStatus::Error));
    assert_eq!(parsed.results, expected);
    assert_eq!(parsed.summary, Summary::of(&today.results));
    let problem = today.problem.map(|p| p.to_string()).unwrap_or_default();
    assert_eq!(parsed.message, Some(format!("3 of 4 ran; {problem}")));
    assert_eq!(parsed.format, Format::Json);

    let mut big = String::from("{\"message\":\"big\",\"results\":[");
    for i in 0..100_000 {
        let status = ["passed", "failed", "skipped", "error"][i % 4];
        big.push_str(&format!(
            "{}{{\"name\":\"t{i}\",\"status\":\"{status}\",\"message\":\"{}\"}}",
            if i == 0 { "" } else { "," },
            "m".repeat(i % 50)
        ));
    }
    big.push_str("]}");
    let parsed = ok(big.as_bytes(), Some(Format::Json));
    assert_eq!(
        parsed.summary,
        Summary {
            total: 100_000,
            passed: 25_000,
            failed: 50_000,
            skipped: 25_000
        }
    );
    assert_eq!(parsed.results.len(), 100);
    assert!(serde_json::to_string(&parsed.results).unwrap().len() <= 10 * 1024);
    assert_eq!(parsed.message.as_deref(), Some("big"));
}

#[test]
fn json_shapes_and_truncation() {
    let error = err(br#"{"results":"all good"}"#, None);
    assert_eq!(
        error.to_string(),
        "not a JSON report: \"results\" must be a list, got a string"
    );
    let error = err(b"{\"results\": [} nope", None);
    assert!(
        error.to_string().starts_with("not a JSON report: "),
        "{error}"
    );

    let cut = br#"{"results":[{"name":"a","status":"passed"},{"name":"b","status":"failed"},{"name":"c","sta"#;
    let parsed = ok(cut, None);
    assert_eq!(parsed.summary.total, 2);
    let message = parsed.message.unwrap_or_default();
    assert!(
        message.starts_with("report ends early (truncated?)"),
        "{message}"
    );
    assert!(message.contains("counted the 2 entries"), "{message}");

    // As with serde_json's Value, the last `results` wins.
    let twice = br#"{"results":[{"name":"a","status":"passed"}],"results":[{"name":"b","status":"failed"}]}"#;
    let parsed = ok(twice, None);
    assert_eq!(parsed.summary.total, 1);
    assert_eq!(parsed.results[0].name, "b");
    assert_eq!(ok(b"{}", None).summary.total, 0);
}

#[test]
fn json_strings_are_cut_before_reading_like_results_does() {
    let name = format!("{}{}", " ".repeat(5000), "n".repeat(300));
    let message = "é".repeat(600_000);
    let report = format!(
        r#"{{"results":[{{"name":"{name}","status":"failed","message":"{message}"}}],"message":"{message}"}}"#
    );
    let parsed = ok(report.as_bytes(), None);
    let result = &parsed.results[0];
    assert!(result.name.starts_with("nnn") && result.name.ends_with('…'));
    assert!(result.name.len() <= 256);
    let kept = result.message.as_deref().unwrap_or_default();
    assert!(kept.len() <= 1024 && kept.ends_with('…') && kept.starts_with("éé"));
    assert!(parsed.message.unwrap_or_default().len() <= MAX_MESSAGE_BYTES);
}

#[test]
fn message_is_bounded() {
    let mut notes = Notes::default();
    notes.own("x".repeat(5000));
    for i in 0..20 {
        notes.add(format!("note {i}"));
    }
    let message = notes.message().unwrap_or_default();
    assert!(message.len() <= MAX_MESSAGE_BYTES && message.ends_with('…'));
}
