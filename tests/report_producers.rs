//! The report parsers against real producers: a Perl Test::More suite of 300 tests (raw TAP) and
//! a pytest suite of 2,000 tests (`--junitxml`), run here as a runner Pod would run them; plus
//! the parse time and transient memory of large generated reports, measured with a counting
//! allocator (which is why this is its own test binary).
//!
//! The tools are required, never skipped: Perl with Test::More comes with Debian's `perl`, and
//! pytest is installed into `.tools/venv` by `scripts/install-tools.sh`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use testjob_operator::crd::{ResultStatus, Summary};
use testjob_operator::report::{self, Format, Limits, Parsed, samples};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixtures() -> PathBuf {
    repo().join("tests/fixtures/reports")
}

/// Runs `command` with stdout and stderr both into `out` (as `> out 2>&1`), returning its exit code.
fn run_into(mut command: Command, out: &Path, what: &str) -> i32 {
    let file = File::create(out).unwrap_or_else(|e| panic!("creating {}: {e}", out.display()));
    let err = file
        .try_clone()
        .unwrap_or_else(|e| panic!("duplicating {}: {e}", out.display()));
    let status = command
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .status()
        .unwrap_or_else(|e| {
            panic!("{what} could not be started ({e}); it is required for this test")
        });
    status.code().unwrap_or(-1)
}

fn parse_file(path: &Path, limits: &Limits) -> Parsed {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    report::parse_with(&bytes, None, limits).unwrap_or_else(|e| {
        panic!(
            "{}: {e}\n{}",
            path.display(),
            String::from_utf8_lossy(&bytes)
        )
    })
}

fn big_budget() -> Limits {
    Limits {
        max_entries: 10_000,
        max_json_bytes: 64 * 1024 * 1024,
        ..Limits::default()
    }
}

#[test]
fn perl_test_more_suite_of_300_tests() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.tap");
    let mut perl = Command::new("perl");
    perl.arg(fixtures().join("perl/suite.t"));
    let code = run_into(perl, &out, "perl (Debian package perl, with Test::More)");
    // Test::More exits with the number of failed tests.
    assert_eq!(
        code,
        15,
        "{}",
        std::fs::read_to_string(&out).unwrap_or_default()
    );

    let parsed = parse_file(&out, &Limits::default());
    assert_eq!(parsed.format, Format::Tap);
    assert_eq!(
        parsed.summary,
        Summary {
            total: 300,
            passed: 274,
            failed: 15,
            skipped: 11
        }
    );
    assert_eq!(
        parsed.message.as_deref(),
        Some("1 TODO test failed as expected (counted as skipped)")
    );
    assert!(serde_json::to_string(&parsed.results).unwrap().len() <= 10 * 1024);
    assert_eq!(parsed.results.len(), 100);
    assert_eq!(parsed.omitted.total(), 200);
    for (k, result) in parsed.results[..15].iter().enumerate() {
        let i = 20 * (k + 1);
        assert_eq!(result.name, format!("check {i}"));
        assert_eq!(result.status, ResultStatus::Failed);
        let message = result.message.as_deref().unwrap_or_default();
        assert!(
            message.starts_with(&format!("Failed test 'check {i}'\nat ")),
            "{message}"
        );
        assert!(
            message.ends_with(&format!("got: '{i}'\nexpected: '{}'", i + 1)),
            "{message}"
        );
    }
    assert!(
        parsed.results[15..]
            .iter()
            .all(|r| r.status != ResultStatus::Failed)
    );
    let todo = parsed.results.iter().find(|r| r.name == "check 7");
    assert_eq!(
        todo.map(|r| (r.status, r.message.as_deref())),
        Some((
            ResultStatus::Skipped,
            Some("TODO: rounding not implemented")
        ))
    );
    let skip = parsed.results.iter().find(|r| r.name == "test 15");
    assert_eq!(
        skip.map(|r| (r.status, r.message.as_deref())),
        Some((ResultStatus::Skipped, Some("no database for case 15")))
    );
}

#[test]
fn pytest_suite_of_2000_tests() {
    let python = std::env::var_os("TESTJOB_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".tools/venv/bin/python"));
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("report.xml");
    let suite = fixtures().join("pytest");
    let mut pytest = Command::new(&python);
    pytest
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir"])
        .arg(&suite)
        .arg(format!("--junitxml={}", xml.display()))
        .arg(&suite)
        .current_dir(&suite)
        .env("PYTHONDONTWRITEBYTECODE", "1");
    let log = dir.path().join("pytest.log");
    let code = run_into(
        pytest,
        &log,
        &format!(
            "{} (run scripts/install-tools.sh to install pytest)",
            python.display()
        ),
    );
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    // pytest exits 1 when tests failed; anything else means it did not run the suite.
    assert_eq!(
        code, 1,
        "pytest did not run the suite (run scripts/install-tools.sh?):\n{log}"
    );
    assert!(
        log.contains("38 failed, 1914 passed, 38 skipped, 10 errors"),
        "{log}"
    );

    let expected = Summary {
        total: 2000,
        passed: 1914,
        failed: 48,
        skipped: 38,
    };
    let parsed = parse_file(&xml, &Limits::default());
    assert_eq!(parsed.format, Format::JUnit);
    assert_eq!(parsed.summary, expected);
    assert_eq!(parsed.message, None);
    assert!(serde_json::to_string(&parsed.results).unwrap().len() <= 10 * 1024);
    assert_eq!(parsed.results.len(), 100);
    let failures = &parsed.results[..48];
    for (k, result) in failures[..38].iter().enumerate() {
        let n = 50 * k + 7;
        assert_eq!(result.name, format!("test_suite.test_case[{n}]"));
        assert_eq!(result.status, ResultStatus::Failed);
        let message = result.message.as_deref().unwrap_or_default();
        assert!(
            message.starts_with(&format!("AssertionError: case {n} broke")),
            "{message}"
        );
    }
    for (k, result) in failures[38..].iter().enumerate() {
        assert_eq!(
            result.name,
            format!("test_suite.test_with_fixture[{}]", 10 * k)
        );
        assert_eq!(result.status, ResultStatus::Error);
        let message = result.message.as_deref().unwrap_or_default();
        assert!(message.starts_with("failed on setup with"), "{message}");
    }
    assert_eq!(parsed.omitted.total(), 1900);

    // With room for everything, every message is whole.
    let whole = parse_file(&xml, &big_budget());
    assert_eq!(whole.summary, expected);
    assert_eq!(whole.results.len(), 2000);
    assert_eq!(
        whole.results[0].message.as_deref(),
        Some("AssertionError: case 7 broke\nassert (7 % 50) != 7")
    );
    assert_eq!(
        whole.results[38].message.as_deref(),
        Some("failed on setup with \"RuntimeError: database 0 is down\"")
    );
    let skipped = whole
        .results
        .iter()
        .find(|r| r.name == "test_suite.test_case[11]");
    assert_eq!(
        skipped.map(|r| (r.status, r.message.as_deref())),
        Some((
            ResultStatus::Skipped,
            Some("not on this platform (case 11)")
        ))
    );
}

/// Counts the bytes allocated and freed by the thread that asked for it.
struct Counting;

thread_local! {
    /// (counting, live bytes since counting started, peak of those).
    static COUNTER: Cell<(bool, i64, i64)> = const { Cell::new((false, 0, 0)) };
}

fn note(delta: i64) {
    let _ = COUNTER.try_with(|counter| {
        let (on, live, peak) = counter.get();
        if on {
            let live = live + delta;
            counter.set((on, live, peak.max(live)));
        }
    });
}

// SAFETY: every call is forwarded to `System` unchanged; only sizes are noted.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            note(layout.size() as i64);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        note(-(layout.size() as i64));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            note(new_size as i64 - layout.size() as i64);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Parses `bytes`, returning the result, the time taken and the peak of the bytes the parse
/// allocated and still held at any moment (the report itself is not counted: it was already there).
fn measure(bytes: &[u8]) -> (Parsed, std::time::Duration, i64) {
    COUNTER.with(|counter| counter.set((true, 0, 0)));
    let start = Instant::now();
    let parsed = report::parse(bytes, None);
    let elapsed = start.elapsed();
    let (_, _, peak) = COUNTER.with(|counter| counter.replace((false, 0, 0)));
    match parsed {
        Ok(parsed) => (parsed, elapsed, peak),
        Err(error) => panic!("{error}"),
    }
}

fn tap_report(tests: usize, bytes: usize) -> String {
    let mut text = format!("TAP version 14\n1..{tests}\n");
    let pad = "p".repeat((bytes / tests).saturating_sub(40));
    for i in 1..=tests {
        if i % 10 == 0 {
            text.push_str(&format!(
                "not ok {i} - t{i}\n  ---\n  message: {pad}\n  ...\n"
            ));
        } else {
            text.push_str(&format!("ok {i} - t{i} {pad}\n"));
        }
    }
    text
}

fn json_report(tests: usize, bytes: usize) -> String {
    let pad = "m".repeat((bytes / tests).saturating_sub(60));
    let mut text = String::from("{\"results\":[");
    for i in 0..tests {
        let status = if i % 10 == 0 { "failed" } else { "passed" };
        if i > 0 {
            text.push(',');
        }
        text.push_str(&format!(
            "{{\"name\":\"t{i}\",\"status\":\"{status}\",\"durationMs\":{i},\"message\":\"{pad}\"}}"
        ));
    }
    text.push_str("]}");
    text
}

#[test]
fn parse_time_and_transient_memory_of_large_reports() {
    const MIB: usize = 1024 * 1024;
    let cases = [
        ("JUnit", 1, samples::sample_junit(5_000, MIB), 5_000),
        ("JUnit", 10, samples::sample_junit(50_000, 10 * MIB), 50_000),
        ("TAP", 10, tap_report(100_000, 10 * MIB), 100_000),
        ("JSON", 10, json_report(100_000, 10 * MIB), 100_000),
    ];
    for (format, mib, text, tests) in cases {
        let (parsed, elapsed, peak) = measure(text.as_bytes());
        println!(
            "{format} {mib} MiB ({} bytes, {tests} tests): parse {:.1} ms, peak transient memory {} KiB",
            text.len(),
            elapsed.as_secs_f64() * 1000.0,
            peak / 1024
        );
        assert_eq!(parsed.summary.total, tests);
        // The parse holds the report plus a small constant: here, well under 1 MiB whatever the size.
        assert!(
            peak < MIB as i64,
            "{format} {mib} MiB: {peak} bytes held while parsing"
        );
    }
}
