//! kube-rs against an in-process sandbox: watchers, reflectors and a Controller across 410s,
//! optimistic concurrency, the three patch types, and an exec pod's exit code, message and log.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher::{self, Event};
use kube::runtime::{WatchStreamExt, reflector};
use kube::{Client, ResourceExt};
use kube_sandbox::{PodMode, Sandbox, SandboxConfig};
use serde_json::json;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(30);

async fn sandbox(pods: PodMode, watch_history: usize) -> (Sandbox, Client) {
    let sb = Sandbox::start(SandboxConfig {
        pods,
        watch_history,
        ..Default::default()
    })
    .await
    .expect("start sandbox");
    let client = sb.client().await.expect("client");
    (sb, client)
}

fn configmap(name: &str, payload: usize) -> ConfigMap {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"test": "churn"}},
        "data": {"payload": "x".repeat(payload)},
    }))
    .expect("configmap")
}

/// Writes enough to push every earlier resourceVersion out of a small history.
async fn churn(api: &Api<ConfigMap>, prefix: &str, count: usize) {
    for i in 0..count {
        api.create(
            &PostParams::default(),
            &configmap(&format!("{prefix}-{i}"), 1024),
        )
        .await
        .expect("create");
    }
}

#[tokio::test]
async fn watcher_and_reflector_recover_from_410() {
    let (sb, client) = sandbox(PodMode::Simulate, 50).await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let (reader, writer) = reflector::store();
    let inits = Arc::new(AtomicUsize::new(0));
    let counted = inits.clone();
    let mut stream = Box::pin(
        watcher::watcher(api.clone(), watcher::Config::default().labels("test=churn"))
            .inspect_ok(move |e| {
                if matches!(e, Event::Init) {
                    counted.fetch_add(1, Ordering::SeqCst);
                }
            })
            .reflect(writer),
    );
    api.create(&PostParams::default(), &configmap("first", 10))
        .await
        .expect("create");
    let deadline = tokio::time::Instant::now() + WAIT;
    while reader
        .get(&reflector::ObjectRef::new("first").within("default"))
        .is_none()
    {
        let next = tokio::time::timeout_at(deadline, stream.try_next()).await;
        assert!(next.is_ok(), "the reflector never saw the first object");
    }
    // Not polling the stream while writing far more than the history keeps: the watch falls behind,
    // gets 410 Expired, and the watcher must relist.
    churn(&api, "churn", 400).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while reader.state().len() < 401 {
        let next = tokio::time::timeout_at(deadline, stream.try_next()).await;
        assert!(
            next.is_ok(),
            "reflector has {} of 401 objects",
            reader.state().len()
        );
    }
    assert!(
        inits.load(Ordering::SeqCst) >= 2,
        "the watcher relisted after 410"
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn a_raw_watch_from_a_compacted_version_gets_410() {
    let (sb, client) = sandbox(PodMode::Simulate, 10).await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    churn(&api, "c", 20).await;
    let mut events = api
        .watch(&kube::api::WatchParams::default(), "2")
        .await
        .expect("watch")
        .boxed();
    match timeout(WAIT, events.next()).await.expect("an event") {
        Some(Ok(kube::api::WatchEvent::Error(status))) => {
            assert_eq!(status.code, 410);
            assert_eq!(status.reason, "Expired");
            assert!(
                status.message.starts_with("too old resource version: 2 ("),
                "{}",
                status.message
            );
        }
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }
    sb.shutdown().await;
}

#[tokio::test]
async fn controller_keeps_reconciling_across_410() {
    let (sb, client) = sandbox(PodMode::Simulate, 30).await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let seen: Arc<std::sync::Mutex<BTreeMap<String, usize>>> = Default::default();
    let ctx = seen.clone();
    // One-second watch timeouts: every reconnect resumes from a resourceVersion that churn has
    // compacted away, so the watcher goes through 410 and relists.
    let controller = Controller::new(
        api.clone(),
        watcher::Config::default().labels("app=demo").timeout(1),
    )
    .run(
        |cm: Arc<ConfigMap>, seen: Arc<std::sync::Mutex<BTreeMap<String, usize>>>| async move {
            if let Ok(mut s) = seen.lock() {
                *s.entry(cm.name_any()).or_default() += 1;
            }
            Ok::<_, kube::Error>(Action::await_change())
        },
        |_, _, _| Action::requeue(Duration::from_secs(1)),
        ctx,
    )
    .for_each(|_| async {});
    let handle = tokio::spawn(controller);
    let labelled = |name: &str| -> ConfigMap {
        serde_json::from_value(json!({"metadata": {"name": name, "labels": {"app": "demo"}}}))
            .expect("cm")
    };
    api.create(&PostParams::default(), &labelled("before"))
        .await
        .expect("create");
    wait_until(&seen, "before").await;
    let watches = |sb: &Sandbox| sb.stats().by_verb.get("watch").copied().unwrap_or(0);
    for round in 0..3 {
        let before = watches(&sb);
        churn(&api, &format!("round{round}"), 60).await;
        // The controller's 1 s watch ends and reconnects from a compacted resourceVersion.
        let deadline = tokio::time::Instant::now() + WAIT;
        while watches(&sb) <= before {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the controller's watch never reconnected"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let name = format!("after-{round}");
        api.create(&PostParams::default(), &labelled(&name))
            .await
            .expect("create");
        wait_until(&seen, &name).await;
    }
    handle.abort();
    sb.shutdown().await;
}

async fn wait_until(seen: &std::sync::Mutex<BTreeMap<String, usize>>, name: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if seen.lock().map(|s| s.contains_key(name)).unwrap_or(false) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} was never reconciled"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn stale_replace_gets_409_with_the_real_message() {
    let (sb, client) = sandbox(PodMode::Simulate, 1000).await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let created = api
        .create(&PostParams::default(), &configmap("cm", 1))
        .await
        .expect("create");
    let mut fresh = created.clone();
    fresh.data = Some([("k".to_string(), "v".to_string())].into());
    api.replace("cm", &PostParams::default(), &fresh)
        .await
        .expect("first replace");
    let mut stale = created;
    stale.data = Some([("k".to_string(), "other".to_string())].into());
    match api.replace("cm", &PostParams::default(), &stale).await {
        Err(kube::Error::Api(s)) => {
            assert_eq!(s.code, 409);
            assert_eq!(s.reason, "Conflict");
            assert_eq!(
                s.message,
                "Operation cannot be fulfilled on configmaps \"cm\": the object has been modified; please apply your changes to the latest version and try again"
            );
        }
        other => panic!("expected 409, got {other:?}"),
    }
    match api
        .create(&PostParams::default(), &configmap("cm", 1))
        .await
    {
        Err(kube::Error::Api(s)) => assert_eq!(
            (s.code, s.message.as_str()),
            (409, "configmaps \"cm\" already exists")
        ),
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    match api.get("nope").await {
        Err(kube::Error::Api(s)) => assert_eq!(
            (s.code, s.message.as_str()),
            (404, "configmaps \"nope\" not found")
        ),
        other => panic!("expected NotFound, got {other:?}"),
    }
    sb.shutdown().await;
}

#[tokio::test]
async fn merge_json_and_strategic_patches() {
    let (sb, client) = sandbox(PodMode::Simulate, 1000).await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [
                {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
                {"name": "sidecar", "image": "side:1"}]}}}
    }))
    .expect("deployment");
    deployments
        .create(&PostParams::default(), &deployment)
        .await
        .expect("create");
    let pp = PatchParams::default();

    // Strategic merge: containers merge by name, env by name.
    let patched = deployments
        .patch(
            "web",
            &pp,
            &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "app:2", "env": [{"name": "B", "value": "20"}]}]}}}})),
        )
        .await
        .expect("strategic");
    let containers = patched
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .map(|s| s.containers.clone())
        .unwrap_or_default();
    assert_eq!(
        containers.len(),
        2,
        "the sidecar survives a strategic merge"
    );
    assert_eq!(containers[0].image.as_deref(), Some("app:2"));
    let env: Vec<(String, Option<String>)> = containers[0]
        .env
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|e| (e.name, e.value))
        .collect();
    assert_eq!(
        env,
        [
            ("A".into(), Some("1".into())),
            ("B".into(), Some("20".into()))
        ]
    );
    assert_eq!(patched.metadata.generation, Some(2));

    // JSON merge patch replaces lists whole.
    let patched = deployments
        .patch("web", &pp, &Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [{"name": "only", "image": "x:1"}]}}}})))
        .await
        .expect("merge");
    let names: Vec<String> = patched
        .spec
        .and_then(|s| s.template.spec)
        .map(|s| s.containers.into_iter().map(|c| c.name).collect())
        .unwrap_or_default();
    assert_eq!(names, ["only"]);

    // JSON patch with a failing test operation changes nothing.
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    cms.create(&PostParams::default(), &configmap("j", 1))
        .await
        .expect("create");
    let ops: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/data/payload", "value": "nope"},
        {"op": "replace", "path": "/data/payload", "value": "changed"}]))
    .expect("patch");
    let failed = cms.patch("j", &pp, &Patch::Json::<()>(ops)).await;
    assert!(
        matches!(&failed, Err(kube::Error::Api(s)) if s.code == 422),
        "{failed:?}"
    );
    let ops: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/data/payload", "value": "x"},
        {"op": "replace", "path": "/data/payload", "value": "changed"}]))
    .expect("patch");
    let ok = cms
        .patch("j", &pp, &Patch::Json::<()>(ops))
        .await
        .expect("json patch");
    assert_eq!(
        ok.data.and_then(|d| d.get("payload").cloned()).as_deref(),
        Some("changed")
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn exec_pod_reports_exit_code_termination_message_and_log() {
    let (sb, client) = sandbox(PodMode::Exec, 1000).await;
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "runner"},
        "spec": {"restartPolicy": "Never", "containers": [{
            "name": "main", "image": "busybox:1.37",
            "command": ["sh", "-c", "echo hi; echo done > $MSG; exit 3"],
            "env": [{"name": "MSG", "value": "/dev/termination-log"}]}]}
    }))
    .expect("pod");
    pods.create(&PostParams::default(), &pod)
        .await
        .expect("create");
    let done = kube::runtime::wait::await_condition(pods.clone(), "runner", |p: Option<&Pod>| {
        matches!(
            p.and_then(|p| p.status.as_ref())
                .and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        )
    });
    let pod = timeout(WAIT, done)
        .await
        .expect("pod finished in time")
        .expect("watch")
        .expect("pod exists");
    let status = pod.status.expect("status");
    assert_eq!(status.phase.as_deref(), Some("Failed"));
    let terminated = status.container_statuses.unwrap_or_default()[0]
        .state
        .clone()
        .and_then(|s| s.terminated)
        .expect("terminated");
    assert_eq!(terminated.exit_code, 3);
    assert_eq!(
        terminated.message.as_deref().map(str::trim_end),
        Some("done")
    );
    assert_eq!(terminated.reason.as_deref(), Some("Error"));
    let log = pods
        .logs("runner", &Default::default())
        .await
        .expect("logs");
    assert_eq!(log, "hi\n");
    let listed = pods
        .list(&ListParams::default().fields("status.phase=Failed"))
        .await
        .expect("list");
    assert_eq!(listed.items.len(), 1);
    sb.shutdown().await;
}
