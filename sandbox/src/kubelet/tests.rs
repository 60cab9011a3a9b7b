//! Unit tests of `kubelet`.

use super::testing::*;
use super::*;
use serde_json::json;

#[tokio::test]
async fn exec_pod_fails_with_exit_code_termination_message_and_log() {
    let store = MemStore::start(PodMode::Exec);
    let mut pod = exec_pod("accept", "echo hi; echo done > $MSG; exit 3");
    pod["spec"]["containers"][0]["env"] = json!([{"name": "MSG", "value": "/dev/termination-log"}]);
    store.create(pod);
    let p = store
        .wait_for("accept", "Failed", |p| phase(p) == "Failed")
        .await;

    assert_eq!(p["spec"]["nodeName"], "sandbox");
    let t = &main_status(&p)["state"]["terminated"];
    assert_eq!(t["exitCode"], 3);
    assert_eq!(t["reason"], "Error");
    // Verbatim file content, as the kubelet reports it.
    assert_eq!(t["message"], "done\n");
    assert!(
        t["containerID"]
            .as_str()
            .is_some_and(|id| id.starts_with("containerd://"))
    );
    assert!(t["startedAt"].is_string() && t["finishedAt"].is_string());
    assert_eq!(main_status(&p)["image"], "docker.io/library/busybox:latest");
    assert_eq!(main_status(&p)["ready"], false);
    assert_eq!(condition(&p, "PodScheduled")["status"], "True");
    assert_eq!(condition(&p, "Ready")["reason"], "PodFailed");
    assert_eq!(
        condition(&p, "PodReadyToStartContainers")["status"],
        "False"
    );
    assert!(condition(&p, "Initialized")["lastTransitionTime"].is_string());
    assert_eq!(p["status"]["hostIP"], HOST_IP);
    assert!(
        p["status"]["podIP"]
            .as_str()
            .is_some_and(|ip| ip.starts_with("10.244."))
    );
    assert_eq!(p["status"]["podIPs"][0]["ip"], p["status"]["podIP"]);
    assert_eq!(p["status"]["qosClass"], "BestEffort");
    assert!(p["status"]["startTime"].is_string());
    assert!(store.writes() <= 2, "{} status writes", store.writes());
    assert_eq!(
        logs(&store, "accept", LogOptions::default()).await,
        Ok("hi\n".to_string())
    );
}

#[tokio::test]
async fn fallback_to_logs_on_error_uses_the_log_tail_only_without_a_message_file() {
    let store = MemStore::start(PodMode::Exec);
    let container = |name: &str, script: &str| {
        json!({"name": name, "image": "busybox", "command": ["sh", "-c", script],
               "terminationMessagePolicy": "FallbackToLogsOnError"})
    };
    let pod = json!({"metadata": {"name": "fallback"}, "spec": {"restartPolicy": "Never", "containers": [
        container("fails", "echo first; sleep 0.1; echo oops >&2; exit 1"),
        container("file", "echo noise; echo from file > /dev/termination-log; exit 1"),
        container("ok", "echo fine"),
    ]}});
    store.create(pod);
    let p = store
        .wait_for("fallback", "Failed", |p| phase(p) == "Failed")
        .await;
    let statuses = p["status"]["containerStatuses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = statuses.iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(names, ["fails", "file", "ok"]);
    assert_eq!(
        statuses[0]["state"]["terminated"]["message"],
        "first\noops\n"
    );
    assert_eq!(statuses[1]["state"]["terminated"]["message"], "from file\n");
    assert!(statuses[2]["state"]["terminated"].get("message").is_none());
    assert_eq!(statuses[2]["state"]["terminated"]["reason"], "Completed");

    assert_eq!(
        logs(&store, "fallback", LogOptions::default()).await,
        Err(LogError::BadRequest(
            "a container name must be specified for pod fallback, choose one of: [fails file ok]"
                .into()
        ))
    );
    assert_eq!(
        logs(&store, "fallback", container_opts("nope")).await,
        Err(LogError::BadRequest(
            "container nope is not valid for pod fallback".into()
        ))
    );
    assert_eq!(
        logs(&store, "fallback", container_opts("fails")).await,
        Ok("first\noops\n".into())
    );
}

#[tokio::test]
async fn env_field_refs_and_variable_expansion() {
    let store = MemStore::start(PodMode::Exec);
    let mut pod = exec_pod(
        "envpod",
        "echo \"$POD_NAME|$POD_NAMESPACE|$POD_UID|$NODE|$POD_IP|$SA|$GREETING\"; echo '$(GREETING)' '$$(GREETING)'",
    );
    pod["spec"]["serviceAccountName"] = json!("runner");
    let field = |path: &str| json!({"fieldRef": {"fieldPath": path}});
    pod["spec"]["containers"][0]["env"] = json!([
        {"name": "POD_NAME", "valueFrom": field("metadata.name")},
        {"name": "POD_NAMESPACE", "valueFrom": field("metadata.namespace")},
        {"name": "POD_UID", "valueFrom": field("metadata.uid")},
        {"name": "NODE", "valueFrom": field("spec.nodeName")},
        {"name": "POD_IP", "valueFrom": field("status.podIP")},
        {"name": "SA", "valueFrom": field("spec.serviceAccountName")},
        {"name": "GREETING", "value": "hi-$(POD_NAME)"},
    ]);
    let uid = store.create(pod);
    let p = store
        .wait_for("envpod", "Succeeded", |p| phase(p) == "Succeeded")
        .await;
    let ip = p["status"]["podIP"].as_str().unwrap_or_default();
    let expected =
        format!("envpod|default|{uid}|sandbox|{ip}|runner|hi-envpod\nhi-envpod $(GREETING)\n");
    assert_eq!(
        logs(&store, "envpod", LogOptions::default()).await,
        Ok(expected)
    );
    assert_eq!(condition(&p, "Ready")["reason"], "PodCompleted");
    assert_eq!(condition(&p, "Initialized")["reason"], "PodCompleted");
}

#[tokio::test]
async fn simulated_instant_pod_is_bound_and_finished_in_one_write() {
    let store = MemStore::start(PodMode::Simulate);
    let annotations = json!({
        "sandbox.kube/log": "line1\nline2\n",
        "sandbox.kube/termination-message": "bye",
    });
    store.create(sim_pod("instant", annotations));
    let p = store
        .wait_for("instant", "Succeeded", |p| phase(p) == "Succeeded")
        .await;
    assert_eq!(store.writes(), 1);
    assert_eq!(p["spec"]["nodeName"], "sandbox");
    let t = &main_status(&p)["state"]["terminated"];
    assert_eq!(
        (
            t["exitCode"].clone(),
            t["reason"].clone(),
            t["message"].clone()
        ),
        (json!(0), json!("Completed"), json!("bye"))
    );
    assert_eq!(
        logs(&store, "instant", LogOptions::default()).await,
        Ok("line1\nline2\n".into())
    );
    let tail = LogOptions {
        tail_lines: Some(1),
        ..Default::default()
    };
    assert_eq!(logs(&store, "instant", tail).await, Ok("line2\n".into()));
    let limited = LogOptions {
        limit_bytes: Some(3),
        ..Default::default()
    };
    assert_eq!(logs(&store, "instant", limited).await, Ok("lin".into()));
    assert_eq!(
        logs(
            &store,
            "instant",
            LogOptions {
                previous: true,
                ..Default::default()
            }
        )
        .await,
        Err(LogError::BadRequest(
            "previous terminated container \"main\" in pod \"instant\" not found".into()
        ))
    );

    // A finished pod is deleted at once, without another status write.
    store.delete("instant", 30);
    store.wait_finished("instant").await;
    assert_eq!(store.writes(), 1);
    assert_eq!(
        logs(&store, "instant", LogOptions::default()).await,
        Err(LogError::NotFound("pods \"instant\" not found".into()))
    );
}

#[tokio::test]
async fn simulated_failure_falls_back_to_the_log() {
    let store = MemStore::start(PodMode::Simulate);
    let mut pod = sim_pod(
        "simfail",
        json!({"sandbox.kube/exit-code": "2", "sandbox.kube/log": "boom\n"}),
    );
    pod["spec"]["containers"][0]["terminationMessagePolicy"] = json!("FallbackToLogsOnError");
    store.create(pod);
    let p = store
        .wait_for("simfail", "Failed", |p| phase(p) == "Failed")
        .await;
    let t = &main_status(&p)["state"]["terminated"];
    assert_eq!(
        (
            t["exitCode"].clone(),
            t["reason"].clone(),
            t["message"].clone()
        ),
        (json!(2), json!("Error"), json!("boom\n"))
    );
}

#[tokio::test]
async fn simulated_pod_runs_for_run_seconds_and_follow_ends_at_exit() {
    let store = MemStore::start(PodMode::Simulate);
    let annotations = json!({"sandbox.kube/run-seconds": "0.5", "sandbox.kube/log": "working\n"});
    store.create(sim_pod("timed", annotations));
    let p = store
        .wait_for("timed", "Running", |p| phase(p) == "Running")
        .await;
    assert!(main_status(&p)["state"]["running"]["startedAt"].is_string());
    assert_eq!(
        (
            main_status(&p)["ready"].clone(),
            main_status(&p)["started"].clone()
        ),
        (json!(true), json!(true))
    );
    assert_eq!(condition(&p, "Ready")["status"], "True");
    let follow = LogOptions {
        follow: true,
        ..Default::default()
    };
    assert_eq!(logs(&store, "timed", follow).await, Ok("working\n".into()));
    let p = store
        .wait_for("timed", "Succeeded", |p| phase(p) == "Succeeded")
        .await;
    assert_eq!(main_status(&p)["state"]["terminated"]["exitCode"], 0);
    assert_eq!(store.writes(), 2);
}

#[tokio::test]
async fn simulated_init_containers_and_sidecars() {
    let store = MemStore::start(PodMode::Simulate);
    let pod = json!({
        "metadata": {"name": "sidecar", "annotations": {
            "sandbox.kube/log.setup": "setting up\n",
            "sandbox.kube/run-seconds": "0.3",
        }},
        "spec": {"restartPolicy": "Never",
            "initContainers": [
                {"name": "setup", "image": "busybox"},
                {"name": "proxy", "image": "envoy", "restartPolicy": "Always"},
            ],
            "containers": [{"name": "main", "image": "busybox"}]}
    });
    store.create(pod);
    let p = store
        .wait_for("sidecar", "Running", |p| phase(p) == "Running")
        .await;
    let init = p["status"]["initContainerStatuses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(init[0]["state"]["terminated"]["reason"], "Completed");
    assert!(init[1]["state"]["running"].is_object());
    assert_eq!(init[1]["ready"], true);
    let p = store
        .wait_for("sidecar", "Succeeded", |p| phase(p) == "Succeeded")
        .await;
    // The sidecar was stopped after `main` finished; its exit code does not fail the pod.
    assert_eq!(
        p["status"]["initContainerStatuses"][1]["state"]["terminated"]["exitCode"],
        143
    );
    assert_eq!(
        logs(&store, "sidecar", container_opts("setup")).await,
        Ok("setting up\n".into())
    );
}

#[tokio::test]
async fn lowered_active_deadline_fails_a_running_exec_pod_and_keeps_its_logs() {
    let store = MemStore::start(PodMode::Exec);
    let mut pod = exec_pod("deadline", "echo started; sleep 1000");
    pod["spec"]["activeDeadlineSeconds"] = json!(600);
    store.create(pod);
    store
        .wait_for("deadline", "Running", |p| phase(p) == "Running")
        .await;
    store.commit("deadline", |p| {
        p["spec"]["activeDeadlineSeconds"] = json!(1)
    });
    let p = store
        .wait_for("deadline", "terminated after the deadline", |p| {
            phase(p) == "Failed" && main_status(p)["state"]["terminated"].is_object()
        })
        .await;
    assert_eq!(p["status"]["reason"], "DeadlineExceeded");
    assert_eq!(
        p["status"]["message"],
        "Pod was active on the node longer than the specified deadline"
    );
    assert_eq!(main_status(&p)["state"]["terminated"]["exitCode"], 143);
    assert_eq!(condition(&p, "Ready")["reason"], "PodFailed");
    assert_eq!(
        logs(&store, "deadline", LogOptions::default()).await,
        Ok("started\n".into())
    );
    assert!(store.kubelet().shared.processes.all().is_empty());
}

#[tokio::test]
async fn graceful_deletion_terminates_the_process_group() {
    let store = MemStore::start(PodMode::Exec);
    let mut pod = exec_pod("sleeper", "");
    pod["spec"]["containers"][0]["command"] = json!(["sleep", "1000"]);
    store.create(pod);
    store
        .wait_for("sleeper", "Running", |p| phase(p) == "Running")
        .await;
    let pgids = store.kubelet().shared.processes.all();
    assert_eq!(pgids.len(), 1);
    store.delete("sleeper", 30);
    // Well before the 30s grace period: SIGTERM did it.
    let last = store.wait_finished("sleeper").await;
    assert_eq!(phase(&last), "Failed");
    assert_eq!(main_status(&last)["state"]["terminated"]["exitCode"], 143);
    assert!(store.get("sleeper").is_none());
    assert_eq!(live_members(pgids[0]), 0, "process group still alive");
}

#[tokio::test]
async fn deletion_escalates_to_sigkill_after_the_grace_period() {
    let store = MemStore::start(PodMode::Exec);
    store.create(exec_pod("stubborn", "trap '' TERM; echo ready; sleep 1000"));
    store
        .wait_for("stubborn", "Running", |p| phase(p) == "Running")
        .await;
    store.delete("stubborn", 1);
    let last = store.wait_finished("stubborn").await;
    assert_eq!(main_status(&last)["state"]["terminated"]["exitCode"], 137);
}

#[tokio::test]
async fn follow_stream_ends_when_the_container_exits() {
    let store = MemStore::start(PodMode::Exec);
    store.create(exec_pod("follow", "echo a; sleep 0.5; echo b"));
    store
        .wait_for("follow", "Running", |p| phase(p) == "Running")
        .await;
    let follow = LogOptions {
        follow: true,
        ..Default::default()
    };
    assert_eq!(logs(&store, "follow", follow).await, Ok("a\nb\n".into()));
    let stamped = LogOptions {
        timestamps: true,
        ..Default::default()
    };
    let out = logs(&store, "follow", stamped).await.unwrap_or_default();
    let first = out.lines().next().unwrap_or_default();
    assert!(
        first.ends_with("Z a") && first.len() == "2006-01-02T15:04:05.000000000Z a".len(),
        "{out}"
    );
}

#[tokio::test]
async fn init_containers_run_first_and_waiting_containers_have_no_logs() {
    let store = MemStore::start(PodMode::Exec);
    let gate = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let go = gate.path().join("go");
    let hold = format!("while [ ! -f {} ]; do sleep 0.05; done", go.display());
    let pod = json!({"metadata": {"name": "init"}, "spec": {"restartPolicy": "Never",
        "initContainers": [
            {"name": "prepare", "image": "busybox", "command": ["sh", "-c", "echo init > shared.txt"]},
            {"name": "hold", "image": "busybox", "command": ["sh", "-c", hold]},
        ],
        "containers": [{"name": "main", "image": "busybox", "command": ["cat", "shared.txt"]}]}});
    store.create(pod);
    let p = store
        .wait_for("init", "hold running", |p| {
            p["status"]["initContainerStatuses"][1]["state"]["running"].is_object()
        })
        .await;
    assert_eq!(phase(&p), "Pending");
    assert_eq!(
        condition(&p, "Initialized")["message"],
        "containers with incomplete status: [hold]"
    );
    assert_eq!(
        main_status(&p)["state"]["waiting"]["reason"],
        "PodInitializing"
    );
    assert_eq!(
        p["status"]["initContainerStatuses"][0]["state"]["terminated"]["reason"],
        "Completed"
    );
    assert_eq!(p["status"]["initContainerStatuses"][0]["ready"], true);
    assert_eq!(
        logs(&store, "init", container_opts("main")).await,
        Err(LogError::BadRequest(
            "container \"main\" in pod \"init\" is waiting to start: PodInitializing".into()
        ))
    );
    std::fs::write(&go, "").unwrap_or_else(|e| panic!("{e}"));
    let p = store
        .wait_for("init", "Succeeded", |p| phase(p) == "Succeeded")
        .await;
    // `main` saw what `prepare` wrote: same pod directory, and strictly after it.
    assert_eq!(
        logs(&store, "init", container_opts("main")).await,
        Ok("init\n".into())
    );
    assert_eq!(
        logs(&store, "init", container_opts("prepare")).await,
        Ok("".into())
    );
    assert_eq!(
        p["status"]["initContainerStatuses"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
}

#[tokio::test]
async fn a_container_without_command_fails_to_start() {
    let store = MemStore::start(PodMode::Exec);
    store.create(sim_pod("nocmd", json!({})));
    let p = store
        .wait_for("nocmd", "Failed", |p| phase(p) == "Failed")
        .await;
    let t = &main_status(&p)["state"]["terminated"];
    assert_eq!(
        (t["exitCode"].clone(), t["reason"].clone()),
        (json!(128), json!("StartError"))
    );
    assert!(
        t["message"]
            .as_str()
            .is_some_and(|m| m.contains("without `command`")),
        "{t}"
    );
}

#[tokio::test]
async fn on_failure_restarts_then_backs_off() {
    let store = MemStore::start(PodMode::Exec);
    let mut pod = exec_pod("crash", "echo run; exit 1");
    pod["spec"]["restartPolicy"] = json!("OnFailure");
    store.create(pod);
    let p = store
        .wait_for("crash", "CrashLoopBackOff", |p| {
            main_status(p)["state"]["waiting"]["reason"] == "CrashLoopBackOff"
        })
        .await;
    assert_eq!(phase(&p), "Running");
    assert_eq!(main_status(&p)["restartCount"], 1);
    assert_eq!(main_status(&p)["lastState"]["terminated"]["exitCode"], 1);
    let msg = main_status(&p)["state"]["waiting"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        msg.starts_with("back-off 10s restarting failed container=main pod=crash_default("),
        "{msg}"
    );
    assert_eq!(
        logs(&store, "crash", LogOptions::default()).await,
        Ok("run\n".into())
    );
    let previous = LogOptions {
        previous: true,
        ..Default::default()
    };
    assert_eq!(logs(&store, "crash", previous).await, Ok("run\n".into()));

    store.delete("crash", 30);
    let last = store.wait_finished("crash").await;
    assert_eq!(phase(&last), "Failed");
    assert_eq!(main_status(&last)["state"]["terminated"]["exitCode"], 1);
}

#[tokio::test]
async fn missing_config_map_blocks_the_container_until_it_exists() {
    let store = MemStore::start(PodMode::Exec);
    let mut pod = exec_pod("cfg", "echo $VALUE");
    pod["spec"]["containers"][0]["env"] = json!([{"name": "VALUE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "v"}}}]);
    store.create(pod);
    let p = store
        .wait_for("cfg", "CreateContainerConfigError", |p| {
            main_status(p)["state"]["waiting"]["reason"] == "CreateContainerConfigError"
        })
        .await;
    assert_eq!(
        main_status(&p)["state"]["waiting"]["message"],
        "configmap \"settings\" not found"
    );
    assert_eq!(phase(&p), "Pending");
    lock(&store.objects).insert(
        ("configmaps".into(), "settings".into()),
        json!({"data": {"v": "42"}}),
    );
    store
        .wait_for("cfg", "Succeeded", |p| phase(p) == "Succeeded")
        .await;
    assert_eq!(
        logs(&store, "cfg", LogOptions::default()).await,
        Ok("42\n".into())
    );
}

#[tokio::test]
async fn removed_pods_are_forgotten_and_their_processes_killed() {
    let store = MemStore::start(PodMode::Exec);
    store.create(exec_pod("gone", "sleep 1000"));
    store
        .wait_for("gone", "Running", |p| phase(p) == "Running")
        .await;
    store.delete("gone", 0);
    assert_eq!(
        logs(&store, "gone", LogOptions::default()).await,
        Err(LogError::NotFound("pods \"gone\" not found".into()))
    );
    let wait = async {
        while !store.kubelet().shared.processes.all().is_empty() {
            tokio::task::yield_now().await;
        }
    };
    assert!(
        tokio::time::timeout(WAIT, wait).await.is_ok(),
        "process outlived its pod"
    );
}

#[tokio::test]
async fn shutdown_kills_running_containers() {
    let store = MemStore::start(PodMode::Exec);
    store.create(exec_pod("longrun", "sleep 1000"));
    store
        .wait_for("longrun", "Running", |p| phase(p) == "Running")
        .await;
    let pgids = store.kubelet().shared.processes.all();
    store.kubelet().shutdown().await;
    assert_eq!(live_members(pgids[0]), 0, "process group still alive");
}

#[tokio::test]
async fn pods_bound_elsewhere_are_ignored() {
    let store = MemStore::start(PodMode::Simulate);
    let mut pod = sim_pod("other", json!({}));
    pod["spec"]["nodeName"] = json!("node-2");
    store.create(pod);
    store.create(sim_pod("mine", json!({})));
    store
        .wait_for("mine", "Succeeded", |p| phase(p) == "Succeeded")
        .await;
    assert!(
        store
            .get("other")
            .is_some_and(|p| p.get("status").is_none())
    );
    assert_eq!(store.writes(), 1);
}

#[tokio::test]
async fn logs_keep_the_order_of_stdout_and_stderr_lines() {
    let store = MemStore::start(PodMode::Exec);
    store.create(exec_pod(
        "mixed",
        "for i in 1 2 3 4 5 6 7 8 9 10; do echo out$i; echo err$i >&2; done",
    ));
    store
        .wait_for("mixed", "Succeeded", |p| phase(p) == "Succeeded")
        .await;
    let expected: String = (1..=10).map(|i| format!("out{i}\nerr{i}\n")).collect();
    assert_eq!(
        logs(&store, "mixed", LogOptions::default()).await,
        Ok(expected)
    );
}

#[tokio::test]
async fn container_lifecycle_events_as_the_kubelet_records_them() {
    let store = MemStore::start(PodMode::Simulate);
    let mut pod = sim_pod("evented", json!({"sandbox.kube/run-seconds": "600"}));
    pod["spec"]["containers"][0]["image"] = json!("busybox:1.36");
    store.create(pod);
    store
        .wait_for("evented", "Running", |p| phase(p) == "Running")
        .await;
    store.delete("evented", 30);
    store.wait_finished("evented").await;
    let texts = store.event_texts();
    let expected: Vec<(String, String)> = [
        (
            "Pulled",
            "Container image \"busybox:1.36\" already present on machine",
        ),
        ("Created", "Created container: main"),
        ("Started", "Started container main"),
        ("Killing", "Stopping container main"),
    ]
    .iter()
    .map(|(r, m)| (r.to_string(), m.to_string()))
    .collect();
    assert_eq!(texts, expected);
    let started = &lock(&store.events)[2];
    assert_eq!(
        started["involvedObject"]["fieldPath"],
        "spec.containers{main}"
    );
    assert_eq!(started["source"]["component"], "kubelet");
    assert_eq!(started["source"]["host"], "sandbox");
}
