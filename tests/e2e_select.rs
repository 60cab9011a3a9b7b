//! End to end: an app finds a test's jobs by field selector — `status.testId` (the string copy
//! of the int-or-string `spec.testId`, which cannot be a selectable field) and `status.phase` —
//! with the pinned kubectl 1.35 and the machine's kubectl 1.32, and an unsupported field gets
//! kube-apiserver's own error.

mod common;

use std::collections::BTreeSet;

use anyhow::{Context as _, ensure};
use tokio::process::Command;

use common::TestEnv;

/// `kubectl get tj -o name --field-selector SELECTOR` with `kubectl`, as a set of job names.
async fn selected(
    env: &TestEnv,
    kubectl: &std::path::Path,
    selector: &str,
) -> anyhow::Result<BTreeSet<String>> {
    let output = Command::new(kubectl)
        .arg("--kubeconfig")
        .arg(env.kubeconfig())
        .args([
            "-n",
            &env.namespace,
            "get",
            "tj",
            "-o",
            "name",
            "--field-selector",
            selector,
        ])
        .output()
        .await?;
    ensure!(
        output.status.success(),
        "{} get tj --field-selector {selector}: {}",
        kubectl.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| l.trim_start_matches("testjob.testjob.dev/").to_owned())
        .collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn field_selectors_find_a_tests_jobs_by_id_and_phase() -> anyhow::Result<()> {
    let env = TestEnv::new("select").await?;
    env.start_operator().await?;
    // 20 jobs over 3 test ids (two integers, one string); every third fails.
    let ids = ["220", "4711", "checkout"];
    let mut manifests = Vec::new();
    let mut expected: Vec<(String, &str, &str)> = Vec::new();
    for i in 0..20 {
        let id = ids[i % 3];
        let fails = i % 3 == 1 || i % 7 == 0;
        let name = format!("job-{i:02}");
        let test_id = if id == "checkout" {
            format!("\"{id}\"")
        } else {
            id.to_owned()
        };
        manifests.push(format!(
            "apiVersion: testjob.dev/v1alpha1\nkind: TestJob\nmetadata:\n  name: {name}\nspec:\n  testId: {test_id}\n  runner:\n    image: busybox:1.37\n    command: [\"sh\", \"-c\", \"exit {}\"]\n",
            u8::from(fails)
        ));
        expected.push((name, id, if fails { "Failed" } else { "Succeeded" }));
    }
    env.apply_yaml(&manifests.join("---\n")).await?;
    for (name, _, phase) in &expected {
        env.wait_for_phase(phase, &[name]).await?;
    }
    let pick = |f: &dyn Fn(&str, &str) -> bool| -> BTreeSet<String> {
        expected
            .iter()
            .filter(|(_, id, phase)| f(id, phase))
            .map(|(name, _, _)| name.clone())
            .collect()
    };
    let system = testjob_testkit::tools::system_kubectl().context(
        "no kubectl on PATH besides the pinned one: the machine image's kubectl is expected",
    )?;
    let kubectls = [testjob_testkit::tools::kubectl(), system];
    for kubectl in &kubectls {
        for id in ids {
            assert_eq!(
                selected(&env, kubectl, &format!("status.testId={id}")).await?,
                pick(&|i, _| i == id),
                "{} status.testId={id}",
                kubectl.display()
            );
        }
        assert_eq!(
            selected(&env, kubectl, "status.testId=220,status.phase=Failed").await?,
            pick(&|i, p| i == "220" && p == "Failed")
        );
        assert_eq!(
            selected(&env, kubectl, "status.phase=Succeeded").await?,
            pick(&|_, p| p == "Succeeded")
        );
        assert_eq!(
            selected(&env, kubectl, "status.testId!=220,status.phase!=Failed").await?,
            pick(&|i, p| i != "220" && p != "Failed")
        );
        assert_eq!(
            selected(&env, kubectl, "metadata.name=job-03").await?,
            BTreeSet::from(["job-03".to_owned()])
        );
        // A field that is not selectable: kube-apiserver's 400 "field label not supported".
        let refused = Command::new(kubectl)
            .arg("--kubeconfig")
            .arg(env.kubeconfig())
            .args([
                "-n",
                &env.namespace,
                "get",
                "tj",
                "--field-selector",
                "spec.testId=220",
            ])
            .output()
            .await?;
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(!refused.status.success());
        assert!(
            stderr.contains("field label not supported: spec.testId"),
            "{}: {stderr}",
            kubectl.display()
        );
    }
    Ok(())
}
