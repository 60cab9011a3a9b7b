//! End to end: the `kubectl testjob` plugin through the real kubectl, which finds
//! `kubectl-testjob` on the PATH: `run --wait` exit codes (passed, failed, could not run),
//! `--follow` streaming the runner's log while it runs, `rerun`, `cancel` ending a waiting run
//! with exit code 3, `list` filters, `results --format tap` byte for byte, `logs`, `-n`,
//! `--kubeconfig` and the one-line errors.

mod common;

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Instant,
};

use anyhow::{Context as _, bail, ensure};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::Command,
};

use common::{TestEnv, package_file, parse_table};

/// The kubectl the tests drive: the pinned one.
fn kubectl() -> PathBuf {
    testjob_testkit::tools::kubectl()
}

/// The PATH with the plugin's directory first, so that `kubectl testjob` runs this build.
fn plugin_path() -> anyhow::Result<std::ffi::OsString> {
    let plugin = Path::new(env!("CARGO_BIN_EXE_kubectl-testjob"));
    let dir = plugin.parent().context("plugin directory")?;
    let rest = std::env::var_os("PATH").unwrap_or_default();
    Ok(std::env::join_paths(
        std::iter::once(dir.to_path_buf()).chain(std::env::split_paths(&rest)),
    )?)
}

/// `kubectl testjob ARGS` in the test namespace, with the sandbox in `$KUBECONFIG`.
fn plugin(env: &TestEnv, args: &[&str]) -> anyhow::Result<Command> {
    let mut command = Command::new(kubectl());
    command
        // Before the arguments: those of `run` may end with `-- COMMAND...`.
        .args(["testjob", "-n", &env.namespace])
        .args(args)
        .env("PATH", plugin_path()?)
        .env("KUBECONFIG", env.kubeconfig())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    Ok(command)
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `kubectl testjob ARGS` to its end (bounded by the test's deadline). The command is
/// built at once, so the arguments need not outlive the future.
fn run<'a>(
    env: &'a TestEnv,
    args: &[&str],
) -> impl std::future::Future<Output = anyhow::Result<Run>> + 'a {
    let command = plugin(env, args);
    let label = args.join(" ");
    async move { run_command(env, command?, &label).await }
}

async fn run_command(env: &TestEnv, mut command: Command, label: &str) -> anyhow::Result<Run> {
    let output = tokio::time::timeout(env.timeout(), command.output())
        .await
        .with_context(|| format!("kubectl testjob {label} did not finish"))??;
    Ok(Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

/// The name in the plugin's first line, `testjob.testjob.dev/NAME created`.
fn created_name(stdout: &str) -> anyhow::Result<String> {
    stdout
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("testjob.testjob.dev/"))
        .and_then(|l| l.strip_suffix(" created"))
        .map(str::to_owned)
        .with_context(|| format!("no created name in {stdout:?}"))
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// Writes `manifest` to a file in `dir` and returns its path.
fn manifest_file(dir: &Path, name: &str, manifest: &Value) -> anyhow::Result<String> {
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, serde_yaml::to_string(manifest)?)?;
    Ok(path.to_string_lossy().into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_wait_exits_with_the_outcome_and_the_other_commands_work() -> anyhow::Result<()> {
    let env = TestEnv::new("plugin-run").await?;
    // A runner that cannot start fails after the start grace: keep it short.
    env.start_operator_with(&["--start-grace-seconds", "1"])
        .await?;
    let dir = tempfile::tempdir()?;
    let failing = package_file("examples/failing.yaml");
    let steps = package_file("examples/steps.yaml");
    let unrunnable = manifest_file(
        dir.path(),
        "unrunnable",
        &json!({
            "apiVersion": "testjob.dev/v1alpha1", "kind": "TestJob",
            "metadata": {"name": "unrunnable"},
            "spec": {"testId": "config", "runner": {
                "command": ["sh", "-c", "echo never"],
                "env": [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "missing", "key": "pw"}}}]
            }}
        }),
    )?;
    let missing = manifest_file(
        dir.path(),
        "missing",
        &json!({
            "apiVersion": "testjob.dev/v1alpha1", "kind": "TestJob",
            "metadata": {"name": "missing"},
            "spec": {"testId": "config", "runner": {"command": ["no-such-test-tool", "--all"]}}
        }),
    )?;
    let tap = manifest_file(
        dir.path(),
        "tap",
        &json!({
            "apiVersion": "testjob.dev/v1alpha1", "kind": "TestJob",
            "metadata": {"name": "tap"},
            "spec": {"testId": 220, "runner": {"command": ["sh", "-c",
                "printf 'TAP version 13\\n1..3\\nok 1 - login\\nok 2 - cart # SKIP no cart\\nok 3 - pay\\n' > \"$TESTJOB_REPORT_FILE\""]}}
        }),
    )?;
    let (failed, passed, not_run, not_started, tapped) = tokio::join!(
        run(&env, &["run", "-f", &failing.to_string_lossy(), "--wait"]),
        run(&env, &["run", "-f", &steps.to_string_lossy(), "--wait"]),
        run(
            &env,
            &["run", "-f", &unrunnable, "--wait", "--timeout", "2m"]
        ),
        run(&env, &["run", "-f", &missing, "--wait", "--timeout", "2m"]),
        run(&env, &["run", "-f", &tap, "--wait"]),
    );
    let (failed, passed, not_run, not_started, tapped) =
        (failed?, passed?, not_run?, not_started?, tapped?);
    let log = env.operator_log();

    // examples/failing.yaml: the table (failures first), the summary line, exit code 1.
    ensure!(
        failed.code == 1,
        "failing: {} {} {}\n{log}",
        failed.code,
        failed.stdout,
        failed.stderr
    );
    let failing_name = created_name(&failed.stdout)?;
    ensure!(
        failing_name.starts_with("failing-payment-")
            && failing_name.len() > "failing-payment-".len()
    );
    let table = parse_table(&failed.stdout.lines().skip(1).collect::<Vec<_>>().join("\n"));
    let rows: Vec<(&str, &str)> = table
        .iter()
        .take(2)
        .map(|r| (r["NAME"].as_str(), r["STATUS"].as_str()))
        .collect();
    ensure!(
        rows == [("payment", "failed"), ("login", "passed")],
        "{}",
        failed.stdout
    );
    ensure!(
        table[0]["MESSAGE"] == "expected HTTP 200, got 500" && table[0]["DURATION"] == "310ms",
        "{}",
        failed.stdout
    );
    ensure!(
        failed
            .stdout
            .contains("\n1/2 passed, 1 failed, 0 skipped (TestsFailed)\n"),
        "{}",
        failed.stdout
    );

    // examples/steps.yaml: exit code 0.
    ensure!(
        passed.code == 0,
        "steps: {} {} {}",
        passed.code,
        passed.stdout,
        passed.stderr
    );
    ensure!(
        passed
            .stdout
            .contains("4/5 passed, 0 failed, 1 skipped (TestsPassed)"),
        "{}",
        passed.stdout
    );

    // A runner that cannot start: exit code 2 with the reason.
    ensure!(
        not_run.code == 2,
        "unrunnable: {} {} {}\n{log}",
        not_run.code,
        not_run.stdout,
        not_run.stderr
    );
    ensure!(
        not_run.stdout.contains("(CreateContainerConfigError)"),
        "{}",
        not_run.stdout
    );
    // A runner whose command does not exist never ran a test: exit code 2, not 1.
    ensure!(
        not_started.code == 2 && not_started.stdout.contains("(StartError)"),
        "command not found: {} {} {}\n{log}",
        not_started.code,
        not_started.stdout,
        not_started.stderr
    );

    // results --format tap: the stored report byte for byte, as status.report says.
    ensure!(
        tapped.code == 0,
        "tap: {} {} {}",
        tapped.code,
        tapped.stdout,
        tapped.stderr
    );
    let tap_name = created_name(&tapped.stdout)?;
    let report = run(&env, &["results", &tap_name, "--format", "tap"]).await?;
    ensure!(report.code == 0, "{}", report.stderr);
    let job = env.job(&tap_name).await?;
    let digest: String = Sha256::digest(report.stdout.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    ensure!(
        digest == str_at(&job, "/status/report/sha256"),
        "{} vs {job}",
        report.stdout
    );
    ensure!(
        report.stdout.starts_with("TAP version 13\n1..3\n"),
        "{}",
        report.stdout
    );
    let junit = run(&env, &["results", &tap_name, "--format", "junit"]).await?;
    ensure!(
        junit.code == 2
            && junit.stderr.trim()
                == format!(
                    "error: the stored report of testjob {tap_name} is TAP, not JUnit: use --format tap"
                ),
        "{}",
        junit.stderr
    );
    let no_report = run(&env, &["results", &failing_name, "--format", "tap"]).await?;
    ensure!(
        no_report.code == 2 && no_report.stderr.contains("has no stored report"),
        "{}",
        no_report.stderr
    );
    let as_json = run(&env, &["results", &failing_name, "--format", "json"]).await?;
    let as_json: Value = serde_json::from_str(&as_json.stdout)?;
    ensure!(
        as_json["summary"] == json!({"total": 2, "passed": 1, "failed": 1, "skipped": 0}),
        "{as_json}"
    );
    ensure!(
        as_json["results"][1]["message"] == "expected HTTP 200, got 500"
            && as_json["reason"] == "TestsFailed",
        "{as_json}"
    );

    // Each run is a new job labelled with its test id.
    let labelled = env
        .kubectl_ok(&["get", "tj", "-l", "testjob.dev/test-id=4711", "-o", "name"])
        .await?;
    ensure!(
        labelled.trim() == format!("testjob.testjob.dev/{failing_name}"),
        "{labelled}"
    );

    // list: newest first, the columns of kubectl get tj, --test and --phase filters.
    let listed = run(&env, &["list"]).await?;
    let header = listed.stdout.lines().next().unwrap_or_default();
    ensure!(
        header.split_whitespace().collect::<Vec<_>>()
            == ["NAME", "TEST", "STATUS", "RESULT", "DURATION", "AGE"],
        "{}",
        listed.stdout
    );
    ensure!(parse_table(&listed.stdout).len() == 5, "{}", listed.stdout);
    let by_test = run(&env, &["list", "--test", "4711", "-o", "name"]).await?;
    ensure!(
        by_test.stdout.trim() == format!("testjob.testjob.dev/{failing_name}"),
        "{}{}",
        by_test.stdout,
        by_test.stderr
    );
    let by_phase = run(&env, &["list", "--phase", "Failed"]).await?;
    let mut failed_names: Vec<String> = parse_table(&by_phase.stdout)
        .into_iter()
        .map(|r| r["NAME"].clone())
        .collect();
    failed_names.sort();
    let unrunnable_name = created_name(&not_run.stdout)?;
    let mut expected = vec![
        failing_name.clone(),
        unrunnable_name,
        created_name(&not_started.stdout)?,
    ];
    expected.sort();
    ensure!(failed_names == expected, "{}", by_phase.stdout);
    let all = run(&env, &["list", "-A", "--test", "220"]).await?;
    let all_rows = parse_table(&all.stdout);
    ensure!(
        all_rows.len() == 1
            && all_rows[0]["NAMESPACE"] == env.namespace
            && all_rows[0]["NAME"] == tap_name,
        "{}",
        all.stdout
    );
    let as_yaml = run(&env, &["list", "--phase", "Succeeded", "-o", "yaml"]).await?;
    let as_yaml: Value = serde_yaml::from_str(&as_yaml.stdout)?;
    ensure!(
        as_yaml["kind"] == "List" && as_yaml["items"].as_array().map(Vec::len) == Some(2),
        "{as_yaml}"
    );

    // logs: the runner's log of the failed job (its Pod is kept).
    let logs = run(&env, &["logs", &failing_name]).await?;
    ensure!(
        logs.code == 0 && logs.stdout.contains("login: ok"),
        "{} {}",
        logs.stdout,
        logs.stderr
    );

    // rerun: a new job with the same spec and the rerun-of label; the old one untouched.
    let old = env.job(&failing_name).await?;
    let rerun = run(&env, &["rerun", &failing_name, "--wait"]).await?;
    ensure!(
        rerun.code == 1,
        "rerun: {} {} {}",
        rerun.code,
        rerun.stdout,
        rerun.stderr
    );
    let rerun_name = created_name(&rerun.stdout)?;
    ensure!(rerun_name != failing_name && rerun_name.starts_with(&format!("{failing_name}-")));
    let new = env.job(&rerun_name).await?;
    ensure!(
        new["spec"] == old["spec"],
        "{} vs {}",
        new["spec"],
        old["spec"]
    );
    ensure!(
        str_at(&new, "/metadata/labels/testjob.dev~1rerun-of") == failing_name,
        "{new}"
    );
    ensure!(
        env.job(&failing_name).await?["metadata"]["resourceVersion"]
            == old["metadata"]["resourceVersion"]
    );

    // Errors: one kubectl-like line, exit code 2.
    let missing = run(&env, &["results", "no-such-job"]).await?;
    ensure!(
        missing.code == 2
            && missing.stderr
                == "Error from server (NotFound): testjobs.testjob.dev \"no-such-job\" not found\n",
        "{:?}",
        missing.stderr
    );
    let other_namespace = run(&env, &["results", &failing_name, "-n", "default"]).await?;
    ensure!(
        other_namespace.code == 2 && other_namespace.stderr.contains("NotFound"),
        "-n is honoured: {}",
        other_namespace.stderr
    );

    // --kubeconfig wins over $KUBECONFIG; an unreachable server gives one clear line.
    let mut explicit = plugin(&env, &["results", &failing_name])?;
    explicit
        .env("KUBECONFIG", dir.path().join("nothing-here"))
        .arg("--kubeconfig")
        .arg(env.kubeconfig());
    let explicit = run_command(&env, explicit, "results --kubeconfig").await?;
    ensure!(
        explicit.code == 1 || explicit.code == 0,
        "{}",
        explicit.stderr
    );
    ensure!(
        explicit.stdout.contains("(TestsFailed)"),
        "{}",
        explicit.stdout
    );
    let config = std::fs::read_to_string(env.kubeconfig())?;
    let dead: Value = {
        let mut value: Value = serde_yaml::from_str(&config)?;
        for cluster in value["clusters"].as_array_mut().into_iter().flatten() {
            cluster["cluster"]["server"] = json!("https://127.0.0.1:1");
        }
        value
    };
    let dead_path = dir.path().join("dead-kubeconfig");
    std::fs::write(&dead_path, serde_yaml::to_string(&dead)?)?;
    let mut unreachable = plugin(&env, &["list"])?;
    unreachable.arg("--kubeconfig").arg(&dead_path);
    let unreachable = run_command(&env, unreachable, "list").await?;
    ensure!(unreachable.code == 2, "{}", unreachable.stderr);
    ensure!(
        unreachable
            .stderr
            .starts_with("error: cannot reach the cluster at https://127.0.0.1:1: ")
            && unreachable.stderr.lines().count() == 1,
        "{:?}",
        unreachable.stderr
    );
    Ok(())
}

/// The next line of `lines`, failing at `deadline`.
async fn next_line(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    deadline: Instant,
) -> anyhow::Result<Option<String>> {
    let left = deadline.saturating_duration_since(Instant::now());
    match tokio::time::timeout(left, lines.next_line()).await {
        Ok(line) => Ok(line?),
        Err(_) => bail!("no further output before the deadline"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_streams_the_log_while_the_job_runs() -> anyhow::Result<()> {
    let env = TestEnv::new("plugin-follow").await?;
    env.start_operator().await?;
    let mut child = plugin(
        &env,
        &[
            "run",
            "--test-id",
            "follow",
            "--follow",
            "--",
            "sh",
            "-c",
            "echo first; sleep 2; echo second",
        ],
    )?
    .spawn()?;
    let stdout = child.stdout.take().context("stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + env.timeout();
    let first = next_line(&mut lines, deadline).await?.unwrap_or_default();
    let name = created_name(&first)?;
    let mut seen = vec![first];
    loop {
        let Some(line) = next_line(&mut lines, deadline).await? else {
            bail!(
                "output ended before the runner's first line: {seen:?}\n{}",
                env.operator_log()
            );
        };
        seen.push(line.clone());
        if line == "first" {
            break;
        }
    }
    // The first line arrived while the runner still ran.
    let phase = env.job(&name).await?;
    ensure!(
        str_at(&phase, "/status/phase") == "Running",
        "the job already finished: {phase}"
    );
    let mut rest = vec![];
    while let Some(line) = next_line(&mut lines, deadline).await? {
        rest.push(line);
    }
    let status = tokio::time::timeout(env.timeout(), child.wait()).await??;
    ensure!(status.code() == Some(0), "{status}: {seen:?} {rest:?}");
    ensure!(
        rest.first().map(String::as_str) == Some("second"),
        "{rest:?}"
    );
    ensure!(
        rest.iter().any(|l| l == "no results (NoResults)"),
        "{rest:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_ends_the_job_cancelled_and_a_waiting_run_exits_3() -> anyhow::Result<()> {
    let env = TestEnv::new("plugin-cancel").await?;
    env.start_operator().await?;
    let mut waiting = plugin(
        &env,
        &[
            "run",
            "--test-id",
            "slow",
            "--wait",
            "--",
            "sh",
            "-c",
            "sleep 60",
        ],
    )?
    .spawn()?;
    let stdout = waiting.stdout.take().context("stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(env.timeout(), lines.next_line())
        .await??
        .unwrap_or_default();
    let name = created_name(&first)?;
    env.wait_for_phase("Running", &[&name]).await?;
    let cancel = run(&env, &["cancel", &name]).await?;
    ensure!(cancel.code == 0, "{}", cancel.stderr);
    ensure!(cancel.stdout.trim() == format!("testjob.testjob.dev/{name} cancel requested"));
    let status = tokio::time::timeout(env.timeout(), waiting.wait()).await??;
    let mut rest = vec![];
    while let Some(line) = lines.next_line().await? {
        rest.push(line);
    }
    ensure!(
        status.code() == Some(3),
        "{status}: {rest:?}\n{}",
        env.operator_log()
    );
    ensure!(rest.iter().any(|l| l.contains("(Cancelled)")), "{rest:?}");
    env.wait_for_phase("Cancelled", &[&name]).await?;
    // A timeout that runs out is exit code 2 too, and leaves the job alone.
    let timed_out = run(
        &env,
        &[
            "run",
            "--test-id",
            "slow",
            "--wait",
            "--timeout",
            "1s",
            "--",
            "sh",
            "-c",
            "sleep 60",
        ],
    )
    .await?;
    ensure!(
        timed_out.code == 2 && timed_out.stderr.contains("timed out after 1s"),
        "{} {}",
        timed_out.code,
        timed_out.stderr
    );
    Ok(())
}
