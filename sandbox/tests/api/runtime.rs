//! The node and controllers: simulated and exec pods, events from kube-rs's Recorder, and the
//! CRD lifecycle.

use super::*;

// 8. Pods: simulated fates and deadlines

async fn finished(pods: &Api<Pod>, name: &str) -> Pod {
    let cond = kube::runtime::wait::await_condition(pods.clone(), name, |p: Option<&Pod>| {
        matches!(
            p.and_then(|p| p.status.as_ref())
                .and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        )
    });
    tokio::time::timeout(WAIT, cond)
        .await
        .expect("pod finished in time")
        .expect("watch")
        .expect("pod exists")
}

fn terminated(pod: &Pod) -> k8s_openapi::api::core::v1::ContainerStateTerminated {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|c| c.first())
        .and_then(|c| c.state.as_ref())
        .and_then(|s| s.terminated.clone())
        .expect("a terminated container")
}

#[tokio::test]
async fn simulated_pods_follow_their_annotations() {
    let (sb, client) = start(PodMode::Simulate).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let make = |name: &str, annotations: Value| -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "annotations": annotations},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox"}]},
        }))
        .expect("pod")
    };
    let pp = PostParams::default();
    pods.create(
        &pp,
        &make(
            "fine",
            json!({"sandbox.kube/log": "hello\nworld\n", "sandbox.kube/termination-message": "all good"}),
        ),
    )
    .await
    .expect("create");
    pods.create(
        &pp,
        &make(
            "broken",
            json!({"sandbox.kube/exit-code": "3", "sandbox.kube/run-seconds": "0.5",
                "sandbox.kube/log": "boom\n", "sandbox.kube/termination-message": "it broke"}),
        ),
    )
    .await
    .expect("create");

    let fine = finished(&pods, "fine").await;
    assert_eq!(
        fine.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded")
    );
    let t = terminated(&fine);
    assert_eq!(
        (t.exit_code, t.reason.as_deref(), t.message.as_deref()),
        (0, Some("Completed"), Some("all good"))
    );
    assert_eq!(
        pods.logs("fine", &Default::default()).await.expect("logs"),
        "hello\nworld\n"
    );

    // run-seconds: Running first, then the exit code decides.
    let running =
        kube::runtime::wait::await_condition(pods.clone(), "broken", |p: Option<&Pod>| {
            p.and_then(|p| p.status.as_ref())
                .and_then(|s| s.phase.as_deref())
                == Some("Running")
        });
    let seen_running = tokio::time::timeout(WAIT, running).await;
    let broken = finished(&pods, "broken").await;
    assert!(seen_running.is_ok(), "the pod ran before it failed");
    assert_eq!(
        broken.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Failed")
    );
    let t = terminated(&broken);
    assert_eq!(
        (t.exit_code, t.reason.as_deref(), t.message.as_deref()),
        (3, Some("Error"), Some("it broke"))
    );
    assert_eq!(
        pods.logs("broken", &Default::default())
            .await
            .expect("logs"),
        "boom\n"
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn lowering_active_deadline_fails_a_running_pod_that_stays_readable() {
    let (sb, client) = start(PodMode::Exec).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "sleeper"},
        "spec": {"restartPolicy": "Never", "containers": [{
            "name": "main", "image": "busybox", "command": ["sh", "-c", "echo started; exec sleep 1000"]}]},
    }))
    .expect("pod");
    pods.create(&PostParams::default(), &pod)
        .await
        .expect("create");
    eventually("sleeper running", || async {
        let running = pods.get("sleeper").await.ok()?.status?.phase? == "Running";
        let log = pods.logs("sleeper", &Default::default()).await.ok()?;
        (running && log == "started\n").then_some(())
    })
    .await;
    pods.patch(
        "sleeper",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"activeDeadlineSeconds": 1}})),
    )
    .await
    .expect("lower the deadline");
    let failed = finished(&pods, "sleeper").await;
    let status = failed.status.expect("status");
    assert_eq!(status.phase.as_deref(), Some("Failed"));
    assert_eq!(status.reason.as_deref(), Some("DeadlineExceeded"));
    assert_eq!(
        status.message.as_deref(),
        Some("Pod was active on the node longer than the specified deadline")
    );
    // Still there, logs included, until deleted.
    assert!(pods.get("sleeper").await.is_ok());
    assert_eq!(
        pods.logs("sleeper", &Default::default())
            .await
            .expect("logs"),
        "started\n"
    );
    pods.delete("sleeper", &DeleteParams::default())
        .await
        .expect("delete");
    eventually("sleeper gone", || async {
        pods.get_opt("sleeper")
            .await
            .expect("get")
            .is_none()
            .then_some(())
    })
    .await;
    sb.shutdown().await;
}

// 9. Events

#[tokio::test]
async fn recorder_events_read_as_core_events_and_repeats_become_a_series() {
    let (sb, client) = start(PodMode::Simulate).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let cm = cms
        .create(&PostParams::default(), &configmap("noted", json!({})))
        .await
        .expect("create");
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "sandbox-test".into(),
            instance: Some("sandbox-test-1".into()),
        },
    );
    let reference = cm.object_ref(&());
    let event = RecordedEvent {
        type_: EventType::Normal,
        reason: "Checked".into(),
        note: Some("looked at the configmap".into()),
        action: "Check".into(),
        secondary: None,
    };
    recorder
        .publish(&event, &reference)
        .await
        .expect("first publish");
    recorder
        .publish(&event, &reference)
        .await
        .expect("repeat publish (a series patch)");

    let core: Api<CoreEvent> = Api::namespaced(client.clone(), "default");
    let listed = core
        .list(&ListParams::default().fields("involvedObject.name=noted"))
        .await
        .expect("list core events");
    assert_eq!(listed.items.len(), 1, "one event, repeated");
    let e = &listed.items[0];
    assert_eq!(e.involved_object.name.as_deref(), Some("noted"));
    assert_eq!(e.involved_object.kind.as_deref(), Some("ConfigMap"));
    assert_eq!(e.involved_object.uid, cm.metadata.uid);
    assert_eq!(e.message.as_deref(), Some("looked at the configmap"));
    assert_eq!(e.reason.as_deref(), Some("Checked"));
    assert_eq!(e.type_.as_deref(), Some("Normal"));
    assert_eq!(e.reporting_component.as_deref(), Some("sandbox-test"));
    assert_eq!(e.series.as_ref().and_then(|s| s.count), Some(2));

    let v1: Api<EventsV1> = Api::namespaced(client.clone(), "default");
    let same = v1.get(&e.name_any()).await.expect("the events.k8s.io view");
    assert_eq!(same.note.as_deref(), Some("looked at the configmap"));
    assert_eq!(
        same.regarding.and_then(|r| r.name).as_deref(),
        Some("noted")
    );
    assert_eq!(same.series.map(|s| s.count), Some(2));
    sb.shutdown().await;
}

// 10. CRD lifecycle

#[tokio::test]
async fn crds_serve_one_version_and_take_their_resources_along_when_deleted() {
    let (sb, client) = start(PodMode::Simulate).await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut two = widget_crd();
    let mut v2 = two.spec.versions[0].clone();
    v2.name = "v2".into();
    v2.storage = false;
    two.spec.versions.push(v2);
    let s = api_status(
        crds.create(&PostParams::default(), &two)
            .await
            .expect_err("two served versions"),
    );
    assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"));
    assert!(
        s.message
            .contains("serves only one version per CustomResourceDefinition"),
        "{}",
        s.message
    );
    assert!(
        crds.get_opt("widgets.example.com")
            .await
            .expect("get")
            .is_none()
    );

    let widgets = install_widgets(&client, "default").await;
    widgets
        .create(&PostParams::default(), &widget("w1", json!({"size": 1})))
        .await
        .expect("create");
    let mut held = widget("w2", json!({"size": 1}));
    held.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    widgets
        .create(&PostParams::default(), &held)
        .await
        .expect("create");
    let served = |client: Client| async move {
        client
            .list_api_groups()
            .await
            .expect("groups")
            .groups
            .iter()
            .any(|g| g.name == "example.com")
    };
    assert!(served(client.clone()).await);
    let resources = client
        .list_api_group_resources("example.com/v1")
        .await
        .expect("resources");
    assert!(resources.resources.iter().any(|r| r.name == "widgets"));

    crds.delete("widgets.example.com", &DeleteParams::default())
        .await
        .expect("delete CRD");
    // Its custom resources are deleted the normal way: a finalizer holds one, and the CRD with it.
    eventually("w1 deleted and w2 marked", || async {
        let w1_gone = widgets.get_opt("w1").await.expect("get").is_none();
        let w2_marked = widgets
            .get_opt("w2")
            .await
            .expect("get")
            .is_some_and(|w| w.metadata.deletion_timestamp.is_some());
        (w1_gone && w2_marked).then_some(())
    })
    .await;
    let terminating = crds
        .get("widgets.example.com")
        .await
        .expect("the CRD waits");
    assert!(terminating.metadata.deletion_timestamp.is_some());
    assert!(
        served(client.clone()).await,
        "still served while terminating"
    );
    let (code, body) = call(
        &client,
        Method::POST,
        "/apis/example.com/v1/namespaces/default/widgets",
        JSON,
        &serde_json::to_value(widget("w3", json!({"size": 1}))).expect("json"),
    )
    .await;
    assert_eq!(
        (code, body),
        (
            405,
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "create not allowed while custom resource definition is terminating",
            "reason": "MethodNotAllowed", "details": {"group": "example.com", "kind": "widgets"},
            "code": 405})
        )
    );
    widgets
        .patch(
            "w2",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .expect("release w2");
    eventually("the CRD gone", || async {
        crds.get_opt("widgets.example.com")
            .await
            .expect("get")
            .is_none()
            .then_some(())
    })
    .await;
    assert!(!served(client.clone()).await, "example.com left discovery");
    let (code, _) = get(&client, "/apis/example.com/v1/namespaces/default/widgets").await;
    assert_eq!(code, 404);
    assert!(
        client
            .list_api_group_resources("example.com/v1")
            .await
            .is_err()
    );
    // The custom resources went with it: a new CRD of the same name starts empty.
    let widgets = install_widgets(&client, "default").await;
    assert!(
        widgets
            .list(&ListParams::default())
            .await
            .expect("list")
            .items
            .is_empty()
    );
    sb.shutdown().await;
}
