//! The API server's raw write capacity, measured from one client before the operator starts
//! (so that nothing else competes): a tight loop of the very writes a TestJob's life takes, and
//! for reference a loop of the cheapest writes there are (small ConfigMaps).
//!
//! One job-shaped cycle is six writes: create a TestJob, replace its status with the Running
//! status the operator writes, create the runner Pod the operator would build, replace the
//! status with a final one, delete the Pod, delete the TestJob. The Pod is bound to a node that
//! does not exist, so no kubelet runs it and it can be deleted at once. The four middle writes
//! are the ones a job needs at least; the first and last stand for the job's own arrival and
//! departure.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;

use testjob_operator::config::Config;
use testjob_operator::crd::TestJob;
use testjob_operator::outcome::{Outcome, reason};
use testjob_operator::pod::{MANAGER, build_runner_pod, pod_name};
use testjob_operator::status::{finished_status, running_status};
use testjob_testkit::jobs::JobPlan;
use testjob_testkit::wait::Deadline;

use crate::report::Capacity;

/// The namespace the capacity loops write in.
pub const CAPACITY_NAMESPACE: &str = "bench-capacity";
/// Writes per job-shaped cycle.
const CYCLE_WRITES: u64 = 6;
/// A node nobody runs, so that the cycle's Pods stay unstarted.
const NOWHERE: &str = "bench-nowhere";

/// Runs `cycle` from `concurrency` workers until `duration` has passed; each cycle makes
/// `writes` writes.
async fn measure<F, Fut>(
    concurrency: usize,
    duration: Duration,
    writes: u64,
    cycle: F,
) -> anyhow::Result<Capacity>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let start = Instant::now();
    let deadline = start + duration;
    let cycle = &cycle;
    let workers = (0..concurrency.max(1)).map(|worker| async move {
        let mut cycles = 0u64;
        while Instant::now() < deadline {
            cycle(format!("cap-{worker}-{cycles}")).await?;
            cycles += 1;
        }
        anyhow::Ok(cycles)
    });
    let cycles: u64 = futures::future::try_join_all(workers)
        .await?
        .into_iter()
        .sum();
    Ok(Capacity {
        writes: cycles * writes,
        seconds: start.elapsed().as_secs_f64(),
        concurrency: concurrency.max(1),
    })
}

/// The write rate of job-shaped cycles (see the module documentation).
pub async fn job_writes(
    client: &Client,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<Capacity> {
    let jobs: Api<TestJob> = Api::namespaced(client.clone(), CAPACITY_NAMESPACE);
    let pods: Api<Pod> = Api::namespaced(client.clone(), CAPACITY_NAMESPACE);
    let runner = Config::default().runner;
    let params = PostParams {
        field_manager: Some(MANAGER.into()),
        ..PostParams::default()
    };
    let now_gone = DeleteParams {
        grace_period_seconds: Some(0),
        ..DeleteParams::default()
    };
    let cycle = |name: String| {
        let (jobs, pods, runner, params, now_gone) = (&jobs, &pods, &runner, &params, &now_gone);
        async move {
            let job = jobs
                .create(params, &JobPlan::new(&name).to_testjob()?)
                .await?;
            let pod_name = pod_name(&name, 1);
            let now = Timestamp::now();
            let running = job.with_status(running_status(&job, 1, &pod_name, now, now));
            let job = jobs.replace_status(&name, params, &running).await?;
            let mut pod = build_runner_pod(&job, 1, runner)?;
            if let Some(spec) = pod.spec.as_mut() {
                spec.node_name = Some(NOWHERE.into());
            }
            pods.create(params, &pod).await?;
            let outcome = Outcome::failed(1, reason::POD_FAILED, "capacity probe".into(), now);
            let finished = job.with_status(finished_status(&job, &outcome, now));
            jobs.replace_status(&name, params, &finished).await?;
            pods.delete(&pod_name, now_gone).await?;
            jobs.delete(&name, &DeleteParams::background()).await?;
            anyhow::Ok(())
        }
    };
    measure(concurrency, duration, CYCLE_WRITES, cycle)
        .await
        .context("measuring the API's write capacity with job-shaped writes")
}

/// The write rate of small ConfigMaps: create, merge patch, delete.
pub async fn configmap_writes(
    client: &Client,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<Capacity> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), CAPACITY_NAMESPACE);
    let cycle = |name: String| {
        let api = &api;
        async move {
            let object: ConfigMap = serde_json::from_value(json!({
                "metadata": {"name": format!("cm-{name}")},
                "data": {"payload": "x".repeat(512)},
            }))?;
            let created = api.create(&PostParams::default(), &object).await?;
            let patch = json!({"data": {"step": "patched"}});
            api.patch(
                &created.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await?;
            api.delete(&created.name_any(), &DeleteParams::default())
                .await?;
            anyhow::Ok(())
        }
    };
    measure(concurrency, duration, 3, cycle)
        .await
        .context("measuring the API's write capacity with ConfigMaps")
}

/// Waits until the cycles' TestJobs are all gone (deleted in the background), so that the
/// operator, started next, finds none of them.
pub async fn wait_drained(client: &Client, limit: Duration) -> anyhow::Result<()> {
    let jobs: Api<TestJob> = Api::namespaced(client.clone(), CAPACITY_NAMESPACE);
    let deadline = Deadline::after("the capacity TestJobs to be deleted", limit);
    loop {
        let left = jobs.list(&Default::default()).await?.items.len();
        if left == 0 {
            return Ok(());
        }
        deadline
            .tick()
            .await
            .with_context(|| format!("{left} capacity TestJobs are left"))?;
    }
}
