//! The operator's `Unschedulable` outcome, reached the ordinary way: a TestJob whose runner
//! requests more CPU and memory than any node has. The sandbox's scheduler leaves the runner
//! Pod Pending with `PodScheduled=False` (reason `Unschedulable`, kube-scheduler's FitError
//! message), and once `--unschedulable-timeout-seconds` has passed the operator fails the job
//! with reason `Unschedulable` and the scheduler's message. (The runner spec has no
//! `nodeSelector`, so requests are the means a user has to ask for a node that does not exist.)

mod common;

use anyhow::ensure;
use serde_json::Value;

use common::TestEnv;

const JOB: &str = "too-big";

const MANIFEST: &str = r#"
apiVersion: testjob.dev/v1alpha1
kind: TestJob
metadata:
  name: too-big
spec:
  testId: too-big
  runner:
    image: busybox:1.37
    command: ["sh", "-c", "echo never runs"]
    resources:
      requests:
        cpu: "1000"
        memory: 1Ti
"#;

fn condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

#[tokio::test]
async fn a_runner_no_node_can_take_fails_the_job_as_unschedulable() -> anyhow::Result<()> {
    let env = TestEnv::new("unschedulable").await?;
    env.start_operator_with(&["--unschedulable-timeout-seconds", "2"])
        .await?;
    env.apply_yaml(MANIFEST).await?;

    // The runner Pod is there, unscheduled, with the scheduler's verdict.
    let pod_name = format!("{JOB}-1");
    let scheduled = env
        .poll("the runner Pod reported unschedulable", || async {
            let out = env
                .kubectl(&["get", "pod", &pod_name, "-o", "json"])
                .await?;
            let pod: Value = serde_json::from_str(&out.stdout).unwrap_or_default();
            Ok(condition(&pod, "PodScheduled")
                .filter(|c| c["status"] == "False")
                .map(|c| (c.clone(), pod["spec"]["nodeName"].clone())))
        })
        .await?;
    let (cond, node) = scheduled;
    ensure!(cond["reason"] == "Unschedulable", "{cond}");
    ensure!(node.as_str().is_none_or(str::is_empty), "bound to {node}");
    let verdict = cond["message"].as_str().unwrap_or_default().to_string();
    if !env.is_real_cluster() {
        ensure!(
            verdict
                == "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory. no new \
                    claims to deallocate, preemption: 0/1 nodes are available: 1 No preemption \
                    victims found for incoming pod.",
            "{verdict}"
        );
    }

    env.wait_for_phase("Failed", &[JOB]).await?;
    let job = env.job(JOB).await?;
    let failed = condition(&job, "Failed").cloned().unwrap_or_default();
    ensure!(
        failed["status"] == "True" && failed["reason"] == "Unschedulable",
        "{failed}"
    );
    let message = job["status"]["message"].as_str().unwrap_or_default();
    ensure!(
        message.contains(&pod_name) && message.contains(&verdict),
        "{message}"
    );
    Ok(())
}
