//! The quickstart's command, `testjob-operator sandbox --apply …`, as a newcomer runs it: two of
//! them side by side both work (nothing binds a fixed port), and re-applying an example with
//! kubectl afterwards is quiet (the applied objects carry kubectl's last-applied annotation).

mod common;

use std::{path::Path, process::Stdio, time::Duration};

use anyhow::{Context as _, ensure};

use common::package_file;

/// Runs kubectl with `kubeconfig`.
async fn kubectl(kubeconfig: &Path, args: &[&str]) -> anyhow::Result<std::process::Output> {
    Ok(
        tokio::process::Command::new(testjob_testkit::tools::kubectl())
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(args)
            .output()
            .await?,
    )
}

/// Waits until `job` in the sandbox of `kubeconfig` reports `phase`.
async fn wait_phase(kubeconfig: &Path, job: &str, phase: &str) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if kubeconfig.exists() {
            let out = kubectl(
                kubeconfig,
                &["get", "tj", job, "-o", "jsonpath={.status.phase}"],
            )
            .await?;
            if String::from_utf8_lossy(&out.stdout) == phase {
                return Ok(());
            }
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "{job} did not reach {phase} in the sandbox of {}",
            kubeconfig.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_quickstarts_side_by_side_and_a_quiet_reapply() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let steps = package_file("examples/steps.yaml");
    let mut sandboxes = Vec::new();
    for i in 0..2 {
        let kubeconfig = dir.path().join(format!("kubeconfig-{i}"));
        let log = std::fs::File::create(dir.path().join(format!("sandbox-{i}.log")))?;
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_testjob-operator"))
            .arg("sandbox")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .arg("--apply")
            .arg(&steps)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .context("starting testjob-operator sandbox")?;
        sandboxes.push((child, kubeconfig));
    }
    for (i, (child, kubeconfig)) in sandboxes.iter_mut().enumerate() {
        let waited = wait_phase(kubeconfig, "checkout-steps", "Succeeded").await;
        let log = std::fs::read_to_string(dir.path().join(format!("sandbox-{i}.log")))?;
        waited.with_context(|| log.clone())?;
        ensure!(child.try_wait()?.is_none(), "sandbox {i} exited:\n{log}");
        ensure!(
            log.contains("127.0.0.1:"),
            "metrics on a local port:\n{log}"
        );
    }
    // The README's next step: applying the example again prints no warning.
    let (_, kubeconfig) = &sandboxes[0];
    let out = kubectl(kubeconfig, &["apply", "-f", &steps.to_string_lossy()]).await?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(out.status.success(), "{stderr}");
    ensure!(stderr.trim().is_empty(), "kubectl apply warned: {stderr}");
    ensure!(
        String::from_utf8_lossy(&out.stdout)
            .contains("testjob.testjob.dev/checkout-steps unchanged"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    Ok(())
}
