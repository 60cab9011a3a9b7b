//! Fault tests with large reports: the SIGKILL loop while every job hands over a ~200 KiB JUnit
//! report through its `report` sidecar's log, and a runner Pod that is gone before the
//! controller could read it.
//!
//! The sandbox simulates the sidecar from the Pod's annotations (`sandbox.kube/log.report`,
//! `sandbox.kube/termination-message.report`), filled with what `handover::encode` makes of the
//! report: exactly what `testjob-operator report-sidecar` would write.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams};
use kube::runtime::watcher;
use kube_sandbox::FaultConfig;

use testjob_operator::crd::{Phase, TestJob};
use testjob_operator::handover::{self, SIDECAR};
use testjob_operator::outcome::reason;
use testjob_operator::pod::pod_name;
use testjob_operator::report::samples::{sample_junit, sample_summary};
use testjob_testkit::jobs::{JobPlan, create_jobs, list_jobs, runner_pods_config};
use testjob_testkit::wait::poll;
use testjob_testkit::watch::{Observe, Tracker};

use super::{Fixture, NAMESPACE, Xorshift, run_under_sigkill};
use testjob_testkit::cluster::ClusterOptions;

/// About how large each generated report is.
const REPORT_BYTES: usize = 200 * 1024;

/// One planned job and the report its runner writes.
struct Planned {
    plan: JobPlan,
    cases: usize,
    report: Vec<u8>,
}

/// The Pod annotations that make the simulated sidecar hand `report` over, as the real one
/// would: the termination message, and the log when the report does not fit the message.
fn handover_annotations(report: &[u8]) -> BTreeMap<String, String> {
    let encoded = handover::encode(report);
    let mut annotations = BTreeMap::from([(
        format!("sandbox.kube/termination-message.{SIDECAR}"),
        encoded.message,
    )]);
    if let Some(log) = encoded.log {
        annotations.insert(format!("sandbox.kube/log.{SIDECAR}"), log);
    }
    annotations
}

/// A generated JUnit report of `cases` cases, about [`REPORT_BYTES`] long, whose captured
/// output (the `system-out` padding, the same text in every case of `sample_junit`) is made
/// varied like real test output: the same padding gzips into a few KiB, which would fit the
/// termination message and never reach the sidecar's log. The counts are those of
/// `sample_summary(cases)`.
fn varied_junit(cases: usize, rng: &mut Xorshift) -> Vec<u8> {
    const OPEN: &str = "<![CDATA[";
    let xml = sample_junit(cases, REPORT_BYTES);
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml.as_str();
    while let Some(start) = rest.find(OPEN) {
        let body = start + OPEN.len();
        let Some(len) = rest[body..].find("]]>") else {
            break;
        };
        out.push_str(&rest[..body]);
        let mut output = String::with_capacity(len + 32);
        while output.len() < len {
            // About 10 bits of news per line: it gzips about as well as real test output.
            let n = rng.next() % 1024;
            output.push_str(&format!("step {} took {}ms: ok\n", n % 32, n / 32));
        }
        out.push_str(&output[..len]);
        rest = &rest[body + len..];
    }
    out.push_str(rest);
    out.into_bytes()
}

/// [`handover_annotations`] for a runner that writes only its report file: no results of its
/// own in its termination message (which `JobPlan` gives it otherwise).
fn report_only_annotations(report: &[u8]) -> BTreeMap<String, String> {
    let mut annotations = handover_annotations(report);
    annotations.insert("sandbox.kube/termination-message".into(), String::new());
    annotations
}

/// Jobs `<prefix>-NNN` running 1 to 12 s (so that even an idle machine needs a dozen seconds:
/// time for several kills), every tenth failing, each with a distinct JUnit report
/// of about [`REPORT_BYTES`] (200 to 200 + 3 × `count` cases, so the summaries differ) handed
/// over in the sidecar's log. Made on two threads: gzip in a debug build is slow.
fn planned_with_reports(prefix: &str, count: usize) -> anyhow::Result<Vec<Planned>> {
    let plan = |i: usize| {
        let cases = 200 + 3 * i;
        let report = varied_junit(cases, &mut Xorshift(0x5eed_0003 + i as u64));
        let plan = JobPlan {
            exit_code: i32::from(i % 10 == 9),
            run_seconds: 1.0 + 0.5 * (i % 23) as f64,
            pod_annotations: handover_annotations(&report),
            ..JobPlan::new(format!("{prefix}-{i:03}"))
        };
        Planned {
            plan,
            cases,
            report,
        }
    };
    std::thread::scope(|scope| {
        let odd = scope.spawn(|| (1..count).step_by(2).map(plan).collect::<Vec<_>>());
        let mut planned: Vec<Planned> = (0..count).step_by(2).map(plan).collect();
        planned.extend(
            odd.join()
                .map_err(|_| anyhow::anyhow!("generating reports panicked"))?,
        );
        planned.sort_by(|a, b| a.plan.name.cmp(&b.plan.name));
        Ok(planned)
    })
}

/// The report kept in the ConfigMap `status.report` names, decoded as its layout says
/// (`crate::archive`: text under `data`, or gzip under `binaryData` when `compressed`).
async fn stored_report(config_maps: &Api<ConfigMap>, job: &TestJob) -> anyhow::Result<Vec<u8>> {
    let report = job
        .status
        .as_ref()
        .and_then(|s| s.report.as_ref())
        .with_context(|| format!("{} has no status.report", job.name_any()))?;
    let stored = config_maps.get(&report.config_map).await?;
    if report.compressed {
        let gzipped = stored
            .binary_data
            .as_ref()
            .and_then(|d| d.get(&report.key))
            .with_context(|| format!("{} has no binaryData.{}", report.config_map, report.key))?;
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(&gzipped.0[..]).read_to_end(&mut raw)?;
        Ok(raw)
    } else {
        let text = stored
            .data
            .as_ref()
            .and_then(|d| d.get(&report.key))
            .with_context(|| format!("{} has no data.{}", report.config_map, report.key))?;
        Ok(text.clone().into_bytes())
    }
}

/// Every job's status against its report: exact summary, size and SHA-256, and the kept copy
/// byte for byte. Returns the problems found.
async fn report_problems(
    config_maps: &Api<ConfigMap>,
    jobs: &[TestJob],
    planned: &[Planned],
) -> anyhow::Result<Vec<String>> {
    let by_name: BTreeMap<String, &TestJob> = jobs.iter().map(|j| (j.name_any(), j)).collect();
    let mut problems = vec![];
    for p in planned {
        let name = &p.plan.name;
        let Some(job) = by_name.get(name) else {
            problems.push(format!("{name} is missing"));
            continue;
        };
        let status = job.status.clone().unwrap_or_default();
        let expected = sample_summary(p.cases);
        if status.summary != Some(expected) {
            problems.push(format!(
                "{name}: summary {:?}, expected {expected:?} ({})",
                status.summary,
                status.message.unwrap_or_default()
            ));
            continue;
        }
        let Some(report) = &status.report else {
            problems.push(format!("{name}: no status.report"));
            continue;
        };
        if report.sha256 != handover::sha256_hex(&p.report)
            || report.bytes != p.report.len() as i64
            || report.truncated
        {
            problems.push(format!(
                "{name}: status.report {report:?} for {} bytes",
                p.report.len()
            ));
            continue;
        }
        let stored = stored_report(config_maps, job).await?;
        if stored != p.report {
            problems.push(format!(
                "{name}: the kept report has {} bytes, not the {} written",
                stored.len(),
                p.report.len()
            ));
        }
    }
    Ok(problems)
}

/// The SIGKILL loop with large reports: `JOBS` jobs, each handing over a distinct ~200 KiB JUnit
/// report through its sidecar's log, the operator killed every 1 to 3 s. Every job ends with its
/// exact summary, and its report stored byte for byte with the SHA-256 the sidecar announced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_with_large_reports_loses_no_report() -> anyhow::Result<()> {
    const JOBS: usize = 200;
    let seed = 0x5eed_0002;
    let mut rng = Xorshift(seed);
    let prepared = Instant::now();
    let planned = planned_with_reports("big", JOBS)?;
    let plans: Vec<JobPlan> = planned.iter().map(|p| p.plan.clone()).collect();
    let raw: usize = planned.iter().map(|p| p.report.len()).sum();
    let logs: usize = plans
        .iter()
        .map(|p| p.pod_annotations.values().map(String::len).sum::<usize>())
        .sum();
    let largest = plans
        .iter()
        .map(|p| p.pod_annotations.values().map(String::len).sum::<usize>())
        .max()
        .unwrap_or_default();
    ensure!(
        plans.iter().all(|p| p
            .pod_annotations
            .contains_key(&format!("sandbox.kube/log.{SIDECAR}"))),
        "every report should be too large for the termination message"
    );

    let prepared = prepared.elapsed();
    let fixture = Fixture::start(ClusterOptions::default()).await?;
    let kills = run_under_sigkill(&fixture, &plans, &mut rng, Duration::from_secs(120)).await?;
    let checked = Instant::now();
    let config_maps: Api<ConfigMap> = Api::namespaced(fixture.cluster.admin.clone(), NAMESPACE);
    let jobs = list_jobs(&fixture.api).await?;
    let problems = report_problems(&config_maps, &jobs, &planned).await?;
    let checked = checked.elapsed();
    ensure!(
        problems.is_empty(),
        "{} jobs lost their report: {:?}",
        problems.len(),
        &problems[..problems.len().min(10)]
    );
    eprintln!(
        "SIGKILL with large reports ({}); reports: {:.1} MiB raw, handed over as {:.2} MiB of sidecar log and termination messages (gzip + base64; largest Pod {} KiB of annotations); every summary exact and every report kept byte for byte (generating the reports took {prepared:.1?}, checking them {checked:.1?})",
        kills.describe(JOBS, seed),
        raw as f64 / f64::from(1 << 20),
        logs as f64 / f64::from(1 << 20),
        largest / 1024,
    );
    kills.check_enough(JOBS, 4)
}

/// A report handed over in the sidecar's log, and the runner Pod deleted while no operator ran
/// (as the Pod garbage collector or a user may do): once the operator is back, the job ends
/// Failed with a reason naming the Pod's deletion — never Succeeded with an empty summary.
///
/// The operator finds no Pod at all, so the decide step ends the attempt (`PodDeleted`) before
/// collection is reached: `ReportLost` is the narrower case of a Pod deleted between the
/// controller's read of the finished Pod and its read of the sidecar's log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_gone_with_its_pod_fails_the_job_with_a_clear_reason() -> anyhow::Result<()> {
    let fixture = Fixture::start(ClusterOptions::default()).await?;
    let report = varied_junit(500, &mut Xorshift(7));
    let plan = JobPlan {
        run_seconds: 2.0,
        pod_annotations: report_only_annotations(&report),
        ..JobPlan::new("lost")
    };
    let mut operator = fixture.operator("operator-0", &[])?;
    let count = std::sync::atomic::AtomicUsize::new(0);
    create_jobs(&fixture.api, std::slice::from_ref(&plan), 1, &count).await?;
    let pod = pod_name(&plan.name, 1);
    fixture
        .jobs
        .wait_for("the job to run", Duration::from_secs(30), |s| {
            (s.phases.get(&plan.name) == Some(&Phase::Running)).then_some(())
        })
        .await
        .with_context(|| operator.log_tail(40))?;
    operator.kill().await?;

    // The Pod finishes (its sidecar's log holds the report) while no operator runs.
    let pods: Api<Pod> = Api::namespaced(fixture.cluster.admin.clone(), NAMESPACE);
    poll("the runner Pod to finish", Duration::from_secs(30), || {
        let pods = pods.clone();
        let pod = pod.clone();
        async move {
            let phase = pods
                .get(&pod)
                .await?
                .status
                .and_then(|s| s.phase)
                .unwrap_or_default();
            Ok((phase == "Succeeded").then_some(()))
        }
    })
    .await?;
    pods.delete(&pod, &DeleteParams::default()).await?;
    fixture
        .pods
        .wait_for("the runner Pod to be gone", Duration::from_secs(30), |s| {
            (!s.live.contains_key(&pod)).then_some(())
        })
        .await?;
    ensure!(
        fixture.jobs.state().phases.get(&plan.name) == Some(&Phase::Running),
        "the job ended while no operator ran"
    );

    let restarted = Instant::now();
    let operator = fixture.operator("operator-1", &[])?;
    ensure!(
        fixture.wait_finished(1, Duration::from_secs(30)).await?,
        "the job did not end\n{}",
        operator.log_tail(40)
    );
    let job = fixture.api.get(&plan.name).await?;
    let status = job.status.clone().unwrap_or_default();
    let verdict = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Failed")
        .with_context(|| format!("no Failed condition: {status:?}"))?;
    let message = status.message.clone().unwrap_or_default();
    ensure!(
        status.phase == Some(Phase::Failed) && verdict.reason == reason::POD_DELETED,
        "{status:?}"
    );
    ensure!(
        message.contains(&pod) && message.contains("disappeared"),
        "unclear message: {message}"
    );
    ensure!(
        status.summary.is_none() && status.report.is_none(),
        "a lost report left a result behind: {status:?}"
    );
    eprintln!(
        "report gone with its Pod: {} ended {:?}/{} {:.1?} after the operator came back: {message}",
        plan.name,
        status.phase,
        verdict.reason,
        restarted.elapsed()
    );
    Ok(())
}

/// The phases of runner Pods, by name, kept up to date by a watch.
#[derive(Default)]
struct PodPhases(BTreeMap<String, String>);

impl Observe<Pod> for PodPhases {
    fn observe(&mut self, event: watcher::Event<Pod>, _: Instant) {
        if let watcher::Event::Apply(pod) | watcher::Event::InitApply(pod) = event {
            let name = pod.name_any();
            if let Some(phase) = pod.status.and_then(|s| s.phase) {
                self.0.insert(name, phase);
            }
        }
    }
}

/// `ReportLost` reached by ordinary means: a slow API server (every request takes
/// `LATENCY` more) and the runner Pod deleted while the controller collects its report — after
/// its read of the finished Pod, before its read of the sidecar's log. The job ends Failed with
/// reason `ReportLost` and a message naming the Pod and the report's size, never Succeeded with
/// an empty summary.
///
/// The only timed step is the fault schedule: the deletion is sent 1 s before the runner ends
/// and reaches the server `LATENCY` later, between the controller's sight of the Pod's end and
/// its log read, which is held back as long. Should a loaded machine move it out of that window,
/// the outcome is still a right one — `PodDeleted` when the deletion came first, the full report
/// when it came last — and checked as such, and the next of `TRIES` jobs tries again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_deleted_during_collection_ends_its_job_report_lost() -> anyhow::Result<()> {
    const LATENCY: Duration = Duration::from_secs(3);
    const RUN: Duration = Duration::from_secs(6);
    const TRIES: usize = 4;
    let fixture = Fixture::start(ClusterOptions::default()).await?;
    let report = varied_junit(500, &mut Xorshift(11));
    let pods: Api<Pod> = Api::namespaced(fixture.cluster.admin.clone(), NAMESPACE);
    let phases: Tracker<PodPhases> =
        Tracker::start(pods.clone(), runner_pods_config(), PodPhases::default());
    phases.wait_synced(Duration::from_secs(30)).await?;
    let operator = fixture.operator("operator", &[])?;
    let sandbox = fixture.cluster.sandbox();
    let mut missed = vec![];
    for try_ in 1..=TRIES {
        let plan = JobPlan {
            run_seconds: RUN.as_secs_f64(),
            pod_annotations: report_only_annotations(&report),
            ..JobPlan::new(format!("collecting-{try_}"))
        };
        let pod = pod_name(&plan.name, 1);
        let phase_is = |phase: &'static str| {
            let pod = pod.clone();
            move |p: &PodPhases| (p.0.get(&pod).map(String::as_str) == Some(phase)).then_some(())
        };
        let count = std::sync::atomic::AtomicUsize::new(0);
        create_jobs(&fixture.api, std::slice::from_ref(&plan), 1, &count).await?;
        phases
            .wait_for(
                "the runner Pod to run",
                Duration::from_secs(30),
                phase_is("Running"),
            )
            .await
            .with_context(|| operator.log_tail(40))?;
        // The runner ends at most RUN after this (it started before it was seen running).
        let ends_by = tokio::time::Instant::now() + RUN;
        fixture
            .jobs
            .wait_for("the job to run", Duration::from_secs(30), |s| {
                (s.phases.get(&plan.name) == Some(&Phase::Running)).then_some(())
            })
            .await?;

        sandbox.set_faults(FaultConfig {
            latency_ms: LATENCY.as_millis() as u64,
            ..FaultConfig::default()
        })?;
        // The deletion is sent 1 s before the runner ends and, held back by the latency, reaches
        // the server 2 s after the end: after the controller saw the Pod finish (its watch is not
        // held back) and set out to collect, before its read of the sidecar's log — sent after
        // the end and held back as long — is served.
        tokio::time::sleep_until(ends_by - Duration::from_secs(1)).await;
        pods.delete(&pod, &DeleteParams::default()).await?;
        let finished = fixture.wait_finished(try_, Duration::from_secs(60)).await;
        sandbox.set_faults(FaultConfig::default())?;
        ensure!(finished?, "the job did not end\n{}", operator.log_tail(40));

        let job = fixture.api.get(&plan.name).await?;
        let status = job.status.clone().unwrap_or_default();
        let message = status.message.clone().unwrap_or_default();
        let reason = status
            .conditions
            .iter()
            .find(|c| matches!(c.type_.as_str(), "Failed" | "Complete"))
            .map(|c| c.reason.clone())
            .unwrap_or_default();
        match (status.phase, reason.as_str()) {
            (Some(Phase::Failed), reason::REPORT_LOST) => {
                ensure!(
                    message.contains(&format!(
                        "runner Pod {pod} was deleted before its report ({} bytes) could be read",
                        report.len()
                    )),
                    "unclear message: {message}"
                );
                ensure!(
                    status.summary.is_none() && status.report.is_none(),
                    "a lost report left a result behind: {status:?}"
                );
                eprintln!(
                    "Pod deleted during collection (API latency {LATENCY:?}, try {try_} of {TRIES}; missed before: {missed:?}): {} ended Failed/ReportLost: {message}",
                    plan.name
                );
                return Ok(());
            }
            // The deletion came before the controller's read of the Pod.
            (Some(Phase::Failed), reason::POD_DELETED) => {
                ensure!(status.summary.is_none(), "{status:?}");
                missed.push(format!("{}: PodDeleted", plan.name));
            }
            // The deletion came after the collection: the report is whole.
            (Some(Phase::Succeeded), _)
                if status.summary == Some(sample_summary(500))
                    && status
                        .report
                        .as_ref()
                        .is_some_and(|r| r.sha256 == handover::sha256_hex(&report)) =>
            {
                missed.push(format!("{}: collected", plan.name));
            }
            _ => anyhow::bail!("neither ReportLost nor a right outcome: {status:?}"),
        }
    }
    anyhow::bail!("the deletion never came during the collection: {missed:?}")
}
