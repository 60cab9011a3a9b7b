//! Unit tests of the postStart hooks (`worker::hook`).

use std::path::Path;
use std::time::Duration;

use super::testing::*;
use super::*;
use serde_json::json;

/// Waits until `path` exists (a process of the pod wrote it).
async fn wait_file(path: &Path) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !path.exists() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {}",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_sidecars_post_start_hook_holds_the_next_containers_until_it_ends() {
    let store = MemStore::start(PodMode::Exec);
    let gate = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (running, go) = (gate.path().join("hook-running"), gate.path().join("go"));
    let hook = format!(
        "touch {}; while [ ! -f {} ]; do sleep 0.02; done",
        running.display(),
        go.display()
    );
    let pod = json!({"metadata": {"name": "held"}, "spec": {"restartPolicy": "Never",
        "initContainers": [{"name": "side", "image": "busybox", "restartPolicy": "Always",
            "command": ["sleep", "1000"],
            "lifecycle": {"postStart": {"exec": {"command": ["sh", "-c", hook]}}}}],
        "containers": [{"name": "main", "image": "busybox",
            "command": ["sh", "-c", format!("test -f {} && echo after-the-hook", go.display())]}]}});
    store.create(pod);
    wait_file(&running).await;
    // The hook runs: the sidecar's process is up, but the status shows what it showed before the
    // start and `main` has not started.
    let p = store
        .wait_for("held", "the Pending status", |p| phase(p) == "Pending")
        .await;
    assert_eq!(
        p["status"]["initContainerStatuses"][0]["state"]["waiting"]["reason"], "PodInitializing",
        "{p:#}"
    );
    assert_eq!(
        main_status(&p)["state"]["waiting"]["reason"],
        "PodInitializing"
    );
    let started: Vec<String> = store
        .event_texts()
        .into_iter()
        .filter(|(reason, _)| reason == "Started")
        .map(|(_, message)| message)
        .collect();
    assert_eq!(started, ["Started container side"]);
    std::fs::write(&go, "").unwrap_or_else(|e| panic!("{e}"));
    let p = store
        .wait_for("held", "Succeeded", |p| phase(p) == "Succeeded")
        .await;
    assert_eq!(main_status(&p)["state"]["terminated"]["exitCode"], 0);
    assert_eq!(
        logs(&store, "held", container_opts("main")).await,
        Ok("after-the-hook\n".into())
    );
}

#[tokio::test]
async fn a_failed_post_start_hook_kills_the_container() {
    let store = MemStore::start(PodMode::Exec);
    let mut pod = exec_pod("hooked", "");
    pod["spec"]["containers"][0]["command"] = json!(["sleep", "1000"]);
    pod["spec"]["containers"][0]["lifecycle"] =
        json!({"postStart": {"exec": {"command": ["sh", "-c", "echo no; exit 3"]}}});
    store.create(pod);
    let p = store
        .wait_for("hooked", "Failed", |p| phase(p) == "Failed")
        .await;
    // SIGTERM, well inside the 30 s grace period.
    assert_eq!(main_status(&p)["state"]["terminated"]["exitCode"], 143);
    let texts = store.event_texts();
    for expected in [
        ("FailedPostStartHook", "PostStartHook failed"),
        ("Killing", "FailedPostStartHook"),
    ] {
        assert!(
            texts.contains(&(expected.0.to_string(), expected.1.to_string())),
            "{texts:?}"
        );
    }
}

#[tokio::test]
async fn hooks_that_are_not_exec_or_sleep_fail_and_simulated_hooks_succeed() {
    let store = MemStore::start(PodMode::Exec);
    let mut pod = exec_pod("http-hook", "sleep 1000");
    pod["spec"]["containers"][0]["lifecycle"] =
        json!({"postStart": {"httpGet": {"path": "/", "port": 8080}}});
    store.create(pod);
    store
        .wait_for("http-hook", "Failed", |p| phase(p) == "Failed")
        .await;

    let store = MemStore::start(PodMode::Simulate);
    let mut pod = sim_pod("sim-hook", json!({}));
    pod["spec"]["containers"][0]["lifecycle"] =
        json!({"postStart": {"exec": {"command": ["no-such-program"]}}});
    store.create(pod);
    store
        .wait_for("sim-hook", "Succeeded", |p| phase(p) == "Succeeded")
        .await;
}
