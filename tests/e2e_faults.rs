//! Fault tests: the operator is crashed, replaced by its standby, starved of a healthy API
//! server, and has its runner Pods deleted under it — and no job is lost, none is stuck, and no
//! attempt runs in two Pods.
//!
//! Each test starts an in-process sandbox with simulated runner Pods (`sandbox.kube/*`
//! annotations: exit codes and run times chosen per job) and runs the operator binary as child
//! processes under its own ServiceAccount (`testjob_testkit::cluster`). Watches of this
//! process record every runner Pod ever created (name and uid), so that a Pod created twice is
//! caught even after it was cleaned up. Waits are on watched conditions with deadlines; the
//! only timed steps are the fault schedule itself (when to kill the controller next).
//!
//! The tests with large reports handed over by the runner Pods' `report` sidecar, and with a
//! report lost with its Pod, are in `e2e_faults/reports.rs`.
//!
//! Sizes are chosen for debug builds on two shared cores; each test prints what it did
//! (`cargo test --test e2e_faults -- --nocapture`).

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams};
use kube::runtime::watcher;
use kube_sandbox::FaultConfig;

use testjob_operator::crd::{Phase, PodCleanup, TestJob};
use testjob_operator::pod::{MANAGED_BY_LABEL, MANAGER, pod_name};
use testjob_testkit::cluster::{Cluster, ClusterOptions};
use testjob_testkit::jobs::{
    JobPlan, JobsSeen, PodsSeen, create_jobs, duplicate_pods, list_jobs, track_jobs, track_pods,
    wrong_phases,
};
use testjob_testkit::operator::OperatorProcess;
use testjob_testkit::sandbox::keep_logs_asked;
use testjob_testkit::wait::Deadline;
use testjob_testkit::watch::{Observe, Tracker};

const NAMESPACE: &str = "faults";

#[path = "e2e_faults/reports.rs"]
mod reports;

fn operator_binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_testjob-operator"))
}

/// A deterministic pseudo-random sequence (xorshift), so that a failing schedule can be
/// replayed from its printed seed.
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A duration between `lo` and `hi`.
    fn between(&mut self, lo: Duration, hi: Duration) -> Duration {
        let span = (hi - lo).as_millis() as u64;
        lo + Duration::from_millis(self.next() % span.max(1))
    }
}

/// A sandbox with namespace [`NAMESPACE`] and watches of its TestJobs and runner Pods.
struct Fixture {
    cluster: Cluster,
    jobs: Tracker<JobsSeen>,
    pods: Tracker<PodsSeen>,
    api: Api<TestJob>,
}

impl Fixture {
    async fn start(options: ClusterOptions) -> anyhow::Result<Fixture> {
        let mut cluster = Cluster::start(options).await?;
        // `TESTJOB_KEEP_LOGS` keeps the operators' logs (the directory is printed).
        if keep_logs_asked() {
            eprintln!("operator logs kept in {}", cluster.keep_dir().display());
        }
        cluster.create_namespace(NAMESPACE).await?;
        let jobs = track_jobs(cluster.new_client().await?, NAMESPACE);
        let pods = track_pods(cluster.new_client().await?, NAMESPACE);
        jobs.wait_synced(Duration::from_secs(30)).await?;
        pods.wait_synced(Duration::from_secs(30)).await?;
        let api = Api::namespaced(cluster.new_client().await?, NAMESPACE);
        Ok(Fixture {
            cluster,
            jobs,
            pods,
            api,
        })
    }

    /// `testjob-operator run --namespace faults <flags>` as process `name`.
    fn operator(&self, name: &str, flags: &[&str]) -> anyhow::Result<OperatorProcess> {
        self.cluster
            .operator(operator_binary(), name)
            .args(["--namespace", NAMESPACE])
            .args(flags.iter().copied())
            .spawn()
    }

    /// Creates the jobs in the background (they keep arriving while faults happen).
    fn create_in_background(
        &self,
        plans: &[JobPlan],
    ) -> tokio::task::JoinHandle<anyhow::Result<()>> {
        let api = self.api.clone();
        let plans = plans.to_vec();
        tokio::spawn(async move {
            let count = std::sync::atomic::AtomicUsize::new(0);
            create_jobs(&api, &plans, 16, &count).await.map(|_| ())
        })
    }

    fn finished(&self) -> usize {
        self.jobs.state().finished()
    }

    /// Waits up to `limit` for `count` jobs to have finished; `Ok(false)` when they have not.
    async fn wait_finished(&self, count: usize, limit: Duration) -> anyhow::Result<bool> {
        match self
            .jobs
            .wait_for("jobs to finish", limit, |s| {
                (s.finished() >= count).then_some(())
            })
            .await
        {
            Ok(()) => Ok(true),
            Err(_) if self.finished() < count => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// The final checks: every planned job in the phase its plan leads to, in attempt
    /// `attempts(plan)`, and every runner Pod ever seen created once, for a planned attempt.
    async fn check_outcome(&self, plans: &[JobPlan]) -> anyhow::Result<()> {
        let jobs = list_jobs(&self.api).await?;
        let problems = wrong_phases(&jobs, plans);
        ensure!(
            problems.is_empty(),
            "{} jobs in the wrong phase: {:?}",
            problems.len(),
            &problems[..problems.len().min(20)]
        );
        for job in &jobs {
            let attempt = job.status.as_ref().and_then(|s| s.attempt);
            ensure!(
                attempt == Some(1),
                "{} ran attempt {attempt:?}",
                job.name_any()
            );
        }
        let duplicates = duplicate_pods(&self.pods.state(), plans);
        ensure!(duplicates.is_empty(), "duplicate Pods: {duplicates:?}");
        let seen = self.pods.state().pods.len();
        ensure!(
            seen == plans.len(),
            "{seen} runner Pods seen for {} jobs",
            plans.len()
        );
        Ok(())
    }

    /// Waits until the runner Pods left are exactly those of the failed jobs (the default
    /// `podCleanup: OnSuccess` deletes the others), as the API lists them.
    async fn wait_cleaned_up(&self, plans: &[JobPlan], limit: Duration) -> anyhow::Result<()> {
        let mut expected: Vec<String> = plans
            .iter()
            .filter(|p| p.expected_phase() == Phase::Failed)
            .map(|p| pod_name(&p.name, 1))
            .collect();
        expected.sort();
        let live = |s: &PodsSeen| {
            let mut live: Vec<String> = s.live.keys().cloned().collect();
            live.sort();
            live
        };
        let waited = self
            .pods
            .wait_for("the runner Pods to be cleaned up", limit, |s| {
                (live(s) == expected).then_some(())
            })
            .await;
        if let Err(error) = waited {
            let left = live(&self.pods.state());
            let extra: Vec<&String> = left.iter().filter(|p| !expected.contains(p)).collect();
            bail!("{error}: {} Pods left, unexpected: {extra:?}", left.len());
        }
        let pods: Api<Pod> = Api::namespaced(self.cluster.admin.clone(), NAMESPACE);
        let listed = pods
            .list(&ListParams::default().labels(&format!("{MANAGED_BY_LABEL}={MANAGER}")))
            .await?;
        let mut names: Vec<String> = listed.items.iter().map(|p| p.name_any()).collect();
        names.sort();
        ensure!(
            names == expected,
            "the API lists {} runner Pods",
            names.len()
        );
        Ok(())
    }
}

/// Jobs `<prefix>-NNNN` running 0.2 to 1 s; every tenth fails.
fn mixed_plans(prefix: &str, count: usize) -> Vec<JobPlan> {
    (0..count)
        .map(|i| JobPlan {
            exit_code: i32::from(i % 10 == 9),
            run_seconds: 0.2 * (i % 5 + 1) as f64,
            ..JobPlan::new(format!("{prefix}-{i:04}"))
        })
        .collect()
}

/// Runs `plans` with the operator SIGKILLed every few seconds ([`kill_every_few_seconds`], for
/// at most `limit`), then checks that every job ended as planned and its Pods are gone.
async fn run_under_sigkill(
    fixture: &Fixture,
    plans: &[JobPlan],
    rng: &mut Xorshift,
    limit: Duration,
) -> anyhow::Result<Kills> {
    let operator = fixture.operator("operator-0", &[])?;
    let creating = fixture.create_in_background(plans);
    let kills = kill_every_few_seconds(fixture, operator, rng, plans.len(), limit).await?;
    creating.await??;
    fixture
        .wait_cleaned_up(plans, Duration::from_secs(60))
        .await
        .with_context(|| kills.operator.log_tail(40))?;
    fixture.check_outcome(plans).await?;
    Ok(kills)
}

/// What [`kill_every_few_seconds`] did.
struct Kills {
    /// The operator process running at the end (never killed).
    operator: OperatorProcess,
    /// From the first kill-loop step until every job had finished.
    elapsed: Duration,
    /// How many jobs had finished at each kill.
    finished_at_kill: Vec<usize>,
    /// For each restart, how long until the next job finished, sorted.
    recoveries: Vec<Duration>,
}

impl Kills {
    /// One line for the test's output.
    fn describe(&self, jobs: usize, seed: u64) -> String {
        format!(
            "seed {seed:#x}: {jobs} jobs finished in {:.1?} across {} operator processes; jobs finished at each kill: {:?}; restart → next job finished: median {:.1?}, max {:.1?}",
            self.elapsed,
            self.finished_at_kill.len() + 1,
            self.finished_at_kill,
            self.recoveries
                .get(self.recoveries.len() / 2)
                .copied()
                .unwrap_or_default(),
            self.recoveries.last().copied().unwrap_or_default(),
        )
    }

    /// The run had enough kills, and some early on, to test crashes at all.
    fn check_enough(&self, jobs: usize, min_kills: usize) -> anyhow::Result<()> {
        let kills = self.finished_at_kill.len();
        ensure!(
            kills >= min_kills,
            "only {kills} kills: the run was too short to test crashes"
        );
        ensure!(
            self.finished_at_kill.iter().any(|f| *f < jobs / 2),
            "no kill happened in the first half of the run: {:?}",
            self.finished_at_kill
        );
        Ok(())
    }
}

/// Kills `operator` with SIGKILL every 1 to 3 s (from `rng`), restarting it at once, until
/// `jobs` jobs have finished or `limit` has passed. Each new process first has to show progress
/// (one more job finished) before it runs for a further 1 to 3 seconds and is killed again.
async fn kill_every_few_seconds(
    fixture: &Fixture,
    mut operator: OperatorProcess,
    rng: &mut Xorshift,
    jobs: usize,
    limit: Duration,
) -> anyhow::Result<Kills> {
    let started = Instant::now();
    let deadline = Deadline::after("every job to finish", limit);
    let mut finished_at_kill = vec![];
    let mut recoveries = vec![];
    loop {
        let run_for = rng.between(Duration::from_millis(1000), Duration::from_millis(3000));
        if fixture.wait_finished(jobs, run_for).await? {
            break;
        }
        operator.check_alive()?;
        operator.kill().await?;
        let before = fixture.finished();
        finished_at_kill.push(before);
        operator = fixture.operator(&format!("operator-{}", finished_at_kill.len()), &[])?;
        let restarted = Instant::now();
        if !fixture
            .wait_finished(before + 1, Duration::from_secs(60))
            .await?
        {
            bail!(
                "no job finished within 60 s of restart {} ({before} of {jobs} finished)\n{}",
                finished_at_kill.len(),
                operator.log_tail(40)
            );
        }
        recoveries.push(restarted.elapsed());
        if restarted.elapsed() > Duration::from_secs(5) {
            eprintln!(
                "slow recovery of {}: {:.1?}",
                operator.name,
                restarted.elapsed()
            );
        }
        deadline.check().with_context(|| {
            format!(
                "{} of {jobs} jobs finished after {} kills",
                fixture.finished(),
                finished_at_kill.len()
            )
        })?;
    }
    recoveries.sort();
    Ok(Kills {
        operator,
        elapsed: started.elapsed(),
        finished_at_kill,
        recoveries,
    })
}

/// Kills the operator with SIGKILL every few seconds, restarting it at once, while the jobs
/// arrive and run ([`kill_every_few_seconds`]); how long each recovery takes is printed. See
/// `JOBS` for the size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_every_few_seconds_loses_no_job() -> anyhow::Result<()> {
    const JOBS: usize = 2_000;
    let seed = 0x5eed_0001;
    let mut rng = Xorshift(seed);
    let fixture = Fixture::start(ClusterOptions::default()).await?;
    let plans = mixed_plans("crash", JOBS);
    let kills = run_under_sigkill(&fixture, &plans, &mut rng, Duration::from_secs(300)).await?;
    eprintln!("SIGKILL test ({})", kills.describe(JOBS, seed));
    kills.check_enough(JOBS, 5)
}

/// The Lease's holder, kept up to date by a watch.
#[derive(Default)]
struct LeaseHolder(Option<String>);

impl Observe<Lease> for LeaseHolder {
    fn observe(&mut self, event: watcher::Event<Lease>, _: Instant) {
        if let watcher::Event::Apply(lease) | watcher::Event::InitApply(lease) = event {
            self.0 = lease.spec.and_then(|s| s.holder_identity);
        }
    }
}

/// Two replicas with `--leader-elect`; the leader is killed with SIGKILL while jobs run. The
/// standby takes over once the Lease expires, and every job still finishes once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_leader_mid_run_loses_no_job() -> anyhow::Result<()> {
    const JOBS: usize = 400;
    const LEASE_SECONDS: u64 = 6;
    let fixture = Fixture::start(ClusterOptions::default()).await?;
    let lease_flags = [
        "--leader-elect",
        "--lease-namespace",
        NAMESPACE,
        "--lease-duration-seconds",
        "6",
        "--lease-grace-seconds",
        "3",
    ];
    let leases: Tracker<LeaseHolder> = Tracker::start(
        Api::namespaced(fixture.cluster.new_client().await?, NAMESPACE),
        watcher::Config::default(),
        LeaseHolder::default(),
    );
    let mut a = fixture.operator("replica-a", &lease_flags)?;
    let holder_a = leases
        .wait_for("replica-a to lead", Duration::from_secs(60), |h| {
            h.0.clone().filter(|h| h.starts_with("replica-a-"))
        })
        .await
        .with_context(|| a.log_tail(40))?;
    let mut b = fixture.operator("replica-b", &lease_flags)?;

    let plans = mixed_plans("ha", JOBS);
    let creating = fixture.create_in_background(&plans);
    ensure!(
        fixture
            .wait_finished(JOBS / 4, Duration::from_secs(120))
            .await?,
        "the leader did not get a quarter of the jobs done\n{}",
        a.log_tail(40)
    );
    a.check_alive()?;
    b.check_alive()?;
    a.kill().await?;
    let killed = Instant::now();
    let finished_at_kill = fixture.finished();
    let holder_b = leases
        .wait_for(
            "replica-b to take over",
            Duration::from_secs(LEASE_SECONDS + 30),
            |h| h.0.clone().filter(|h| h.starts_with("replica-b-")),
        )
        .await
        .with_context(|| b.log_tail(40))?;
    let takeover = killed.elapsed();
    // The crashed replica comes back, as its Deployment would restart it, and stands by.
    let mut a = fixture.operator("replica-a2", &lease_flags)?;
    ensure!(
        fixture
            .wait_finished(JOBS, Duration::from_secs(180))
            .await?,
        "{} of {JOBS} jobs finished\n{}",
        fixture.finished(),
        b.log_tail(40)
    );
    let resumed = killed.elapsed();
    creating.await??;
    fixture
        .wait_cleaned_up(&plans, Duration::from_secs(60))
        .await
        .with_context(|| b.log_tail(40))?;
    fixture.check_outcome(&plans).await?;
    a.check_alive()?;
    b.check_alive()?;
    ensure!(
        !a.log().contains("starting TestJob controller"),
        "the restarted replica should stand by\n{}",
        a.log_tail(20)
    );
    eprintln!(
        "leader election: {holder_a} killed with {finished_at_kill} of {JOBS} jobs finished; {holder_b} held the Lease {takeover:.2?} later (lease {LEASE_SECONDS} s) and every job had finished {resumed:.1?} after the kill"
    );
    // The Lease expires at most its duration after the last renewal; the rest is the time
    // the standby takes to notice (it retries every grace period) plus debug-build latency.
    ensure!(
        takeover <= Duration::from_secs(LEASE_SECONDS + 10),
        "takeover took {takeover:?}"
    );
    Ok(())
}

/// What the sandbox's counters say about the faults it injected.
fn injected(cluster: &Cluster) -> HashMap<&'static str, u64> {
    let stats = cluster.sandbox().stats();
    let code = |c: &str| stats.by_code.get(c).copied().unwrap_or(0);
    HashMap::from([
        ("500", code("500")),
        ("429", code("429")),
        ("410", code("410")),
        (
            "watch ERROR events",
            stats
                .watch_events_by_type
                .get("ERROR")
                .copied()
                .unwrap_or(0),
        ),
    ])
}

/// Restarts the operator when it exited (a Deployment would), counting the restarts.
fn supervise(
    fixture: &Fixture,
    operator: &mut OperatorProcess,
    restarts: &mut Vec<String>,
) -> anyhow::Result<()> {
    if let Err(exit) = operator.check_alive() {
        restarts.push(
            exit.to_string()
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned(),
        );
        ensure!(
            restarts.len() <= 5,
            "the operator keeps exiting: {restarts:?}\n{exit}"
        );
        *operator = fixture.operator(&format!("operator-{}", restarts.len()), &[])?;
    }
    Ok(())
}

/// Waits for `count` finished jobs, supervising the operator; fails after `limit`.
async fn finish_supervised(
    fixture: &Fixture,
    operator: &mut OperatorProcess,
    restarts: &mut Vec<String>,
    count: usize,
    limit: Duration,
) -> anyhow::Result<()> {
    let deadline = Deadline::after(format!("{count} finished jobs"), limit);
    while !fixture.wait_finished(count, Duration::from_secs(1)).await? {
        supervise(fixture, operator, restarts)?;
        deadline.check().with_context(|| {
            format!(
                "{} jobs finished\n{}",
                fixture.finished(),
                operator.log_tail(40)
            )
        })?;
    }
    Ok(())
}

/// The API misbehaves while jobs run: 5% of requests fail with 500 (later 429), every watch
/// stream is closed after 2 s, the watch history is cut so that resuming watches get 410 Gone,
/// and the API pauses for 10 s. Every job still finishes, in its own single Pod.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_faults_lose_no_job() -> anyhow::Result<()> {
    const JOBS: usize = 300;
    let faults = FaultConfig {
        error_rate: 0.05,
        error_code: 500,
        watch_close_after_seconds: 2,
        ..FaultConfig::default()
    };
    // The faults start once the test's own setup is done, before the operator starts.
    let fixture = Fixture::start(ClusterOptions::default()).await?;
    let sandbox = fixture.cluster.sandbox();
    sandbox.set_faults(faults.clone())?;
    // Pods are kept, so that the API itself can tell at the end that each job had one.
    let plans: Vec<JobPlan> = mixed_plans("api", JOBS)
        .into_iter()
        .map(|p| JobPlan {
            pod_cleanup: Some(PodCleanup::Never),
            ..p
        })
        .collect();
    let mut operator = fixture.operator("operator-0", &[])?;
    let mut restarts = vec![];
    let creating = fixture.create_in_background(&plans);
    let started = Instant::now();
    let limit = Duration::from_secs(240);

    finish_supervised(&fixture, &mut operator, &mut restarts, JOBS / 6, limit).await?;
    sandbox.set_faults(FaultConfig {
        error_code: 429,
        ..faults.clone()
    })?;
    finish_supervised(&fixture, &mut operator, &mut restarts, JOBS / 3, limit).await?;

    // Keep only the last few changes: watches that resume from an older resourceVersion get
    // 410 Gone and must list again.
    let gone_before =
        injected(&fixture.cluster)["410"] + injected(&fixture.cluster)["watch ERROR events"];
    sandbox.set_watch_history(5);
    let deadline = Deadline::after("a watch to get 410 Gone", Duration::from_secs(60));
    while injected(&fixture.cluster)["410"] + injected(&fixture.cluster)["watch ERROR events"]
        <= gone_before
    {
        deadline.check()?;
        fixture
            .wait_finished(JOBS, Duration::from_millis(200))
            .await?;
    }
    sandbox.set_watch_history(ClusterOptions::default().watch_history);

    // Every request hangs for 10 s; runner Pods keep finishing meanwhile.
    sandbox.set_faults(FaultConfig {
        error_code: 429,
        pause_seconds: 10,
        ..faults.clone()
    })?;
    let paused_at = fixture.finished();
    let pause_began = Instant::now();
    finish_supervised(&fixture, &mut operator, &mut restarts, JOBS, limit).await?;
    let elapsed = started.elapsed();
    let after_pause = pause_began.elapsed();
    let counts = injected(&fixture.cluster);
    sandbox.set_faults(FaultConfig::default())?;
    creating.await??;

    let jobs = list_jobs(&fixture.api).await?;
    let stuck: Vec<String> = jobs
        .iter()
        .filter(|j| j.status.as_ref().and_then(|s| s.phase) == Some(Phase::Running))
        .map(|j| j.name_any())
        .collect();
    ensure!(stuck.is_empty(), "jobs stuck Running: {stuck:?}");
    fixture.check_outcome(&plans).await?;
    // With `podCleanup: Never` every Pod ever created is still there: one per job, listed by
    // the API rather than remembered by a watch.
    let pods: Api<Pod> = Api::namespaced(fixture.cluster.admin.clone(), NAMESPACE);
    let listed = pods
        .list(&ListParams::default().labels(&format!("{MANAGED_BY_LABEL}={MANAGER}")))
        .await?;
    let mut per_job: HashMap<String, usize> = HashMap::new();
    for pod in &listed.items {
        *per_job
            .entry(
                pod.labels()
                    .get(testjob_operator::pod::NAME_LABEL)
                    .cloned()
                    .unwrap_or_default(),
            )
            .or_default() += 1;
    }
    ensure!(
        per_job.len() == JOBS && per_job.values().all(|n| *n == 1),
        "{} runner Pods for {} jobs",
        listed.items.len(),
        per_job.len()
    );
    eprintln!(
        "API faults: {JOBS} jobs finished in {elapsed:.1?}; injected {counts:?}; {paused_at} jobs had finished when the 10 s pause began, the rest {after_pause:.1?} later; operator restarts: {restarts:?}"
    );
    ensure!(counts["500"] > 0 && counts["429"] > 0, "{counts:?}");
    ensure!(
        paused_at < JOBS * 3 / 4,
        "the pause came too late to matter: {paused_at} of {JOBS} jobs had finished"
    );
    Ok(())
}

/// Deleting a runner Pod by hand (as `kubectl delete pod` does) while it runs fails its job
/// with reason `PodDeleted`; a job that allows a retry runs a second attempt instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_runner_pod_fails_the_job_or_retries_it() -> anyhow::Result<()> {
    let fixture = Fixture::start(ClusterOptions::default()).await?;
    let plans = [
        JobPlan {
            run_seconds: 8.0,
            ..JobPlan::new("no-retry")
        },
        JobPlan {
            run_seconds: 8.0,
            retries: 1,
            ..JobPlan::new("one-retry")
        },
    ];
    let operator = fixture.operator("operator", &["--retry-backoff-seconds", "0.5"])?;
    let count = std::sync::atomic::AtomicUsize::new(0);
    create_jobs(&fixture.api, &plans, 2, &count).await?;
    let first: Vec<String> = plans.iter().map(|p| pod_name(&p.name, 1)).collect();
    let running = fixture
        .jobs
        .wait_for("both jobs to run", Duration::from_secs(60), |s| {
            (s.count(Phase::Running) == 2).then_some(())
        })
        .await;
    running.with_context(|| operator.log_tail(40))?;
    let pods: Api<Pod> = Api::namespaced(fixture.cluster.admin.clone(), NAMESPACE);
    for name in &first {
        pods.delete(name, &DeleteParams::default()).await?;
    }
    let deleted_at = Instant::now();
    ensure!(
        fixture.wait_finished(2, Duration::from_secs(60)).await?,
        "the jobs did not finish\n{}",
        operator.log_tail(40)
    );

    let failed = fixture.api.get("no-retry").await?;
    let status = failed.status.clone().unwrap_or_default();
    ensure!(status.phase == Some(Phase::Failed), "{status:?}");
    let verdict = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Failed")
        .context("no Failed condition")?;
    ensure!(verdict.reason == "PodDeleted", "{verdict:?}");
    let message = status.message.clone().unwrap_or_default();
    ensure!(
        message.contains("no-retry-1")
            && (message.contains("deleted") || message.contains("disappeared")),
        "unclear message: {message}"
    );

    let retried = fixture.api.get("one-retry").await?;
    let status = retried.status.clone().unwrap_or_default();
    ensure!(
        status.phase == Some(Phase::Succeeded) && status.attempt == Some(2),
        "{status:?}"
    );
    let seen = fixture.pods.state();
    let mut names: Vec<&String> = seen.pods.keys().collect();
    names.sort();
    ensure!(
        names == ["no-retry-1", "one-retry-1", "one-retry-2"],
        "runner Pods seen: {names:?}"
    );
    ensure!(
        seen.pods.values().all(|p| p.uids.len() == 1),
        "a Pod was created twice"
    );
    eprintln!(
        "Pod deleted by hand: no-retry ended Failed ({message}); one-retry succeeded in attempt 2, {:.1?} after the deletion",
        deleted_at.elapsed()
    );
    Ok(())
}
