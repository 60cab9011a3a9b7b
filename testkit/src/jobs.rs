//! TestJobs to run on the sandbox, created in bulk, and what watches of them record: when each
//! job finished, and when each runner Pod first appeared (and under how many uids), with the
//! checks the fault tests and the benchmark make of them.
//!
//! Times are this process's `Instant`s, taken when a create returned and when a watch event was
//! handled, so that latencies need no clock shared with the API server (whose timestamps have
//! whole seconds).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::json;
use testjob_operator::crd::{Phase, PodCleanup, TestJob};
use testjob_operator::pod::{ATTEMPT_LABEL, MANAGED_BY_LABEL, MANAGER, NAME_LABEL, pod_name};

use crate::watch::{Observe, Tracker};

/// One TestJob to create: its simulated runner exits with `exit_code` after `run_seconds`.
#[derive(Clone, Debug, PartialEq)]
pub struct JobPlan {
    /// The TestJob's name.
    pub name: String,
    /// Exit code of the simulated runner.
    pub exit_code: i32,
    /// How long the simulated runner runs (0: it finishes as soon as it starts).
    pub run_seconds: f64,
    /// `spec.retries`.
    pub retries: i32,
    /// `spec.podCleanup`; `None` leaves it to the operator's default.
    pub pod_cleanup: Option<PodCleanup>,
    /// More Pod annotations (`spec.runner.podAnnotations`), set over the simulation ones: e.g.
    /// `sandbox.kube/log.report` for what the report sidecar hands over.
    pub pod_annotations: BTreeMap<String, String>,
}

impl JobPlan {
    /// A job that succeeds at once, with no retries and the default Pod cleanup.
    pub fn new(name: impl Into<String>) -> Self {
        JobPlan {
            name: name.into(),
            exit_code: 0,
            run_seconds: 0.0,
            retries: 0,
            pod_cleanup: None,
            pod_annotations: BTreeMap::new(),
        }
    }

    /// The final phase its single attempt leads to.
    pub fn expected_phase(&self) -> Phase {
        if self.exit_code == 0 {
            Phase::Succeeded
        } else {
            Phase::Failed
        }
    }

    /// The TestJob, with the `sandbox.kube/*` annotations that drive the simulated runner.
    pub fn to_testjob(&self) -> anyhow::Result<TestJob> {
        let status = if self.exit_code == 0 {
            "passed"
        } else {
            "failed"
        };
        let mut spec = json!({
            "testId": self.name,
            "retries": self.retries,
            "runner": {
                "command": ["sh", "-c", format!("sleep {}; exit {}", self.run_seconds, self.exit_code)],
                "podAnnotations": {
                    "sandbox.kube/exit-code": self.exit_code.to_string(),
                    "sandbox.kube/run-seconds": self.run_seconds.to_string(),
                    "sandbox.kube/termination-message":
                        json!({"results": [{"name": "bench", "status": status}]}).to_string(),
                },
            },
        });
        for (key, value) in &self.pod_annotations {
            spec["runner"]["podAnnotations"][key] = json!(value);
        }
        if let Some(cleanup) = self.pod_cleanup {
            spec["podCleanup"] = json!(cleanup.as_str());
        }
        let job = json!({
            "apiVersion": "testjob.dev/v1alpha1",
            "kind": "TestJob",
            "metadata": {"name": self.name},
            "spec": spec,
        });
        Ok(serde_json::from_value(job)?)
    }
}

/// Whether an API error is worth trying again: injected faults, throttling, a paused or
/// restarting server.
fn retryable(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => matches!(status.code, 429 | 500 | 502 | 503 | 504),
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

/// Creates `object`, trying again on transient errors for up to `limit`. AlreadyExists counts
/// as created: an earlier try may have been served although its answer was lost.
pub async fn create_retrying<K>(api: &Api<K>, object: &K, limit: Duration) -> anyhow::Result<()>
where
    K: Resource + Clone + DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let deadline = Instant::now() + limit;
    let mut pause = Duration::from_millis(20);
    loop {
        match api.create(&PostParams::default(), object).await {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(status)) if status.is_already_exists() => return Ok(()),
            Err(error) if retryable(&error) && Instant::now() < deadline => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(500));
            }
            Err(error) => {
                return Err(error).with_context(|| format!("creating {}", object.name_any()));
            }
        }
    }
}

/// When one create was sent and when its answer came back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Created {
    /// Just before the request was made (the first try, when it was tried again).
    pub sent: Instant,
    /// When the API server's answer arrived.
    pub returned: Instant,
}

/// Creates `object` (see [`create_retrying`]), timing it.
pub async fn create_timed<K>(api: &Api<K>, object: &K, limit: Duration) -> anyhow::Result<Created>
where
    K: Resource + Clone + DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let sent = Instant::now();
    create_retrying(api, object, limit).await?;
    Ok(Created {
        sent,
        returned: Instant::now(),
    })
}

/// Creates the jobs, at most `concurrency` at a time, as fast as the API server takes them,
/// counting them in `created_count` as they are. Returns, in plan order, when each create was
/// sent and answered.
pub async fn create_jobs(
    api: &Api<TestJob>,
    plans: &[JobPlan],
    concurrency: usize,
    created_count: &AtomicUsize,
) -> anyhow::Result<Vec<Created>> {
    let jobs = plans
        .iter()
        .map(JobPlan::to_testjob)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut created = vec![None; jobs.len()];
    // Each create owns its job: borrowed items would make this future unusable in a spawned task.
    let mut results = futures::stream::iter(jobs.into_iter().enumerate())
        .map(|(i, job)| {
            let api = api.clone();
            async move {
                let timing = create_timed(&api, &job, Duration::from_secs(120)).await?;
                created_count.fetch_add(1, Ordering::Relaxed);
                anyhow::Ok((i, timing))
            }
        })
        .buffer_unordered(concurrency.max(1));
    while let Some(result) = results.next().await {
        let (i, timing) = result?;
        created[i] = Some(timing);
    }
    created
        .into_iter()
        .enumerate()
        .map(|(i, at)| at.with_context(|| format!("job {i} was not created")))
        .collect()
}

/// TestJobs as a watch saw them.
#[derive(Debug, Default)]
pub struct JobsSeen {
    /// Name → the latest phase seen.
    pub phases: HashMap<String, Phase>,
    /// Name → when it was first seen in a final phase.
    pub finished_at: HashMap<String, Instant>,
    /// Name → the message of its final status.
    pub messages: HashMap<String, String>,
}

impl JobsSeen {
    /// How many jobs are in a final phase.
    pub fn finished(&self) -> usize {
        self.finished_at.len()
    }

    /// How many jobs are in `phase`.
    pub fn count(&self, phase: Phase) -> usize {
        self.phases.values().filter(|p| **p == phase).count()
    }
}

impl Observe<TestJob> for JobsSeen {
    fn observe(&mut self, event: watcher::Event<TestJob>, at: Instant) {
        let job = match event {
            watcher::Event::Apply(job) | watcher::Event::InitApply(job) => job,
            _ => return,
        };
        let name = job.name_any();
        let Some(status) = job.status else { return };
        let Some(phase) = status.phase else { return };
        self.phases.insert(name.clone(), phase);
        if phase.is_terminal() {
            self.finished_at.entry(name.clone()).or_insert(at);
            if let Some(message) = status.message {
                self.messages.insert(name, message);
            }
        }
    }
}

/// One runner Pod as a watch saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct PodSeen {
    /// The TestJob it runs (its `testjob.dev/name` label).
    pub job: String,
    /// Its `testjob.dev/attempt` label.
    pub attempt: Option<i32>,
    /// When this process first saw it.
    pub first_seen: Instant,
    /// Every uid seen under this name: more than one means the Pod was created again.
    pub uids: HashSet<String>,
}

/// Runner Pods as a watch saw them (watch with [`runner_pods_config`]).
#[derive(Debug, Default)]
pub struct PodsSeen {
    /// Pod name → what was seen.
    pub pods: HashMap<String, PodSeen>,
    /// Pods that exist now, name → uid.
    pub live: HashMap<String, String>,
    /// The Pods of a relist in progress.
    relisting: Option<HashMap<String, String>>,
}

impl PodsSeen {
    /// The Pods seen for `job`, by name.
    pub fn of_job(&self, job: &str) -> Vec<(&String, &PodSeen)> {
        self.pods.iter().filter(|(_, p)| p.job == job).collect()
    }

    fn record(&mut self, pod: &Pod, at: Instant) -> (String, String) {
        let name = pod.name_any();
        let uid = pod.uid().unwrap_or_default();
        let labels = pod.labels();
        let seen = self.pods.entry(name.clone()).or_insert_with(|| PodSeen {
            job: labels.get(NAME_LABEL).cloned().unwrap_or_default(),
            attempt: labels.get(ATTEMPT_LABEL).and_then(|a| a.parse().ok()),
            first_seen: at,
            uids: HashSet::new(),
        });
        seen.uids.insert(uid.clone());
        (name, uid)
    }
}

impl Observe<Pod> for PodsSeen {
    fn observe(&mut self, event: watcher::Event<Pod>, at: Instant) {
        match event {
            watcher::Event::Apply(pod) => {
                let (name, uid) = self.record(&pod, at);
                self.live.insert(name, uid);
            }
            watcher::Event::Delete(pod) => {
                self.record(&pod, at);
                self.live.remove(&pod.name_any());
            }
            watcher::Event::Init => self.relisting = Some(HashMap::new()),
            watcher::Event::InitApply(pod) => {
                let (name, uid) = self.record(&pod, at);
                self.relisting.get_or_insert_default().insert(name, uid);
            }
            watcher::Event::InitDone => {
                if let Some(listed) = self.relisting.take() {
                    self.live = listed;
                }
            }
        }
    }
}

/// The watch configuration that selects the operator's runner Pods.
pub fn runner_pods_config() -> watcher::Config {
    watcher::Config::default().labels(&format!("{MANAGED_BY_LABEL}={MANAGER}"))
}

/// Checks that every runner Pod seen belongs to a planned job, is named after its attempt, was
/// created once (one uid), and that no job has more Pods than attempts it was allowed.
/// Returns the problems found (empty when all is well).
pub fn duplicate_pods(pods: &PodsSeen, plans: &[JobPlan]) -> Vec<String> {
    let allowed: HashMap<&str, i32> = plans
        .iter()
        .map(|p| (p.name.as_str(), p.retries + 1))
        .collect();
    let mut problems = vec![];
    let mut per_job: HashMap<&str, usize> = HashMap::new();
    for (name, pod) in &pods.pods {
        let Some(max) = allowed.get(pod.job.as_str()) else {
            problems.push(format!(
                "Pod {name} belongs to no planned job ({})",
                pod.job
            ));
            continue;
        };
        if pod.uids.len() != 1 {
            problems.push(format!("Pod {name} was created {} times", pod.uids.len()));
        }
        match pod.attempt {
            Some(attempt) if (1..=*max).contains(&attempt) => {
                if *name != pod_name(&pod.job, attempt) {
                    problems.push(format!("Pod {name} is not named after attempt {attempt}"));
                }
            }
            other => problems.push(format!(
                "Pod {name} has attempt {other:?}, allowed 1..={max}"
            )),
        }
        *per_job.entry(pod.job.as_str()).or_default() += 1;
    }
    for (job, count) in per_job {
        if allowed.get(job).is_some_and(|max| count > *max as usize) {
            problems.push(format!("{job} has {count} Pods"));
        }
    }
    problems.sort();
    problems
}

/// Lists every TestJob in `api`'s namespace (to check final states from the API itself rather
/// than from a watch).
pub async fn list_jobs(api: &Api<TestJob>) -> anyhow::Result<Vec<TestJob>> {
    let list = api
        .list(&Default::default())
        .await
        .context("listing TestJobs")?;
    Ok(list.items)
}

/// Checks each planned job's final phase against the one its plan leads to; returns the
/// problems (jobs not final, in the wrong phase, or missing).
pub fn wrong_phases(jobs: &[TestJob], plans: &[JobPlan]) -> Vec<String> {
    let by_name: HashMap<String, &TestJob> = jobs.iter().map(|j| (j.name_any(), j)).collect();
    let mut problems = vec![];
    for plan in plans {
        let Some(job) = by_name.get(&plan.name) else {
            problems.push(format!("{} is missing", plan.name));
            continue;
        };
        let status = job.status.clone().unwrap_or_default();
        if status.phase != Some(plan.expected_phase()) {
            problems.push(format!(
                "{}: phase {:?}, expected {:?} ({})",
                plan.name,
                status.phase,
                plan.expected_phase(),
                status.message.unwrap_or_default()
            ));
        }
    }
    problems
}

/// Starts a [`Tracker`] of the TestJobs in `namespace`.
pub fn track_jobs(client: kube::Client, namespace: &str) -> Tracker<JobsSeen> {
    Tracker::start(
        Api::namespaced(client, namespace),
        watcher::Config::default(),
        JobsSeen::default(),
    )
}

/// Starts a [`Tracker`] of the runner Pods in `namespace`.
pub fn track_pods(client: kube::Client, namespace: &str) -> Tracker<PodsSeen> {
    Tracker::start(
        Api::namespaced(client, namespace),
        runner_pods_config(),
        PodsSeen::default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_become_testjobs_with_simulation_annotations() {
        let plan = JobPlan {
            exit_code: 1,
            run_seconds: 0.5,
            retries: 2,
            pod_cleanup: Some(PodCleanup::Never),
            pod_annotations: BTreeMap::from([
                ("sandbox.kube/log.report".into(), "hello\n".into()),
                ("sandbox.kube/exit-code".into(), "1".into()),
            ]),
            ..JobPlan::new("j-1")
        };
        let job = plan.to_testjob().unwrap();
        assert_eq!(job.name_any(), "j-1");
        assert_eq!(job.spec.retries, Some(2));
        assert_eq!(job.spec.pod_cleanup, Some(PodCleanup::Never));
        let annotations = job.spec.runner.unwrap().pod_annotations.unwrap();
        assert_eq!(annotations["sandbox.kube/exit-code"], "1");
        assert_eq!(annotations["sandbox.kube/run-seconds"], "0.5");
        assert_eq!(annotations["sandbox.kube/log.report"], "hello\n");
        assert!(annotations["sandbox.kube/termination-message"].contains("failed"));
        assert_eq!(plan.expected_phase(), Phase::Failed);
        assert_eq!(JobPlan::new("x").expected_phase(), Phase::Succeeded);
    }

    fn pod(name: &str, uid: &str, job: &str, attempt: &str) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": name, "uid": uid, "labels": {
            NAME_LABEL: job, ATTEMPT_LABEL: attempt}}}))
        .unwrap()
    }

    #[test]
    fn pod_watch_finds_duplicates_and_tracks_live_pods() {
        let now = Instant::now();
        let mut seen = PodsSeen::default();
        seen.observe(watcher::Event::Apply(pod("a-1", "u1", "a", "1")), now);
        seen.observe(watcher::Event::Apply(pod("b-1", "u2", "b", "1")), now);
        seen.observe(watcher::Event::Delete(pod("a-1", "u1", "a", "1")), now);
        assert_eq!(seen.live.len(), 1);
        let plans = [JobPlan::new("a"), JobPlan::new("b")];
        assert!(duplicate_pods(&seen, &plans).is_empty());

        // `a-1` created again, a second attempt without retries, and a stranger.
        seen.observe(watcher::Event::Apply(pod("a-1", "u3", "a", "1")), now);
        seen.observe(watcher::Event::Apply(pod("b-2", "u4", "b", "2")), now);
        seen.observe(watcher::Event::Apply(pod("c-1", "u5", "c", "1")), now);
        let problems = duplicate_pods(&seen, &plans);
        assert_eq!(
            problems,
            [
                "Pod a-1 was created 2 times",
                "Pod b-2 has attempt Some(2), allowed 1..=1",
                "Pod c-1 belongs to no planned job (c)",
                "b has 2 Pods"
            ]
        );

        // A relist replaces the live set.
        seen.observe(watcher::Event::Init, now);
        seen.observe(watcher::Event::InitApply(pod("b-1", "u2", "b", "1")), now);
        seen.observe(watcher::Event::InitDone, now);
        assert_eq!(seen.live.keys().collect::<Vec<_>>(), ["b-1"]);
    }

    #[test]
    fn phases_are_checked_against_plans() {
        let mut ok = JobPlan::new("ok").to_testjob().unwrap();
        ok.status = Some(serde_json::from_value(json!({"phase": "Succeeded"})).unwrap());
        let mut wrong = JobPlan::new("wrong").to_testjob().unwrap();
        wrong.status = Some(serde_json::from_value(json!({"phase": "Running"})).unwrap());
        let plans = [
            JobPlan::new("ok"),
            JobPlan::new("wrong"),
            JobPlan::new("gone"),
        ];
        let problems = wrong_phases(&[ok, wrong], &plans);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("wrong: phase Some(Running)"));
        assert_eq!(problems[1], "gone is missing");
    }
}
