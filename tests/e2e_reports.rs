//! End to end: reports of real test tools handed over by runner Pods (the sandbox runs them as
//! local processes), kept in ConfigMaps and fetched back; a corpus of bad reports; logs kept
//! after the Pod is gone; `retryOn` and `status.attempts`.
//!
//! The tools are required, never skipped: Perl with Test::More (Debian's `perl`), pytest in
//! `.tools/venv` (scripts/install-tools.sh) and python3.

mod common;

use anyhow::{Context as _, ensure};
use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use common::{TestEnv, package_file, parse_table};
use testjob_operator::report::samples;

fn fixture(relative: &str) -> String {
    package_file(&format!("tests/fixtures/reports/{relative}"))
        .to_string_lossy()
        .into_owned()
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A TestJob manifest running `command`, with `extra` merged into its spec.
fn job(name: &str, test_id: &str, command: &[&str], extra: Value) -> String {
    runner_job(
        name,
        test_id,
        json!({"image": "busybox:1.37", "command": command}),
        extra,
    )
}

/// A TestJob manifest with `runner`, with `extra` merged into its spec.
fn runner_job(name: &str, test_id: &str, runner: Value, extra: Value) -> String {
    let mut spec = json!({"testId": test_id, "runner": runner});
    if let (Some(spec), Value::Object(extra)) = (spec.as_object_mut(), extra) {
        spec.extend(extra);
    }
    let manifest = json!({
        "apiVersion": "testjob.dev/v1alpha1",
        "kind": "TestJob",
        "metadata": {"name": name},
        "spec": spec,
    });
    serde_json::to_string(&manifest).unwrap_or_default()
}

/// The stored report of `name`, fetched back with the README's kubectl command.
async fn fetched_report(env: &TestEnv, name: &str) -> anyhow::Result<Vec<u8>> {
    let job = env.job(name).await?;
    let config_map = str_at(&job, "/status/report/configMap");
    let key = str_at(&job, "/status/report/key");
    ensure!(
        !config_map.is_empty() && !key.is_empty(),
        "no status.report: {job}"
    );
    let stored: Value = serde_json::from_str(
        &env.kubectl_ok(&["get", "configmap", config_map, "-o", "json"])
            .await?,
    )?;
    let bytes = if key.ends_with(".gz") {
        let gzipped = base64::engine::general_purpose::STANDARD
            .decode(str_at(&stored, &format!("/binaryData/{key}")))
            .context("binaryData is base64")?;
        let mut raw = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gzipped[..]), &mut raw)?;
        raw
    } else {
        str_at(&stored, &format!("/data/{key}")).as_bytes().to_vec()
    };
    Ok(bytes)
}

/// The row of `name` in `kubectl get tj`.
async fn row(
    env: &TestEnv,
    name: &str,
) -> anyhow::Result<std::collections::HashMap<String, String>> {
    let table = parse_table(&env.kubectl_ok(&["get", "tj", name]).await?);
    table.into_iter().next().context("no row")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_test_tools_reports_land_exactly_in_status_and_come_back_byte_for_byte()
-> anyhow::Result<()> {
    let env = TestEnv::new("reports").await?;
    env.start_operator().await?;
    let dir = tempfile::tempdir()?;
    let junit = dir.path().join("generated.xml");
    std::fs::write(&junit, samples::sample_junit(5000, 1 << 20))?;
    let python = testjob_testkit::tools::python();
    let suite = fixture("pytest");
    let manifests = [
        job(
            "perl-tap",
            "perl-suite",
            &[
                "sh",
                "-c",
                // Test::More writes its diagnostics to stderr: merged, they follow each failure.
                &format!(
                    "perl {} > \"$TESTJOB_REPORT_FILE\" 2>&1",
                    fixture("perl/suite.t")
                ),
            ],
            json!({}),
        ),
        // No shell: the kubelet expands $(TESTJOB_REPORT_FILE) in the arguments.
        runner_job(
            "pytest-junit",
            "pytest-suite",
            json!({"image": "python:3.12", "command": [
                python.to_string_lossy(), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                "--rootdir", &suite, "--junitxml=$(TESTJOB_REPORT_FILE)", &suite],
                "env": [{"name": "PYTHONDONTWRITEBYTECODE", "value": "1"}]}),
            json!({}),
        ),
        job(
            "junit-5000",
            "generated",
            &[
                "sh",
                "-c",
                &format!("cat {} > \"$TESTJOB_REPORT_FILE\"", junit.display()),
            ],
            json!({"report": {"format": "JUnit"}}),
        ),
    ];
    env.apply_yaml(&manifests.join("\n---\n")).await?;
    env.wait_for_phase("Failed", &["perl-tap", "pytest-junit"])
        .await?;
    env.wait_for_phase("Succeeded", &["junit-5000"]).await?;

    // Perl: 300 Test::More tests, 15 failing, 11 skipped, one TODO (counted as skipped).
    let perl = env.job("perl-tap").await?;
    assert_eq!(
        perl.pointer("/status/summary"),
        Some(&json!({"total": 300, "passed": 274, "failed": 15, "skipped": 11})),
        "{perl}"
    );
    assert_eq!(perl.pointer("/status/exitCode"), Some(&json!(15)));
    assert_eq!(str_at(&perl, "/status/report/format"), "TAP");
    let results = perl
        .pointer("/status/results")
        .and_then(Value::as_array)
        .context("results")?;
    assert_eq!(results.len(), 100);
    assert_eq!(str_at(&results[0], "/name"), "check 20");
    assert_eq!(str_at(&results[0], "/status"), "failed");
    assert!(
        str_at(&results[0], "/message").starts_with("Failed test 'check 20'"),
        "{}",
        results[0]
    );
    assert_eq!(
        perl.pointer("/status/resultsOmitted/total"),
        Some(&json!(200))
    );
    assert_eq!(
        row(&env, "perl-tap")
            .await?
            .get("RESULT")
            .map(String::as_str),
        Some("274/300 passed")
    );
    let tap = fetched_report(&env, "perl-tap").await?;
    assert_eq!(sha256_hex(&tap), str_at(&perl, "/status/report/sha256"));
    assert_eq!(
        perl.pointer("/status/report/bytes"),
        Some(&json!(tap.len()))
    );
    assert!(String::from_utf8_lossy(&tap).contains("not ok 20 - check 20"));

    // pytest: 2,000 tests; errors in a fixture count as failed.
    let pytest = env.job("pytest-junit").await?;
    assert_eq!(
        pytest.pointer("/status/summary"),
        Some(&json!({"total": 2000, "passed": 1914, "failed": 48, "skipped": 38})),
        "{pytest}"
    );
    assert_eq!(str_at(&pytest, "/status/report/format"), "JUnit");
    let results = pytest
        .pointer("/status/results")
        .and_then(Value::as_array)
        .context("results")?;
    assert!(
        results
            .iter()
            .any(|r| str_at(r, "/name") == "test_suite.test_case[7]"
                && str_at(r, "/message").starts_with("AssertionError: case 7 broke")),
        "{pytest}"
    );
    assert!(
        results.iter().any(|r| str_at(r, "/status") == "error"
            && str_at(r, "/message").starts_with("failed on setup with")),
        "{pytest}"
    );
    assert_eq!(
        row(&env, "pytest-junit")
            .await?
            .get("RESULT")
            .map(String::as_str),
        Some("1914/2000 passed")
    );
    let xml = fetched_report(&env, "pytest-junit").await?;
    assert_eq!(sha256_hex(&xml), str_at(&pytest, "/status/report/sha256"));

    // The generated 1 MiB JUnit file: handed over through the sidecar's log, kept gzipped.
    let generated = env.job("junit-5000").await?;
    let expected = samples::sample_summary(5000);
    assert_eq!(
        generated.pointer("/status/summary"),
        Some(&json!({"total": expected.total, "passed": expected.passed,
                     "failed": expected.failed, "skipped": expected.skipped})),
        "{generated}"
    );
    assert_eq!(
        generated.pointer("/status/report/compressed"),
        Some(&json!(true))
    );
    let stored = fetched_report(&env, "junit-5000").await?;
    assert_eq!(stored, std::fs::read(&junit)?, "byte for byte");
    assert_eq!(
        sha256_hex(&stored),
        str_at(&generated, "/status/report/sha256")
    );
    assert_eq!(
        row(&env, "junit-5000")
            .await?
            .get("RESULT")
            .map(String::as_str),
        Some(format!("{}/5000 passed", expected.passed).as_str())
    );
    // The API documents the new fields.
    let explained = env.kubectl_ok(&["explain", "testjob.spec.report"]).await?;
    assert!(
        explained.contains("format")
            && explained.contains("TESTJOB_REPORT_FILE")
            && explained.contains("JUnit"),
        "{explained}"
    );
    let explained = env
        .kubectl_ok(&["explain", "testjob.status.report"])
        .await?;
    assert!(
        explained.contains("sha256") && explained.contains("configMap"),
        "{explained}"
    );
    // Small statuses whatever the report: under 16 KiB.
    for name in ["perl-tap", "pytest-junit", "junit-5000"] {
        let status = env
            .job(name)
            .await?
            .pointer("/status")
            .cloned()
            .unwrap_or_default();
        let size = serde_json::to_string(&status)?.len();
        assert!(size < 16 * 1024, "{name}: status of {size} bytes");
    }
    Ok(())
}

/// The operator process watching `namespace` (the harness starts it with `--namespace`).
fn operator_pid(namespace: &str) -> Option<u32> {
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            let ours = args.first()?.ends_with(b"testjob-operator")
                && args.contains(&&b"run"[..])
                && args.contains(&namespace.as_bytes());
            ours.then_some(pid)
        })
}

/// Peak resident memory of a process, from /proc.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_reports_end_with_the_exit_codes_phase_and_a_clear_message() -> anyhow::Result<()> {
    let env = TestEnv::new("bad-reports").await?;
    env.start_operator().await?;
    let corpus = fixture("corpus.py");
    // (case, exit code, what the message must say)
    let cases: [(&str, i32, &str); 11] = [
        ("billion_laughs", 1, "report"),
        ("external_entities", 1, "report"),
        ("over_cap", 0, "more than the"),
        ("invalid_utf8", 0, "invalid UTF-8"),
        ("binary_garbage", 1, "could not be read"),
        ("claims_a_billion", 1, "JUnit report: 2 tests"),
        ("json_deep", 0, "malformed result entry"),
        ("tap_plan_mismatch", 1, "plan"),
        ("bail_out", 1, "Bail out"),
        ("truncated", 1, "report"),
        ("big_log", 0, "TAP report: 1 tests"),
    ];
    let mut manifests = vec![job(
        "healthy",
        "healthy",
        &[
            "sh",
            "-c",
            "printf '1..2\\nok 1 - a\\nok 2 - b\\n' > \"$TESTJOB_REPORT_FILE\"",
        ],
        json!({}),
    )];
    for (case, exit, _) in cases {
        let script = if case == "big_log" {
            format!(
                "python3 {corpus} big_log; printf '1..1\\nok 1 - fine\\n' > \"$TESTJOB_REPORT_FILE\"; exit {exit}"
            )
        } else {
            format!("python3 {corpus} {case} > \"$TESTJOB_REPORT_FILE\"; exit {exit}")
        };
        manifests.push(job(
            &case.replace('_', "-"),
            case,
            &["sh", "-c", &script],
            json!({}),
        ));
    }
    env.apply_yaml(&manifests.join("\n---\n")).await?;
    env.wait_for_phase("Succeeded", &["healthy"]).await?;
    for (case, exit, says) in cases {
        let name = case.replace('_', "-");
        let phase = if exit == 0 { "Succeeded" } else { "Failed" };
        env.wait_for_phase(phase, &[&name]).await?;
        let job = env.job(&name).await?;
        let message = str_at(&job, "/status/message");
        assert!(message.contains(says), "{case}: {message:?} lacks {says:?}");
        assert!(
            !message.contains("root:"),
            "{case}: an external entity was read: {message}"
        );
        assert_eq!(
            job.pointer("/status/exitCode"),
            Some(&json!(exit)),
            "{case}"
        );
    }
    // The well-formed job next to them is unaffected.
    let healthy = env.job("healthy").await?;
    assert_eq!(
        healthy.pointer("/status/summary/total"),
        Some(&json!(2)),
        "{healthy}"
    );
    // Nothing a runner wrote made the operator hold more than a few reports' worth of memory.
    let pid = operator_pid(&env.namespace).context("the operator runs")?;
    let peak = peak_rss_kib(pid).context("reading the operator's memory")?;
    assert!(peak < 256 * 1024, "operator peak RSS {peak} KiB");
    assert!(
        !env.operator_log().contains("panicked"),
        "{}",
        env.operator_log()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_logs_outlive_the_runner_pod() -> anyhow::Result<()> {
    let env = TestEnv::new("kept-logs").await?;
    env.start_operator().await?;
    let script = "for i in $(seq 1 5000); do echo \"line $i of the runner\"; done";
    env.apply_yaml(&job(
        "logged",
        "logs",
        &["sh", "-c", script],
        json!({"keepLogs": true}),
    ))
    .await?;
    env.wait_for_phase("Succeeded", &["logged"]).await?;
    // podCleanup OnSuccess deletes the Pod; the log's tail stays in the ConfigMap.
    env.poll("the runner Pod to be deleted", || async {
        Ok(env.pods_of("logged").await?.is_empty().then_some(()))
    })
    .await?;
    let kept = env
        .kubectl_ok(&[
            "get",
            "configmap",
            "logged-1-report",
            "-o",
            "jsonpath={.data.runner\\.log}",
        ])
        .await?;
    assert!(
        kept.ends_with("line 5000 of the runner\n"),
        "{}",
        &kept[kept.len().saturating_sub(200)..]
    );
    assert!(
        kept.len() <= 64 * 1024 && kept.len() > 60 * 1024,
        "{} bytes",
        kept.len()
    );
    assert!(!kept.contains("line 1 of the runner\n"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_on_infrastructure_retries_a_deleted_pod_but_not_failed_tests() -> anyhow::Result<()>
{
    let env = TestEnv::new("retry-on").await?;
    env.start_operator_with(&["--retry-backoff-seconds", "1"])
        .await?;
    let policy = json!({"retries": 2, "retryOn": "Infrastructure"});
    env.apply_yaml(
        &[
            job(
                "tests-fail",
                "t",
                &["sh", "-c", "echo failing; exit 1"],
                policy.clone(),
            ),
            // Attempt 1 waits to be deleted; attempt 2 passes.
            job(
                "pod-deleted",
                "p",
                &[
                    "sh",
                    "-c",
                    "if [ \"$TESTJOB_ATTEMPT\" = 1 ]; then sleep 60; fi; exit 0",
                ],
                policy,
            ),
        ]
        .join("\n---\n"),
    )
    .await?;
    env.wait_for_phase("Failed", &["tests-fail"]).await?;
    let failed = env.job("tests-fail").await?;
    let attempts = failed
        .pointer("/status/attempts")
        .and_then(Value::as_array)
        .context("attempts")?;
    assert_eq!(attempts.len(), 1, "a failed test is not retried: {failed}");
    assert_eq!(str_at(&attempts[0], "/reason"), "TestsFailed");
    assert_eq!(attempts[0].pointer("/exitCode"), Some(&json!(1)));

    let first = env
        .poll("attempt 1 of pod-deleted to run", || async {
            let pods = env.pods_of("pod-deleted").await?;
            Ok(pods
                .iter()
                .any(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
                .then_some(()))
        })
        .await;
    first?;
    env.kubectl_ok(&["delete", "pod", "pod-deleted-1", "--wait=false"])
        .await?;
    env.wait_for_phase("Succeeded", &["pod-deleted"]).await?;
    let retried = env.job("pod-deleted").await?;
    let attempts = retried
        .pointer("/status/attempts")
        .and_then(Value::as_array)
        .context("attempts")?;
    assert_eq!(attempts.len(), 2, "{retried}");
    assert_eq!(
        (
            str_at(&attempts[0], "/podName"),
            str_at(&attempts[0], "/phase"),
            str_at(&attempts[0], "/reason")
        ),
        ("pod-deleted-1", "Failed", "PodDeleted")
    );
    assert_eq!(
        (
            str_at(&attempts[1], "/podName"),
            str_at(&attempts[1], "/phase")
        ),
        ("pod-deleted-2", "Succeeded")
    );
    for attempt in attempts {
        ensure!(
            !str_at(attempt, "/startTime").is_empty()
                && !str_at(attempt, "/completionTime").is_empty(),
            "{attempt}"
        );
    }
    Ok(())
}
