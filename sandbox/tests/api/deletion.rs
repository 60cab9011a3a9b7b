//! Deletion: namespaces and their contents, finalizers, DELETE answers, propagation policies
//! and graceful pod deletion.

use super::*;

// 4. Namespaces

#[tokio::test]
async fn namespaces_exist_guard_their_contents_and_are_deleted_with_them() {
    let (sb, client) = start(PodMode::Simulate).await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for ns in ["default", "kube-system"] {
        let n = namespaces.get(ns).await.expect("system namespace");
        assert_eq!(
            n.status.and_then(|s| s.phase).as_deref(),
            Some("Active"),
            "{ns}"
        );
        let sas: Api<k8s_openapi::api::core::v1::ServiceAccount> =
            Api::namespaced(client.clone(), ns);
        sas.get("default").await.expect("default ServiceAccount");
    }

    // Creating into a namespace that does not exist.
    let (code, body) = call(
        &client,
        Method::POST,
        "/api/v1/namespaces/ghost/configmaps",
        JSON,
        &json!({"metadata": {"name": "x"}}),
    )
    .await;
    assert_eq!(
        (code, body),
        (
            404,
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "namespaces \"ghost\" not found", "reason": "NotFound",
            "details": {"name": "ghost", "kind": "namespaces"}, "code": 404})
        )
    );

    create_namespace(&client, "team").await;
    let sas: Api<k8s_openapi::api::core::v1::ServiceAccount> =
        Api::namespaced(client.clone(), "team");
    eventually("the default ServiceAccount of team", || async {
        sas.get_opt("default").await.expect("get").map(|_| ())
    })
    .await;
    let pp = PostParams::default();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "team");
    cms.create(&pp, &configmap("settings", json!({})))
        .await
        .expect("create");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "team");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "worker", "annotations": {"sandbox.kube/run-seconds": "1000"}},
        "spec": {"containers": [{"name": "main", "image": "busybox"}]},
    }))
    .expect("pod");
    pods.create(&pp, &pod).await.expect("create pod");
    let widgets = install_widgets(&client, "team").await;
    let mut held = widget("held", json!({"size": 1}));
    held.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    widgets.create(&pp, &held).await.expect("create widget");
    widgets
        .create(&pp, &widget("free", json!({"size": 1})))
        .await
        .expect("create widget");

    let (code, deleting) = call(
        &client,
        Method::DELETE,
        "/api/v1/namespaces/team",
        JSON,
        &Value::Null,
    )
    .await;
    assert_eq!(code, 200, "{deleting}");
    assert_eq!(deleting["kind"], "Namespace");
    assert_eq!(deleting["status"]["phase"], "Terminating");
    assert!(deleting["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(deleting["spec"]["finalizers"], json!(["kubernetes"]));

    // The namespace controller empties it; the held widget keeps it Terminating.
    eventually("team's contents deleted", || async {
        let cms_gone = cms
            .list(&ListParams::default())
            .await
            .expect("list")
            .items
            .is_empty();
        let pods_gone = pods
            .list(&ListParams::default())
            .await
            .expect("list")
            .items
            .is_empty();
        let free_gone = widgets.get_opt("free").await.expect("get").is_none();
        (cms_gone && pods_gone && free_gone).then_some(())
    })
    .await;
    let held = widgets.get("held").await.expect("held widget stays");
    assert!(held.metadata.deletion_timestamp.is_some());
    let team = namespaces.get("team").await;
    assert!(team.is_ok(), "still terminating: {team:?}");
    let (code, body) = call(
        &client,
        Method::POST,
        "/api/v1/namespaces/team/configmaps",
        JSON,
        &json!({"metadata": {"name": "late"}}),
    )
    .await;
    assert_eq!(
        (code, body),
        (
            403,
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "configmaps \"late\" is forbidden: unable to create new content in namespace team because it is being terminated",
            "reason": "Forbidden",
            "details": {"name": "late", "kind": "configmaps", "causes": [{"reason": "NamespaceTerminating",
                "message": "namespace team is being terminated", "field": "metadata.namespace"}]},
            "code": 403})
        )
    );
    widgets
        .patch(
            "held",
            &PatchParams::default(),
            &Patch::Json::<()>(
                serde_json::from_value(json!([{"op": "remove", "path": "/metadata/finalizers"}]))
                    .expect("patch"),
            ),
        )
        .await
        .expect("release");
    eventually("namespace team gone", || async {
        namespaces
            .get_opt("team")
            .await
            .expect("get")
            .is_none()
            .then_some(())
    })
    .await;
    sb.shutdown().await;
}

// 5. Deletion: finalizers, responses, propagation, graceful pods

#[tokio::test]
async fn finalizers_hold_deletion_and_responses_match_kube_apiserver() {
    let (sb, client) = start(PodMode::Simulate).await;
    let widgets = install_widgets(&client, "default").await;
    let base = "/api/v1/namespaces/default/configmaps";
    let (_, listed) = get(&client, base).await;
    let rv = listed["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .to_string();
    let mut w = RawWatch::open(&client, &format!("{base}?watch=1&resourceVersion={rv}")).await;

    // Without finalizers: a Status for configmaps, and the watch sees only DELETED.
    let (_, plain) = call(
        &client,
        Method::POST,
        base,
        JSON,
        &json!({"metadata": {"name": "plain"}}),
    )
    .await;
    let (code, body) = call(
        &client,
        Method::DELETE,
        &format!("{base}/plain"),
        JSON,
        &Value::Null,
    )
    .await;
    assert_eq!(
        (code, body),
        (
            200,
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "details": {"name": "plain", "kind": "configmaps", "uid": plain["metadata"]["uid"]}})
        )
    );
    assert_eq!(w.next_named().await, ev("ADDED", "plain"));
    assert_eq!(w.next_named().await, ev("DELETED", "plain"));

    // With a finalizer: deletionTimestamp is set and the object is answered and kept.
    call(
        &client,
        Method::POST,
        base,
        JSON,
        &json!({"metadata": {"name": "held", "finalizers": ["example.com/hold"]}}),
    )
    .await;
    let (code, body) = call(
        &client,
        Method::DELETE,
        &format!("{base}/held"),
        JSON,
        &Value::Null,
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(body["kind"], "ConfigMap");
    assert!(body["metadata"]["deletionTimestamp"].is_string(), "{body}");
    assert_eq!(body["metadata"]["deletionGracePeriodSeconds"], 0);
    let marked_rv = body["metadata"]["resourceVersion"].clone();
    // Deleting again changes nothing.
    let (code, again) = call(
        &client,
        Method::DELETE,
        &format!("{base}/held"),
        JSON,
        &Value::Null,
    )
    .await;
    assert_eq!(
        (code, again["metadata"]["resourceVersion"].clone()),
        (200, marked_rv)
    );
    assert_eq!(get(&client, &format!("{base}/held")).await.0, 200);
    // Removing the last finalizer completes the deletion; the patch answers with the object.
    let (code, released) = call(
        &client,
        Method::PATCH,
        &format!("{base}/held"),
        MERGE,
        &json!({"metadata": {"finalizers": null}}),
    )
    .await;
    assert_eq!((code, released["kind"].clone()), (200, json!("ConfigMap")));
    assert!(
        released["metadata"].get("finalizers").is_none(),
        "{released}"
    );
    assert_eq!(get(&client, &format!("{base}/held")).await.0, 404);
    // The release itself is not stored (ShouldDeleteDuringUpdate): no MODIFIED for it, and
    // the DELETED object is the last stored state, finalizer included.
    assert_eq!(w.next_named().await, ev("ADDED", "held"));
    assert_eq!(w.next_named().await, ev("MODIFIED", "held"));
    let deleted = w.next().await.expect("DELETED");
    assert_eq!(deleted["type"], "DELETED");
    assert_eq!(
        deleted["object"]["metadata"]["finalizers"],
        json!(["example.com/hold"])
    );

    // Custom resources answer with the object; marking one as deleting bumps its generation.
    let wpath = "/apis/example.com/v1/namespaces/default/widgets";
    widgets
        .create(&PostParams::default(), &widget("gone", json!({"size": 1})))
        .await
        .expect("create");
    let (code, body) = call(
        &client,
        Method::DELETE,
        &format!("{wpath}/gone"),
        JSON,
        &Value::Null,
    )
    .await;
    assert_eq!(
        (code, body["kind"].clone(), body["metadata"]["name"].clone()),
        (200, json!("Widget"), json!("gone"))
    );
    let mut kept = widget("kept", json!({"size": 1}));
    kept.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    let kept = widgets
        .create(&PostParams::default(), &kept)
        .await
        .expect("create");
    assert_eq!(kept.metadata.generation, Some(1));
    let (code, body) = call(
        &client,
        Method::DELETE,
        &format!("{wpath}/kept"),
        JSON,
        &Value::Null,
    )
    .await;
    assert_eq!(code, 200);
    assert!(body["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(body["metadata"]["generation"], 2);
    // A dry-run delete of an object that would go at once answers as the real one would.
    widgets
        .create(&PostParams::default(), &widget("dry", json!({"size": 1})))
        .await
        .expect("create");
    let (code, body) = call(
        &client,
        Method::DELETE,
        &format!("{wpath}/dry?dryRun=All"),
        JSON,
        &Value::Null,
    )
    .await;
    assert_eq!(
        (code, body["metadata"]["name"].clone()),
        (200, json!("dry"))
    );
    assert!(
        body["metadata"].get("deletionTimestamp").is_none(),
        "{body}"
    );
    assert!(widgets.get_opt("dry").await.expect("get").is_some());
    sb.shutdown().await;
}

fn owned_configmap(name: &str, owner: &ConfigMap, finalizers: &[&str]) -> ConfigMap {
    serde_json::from_value(json!({
        "metadata": {
            "name": name,
            "finalizers": finalizers,
            "ownerReferences": [{
                "apiVersion": "v1", "kind": "ConfigMap", "name": owner.name_any(),
                "uid": owner.metadata.uid, "blockOwnerDeletion": true,
            }],
        },
    }))
    .expect("dependent")
}

#[tokio::test]
async fn propagation_policies_background_foreground_and_orphan() {
    let (sb, client) = start(PodMode::Simulate).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let pp = PostParams::default();
    let make = |name: &'static str| {
        let cms = cms.clone();
        async move {
            cms.create(&PostParams::default(), &configmap(name, json!({})))
                .await
                .expect("create owner")
        }
    };
    let gone = |name: &'static str| {
        let cms = cms.clone();
        async move {
            cms.get_opt(name)
                .await
                .expect("get")
                .is_none()
                .then_some(())
        }
    };

    // Background (the default): the owner goes at once, its dependents after it.
    let owner = make("bg-owner").await;
    for dep in ["bg-a", "bg-b"] {
        cms.create(&pp, &owned_configmap(dep, &owner, &[]))
            .await
            .expect("create dependent");
    }
    let answer = cms
        .delete("bg-owner", &DeleteParams::default())
        .await
        .expect("delete");
    assert!(
        answer.is_right(),
        "configmaps answer a completed delete with a Status"
    );
    eventually("bg-a collected", || gone("bg-a")).await;
    eventually("bg-b collected", || gone("bg-b")).await;

    // Foreground: the owner waits, with the foregroundDeletion finalizer, for its dependents.
    let owner = make("fg-owner").await;
    cms.create(
        &pp,
        &owned_configmap("fg-held", &owner, &["example.com/hold"]),
    )
    .await
    .expect("create dependent");
    cms.create(&pp, &owned_configmap("fg-free", &owner, &[]))
        .await
        .expect("create dependent");
    let answer = cms
        .delete("fg-owner", &DeleteParams::foreground())
        .await
        .expect("delete");
    let marked = answer.left().expect("the owner, still there");
    assert!(marked.metadata.deletion_timestamp.is_some());
    assert_eq!(
        marked.metadata.finalizers.as_deref(),
        Some(&["foregroundDeletion".to_string()][..])
    );
    eventually("fg-free collected", || gone("fg-free")).await;
    let held = eventually("fg-held marked", || async {
        cms.get("fg-held")
            .await
            .ok()
            .filter(|c| c.metadata.deletion_timestamp.is_some())
    })
    .await;
    assert!(held.metadata.deletion_timestamp.is_some());
    let owner = cms.get("fg-owner").await.expect("owner waits for fg-held");
    assert!(
        owner
            .finalizers()
            .contains(&"foregroundDeletion".to_string())
    );
    cms.patch(
        "fg-held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .expect("release");
    eventually("fg-owner deleted after its dependents", || gone("fg-owner")).await;

    // Orphan: dependents lose the owner reference and stay.
    let owner = make("or-owner").await;
    cms.create(&pp, &owned_configmap("or-dep", &owner, &[]))
        .await
        .expect("create dependent");
    let answer = cms
        .delete("or-owner", &DeleteParams::orphan())
        .await
        .expect("delete");
    let marked = answer.left().expect("held by the orphan finalizer");
    assert_eq!(
        marked.metadata.finalizers.as_deref(),
        Some(&["orphan".to_string()][..])
    );
    eventually("or-owner deleted", || gone("or-owner")).await;
    let dep = eventually("or-dep orphaned", || async {
        cms.get("or-dep").await.ok().filter(|c| {
            c.metadata
                .owner_references
                .as_ref()
                .is_none_or(|r| r.is_empty())
        })
    })
    .await;
    assert!(dep.metadata.deletion_timestamp.is_none());
    sb.shutdown().await;
}

#[tokio::test]
async fn pods_are_deleted_gracefully() {
    let (sb, client) = start(PodMode::Exec).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("terminated");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "graceful"},
        "spec": {"terminationGracePeriodSeconds": 20, "containers": [{
            "name": "main", "image": "busybox",
            "command": ["sh", "-c", "trap 'echo bye > \"$MARKER\"; exit 0' TERM; echo up; while true; do sleep 0.05; done"],
            "env": [{"name": "MARKER", "value": marker.to_string_lossy()}]}]},
    }))
    .expect("pod");
    pods.create(&PostParams::default(), &pod)
        .await
        .expect("create");
    eventually("the pod running and its shell ready", || async {
        let running = pods.get("graceful").await.ok()?.status?.phase? == "Running";
        let log = pods.logs("graceful", &Default::default()).await.ok()?;
        (running && log == "up\n").then_some(())
    })
    .await;
    let (_, listed) = get(&client, "/api/v1/namespaces/default/pods").await;
    let rv = listed["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .to_string();
    let mut w = RawWatch::open(
        &client,
        &format!("/api/v1/namespaces/default/pods?watch=1&resourceVersion={rv}&fieldSelector=metadata.name%3Dgraceful"),
    )
    .await;
    let (code, body) = call(
        &client,
        Method::DELETE,
        "/api/v1/namespaces/default/pods/graceful",
        JSON,
        &Value::Null,
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(
        body["kind"], "Pod",
        "a graceful delete answers with the pod"
    );
    assert!(body["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(body["metadata"]["deletionGracePeriodSeconds"], 20);
    let first = w.next().await.expect("event");
    assert_eq!(first["type"], "MODIFIED");
    assert!(first["object"]["metadata"]["deletionTimestamp"].is_string());
    loop {
        let e = w.next().await.expect("the pod's deletion");
        if e["type"] == "DELETED" {
            break;
        }
        assert_eq!(e["type"], "MODIFIED", "{e}");
    }
    // The container got SIGTERM and ran its handler well within the grace period.
    assert_eq!(
        std::fs::read_to_string(&marker).expect("the TERM trap ran"),
        "bye\n"
    );
    assert!(pods.get_opt("graceful").await.expect("get").is_none());
    sb.shutdown().await;
}
