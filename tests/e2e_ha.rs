//! End-to-end tests of high availability and observability: several operator processes with
//! `--leader-elect` against one cluster (only the Lease holder reconciles, a standby takes over
//! when the leader is killed or shuts down), the `/metrics`, `/healthz` and `/readyz` endpoints,
//! and JSON logs.
//!
//! Runner Pods are simulated by the sandbox (`sandbox.kube/*` annotations) so that timings are
//! the operator's, not the runners'. Every replica is started as `POD_NAME=<replica>`, so its
//! Lease identity (`<replica>-<random>`) tells which process leads. Waits poll with deadlines;
//! measured takeover times are printed (`cargo test -- --nocapture` shows them).

mod common;

use std::{
    collections::HashMap,
    net::SocketAddr,
    process::ExitStatus,
    time::{Duration, Instant},
};

use anyhow::{Context as _, ensure};
use k8s_openapi::api::{coordination::v1::Lease, core::v1::Namespace};
use kube::{
    Api,
    api::{ObjectMeta, Patch, PatchParams, PostParams},
};
use kube_sandbox::PodMode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use common::TestEnv;
use testjob_operator::metrics::ERROR_REASONS;
use testjob_testkit::{
    operator::{OperatorCommand, OperatorProcess},
    wait::{Deadline, poll},
};

const LEASE: &str = "testjob-operator";

/// A TestJob whose simulated runner takes `seconds` and exits with `exit_code`, reporting one
/// result; no retries.
fn job(name: &str, seconds: f64, exit_code: i32) -> Value {
    let status = if exit_code == 0 { "passed" } else { "failed" };
    json!({
        "apiVersion": "testjob.dev/v1alpha1",
        "kind": "TestJob",
        "metadata": {"name": name},
        "spec": {
            "testId": name,
            "retries": 0,
            // Runner Pods are kept, so the tests can count them.
            "podCleanup": "Never",
            "runner": {
                "command": ["sh", "-c"],
                "args": [format!("sleep {seconds}; exit {exit_code}")],
                "podAnnotations": {
                    "sandbox.kube/run-seconds": seconds.to_string(),
                    "sandbox.kube/exit-code": exit_code.to_string(),
                    "sandbox.kube/termination-message":
                        json!({"results": [{"name": "only", "status": status}]}).to_string(),
                },
            },
        },
    })
}

/// One HTTP GET: `None` when nothing listens, else (status code, body).
async fn http_get(addr: SocketAddr, path: &str) -> anyhow::Result<Option<(u16, String, String)>> {
    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
        return Ok(None);
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        stream.read_to_string(&mut response),
    )
    .await
    .context("HTTP response timed out")??;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .context("malformed HTTP response")?;
    let code = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .context("no status code")?;
    let content_type = head
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        })
        .map(|(_, value)| value.trim().to_owned())
        .unwrap_or_default();
    Ok(Some((code, content_type, body.to_owned())))
}

/// An operator process started by a test.
struct Replica {
    name: String,
    process: OperatorProcess,
    addr: Option<SocketAddr>,
}

impl Replica {
    /// Starts `testjob-operator run` for the test namespace with `flags`, as Pod `name`.
    fn start(env: &TestEnv, name: &str, flags: &[&str]) -> anyhow::Result<Replica> {
        let process = env
            .operator_command(name)
            .args(flags.iter().copied())
            .pod_name()
            .spawn()?;
        Ok(Replica {
            name: name.to_owned(),
            process,
            addr: None,
        })
    }

    /// A replica with `--leader-elect` on a Lease in the test namespace.
    fn elect(env: &TestEnv, name: &str, duration: u64, grace: u64) -> anyhow::Result<Replica> {
        let (duration, grace) = (duration.to_string(), grace.to_string());
        Replica::start(
            env,
            name,
            &[
                "--leader-elect",
                "--lease-namespace",
                &env.namespace,
                "--lease-duration-seconds",
                &duration,
                "--lease-grace-seconds",
                &grace,
            ],
        )
    }

    fn log(&self) -> String {
        self.process.log()
    }

    /// The end of the log, for failure messages.
    fn tail(&self) -> String {
        self.process.log_tail(40)
    }

    /// The address its HTTP server listens on, from its log.
    async fn addr(&mut self) -> anyhow::Result<SocketAddr> {
        if let Some(addr) = self.addr {
            return Ok(addr);
        }
        let addr = poll(
            &format!("{} to serve HTTP", self.name),
            Duration::from_secs(30),
            || async {
                let log = self.log();
                Ok(log
                    .lines()
                    .find(|l| l.contains("serving /metrics"))
                    .and_then(|l| l.split("addr=").nth(1))
                    .and_then(|a| a.split_whitespace().next())
                    .and_then(|a| a.parse().ok()))
            },
        )
        .await
        .with_context(|| self.tail())?;
        self.addr = Some(addr);
        Ok(addr)
    }

    /// GET `path` on its HTTP server as (status, content type, body).
    async fn get(&mut self, path: &str) -> anyhow::Result<(u16, String, String)> {
        let addr = self.addr().await?;
        http_get(addr, path)
            .await?
            .with_context(|| format!("{} does not answer HTTP\n{}", self.name, self.tail()))
    }

    /// Waits until `/readyz` answers `code` with a body that contains `says`; returns the body.
    async fn wait_ready(
        &mut self,
        code: u16,
        says: &str,
        limit: Duration,
    ) -> anyhow::Result<String> {
        let deadline = Deadline::after(format!("{} to be ready", self.name), limit);
        loop {
            self.check_alive()?;
            let (status, _, body) = self.get("/readyz").await?;
            if status == code && body.contains(says) {
                return Ok(body);
            }
            deadline
                .tick()
                .await
                .with_context(|| format!("{} /readyz {code}: {status} {body}", self.name))
                .with_context(|| self.tail())?;
        }
    }

    fn check_alive(&mut self) -> anyhow::Result<()> {
        self.process.check_alive()
    }

    /// Sends SIGTERM, as the kubelet does when it stops a Pod.
    fn terminate(&self) -> anyhow::Result<()> {
        self.process.terminate()
    }

    /// Waits for the process to exit.
    async fn exited(&mut self, limit: Duration) -> anyhow::Result<ExitStatus> {
        self.process.exited(limit).await
    }
}

/// The Lease's holder identity, if any.
async fn holder(env: &TestEnv) -> anyhow::Result<Option<String>> {
    let leases: Api<Lease> = Api::namespaced(env.client().clone(), &env.namespace);
    Ok(leases
        .get_opt(LEASE)
        .await?
        .and_then(|l| l.spec)
        .and_then(|s| s.holder_identity))
}

/// Waits until the Lease names a holder whose identity starts with `replica-`; returns the
/// identity.
async fn wait_for_holder(env: &TestEnv, replica: &str, limit: Duration) -> anyhow::Result<String> {
    let prefix = format!("{replica}-");
    poll(&format!("{replica} to hold the Lease"), limit, || async {
        Ok(holder(env).await?.filter(|h| h.starts_with(&prefix)))
    })
    .await
}

/// Waits until every named job has a final phase; returns the phases by name.
async fn wait_finished(
    env: &TestEnv,
    names: &[String],
    replicas: &mut [&mut Replica],
) -> anyhow::Result<HashMap<String, String>> {
    let deadline = Deadline::after("the jobs to finish", env.timeout());
    loop {
        for replica in replicas.iter_mut() {
            replica.check_alive()?;
        }
        let phases = env.phases().await?;
        let done = names.iter().all(|n| {
            matches!(
                phases.get(n).map(String::as_str),
                Some("Succeeded" | "Failed" | "Cancelled")
            )
        });
        if done {
            return Ok(phases);
        }
        if let Err(error) = deadline.tick().await {
            let tails: Vec<String> = replicas.iter().map(|r| r.tail()).collect();
            return Err(error.context(format!("jobs: {phases:?}\n{}", tails.join("\n"))));
        }
    }
}

/// Asserts that each named job ran exactly one attempt, in exactly one Pod `<job>-1`.
async fn assert_one_pod_per_attempt(env: &TestEnv, names: &[String]) -> anyhow::Result<()> {
    let mut pods_by_job: HashMap<String, Vec<String>> = HashMap::new();
    for pod in env.runner_pods().await? {
        let labels = pod.metadata.labels.clone().unwrap_or_default();
        let job = labels
            .get(testjob_operator::pod::NAME_LABEL)
            .cloned()
            .unwrap_or_default();
        pods_by_job
            .entry(job)
            .or_default()
            .push(pod.metadata.name.clone().unwrap_or_default());
    }
    for name in names {
        let pods = pods_by_job.remove(name).unwrap_or_default();
        ensure!(
            pods == [format!("{name}-1")],
            "runner Pods of {name}: {pods:?}"
        );
        let job = env.job(name).await?;
        ensure!(job["status"]["attempt"] == 1, "{name}: {}", job["status"]);
    }
    ensure!(pods_by_job.is_empty(), "unexpected Pods: {pods_by_job:?}");
    Ok(())
}

/// The value of the sample `series` (name and labels, as written) in an exposition.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

fn names(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{prefix}-{i:02}")).collect()
}

#[tokio::test]
async fn two_replicas_give_one_pod_per_attempt_and_the_leader_reports_metrics() -> anyhow::Result<()>
{
    const JOBS: usize = 50;
    let env = TestEnv::with_pods("ha-two-replicas", PodMode::Simulate).await?;
    let names = names("job", JOBS);
    // Every fifth job fails; runs take 0.1 to 0.5 s.
    let jobs: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(i, name)| job(name, 0.1 * (i % 5 + 1) as f64, i32::from(i % 5 == 4)))
        .collect();

    // Both replicas start at once, racing for the Lease while the jobs arrive.
    let mut a = Replica::elect(&env, "replica-a", 10, 3)?;
    let mut b = Replica::elect(&env, "replica-b", 10, 3)?;
    env.apply_all(&jobs).await?;
    let phases = wait_finished(&env, &names, &mut [&mut a, &mut b]).await?;
    let failed = phases.values().filter(|p| *p == "Failed").count();
    let succeeded = phases.values().filter(|p| *p == "Succeeded").count();
    assert_eq!(
        (succeeded, failed),
        (JOBS - JOBS / 5, JOBS / 5),
        "{phases:?}"
    );
    assert_one_pod_per_attempt(&env, &names).await?;

    // Exactly one replica led, and both are still up and ready.
    let holder = holder(&env).await?.context("the Lease has a holder")?;
    let (leader, standby) = if holder.starts_with("replica-a-") {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };
    assert!(holder.starts_with(&format!("{}-", leader.name)), "{holder}");
    let leading = |r: &Replica| r.log().matches("acquired leadership").count();
    assert_eq!(leading(leader), 1, "{}", leader.tail());
    assert_eq!(leading(standby), 0, "{}", standby.tail());
    assert!(
        !standby.log().contains("starting TestJob controller"),
        "{}",
        standby.tail()
    );
    leader
        .wait_ready(200, "leader, caches synced", Duration::from_secs(10))
        .await?;
    standby
        .wait_ready(200, "standing by", Duration::from_secs(10))
        .await?;
    assert_eq!(leader.get("/healthz").await?.0, 200);

    // The leader's metrics describe the run; the standby reconciled nothing.
    let (status, content_type, text) = leader.get("/metrics").await?;
    assert_eq!(status, 200);
    assert_eq!(
        content_type,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(text.ends_with("# EOF\n"), "{text}");
    let expect = [
        (r#"testjob_finished_total{phase="Succeeded"}"#, succeeded),
        (r#"testjob_finished_total{phase="Failed"}"#, failed),
        (r#"testjob_jobs{phase="Succeeded"}"#, succeeded),
        (r#"testjob_jobs{phase="Failed"}"#, failed),
        (r#"testjob_jobs{phase="Running"}"#, 0),
        (r#"testjob_jobs{phase="Pending"}"#, 0),
        ("testjob_running", 0),
        ("testjob_queue_depth", 0),
        ("testjob_duration_seconds_count", JOBS),
        ("testjob_queue_wait_seconds_count", JOBS),
    ];
    for (series, value) in expect {
        assert_eq!(
            sample(&text, series),
            Some(value as f64),
            "{series} in\n{text}"
        );
    }
    // Simulated runs take 0.1–0.5 s; timestamps have whole seconds, so each run counts 0–2 s.
    let total = sample(&text, "testjob_duration_seconds_sum").context("duration sum")?;
    assert!((0.0..=2.0 * JOBS as f64).contains(&total), "{total}");
    let waited = sample(&text, "testjob_queue_wait_seconds_sum").context("queue wait sum")?;
    assert!((0.0..=30.0 * JOBS as f64).contains(&waited), "{waited}");
    // Error reasons are a fixed set, whatever the errors said.
    for line in text
        .lines()
        .filter(|l| l.starts_with("testjob_reconcile_errors_total"))
    {
        assert!(
            ERROR_REASONS.iter().any(|r| line.starts_with(&format!(
                "testjob_reconcile_errors_total{{reason=\"{r}\"}} "
            ))),
            "{line}"
        );
    }
    let (_, _, standby_text) = standby.get("/metrics").await?;
    assert_eq!(
        sample(
            &standby_text,
            r#"testjob_finished_total{phase="Succeeded"}"#
        ),
        Some(0.0)
    );
    assert!(!standby_text.contains("testjob_jobs{"), "{standby_text}");
    eprintln!(
        "{JOBS} jobs, one Pod each; {} led, {} stood by",
        leader.name, standby.name
    );
    Ok(())
}

#[tokio::test]
async fn killing_the_leader_hands_over_within_the_lease_duration() -> anyhow::Result<()> {
    const DURATION: u64 = 5;
    let env = TestEnv::with_pods("ha-kill-leader", PodMode::Simulate).await?;
    let mut a = Replica::elect(&env, "replica-a", DURATION, 2)?;
    wait_for_holder(&env, "replica-a", Duration::from_secs(30))
        .await
        .with_context(|| a.tail())?;
    a.wait_ready(200, "leader, caches synced", Duration::from_secs(30))
        .await?;
    let mut b = Replica::elect(&env, "replica-b", DURATION, 2)?;
    b.wait_ready(200, "standing by", Duration::from_secs(30))
        .await?;

    // Jobs that are running when the leader dies, and jobs created while nobody leads.
    let first = names("before", 6);
    let jobs: Vec<Value> = first.iter().map(|n| job(n, 3.0, 0)).collect();
    env.apply_all(&jobs).await?;
    poll("the first jobs to run", env.timeout(), || async {
        let phases = env.phases().await?;
        Ok((phases.values().filter(|p| *p == "Running").count() >= 3).then_some(()))
    })
    .await
    .with_context(|| a.tail())?;

    a.process.kill().await?;
    let killed = Instant::now();
    let second = names("after", 4);
    let jobs: Vec<Value> = second.iter().map(|n| job(n, 0.5, 0)).collect();
    env.apply_all(&jobs).await?;

    let limit = Duration::from_secs(DURATION) + Duration::from_secs(2);
    wait_for_holder(&env, "replica-b", limit + Duration::from_secs(10))
        .await
        .with_context(|| b.tail())?;
    let takeover = killed.elapsed();
    b.wait_ready(200, "leader, caches synced", Duration::from_secs(30))
        .await?;
    let leading = killed.elapsed();
    eprintln!(
        "SIGKILL of the leader: the standby held the Lease after {takeover:.2?} and was ready as leader after {leading:.2?} (lease duration {DURATION}s)"
    );
    // The Lease expires at most DURATION after its last renewal; the rest is request latency.
    assert!(
        takeover <= limit,
        "took over after {takeover:?}, lease duration {DURATION}s\n{}",
        b.tail()
    );

    let all: Vec<String> = first.iter().chain(&second).cloned().collect();
    let phases = wait_finished(&env, &all, &mut [&mut b]).await?;
    ensure!(
        phases.values().all(|p| p == "Succeeded"),
        "{phases:?}\n{}",
        b.tail()
    );
    assert_one_pod_per_attempt(&env, &all).await?;
    Ok(())
}

#[tokio::test]
async fn sigterm_releases_the_lease_so_the_standby_takes_over_at_once() -> anyhow::Result<()> {
    // A long lease: waiting for it to expire would take 30 s.
    const DURATION: u64 = 30;
    let env = TestEnv::with_pods("ha-sigterm", PodMode::Simulate).await?;
    let mut a = Replica::elect(&env, "replica-a", DURATION, 5)?;
    wait_for_holder(&env, "replica-a", Duration::from_secs(30))
        .await
        .with_context(|| a.tail())?;
    a.wait_ready(200, "leader, caches synced", Duration::from_secs(30))
        .await?;
    let mut b = Replica::elect(&env, "replica-b", DURATION, 5)?;
    b.wait_ready(200, "standing by", Duration::from_secs(30))
        .await?;

    let first = names("before", 4);
    let jobs: Vec<Value> = first.iter().map(|n| job(n, 2.0, 0)).collect();
    env.apply_all(&jobs).await?;
    poll("the jobs to run", env.timeout(), || async {
        let phases = env.phases().await?;
        Ok(first
            .iter()
            .all(|n| phases.get(n).is_some_and(|p| p == "Running"))
            .then_some(()))
    })
    .await
    .with_context(|| a.tail())?;

    a.terminate()?;
    let signalled = Instant::now();
    let status = a.exited(Duration::from_secs(30)).await?;
    let stopped = signalled.elapsed();
    assert!(status.success(), "{status}\n{}", a.tail());
    let log = a.log();
    assert!(log.contains("shutdown requested"), "{}", a.tail());
    assert!(log.contains("released the Lease"), "{}", a.tail());

    wait_for_holder(&env, "replica-b", Duration::from_secs(10))
        .await
        .with_context(|| b.tail())?;
    let takeover = signalled.elapsed();
    b.wait_ready(200, "leader, caches synced", Duration::from_secs(30))
        .await?;
    let leading = signalled.elapsed();
    eprintln!(
        "SIGTERM of the leader: it exited after {stopped:.2?}; the standby held the Lease after {takeover:.2?} and was ready as leader after {leading:.2?} (lease duration {DURATION}s)"
    );
    assert!(
        takeover < Duration::from_secs(5),
        "took over after {takeover:?}"
    );

    let second = names("after", 3);
    let jobs: Vec<Value> = second.iter().map(|n| job(n, 0.2, 0)).collect();
    env.apply_all(&jobs).await?;
    let all: Vec<String> = first.iter().chain(&second).cloned().collect();
    let phases = wait_finished(&env, &all, &mut [&mut b]).await?;
    ensure!(phases.values().all(|p| p == "Succeeded"), "{phases:?}");
    assert_one_pod_per_attempt(&env, &all).await?;
    Ok(())
}

#[tokio::test]
async fn a_leader_that_loses_the_lease_exits_non_zero() -> anyhow::Result<()> {
    let env = TestEnv::with_pods("ha-lost-lease", PodMode::Simulate).await?;
    let mut a = Replica::elect(&env, "replica-a", 10, 3)?;
    wait_for_holder(&env, "replica-a", Duration::from_secs(30))
        .await
        .with_context(|| a.tail())?;
    a.wait_ready(200, "leader, caches synced", Duration::from_secs(30))
        .await?;

    // Someone else takes the Lease over (as a forced acquisition would).
    let leases: Api<Lease> = Api::namespaced(env.client().clone(), &env.namespace);
    let now = k8s_openapi::jiff::Timestamp::now();
    leases
        .patch(
            LEASE,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {
                "holderIdentity": "intruder",
                "renewTime": k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(now),
                "leaseDurationSeconds": 3600,
            }})),
        )
        .await?;
    let taken = Instant::now();
    let status = a.exited(Duration::from_secs(20)).await?;
    eprintln!(
        "the leader exited {:.2?} after losing the Lease",
        taken.elapsed()
    );
    assert!(!status.success(), "{status}\n{}", a.tail());
    assert!(a.log().contains("lost leadership"), "{}", a.tail());
    Ok(())
}

#[tokio::test]
async fn readyz_is_503_until_the_lease_is_reachable_and_the_cache_synced() -> anyhow::Result<()> {
    let env = TestEnv::with_pods("ha-readyz", PodMode::Simulate).await?;
    // The Lease's namespace does not exist yet, so the replica can neither lead nor stand by.
    let lease_namespace = format!("{}-leases", env.namespace);
    let mut a = Replica::start(
        &env,
        "replica-a",
        &["--leader-elect", "--lease-namespace", &lease_namespace],
    )?;
    a.addr().await?;
    assert_eq!(a.get("/healthz").await?.0, 200);
    // It keeps failing to create its Lease: not ready, for as long as that lasts.
    poll(
        "a failed Lease attempt",
        Duration::from_secs(30),
        || async { Ok(a.log().contains("cannot use the Lease").then_some(())) },
    )
    .await
    .with_context(|| a.tail())?;
    for _ in 0..3 {
        let (status, _, body) = a.get("/readyz").await?;
        assert_eq!(status, 503, "{body}");
        assert!(body.starts_with("not ready"), "{body}");
    }

    let namespaces: Api<Namespace> = Api::all(env.client().clone());
    namespaces
        .create(
            &PostParams::default(),
            &Namespace {
                metadata: ObjectMeta {
                    name: Some(lease_namespace.clone()),
                    ..ObjectMeta::default()
                },
                ..Namespace::default()
            },
        )
        .await?;
    a.wait_ready(200, "leader, caches synced", Duration::from_secs(30))
        .await?;

    // Without leader election: ready once the cache is synced.
    let mut solo = Replica::start(&env, "solo", &[])?;
    solo.wait_ready(200, "caches synced", Duration::from_secs(30))
        .await?;
    Ok(())
}

#[tokio::test]
async fn log_format_json_prints_one_json_object_per_line() -> anyhow::Result<()> {
    let env = TestEnv::with_pods("ha-json-logs", PodMode::Simulate).await?;
    let mut a = Replica::start(&env, "json", &["--log-format", "json"])?;
    env.apply_all(&[job("json-job", 0.1, 0)]).await?;
    wait_finished(&env, &["json-job".to_owned()], &mut [&mut a]).await?;
    a.terminate()?;
    let status = a.exited(Duration::from_secs(30)).await?;
    assert!(status.success(), "{status}\n{}", a.tail());

    let log = a.log();
    let mut messages = vec![];
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let entry: Value =
            serde_json::from_str(line).with_context(|| format!("not a JSON line: {line}"))?;
        for key in ["timestamp", "level", "target", "message"] {
            ensure!(entry.get(key).is_some(), "no {key} in {line}");
        }
        messages.push(entry);
    }
    // Event fields are top-level keys, ready for log queries.
    let started = messages
        .iter()
        .find(|m| m["message"] == "created runner Pod")
        .with_context(|| format!("no Pod creation in\n{log}"))?;
    assert_eq!(started["testjob"], "json-job", "{started}");
    assert_eq!(started["pod"], "json-job-1", "{started}");
    assert!(
        messages
            .iter()
            .any(|m| m["message"] == "controller stopped")
    );
    Ok(())
}

#[tokio::test]
async fn sandbox_command_logs_json_too() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut sandbox = OperatorCommand::new(
        env!("CARGO_BIN_EXE_testjob-operator"),
        "sandbox",
        dir.path().join("stderr.log"),
    )
    .subcommand("sandbox")
    .args(["--log-format", "json"])
    .arg("--kubeconfig")
    .arg(dir.path().join("kubeconfig"))
    .rust_log("info")
    .discard_stdout()
    .spawn()?;
    let read = || sandbox.log();
    poll(
        "the sandbox's controller to start",
        Duration::from_secs(60),
        || async { Ok(read().contains("starting TestJob controller").then_some(())) },
    )
    .await
    .with_context(read)?;
    sandbox.terminate()?;
    sandbox.exited(Duration::from_secs(30)).await?;
    for line in sandbox.log().lines().filter(|l| !l.trim().is_empty()) {
        let entry: Value =
            serde_json::from_str(line).with_context(|| format!("not a JSON line: {line}"))?;
        ensure!(entry.get("level").is_some(), "{line}");
    }
    Ok(())
}
