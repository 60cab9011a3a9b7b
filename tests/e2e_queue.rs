//! End-to-end tests of the run queue (`--max-running`) and the run controls of a TestJob:
//! `timeoutSeconds`, `retries`, `cancel`, `podCleanup` and `ttlSecondsAfterFinished`.
//!
//! Where timing matters the sandbox simulates Pods: a runner "runs" for its
//! `sandbox.kube/run-seconds` annotation and exits with `sandbox.kube/exit-code`. Every job also
//! carries an equivalent `sh -c` command, so the tests mean the same on a real cluster
//! (`TESTJOB_E2E_KUBECONFIG`, see `e2e.rs`). The queue is checked with a watch that sees every
//! version of every TestJob, not by sampling.

mod common;

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    sync::{Arc, Mutex, PoisonError},
};

use anyhow::{Context as _, ensure};
use futures::StreamExt;
use k8s_openapi::{api::core::v1::Pod, jiff::Timestamp};
use kube::{Api, ResourceExt, runtime::watcher};
use kube_sandbox::PodMode;
use serde_json::{Value, json};
use testjob_operator::{TestJob, crd::Phase};

use common::TestEnv;

/// A TestJob whose runner takes `seconds` and exits with `exit_code`, with `extra` merged into
/// its spec.
fn job(name: &str, seconds: f64, exit_code: i32, extra: Value) -> Value {
    let mut spec = json!({
        "testId": name,
        "runner": {
            "command": ["sh", "-c"],
            "args": [format!("echo started; sleep {seconds}; exit {exit_code}")],
            "podAnnotations": {
                "sandbox.kube/run-seconds": seconds.to_string(),
                "sandbox.kube/exit-code": exit_code.to_string(),
                "sandbox.kube/log": "started\n",
            },
        },
    });
    if let (Some(spec), Value::Object(extra)) = (spec.as_object_mut(), extra) {
        spec.extend(extra);
    }
    json!({
        "apiVersion": "testjob.dev/v1alpha1",
        "kind": "TestJob",
        "metadata": {"name": name},
        "spec": spec,
    })
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The condition of `type_` on a TestJob, as (status, reason, message).
fn condition(job: &Value, type_: &str) -> (String, String, String) {
    job["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == type_)
        .map(|c| {
            (
                str_at(c, "/status").to_owned(),
                str_at(c, "/reason").to_owned(),
                str_at(c, "/message").to_owned(),
            )
        })
        .unwrap_or_default()
}

/// Names of the runner Pods of `job`, sorted.
async fn pod_names(env: &TestEnv, job: &str) -> anyhow::Result<Vec<String>> {
    let mut names: Vec<String> = env
        .pods_of(job)
        .await?
        .iter()
        .map(|p| p.name_any())
        .collect();
    names.sort();
    Ok(names)
}

/// Waits until the wall clock is past the second of the newest `creationTimestamp` among
/// `jobs`, so that jobs created next are strictly younger (timestamps have whole seconds).
async fn next_second(env: &TestEnv, jobs: &[&str]) -> anyhow::Result<()> {
    let mut newest = 0;
    for job in jobs {
        let created = env.job(job).await?;
        let created: Timestamp = str_at(&created, "/metadata/creationTimestamp").parse()?;
        newest = newest.max(created.as_second());
    }
    env.poll("the clock to reach the next second", || async move {
        Ok((Timestamp::now().as_second() > newest).then_some(()))
    })
    .await
}

/// What a watch on the namespace's TestJobs saw, version by version.
#[derive(Debug, Default)]
struct Seen {
    phases: HashMap<String, Phase>,
    /// Most jobs Running at once.
    max_running: usize,
    /// Jobs in the order they were first seen Running.
    started: Vec<String>,
    /// Every phase each job went through, in order (repeats collapsed).
    history: HashMap<String, Vec<Phase>>,
    /// Every resourceVersion of each job.
    versions: HashMap<String, BTreeSet<String>>,
    /// The first `Queued` message of each job.
    queued: HashMap<String, String>,
}

impl Seen {
    fn apply(&mut self, job: &TestJob) {
        let name = job.name_any();
        if let Some(version) = job.resource_version() {
            self.versions
                .entry(name.clone())
                .or_default()
                .insert(version);
        }
        let status = job.status.clone().unwrap_or_default();
        if let Some(queued) = status
            .conditions
            .iter()
            .find(|c| c.type_ == "Queued" && c.status == "True")
        {
            self.queued
                .entry(name.clone())
                .or_insert_with(|| queued.message.clone());
        }
        let Some(phase) = status.phase else {
            return;
        };
        let history = self.history.entry(name.clone()).or_default();
        if history.last() != Some(&phase) {
            history.push(phase);
        }
        if phase == Phase::Running && !self.started.contains(&name) {
            self.started.push(name.clone());
        }
        self.phases.insert(name, phase);
        let running = self
            .phases
            .values()
            .filter(|p| **p == Phase::Running)
            .count();
        self.max_running = self.max_running.max(running);
    }
}

/// Watches the TestJobs of `env`'s namespace in the background, from before anything is created.
struct Watch {
    seen: Arc<Mutex<Seen>>,
    task: tokio::task::JoinHandle<()>,
}

impl Watch {
    async fn start(env: &TestEnv) -> anyhow::Result<Self> {
        let api: Api<TestJob> = Api::namespaced(env.client().clone(), &env.namespace);
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (ready, listed) = tokio::sync::oneshot::channel();
        let recorder = seen.clone();
        let task = tokio::spawn(async move {
            let mut ready = Some(ready);
            let mut events = watcher(api, watcher::Config::default()).boxed();
            while let Some(event) = events.next().await {
                let mut seen = recorder.lock().unwrap_or_else(PoisonError::into_inner);
                match event {
                    Ok(watcher::Event::Apply(job) | watcher::Event::InitApply(job)) => {
                        seen.apply(&job)
                    }
                    Ok(watcher::Event::InitDone) => {
                        if let Some(ready) = ready.take() {
                            let _ = ready.send(());
                        }
                    }
                    _ => {}
                }
            }
        });
        listed
            .await
            .context("the TestJob watch ended before listing")?;
        Ok(Watch { seen, task })
    }

    fn seen<T>(&self, read: impl FnOnce(&Seen) -> T) -> T {
        read(&self.seen.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test]
async fn a_limit_of_two_runs_six_jobs_two_at_a_time_by_priority_then_age() -> anyhow::Result<()> {
    let env = TestEnv::with_pods("queue-order", PodMode::Simulate).await?;
    let watch = Watch::start(&env).await?;
    // Created in three seconds; names run against age so that a name order would show.
    // Expected start order: d (10), e (5, oldest), b (5), f (0, oldest), c (0), a (0, newest).
    // Run times are staggered so that slots free up one at a time, two seconds apart: d ends at
    // 2s (b starts), e at 4s (f starts), b at 6s (c starts), f at 8s (a starts).
    let batches: [&[(&str, i32, f64)]; 3] = [
        &[("f-low", 0, 4.0), ("e-mid", 5, 4.0)],
        &[("d-high", 10, 2.0), ("c-low", 0, 2.0)],
        &[("b-mid", 5, 4.0), ("a-low", 0, 2.0)],
    ];
    for batch in batches {
        let jobs: Vec<Value> = batch
            .iter()
            .map(|(name, priority, seconds)| job(name, *seconds, 0, json!({"priority": priority})))
            .collect();
        env.apply_all(&jobs).await?;
        let names: Vec<&str> = batch.iter().map(|(name, ..)| *name).collect();
        next_second(&env, &names).await?;
    }
    env.start_operator_with(&["--max-running", "2"]).await?;
    let all = ["a-low", "b-mid", "c-low", "d-high", "e-mid", "f-low"];
    env.wait_for_phase("Succeeded", &all).await?;

    let (max_running, started, versions, queued, history) = watch.seen(|s| {
        (
            s.max_running,
            s.started.clone(),
            s.versions.clone(),
            s.queued.clone(),
            s.history.clone(),
        )
    });
    ensure!(
        max_running == 2,
        "at most 2 Running at once, saw {max_running}"
    );
    let first: HashSet<&str> = started.iter().take(2).map(String::as_str).collect();
    ensure!(
        first == HashSet::from(["d-high", "e-mid"]),
        "started first: {started:?}"
    );
    ensure!(
        started[2..] == ["b-mid", "f-low", "c-low", "a-low"],
        "start order: {started:?}"
    );
    // The queued jobs say why they wait, written once on entering the queue: creation, Queued,
    // Running, Succeeded are all the versions they had. The first two never queued.
    for name in ["b-mid", "f-low", "c-low", "a-low"] {
        ensure!(
            history[name] == [Phase::Pending, Phase::Running, Phase::Succeeded],
            "{name}: {:?}",
            history[name]
        );
        ensure!(
            queued.get(name).map(String::as_str) == Some("Queued: 2 running, limit 2"),
            "{name} queued with {:?}",
            queued.get(name)
        );
        ensure!(
            versions[name].len() == 4,
            "{name} was written {} times",
            versions[name].len() - 1
        );
        let job = env.job(name).await?;
        let (status, reason, _) = condition(&job, "Queued");
        ensure!(
            (status.as_str(), reason.as_str()) == ("False", "SlotAssigned"),
            "{name}: Queued is {status}/{reason}"
        );
    }
    for name in ["d-high", "e-mid"] {
        ensure!(!queued.contains_key(name), "{name} never waited");
        ensure!(
            history[name] == [Phase::Running, Phase::Succeeded],
            "{name}: {:?}",
            history[name]
        );
        ensure!(
            versions[name].len() == 3,
            "{name} was written {} times",
            versions[name].len() - 1
        );
    }
    Ok(())
}

#[tokio::test]
async fn an_attempt_over_its_time_limit_fails_with_reason_timeout() -> anyhow::Result<()> {
    let env = TestEnv::with_pods("timeout", PodMode::Simulate).await?;
    env.start_operator_with(&["--default-timeout-seconds", "2"])
        .await?;
    env.apply_all(&[
        job("limited", 120.0, 0, json!({"timeoutSeconds": 1})),
        job("defaulted", 120.0, 0, json!({})),
    ])
    .await?;
    env.wait_for_phase("Failed", &["limited", "defaulted"])
        .await?;
    for (name, seconds) in [("limited", 1), ("defaulted", 2)] {
        let job = env.job(name).await?;
        let (status, reason, message) = condition(&job, "Failed");
        ensure!(
            (status.as_str(), reason.as_str()) == ("True", "Timeout"),
            "{name}: Failed is {status}/{reason}"
        );
        ensure!(
            message == format!("the attempt ran longer than its time limit of {seconds}s"),
            "{name}: {message}"
        );
        // The Pod carries the limit and is kept (a failed job's Pod stays for its logs).
        let pods = env.pods_of(name).await?;
        let pod = pods.first().context("runner Pod kept")?;
        ensure!(
            pod.spec.as_ref().and_then(|s| s.active_deadline_seconds) == Some(seconds),
            "{name}: activeDeadlineSeconds of {:?}",
            pod.spec
        );
        ensure!(
            pod.status.as_ref().and_then(|s| s.reason.as_deref()) == Some("DeadlineExceeded"),
            "{name}: Pod status {:?}",
            pod.status
        );
    }
    Ok(())
}

#[tokio::test]
async fn retries_run_new_pods_after_a_backoff_and_stop_at_the_limit() -> anyhow::Result<()> {
    let env = TestEnv::with_pods("retries", PodMode::Simulate).await?;
    let watch = Watch::start(&env).await?;
    env.start_operator_with(&["--retry-backoff-seconds", "1"])
        .await?;
    env.apply_all(&[job("flaky", 0.2, 1, json!({"retries": 2}))])
        .await?;
    env.wait_for_phase("Failed", &["flaky"]).await?;

    let job = env.job("flaky").await?;
    ensure!(job["status"]["attempt"] == 3, "{}", job["status"]);
    ensure!(
        str_at(&job, "/status/podName") == "flaky-3",
        "{}",
        job["status"]
    );
    let message = str_at(&job, "/status/message");
    ensure!(
        message.starts_with("runner exited with code 1") && message.ends_with("(attempt 3 of 3)"),
        "{message}"
    );
    ensure!(
        pod_names(&env, "flaky").await? == ["flaky-1", "flaky-2", "flaky-3"],
        "one Pod per attempt, none beyond the limit"
    );
    // Each Pod starts a backoff after the previous one ended: 1s, then 2s (whole seconds).
    let pods: HashMap<String, Pod> = env
        .pods_of("flaky")
        .await?
        .into_iter()
        .map(|p| (p.name_any(), p))
        .collect();
    let finished = |name: &str| -> anyhow::Result<i64> {
        let status = pods[name].status.clone().unwrap_or_default();
        let runner = status.container_statuses.unwrap_or_default();
        let finished = runner
            .first()
            .and_then(|c| c.state.as_ref())
            .and_then(|s| s.terminated.as_ref())
            .and_then(|t| t.finished_at.as_ref())
            .context("finishedAt")?;
        Ok(finished.0.as_second())
    };
    let created = |name: &str| -> anyhow::Result<i64> {
        Ok(pods[name]
            .metadata
            .creation_timestamp
            .as_ref()
            .context("creationTimestamp")?
            .0
            .as_second())
    };
    ensure!(created("flaky-2")? >= finished("flaky-1")?, "first backoff");
    ensure!(
        created("flaky-3")? - finished("flaky-2")? >= 2 - 1,
        "second backoff"
    );
    // The job stayed Running between attempts: it kept its run slot.
    let history = watch.seen(|s| s.history.get("flaky").cloned().unwrap_or_default());
    ensure!(
        history == [Phase::Running, Phase::Failed],
        "phases {history:?}"
    );
    let described = env.kubectl_ok(&["describe", "testjob", "flaky"]).await?;
    ensure!(described.contains("AttemptFailed"), "{described}");
    Ok(())
}

#[tokio::test]
async fn a_retry_can_succeed_and_then_every_attempt_pod_is_cleaned_up() -> anyhow::Result<()> {
    let env = TestEnv::new("retry-succeeds").await?;
    env.start_operator_with(&["--retry-backoff-seconds", "0.2"])
        .await?;
    let mut flaky = job("second-time", 0.0, 0, json!({"retries": 3}));
    flaky["spec"]["runner"]["args"] =
        json!([r#"echo "attempt $TESTJOB_ATTEMPT"; [ "$TESTJOB_ATTEMPT" -ge 2 ]"#]);
    env.apply_all(&[flaky]).await?;
    env.wait_for_phase("Succeeded", &["second-time"]).await?;
    let job = env.job("second-time").await?;
    ensure!(job["status"]["attempt"] == 2, "{}", job["status"]);
    ensure!(condition(&job, "Complete").0 == "True", "{}", job["status"]);
    env.poll("the Pods of both attempts to be deleted", || async {
        Ok(pod_names(&env, "second-time")
            .await?
            .is_empty()
            .then_some(()))
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn cancel_stops_a_running_job_keeping_its_logs_and_a_queued_job_never_starts()
-> anyhow::Result<()> {
    let env = TestEnv::new("cancel").await?;
    env.start_operator_with(&["--max-running", "1"]).await?;
    let mut long = job("long", 600.0, 0, json!({"priority": 1}));
    long["spec"]["runner"]["args"] = json!(["echo started; sleep 600"]);
    env.apply_all(&[long]).await?;
    env.wait_for_phase("Running", &["long"]).await?;
    env.apply_all(&[
        job("queued", 0.0, 0, json!({"priority": 1})),
        job("after", 0.0, 0, json!({})),
    ])
    .await?;
    env.wait_for("condition=Queued", &["queued", "after"])
        .await?;
    env.poll("the runner to log", || async {
        let logs = env.kubectl(&["logs", "long-1"]).await?;
        Ok(logs.stdout.contains("started").then_some(()))
    })
    .await?;

    // A queued job that is cancelled never starts.
    let cancel = r#"{"spec":{"cancel":true}}"#;
    env.kubectl_ok(&["patch", "testjob", "queued", "--type=merge", "-p", cancel])
        .await?;
    env.wait_for_phase("Cancelled", &["queued"]).await?;
    let queued = env.job("queued").await?;
    ensure!(
        str_at(&queued, "/status/message") == "cancelled by spec.cancel before it started",
        "{}",
        queued["status"]
    );
    ensure!(pod_names(&env, "queued").await?.is_empty());
    ensure!(
        env.job("after").await?["status"]["phase"] == "Pending",
        "the slot is still taken"
    );

    // A running job's container is stopped; its Pod and logs stay.
    env.kubectl_ok(&["patch", "testjob", "long", "--type=merge", "-p", cancel])
        .await?;
    env.wait_for_phase("Cancelled", &["long"]).await?;
    env.wait_for("condition=Cancelled", &["long"]).await?;
    let long = env.job("long").await?;
    let message = str_at(&long, "/status/message");
    ensure!(
        message.starts_with("cancelled by spec.cancel during attempt 1: runner Pod long-1 ended"),
        "{message}"
    );
    let logs = env.kubectl_ok(&["logs", "long-1"]).await?;
    ensure!(logs.contains("started"), "kubectl logs long-1: {logs:?}");
    let pod = env.pods_of("long").await?;
    let pod = pod.first().context("the cancelled job's Pod is kept")?;
    ensure!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Failed"),
        "{:?}",
        pod.status
    );

    // The freed slot goes to the next job; cancel cannot be taken back.
    env.wait_for_phase("Succeeded", &["after"]).await?;
    let undo = env
        .kubectl(&[
            "patch",
            "testjob",
            "long",
            "--type=merge",
            "-p",
            r#"{"spec":{"cancel":false}}"#,
        ])
        .await?;
    ensure!(
        !undo.success && undo.stderr.contains("cancel cannot be undone"),
        "{}",
        undo.stderr
    );
    Ok(())
}

#[tokio::test]
async fn pod_cleanup_deletes_runner_pods_as_asked() -> anyhow::Result<()> {
    let env = TestEnv::with_pods("pod-cleanup", PodMode::Simulate).await?;
    env.start_operator().await?;
    let cases = [
        ("never-ok", Some("Never"), 0, false),
        ("onsuccess-ok", Some("OnSuccess"), 0, true),
        ("onsuccess-fail", Some("OnSuccess"), 1, false),
        ("always-fail", Some("Always"), 1, true),
        ("always-ok", Some("Always"), 0, true),
        ("default-ok", None, 0, true),
        ("default-fail", None, 1, false),
    ];
    let jobs: Vec<Value> = cases
        .iter()
        .map(|(name, cleanup, exit, _)| {
            let extra = match cleanup {
                Some(cleanup) => json!({"podCleanup": cleanup}),
                None => json!({}),
            };
            job(name, 0.0, *exit, extra)
        })
        .collect();
    env.apply_all(&jobs).await?;
    let ok: Vec<&str> = cases.iter().filter(|c| c.2 == 0).map(|c| c.0).collect();
    let failed: Vec<&str> = cases.iter().filter(|c| c.2 != 0).map(|c| c.0).collect();
    env.wait_for_phase("Succeeded", &ok).await?;
    env.wait_for_phase("Failed", &failed).await?;
    env.poll("the Pods to clean up to be deleted", || async {
        for (name, _, _, deleted) in cases {
            if deleted && !pod_names(&env, name).await?.is_empty() {
                return Ok(None);
            }
        }
        Ok(Some(()))
    })
    .await?;
    for (name, _, _, deleted) in cases {
        if !deleted {
            ensure!(
                pod_names(&env, name).await? == [format!("{name}-1")],
                "{name} keeps its Pod"
            );
        }
    }
    Ok(())
}

#[tokio::test]
async fn finished_jobs_are_deleted_after_their_ttl() -> anyhow::Result<()> {
    let env = TestEnv::with_pods("ttl", PodMode::Simulate).await?;
    env.start_operator().await?;
    env.apply_all(&[
        // Failed, so Pod cleanup keeps its Pod: it goes with the job.
        job("short-lived", 0.0, 1, json!({"ttlSecondsAfterFinished": 1})),
        job("kept", 0.0, 1, json!({})),
    ])
    .await?;
    env.wait_for_phase("Failed", &["kept"]).await?;
    let timeout = format!("--timeout={}s", env.timeout().as_secs());
    env.kubectl_ok(&["wait", "--for=delete", &timeout, "testjob/short-lived"])
        .await?;
    env.poll("the expired job's Pod to be collected", || async {
        Ok(pod_names(&env, "short-lived")
            .await?
            .is_empty()
            .then_some(()))
    })
    .await?;
    ensure!(env.job("kept").await?["status"]["phase"] == "Failed");
    ensure!(pod_names(&env, "kept").await? == ["kept-1"]);
    Ok(())
}

#[tokio::test]
async fn invalid_run_controls_are_refused() -> anyhow::Result<()> {
    let env = TestEnv::new("invalid-run-controls").await?;
    let cases = [
        (
            json!({"retries": 11}),
            &["spec.retries", "less than or equal to 10"][..],
        ),
        (
            json!({"retries": -1}),
            &["spec.retries", "greater than or equal to 0"],
        ),
        (
            json!({"timeoutSeconds": 0}),
            &["spec.timeoutSeconds", "greater than or equal to 1"],
        ),
        (
            json!({"ttlSecondsAfterFinished": -1}),
            &["spec.ttlSecondsAfterFinished", "greater than or equal to 0"],
        ),
        (
            json!({"podCleanup": "Sometimes"}),
            &["spec.podCleanup", "Unsupported value"],
        ),
        (
            json!({"priority": "high"}),
            &["spec.priority", "Invalid value"],
        ),
        (json!({"cancel": "yes"}), &["spec.cancel", "Invalid value"]),
    ];
    let mut failures = vec![];
    for (i, (extra, expected)) in cases.iter().enumerate() {
        let manifest = job(&format!("bad-{i}"), 0.0, 0, extra.clone());
        let output = env
            .kubectl_with_input(&["apply", "-f", "-"], Some(&manifest.to_string()))
            .await?;
        let missing: Vec<_> = expected
            .iter()
            .filter(|e| !output.stderr.contains(**e))
            .collect();
        if output.success || !missing.is_empty() {
            failures.push(format!(
                "{extra}: success={} missing {missing:?}\nstderr: {}",
                output.success, output.stderr
            ));
        }
    }
    ensure!(failures.is_empty(), "{}", failures.join("\n\n"));
    let created = env.kubectl_ok(&["get", "testjobs", "-o", "name"]).await?;
    ensure!(created.trim().is_empty(), "stored: {created}");
    Ok(())
}
