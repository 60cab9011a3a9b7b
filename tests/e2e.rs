//! End-to-end tests: a cluster, the operator binary as a child process, and the real kubectl
//! driving it the way a user would. Each test gets its own namespace and operator.
//!
//! By default every test starts its own in-memory sandbox. To run the same tests against a real
//! cluster instead, point `TESTJOB_E2E_KUBECONFIG` at its kubeconfig (the current context is
//! used; the user needs to create namespaces, CRDs, TestJobs and Pods):
//!
//! ```sh
//! TESTJOB_E2E_KUBECONFIG=$HOME/.kube/config cargo test -p testjob-operator --test e2e
//! ```
//!
//! On a real cluster the runners use the `busybox:1.37` image, so nodes must be able to pull it;
//! each test deletes its namespace when it ends. `TESTJOB_KUBECTL` picks the kubectl binary.
//! Operator logs are kept under `target/tmp/e2e-logs/`.

mod common;

use std::collections::BTreeMap;

use anyhow::{Context as _, ensure};
use serde_json::Value;
use testjob_operator::{
    Config, TestJob,
    pod::{RESULTS_FILE, build_runner_pod},
    results::{ReportProblem, parse_report},
};

use common::{TestEnv, package_file, parse_table};

/// Operator flags that keep every runner Pod (the default deletes those of succeeded jobs), for
/// tests that count the Pods of finished jobs.
const KEEP_PODS: &[&str] = &["--default-pod-cleanup", "Never"];

/// Every file in `tests/fixtures/invalid`, with what `kubectl apply` must say about it.
const INVALID_MANIFESTS: &[(&str, &[&str])] = &[
    ("missing-test-id", &["spec.testId", "Required value"]),
    (
        "empty-test-id",
        &["spec.testId", "testId must not be empty"],
    ),
    (
        "long-test-id",
        &["spec.testId", "testId must be at most 253 characters"],
    ),
    ("list-test-id", &["spec.testId", "Invalid value"]),
    ("string-command", &["spec.runner.command", "Invalid value"]),
    ("unknown-field", &[r#"unknown field "spec.runner.imagee""#]),
    (
        "empty-image",
        &["spec.runner.image", "at least 1 chars long"],
    ),
    (
        "bad-service-account",
        &["spec.runner.serviceAccountName", "should match"],
    ),
    (
        "bad-label-key",
        &[
            "spec.runner.podLabels",
            "label keys must be qualified names",
        ],
    ),
    (
        "bad-label-value",
        &["spec.runner.podLabels", "label values must be"],
    ),
    (
        "bad-annotation-key",
        &[
            "spec.runner.podAnnotations",
            "annotation keys must be qualified names",
        ],
    ),
    (
        "env-without-name",
        &["spec.runner.env[0].name", "Required value"],
    ),
];

fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The status of the condition of `type_` on a TestJob, as (status, reason).
fn condition(job: &Value, type_: &str) -> (String, String) {
    job["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == type_)
        .map(|c| {
            (
                str_at(c, "/status").to_owned(),
                str_at(c, "/reason").to_owned(),
            )
        })
        .unwrap_or_default()
}

/// Asserts that `job` has exactly one runner Pod, `<job>-1`, controlled by the TestJob.
async fn assert_one_pod(env: &TestEnv, job: &str) -> anyhow::Result<()> {
    let pods = env.pods_of(job).await?;
    let names: Vec<_> = pods
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    ensure!(
        names == [format!("{job}-1")],
        "runner Pods of {job}: {names:?}"
    );
    let owners = pods[0]
        .metadata
        .owner_references
        .clone()
        .unwrap_or_default();
    ensure!(
        owners.len() == 1 && owners[0].name == job && owners[0].controller == Some(true),
        "owner references of {job}-1: {owners:?}"
    );
    Ok(())
}

#[tokio::test]
async fn examples_reach_their_expected_phase_with_results() -> anyhow::Result<()> {
    let env = TestEnv::new("examples").await?;
    env.start_operator_with(KEEP_PODS).await?;
    for example in ["minimal", "steps", "failing"] {
        env.apply(&format!("examples/{example}.yaml")).await?;
    }
    env.wait_for_phase("Succeeded", &["minimal", "checkout-steps"])
        .await?;
    env.wait_for_phase("Failed", &["failing-payment"]).await?;
    env.wait_for("condition=Complete", &["minimal", "checkout-steps"])
        .await?;
    env.wait_for("condition=Failed", &["failing-payment"])
        .await?;

    let minimal = env.job("minimal").await?;
    let status = &minimal["status"];
    assert_eq!(status["attempt"], 1);
    assert_eq!(status["podName"], "minimal-1");
    assert_eq!(status["exitCode"], 0);
    assert_eq!(status["result"], "1/1 passed");
    assert_eq!(status["results"][0]["name"], "220");
    assert_eq!(status["results"][0]["status"], "passed");
    assert_eq!(status["observedGeneration"], 1);
    for field in ["startTime", "completionTime", "duration", "message"] {
        assert!(
            status[field].is_string(),
            "minimal status lacks {field}: {status}"
        );
    }
    assert_eq!(
        condition(&minimal, "Complete"),
        ("True".into(), "TestsPassed".into())
    );
    assert_eq!(condition(&minimal, "Running").0, "False");

    let steps = env.job("checkout-steps").await?;
    let status = &steps["status"];
    let results: Vec<(&str, &str)> = status["results"]
        .as_array()
        .context("steps results")?
        .iter()
        .map(|r| (str_at(r, "/name"), str_at(r, "/status")))
        .collect();
    assert_eq!(
        results,
        [
            ("open-catalog", "passed"),
            ("add-to-cart", "passed"),
            ("apply-coupon", "skipped"),
            ("pay", "passed"),
            ("confirm-order", "passed"),
        ]
    );
    assert_eq!(status["results"][0]["durationMs"], 120);
    assert_eq!(
        status["results"][2]["message"],
        "coupon service is disabled in this environment"
    );
    assert_eq!(
        status["summary"],
        serde_json::json!({"total": 5, "passed": 4, "failed": 0, "skipped": 1})
    );
    assert_eq!(status["result"], "4/5 passed");
    assert_eq!(status["message"], "checkout flow: 4 passed, 1 skipped");

    let failing = env.job("failing-payment").await?;
    let status = &failing["status"];
    assert_eq!(status["exitCode"], 1);
    assert_eq!(status["result"], "1/2 passed");
    assert_eq!(status["results"][1]["status"], "failed");
    assert_eq!(
        status["results"][1]["message"],
        "expected HTTP 200, got 500"
    );
    assert_eq!(
        status["message"],
        "runner exited with code 1: payment step failed"
    );
    assert_eq!(
        condition(&failing, "Failed"),
        ("True".into(), "TestsFailed".into())
    );
    assert_eq!(condition(&failing, "Complete").0, "");

    for job in ["minimal", "checkout-steps", "failing-payment"] {
        assert_one_pod(&env, job).await?;
    }
    let labels = env.pods_of("checkout-steps").await?[0]
        .metadata
        .labels
        .clone()
        .unwrap_or_default();
    assert_eq!(labels["app.kubernetes.io/managed-by"], "testjob-operator");
    assert_eq!(labels["testjob.dev/test-id"], "checkout-flow");
    Ok(())
}

#[tokio::test]
async fn kubectl_get_shows_test_status_result_duration_and_age() -> anyhow::Result<()> {
    let env = TestEnv::new("printer-columns").await?;
    env.start_operator().await?;
    env.apply("examples/steps.yaml").await?;
    env.apply("examples/failing.yaml").await?;
    env.wait_for_phase("Succeeded", &["checkout-steps"]).await?;
    env.wait_for_phase("Failed", &["failing-payment"]).await?;

    let output = env.kubectl_ok(&["get", "testjobs"]).await?;
    let header: Vec<&str> = output
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["NAME", "TEST", "STATUS", "RESULT", "DURATION", "AGE"],
        "{output}"
    );
    let rows: BTreeMap<String, _> = parse_table(&output)
        .into_iter()
        .map(|row| (row["NAME"].clone(), row))
        .collect();
    let steps = &rows["checkout-steps"];
    assert_eq!(steps["TEST"], "checkout-flow");
    assert_eq!(steps["STATUS"], "Succeeded");
    assert_eq!(steps["RESULT"], "4/5 passed");
    let failing = &rows["failing-payment"];
    assert_eq!(failing["TEST"], "4711");
    assert_eq!(failing["STATUS"], "Failed");
    assert_eq!(failing["RESULT"], "1/2 passed");
    for row in [steps, failing] {
        let duration = &row["DURATION"];
        assert!(
            duration.ends_with('s') && duration.chars().next().is_some_and(|c| c.is_ascii_digit()),
            "DURATION {duration:?} in\n{output}"
        );
        assert!(!row["AGE"].is_empty(), "AGE in\n{output}");
    }

    // The short name and the category list the same jobs.
    for alias in ["tj", "testing"] {
        let names = env.kubectl_ok(&["get", alias, "-o", "name"]).await?;
        assert!(
            names.contains("testjob.testjob.dev/checkout-steps")
                && names.contains("testjob.testjob.dev/failing-payment"),
            "kubectl get {alias}: {names}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn kubectl_describe_shows_the_events() -> anyhow::Result<()> {
    let env = TestEnv::new("events").await?;
    env.start_operator().await?;
    env.apply("examples/steps.yaml").await?;
    env.apply("examples/failing.yaml").await?;
    env.wait_for_phase("Succeeded", &["checkout-steps"]).await?;
    env.wait_for_phase("Failed", &["failing-payment"]).await?;

    // Events are published right after the status write, so they may trail the phase a little.
    let expectations: [(&str, &[&str]); 2] = [
        (
            "checkout-steps",
            &[
                "Normal",
                "Started",
                "runner Pod checkout-steps-1",
                "Succeeded",
                "checkout flow: 4 passed, 1 skipped",
            ],
        ),
        (
            "failing-payment",
            &[
                "Normal",
                "Started",
                "Warning",
                "Failed",
                "TestsFailed: runner exited with code 1",
            ],
        ),
    ];
    for (job, wanted) in expectations {
        let described = env
            .poll(&format!("events of {job} in kubectl describe"), || async {
                let out = env.kubectl_ok(&["describe", "testjob", job]).await?;
                Ok(wanted.iter().all(|w| out.contains(w)).then_some(out))
            })
            .await;
        let described = match described {
            Ok(out) => out,
            Err(error) => {
                let out = env.kubectl_ok(&["describe", "testjob", job]).await?;
                anyhow::bail!("{error}\nkubectl describe testjob {job}:\n{out}");
            }
        };
        assert!(described.contains("Events:"), "{described}");
    }
    Ok(())
}

#[tokio::test]
async fn invalid_manifests_are_refused_with_field_level_messages() -> anyhow::Result<()> {
    let env = TestEnv::new("invalid").await?;
    let mut files: Vec<String> = std::fs::read_dir(package_file("tests/fixtures/invalid"))?
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .to_str()?
                .strip_suffix(".yaml")
                .map(str::to_owned)
        })
        .collect();
    files.sort();
    let mut covered: Vec<String> = INVALID_MANIFESTS
        .iter()
        .map(|(f, _)| (*f).to_owned())
        .collect();
    covered.sort();
    assert_eq!(files, covered, "every invalid fixture needs an expectation");

    let mut failures = vec![];
    for (file, expected) in INVALID_MANIFESTS {
        let path = package_file(&format!("tests/fixtures/invalid/{file}.yaml"));
        let output = env
            .kubectl(&["apply", "-f", &path.to_string_lossy()])
            .await?;
        let missing: Vec<_> = expected
            .iter()
            .filter(|e| !output.stderr.contains(**e))
            .collect();
        if output.success || !missing.is_empty() {
            failures.push(format!(
                "{file}: success={} missing {missing:?}\nstderr: {}",
                output.success, output.stderr
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    let created = env.kubectl_ok(&["get", "testjobs", "-o", "name"]).await?;
    assert_eq!(created.trim(), "", "no invalid TestJob may be stored");
    Ok(())
}

#[tokio::test]
async fn unreadable_results_give_clear_messages() -> anyhow::Result<()> {
    let env = TestEnv::new("results").await?;
    env.start_operator().await?;
    for fixture in [
        "garbage-results",
        "oversized-results",
        "no-results",
        "crashing-runner",
    ] {
        env.apply(&format!("tests/fixtures/results/{fixture}.yaml"))
            .await?;
    }
    env.wait_for_phase(
        "Succeeded",
        &["garbage-results", "oversized-results", "no-results"],
    )
    .await?;
    env.wait_for_phase("Failed", &["crashing-runner"]).await?;

    let cases = [
        (
            "garbage-results",
            "Complete",
            "InvalidResults",
            "not valid JSON",
            0,
        ),
        ("oversized-results", "Complete", "InvalidResults", "4096", 0),
        ("no-results", "Complete", "NoResults", "no results file", 0),
        (
            "crashing-runner",
            "Failed",
            "TestsFailed",
            "runner exited with code 3",
            3,
        ),
    ];
    for (name, condition_type, reason, text, exit_code) in cases {
        let job = env.job(name).await?;
        let message = str_at(&job, "/status/message");
        assert!(
            message.contains(text),
            "{name}: message {message:?} lacks {text:?}"
        );
        assert_eq!(job["status"]["exitCode"], exit_code, "{name}");
        assert_eq!(
            condition(&job, condition_type),
            ("True".into(), reason.into()),
            "{name}"
        );
        assert!(
            job["status"]["results"].is_null(),
            "{name} has no usable results"
        );
    }
    // Still running: nothing above crashed the controller.
    env.apply("examples/minimal.yaml").await?;
    env.wait_for_phase("Succeeded", &["minimal"]).await?;
    Ok(())
}

#[tokio::test]
async fn deleting_the_runner_pod_fails_the_job() -> anyhow::Result<()> {
    let env = TestEnv::new("pod-deleted").await?;
    env.start_operator().await?;
    env.apply("tests/fixtures/results/long-running.yaml")
        .await?;
    env.wait_for_phase("Running", &["long-running"]).await?;
    env.kubectl_ok(&[
        "delete",
        "pod",
        "long-running-1",
        "--grace-period=1",
        "--wait=false",
    ])
    .await?;
    env.wait_for_phase("Failed", &["long-running"]).await?;
    let job = env.job("long-running").await?;
    assert_eq!(
        condition(&job, "Failed"),
        ("True".into(), "PodDeleted".into())
    );
    let message = str_at(&job, "/status/message");
    assert!(message.contains("long-running-1"), "{message}");
    Ok(())
}

#[tokio::test]
async fn killed_controller_resumes_every_job_with_one_pod_per_attempt() -> anyhow::Result<()> {
    const JOBS: usize = 20;
    let env = TestEnv::new("restart").await?;
    let name = |i: usize| format!("restart-{i:02}");
    // Every fourth job fails; each runner takes a couple of seconds so the kill lands mid-run.
    let manifests = |range: std::ops::Range<usize>| -> String {
        range
            .map(|i| {
                let exit = if i % 4 == 0 { 1 } else { 0 };
                format!(
                    "apiVersion: testjob.dev/v1alpha1\nkind: TestJob\nmetadata:\n  name: {}\nspec:\n  testId: {i}\n  runner:\n    command: [\"sh\", \"-c\"]\n    args:\n      - |\n        sleep 2\n        printf '{{\"results\":[{{\"name\":\"only\",\"status\":\"passed\"}}]}}' > \"$TESTJOB_RESULTS_FILE\"\n        exit {exit}\n",
                    name(i)
                )
            })
            .collect::<Vec<_>>()
            .join("---\n")
    };

    // The first half runs when the controller is killed (SIGKILL, no chance to clean up).
    env.apply_yaml(&manifests(0..JOBS / 2)).await?;
    env.start_operator_with(KEEP_PODS).await?;
    let started = env
        .poll("the first jobs to start", || async {
            let started = env
                .phases()
                .await?
                .values()
                .filter(|p| !p.is_empty())
                .count();
            Ok((started >= JOBS / 4).then_some(started))
        })
        .await?;
    env.kill_operator().await?;
    eprintln!("killed the operator with {started} jobs started");

    // The second half is created while no controller runs, and the launched runners finish
    // unobserved.
    env.apply_yaml(&manifests(JOBS / 2..JOBS)).await?;
    let finished_while_down = env
        .poll("launched runner Pods to finish", || async {
            let pods = env.runner_pods().await?;
            let done = pods.iter().all(|p| {
                matches!(
                    p.status.as_ref().and_then(|s| s.phase.as_deref()),
                    Some("Succeeded" | "Failed")
                )
            });
            Ok(done.then_some(pods.len()))
        })
        .await?;
    let still_running = env
        .phases()
        .await?
        .values()
        .filter(|p| *p == "Running")
        .count();
    eprintln!(
        "{finished_while_down} runner Pods finished while the operator was down; {still_running} jobs still say Running"
    );

    env.start_operator_with(KEEP_PODS).await?;
    let (failing, passing): (Vec<usize>, Vec<usize>) = (0..JOBS).partition(|i| i % 4 == 0);
    let (failing, passing): (Vec<String>, Vec<String>) = (
        failing.into_iter().map(name).collect(),
        passing.into_iter().map(name).collect(),
    );
    let passing: Vec<&str> = passing.iter().map(String::as_str).collect();
    let failing: Vec<&str> = failing.iter().map(String::as_str).collect();
    env.wait_for_phase("Succeeded", &passing).await?;
    env.wait_for_phase("Failed", &failing).await?;
    for job in passing.iter().chain(&failing) {
        assert_one_pod(&env, job).await?;
        assert_eq!(env.job(job).await?["status"]["attempt"], 1, "{job}");
    }
    Ok(())
}

/// The examples and result fixtures behave as documented when their command runs as a local
/// process, the way the sandbox runs exec Pods (no cluster needed).
#[test]
fn examples_behave_as_local_processes() -> anyhow::Result<()> {
    let cases: [(&str, i32, usize, Option<&str>); 7] = [
        ("examples/minimal.yaml", 0, 1, None),
        ("examples/steps.yaml", 0, 5, None),
        ("examples/failing.yaml", 1, 2, None),
        (
            "tests/fixtures/results/garbage-results.yaml",
            0,
            0,
            Some("InvalidJson"),
        ),
        (
            "tests/fixtures/results/oversized-results.yaml",
            0,
            0,
            Some("Oversized"),
        ),
        (
            "tests/fixtures/results/no-results.yaml",
            0,
            0,
            Some("Missing"),
        ),
        (
            "tests/fixtures/results/crashing-runner.yaml",
            3,
            0,
            Some("Missing"),
        ),
    ];
    let dir = tempfile::tempdir()?;
    for (file, exit_code, results, problem) in cases {
        let mut job: TestJob = serde_yaml::from_str(&std::fs::read_to_string(package_file(file))?)
            .with_context(|| format!("{file} is a TestJob"))?;
        job.metadata.namespace = Some("local".into());
        job.metadata.uid = Some("local-uid".into());
        let pod = build_runner_pod(&job, 1, &Config::default().runner)?;
        let container = &pod.spec.as_ref().context("pod spec")?.containers[0];
        let results_file = dir.path().join(format!(
            "{}.json",
            job.metadata.name.clone().unwrap_or_default()
        ));
        std::fs::write(&results_file, "")?;
        let argv: Vec<String> = container
            .command
            .iter()
            .flatten()
            .chain(container.args.iter().flatten())
            .cloned()
            .collect();
        let mut command = std::process::Command::new(&argv[0]);
        command
            .args(&argv[1..])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        for var in container.env.iter().flatten() {
            let value = var.value.clone().unwrap_or_default();
            let value = if value == RESULTS_FILE {
                results_file.to_string_lossy().into_owned()
            } else {
                value
            };
            command.env(&var.name, value);
        }
        let status = command
            .status()
            .with_context(|| format!("running {file}"))?;
        assert_eq!(status.code(), Some(exit_code), "{file}");
        let report = parse_report(Some(&std::fs::read_to_string(&results_file)?));
        assert_eq!(report.results.len(), results, "{file}: {report:?}");
        let kind = report.problem.as_ref().map(|p| match p {
            ReportProblem::Missing => "Missing",
            ReportProblem::Oversized { .. } => "Oversized",
            ReportProblem::InvalidJson { .. } => "InvalidJson",
            ReportProblem::WrongShape { .. } => "WrongShape",
            ReportProblem::MalformedEntries { .. } => "MalformedEntries",
        });
        assert_eq!(kind, problem, "{file}");
    }
    Ok(())
}
