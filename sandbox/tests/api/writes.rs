//! Writes: metadata kube-apiserver stamps, generation and the status subresource,
//! `generateName`, dry runs, optimistic concurrency, error bodies and patch-type errors.

use super::*;

// 3. Metadata, generation, generateName, dry run, concurrency and error bodies

#[tokio::test]
async fn creates_stamp_uid_timestamp_and_one_global_resource_version() {
    let (sb, client) = start(PodMode::Simulate).await;
    let pp = PostParams::default();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");
    let cm = cms
        .create(&pp, &configmap("stamped", json!({})))
        .await
        .expect("create");
    let uid = cm.metadata.uid.clone().expect("uid");
    uuid::Uuid::parse_str(&uid).expect("uid is a UUID");
    let created = serde_json::to_value(&cm).expect("json")["metadata"]["creationTimestamp"]
        .as_str()
        .expect("creationTimestamp")
        .to_string();
    let rfc3339_seconds = regex::Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$").expect("re");
    assert!(rfc3339_seconds.is_match(&created), "{created}");
    assert_eq!(
        cm.metadata.generation, None,
        "configmaps have no generation"
    );

    // One counter across kinds: every write, of any kind, gets a larger resourceVersion.
    let secret: Secret =
        serde_json::from_value(json!({"metadata": {"name": "s"}, "stringData": {"a": "b"}}))
            .expect("secret");
    let secret = secrets.create(&pp, &secret).await.expect("create secret");
    assert!(rv_of(&secret.metadata) > rv_of(&cm.metadata));
    let updated = cms
        .patch(
            "stamped",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"k": "w"}})),
        )
        .await
        .expect("patch");
    assert!(rv_of(&updated.metadata) > rv_of(&secret.metadata));
    assert_eq!(updated.metadata.uid.as_deref(), Some(uid.as_str()));
    let listed = secrets.list(&ListParams::default()).await.expect("list");
    let list_rv: u64 = listed
        .metadata
        .resource_version
        .as_deref()
        .expect("list rv")
        .parse()
        .expect("numeric");
    assert!(
        list_rv >= rv_of(&updated.metadata),
        "a list is as new as the newest write"
    );

    // Deployments track generation from 1.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": "app:1"}]}}}
    }))
    .expect("deployment");
    let d = deployments.create(&pp, &d).await.expect("create");
    assert_eq!(d.metadata.generation, Some(1));
    sb.shutdown().await;
}

#[tokio::test]
async fn custom_resource_generation_follows_spec_and_status_is_a_subresource() {
    let (sb, client) = start(PodMode::Simulate).await;
    let widgets = install_widgets(&client, "default").await;
    let pp = PostParams::default();
    let mut w = widget("gen", json!({"size": 3}));
    w.data["status"] = json!({"phase": "Injected"});
    let w = widgets.create(&pp, &w).await.expect("create");
    assert_eq!(w.metadata.generation, Some(1));
    assert!(
        w.data.get("status").is_none(),
        "create drops status: {:?}",
        w.data
    );

    let merge = |body: Value| Patch::Merge(body);
    let ppatch = PatchParams::default();
    // Status through the main endpoint is ignored; metadata changes keep the generation.
    let w = widgets
        .patch(
            "gen",
            &ppatch,
            &merge(json!({"status": {"phase": "Sneaky"}})),
        )
        .await
        .expect("patch status via main");
    assert!(w.data.get("status").is_none(), "{:?}", w.data);
    assert_eq!(w.metadata.generation, Some(1));
    let w = widgets
        .patch(
            "gen",
            &ppatch,
            &merge(json!({"metadata": {"labels": {"x": "y"}}})),
        )
        .await
        .expect("label");
    assert_eq!(w.metadata.generation, Some(1));
    // A spec change bumps it.
    let w = widgets
        .patch("gen", &ppatch, &merge(json!({"spec": {"size": 4}})))
        .await
        .expect("spec");
    assert_eq!(w.metadata.generation, Some(2));
    // /status writes status only, ignores spec, and keeps the generation.
    let w = widgets
        .patch_status(
            "gen",
            &ppatch,
            &merge(json!({"spec": {"size": 9}, "status": {"phase": "Ready"}})),
        )
        .await
        .expect("status");
    assert_eq!(w.data["status"]["phase"], "Ready");
    assert_eq!(w.data["spec"]["size"], 4);
    assert_eq!(w.metadata.generation, Some(2));
    // PUT on the main endpoint: spec applies, status is kept as stored.
    let mut replaced = w.clone();
    replaced.data["spec"]["size"] = json!(5);
    replaced.data["status"]["phase"] = json!("Overwritten");
    let w = widgets
        .replace("gen", &pp, &replaced)
        .await
        .expect("replace");
    assert_eq!(w.data["spec"]["size"], 5);
    assert_eq!(w.data["status"]["phase"], "Ready");
    assert_eq!(w.metadata.generation, Some(3));
    // PUT on /status: spec is ignored.
    let mut replaced = w.clone();
    replaced.data["spec"]["size"] = json!(1);
    replaced.data["status"]["phase"] = json!("Done");
    let w = widgets
        .replace_status("gen", &pp, &replaced)
        .await
        .expect("replace status");
    assert_eq!(
        (
            w.data["spec"]["size"].clone(),
            w.data["status"]["phase"].clone()
        ),
        (json!(5), json!("Done"))
    );
    assert_eq!(w.metadata.generation, Some(3));
    sb.shutdown().await;
}

#[tokio::test]
async fn generate_name_and_dry_run_persist_nothing_and_send_no_events() {
    let (sb, client) = start(PodMode::Simulate).await;
    let base = "/api/v1/namespaces/default/configmaps";
    let (code, made) = call(
        &client,
        Method::POST,
        base,
        JSON,
        &json!({"metadata": {"generateName": "gen-"}, "data": {"k": "v"}}),
    )
    .await;
    assert_eq!(code, 201, "{made}");
    let name = made["metadata"]["name"].as_str().expect("name");
    let suffix = name.strip_prefix("gen-").expect("prefix kept");
    assert_eq!(suffix.len(), 5, "{name}");
    assert!(
        suffix
            .chars()
            .all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)),
        "{name}"
    );
    assert_eq!(made["metadata"]["generateName"], "gen-");

    let (_, listed) = get(&client, base).await;
    let rv = listed["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .to_string();
    let mut w = RawWatch::open(&client, &format!("{base}?watch=1&resourceVersion={rv}")).await;

    // Create, update, patch and delete with dryRun=All answer as usual but change nothing.
    let (code, dry) = call(
        &client,
        Method::POST,
        &format!("{base}?dryRun=All"),
        JSON,
        &json!({"metadata": {"name": "dry"}, "data": {"k": "v"}}),
    )
    .await;
    assert_eq!(code, 201, "{dry}");
    assert!(dry["metadata"]["uid"].is_string(), "{dry}");
    assert!(dry["metadata"]["creationTimestamp"].is_string(), "{dry}");
    assert_eq!(get(&client, &format!("{base}/dry")).await.0, 404);
    let (code, dup) = call(
        &client,
        Method::POST,
        &format!("{base}?dryRun=All"),
        JSON,
        &json!({"metadata": {"name": name}}),
    )
    .await;
    assert_eq!((code, dup["reason"].clone()), (409, json!("AlreadyExists")));

    let mut current = made.clone();
    current["data"]["k"] = json!("changed");
    let (code, put) = call(
        &client,
        Method::PUT,
        &format!("{base}/{name}?dryRun=All"),
        JSON,
        &current,
    )
    .await;
    assert_eq!((code, put["data"]["k"].clone()), (200, json!("changed")));
    let (code, patched) = call(
        &client,
        Method::PATCH,
        &format!("{base}/{name}?dryRun=All"),
        MERGE,
        &json!({"data": {"k": "patched"}}),
    )
    .await;
    assert_eq!(
        (code, patched["data"]["k"].clone()),
        (200, json!("patched"))
    );
    let (code, deleted) = call(
        &client,
        Method::DELETE,
        &format!("{base}/{name}?dryRun=All"),
        JSON,
        &Value::Null,
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(
        deleted,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "details": {"name": name, "kind": "configmaps", "uid": made["metadata"]["uid"]}})
    );
    let (code, still) = get(&client, &format!("{base}/{name}")).await;
    assert_eq!(code, 200);
    assert_eq!(still["data"]["k"], "v");
    assert_eq!(
        still["metadata"]["resourceVersion"],
        made["metadata"]["resourceVersion"]
    );

    // None of that reached a watcher: the next event is a real write.
    let (code, _) = call(
        &client,
        Method::POST,
        base,
        JSON,
        &json!({"metadata": {"name": "marker"}}),
    )
    .await;
    assert_eq!(code, 201);
    assert_eq!(w.next_named().await, ev("ADDED", "marker"));
    sb.shutdown().await;
}

#[tokio::test]
async fn conflicts_and_error_bodies_match_kube_apiserver() {
    let (sb, client) = start(PodMode::Simulate).await;
    let widgets = install_widgets(&client, "default").await;
    let base = "/api/v1/namespaces/default/configmaps";
    let (_, created) = call(
        &client,
        Method::POST,
        base,
        JSON,
        &json!({"metadata": {"name": "cc"}, "data": {"k": "v"}}),
    )
    .await;
    let stale = created["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .to_string();
    let (code, _) = call(
        &client,
        Method::PATCH,
        &format!("{base}/cc"),
        MERGE,
        &json!({"data": {"k": "fresh"}}),
    )
    .await;
    assert_eq!(code, 200);
    let conflict = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "Operation cannot be fulfilled on configmaps \"cc\": the object has been modified; please apply your changes to the latest version and try again",
        "reason": "Conflict", "details": {"name": "cc", "kind": "configmaps"}, "code": 409});
    // PUT with a stale resourceVersion.
    let (code, body) = call(&client, Method::PUT, &format!("{base}/cc"), JSON, &created).await;
    assert_eq!((code, body), (409, conflict.clone()));
    // Patches carrying a stale metadata.resourceVersion: merge and JSON patch.
    let (code, body) = call(
        &client,
        Method::PATCH,
        &format!("{base}/cc"),
        MERGE,
        &json!({"metadata": {"resourceVersion": stale}, "data": {"k": "late"}}),
    )
    .await;
    assert_eq!((code, body), (409, conflict.clone()));
    let (code, body) = call(
        &client,
        Method::PATCH,
        &format!("{base}/cc"),
        "application/json-patch+json",
        &json!([{"op": "replace", "path": "/metadata/resourceVersion", "value": stale},
                {"op": "replace", "path": "/data/k", "value": "late"}]),
    )
    .await;
    assert_eq!((code, body), (409, conflict));
    // The current resourceVersion goes through.
    let (_, now) = get(&client, &format!("{base}/cc")).await;
    let (code, ok) = call(
        &client,
        Method::PATCH,
        &format!("{base}/cc"),
        MERGE,
        &json!({"metadata": {"resourceVersion": now["metadata"]["resourceVersion"]}, "data": {"k": "in time"}}),
    )
    .await;
    assert_eq!((code, ok["data"]["k"].clone()), (200, json!("in time")));

    // AlreadyExists and NotFound, for a core and a custom resource.
    let (code, body) = call(
        &client,
        Method::POST,
        base,
        JSON,
        &json!({"metadata": {"name": "cc"}}),
    )
    .await;
    assert_eq!(
        (code, body),
        (
            409,
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "configmaps \"cc\" already exists", "reason": "AlreadyExists",
            "details": {"name": "cc", "kind": "configmaps"}, "code": 409})
        )
    );
    let (code, body) = get(&client, &format!("{base}/nope")).await;
    assert_eq!(
        (code, body),
        (
            404,
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "configmaps \"nope\" not found", "reason": "NotFound",
            "details": {"name": "nope", "kind": "configmaps"}, "code": 404})
        )
    );
    let w = widgets
        .create(&PostParams::default(), &widget("wc", json!({"size": 2})))
        .await
        .expect("create widget");
    let err = widgets
        .create(&PostParams::default(), &widget("wc", json!({"size": 2})))
        .await
        .expect_err("duplicate");
    let s = api_status(err);
    assert_eq!((s.code, s.reason.as_str()), (409, "AlreadyExists"));
    assert_eq!(s.message, "widgets.example.com \"wc\" already exists");
    let details = s.details.expect("details");
    assert_eq!(
        (
            details.name.as_str(),
            details.group.as_str(),
            details.kind.as_str()
        ),
        ("wc", "example.com", "widgets")
    );
    let (code, body) = get(
        &client,
        "/apis/example.com/v1/namespaces/default/widgets/none",
    )
    .await;
    assert_eq!(
        (code, body),
        (
            404,
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "widgets.example.com \"none\" not found", "reason": "NotFound",
            "details": {"name": "none", "group": "example.com", "kind": "widgets"}, "code": 404})
        )
    );
    // A stale replace of a custom resource.
    widgets
        .patch(
            "wc",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 3}})),
        )
        .await
        .expect("patch");
    let s = api_status(
        widgets
            .replace("wc", &PostParams::default(), &w)
            .await
            .expect_err("stale"),
    );
    assert_eq!(s.code, 409);
    assert_eq!(
        s.message,
        "Operation cannot be fulfilled on widgets.example.com \"wc\": the object has been modified; please apply your changes to the latest version and try again"
    );

    // DELETE preconditions are checked by rest.BeforeDelete, which names the kind.
    let (_, now) = get(&client, &format!("{base}/cc")).await;
    let actual = now["metadata"]["resourceVersion"].as_str().expect("rv");
    let (code, body) = call(
        &client,
        Method::DELETE,
        &format!("{base}/cc"),
        JSON,
        &json!({"preconditions": {"resourceVersion": "1"}}),
    )
    .await;
    assert_eq!(
        (code, body),
        (
            409,
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": format!("Operation cannot be fulfilled on ConfigMap \"cc\": the ResourceVersion in the precondition (1) does not match the ResourceVersion in record ({actual}). The object might have been modified"),
            "reason": "Conflict", "details": {"name": "cc", "kind": "ConfigMap"}, "code": 409})
        )
    );
    let uid = now["metadata"]["uid"].as_str().expect("uid");
    let (code, body) = call(
        &client,
        Method::DELETE,
        &format!("{base}/cc"),
        JSON,
        &json!({"preconditions": {"uid": "not-the-uid"}}),
    )
    .await;
    assert_eq!(code, 409);
    assert_eq!(
        body["message"],
        format!(
            "Operation cannot be fulfilled on ConfigMap \"cc\": the UID in the precondition (not-the-uid) does not match the UID in record ({uid}). The object might have been deleted and then recreated"
        )
    );
    sb.shutdown().await;
}

// 6. Patch errors

#[tokio::test]
async fn strategic_merge_on_custom_resources_is_415_and_failed_json_patch_tests_are_422() {
    let (sb, client) = start(PodMode::Simulate).await;
    let widgets = install_widgets(&client, "default").await;
    widgets
        .create(&PostParams::default(), &widget("p", json!({"size": 1})))
        .await
        .expect("create");
    let (code, body) = call(
        &client,
        Method::PATCH,
        "/apis/example.com/v1/namespaces/default/widgets/p",
        "application/strategic-merge-patch+json",
        &json!({"spec": {"size": 2}}),
    )
    .await;
    assert_eq!(
        (code, body),
        (
            415,
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
            "reason": "UnsupportedMediaType", "code": 415})
        )
    );
    let s = api_status(
        widgets
            .patch(
                "p",
                &PatchParams::default(),
                &Patch::Strategic(json!({"spec": {"size": 2}})),
            )
            .await
            .expect_err("415 through kube-rs"),
    );
    assert_eq!((s.code, s.reason.as_str()), (415, "UnsupportedMediaType"));

    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(&PostParams::default(), &configmap("jp", json!({})))
        .await
        .expect("create");
    let (code, body) = call(
        &client,
        Method::PATCH,
        "/api/v1/namespaces/default/configmaps/jp",
        "application/json-patch+json",
        &json!([{"op": "test", "path": "/data/k", "value": "other"},
                {"op": "replace", "path": "/data/k", "value": "changed"}]),
    )
    .await;
    // errors.NewGenericServerResponse(422, ...) replaces the patch library's own message with
    // a generic one.
    assert_eq!(
        (code, body),
        (
            422,
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "the server rejected our request due to an error in our request",
            "reason": "Invalid", "details": {}, "code": 422})
        )
    );
    assert_eq!(
        cms.get("jp").await.expect("get").data.expect("data")["k"],
        "v"
    );
    sb.shutdown().await;
}
