//! The load curve: after the bulk run, TestJobs arrive at a fixed rate (open loop: each create is
//! sent at its scheduled time, whether or not earlier ones were answered or dispatched) at 25, 50,
//! 75 and 100% of the throughput the bulk run measured, with probe ConfigMaps created alongside
//! for the watch floor at the same load. Dispatch under load is what a user feels, where the bulk
//! run's "all N at once" measures queueing.
//!
//! The operator's RSS before and after the stages gives the marginal memory per finished job: the
//! stages run near steady state (few jobs in flight), so what stays is what the finished jobs
//! cost.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use kube::runtime::watcher;
use serde_json::json;
use testjob_operator::pod::pod_name;
use testjob_testkit::cluster::Cluster;
use testjob_testkit::jobs::{Created, JobPlan, create_timed, track_jobs, track_pods};
use testjob_testkit::watch::{FirstSeen, Tracker};

use crate::measure::{Latencies, paired};

/// The namespaces of the load curve's jobs and probes.
pub const LOAD_NAMESPACE: &str = "bench-load";
/// See [`LOAD_NAMESPACE`].
pub const LOAD_PROBE_NAMESPACE: &str = "bench-load-probe";

/// The fractions of the measured throughput the stages run at.
pub const LOAD_FRACTIONS: [f64; 4] = [0.25, 0.5, 0.75, 1.0];

/// Probes per second at most during a stage: enough samples, little extra load.
const PROBES_PER_SECOND: f64 = 20.0;

/// One stage of the load curve.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoadPoint {
    /// Fraction of the bulk run's throughput.
    pub fraction: f64,
    /// Jobs per second the stage sent.
    pub rate: f64,
    /// Jobs created in the stage.
    pub jobs: usize,
    /// Jobs whose runner Pod was not seen.
    pub undispatched: usize,
    /// TestJob create sent → runner Pod seen.
    pub dispatch: Latencies,
    /// Probe create sent → seen by a plain watcher, during the stage.
    pub watch: Latencies,
}

/// Sends creates of `objects` at `rate` per second (open loop), returning when each was sent
/// and answered, by name.
async fn open_loop<K>(
    api: Api<K>,
    objects: Vec<(String, K)>,
    rate: f64,
) -> anyhow::Result<HashMap<String, Created>>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
    K: Send + Sync + 'static,
{
    let created = Arc::new(Mutex::new(HashMap::new()));
    let mut tasks = tokio::task::JoinSet::new();
    let start = tokio::time::Instant::now();
    for (i, (name, object)) in objects.into_iter().enumerate() {
        tokio::time::sleep_until(start + Duration::from_secs_f64(i as f64 / rate)).await;
        let api = api.clone();
        let created = created.clone();
        tasks.spawn(async move {
            let timing = create_timed(&api, &object, Duration::from_secs(60)).await?;
            created
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(name, timing);
            anyhow::Ok(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    let created = std::mem::take(&mut *created.lock().unwrap_or_else(PoisonError::into_inner));
    Ok(created)
}

/// Runs the stages, each `seconds` long, at the fractions of `throughput` (jobs/s) in
/// [`LOAD_FRACTIONS`], and waits for every job to finish.
pub async fn measure(
    cluster: &Cluster,
    throughput: f64,
    seconds: f64,
) -> anyhow::Result<Vec<LoadPoint>> {
    const LIMIT: Duration = Duration::from_secs(120);
    let pods = track_pods(cluster.new_client().await?, LOAD_NAMESPACE);
    let jobs = track_jobs(cluster.new_client().await?, LOAD_NAMESPACE);
    let probes: Tracker<FirstSeen> = Tracker::start(
        Api::<ConfigMap>::namespaced(cluster.new_client().await?, LOAD_PROBE_NAMESPACE),
        watcher::Config::default(),
        FirstSeen::default(),
    );
    pods.wait_synced(LIMIT).await?;
    jobs.wait_synced(LIMIT).await?;
    probes.wait_synced(LIMIT).await?;
    let client = cluster.new_client().await?;
    let jobs_api = Api::namespaced(client.clone(), LOAD_NAMESPACE);
    let probes_api = Api::<ConfigMap>::namespaced(client, LOAD_PROBE_NAMESPACE);
    let mut points = Vec::new();
    let mut total = 0;
    for (stage, fraction) in LOAD_FRACTIONS.into_iter().enumerate() {
        let rate = (throughput * fraction).max(1.0);
        let count = ((rate * seconds).round() as usize).max(1);
        let probe_rate = rate.min(PROBES_PER_SECOND);
        let probe_count = ((probe_rate * seconds).round() as usize).max(1);
        let objects = (0..count)
            .map(|i| {
                let name = format!("load-{stage}-{i:06}");
                let job = JobPlan::new(&name).to_testjob()?;
                Ok((name, job))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let probe_objects = (0..probe_count)
            .map(|i| {
                let name = format!("load-probe-{stage}-{i:05}");
                let object: ConfigMap =
                    serde_json::from_value(json!({"metadata": {"name": name}}))?;
                Ok((name, object))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let (created, probes_created) = tokio::try_join!(
            open_loop(jobs_api.clone(), objects, rate),
            open_loop(probes_api.clone(), probe_objects, probe_rate),
        )?;
        total += count;
        jobs.wait_for(
            &format!("the jobs of load stage {}", stage + 1),
            LIMIT,
            |s| (s.finished() >= total).then_some(()),
        )
        .await?;
        probes
            .wait_for("the load stage's probes", LIMIT, |s| {
                probes_created
                    .keys()
                    .all(|name| s.seen.contains_key(name))
                    .then_some(())
            })
            .await?;
        let sent: HashMap<String, Instant> =
            created.iter().map(|(k, v)| (k.clone(), v.sent)).collect();
        let pod_seen: HashMap<String, Instant> = {
            let state = pods.state();
            sent.keys()
                .filter_map(|name| {
                    let pod = state.pods.get(&pod_name(name, 1))?;
                    Some((name.clone(), pod.first_seen))
                })
                .collect()
        };
        let (dispatch, undispatched, _) = paired(&sent, &pod_seen);
        let probe_sent: HashMap<String, Instant> = probes_created
            .iter()
            .map(|(k, v)| (k.clone(), v.sent))
            .collect();
        let watch = paired(&probe_sent, &probes.state().seen).0;
        eprintln!(
            "load {:.0}%: {rate:.0} jobs/s, dispatch p50 {:.1} ms p99 {:.1} ms, watch p50 {:.1} ms",
            fraction * 100.0,
            dispatch.percentile(50.0),
            dispatch.percentile(99.0),
            watch.percentile(50.0)
        );
        points.push(LoadPoint {
            fraction,
            rate,
            jobs: count,
            undispatched,
            dispatch,
            watch,
        });
    }
    Ok(points)
}
