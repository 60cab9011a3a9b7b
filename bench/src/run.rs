//! One benchmark run: a sandbox with simulated Pods, the operator as a child process under its
//! own ServiceAccount, N TestJobs created as fast as the API takes them, and the measurements
//! the limits are judged by, all taken in the same run:
//!
//! * the API's write capacity first, before the operator starts ([`crate::capacity`]);
//! * dispatch latency: a TestJob's create sent → a watcher of this process saw its runner Pod;
//!   and its floor, the watch latency: a ConfigMap's create sent → a plain kube-rs watcher saw
//!   it, for probes created throughout the run (paced by the run's progress). Both are also
//!   reported from the create's answer; see `BENCHMARKS.md` for why the send is the origin;
//! * throughput: N ÷ (first create → last job seen finished);
//! * API cost: the operator's writes, from the sandbox's request counts filtered to its
//!   ServiceAccount, so that this program's own writes (jobs, probes) never count;
//! * the operator's peak RSS and CPU time, from `/proc`;
//! * with `--max-running`, how long a queued job waits once a slot is freed;
//! * after the run, dispatch and watch latency once more on the quiet cluster, one job and one
//!   probe at a time ([`measure_idle`]): what a single job waits when nothing queues ahead.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use kube::runtime::watcher;
use serde_json::json;
use testjob_operator::pod::pod_name;
use testjob_testkit::cluster::{Cluster, ClusterOptions};
use testjob_testkit::jobs::{
    Created, JobPlan, JobsSeen, PodsSeen, create_jobs, create_retrying, create_timed,
    duplicate_pods, track_jobs, track_pods,
};
use testjob_testkit::operator::{OperatorProcess, built_binary};
use testjob_testkit::sandbox::SANDBOX_THREAD_NAME;
use testjob_testkit::wait::Deadline;
use testjob_testkit::watch::{FirstSeen, Tracker};

use crate::args::BenchArgs;
use crate::capacity::{self, CAPACITY_NAMESPACE};
use crate::load::{self, LOAD_NAMESPACE, LOAD_PROBE_NAMESPACE};
use crate::measure::{Latencies, Writes, paired, requests_of, slot_handoffs};
use crate::procfs::{Machine, ProcUsage, threads_cpu_ms};
use crate::report::{Capacity, Report};
use crate::reports::{self, REPORT_NAMESPACE};
use crate::storage;

/// The namespace of the measured TestJobs.
const JOBS_NAMESPACE: &str = "bench";
const PROBE_NAMESPACE: &str = "bench-probe";
const WARMUP_NAMESPACE: &str = "bench-warmup";
const IDLE_NAMESPACE: &str = "bench-idle";

/// Starts the operator and waits until it has run a first job (so that its caches are synced
/// and its connections open before anything is measured).
async fn start_operator(cluster: &Cluster, args: &BenchArgs) -> anyhow::Result<OperatorProcess> {
    let binary = match &args.operator {
        Some(path) => path.clone(),
        None => built_binary()?,
    };
    let mut flags = args.operator_args.clone();
    if args.max_running > 0 {
        flags.extend(["--max-running".to_owned(), args.max_running.to_string()]);
    }
    let mut operator = cluster.operator(&binary, "operator").args(flags).spawn()?;
    let client = cluster.new_client().await?;
    let jobs = track_jobs(client.clone(), WARMUP_NAMESPACE);
    let api = Api::namespaced(client, WARMUP_NAMESPACE);
    let warmup = JobPlan::new("warmup").to_testjob()?;
    create_retrying(&api, &warmup, Duration::from_secs(30)).await?;
    let finished = jobs
        .wait_for("the warm-up job to finish", Duration::from_secs(120), |s| {
            (s.finished() == 1).then_some(())
        })
        .await;
    if let Err(error) = finished {
        operator.check_alive()?;
        return Err(error.context(operator.log_tail(40)));
    }
    Ok(operator)
}

/// Creates `count` probe ConfigMaps paced by the run's progress (jobs created, Pods seen, jobs
/// finished: 3 steps per job), so that they sample the watch latency from start to end.
async fn create_probes(
    api: Api<ConfigMap>,
    count: usize,
    progress: impl Fn() -> usize,
    total_progress: usize,
    created: Arc<Mutex<HashMap<String, Created>>>,
) -> anyhow::Result<()> {
    let mut tasks = tokio::task::JoinSet::new();
    let mut next = 0;
    while next < count {
        let due = (progress() * count)
            .div_ceil(total_progress.max(1))
            .min(count);
        while next < due {
            let name = format!("probe-{next}");
            let object: ConfigMap = serde_json::from_value(json!({"metadata": {"name": name}}))?;
            let api = api.clone();
            let created = created.clone();
            tasks.spawn(async move {
                let timing = create_timed(&api, &object, Duration::from_secs(60)).await?;
                lock(&created).insert(name, timing);
                anyhow::Ok(())
            });
            next += 1;
        }
        // Pacing, not waiting for a result: look at the progress again shortly.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(())
}

/// Dispatch and watch latency on the cluster once the run is over: `count` times, one TestJob
/// is created and its runner Pod awaited, then one ConfigMap is created and awaited, so that
/// nothing queues ahead of either and the two alternate under the same conditions.
async fn measure_idle(cluster: &Cluster, count: usize) -> anyhow::Result<(Latencies, Latencies)> {
    const LIMIT: Duration = Duration::from_secs(30);
    let pods = track_pods(cluster.new_client().await?, IDLE_NAMESPACE);
    let probes: Tracker<FirstSeen> = Tracker::start(
        Api::<ConfigMap>::namespaced(cluster.new_client().await?, IDLE_NAMESPACE),
        watcher::Config::default(),
        FirstSeen::default(),
    );
    pods.wait_synced(LIMIT).await?;
    probes.wait_synced(LIMIT).await?;
    let client = cluster.new_client().await?;
    let jobs_api = Api::namespaced(client.clone(), IDLE_NAMESPACE);
    let probes_api = Api::<ConfigMap>::namespaced(client, IDLE_NAMESPACE);
    let (mut dispatch, mut watch) = (Vec::new(), Vec::new());
    for i in 0..count {
        let name = format!("idle-{i:04}");
        let created = create_timed(&jobs_api, &JobPlan::new(&name).to_testjob()?, LIMIT).await?;
        let pod = pod_name(&name, 1);
        let seen = pods
            .wait_for(&format!("runner Pod {pod}"), LIMIT, |s| {
                s.pods.get(&pod).map(|p| p.first_seen)
            })
            .await?;
        dispatch.push(seen.saturating_duration_since(created.sent));

        let probe = format!("idle-probe-{i:04}");
        let object: ConfigMap = serde_json::from_value(json!({"metadata": {"name": probe}}))?;
        let created = create_timed(&probes_api, &object, LIMIT).await?;
        let seen = probes
            .wait_for(&format!("probe {probe}"), LIMIT, |s| {
                s.seen.get(&probe).copied()
            })
            .await?;
        watch.push(seen.saturating_duration_since(created.sent));
    }
    Ok((Latencies::new(dispatch), Latencies::new(watch)))
}

/// Measures the API's write capacity: job-shaped writes with many requests in flight and one
/// at a time, and small ConfigMaps for reference.
async fn measure_capacity(cluster: &Cluster, args: &BenchArgs) -> anyhow::Result<[Capacity; 3]> {
    cluster.create_namespace(CAPACITY_NAMESPACE).await?;
    let client = cluster.new_client().await?;
    let seconds = Duration::from_secs_f64(args.capacity_seconds);
    let concurrent = capacity::job_writes(&client, args.concurrency, seconds).await?;
    let sequential = capacity::job_writes(&client, 1, seconds / 2).await?;
    let configmaps = capacity::configmap_writes(&client, args.concurrency, seconds / 2).await?;
    capacity::wait_drained(&client, Duration::from_secs(30)).await?;
    eprintln!(
        "API capacity: {:.0} job-shaped writes/s ({} in flight), {:.0}/s one at a time; {:.0} ConfigMap writes/s",
        concurrent.per_second(),
        concurrent.concurrency,
        sequential.per_second(),
        configmaps.per_second()
    );
    Ok([concurrent, sequential, configmaps])
}

/// Runs the benchmark.
pub async fn run(args: BenchArgs) -> anyhow::Result<Report> {
    if args.jobs == 0 {
        bail!("-n must be at least 1");
    }
    let machine = Machine::detect();
    let mut cluster = Cluster::start(ClusterOptions::default()).await?;
    if args.keep_logs {
        eprintln!(
            "operator log: {}",
            cluster.keep_dir().join("operator.log").display()
        );
    }
    for ns in [
        JOBS_NAMESPACE,
        PROBE_NAMESPACE,
        WARMUP_NAMESPACE,
        IDLE_NAMESPACE,
        LOAD_NAMESPACE,
        LOAD_PROBE_NAMESPACE,
        REPORT_NAMESPACE,
    ] {
        cluster.create_namespace(ns).await?;
    }
    let [capacity, sequential, configmaps] = measure_capacity(&cluster, &args).await?;
    let mut operator = start_operator(&cluster, &args).await?;
    eprintln!("operator ready (pid {})", operator.pid());

    let plans: Vec<JobPlan> = (0..args.jobs)
        .map(|i| JobPlan {
            run_seconds: args.pod_seconds,
            ..JobPlan::new(format!("job-{i:05}"))
        })
        .collect();
    let jobs = track_jobs(cluster.new_client().await?, JOBS_NAMESPACE);
    let pods = track_pods(cluster.new_client().await?, JOBS_NAMESPACE);
    let probes_seen: Tracker<FirstSeen> = Tracker::start(
        Api::<ConfigMap>::namespaced(cluster.new_client().await?, PROBE_NAMESPACE),
        watcher::Config::default(),
        FirstSeen::default(),
    );
    jobs.wait_synced(Duration::from_secs(30)).await?;
    pods.wait_synced(Duration::from_secs(30)).await?;
    probes_seen.wait_synced(Duration::from_secs(30)).await?;

    let user = Cluster::operator_user();
    let stats_before = cluster.sandbox().stats();
    let usage_before = ProcUsage::of(operator.pid())?;
    let own_before = ProcUsage::of(std::process::id())?;
    let sandbox_threads_before = threads_cpu_ms(SANDBOX_THREAD_NAME)?;
    let usage_window = Instant::now();
    let created_count = Arc::new(AtomicUsize::new(0));
    let probes_created = Arc::new(Mutex::new(HashMap::new()));
    let create_client = cluster.new_client().await?;
    let start = Instant::now();

    let probe_task = {
        let api = Api::<ConfigMap>::namespaced(create_client.clone(), PROBE_NAMESPACE);
        let created_count = created_count.clone();
        let jobs_state = jobs.shared();
        let pods_state = pods.shared();
        let probes_created = probes_created.clone();
        let (count, total) = (args.probes, 3 * args.jobs);
        tokio::spawn(async move {
            let progress = move || {
                let finished = lock(&jobs_state).finished();
                let seen = lock(&pods_state).pods.len();
                created_count.load(Ordering::Relaxed) + finished + seen
            };
            create_probes(api, count, progress, total, probes_created).await
        })
    };

    // Two equal bursts, the second once the first has finished, so that the operator's memory
    // can be compared at the two ends (see `Report::rss_at_half_kib`).
    let api = Api::namespaced(create_client, JOBS_NAMESPACE);
    let half = args.jobs / 2;
    let mut created = create_jobs(&api, &plans[..half], args.concurrency, &created_count).await?;
    let mut create_seconds = start.elapsed().as_secs_f64();
    wait_finished(&jobs, &pods, &mut operator, half, args.timeout_seconds).await?;
    let rss_at_half_kib = ProcUsage::of(operator.pid())?.rss_kib;
    let second = Instant::now();
    created.extend(create_jobs(&api, &plans[half..], args.concurrency, &created_count).await?);
    create_seconds += second.elapsed().as_secs_f64();
    eprintln!(
        "created {} jobs in two bursts ({create_seconds:.1} s of creates); waiting for them to finish",
        args.jobs
    );

    wait_finished(&jobs, &pods, &mut operator, args.jobs, args.timeout_seconds).await?;
    let end = jobs
        .state()
        .finished_at
        .values()
        .max()
        .copied()
        .unwrap_or_else(Instant::now);
    let usage_after = ProcUsage::of(operator.pid())?;
    let own_cpu_ms = ProcUsage::of(std::process::id())?
        .cpu_ms
        .saturating_sub(own_before.cpu_ms);
    let sandbox_threads_cpu_ms =
        threads_cpu_ms(SANDBOX_THREAD_NAME)?.saturating_sub(sandbox_threads_before);
    let usage_seconds = usage_window.elapsed().as_secs_f64();
    let stats_after = cluster.sandbox().stats();
    probe_task
        .await
        .context("the probe task panicked")?
        .context("creating probes")?;
    let probe_count = args.probes;
    if let Err(error) = probes_seen
        .wait_for("every probe to be seen", Duration::from_secs(60), |s| {
            (s.seen.len() >= probe_count).then_some(())
        })
        .await
    {
        eprintln!("warning: {error}");
    }
    let (idle_dispatch, idle_watch) = measure_idle(&cluster, args.idle_jobs).await?;
    let throughput = args.jobs as f64 / end.saturating_duration_since(start).as_secs_f64();
    let load_curve = if args.load_seconds > 0.0 {
        load::measure(&cluster, throughput, args.load_seconds).await?
    } else {
        Vec::new()
    };
    let stored = storage::stored_bytes(&cluster.new_client().await?, IDLE_NAMESPACE).await?;
    let report_cost = match args.report_bytes {
        Some(bytes) => {
            Some(reports::measure(cluster.new_client().await?, operator.pid(), bytes).await?)
        }
        None => None,
    };
    operator.check_alive()?;
    operator.kill().await?;

    // Taken out, so that no lock is held across the awaits below.
    let jobs_state = std::mem::take(&mut *jobs.state());
    let pods_state = std::mem::take(&mut *pods.state());
    let pod_seen: HashMap<String, Instant> = plans
        .iter()
        .filter_map(|p| {
            let seen = pods_state.pods.get(&pod_name(&p.name, 1))?;
            Some((p.name.clone(), seen.first_seen))
        })
        .collect();
    let origins = |timings: &mut dyn Iterator<Item = (String, Created)>| {
        let mut sent = HashMap::new();
        let mut answered = HashMap::new();
        for (name, timing) in timings {
            sent.insert(name.clone(), timing.sent);
            answered.insert(name, timing.returned);
        }
        (sent, answered)
    };
    let (job_sent, job_answered) = origins(
        &mut plans
            .iter()
            .map(|p| p.name.clone())
            .zip(created.iter().copied()),
    );
    let (dispatch, undispatched, _) = paired(&job_sent, &pod_seen);
    let (dispatch_after_answer, _, _) = paired(&job_answered, &pod_seen);
    let (probe_sent, probe_answered) = {
        let probes = lock(&probes_created);
        origins(&mut probes.iter().map(|(k, v)| (k.clone(), *v)))
    };
    let (watch, watch_after_answer) = {
        let seen = &probes_seen.state().seen;
        (paired(&probe_sent, seen).0, paired(&probe_answered, seen).0)
    };
    let finished_times: Vec<Instant> = jobs_state.finished_at.values().copied().collect();
    let pod_times: Vec<Instant> = pod_seen.values().copied().collect();
    let handoff = (args.max_running > 0)
        .then(|| slot_handoffs(&finished_times, &pod_times, args.max_running));
    let since = |t: &Instant| t.saturating_duration_since(start).as_secs_f64();
    let mut phases = BTreeMap::new();
    for phase in jobs_state.phases.values() {
        *phases.entry(phase.as_str().to_owned()).or_default() += 1;
    }
    let report = Report {
        machine,
        dispatch,
        watch,
        dispatch_after_answer,
        watch_after_answer,
        idle_dispatch,
        idle_watch,
        handoff,
        create_seconds,
        elapsed_seconds: end.saturating_duration_since(start).as_secs_f64(),
        capacity,
        sequential,
        configmaps,
        min_writes_per_job: 4,
        operator_writes: Writes::of(&stats_after, Some(&user))
            .since(&Writes::of(&stats_before, Some(&user))),
        all_writes: Writes::of(&stats_after, None).since(&Writes::of(&stats_before, None)),
        operator_requests: requests_of(&stats_after, &user)
            .saturating_sub(requests_of(&stats_before, &user)),
        usage_before,
        usage_after,
        own_cpu_ms,
        sandbox_threads_cpu_ms,
        usage_seconds,
        phases,
        unfinished: args.jobs.saturating_sub(jobs_state.finished()),
        undispatched,
        leftover_pods: pods_state.live.len(),
        duplicate_pods: duplicate_pods(&pods_state, &plans),
        timeline: [
            created.iter().map(|c| since(&c.returned)).collect(),
            pod_times.iter().map(since).collect(),
            finished_times.iter().map(since).collect(),
        ],
        rss_at_half_kib,
        rss_at_end_kib: usage_after.rss_kib,
        load_curve,
        stored,
        report_cost,
        args,
    };
    cluster.shutdown().await;
    Ok(report)
}

/// Waits until `count` jobs have finished and the runner Pods of the succeeded ones are
/// cleaned up (they are deleted right after their final status; waiting for the last
/// deletions makes them count, and the usage include them).
async fn wait_finished(
    jobs: &Tracker<JobsSeen>,
    pods: &Tracker<PodsSeen>,
    operator: &mut OperatorProcess,
    count: usize,
    timeout_seconds: u64,
) -> anyhow::Result<()> {
    let deadline = Deadline::after("every job to finish", Duration::from_secs(timeout_seconds));
    while jobs
        .wait_for("every job to finish", Duration::from_secs(5), |s| {
            (s.finished() >= count).then_some(())
        })
        .await
        .is_err()
    {
        operator.check_alive()?;
        deadline.check().with_context(|| {
            format!(
                "only {} of {count} jobs finished\n{}",
                jobs.state().finished(),
                operator.log_tail(40)
            )
        })?;
    }
    let cleaned = pods
        .wait_for(
            "the runner Pods to be cleaned up",
            Duration::from_secs(60),
            |s| s.live.is_empty().then_some(()),
        )
        .await;
    if let Err(error) = cleaned {
        eprintln!("warning: {error}");
    }
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
