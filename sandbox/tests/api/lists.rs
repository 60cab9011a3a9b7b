//! Lists: `limit`/`continue` pagination and label and field selectors, on lists and watches.

use super::*;

// 1. Pagination

const CONTINUE_EXPIRED: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

fn decode_token(token: &str) -> Value {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .expect("continue tokens are unpadded base64url");
    serde_json::from_slice(&raw).expect("continue tokens are JSON")
}

#[tokio::test]
async fn pagination_reads_every_page_at_the_first_pages_version() {
    let (sb, client) = start(PodMode::Simulate).await;
    create_namespace(&client, "paging").await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "paging");
    let pp = PostParams::default();
    for i in 0..7 {
        let parity = if i % 2 == 0 { "even" } else { "odd" };
        cms.create(
            &pp,
            &configmap(&format!("cm-{i}"), json!({"parity": parity})),
        )
        .await
        .expect("create");
    }
    let base = "/api/v1/namespaces/paging/configmaps";
    let (code, first) = get(&client, &format!("{base}?limit=3")).await;
    assert_eq!(code, 200, "{first}");
    assert_eq!(names(&first), ["cm-0", "cm-1", "cm-2"]);
    // Four more, and the namespace's kube-root-ca.crt (the root CA publisher's).
    assert_eq!(first["metadata"]["remainingItemCount"], 5);
    let rv = first["metadata"]["resourceVersion"]
        .as_str()
        .expect("resourceVersion")
        .to_string();
    let token = first["metadata"]["continue"]
        .as_str()
        .expect("continue")
        .to_string();
    // kube-apiserver's own token format: where to start and at which version.
    assert_eq!(
        decode_token(&token),
        json!({"v": "meta.k8s.io/v1", "rv": rv.parse::<i64>().expect("numeric rv"), "start": "cm-2\u{0}"})
    );

    // Writes between pages do not show up in later pages.
    cms.create(&pp, &configmap("cm-25", json!({})))
        .await
        .expect("create");
    cms.delete("cm-4", &DeleteParams::default())
        .await
        .expect("delete");
    let (code, second) = get(&client, &format!("{base}?limit=3&continue={token}")).await;
    assert_eq!(code, 200, "{second}");
    assert_eq!(names(&second), ["cm-3", "cm-4", "cm-5"]);
    assert_eq!(second["metadata"]["resourceVersion"], rv.as_str());
    assert_eq!(second["metadata"]["remainingItemCount"], 2);
    let token2 = second["metadata"]["continue"]
        .as_str()
        .expect("continue")
        .to_string();
    let (_, third) = get(&client, &format!("{base}?limit=3&continue={token2}")).await;
    assert_eq!(names(&third), ["cm-6", "kube-root-ca.crt"]);
    assert_eq!(third["metadata"]["resourceVersion"], rv.as_str());
    assert!(third["metadata"].get("continue").is_none(), "{third}");
    assert!(
        third["metadata"].get("remainingItemCount").is_none(),
        "{third}"
    );

    // kube-rs paging through the current state.
    let mut seen = Vec::new();
    let mut lp = ListParams::default().limit(2);
    loop {
        let page = cms.list(&lp).await.expect("list");
        seen.extend(page.items.iter().map(|c| c.name_any()));
        match page.metadata.continue_ {
            Some(t) if !t.is_empty() => lp = lp.continue_token(&t),
            _ => break,
        }
    }
    assert_eq!(
        seen,
        [
            "cm-0",
            "cm-1",
            "cm-2",
            "cm-25",
            "cm-3",
            "cm-5",
            "cm-6",
            "kube-root-ca.crt"
        ]
    );

    // With a selector the number of remaining items is unknown and not reported.
    let (_, even) = get(
        &client,
        &format!("{base}?limit=1&labelSelector=parity%3Deven"),
    )
    .await;
    assert_eq!(names(&even), ["cm-0"]);
    assert!(even["metadata"]["continue"].is_string(), "{even}");
    assert!(
        even["metadata"].get("remainingItemCount").is_none(),
        "{even}"
    );

    // Malformed tokens and tokens with a resourceVersion are refused.
    let (code, bad) = get(&client, &format!("{base}?limit=1&continue=not*base64")).await;
    assert_eq!(code, 400, "{bad}");
    assert_eq!(
        bad,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "invalid continue token: continue key is not valid: illegal base64 data at input byte 3",
            "reason": "BadRequest", "code": 400})
    );
    let (code, bad) = get(
        &client,
        &format!("{base}?limit=1&continue={token2}&resourceVersion=5"),
    )
    .await;
    assert_eq!(code, 400, "{bad}");
    assert_eq!(
        bad["message"],
        "specifying resource version is not allowed when using continue"
    );

    // A token whose version has been compacted away: 410 with a token to go on at the latest.
    let (_, first) = get(&client, &format!("{base}?limit=2")).await;
    let old_token = first["metadata"]["continue"]
        .as_str()
        .expect("continue")
        .to_string();
    sb.set_watch_history(5);
    let defaults: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for i in 0..10 {
        defaults
            .create(&pp, &configmap(&format!("churn-{i}"), json!({})))
            .await
            .expect("churn");
    }
    let (code, gone) = get(&client, &format!("{base}?limit=2&continue={old_token}")).await;
    assert_eq!(code, 410, "{gone}");
    assert_eq!(gone["reason"], "Expired");
    assert_eq!(gone["message"], CONTINUE_EXPIRED);
    let fresh = gone["metadata"]["continue"]
        .as_str()
        .expect("a token for the latest version")
        .to_string();
    assert_eq!(decode_token(&fresh)["rv"], -1);
    let (code, rest) = get(&client, &format!("{base}?limit=10&continue={fresh}")).await;
    assert_eq!(code, 200, "{rest}");
    assert_eq!(
        names(&rest),
        ["cm-2", "cm-25", "cm-3", "cm-5", "cm-6", "kube-root-ca.crt"]
    );
    sb.shutdown().await;
}

// 2. Label and field selectors

#[tokio::test]
async fn label_and_field_selectors_filter_lists_and_watches() {
    let (sb, client) = start(PodMode::Simulate).await;
    create_namespace(&client, "sel").await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "sel");
    let pp = PostParams::default();
    for (name, labels) in [
        ("a", json!({"app": "web", "tier": "front"})),
        ("b", json!({"app": "web", "tier": "back"})),
        ("c", json!({"app": "db"})),
        ("d", json!({})),
    ] {
        cms.create(&pp, &configmap(name, labels))
            .await
            .expect("create");
    }
    Api::<ConfigMap>::namespaced(client.clone(), "default")
        .create(&pp, &configmap("elsewhere", json!({"app": "web"})))
        .await
        .expect("create");
    let select = |labels: &'static str, fields: &'static str| {
        let cms = cms.clone();
        async move {
            let mut lp = ListParams::default();
            if !labels.is_empty() {
                lp = lp.labels(labels);
            }
            if !fields.is_empty() {
                lp = lp.fields(fields);
            }
            let list = cms.list(&lp).await.expect("list");
            // Every namespace also has the root CA publisher's kube-root-ca.crt.
            list.items
                .iter()
                .map(|c| c.name_any())
                .filter(|n| n != "kube-root-ca.crt")
                .collect::<Vec<_>>()
        }
    };
    for (selector, expected) in [
        ("app=web", vec!["a", "b"]),
        ("app==web", vec!["a", "b"]),
        ("app!=web", vec!["c", "d"]),
        ("app in (web,db)", vec!["a", "b", "c"]),
        ("app notin (web)", vec!["c", "d"]),
        ("tier", vec!["a", "b"]),
        ("!tier", vec!["c", "d"]),
        ("app=web,tier notin (back)", vec!["a"]),
    ] {
        assert_eq!(
            select(selector, "").await,
            expected,
            "labelSelector {selector}"
        );
    }
    assert_eq!(select("", "metadata.name=b").await, ["b"]);
    assert_eq!(select("", "metadata.name!=b").await, ["a", "c", "d"]);
    assert_eq!(select("app=web", "metadata.name!=a").await, ["b"]);
    let everywhere: Api<ConfigMap> = Api::all(client.clone());
    let in_sel = everywhere
        .list(&ListParams::default().fields("metadata.namespace=sel"))
        .await
        .expect("list");
    // Four, and the root CA publisher's kube-root-ca.crt.
    assert_eq!(in_sel.items.len(), 5);
    let web = everywhere
        .list(&ListParams::default().labels("app=web"))
        .await
        .expect("list");
    let mut web: Vec<String> = web.items.iter().map(|c| c.name_any()).collect();
    web.sort();
    assert_eq!(web, ["a", "b", "elsewhere"]);

    // Pod field selectors: spec.nodeName and status.phase.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "sel");
    for (name, seconds) in [("quick", "0"), ("slow", "1000")] {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": name, "annotations": {"sandbox.kube/run-seconds": seconds}},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox"}]},
        }))
        .expect("pod");
        pods.create(&pp, &pod).await.expect("create pod");
    }
    let phase_names = |fields: &'static str| {
        let pods = pods.clone();
        async move {
            let list = pods
                .list(&ListParams::default().fields(fields))
                .await
                .expect("list pods");
            list.items.iter().map(|p| p.name_any()).collect::<Vec<_>>()
        }
    };
    eventually("quick Succeeded and slow Running", || async {
        (phase_names("status.phase=Succeeded").await == ["quick"]
            && phase_names("status.phase=Running").await == ["slow"])
        .then_some(())
    })
    .await;
    assert_eq!(
        phase_names("spec.nodeName=sandbox").await,
        ["quick", "slow"]
    );
    assert!(phase_names("spec.nodeName=elsewhere").await.is_empty());
    assert_eq!(
        phase_names("spec.nodeName=sandbox,status.phase!=Running").await,
        ["quick"]
    );

    // Watches: an update that leaves the selection is a DELETED, one that enters it an ADDED.
    let (_, listed) = get(&client, "/api/v1/namespaces/sel/configmaps").await;
    let rv = listed["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .to_string();
    let mut w = RawWatch::open(
        &client,
        &format!(
            "/api/v1/namespaces/sel/configmaps?watch=1&labelSelector=app%3Dweb&resourceVersion={rv}"
        ),
    )
    .await;
    let relabel = |name: &'static str, app: &'static str| {
        let cms = cms.clone();
        async move {
            cms.patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"labels": {"app": app}}})),
            )
            .await
            .expect("relabel");
        }
    };
    relabel("c", "web").await;
    relabel("a", "api").await;
    cms.patch(
        "b",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "changed"}})),
    )
    .await
    .expect("patch");
    cms.patch(
        "d",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "unseen"}})),
    )
    .await
    .expect("patch");
    cms.delete("c", &DeleteParams::default())
        .await
        .expect("delete");
    assert_eq!(w.next_named().await, ev("ADDED", "c"));
    assert_eq!(w.next_named().await, ev("DELETED", "a"));
    assert_eq!(w.next_named().await, ev("MODIFIED", "b"));
    assert_eq!(w.next_named().await, ev("DELETED", "c"));

    // A field-selected pod watch sees a pod enter and leave the Running phase.
    let mut running = RawWatch::open(
        &client,
        "/api/v1/namespaces/sel/pods?watch=1&fieldSelector=status.phase%3DRunning",
    )
    .await;
    assert_eq!(running.next_named().await, ev("ADDED", "slow"));
    let brief: Pod = serde_json::from_value(json!({
        "metadata": {"name": "brief", "annotations": {"sandbox.kube/run-seconds": "0.5"}},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox"}]},
    }))
    .expect("pod");
    pods.create(&pp, &brief).await.expect("create pod");
    assert_eq!(running.next_named().await, ev("ADDED", "brief"));
    assert_eq!(running.next_named().await, ev("DELETED", "brief"));
    sb.shutdown().await;
}

#[tokio::test]
async fn unsupported_field_selectors_are_refused_with_400() {
    let (sb, client) = start(PodMode::Simulate).await;
    let widgets = install_widgets(&client, "default").await;
    widgets
        .create(&PostParams::default(), &widget("w", json!({"size": 1})))
        .await
        .expect("create widget");
    let refusal = |message: &str| {
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": "BadRequest", "code": 400})
    };
    for (path, message) in [
        (
            "/api/v1/namespaces/default/configmaps?fieldSelector=spec.foo%3Dx",
            r#""spec.foo" is not a known field selector: only "metadata.name", "metadata.namespace""#,
        ),
        (
            "/api/v1/namespaces/default/configmaps?watch=1&fieldSelector=data.k%3Dv",
            r#""data.k" is not a known field selector: only "metadata.name", "metadata.namespace""#,
        ),
        (
            "/api/v1/pods?fieldSelector=spec.containers%3Dx",
            "field label not supported: spec.containers",
        ),
        (
            "/api/v1/namespaces/default/pods?watch=1&fieldSelector=status.hostIP%3Dx",
            "field label not supported: status.hostIP",
        ),
        (
            "/apis/example.com/v1/namespaces/default/widgets?fieldSelector=spec.color%3Dred",
            "field label not supported: spec.color",
        ),
    ] {
        let (code, body) = get(&client, path).await;
        assert_eq!((code, body), (400, refusal(message)), "{path}");
    }
    // metadata.name works on custom resources too.
    let (code, list) = get(
        &client,
        "/apis/example.com/v1/namespaces/default/widgets?fieldSelector=metadata.name%3Dw",
    )
    .await;
    assert_eq!((code, names(&list)), (200, vec!["w".to_string()]));
    sb.shutdown().await;
}
